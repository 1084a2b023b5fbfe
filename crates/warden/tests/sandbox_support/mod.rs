//! Helpers for the sandbox end-to-end tests: a private data directory, the real
//! `warden` binary, and reading sandbox records.

#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A private `WARDEN_DATA_DIR`; destroys every sandbox left in it when dropped.
pub struct Sandboxes {
    pub tmp: TempDir,
}

impl Sandboxes {
    pub fn new() -> Sandboxes {
        Sandboxes {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `warden sandbox ARGS...` with this data directory and a clean HOME.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.arg("sandbox")
            .args(args)
            .env("WARDEN_DATA_DIR", self.data_dir())
            .env_remove("WARDEN_LOG")
            .stdin(Stdio::null());
        cmd
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run warden")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "warden sandbox {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `create ARGS` → the new id.
    pub fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let id = self
            .ok(&all)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(id.starts_with("sb-"), "create printed {id:?}");
        id
    }

    /// `exec ID -- sh -c SCRIPT` → (exit code, stdout, stderr).
    pub fn sh(&self, id: &str, script: &str) -> (i32, String, String) {
        let out = self.output(&["exec", id, "--", "sh", "-c", script]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `run [FLAGS] -- sh -c SCRIPT` → (exit code, stdout, stderr).
    pub fn run_sh(&self, flags: &[&str], script: &str) -> (i32, String, String) {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "sh", "-c", script]);
        let out = self.output(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `script` through both ways a sandbox is built: a one-shot `run` (namespaces
    /// made in-process) and `create` + `exec` (bubblewrap). Returns `(way, code, stdout, stderr)`.
    pub fn both_ways(&self, script: &str) -> Vec<(&'static str, i32, String, String)> {
        let (code, out, err) = self.run_sh(&[], script);
        let mut all = vec![("run", code, out, err)];
        let id = self.create(&[]);
        let (code, out, err) = self.sh(&id, script);
        all.push(("create+exec", code, out, err));
        let _ = self.output(&["destroy", &id]);
        all
    }

    /// The record of one sandbox, from `ls --json`.
    pub fn record(&self, id: &str) -> Value {
        let all: Value = serde_json::from_str(&self.ok(&["ls", "--json"])).expect("ls --json");
        all.as_array()
            .and_then(|a| a.iter().find(|m| m["id"] == id).cloned())
            .unwrap_or(Value::Null)
    }

    pub fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.data_dir().join("sandboxes").join(id)
    }
}

impl Drop for Sandboxes {
    fn drop(&mut self) {
        let Ok(out) = self.cmd(&["ls", "--json"]).output() else {
            return;
        };
        let Ok(all) = serde_json::from_slice::<Value>(&out.stdout) else {
            return;
        };
        for m in all.as_array().into_iter().flatten() {
            if let Some(id) = m["id"].as_str() {
                let _ = self.cmd(&["destroy", id]).output();
            }
        }
    }
}

/// The lines of an error a user reads: clap's blank line and "For more information"
/// tip after a parse error are left out, so both kinds of error can be held to one line.
pub fn error_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
        .map(str::to_string)
        .collect()
}

/// Pids of live (non-zombie) host processes whose command line or environment mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z'))
        {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let hit = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle.as_bytes());
        if hit(&cmdline) || hit(&environ) {
            out.push(pid);
        }
    }
    out
}

/// Waits until `cond` holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// A test CA and a server config for `names`; returns the CA's PEM too.
pub fn test_pki(names: &[&str]) -> (Arc<rustls::ServerConfig>, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )),
        )
        .unwrap();
    (Arc::new(config), issuer.pem())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// A loopback HTTP(S) server that answers 200 `upstream-ok` and records each request's
/// head (request line and headers).
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (tls, record) = (tls.clone(), record.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    match tls {
                        Some(config) => {
                            let Ok(server) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve_one(rustls::StreamOwned::new(server, conn), &record);
                        }
                        None => serve_one(conn, &record),
                    }
                });
            }
        });
        Upstream { port, seen }
    }

    /// Every request head seen so far, separated by `---`.
    pub fn heads(&self) -> String {
        self.seen.lock().unwrap().join("\n---\n")
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn serve_one<S: Read + Write>(stream: S, record: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    record.lock().unwrap().push(head);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nupstream-ok",
    );
    let _ = stream.flush();
}

/// Where `secret` shows in the sandbox (environments and command lines of every process,
/// its files) and in what the host keeps of it (record, logs, `ls --json`). The search
/// pattern is assembled inside from two halves, so no command line holds it whole.
pub fn secret_places(s: &Sandboxes, id: &str, secret: &str) -> Vec<String> {
    let (a, b) = secret.split_at(secret.len() / 2);
    let script = format!(
        "A='{a}' B='{b}'; printf '%s%s' \"$A\" \"$B\" > /tmp/.pattern; \
         grep -rlF -f /tmp/.pattern --exclude=.pattern /proc/[0-9]*/environ /proc/[0-9]*/cmdline \
         /workspace /home /tmp /run/warden /etc/resolv.conf 2>/dev/null; rm -f /tmp/.pattern"
    );
    let (_, found, _) = s.sh(id, &script);
    let mut places: Vec<String> = found.lines().map(str::to_string).collect();
    let dir = s.sandbox_dir(id);
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let text = std::fs::read(entry.path()).unwrap_or_default();
            if text.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                places.push(entry.path().display().to_string());
            }
        }
    }
    if s.ok(&["ls", "--json"]).contains(secret) {
        places.push("ls --json".into());
    }
    places
}

/// Asserts `secret` is nowhere [`secret_places`] looks.
pub fn assert_secret_nowhere(s: &Sandboxes, id: &str, secret: &str) {
    let places = secret_places(s, id, secret);
    assert!(places.is_empty(), "the secret is visible: {places:?}");
}
