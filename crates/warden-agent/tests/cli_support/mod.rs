//! Driving the real agent CLIs (Claude Code, Codex, OpenCode from npm) headless
//! on the host against the testkit's mock LLM, with Warden's MCP report server.
//!
//! The MCP server is this test binary itself: the CLI starts
//! `sh -c 'exec 3>&1 >/dev/null; exec TEST_EXE --exact mcp_server_child'`, and
//! [`mcp_child`] serves `warden_agent::mcp` on stdin and fd 3 (libtest prints its
//! own lines on stdout before any test runs, which would break the protocol).

#![allow(dead_code)]

use std::io::Read;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use warden_agent::mcp::{self, Mode};
pub use warden_testkit::agents::{self, Output};

pub const TARGET_TMP: &str = env!("CARGO_TARGET_TMPDIR");
pub const OPENCODE: &str = "opencode-ai@1.18.33";
pub const KEY: &str = "sk-ant-api03-warden-test-key-0123456789";

const CHILD_ROOT: &str = "WARDEN_TEST_MCP_ROOT";
const CHILD_OUT: &str = "WARDEN_TEST_MCP_OUT";
const CHILD_MODE: &str = "WARDEN_TEST_MCP_MODE";

/// The body of the `mcp_server_child` test: serves MCP when started by a CLI,
/// does nothing in a normal test run.
pub fn mcp_child() {
    let (Some(root), Some(out)) = (std::env::var_os(CHILD_ROOT), std::env::var_os(CHILD_OUT))
    else {
        return;
    };
    let mode = match std::env::var(CHILD_MODE).as_deref() {
        Ok("verdict") => Mode::Verdict,
        _ => Mode::Investigate,
    };
    // SAFETY: fd 3 is the CLI's pipe, opened by the wrapper's `exec 3>&1` and
    // owned by nothing else in this process.
    let protocol = unsafe { std::fs::File::from_raw_fd(3) };
    let stdin = std::io::stdin();
    let code = match mcp::serve(
        mode,
        Path::new(&root),
        Path::new(&out),
        stdin.lock(),
        protocol,
    ) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mcp child: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// The command (program and arguments) a CLI runs to start the MCP server.
pub fn mcp_command(root: &Path, out: &Path, mode: Mode) -> (String, Vec<String>) {
    let exe = std::env::current_exe().expect("current_exe");
    let script = format!(
        "exec 3>&1 >/dev/null; export {CHILD_ROOT}=\"$1\" {CHILD_OUT}=\"$2\" {CHILD_MODE}=\"$3\"; exec \"$0\" --exact mcp_server_child --nocapture --test-threads=1 -q"
    );
    let mode = match mode {
        Mode::Verdict => "verdict",
        Mode::Investigate => "investigate",
    };
    (
        "/bin/sh".into(),
        vec![
            "-c".into(),
            script,
            exe.display().to_string(),
            root.display().to_string(),
            out.display().to_string(),
            mode.into(),
        ],
    )
}

/// A scratch project and isolated home for one CLI run, under the target's tmp
/// directory (Codex refuses to set up its helpers under `/tmp`).
pub struct Scratch {
    _dir: tempfile::TempDir,
    pub base: PathBuf,
    /// The project tree (the CLI's working directory), canonical.
    pub root: PathBuf,
    /// The findings file the MCP server writes.
    pub out: PathBuf,
    pub home: PathBuf,
}

pub const APP_PY: &str = "import os\n\ndef handler(req):\n    q = req.args['q']\n    return db.execute(\"SELECT * FROM t WHERE x = '\" + q + \"'\")\n";

impl Scratch {
    pub fn new() -> Scratch {
        std::fs::create_dir_all(TARGET_TMP).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("cli-")
            .tempdir_in(TARGET_TMP)
            .unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("project");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/app.py"), APP_PY).unwrap();
        let home = base.join("home");
        for d in [
            "",
            ".config",
            ".local/share",
            ".local/state",
            ".cache",
            "tmp",
        ] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        Scratch {
            out: base.join("findings.jsonl"),
            root,
            home,
            base,
            _dir: dir,
        }
    }

    /// A command with an empty environment except PATH and the isolated
    /// HOME/XDG/TMPDIR, in the project directory, stdin from /dev/null.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("TMPDIR", self.home.join("tmp"))
            .current_dir(&self.root)
            .stdin(Stdio::null());
        cmd
    }

    pub fn findings(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The Claude Code binary: the testkit's, or `WARDEN_TEST_CLAUDE` (another
/// release, e.g. the agent image's pin, to record fixtures with).
pub fn claude_bin() -> PathBuf {
    std::env::var_os("WARDEN_TEST_CLAUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|| agents::agents_bin(Path::new(TARGET_TMP)).join("claude"))
}

/// The Codex binary: the testkit's, or `WARDEN_TEST_CODEX`.
pub fn codex_bin() -> PathBuf {
    std::env::var_os("WARDEN_TEST_CODEX")
        .map(PathBuf::from)
        .unwrap_or_else(|| agents::agents_bin(Path::new(TARGET_TMP)).join("codex"))
}

/// OpenCode, installed once like the testkit installs the others. npm runs the
/// wrapper's postinstall (for a `--prefix` install npm 11 runs it), which links
/// the platform binary; we call the platform package's binary directly, so a
/// skipped postinstall does not matter.
pub fn opencode_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(TARGET_TMP)
            .join("agents")
            .join(OPENCODE.replace(['@', '/'], "_"));
        let bin = dir.join("node_modules/opencode-linux-x64/bin/opencode");
        if !(dir.join(".installed").is_file() && bin.is_file()) {
            install_opencode(&dir);
        }
        bin
    })
    .clone()
}

fn install_opencode(dir: &Path) {
    let parent = dir.parent().unwrap();
    std::fs::create_dir_all(parent).unwrap();
    let staging = parent.join(format!(".staging-oc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    let mut cmd = Command::new("npm");
    cmd.arg("install")
        .arg("--prefix")
        .arg(&staging)
        .args(["--no-audit", "--no-fund", "--loglevel=error", OPENCODE])
        .stdin(Stdio::null());
    let out = agents::run_with_timeout(cmd, agents::INSTALL_TIMEOUT)
        .unwrap_or_else(|e| panic!("npm install {OPENCODE}: {e} (these tests need node and npm)"));
    assert!(
        out.success,
        "npm install {OPENCODE} failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    std::fs::write(staging.join(".installed"), format!("{OPENCODE}\n")).unwrap();
    if std::fs::rename(&staging, dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
}

/// Runs a command to completion (killed after [`agents::RUN_TIMEOUT`]).
pub fn run(cmd: Command) -> Output {
    agents::run_with_timeout(cmd, agents::RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// The version a CLI reports (`claude --version`), for fixture names.
pub fn version_of(scratch: &Scratch, bin: &Path) -> String {
    let mut cmd = scratch.command(bin);
    cmd.arg("--version");
    let out = run(cmd);
    out.stdout
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("unknown")
        .to_string()
}

/// When `WARDEN_RECORD_CLI_FIXTURES` is set, saves a CLI's real stdout as a parser
/// fixture (`tests/fixtures/cli_output/NAME`), with the scratch paths replaced by
/// stable placeholders.
pub fn record_fixture(name: &str, scratch: &Scratch, stdout: &str) {
    if std::env::var_os("WARDEN_RECORD_CLI_FIXTURES").is_none() {
        return;
    }
    assert!(!stdout.contains(KEY), "the key leaked into {name}");
    let text = stdout
        .replace(&scratch.base.display().to_string(), "/scratch")
        .replace(TARGET_TMP, "/target-tmp");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cli_output");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// Reads a whole file as lossy text (empty when missing).
pub fn read_lossy(path: &Path) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}
