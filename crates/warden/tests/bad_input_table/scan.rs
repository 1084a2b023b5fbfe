//! Rows for `warden scan`: paths, flag values, awkward trees.

use crate::table::{absent, case, Case, Ctx, Fixture::*};
use std::os::unix::fs::PermissionsExt;

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

pub fn cases() -> Vec<Case> {
    let mut rows = vec![
        case("scan: missing path", Tree, &["scan", "{tmp}/nope"]).says("no such directory"),
        case("scan: a file as root", Tree, &["scan", "{root}/app.py"]).says("not a directory"),
        case(
            "scan: --threads too many",
            Tree,
            &["scan", "{root}", "--threads", "100000"],
        )
        .says("--threads")
        .says("0 to 256")
        .check("no store", absent("proj/.warden")),
        case(
            "scan: --threads negative",
            Tree,
            &["scan", "{root}", "--threads", "-1"],
        )
        .says("--threads"),
        case(
            "scan: --threads word",
            Tree,
            &["scan", "{root}", "--threads", "many"],
        )
        .says("--threads"),
        case("scan: --limit 0", Tree, &["scan", "{root}", "--limit", "0"]).says("--limit"),
        case(
            "scan: --limit negative",
            Tree,
            &["scan", "{root}", "--limit", "-5"],
        )
        .says("--limit"),
        case(
            "scan: --limit 2^64",
            Tree,
            &["scan", "{root}", "--limit", "18446744073709551616"],
        )
        .says("--limit"),
        case(
            "scan: --top too many",
            Tree,
            &["scan", "{root}", "--top", "10001"],
        )
        .says("--top"),
        case(
            "scan: --top negative",
            Tree,
            &["scan", "{root}", "--top", "-1"],
        )
        .says("--top"),
        case(
            "scan: --max-file-size 0",
            Tree,
            &["scan", "{root}", "--max-file-size", "0"],
        )
        .says("--max-file-size"),
        case(
            "scan: --max-file-size 2G",
            Tree,
            &["scan", "{root}", "--max-file-size", "2G"],
        )
        .says("--max-file-size")
        .says("out of range"),
        case(
            "scan: --max-file-size word",
            Tree,
            &["scan", "{root}", "--max-file-size", "lots"],
        )
        .says("not a size"),
        case(
            "scan: --max-file-size unit",
            Tree,
            &["scan", "{root}", "--max-file-size", "1T"],
        )
        .says("unit"),
        case(
            "scan: --max-file-size overflow",
            Tree,
            &["scan", "{root}", "--max-file-size", "99999999999999999999"],
        )
        .says("--max-file-size"),
        case(
            "scan: --min-score NaN",
            Tree,
            &["scan", "{root}", "--min-score", "NaN"],
        )
        .says("--min-score"),
        case(
            "scan: --min-score inf",
            Tree,
            &["scan", "{root}", "--min-score", "inf"],
        )
        .says("--min-score"),
        case(
            "scan: --min-score negative",
            Tree,
            &["scan", "{root}", "--min-score", "-1"],
        )
        .says("--min-score"),
        case(
            "scan: --min-score huge",
            Tree,
            &["scan", "{root}", "--min-score", "1e9"],
        )
        .says("--min-score"),
        case(
            "scan: unknown rule",
            Tree,
            &["scan", "{root}", "--rules", "nope.rule"],
        )
        .says("nope.rule"),
        case(
            "scan: empty rule list",
            Tree,
            &["scan", "{root}", "--rules", ""],
        )
        .says("rule"),
        case(
            "scan: unknown format",
            Tree,
            &["scan", "{root}", "--format", "xml"],
        )
        .says("xml"),
        case(
            "scan: --json with --format",
            Tree,
            &["scan", "{root}", "--json", "--format", "text"],
        )
        .says("--format"),
        case("scan: two paths", Tree, &["scan", "{root}", "{root}"]).says("unexpected argument"),
        case(
            "scan: a FIFO in the tree is skipped, not read",
            Tree,
            &["scan", "{root}", "--json"],
        )
        .prep(|ctx| mkfifo(&ctx.root().join("pipe.py")))
        .code(0)
        .changes()
        .prints("not-a-file"),
        case(
            "scan: a FIFO .gitignore at the root is refused, not read",
            Tree,
            &["scan", "{root}"],
        )
        .prep(|ctx| mkfifo(&ctx.root().join(".gitignore")))
        .says(".gitignore")
        .says("a FIFO")
        .timeout(30),
        case(
            "scan: a FIFO .gitignore in a directory leaves that directory out",
            Tree,
            &["scan", "{root}", "--json"],
        )
        .prep(|ctx| {
            std::fs::create_dir(ctx.root().join("sub")).unwrap();
            std::fs::write(ctx.root().join("sub/x.py"), crate::common::VULN_PY).unwrap();
            mkfifo(&ctx.root().join("sub/.wardenignore"));
        })
        .code(0)
        .changes()
        .prints("a FIFO, not a regular file; its directory was not scanned")
        .timeout(30),
        case(
            "scan: a FIFO .git file is refused",
            Tree,
            &["scan", "{root}"],
        )
        .prep(|ctx| mkfifo(&ctx.root().join(".git")))
        .says("a FIFO")
        .timeout(30),
        case(
            "scan: a non-UTF-8 file name is named, not 'unsupported type'",
            Tree,
            &["scan", "{root}"],
        )
        .prep(|ctx| {
            use std::os::unix::ffi::OsStrExt;
            let name = std::ffi::OsStr::from_bytes(b"caf\xe9.py");
            std::fs::write(ctx.root().join(name), crate::common::VULN_PY).unwrap();
        })
        .code(0)
        .changes()
        .prints("name not UTF-8")
        .prints("caf\u{fffd}.py"),
        case(
            "scan: a lockfile-named dir is fine",
            Tree,
            &["scan", "{root}", "-q"],
        )
        .prep(|ctx| std::fs::create_dir(ctx.root().join("yarn.lock")).unwrap())
        .code(0)
        .changes(),
        case(
            "scan: config.toml include_tests not a boolean",
            Tree,
            &["scan", "{root}"],
        )
        .prep(|ctx| write_config(ctx, b"[scan]\ninclude_tests = \"yes\"\n"))
        .says("config.toml")
        .says("include_tests"),
        case(
            "scan: config.toml unknown [scan] key",
            Tree,
            &["scan", "{root}"],
        )
        .prep(|ctx| write_config(ctx, b"[scan]\ninclude_test = true\n"))
        .says("include_test"),
        case("scan: config.toml not UTF-8", Tree, &["scan", "{root}"])
            .prep(|ctx| write_config(ctx, b"[scan]\ninclude_tests = \xff\n"))
            .says("config.toml"),
        case("scan: config.toml a FIFO", Tree, &["scan", "{root}"])
            .prep(|ctx| {
                std::fs::create_dir_all(ctx.data()).unwrap();
                mkfifo(&ctx.data().join("config.toml"));
            })
            .says("config.toml"),
        case("scan: held by another scan", Scanned, &["scan", "{root}"])
            .prep(hold_scan_lock)
            .code(3)
            .says("another scan"),
    ];
    rows.extend(permission_rows());
    rows
}

/// Writes the project's `.warden/config.toml`.
fn write_config(ctx: &Ctx, bytes: &[u8]) {
    std::fs::create_dir_all(ctx.data()).unwrap();
    std::fs::write(ctx.data().join("config.toml"), bytes).unwrap();
}

/// Plants a lock held by this (live) test process, as a running scan would.
fn hold_scan_lock(ctx: &Ctx) {
    let mut store = warden_store::Store::open_existing(&ctx.data()).unwrap();
    let holder = warden_store::default_holder();
    store
        .try_lock(
            crate::common::PROJECT,
            "scan",
            &holder,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
}

const STRIPE: &str = "sk_live_51Hq8xYzAbCdEfGhIjKlMnOpQr";

/// Permission problems and secrets: what a scan may not take for deleted files, and
/// what it may not write out.
fn permission_rows() -> Vec<Case> {
    let chmod = |p: std::path::PathBuf, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    vec![
        case(
            "scan: a root that became unlistable changes nothing",
            Scanned,
            &["scan", "{root}"],
        )
        .unprivileged()
        .prep(move |ctx| chmod(ctx.root(), 0o311))
        .says("permission denied")
        .says("proj"),
        case(
            "scan: an unreadable directory keeps its files",
            Scanned,
            &["scan", "{root}", "--json"],
        )
        .unprivileged()
        .prep(move |ctx| {
            std::fs::rename(ctx.root().join("util.py"), ctx.root().join("lib.py")).unwrap();
            std::fs::create_dir(ctx.root().join("locked")).unwrap();
            chmod(ctx.root().join("locked"), 0o000);
        })
        .code(0)
        .changes()
        .prints("\"unvisited\": [\n      \"locked\"")
        .prints("\"gone\": 1"),
        case(
            "scan: a live key is never written out",
            Tree,
            &["scan", "{root}", "--json"],
        )
        .prep(|ctx| {
            let line = format!("import stripe\nstripe.api_key = \"{STRIPE}\"\n");
            std::fs::write(ctx.root().join("pay.py"), line).unwrap();
        })
        .code(0)
        .changes()
        .prints("sk_live_")
        .check("no secret in stdout or the store", |ctx, run| {
            let mut all = run.raw_stdout.clone();
            for entry in std::fs::read_dir(ctx.data()).map_err(|e| e.to_string())? {
                all.extend(
                    std::fs::read(entry.map_err(|e| e.to_string())?.path()).unwrap_or_default(),
                );
            }
            let tail = &STRIPE[10..];
            (!all.windows(tail.len()).any(|w| w == tail.as_bytes()))
                .then_some(())
                .ok_or_else(|| "the key was written".to_string())
        }),
    ]
}
