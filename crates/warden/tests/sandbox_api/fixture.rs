//! What every test here shares: upstreams on loopback, named through the proxy's test
//! resolver, and a library over a private data directory.

use crate::sandbox_support::{test_pki, Upstream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use warden_sandbox::{ExecRequest, SandboxRoot, Sandboxes};

/// The loopback servers behind the test names.
pub struct Net {
    /// HTTPS for `api.test` (the test CA is among the proxy's extra roots).
    pub api: Upstream,
    /// Plain HTTP for `plain.test` and `denied.test`.
    pub plain: Upstream,
    _roots: tempfile::TempDir,
}

/// Starts the upstreams and points the proxy of every sandbox created from now on at
/// them. Called before any sandbox exists, so the variables are set once, first.
pub fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let (tls, ca_pem) = test_pki(&["api.test"]);
        let api = Upstream::start(Some(tls));
        let plain = Upstream::start(None);
        let roots = tempfile::tempdir().unwrap();
        let pem = roots.path().join("roots.pem");
        std::fs::write(&pem, ca_pem).unwrap();
        let mut resolve = format!(
            "api.test=127.0.0.1:{},plain.test=127.0.0.1:{},denied.test=127.0.0.1:{}",
            api.port, plain.port, plain.port
        );
        if let Some(git) = crate::fixture::git_pin() {
            resolve.push_str(&format!(",git.test=127.0.0.1:{git}"));
        }
        std::env::set_var("WARDEN_EGRESS_TEST_RESOLVE", resolve);
        std::env::set_var("WARDEN_EGRESS_TEST_ROOTS", &pem);
        Net {
            api,
            plain,
            _roots: roots,
        }
    })
}

/// The port of the git server behind `git.test`.
pub fn git_pin() -> Option<u16> {
    Some(crate::git::server().port)
}

/// A library over `tmp/data`, with the network fixture in place.
pub fn library(tmp: &Path) -> Sandboxes {
    net();
    Sandboxes::new(SandboxRoot::new(tmp.join("data"))).with_executable(env!("CARGO_BIN_EXE_warden"))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn sh(script: &str) -> ExecRequest {
    ExecRequest::new(["sh", "-c", script])
}

/// Runs `script` in sandbox `id`; returns (stdout, stderr) after asserting it exited 0.
pub fn run(lib: &Sandboxes, id: &str, script: &str) -> (String, String) {
    let out = runtime()
        .block_on(lib.exec_captured(
            id,
            &sh(script),
            warden_sandbox::ExecIo::default(),
            std::future::pending(),
        ))
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.exit.success(),
        "{script}: {:?}\n{stdout}\n{stderr}",
        out.exit
    );
    (stdout, stderr)
}

/// Every regular file under `dir` whose bytes hold `needle`.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let bytes = std::fs::read(entry.path()).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(entry.path());
                }
            }
        }
    }
    found
}
