//! `warden credentials status|extract-env` against real files in a temporary HOME and
//! working directory, with the process environment cleared of credentials.

mod common;

use common::Run;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const GATEWAY_KEY: &str = "vck_gateway_0123456789abcdefghij";
const CODEX_KEY: &str = "sk-proj-codexkey0123456789abcdef";

fn warden(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("warden runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn setup() -> (tempfile::TempDir, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    std::fs::create_dir_all(home.path().join(".codex")).expect("mkdir");
    std::fs::write(
        home.path().join(".codex/auth.json"),
        format!(r#"{{"OPENAI_API_KEY": "{CODEX_KEY}"}}"#),
    )
    .expect("write");
    std::fs::write(
        cwd.path().join(".env.local"),
        format!("AI_GATEWAY_API_KEY={GATEWAY_KEY}\n"),
    )
    .expect("write");
    (home, cwd)
}

#[test]
fn extract_env_prints_shell_lines_that_eval_back_to_the_values() {
    let (home, cwd) = setup();
    let out = warden(
        home.path(),
        cwd.path(),
        &["credentials", "extract-env", "--export"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.lines().all(|l| l.starts_with("export ")), "{stdout}");
    let script = cwd.path().join("env.sh");
    std::fs::write(&script, &stdout).expect("write");
    let evaluated = Command::new("sh")
        .arg("-c")
        .arg(format!(
            ". '{}'; printf '%s|%s' \"$ANTHROPIC_AUTH_TOKEN\" \"$ANTHROPIC_BASE_URL\"",
            script.display()
        ))
        .output()
        .expect("sh runs");
    let got = text(&evaluated.stdout);
    // The gateway key covers Anthropic (nothing direct for it), through the gateway's URL.
    assert!(got.starts_with(&format!("{GATEWAY_KEY}|https://")), "{got}");
}

#[test]
fn status_names_sources_and_never_prints_a_secret() {
    let (home, cwd) = setup();
    for args in [
        &["credentials", "status"][..],
        &["credentials", "status", "--json"][..],
    ] {
        let out = warden(home.path(), cwd.path(), args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("auth.json"), "{stdout}");
        assert!(stdout.contains(".env.local"), "{stdout}");
        assert!(
            !stdout.contains(GATEWAY_KEY) && !stdout.contains(CODEX_KEY),
            "{stdout}"
        );
    }
}

#[test]
fn nothing_found_exits_2_naming_the_places_and_the_fixes() {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    let out = warden(home.path(), cwd.path(), &["credentials", "extract-env"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for want in [
        ".env.local",
        ".codex/auth.json",
        "AI_GATEWAY_API_KEY",
        "claude login",
    ] {
        assert!(stderr.contains(want), "missing {want}: {stderr}");
    }
    assert!(out.stdout.is_empty());
}

/// An OAuth token that expired at 2023-11-14T22:13:20Z.
const STALE_TOKEN: &str = "sk-ant-oat01-stale0123456789abcdefghij";

fn write(path: &Path, text: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn write_stale_claude_login(home: &Path) {
    write(
        &home.join(".claude/.credentials.json"),
        format!(
            r#"{{"claudeAiOauth":{{"accessToken":"{STALE_TOKEN}","expiresAt":1700000000000}}}}"#
        ),
    );
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {path:?}");
}

/// `warden <args>` as [`warden`] runs it, but failing the test instead of hanging the
/// suite if it does not finish within a generous bound (a hang detector, not a timing
/// assertion).
fn warden_bounded(home: &Path, cwd: &Path, args: &[&str]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden starts");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(out) => out.expect("warden runs").into(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("warden {args:?} did not finish: a special file blocked it");
        }
    }
}

#[test]
fn an_expired_login_alone_says_expired_and_when() {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    write_stale_claude_login(home.path());
    for args in [
        &["credentials", "status"][..],
        &["credentials", "extract-env"][..],
    ] {
        let run = warden_bounded(home.path(), cwd.path(), args);
        run.code(2);
        let line = run.error_line();
        assert!(line.contains(".claude/.credentials.json"), "{line}");
        assert!(line.contains("expired 2023-11-14T22:13:20Z"), "{line}");
        assert!(line.contains("run `claude login` to refresh it"), "{line}");
        assert!(!run.stderr.contains(STALE_TOKEN) && !run.stdout.contains(STALE_TOKEN));
    }
}

#[test]
fn fifos_where_credentials_are_read_never_block_and_are_named() {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    let fifos = [
        home.path().join(".claude/.credentials.json"),
        home.path().join(".codex/auth.json"),
        cwd.path().join(".env.local"),
        cwd.path().join(".env"),
    ];
    for fifo in &fifos {
        mkfifo(fifo);
    }
    let run = warden_bounded(home.path(), cwd.path(), &["credentials", "status"]);
    run.code(2);
    let line = run.error_line();
    for fifo in &fifos {
        let want = format!("{} is a FIFO, not a regular file: skipped", fifo.display());
        assert!(line.contains(&want), "missing {want:?}: {line}");
    }
}

#[test]
fn a_fifo_beside_a_usable_key_is_a_note_in_status() {
    let (home, cwd) = setup();
    mkfifo(&home.path().join(".claude/.credentials.json"));
    let run = warden_bounded(home.path(), cwd.path(), &["credentials", "status"]);
    run.ok();
    assert!(run.stdout.contains("auth.json"), "{}", run.stdout);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("note: ")
            && l.ends_with(".credentials.json is a FIFO, not a regular file: skipped")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_non_utf8_home_works_and_a_non_utf8_key_variable_is_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home: PathBuf = tmp.path().join(OsStr::from_bytes(b"home-\xff"));
    write(
        &home.join(".codex/auth.json"),
        format!(r#"{{"OPENAI_API_KEY": "{CODEX_KEY}"}}"#),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["credentials", "status", "--json"])
        .current_dir(tmp.path())
        .env_clear()
        .env("HOME", &home)
        .env("ANTHROPIC_API_KEY", OsStr::from_bytes(b"sk-ant-\xff"))
        .output()
        .expect("warden runs");
    let run = Run::from(out);
    let doc = run.ok().json();
    assert_eq!(doc["credentials"][0]["provider"], "OpenAI", "{doc}");
    assert!(
        doc["credentials"][0]["source"]
            .as_str()
            .is_some_and(|s| s.ends_with(".codex/auth.json")),
        "{doc}"
    );
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains("ignored environment variable ANTHROPIC_API_KEY: not valid UTF-8"),
        "{notes}"
    );
}

#[test]
fn home_flag_must_name_a_directory() {
    let cwd = tempfile::tempdir().expect("cwd");
    let home = tempfile::tempdir().expect("home");
    let run = warden_bounded(
        home.path(),
        cwd.path(),
        &["credentials", "status", "--home", "no/such/dir"],
    );
    run.code(2);
    assert!(
        run.error_line()
            .contains("--home no/such/dir: not a directory"),
        "{}",
        run.stderr
    );
    // Relative to the current directory, like any path argument.
    std::fs::create_dir(cwd.path().join("alt")).expect("mkdir");
    write(
        &cwd.path().join("alt/.codex/auth.json"),
        format!(r#"{{"OPENAI_API_KEY": "{CODEX_KEY}"}}"#),
    );
    let run = warden_bounded(
        home.path(),
        cwd.path(),
        &["credentials", "status", "--home", "alt"],
    );
    run.ok();
    assert!(
        run.stdout.contains("alt/.codex/auth.json"),
        "{}",
        run.stdout
    );
}

#[test]
fn process_with_only_an_expired_login_says_why_nothing_is_usable() {
    let tree = common::Tree::new();
    tree.write("app.py", common::VULN_PY);
    tree.scan(&[]).ok();
    write_stale_claude_login(&tree.tmp.path().join("home"));
    let run = common::run_isolated(&tree, &[], "process", &["--limit", "1"]);
    run.code(2);
    let line = run.error_line();
    // Without --model the credential decides the provider: neither has a usable one.
    assert!(
        line.contains("no usable Anthropic or OpenAI credentials found"),
        "{line}"
    );
    assert!(line.contains("expired 2023-11-14T22:13:20Z"), "{line}");
    assert!(!run.stderr.contains(STALE_TOKEN) && !run.stdout.contains(STALE_TOKEN));
}

#[test]
fn status_says_which_credential_each_agent_uses_and_why() {
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    write(
        &home.path().join(".claude/.credentials.json"),
        r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-subscription-token-0123456789"}}"#,
    );
    write(
        &home.path().join(".codex/auth.json"),
        r#"{"tokens":{"access_token":"chatgpt-access-token-0123456789","account_id":"acct-42"}}"#,
    );
    let out = warden(home.path(), cwd.path(), &["credentials", "status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = |agent: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{agent}: ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("claude").contains("Claude subscription login from"),
        "{stdout}"
    );
    assert!(line("codex").contains("ChatGPT login from"), "{stdout}");
    assert!(
        line("native").contains("use --agent claude")
            && line("native").contains("use --agent codex"),
        "{stdout}"
    );
    assert!(line("opencode").contains("none:"), "{stdout}");
    assert!(!stdout.contains("subscription-token-0123") && !stdout.contains("access-token-0123"));
    let out = warden(
        home.path(),
        cwd.path(),
        &["credentials", "status", "--json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["agents"][1]["agent"], "claude", "{doc}");
    assert_eq!(doc["agents"][1]["use"], "claude-subscription", "{doc}");
    assert_eq!(doc["agents"][2]["use"], "chatgpt-login", "{doc}");
    assert!(
        doc["agents"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("--agent claude")),
        "{doc}"
    );
}
