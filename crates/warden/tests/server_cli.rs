//! `warden server` as a command: where its token comes from (WARDEN_SERVER_TOKEN, or a
//! generated one written 0600 and never printed), and start-up errors that exit 2 in
//! one line without showing a token.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn warden_server(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(["server", "--listen", "127.0.0.1:0", "--sandbox-dir"])
        .arg(dir.join("data"))
        .args(args)
        .env_remove("WARDEN_SERVER_TOKEN")
        .env_remove("WARDEN_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts it; returns the child, its base URL and what it printed up to `until`.
fn start(mut cmd: Command, until: &str) -> (Child, String, Vec<String>) {
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut seen, mut base) = (Vec::new(), None);
    while base.is_none() || !seen.iter().any(|l: &String| l.contains(until)) {
        let line = lines.next().expect("it exited before listening").unwrap();
        if let Some(addr) = line.strip_prefix("warden server listening on ") {
            base = Some(addr.trim().to_string());
        }
        seen.push(line);
    }
    std::thread::spawn(move || lines.for_each(drop));
    (child, base.unwrap_or_default(), seen)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn status_with(base: &str, token: &str) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("{base}/v1/sandboxes"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_environment_token_belongs_to_tenant_default() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = warden_server(tmp.path(), &[]);
    cmd.env("WARDEN_SERVER_TOKEN", "env-token-0123456789abcdef");
    let (child, base, _) = start(cmd, "listening");
    assert_eq!(status_with(&base, "env-token-0123456789abcdef").await, 200);
    assert_eq!(status_with(&base, "env-token-0123456789abcdeX").await, 401);
    assert!(!tmp.path().join("data/server/token").exists());
    stop(child);
}

#[tokio::test]
async fn without_tokens_the_server_writes_one_privately_and_prints_only_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, base, printed) = start(warden_server(tmp.path(), &[]), "bearer token");
    let path = tmp.path().join("data/server/token");
    let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
    assert!(token.len() >= 32);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let printed = printed.join("\n");
    assert!(printed.contains(&path.display().to_string()), "{printed}");
    assert!(!printed.contains(&token), "the token was printed");
    assert_eq!(status_with(&base, &token).await, 200);
    stop(child);
}

#[test]
fn bad_token_set_ups_exit_2_in_one_line_without_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens.json");
    std::fs::write(
        &tokens,
        r#"{"tokens": [{"tenant": "acme", "token": "file-secret-0123456789"}]}"#,
    )
    .unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tokens = tokens.to_str().unwrap();
    let cases: Vec<(Command, &str)> = vec![
        (
            warden_server(tmp.path(), &["--tokens", tokens]),
            "chmod 600",
        ),
        (
            {
                let mut c = warden_server(tmp.path(), &["--tokens", tokens]);
                c.env("WARDEN_SERVER_TOKEN", "env-secret-0123456789");
                c
            },
            "not both",
        ),
        (
            {
                let mut c = warden_server(tmp.path(), &[]);
                c.env("WARDEN_SERVER_TOKEN", "short");
                c
            },
            "at least 16",
        ),
        (
            warden_server(tmp.path(), &["--max-body", "lots"]),
            "--max-body",
        ),
    ];
    for (mut cmd, expect) in cases {
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(!stderr.contains("secret-0123456789"), "{stderr}");
    }
}
