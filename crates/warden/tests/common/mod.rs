//! Helpers shared by the end-to-end tests: a temp project tree, running the real
//! `warden` binary, reading its JSON, and the SARIF 2.1.0 schema validator.

#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;
use warden_store::{Confidence, NewFinding, Severity, Store};

/// A Flask route passing a query parameter to a shell: `python.os-system` fires on line 8.
pub const VULN_PY: &str = "import os\n\
from flask import Flask, request\n\
\n\
app = Flask(__name__)\n\
\n\
@app.route(\"/run\")\n\
def run():\n\
    os.system(\"ls \" + request.args[\"p\"])\n\
    return \"ok\"\n";

/// Nothing any rule should care about.
pub const SAFE_PY: &str = "def add(a, b):\n    return a + b\n";

/// One bare `os.system` call: the smallest file that is a candidate.
pub const ONE_CALL_PY: &str = "import os\nos.system(cmd)\n";

/// A private key in a Python string (the generic pack covers every language).
pub const KEY_PY: &str = "KEY = \"\"\"\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n\"\"\"\n";

/// A temp directory holding a project root named `proj` (so the default project id is `proj`).
pub struct Tree {
    pub tmp: TempDir,
    pub root: PathBuf,
}

pub const PROJECT: &str = "proj";

impl Tree {
    pub fn new() -> Tree {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join(PROJECT);
        std::fs::create_dir(&root).expect("create root");
        Tree { tmp, root }
    }

    /// `root/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `root/rel`, creating parent directories.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create parent");
        std::fs::write(&path, content).expect("write file");
        path
    }

    /// The default data dir of a scan of this root.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join(".warden")
    }

    pub fn db(&self) -> PathBuf {
        self.data_dir().join(warden_store::DB_FILE)
    }

    /// The store a scan of this root wrote, opened through the store API.
    pub fn store(&self) -> Store {
        Store::open_existing(&self.data_dir()).expect("open the scan's store")
    }

    /// `warden scan <root> <args>`, finished.
    pub fn scan(&self, args: &[&str]) -> Run {
        run(warden().arg("scan").arg(&self.root).args(args))
    }

    /// `warden scan <root> --json <args>`, which must succeed; its JSON.
    pub fn scan_json(&self, args: &[&str]) -> Value {
        self.scan(&[&["--json"], args].concat()).ok().json()
    }
}

/// The real binary with a clean environment for Warden's own variables.
pub fn warden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_remove("WARDEN_DATA_DIR")
        .env_remove("WARDEN_STORE")
        .env_remove("WARDEN_PROJECT_ID")
        .env_remove("WARDEN_LOG")
        .stdin(Stdio::null());
    cmd
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
    pub raw_stderr: Vec<u8>,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out
                .status
                .code()
                .unwrap_or_else(|| panic!("warden was killed by a signal: {:?}", out.status)),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            raw_stdout: out.stdout,
            raw_stderr: out.stderr,
        }
    }
}

/// Runs `cmd` to completion, capturing both streams.
pub fn run(cmd: &mut Command) -> Run {
    cmd.output().expect("run the warden binary").into()
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn ok(&self) -> &Run {
        self.code(0)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The one error line Warden prints for a failure of its own (not clap's usage errors).
    pub fn error_line(&self) -> &str {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one line on stderr, got:\n{}",
            self.stderr
        );
        assert!(
            lines[0].starts_with("warden: error: "),
            "unexpected error line: {}",
            lines[0]
        );
        lines[0]
    }

    /// The first line of a usage error printed by the argument parser.
    pub fn usage_line(&self) -> &str {
        let first = self.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error: "),
            "expected a usage error, got:\n{}",
            self.stderr
        );
        first
    }
}

/// The candidate paths of a scan's JSON, best first.
pub fn candidate_paths(scan: &Value) -> Vec<String> {
    scan["candidates"]
        .as_array()
        .expect("candidates array")
        .iter()
        .map(|c| c["path"].as_str().expect("candidate path").to_string())
        .collect()
}

/// The candidate entry for `path`, if it is one.
pub fn candidate<'a>(scan: &'a Value, path: &str) -> Option<&'a Value> {
    scan["candidates"]
        .as_array()
        .expect("candidates array")
        .iter()
        .find(|c| c["path"] == path)
}

/// How many files the scan skipped for `reason` (kebab-case), 0 when absent.
pub fn skipped(scan: &Value, reason: &str) -> u64 {
    scan["stats"]["skipped"][reason].as_u64().unwrap_or(0)
}

/// A stat counter of a scan's JSON.
pub fn stat(scan: &Value, name: &str) -> u64 {
    scan["stats"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.{name} missing in {scan:#}"))
}

/// A delta counter of a scan's JSON.
pub fn delta(scan: &Value, name: &str) -> u64 {
    scan["delta"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("delta.{name} missing in {scan:#}"))
}

/// A finding with plausible defaults.
pub fn finding(path: &str, title: &str, severity: Severity) -> NewFinding {
    NewFinding {
        run_id: None,
        path: path.to_string(),
        start_line: 8,
        end_line: 8,
        title: title.to_string(),
        severity,
        confidence: Confidence::High,
        cwe: Some("CWE-78".to_string()),
        category: Some("command-execution".to_string()),
        rule_id: Some("python.os-system".to_string()),
        description: "A query parameter reaches a shell.".to_string(),
        attack_path: "GET /run?p=;id".to_string(),
        recommendation: "Use subprocess.run with a list.".to_string(),
        patch: None,
        cost_usd: Some(0.02),
    }
}

/// A store with project `proj` (root `root`) holding `findings`, at `data_dir`.
pub fn store_with_findings(data_dir: &Path, root: &Path, findings: &[NewFinding]) -> Vec<String> {
    let mut store = Store::open(data_dir).expect("open store");
    store
        .ensure_project(PROJECT, &root.to_string_lossy())
        .expect("project");
    store.insert_findings(PROJECT, findings).expect("insert")
}

#[allow(unused_imports)] // each test binary uses a different subset
pub use warden_testkit::sarif::{assert_valid as assert_valid_sarif, errors as sarif_errors};

/// The results of the only run of a SARIF log.
pub fn sarif_results(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"].as_array().expect("results array")
}

/// `warden <subcommand> <args>` in `tree.root`, in a cleared environment with a
/// throwaway HOME and nothing but the given variables (credentials, base URLs).
pub fn run_isolated(tree: &Tree, env: &[(&str, &str)], subcommand: &str, args: &[&str]) -> Run {
    let home = tree.tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("HOME", &home)
        .current_dir(&tree.root)
        .stdin(Stdio::null())
        .arg(subcommand)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The first project of `warden status --json` in `tree.root`, which must succeed.
pub fn project_status(tree: &Tree) -> Value {
    let out = run(warden().current_dir(&tree.root).args(["status", "--json"]));
    out.ok().json()[0].clone()
}

/// The non-blank lines of stderr starting with `warden: stopped:`.
pub fn stop_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("warden: stopped:"))
        .collect()
}
