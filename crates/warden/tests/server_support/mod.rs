//! Helpers for the `warden server` end-to-end tests: the real binary serving on
//! 127.0.0.1:0 with two tenants over a private sandbox directory, an HTTP client, and
//! clean-up of every sandbox left behind. Real sandboxes, as the sandbox tests use
//! (bubblewrap must be installed, as for those).

#![allow(dead_code)] // each test binary uses a different subset

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN_A: &str = "token-of-tenant-a-0123456789";
pub const TOKEN_B: &str = "token-of-tenant-b-0123456789";

/// A running `warden server` and its sandbox directory.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub addr: std::net::SocketAddr,
    child: Option<Child>,
    pub client: reqwest::Client,
    /// The flags and variables it was started with, for a restart.
    extra: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    /// Tenants `a` and `b`; `extra` flags go to `warden server`.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with(extra, &[])
    }

    /// [`Server::start`], with `env` set for the server (and so for the sandboxes'
    /// supervisors it starts).
    pub fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens.json");
        std::fs::write(
            &tokens,
            json!({"tokens": [{"tenant": "a", "token": TOKEN_A}, {"tenant": "b", "token": TOKEN_B}]})
                .to_string(),
        )
        .unwrap();
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (child, addr) = spawn(dir.path(), "127.0.0.1:0", &extra, &env);
        Server {
            base: format!("http://{addr}"),
            addr,
            dir,
            child: Some(child),
            client: client(),
            extra,
            env,
        }
    }

    pub fn sandbox_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < end, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port, directory, flags and variables.
    pub fn restart(&mut self) {
        let (child, addr) = spawn(
            self.dir.path(),
            &self.addr.to_string(),
            &self.extra,
            &self.env,
        );
        assert_eq!(addr, self.addr);
        self.child = Some(child);
    }

    /// The server's peak resident memory in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    /// GETs `path` as `token`'s tenant and reads the answer as JSON, whatever its status.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        self.get(token, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn post(&self, token: &str, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
    }

    pub fn put(&self, token: &str, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn delete(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(token)
    }

    /// Creates a sandbox for the token's tenant; returns its JSON.
    pub async fn create(&self, token: &str, body: Value) -> Value {
        let res = self
            .post(token, "/v1/sandboxes", body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Runs `sh -c script` and waits: (exit code, stdout, stderr).
    pub async fn sh(&self, token: &str, id: &str, script: &str) -> (i64, String, String) {
        let res = self
            .post(
                token,
                &format!("/v1/sandboxes/{id}/commands"),
                json!({"cmd": "sh", "args": ["-c", script]}),
            )
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{json}");
        (
            json["exitCode"].as_i64().unwrap(),
            json["stdout"].as_str().unwrap().to_string(),
            json["stderr"].as_str().unwrap().to_string(),
        )
    }

    /// Starts a detached command with the CLI (`warden sandbox exec --detach`): it shares
    /// the server's sandbox directory.
    pub fn detach(&self, id: &str, argv: &[&str]) {
        let out = Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("--data-dir")
            .arg(self.sandbox_dir())
            .args(["sandbox", "exec", "--detach", id, "--"])
            .args(argv)
            .env_remove("WARDEN_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Every sandbox the test left, through the CLI over the same directory.
        let cli = || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
            cmd.arg("--data-dir")
                .arg(self.sandbox_dir())
                .env_remove("WARDEN_LOG")
                .stdin(Stdio::null());
            cmd
        };
        let Ok(out) = cli().args(["sandbox", "ls", "--json"]).output() else {
            return;
        };
        let all: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        for m in all.as_array().into_iter().flatten() {
            if let Some(id) = m["id"].as_str() {
                let _ = cli().args(["sandbox", "destroy", id]).output();
            }
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// `warden server` on `listen`; returns once it said where it listens.
fn spawn(
    dir: &Path,
    listen: &str,
    extra: &[String],
    env: &[(String, String)],
) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["server", "--listen", listen, "--tokens"])
        .arg(dir.join("tokens.json"))
        .arg("--sandbox-dir")
        .arg(dir.join("data"))
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("WARDEN_SERVER_TOKEN")
        .env("WARDEN_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start warden server");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let status = child.wait().unwrap();
            panic!("warden server exited ({status}) before listening");
        };
        if let Some(addr) = line.strip_prefix("warden server listening on http://") {
            break addr.trim().parse().expect("address");
        }
    };
    // Keep reading its log (into a file the test can show), so it never blocks on stderr.
    let log = dir.join("server.log");
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .ok();
        for line in lines.map_while(Result::ok) {
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
        }
    });
    (child, addr)
}

/// The problem document of an error answer, checked to be one.
pub async fn problem(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(
        content_type, "application/problem+json",
        "status {status}: {body}"
    );
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)), "{body}");
    (status, body)
}

/// Waits until `cond` holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond().await
}
