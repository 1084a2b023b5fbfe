//! Helpers for the worker tests: a tree scanned into a fresh PostgreSQL database,
//! worker processes with their output in files (so a chatty worker never blocks on a
//! pipe), and mock LLM scripts that answer each investigation with one turn.

#![allow(dead_code)] // each test binary uses a different subset

use crate::common::{run, warden, Run, Tree, PROJECT};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use warden_store::{Store, StoreLocation};
use warden_testkit::mock_llm::{MockLlm, Script, Turn, Usage};

/// How long a worker may take before the test gives up on it.
const WORKER_TIMEOUT: Duration = Duration::from_secs(180);

/// A project scanned into its own PostgreSQL database.
pub struct Shared {
    pub tree: Tree,
    pub url: String,
}

/// A candidate file: a shell call on a value only an agent can judge (unique per `i`).
pub fn candidate(i: usize) -> String {
    format!("import os\n\ndef run_{i}(cmd_{i}):\n    os.system(cmd_{i})\n")
}

impl Shared {
    /// `n` candidate files `f0.py`…, scanned with `--store <fresh database>`.
    pub fn scanned(n: usize) -> Shared {
        Shared::scanned_with(n, &[])
    }

    pub fn scanned_with(n: usize, scan_args: &[&str]) -> Shared {
        let shared = Shared::unscanned(n);
        shared.scan(scan_args);
        shared
    }

    /// Like [`Shared::scanned`], with the tree a git repository committed before the scan.
    pub fn in_git(n: usize) -> Shared {
        let shared = Shared::unscanned(n);
        let root = &shared.tree.root;
        git(root, &["init", "-q"]);
        git(root, &["add", "."]);
        git(root, &["commit", "-qm", "scanned"]);
        shared.scan(&[]);
        shared
    }

    fn unscanned(n: usize) -> Shared {
        let tree = Tree::new();
        for i in 0..n {
            tree.write(&format!("f{i}.py"), candidate(i));
        }
        Shared {
            tree,
            url: warden_testkit::pg::database_url(),
        }
    }

    fn scan(&self, args: &[&str]) {
        let out = run(warden()
            .args(["scan", "--json", "--store", &self.url])
            .arg(&self.tree.root)
            .args(args));
        let doc = out.ok().json();
        let candidates = doc["candidates"].as_array().map_or(0, Vec::len);
        let files = std::fs::read_dir(&self.tree.root)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "py"))
            })
            .count();
        assert_eq!(candidates, files, "every file is a candidate: {doc:#}");
    }

    /// The shared store, through the store API.
    pub fn store(&self) -> Store {
        let location: StoreLocation = self.url.parse().expect("url");
        Store::connect(&location).expect("connect to the test database")
    }

    /// `warden ARGS` against the shared store, finished.
    pub fn warden(&self, args: &[&str]) -> Run {
        run(warden()
            .env("WARDEN_STORE", &self.url)
            .current_dir(self.tree.tmp.path())
            .args(args))
    }

    /// `warden worker --project-id proj ARGS` against the store and the mock, started
    /// in a cleared environment with a throwaway HOME.
    pub fn spawn_worker(&self, mock: &MockLlm, args: &[&str]) -> Worker {
        self.spawn_worker_with(
            Command::new(env!("CARGO_BIN_EXE_warden")),
            &self.url,
            mock.url(),
            args,
        )
    }

    /// As [`Shared::spawn_worker`], through `cmd` (e.g. `ip netns exec NS warden`) with
    /// the given store and model URLs.
    pub fn spawn_worker_with(
        &self,
        mut cmd: Command,
        store: &str,
        model: &str,
        args: &[&str],
    ) -> Worker {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = self.tree.tmp.path().join(format!("worker-{n}"));
        std::fs::create_dir_all(dir.join("home")).expect("worker dir");
        let stdout = dir.join("stdout");
        let stderr = dir.join("stderr");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.join("home"))
            .env("ANTHROPIC_API_KEY", "test")
            .env("ANTHROPIC_BASE_URL", model)
            .env("WARDEN_STORE", store)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .args(["worker", "--project-id", PROJECT])
            .args(args);
        let child = cmd.spawn().expect("start a worker");
        Worker {
            child,
            stdout,
            stderr,
        }
    }
}

/// A running worker process.
pub struct Worker {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Worker {
    /// Waits for it to exit (killing it after [`WORKER_TIMEOUT`]) and returns what it printed.
    pub fn finish(mut self) -> Run {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > WORKER_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "worker still running after {WORKER_TIMEOUT:?}; stderr:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Run {
            code: status.code().expect("the worker exited by itself"),
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
            raw_stdout: Vec::new(),
            raw_stderr: Vec::new(),
        }
    }

    /// SIGKILL, as a machine that dies would: no cleanup of any kind.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

/// `n` investigations, each answered by one final turn (after `delay`), then the same
/// answer for any request beyond them.
pub fn answers(n: usize, delay: Duration) -> Script {
    Script::new((0..n).map(|_| answer().with_delay(delay)).collect())
        .with_final_text("Nothing exploitable here.")
}

/// The first request hangs (its worker will be killed); `n` more are answered.
pub fn hung_first_then_answers(n: usize) -> Script {
    let mut turns = vec![answer().with_delay(Duration::from_secs(600))];
    turns.extend((0..n).map(|_| answer()));
    Script::new(turns).with_final_text("Nothing exploitable here.")
}

fn answer() -> Turn {
    Turn::text("Nothing exploitable here.").with_usage(Usage::new(2_000, 300))
}

/// Polls `cond` until it holds, failing after a minute.
pub fn wait_for(cond: impl Fn() -> bool, what: &str) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `git -C dir ARGS` with a fixed identity, which must succeed.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies a directory tree (regular files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// "Another machine": a network namespace joined to this one by a veth pair, which
/// reaches this host only at `host_ip` (the namespace has its own loopback). Removed,
/// with its veth pair, when dropped. Needs root (`ip netns`).
pub struct OtherMachine {
    pub name: String,
    pub host_ip: std::net::Ipv4Addr,
}

impl OtherMachine {
    pub fn new() -> OtherMachine {
        assert!(
            is_root(),
            "the network-namespace test needs root (CI runs as root): run it as root"
        );
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let name = format!("wdn{tag}");
        let (outer, inner) = (format!("wva{tag}"), format!("wvb{tag}"));
        // A /30 per namespace in 10.213.0.0/16, from the pid, so parallel runs differ.
        let subnet = ((std::process::id() % 200) as u8).wrapping_add(n.wrapping_mul(7)) % 250;
        let host_ip = std::net::Ipv4Addr::new(10, 213, subnet, 1);
        let guest_ip = std::net::Ipv4Addr::new(10, 213, subnet, 2);
        let machine = OtherMachine {
            name: name.clone(),
            host_ip,
        };
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ]);
        ip(&["link", "set", &inner, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &outer]);
        ip(&["link", "set", &outer, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{guest_ip}/30"),
            "dev",
            &inner,
        ]);
        ip(&["-n", &name, "link", "set", &inner, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        machine
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }
}

impl Drop for OtherMachine {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the veth pair, and so the pair.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Forwards TCP connections made to `listen` (port 0: any) to `target`, on threads
/// that live as long as the test process.
pub fn relay(listen: std::net::Ipv4Addr, target: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind((listen, 0)).expect("bind the relay");
    let addr = listener.local_addr().expect("relay address");
    std::thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            let Ok(outbound) = std::net::TcpStream::connect(target) else {
                continue;
            };
            pipe(&inbound, &outbound);
            pipe(&outbound, &inbound);
        }
    });
    addr
}

fn pipe(from: &std::net::TcpStream, to: &std::net::TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
