//! The machinery of the bad-input table: a case is a command line, a fixture, an
//! expected exit code, phrases its stderr must contain, and post-conditions. Every case
//! also gets the checks that hold for any bad input: no panic, no hang, at most one
//! error line, and (unless it says otherwise) not one byte of its fixture changed.

use super::common::{self, warden, PROJECT};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a case starts from; each case gets its own copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixture {
    /// A project (`proj`: a vulnerable and a safe Python file) never scanned.
    Tree,
    /// The same project, scanned: `proj/.warden/warden.db` holds its candidates.
    Scanned,
    /// Scanned, with two findings (high and low) in the store.
    Findings,
}

/// The directories of one case: `{tmp}` holds `{root}` (the project, `proj`) and
/// `{home}` (an empty HOME; the sandbox state lives under it).
pub struct Ctx {
    pub tmp: tempfile::TempDir,
}

impl Ctx {
    pub fn root(&self) -> PathBuf {
        self.tmp.path().join(PROJECT)
    }
    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }
    pub fn data(&self) -> PathBuf {
        self.root().join(".warden")
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    /// Expands `{tmp}`, `{root}`, `{home}` and `{data}` in an argument, byte for byte.
    fn expand(&self, arg: &[u8]) -> OsString {
        let mut out = arg.to_vec();
        for (key, value) in [
            ("{root}", self.root()),
            ("{home}", self.home()),
            ("{data}", self.data()),
            ("{tmp}", self.tmp.path().to_path_buf()),
        ] {
            out = replace(&out, key.as_bytes(), value.as_os_str().as_bytes());
        }
        OsString::from_vec(out)
    }
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

type Prep = Box<dyn Fn(&Ctx)>;
type Check = Box<dyn Fn(&Ctx, &common::Run) -> Result<(), String>>;

/// One row of the table.
pub struct Case {
    pub name: String,
    fixture: Fixture,
    args: Vec<Vec<u8>>,
    env: Vec<(String, Vec<u8>)>,
    prep: Vec<Prep>,
    code: i32,
    phrases: Vec<String>,
    stdout_phrases: Vec<String>,
    checks: Vec<(String, Check)>,
    may_change: bool,
    timeout: Duration,
    stdout_dev_full: bool,
    unprivileged: bool,
}

/// `warden <args>` from a fresh copy of `fixture`; `{root}` etc. are expanded.
pub fn case(name: &str, fixture: Fixture, args: &[&str]) -> Case {
    Case {
        name: name.to_string(),
        fixture,
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        env: Vec::new(),
        prep: Vec::new(),
        code: 2,
        phrases: Vec::new(),
        stdout_phrases: Vec::new(),
        checks: Vec::new(),
        may_change: false,
        timeout: Duration::from_secs(60),
        stdout_dev_full: false,
        unprivileged: false,
    }
}

impl Case {
    /// The exit code it must end with (default 2).
    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
    /// A phrase stderr must contain (case-insensitive).
    pub fn says(mut self, phrase: &str) -> Self {
        self.phrases.push(phrase.to_lowercase());
        self
    }
    /// A phrase stdout must contain.
    pub fn prints(mut self, phrase: &str) -> Self {
        self.stdout_phrases.push(phrase.to_string());
        self
    }
    /// One more argument, as raw bytes (for non-UTF-8 values).
    pub fn arg_bytes(mut self, arg: &[u8]) -> Self {
        self.args.push(arg.to_vec());
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.as_bytes().to_vec()));
        self
    }
    /// Runs before the command, after the fixture is in place.
    pub fn prep(mut self, f: impl Fn(&Ctx) + 'static) -> Self {
        self.prep.push(Box::new(f));
        self
    }
    /// A post-condition, named for the failure report.
    pub fn check(
        mut self,
        what: &str,
        f: impl Fn(&Ctx, &common::Run) -> Result<(), String> + 'static,
    ) -> Self {
        self.checks.push((what.to_string(), Box::new(f)));
        self
    }
    /// The command may write (a store, a report): skip the unchanged-fixture check.
    pub fn changes(mut self) -> Self {
        self.may_change = true;
        self
    }
    /// Runs as a user that file permissions stop: this one, or `nobody` when the tests
    /// run as root (then the case's directories are opened up for it to use).
    pub fn unprivileged(mut self) -> Self {
        self.unprivileged = true;
        self
    }
    /// Standard output is `/dev/full`: every write to it fails with ENOSPC.
    pub fn stdout_to_dev_full(mut self) -> Self {
        self.stdout_dev_full = true;
        self
    }
    pub fn timeout(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }

    /// Runs the case; `Err` says everything that was wrong with it.
    pub fn run(&self) -> Result<(), String> {
        let ctx = materialise(self.fixture);
        for prep in &self.prep {
            prep(&ctx);
        }
        let before = (!self.may_change).then(|| snapshot(ctx.tmp.path()));
        let args: Vec<OsString> = self.args.iter().map(|a| ctx.expand(a)).collect();
        let mut cmd = isolated(&ctx);
        cmd.args(&args);
        for (k, v) in &self.env {
            cmd.env(k, ctx.expand(v));
        }
        // SAFETY: geteuid has no preconditions.
        if self.unprivileged && unsafe { libc::geteuid() } == 0 {
            open_up(&ctx);
            use std::os::unix::process::CommandExt;
            cmd.uid(65534).gid(65534);
        }
        if self.stdout_dev_full {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .map_err(|e| format!("/dev/full: {e}"))?;
            cmd.stdout(full);
        }
        let run = run_with_timeout(&mut cmd, self.timeout);
        // A case that wrongly created a sandbox must not leave it running.
        destroy_sandboxes(&ctx);
        let run = run.map_err(|why| format!("{}\n    args: {args:?}\n    {why}", self.name))?;
        let mut problems = Vec::new();
        if run.code != self.code {
            problems.push(format!("exit code {} (wanted {})", run.code, self.code));
        }
        let stderr = run.stderr.to_lowercase();
        for phrase in &self.phrases {
            if !stderr.contains(phrase) {
                problems.push(format!("stderr lacks `{phrase}`"));
            }
        }
        for phrase in &self.stdout_phrases {
            if !run.stdout.contains(phrase) {
                problems.push(format!("stdout lacks `{phrase}`"));
            }
        }
        if stderr.contains("panicked") || stderr.contains("rust_backtrace") || run.code == 101 {
            problems.push("panicked".to_string());
        }
        let error_lines = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("warden: error:"))
            .count();
        if error_lines > 1 {
            problems.push(format!("{error_lines} error lines (wanted one)"));
        }
        // Exit 1 is an answer (`--fail-on`), not an error; clap's own errors and the
        // help it prints for a missing subcommand have their own shape.
        let clap_said = run.stderr.starts_with("error: ") || run.stderr.contains("Usage:");
        if run.code > 1 && error_lines == 0 && !clap_said {
            problems.push("no error line for a failure".to_string());
        }
        if let Some(before) = before {
            let after = snapshot(ctx.tmp.path());
            if let Some(diff) = first_difference(&before, &after) {
                problems.push(format!("changed the fixture: {diff}"));
            }
        }
        for (what, check) in &self.checks {
            if let Err(why) = check(&ctx, &run) {
                problems.push(format!("{what}: {why}"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}\n    args: {:?}\n    {}\n    --- stderr\n{}",
            self.name,
            args,
            problems.join("\n    "),
            indent(&run.stderr)
        ))
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .take(12)
        .map(|l| format!("      {l}\n"))
        .collect()
}

/// `warden` in a cleared environment: a throwaway HOME, no credentials, the project
/// root as working directory.
fn isolated(ctx: &Ctx) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", ctx.home())
        .current_dir(ctx.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd`, killing it (and failing the case) if it outlives `timeout`: a hang is
/// one of the ways bad input goes wrong.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<common::Run, String> {
    let child = cmd.spawn().map_err(|e| format!("spawn warden: {e}"))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) => {
            if out.status.code().is_none() {
                return Err(format!("killed by a signal: {:?}", out.status));
            }
            Ok(out.into())
        }
        Ok(Err(e)) => Err(format!("waiting for warden: {e}")),
        Err(_) => {
            // SAFETY: kill(2) on a pid we spawned and have not reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            Err(format!("still running after {timeout:?}: a hang"))
        }
    }
}

/// Lets `nobody` reach the case's directories and write its store, without making
/// readable what the case made unreadable (mode 0 or no read bit stays so).
fn open_up(ctx: &Ctx) {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &Path, mode: u32| {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    };
    set(ctx.tmp.path(), 0o755);
    set(&ctx.home(), 0o777);
    if let Ok(entries) = std::fs::read_dir(ctx.data()) {
        set(&ctx.data(), 0o777);
        for entry in entries.flatten() {
            set(&entry.path(), 0o666);
        }
    }
}

/// Destroys every sandbox the case's HOME holds (there should be none).
fn destroy_sandboxes(ctx: &Ctx) {
    let dir = ctx.home().join(".local/state/warden/sandboxes");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let _ = isolated(ctx)
            .args(["sandbox", "destroy"])
            .arg(entry.file_name())
            .output();
    }
}

/// A fresh copy of the fixture (built once per test process, then copied).
fn materialise(fixture: Fixture) -> Ctx {
    static TEMPLATES: OnceLock<BTreeMap<&'static str, tempfile::TempDir>> = OnceLock::new();
    let templates = TEMPLATES.get_or_init(build_templates);
    let key = match fixture {
        Fixture::Tree => "tree",
        Fixture::Scanned => "scanned",
        Fixture::Findings => "findings",
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_tree(templates[key].path(), tmp.path());
    Ctx { tmp }
}

fn build_templates() -> BTreeMap<&'static str, tempfile::TempDir> {
    let mut out = BTreeMap::new();
    for key in ["tree", "scanned", "findings"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join(PROJECT);
        std::fs::create_dir_all(&root).expect("root");
        std::fs::create_dir_all(tmp.path().join("home")).expect("home");
        std::fs::write(root.join("app.py"), common::VULN_PY).expect("app.py");
        std::fs::write(root.join("util.py"), common::SAFE_PY).expect("util.py");
        if key != "tree" {
            let out = warden()
                .arg("scan")
                .arg(&root)
                .arg("-q")
                .output()
                .expect("scan");
            assert!(out.status.success(), "fixture scan: {out:?}");
        }
        if key == "findings" {
            let findings = [
                common::finding("app.py", "Command injection", warden_store::Severity::High),
                common::finding("util.py", "Weak check", warden_store::Severity::Low),
            ];
            common::store_with_findings(&root.join(".warden"), &root, &findings);
        }
        out.insert(key, tmp);
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read template") {
        let entry = entry.expect("entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry.file_type().expect("file type");
        if ft.is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
            copy_tree(&src, &dst);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&src).expect("readlink");
            std::os::unix::fs::symlink(target, &dst).expect("symlink");
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Every entry under `dir` (not following links): its kind and, for files, content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            out.insert(d.clone(), ("unreadable dir".to_string(), Vec::new()));
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            let Ok(ft) = entry.file_type() else { continue };
            let value = if ft.is_dir() {
                stack.push(path.clone());
                ("dir".to_string(), Vec::new())
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                ("symlink".to_string(), target.into_os_string().into_vec())
            } else if ft.is_file() {
                let content = std::fs::read(&path).unwrap_or_default();
                ("file".to_string(), content)
            } else {
                ("special".to_string(), Vec::new())
            };
            out.insert(rel, value);
        }
    }
    out
}

fn first_difference(
    before: &BTreeMap<PathBuf, (String, Vec<u8>)>,
    after: &BTreeMap<PathBuf, (String, Vec<u8>)>,
) -> Option<String> {
    for (path, was) in before {
        match after.get(path) {
            None => return Some(format!("{} was removed", path.display())),
            Some(now) if now.0 != was.0 => {
                return Some(format!("{} became a {}", path.display(), now.0))
            }
            Some(now) if now.1 != was.1 => return Some(format!("{} was modified", path.display())),
            Some(_) => {}
        }
    }
    after
        .keys()
        .find(|p| !before.contains_key(*p))
        .map(|p| format!("{} was created", p.display()))
}

/// Runs every case, reporting every failure at once.
pub fn run_all(cases: Vec<Case>) {
    let started = Instant::now();
    let total = cases.len();
    let failures: Vec<String> = cases.iter().filter_map(|c| c.run().err()).collect();
    eprintln!(
        "{} bad-input cases, {} failed, in {:.1} s",
        total,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Checks that a path (with placeholders expanded) does not exist after the run.
pub fn absent(rel: &'static str) -> impl Fn(&Ctx, &common::Run) -> Result<(), String> {
    move |ctx, _| {
        let path = ctx.path(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => Err(format!("{} exists", path.display())),
            Err(_) => Ok(()),
        }
    }
}

/// Checks that a file holds exactly `content` after the run.
pub fn holds(
    rel: &'static str,
    content: &'static str,
) -> impl Fn(&Ctx, &common::Run) -> Result<(), String> {
    move |ctx, _| {
        let path = ctx.path(rel);
        match std::fs::read(&path) {
            Ok(c) if c == content.as_bytes() => Ok(()),
            Ok(c) => Err(format!(
                "{} holds {:?}",
                path.display(),
                String::from_utf8_lossy(&c[..c.len().min(80)])
            )),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}
