//! Helpers for the end-to-end tests of agent CLIs investigating inside sandboxes: the
//! agent image (built once with the real `warden agents install`, from npm), a scanned
//! project with a throwaway HOME, and `warden process|revalidate --agent X` against the
//! testkit's mock LLM on loopback, reached through a base URL set on the host.

#![allow(dead_code)] // each test binary uses a different subset

use crate::common::{self, Run, Tree, VULN_PY};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use warden_testkit::mock_llm::{MockLlm, RecordedRequest};

/// Keys that look real; the tests check they never enter a sandbox.
pub const REAL_ANTHROPIC_KEY: &str =
    "sk-ant-api03-e2eREALkeyNEVERinsideAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub const REAL_OPENAI_KEY: &str =
    "sk-proj-e2eREALkeyNEVERinsideBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
/// The line of VULN_PY with the injection.
pub const SINK_LINE: u64 = 8;

/// The sandbox root holding the agent image with all three CLIs, built once per machine
/// (kept across test runs in the target directory, like the npm cache of the testkit).
pub fn image_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let root = tmp.join("agent-image");
        if installed(&root) {
            return root;
        }
        // Built aside and renamed into place: parallel test processes never see half an image.
        let staging = tmp.join(format!("agent-image.staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).expect("staging dir");
        let out = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["agents", "install"])
            .env("WARDEN_SANDBOX_DIR", &staging)
            .stdin(Stdio::null())
            .output()
            .expect("run warden agents install");
        assert!(
            out.status.success(),
            "`warden agents install` failed (these tests need node, npm and the npm registry):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(staging.join("sandboxes"));
        if std::fs::rename(&staging, &root).is_err() {
            // Another process finished first; use its image.
            let _ = std::fs::remove_dir_all(&staging);
        }
        assert!(installed(&root), "no agent image at {}", root.display());
        root
    })
}

fn installed(root: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join("agents/image.json")) else {
        return false;
    };
    let Ok(image) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    ["claude", "codex", "opencode"]
        .iter()
        .all(|a| image["agents"].get(*a).is_some())
        && image["snapshot"]
            .as_str()
            .is_some_and(|s| root.join("snapshots").join(s).is_dir())
}

/// A scanned project (`app.py` with a command injection) and a HOME of its own.
pub struct Project {
    pub tree: Tree,
}

impl Project {
    pub fn new() -> Project {
        let tree = Tree::new();
        tree.write("app.py", VULN_PY);
        tree.scan(&["-q"]).ok();
        std::fs::create_dir_all(tree.tmp.path().join("home")).expect("home");
        Project { tree }
    }

    pub fn home(&self) -> PathBuf {
        self.tree.tmp.path().join("home")
    }

    /// `warden <args>` in the project, with only these variables (and PATH, HOME and
    /// the shared sandbox root).
    pub fn warden(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("WARDEN_SANDBOX_DIR", image_root())
            .current_dir(&self.tree.root)
            .stdin(Stdio::null())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        common::run(&mut cmd)
    }

    /// `warden process --agent <agent> --json` with an Anthropic key and the mock as
    /// the base URL the user set on the host.
    pub fn process_anthropic(&self, agent: &str, mock: &MockLlm, extra: &[&str]) -> Run {
        let url = mock.url().to_string();
        let env = [
            ("ANTHROPIC_API_KEY", REAL_ANTHROPIC_KEY),
            ("ANTHROPIC_BASE_URL", url.as_str()),
        ];
        let args = [&["process", "--agent", agent, "--json"][..], extra].concat();
        self.warden(&env, &args)
    }

    /// The same with an OpenAI key and the mock's `/v1`.
    pub fn process_openai(&self, agent: &str, mock: &MockLlm, extra: &[&str]) -> Run {
        let url = mock.openai_base_url();
        let env = [
            ("OPENAI_API_KEY", REAL_OPENAI_KEY),
            ("OPENAI_BASE_URL", url.as_str()),
        ];
        let args = [&["process", "--agent", agent, "--json"][..], extra].concat();
        self.warden(&env, &args)
    }

    /// One value of the store, by SQL (the tests look at what the pipeline recorded).
    pub fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        let conn = rusqlite::Connection::open(self.tree.db()).expect("open the store");
        let mut stmt = conn.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            Ok((0..n)
                .map(|i| match r.get_ref(i) {
                    Ok(rusqlite::types::ValueRef::Integer(v)) => json!(v),
                    Ok(rusqlite::types::ValueRef::Real(v)) => json!(v),
                    Ok(rusqlite::types::ValueRef::Text(t)) => {
                        json!(String::from_utf8_lossy(t))
                    }
                    _ => Value::Null,
                })
                .collect())
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }
}

/// What a process inside a sandbox had: its environment, as the host sees it in /proc.
pub struct Seen {
    /// `environ` of every live process whose command line names `needle`.
    pub environs: Vec<String>,
    /// Those of them that are the agent CLI itself (started with Warden's variables).
    pub cli_environs: Vec<String>,
    /// Every file under the running sandboxes' homes (not the image), concatenated.
    pub home_files: Vec<u8>,
    /// The resource limits the agent CLI ran under, one [`limits_of`] per CLI process seen.
    pub cli_limits: Vec<String>,
}

impl Project {
    /// Runs `warden <args>` and, while it runs, waits for a process whose command line
    /// holds `needle` (the agent CLI inside its sandbox) and records what it holds: the
    /// script should keep the CLI busy for a moment (a delayed first turn).
    pub fn run_watching(&self, env: &[(&str, &str)], args: &[&str], needle: &str) -> (Run, Seen) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("WARDEN_SANDBOX_DIR", image_root())
            .current_dir(&self.tree.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn warden");
        // Other tests run agents at the same time: ours is the one whose sandbox was
        // given this run's tree copy (`process-<pid>`, `revalidate-<pid>`).
        let tag = format!("-{}", child.id());
        let ours = |env: &str| {
            env.split('\n')
                .find_map(|kv| kv.strip_prefix("WARDEN_SANDBOX="))
                .and_then(|id| {
                    std::fs::read_to_string(
                        image_root().join("sandboxes").join(id).join("meta.json"),
                    )
                    .ok()
                })
                .is_some_and(|meta| meta.contains(&format!("{tag}\"")))
        };
        let started = std::time::Instant::now();
        let mut seen = Seen {
            environs: Vec::new(),
            cli_environs: Vec::new(),
            home_files: Vec::new(),
            cli_limits: Vec::new(),
        };
        // The CLI's own environment carries the variables Warden gives it (a child it
        // starts may have less; a process caught between fork and exec, the init's).
        let is_cli = |env: &str| env.contains("XDG_DATA_HOME=/home/sandbox/.xdg/data");
        while !seen.environs.iter().any(|e| is_cli(e))
            && started.elapsed() < std::time::Duration::from_secs(120)
        {
            for pid in processes_with(needle) {
                if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
                    let env = String::from_utf8_lossy(&env).replace('\0', "\n");
                    if ours(&env) {
                        if is_cli(&env) {
                            seen.cli_limits.push(limits_of(pid));
                        }
                        seen.environs.push(env);
                    }
                }
            }
            if let Some(id) = seen.environs.iter().find(|e| is_cli(e)).and_then(|e| {
                e.split('\n')
                    .find_map(|kv| kv.strip_prefix("WARDEN_SANDBOX="))
            }) {
                let home = image_root().join("sandboxes").join(id).join("home");
                collect_files(&home, &mut seen.home_files);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("wait for warden");
        seen.cli_environs = seen
            .environs
            .iter()
            .filter(|e| is_cli(e))
            .cloned()
            .collect();
        (out.into(), seen)
    }
}

/// Pids of live processes whose command line holds `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// The limits process `pid` runs under, as the kernel applies them: `name=value` lines
/// for the limit files of each cgroup it is in (`memory.limit_in_bytes`,
/// `cpu.cfs_quota_us`, `memory.max`, `cpu.max`, …), then its `/proc/PID/limits`.
pub fn limits_of(pid: u32) -> String {
    const FILES: &[&str] = &[
        "memory.limit_in_bytes",
        "memory.max",
        "cpu.cfs_quota_us",
        "cpu.cfs_period_us",
        "cpu.max",
    ];
    let mut out = String::new();
    let groups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for line in groups.lines() {
        // `4:memory:/path` (v1) or `0::/path` (v2), relative to the hierarchy's mount.
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let mounts: Vec<String> = if controllers.is_empty() {
            vec!["/sys/fs/cgroup".into(), "/sys/fs/cgroup/unified".into()]
        } else {
            controllers
                .split(',')
                .map(|c| format!("/sys/fs/cgroup/{c}"))
                .collect()
        };
        for mount in mounts {
            let dir = Path::new(&mount).join(path.trim_start_matches('/'));
            for file in FILES {
                if let Ok(v) = std::fs::read_to_string(dir.join(file)) {
                    out.push_str(&format!("{file}={}\n", v.trim()));
                }
            }
        }
    }
    out.push_str(&std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default());
    out
}

/// Appends every regular file under `dir` (not `.local`, the image) to `out`.
fn collect_files(dir: &Path, out: &mut Vec<u8>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() && e.file_name() != ".local" {
            collect_files(&e.path(), out);
        } else if ft.is_file() {
            out.extend(std::fs::read(e.path()).unwrap_or_default());
        }
    }
}

/// The `report_finding` arguments for the injection in `app.py`.
pub fn report() -> Value {
    json!({
        "title": "Command injection in /run", "severity": "high", "confidence": "high",
        "cwe": "CWE-78", "file": "app.py", "start_line": SINK_LINE, "end_line": SINK_LINE,
        "description": "The p query parameter reaches os.system unescaped.",
        "attack_path": "GET /run?p=;id runs id on the server",
        "recommendation": "Run the command with subprocess.run and a list of arguments."
    })
}

/// Asserts no request the mock received carries `secret` in its body: the CLI never
/// had it (it is added by the proxy, to headers only).
pub fn assert_not_in_bodies(mock: &MockLlm, secret: &str) {
    for r in mock.requests() {
        assert!(
            !r.raw_body.contains(secret),
            "a request body from the sandbox holds the real key"
        );
    }
}

/// The generation requests, which must be at least `n`.
pub fn generations(mock: &MockLlm, n: usize) -> Vec<RecordedRequest> {
    let g = mock.generation_requests();
    assert!(
        g.len() >= n,
        "the mock saw {} generation requests, wanted {n}",
        g.len()
    );
    g
}

/// The JSON summary of a run that must have succeeded.
pub fn summary(run: &Run) -> Value {
    run.code(0);
    run.json()
}
