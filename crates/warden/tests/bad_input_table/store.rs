//! Rows for stores that cannot be used: missing, empty, corrupt, foreign, newer, a
//! directory, a FIFO. Every command that reads the store refuses it and leaves it as it
//! was, byte for byte.

use crate::table::{case, Case, Ctx, Fixture::*};

fn db(ctx: &Ctx) -> std::path::PathBuf {
    ctx.data().join("warden.db")
}

fn corrupt(ctx: &Ctx) {
    std::fs::write(db(ctx), b"this is not a database at all, just text").unwrap();
}

fn foreign(ctx: &Ctx) {
    std::fs::remove_file(db(ctx)).unwrap();
    let conn = rusqlite::Connection::open(db(ctx)).unwrap();
    conn.execute_batch("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');")
        .unwrap();
}

fn newer(ctx: &Ctx) {
    let conn = rusqlite::Connection::open(db(ctx)).unwrap();
    conn.execute_batch(
        "INSERT INTO schema_migrations (version, name, applied_at)
         VALUES (9999, 'from the future', '2999-01-01T00:00:00.000000Z');
         PRAGMA user_version = 9999;",
    )
    .unwrap();
}

fn directory(ctx: &Ctx) {
    std::fs::remove_file(db(ctx)).unwrap();
    std::fs::create_dir(db(ctx)).unwrap();
}

fn empty(ctx: &Ctx) {
    std::fs::write(db(ctx), b"").unwrap();
}

fn fifo(ctx: &Ctx) {
    std::fs::remove_file(db(ctx)).unwrap();
    let c = std::ffi::CString::new(db(ctx).as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

pub fn cases() -> Vec<Case> {
    let commands: [(&str, &[&str]); 6] = [
        ("status", &["status"]),
        ("report", &["report"]),
        ("triage", &["triage"]),
        ("revalidate", &["revalidate"]),
        ("process", &["process"]),
        ("scan", &["scan", "{root}"]),
    ];
    let mut rows = Vec::new();
    // With a credential, `process` and `revalidate` get as far as the store.
    let key = |c: Case| {
        c.env(
            "ANTHROPIC_API_KEY",
            "sk-ant-api03-bad-input-table-not-a-real-key",
        )
    };
    for (name, args) in commands {
        rows.push(
            case(&format!("{name}: corrupt store"), Findings, args)
                .prep(corrupt)
                .code(3)
                .says("warden.db")
                .says("not a usable warden database"),
        );
        rows.push(
            case(&format!("{name}: foreign SQLite database"), Findings, args)
                .prep(foreign)
                .code(3)
                .says("another application"),
        );
        rows.push(
            case(
                &format!("{name}: store from a newer warden"),
                Findings,
                args,
            )
            .prep(newer)
            .code(3)
            .says("newer"),
        );
        rows.push(
            case(
                &format!("{name}: store path is a directory"),
                Findings,
                args,
            )
            .prep(directory)
            .code(3)
            .says("warden.db"),
        );
        rows.push(
            case(&format!("{name}: store path is a FIFO"), Findings, args)
                .prep(fifo)
                .code(3)
                .says("warden.db")
                .timeout(30),
        );
    }
    for (name, args) in &commands[..5] {
        rows.push(
            case(&format!("{name}: no store at all"), Tree, args)
                .code(2)
                .says("warden scan"),
        );
        rows.push(
            case(&format!("{name}: an empty store file"), Scanned, args)
                .prep(empty)
                .code(2)
                .says("no warden store"),
        );
    }
    rows.into_iter().map(key).collect()
}
