//! Rows for the command line itself: unknown commands and flags, values that are not
//! UTF-8, and the global flags every command takes.

use crate::table::{case, Case, Fixture::*};

const NOT_UTF8: &[u8] = b"caf\xe9";

pub fn cases() -> Vec<Case> {
    vec![
        case("unknown subcommand", Tree, &["frobnicate"]).says("frobnicate"),
        case("unknown flag", Tree, &["scan", "--frob"]).says("--frob"),
        case("unknown global flag", Tree, &["--frob", "status"]).says("--frob"),
        case("no subcommand", Tree, &[]).says("usage"),
        case("help is not an error", Tree, &["--help"])
            .code(0)
            .prints("Usage"),
        case("version is not an error", Tree, &["--version"])
            .code(0)
            .prints("warden"),
        case("non-UTF-8 --rules", Tree, &["scan", "{root}", "--rules"])
            .arg_bytes(NOT_UTF8)
            .says("--rules")
            .says("not valid UTF-8"),
        case("non-UTF-8 --rules=", Tree, &["scan", "{root}"])
            .arg_bytes(b"--rules=caf\xe9")
            .says("--rules"),
        case(
            "non-UTF-8 --project-id",
            Scanned,
            &["status", "--project-id"],
        )
        .arg_bytes(NOT_UTF8)
        .says("--project-id"),
        case("non-UTF-8 --format", Scanned, &["report", "--format"])
            .arg_bytes(NOT_UTF8)
            .says("--format"),
        case(
            "non-UTF-8 --min-severity",
            Scanned,
            &["report", "--min-severity"],
        )
        .arg_bytes(NOT_UTF8)
        .says("--min-severity"),
        case("non-UTF-8 --model", Scanned, &["process", "--model"])
            .arg_bytes(NOT_UTF8)
            .says("--model"),
        case("non-UTF-8 subcommand", Tree, &[])
            .arg_bytes(NOT_UTF8)
            .says("unrecognized subcommand"),
        case("non-UTF-8 value after a non-UTF-8 path", Tree, &["scan"])
            .arg_bytes(b"/tmp/caf\xe9")
            .arg_bytes(b"--rules")
            .arg_bytes(NOT_UTF8)
            .says("--rules"),
        case("non-UTF-8 scan path that does not exist", Tree, &["scan"])
            .arg_bytes(b"{tmp}/caf\xe9")
            .says("no such directory"),
        case("non-UTF-8 scan path that exists", Tree, &["scan", "-q"])
            .arg_bytes(b"{tmp}/caf\xe9")
            .prep(|ctx| {
                use std::os::unix::ffi::OsStrExt;
                let dir = ctx.tmp.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
                std::fs::create_dir(&dir).unwrap();
                std::fs::write(dir.join("a.py"), crate::common::VULN_PY).unwrap();
            })
            .code(0)
            .changes(),
        case(
            "non-UTF-8 --data-dir works",
            Tree,
            &["scan", "{root}", "-q", "--data-dir"],
        )
        .arg_bytes(b"{tmp}/d\xe9")
        .code(0)
        .changes()
        .check("store created under the non-UTF-8 name", |ctx, _| {
            use std::os::unix::ffi::OsStrExt;
            let db = ctx
                .tmp
                .path()
                .join(std::ffi::OsStr::from_bytes(b"d\xe9"))
                .join("warden.db");
            db.is_file()
                .then_some(())
                .ok_or_else(|| "no store".to_string())
        }),
        case(
            "non-UTF-8 --home works",
            Tree,
            &["credentials", "status", "--home"],
        )
        .arg_bytes(b"{tmp}/h\xe9")
        .env(
            "ANTHROPIC_API_KEY",
            "sk-ant-api03-bad-input-table-not-a-real-key",
        )
        .prep(|ctx| {
            use std::os::unix::ffi::OsStrExt;
            std::fs::create_dir(ctx.tmp.path().join(std::ffi::OsStr::from_bytes(b"h\xe9")))
                .unwrap();
        })
        .code(0),
        case(
            "empty --project-id",
            Scanned,
            &["status", "--project-id", ""],
        )
        .says("--project-id"),
        case(
            "empty --project-id on scan",
            Tree,
            &["scan", "{root}", "--project-id", ""],
        )
        .says("--project-id"),
        case(
            "--data-dir is a file",
            Tree,
            &["scan", "{root}", "--data-dir", "{root}/app.py"],
        )
        .says("not a directory")
        .says("app.py"),
        case(
            "--data-dir under a file",
            Tree,
            &["scan", "{root}", "--data-dir", "{root}/app.py/x"],
        )
        .says("app.py")
        .says("not a directory"),
        case("WARDEN_DATA_DIR is a file", Tree, &["scan", "{root}"])
            .env("WARDEN_DATA_DIR", "{root}/util.py")
            .says("not a directory"),
        case(
            "-q and -v together are fine",
            Scanned,
            &["-q", "-v", "status"],
        )
        .code(0),
        case(
            "rules: --json with --patterns",
            Tree,
            &["rules", "--json", "--patterns"],
        )
        .says("--patterns"),
        case("rules: unknown flag", Tree, &["rules", "--all"]).says("--all"),
    ]
}
