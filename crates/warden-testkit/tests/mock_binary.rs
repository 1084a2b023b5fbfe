//! The `warden-mock-llm` binary serves a script from a JSON file.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on `script` (a JSON text) with `args`; returns it and its address.
fn serve(script: &str, args: &[&str]) -> (KillOnDrop, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.json");
    std::fs::write(&path, script).unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_warden-mock-llm"))
            .args(["--port", "0"])
            .args(args)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut url = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url
        .trim()
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("prints its URL first, got {url:?}"))
        .to_string();
    (child, addr, dir)
}

/// One Chat Completions request over a raw socket: the whole response.
fn chat(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = r#"{"model":"gpt-4o","messages":[]}"#;
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serves_a_json_script_file_until_killed() {
    let (_child, addr, _dir) = serve(
        r#"{"turns": [{"text": "from the file"}], "final_text": "file final"}"#,
        &[],
    );
    for expected in ["from the file", "file final"] {
        let out = chat(&addr);
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains(expected), "{out}");
    }
}

#[test]
fn latency_ms_delays_every_reply() {
    let (_child, addr, _dir) = serve(r#"{"final_text": "slow"}"#, &["--latency-ms", "300"]);
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let out = chat(&addr);
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(out.contains("slow"), "{out}");
    }
}

#[test]
fn a_bad_latency_is_a_one_line_error_and_exit_2() {
    for bad in ["soon", "-1", "600001"] {
        let out = Command::new(env!("CARGO_BIN_EXE_warden-mock-llm"))
            .args(["--latency-ms", bad, "script.json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--latency-ms"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn a_bad_script_file_is_a_one_line_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.json");
    std::fs::write(&script, "{\"turns\": [{\"error\": {\"kind\": \"nope\"}}]}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden-mock-llm"))
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
