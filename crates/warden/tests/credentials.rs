//! `warden credentials status|extract-env` against real files in a temporary HOME and
//! working directory, with the process environment cleared of credentials.

use std::path::Path;
use std::process::{Command, Output};

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
