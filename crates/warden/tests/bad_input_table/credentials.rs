//! Rows for `warden credentials`: hostile files where credentials are read, a bad
//! `--home`. Nothing blocks, nothing is printed in the clear.

use crate::table::{case, Case, Ctx, Fixture::*};

const KEY: &str = "sk-ant-api03-bad-input-table-not-a-real-key-0123456789";

fn mkfifo(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn write(ctx: &Ctx, rel: &str, content: &str) {
    let path = ctx.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

pub fn cases() -> Vec<Case> {
    let status = &["credentials", "status"][..];
    let mut rows = vec![
        case("credentials: nothing found says where it looked", Tree, status)
            .says("no usable")
            .says(".claude/.credentials.json"),
        case("credentials: --home missing", Tree, &["credentials", "status", "--home", "{tmp}/nope"])
            .says("--home"),
        case("credentials: --home is a file", Tree, &["credentials", "status", "--home", "{root}/app.py"])
            .says("not a directory"),
        case("credentials: unknown subcommand", Tree, &["credentials", "steal"]).says("steal"),
        case("credentials: extract-env unknown flag", Tree, &["credentials", "extract-env", "--all"])
            .says("--all"),
        case("credentials: a key is never printed by status", Tree, status)
            .env("ANTHROPIC_API_KEY", KEY)
            .code(0)
            .check("no key on stdout", |_, run| {
                (!run.stdout.contains(KEY) && !run.stderr.contains(KEY))
                    .then_some(())
                    .ok_or_else(|| "the key was printed".to_string())
            }),
        case("credentials: expired login says expired", Tree, status)
            .prep(|ctx| {
                write(
                    ctx,
                    "home/.claude/.credentials.json",
                    r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-expired-token-for-the-table","expiresAt":1000}}"#,
                )
            })
            .says("expired"),
        case("credentials: malformed JSON is named", Tree, status)
            .prep(|ctx| write(ctx, "home/.claude/.credentials.json", "{not json"))
            .says(".credentials.json"),
        case("credentials: JSON of the wrong shape is named", Tree, status)
            .prep(|ctx| write(ctx, "home/.codex/auth.json", "[1, 2, 3]"))
            .says("auth.json"),
        case("credentials: a key with a newline in it", Tree, status)
            .env("ANTHROPIC_API_KEY", "sk-ant-api03-one\nline-two")
            .says("ANTHROPIC_API_KEY"),
    ];
    // A FIFO where a credential file is read: never opened for reading, never waited on.
    for rel in [
        "home/.claude/.credentials.json",
        "home/.claude.json",
        "home/.codex/auth.json",
        "proj/.env.local",
        "proj/.env",
    ] {
        rows.push(
            case(
                &format!("credentials: a FIFO at {rel} does not block"),
                Tree,
                status,
            )
            .env("ANTHROPIC_API_KEY", KEY)
            .prep(move |ctx| mkfifo(&ctx.path(rel)))
            .code(0)
            .prints("is a FIFO, not a regular file: skipped")
            .timeout(30),
        );
    }
    rows.push(
        case(
            "credentials: extract-env with a FIFO .env.local",
            Tree,
            &["credentials", "extract-env"],
        )
        .env("ANTHROPIC_API_KEY", KEY)
        .prep(|ctx| mkfifo(&ctx.path("proj/.env.local")))
        .code(0)
        .timeout(30),
    );
    rows
}
