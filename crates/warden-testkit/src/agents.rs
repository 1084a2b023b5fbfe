//! The real Claude Code and Codex CLIs from npm, for tests that drive them.
//!
//! They are installed once into `<target>/tmp/agents/<versions>` (a fresh directory
//! renamed into place, so parallel test processes never see a half-finished install).
//! A failed install panics: these tests need node and npm (see `.ci/run`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The newest Claude Code that runs on Node 20 (2.1.198+ need Node 22).
pub const CLAUDE_CODE: &str = "@anthropic-ai/claude-code@2.1.197";
pub const CODEX: &str = "@openai/codex@0.169.0";
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

fn agents_dir(target_tmp: &Path) -> PathBuf {
    let key = format!("{CLAUDE_CODE}+{CODEX}").replace(['@', '/'], "_");
    target_tmp.join("agents").join(key)
}

fn installed(dir: &Path) -> bool {
    dir.join(".installed").is_file()
        && dir.join("node_modules/.bin/claude").exists()
        && dir.join("node_modules/.bin/codex").exists()
}

/// Installs both CLIs once under `target_tmp` (pass `env!("CARGO_TARGET_TMPDIR")`);
/// returns the `node_modules/.bin` directory.
pub fn agents_bin(target_tmp: &Path) -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = agents_dir(target_tmp);
        if !installed(&dir) {
            install(&dir);
        }
        dir.join("node_modules/.bin")
    })
}

fn install(dir: &Path) {
    let parent = dir.parent().expect("agents dir has a parent");
    std::fs::create_dir_all(parent).expect("create the agents cache directory");
    let staging = parent.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("create the staging directory");
    let mut cmd = Command::new("npm");
    cmd.arg("install")
        .arg("--prefix")
        .arg(&staging)
        .args([
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            CLAUDE_CODE,
            CODEX,
        ])
        .stdin(Stdio::null());
    let out = run_with_timeout(cmd, INSTALL_TIMEOUT).unwrap_or_else(|e| {
        panic!("`npm install {CLAUDE_CODE} {CODEX}` could not run ({e}); these tests need node and npm (see .ci/run)")
    });
    if !out.success {
        panic!(
            "`npm install --prefix {} {CLAUDE_CODE} {CODEX}` failed (exit {:?}):\n{}\n{}",
            staging.display(),
            out.code,
            out.stdout,
            out.stderr
        );
    }
    std::fs::write(
        staging.join(".installed"),
        format!("{CLAUDE_CODE}\n{CODEX}\n"),
    )
    .expect("write the install marker");
    if std::fs::rename(&staging, dir).is_err() {
        // Another process finished first; use its copy.
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(
        installed(dir),
        "npm install finished but {} lacks the claude and codex binaries",
        dir.display()
    );
}

pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with piped output, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("wait for {cmd:?}: {e}")),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            success: status.success(),
            code: status.code(),
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{cmd:?} did not finish within {timeout:?} and was killed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )),
    }
}
