//! Rows for `warden sandbox`: flag values refused at parse time, allow-list entries the
//! proxy would always refuse, secrets and names that do not fit, ids that name nothing
//! or try to leave the data dir. Nothing is created by a refused command.

use crate::table::{absent, case, holds, Case, Fixture::*};

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

pub fn cases() -> Vec<Case> {
    let create = |name: &str, args: &[&str]| {
        case(
            &format!("sandbox create: {name}"),
            Tree,
            &[&["sandbox", "create"][..], args].concat(),
        )
    };
    let mut rows = vec![
        create("--memory below the minimum", &["--memory", "1K"])
            .says("--memory")
            .says("32M"),
        create("--memory above the maximum", &["--memory", "2000G"]).says("--memory"),
        create("--memory word", &["--memory", "lots"]).says("--memory"),
        create("--cpus 0", &["--cpus", "0"]).says("--cpus"),
        create("--cpus too many", &["--cpus", "5000"]).says("--cpus"),
        create("--cpus NaN", &["--cpus", "NaN"]).says("--cpus"),
        create("--pids 0", &["--pids", "0"]).says("--pids"),
        create("--pids too few to fork", &["--pids", "8"]).says("16"),
        create("--port 0", &["--port", "0"]).says("--port"),
        create("--port 70000", &["--port", "70000"]).says("--port"),
        create("--port twice", &["--port", "8080", "--port", "8080"]).says("8080"),
        create("--timeout word", &["--timeout", "soon"]).says("--timeout"),
        create("--timeout 0s", &["--timeout", "0s"]).says("--timeout"),
        create("--timeout beyond 30 days", &["--timeout", "31d"]).says("--timeout"),
        create(
            "--timeout overflowing",
            &["--timeout", "99999999999999999999h"],
        )
        .says("--timeout"),
        create(
            "--allow the metadata address",
            &["--allow", "169.254.169.254"],
        )
        .says("169.254.169.254"),
        create("--allow localhost", &["--allow", "localhost"]).says("localhost"),
        create("--allow a loopback literal", &["--allow", "127.0.0.1"]).says("127.0.0.1"),
        create("--allow IPv6 loopback", &["--allow", "[::1]"]).says("::1"),
        create("--allow an empty entry", &["--allow", ""]).says("--allow"),
        create("--allow a bare wildcard", &["--allow", "*."]).says("--allow"),
        create(
            "--allow with --allow-all",
            &["--allow", "a.com", "--allow-all"],
        )
        .says("--allow-all"),
        create("--secret garbage", &["--secret", "garbage"]).says("--secret"),
        create(
            "--secret of a missing variable",
            &["--secret", "api.example.com:x-api-key=env:NO_SUCH_VAR"],
        )
        .says("NO_SUCH_VAR"),
        create(
            "--secret of a missing file",
            &["--secret", "api.example.com:x-api-key=file:{tmp}/nope"],
        )
        .says("nope"),
        create(
            "--secret of a FIFO does not block",
            &["--secret", "api.example.com:x-api-key=file:{tmp}/fifo"],
        )
        .prep(|ctx| mkfifo(&ctx.path("fifo")))
        .says("fifo")
        .timeout(30),
        create(
            "--secret of a directory",
            &["--secret", "api.example.com:x-api-key=file:{tmp}/home"],
        )
        .says("directory"),
        create(
            "--secret twice for one header",
            &[
                "--secret",
                "api.example.com:x-api-key=env:PATH",
                "--secret",
                "api.example.com:x-api-key=env:PATH",
            ],
        )
        .says("x-api-key"),
        create("--broker unknown", &["--broker", "bogus"]).says("bogus"),
        create("--broker without a credential", &["--broker", "anthropic"]).says("anthropic"),
        create("--env without =", &["--env", "NOVALUE"]).says("--env"),
        create("--env with an empty name", &["--env", "=x"]).says("--env"),
        create("--name with a slash", &["--name", "a/b"]).says("--name"),
        create("--name climbing out", &["--name", "../x"]).says("--name"),
        create("--name too long", &["--name", &"n".repeat(65)]).says("--name"),
        create("--snapshot unknown", &["--snapshot", "snap-nope"]).says("snap-nope"),
        create("--snapshot climbing out", &["--snapshot", "../../etc"]).says("snapshot"),
        create("--workspace missing", &["--workspace", "{tmp}/nope"]).says("--workspace"),
        create("--workspace a file", &["--workspace", "{root}/app.py"]).says("not a directory"),
        create(
            "--workspace with --snapshot",
            &["--workspace", "{root}", "--snapshot", "snap-x"],
        )
        .says("--snapshot"),
    ];
    let sandbox = |name: &str, args: &[&str]| {
        case(
            &format!("sandbox: {name}"),
            Tree,
            &[&["sandbox"][..], args].concat(),
        )
    };
    rows.extend([
        sandbox(
            "exec in an unknown sandbox",
            &["exec", "nope", "--", "true"],
        )
        .says("nope"),
        sandbox("exec without a command", &["exec", "nope"]).says("COMMAND"),
        sandbox(
            "exec with a bad --timeout",
            &["exec", "nope", "--timeout", "1ms", "--", "true"],
        )
        .says("--timeout"),
        sandbox(
            "exec with a bad --env",
            &["exec", "nope", "--env", "X", "--", "true"],
        )
        .says("K=V"),
        sandbox("destroy an unknown sandbox", &["destroy", "nope"]).says("nope"),
        sandbox("destroy without an id", &["destroy"]).says("<IDS>"),
        sandbox(
            "policy of an unknown sandbox",
            &["policy", "nope", "--allow", "example.com"],
        )
        .says("nope"),
        sandbox(
            "policy --deny-all with --allow-all",
            &["policy", "nope", "--deny-all", "--allow-all"],
        )
        .says("--allow-all"),
        sandbox(
            "cp to an unknown sandbox",
            &["cp", "{root}/app.py", "nope:/workspace/app.py"],
        )
        .says("nope"),
        sandbox(
            "cp of a missing host file",
            &["cp", "{tmp}/nope.txt", "nope:/workspace/x"],
        )
        .says("nope"),
        sandbox(
            "cp with no sandbox side",
            &["cp", "{root}/app.py", "{tmp}/copy.py"],
        )
        .says("ID:PATH")
        .check("nothing copied", absent("copy.py")),
        sandbox("snapshot of an unknown sandbox", &["snapshot", "nope"]).says("nope"),
        sandbox(
            "snapshots --rm climbing out",
            &["snapshots", "--rm", "../../victim"],
        )
        .prep(|ctx| std::fs::write(ctx.path("victim"), "precious").unwrap())
        .says("not a snapshot id")
        .check("victim untouched", holds("victim", "precious")),
        sandbox(
            "snapshots --rm of a tampered record",
            &["snapshots", "--rm", "../../../../../victim"],
        )
        .prep(|ctx| {
            std::fs::create_dir_all(ctx.path("victim")).unwrap();
            std::fs::write(ctx.path("victim/precious"), "keep").unwrap();
            let snap = ctx
                .home()
                .join(".local/state/warden/snapshots/snap-00ff00ff00");
            std::fs::create_dir_all(&snap).unwrap();
            std::fs::write(
                snap.join("meta.json"),
                r#"{"id":"../../../../../victim","source_sandbox":"sb-0","created_ms":1,"files":0,"bytes":0}"#,
            )
            .unwrap();
        })
        .says("not a snapshot id")
        .check("victim untouched", holds("victim/precious", "keep")),
        sandbox(
            "snapshots --rm unknown",
            &["snapshots", "--rm", "snap-nope"],
        )
        .says("snap-nope"),
        sandbox("run without a command", &["run"]).says("COMMAND"),
        sandbox(
            "run with --timeout 0s",
            &["run", "--timeout", "0s", "--", "true"],
        )
        .says("--timeout"),
        sandbox(
            "run with a bad --memory",
            &["run", "--memory", "1K", "--", "true"],
        )
        .says("--memory"),
        sandbox("unknown subcommand", &["pause", "x"]).says("pause"),
        sandbox(
            "run passes non-UTF-8 arguments byte for byte",
            &["run", "--", "printf", "%s"],
        )
        .arg_bytes(b"caf\xe9")
        .code(0)
        .changes()
        .check("the bytes came back", |_, run| {
            (run.raw_stdout == b"caf\xe9")
                .then_some(())
                .ok_or_else(|| format!("stdout {:?}", run.raw_stdout))
        }),
    ]);
    rows
}
