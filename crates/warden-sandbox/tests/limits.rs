//! Resource limits on real processes: cgroups as root, rlimits otherwise.
//!
//! Groups get unique names (`test-<pid>-<n>`) and a guard kills and removes them even when
//! an assertion fails: CI runs as root, and leftovers would pile up in /sys/fs/cgroup.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use warden_sandbox::limits::{
    format_size, parse_cpus, parse_size, Cgroup, Enforced, Enforcement, Limits, LimitsError,
    LimitsReport,
};

const PYTHON: &str = "/usr/bin/python3";
/// Set in the copy of this test binary that runs as nobody.
const INNER_ENV: &str = "WARDEN_LIMITS_TEST_UNPRIVILEGED";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Kills and removes the group on drop, and kills the child, whatever the test did.
struct Guard {
    cgroup: Option<Cgroup>,
    paths: Vec<PathBuf>,
    child: Option<Child>,
}

impl Guard {
    fn new(cgroup: Cgroup) -> Guard {
        let paths = cgroup.paths().iter().map(|p| p.to_path_buf()).collect();
        Guard {
            cgroup: Some(cgroup),
            paths,
            child: None,
        }
    }
    fn cg(&self) -> &Cgroup {
        self.cgroup.as_ref().expect("cgroup still held")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
    }
}

fn spawn_attached(cg: &Cgroup, argv: &[&str], drop_to_nobody: bool) -> Child {
    let attach = cg.prepare_attach().expect("prepare_attach");
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: only raw syscalls (setgroups/setresgid/setresuid, then attach_in_child's
    // pwrite and setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if drop_to_nobody {
                // Raw syscalls: after fork there is one thread, and libc's wrappers would
                // try to synchronise threads that no longer exist.
                if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
                    || libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) != 0
                    || libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            attach.attach_in_child()
        })
    };
    cmd.spawn()
        .unwrap_or_else(|e| panic!("spawning {argv:?}: {e}"))
}

fn is_cgroup(e: &Enforcement) -> bool {
    matches!(e, Enforcement::CgroupV1 | Enforcement::CgroupV2)
}

fn read_trim(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Forks sleeping children until fork fails, prints `forked=<n> errno=<e>`, then waits for
/// a line on stdin (so the test can look at the group while they all live).
const FORK_UNTIL_REFUSED: &str = r#"
import os, sys, time
n, err = 0, 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    n += 1
print(f"forked={n} errno={err}", flush=True)
sys.stdin.readline()
"#;

#[test]
fn cgroup_limits_pids_and_memory_of_attached_processes() {
    if !is_root() {
        eprintln!(
            "note: not root, cgroups are not writable; the rlimit fallback test covers this user"
        );
        return;
    }
    let limits = Limits {
        cpus: Some(0.5),
        memory_bytes: Some(64 << 20),
        pids: Some(16),
    };
    let (cg, report) = Cgroup::create(&unique_name(), &limits).expect("create");
    let mut g = Guard::new(cg);
    eprintln!("report: {report}; directories: {:?}", g.paths);
    let pids = report.pids.as_ref().expect("pids reported");
    if !is_cgroup(&pids.enforcement) {
        eprintln!("note: no writable pids cgroup on this machine ({report}); skipping");
        return;
    }
    let memory = report.memory.as_ref().expect("memory reported");
    assert!(
        is_cgroup(&memory.enforcement),
        "root with pids cgroup but memory not: {report}"
    );

    let pids_dir = g
        .cg()
        .controller_dir("pids")
        .expect("pids dir")
        .to_path_buf();
    assert_eq!(read_trim(pids_dir.join("pids.max")), "16");
    let mem_dir = g
        .cg()
        .controller_dir("memory")
        .expect("memory dir")
        .to_path_buf();
    let mem_file = match memory.enforcement {
        Enforcement::CgroupV2 => "memory.max",
        _ => "memory.limit_in_bytes",
    };
    assert_eq!(read_trim(mem_dir.join(mem_file)), (64u64 << 20).to_string());
    if let Some(cpus) = &report.cpus {
        match (&cpus.enforcement, g.cg().controller_dir("cpu")) {
            (Enforcement::CgroupV1, Some(d)) => {
                assert_eq!(read_trim(d.join("cpu.cfs_quota_us")), "50000");
                assert_eq!(read_trim(d.join("cpu.cfs_period_us")), "100000");
            }
            (Enforcement::CgroupV2, Some(d)) => {
                assert_eq!(read_trim(d.join("cpu.max")), "50000 100000")
            }
            (e, _) => eprintln!("note: cpus enforced by {e}"),
        }
    }

    let child = spawn_attached(g.cg(), &[PYTHON, "-c", FORK_UNTIL_REFUSED], false);
    let child_pid = child.id() as i32;
    g.child = Some(child);
    let mut line = String::new();
    {
        let out = g
            .child
            .as_mut()
            .and_then(|c| c.stdout.as_mut())
            .expect("stdout");
        BufReader::new(out)
            .read_line(&mut line)
            .expect("reading the probe");
    }
    let line = line.trim().to_string();
    let (forked, errno) = line
        .strip_prefix("forked=")
        .and_then(|r| r.split_once(" errno="))
        .and_then(|(n, e)| Some((n.parse::<u32>().ok()?, e.parse::<i32>().ok()?)))
        .unwrap_or_else(|| panic!("unexpected probe output {line:?}"));
    assert_eq!(
        errno,
        libc::EAGAIN,
        "fork must fail with EAGAIN once pids.max is reached ({line})"
    );
    // 16 = the python parent + 15 children.
    assert!(
        forked <= 15,
        "pids.max=16 but {forked} children were forked"
    );
    assert!(
        forked >= 10,
        "only {forked} children forked before {errno}: a limit lower than asked?"
    );

    let in_group = g.cg().pids();
    assert!(
        in_group.contains(&child_pid),
        "attached child {child_pid} not in the group: {in_group:?}"
    );
    assert_eq!(in_group.len(), forked as usize + 1, "{in_group:?}");
    assert_eq!(
        read_trim(pids_dir.join("pids.current")),
        (forked + 1).to_string()
    );

    g.cg().kill_all().expect("kill_all");
    let mut child = g.child.take().expect("child");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    let left = g.cg().pids();
    assert!(left.is_empty(), "processes left after kill_all: {left:?}");

    let paths = g.paths.clone();
    assert!(!paths.is_empty());
    g.cgroup.take().expect("cgroup").remove().expect("remove");
    for p in &paths {
        assert!(!p.exists(), "{} still exists after remove", p.display());
    }
}

/// Allocates and touches 256 MiB (bytearray zero-fills every page), then says "allocated".
const ALLOCATE_256M: &str = r#"
try:
    b = bytearray(256 << 20)
    print("allocated", flush=True)
except MemoryError:
    print("memoryerror", flush=True)
"#;

#[test]
fn cgroup_memory_limit_stops_a_large_allocation() {
    if !is_root() {
        eprintln!("note: not root, cgroups are not writable");
        return;
    }
    let limits = Limits {
        memory_bytes: Some(64 << 20),
        ..Limits::default()
    };
    let (cg, report) = Cgroup::create(&unique_name(), &limits).expect("create");
    let mut g = Guard::new(cg);
    if !report
        .memory
        .as_ref()
        .is_some_and(|m| is_cgroup(&m.enforcement))
    {
        eprintln!("note: no writable memory cgroup ({report}); skipping");
        return;
    }
    let child = spawn_attached(g.cg(), &[PYTHON, "-c", ALLOCATE_256M], false);
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("allocated"),
        "256 MiB were allocated under a 64 MiB cgroup limit ({report}): {out:?}"
    );
    // The cgroup's OOM killer answers with SIGKILL (MemoryError if malloc saw it first).
    assert!(
        out.status.signal() == Some(libc::SIGKILL) || stdout.contains("memoryerror"),
        "expected an OOM kill: {out:?}"
    );
    // Control: the same allocation without the group works, so the limit made the difference.
    let control = Command::new(PYTHON)
        .args(["-c", ALLOCATE_256M])
        .output()
        .expect("control");
    assert!(
        String::from_utf8_lossy(&control.stdout).contains("allocated"),
        "control run could not allocate 256 MiB: {control:?}"
    );
    g.child = None;
}

#[test]
fn attach_works_after_dropping_to_an_unprivileged_uid() {
    if !is_root() {
        eprintln!("note: not root, cannot drop to another uid");
        return;
    }
    let limits = Limits {
        pids: Some(32),
        ..Limits::default()
    };
    let (cg, report) = Cgroup::create(&unique_name(), &limits).expect("create");
    let mut g = Guard::new(cg);
    if !report
        .pids
        .as_ref()
        .is_some_and(|p| is_cgroup(&p.enforcement))
    {
        eprintln!("note: no writable pids cgroup ({report}); skipping");
        return;
    }
    let child = spawn_attached(g.cg(), &["/usr/bin/sleep", "60"], true);
    let pid = child.id() as i32;
    g.child = Some(child);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("65534")),
        "child did not drop to nobody:\n{status}"
    );
    assert_eq!(
        g.cg().pids(),
        vec![pid],
        "the unprivileged child must be in the group"
    );
    g.cg().kill_all().expect("kill_all");
    let status = g.child.take().expect("child").wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn open_finds_an_existing_group_and_names_are_unique() {
    let name = unique_name();
    let (cg, _report) = Cgroup::create(
        &name,
        &Limits {
            pids: Some(100),
            ..Limits::default()
        },
    )
    .expect("create");
    let g = Guard::new(cg);
    if g.paths.is_empty() {
        assert!(
            Cgroup::open(&name).is_none(),
            "no directories, nothing to open"
        );
        return;
    }
    let opened = Cgroup::open(&name).expect("open an existing group");
    let mut a = opened.paths();
    let mut b = g.cg().paths();
    a.sort();
    b.sort();
    assert_eq!(a, b, "open must find every directory create made");
    assert!(matches!(
        Cgroup::create(&name, &Limits::default()),
        Err(LimitsError::Exists(_))
    ));
    assert!(Cgroup::open(&unique_name()).is_none());
}

#[test]
fn invalid_names_and_limits_are_refused() {
    for bad in ["", "..", "a/b", "x y"] {
        assert!(
            matches!(
                Cgroup::create(bad, &Limits::default()),
                Err(LimitsError::InvalidName(_))
            ),
            "{bad:?}"
        );
        assert!(Cgroup::open(bad).is_none());
    }
    let name = unique_name();
    assert!(matches!(
        Cgroup::create(
            &name,
            &Limits {
                pids: Some(0),
                ..Limits::default()
            }
        ),
        Err(LimitsError::Zero("pids"))
    ));
    assert!(matches!(
        Cgroup::create(
            &name,
            &Limits {
                cpus: Some(f64::NAN),
                ..Limits::default()
            }
        ),
        Err(LimitsError::InvalidCpus(_))
    ));
    assert!(
        Cgroup::open(&name).is_none(),
        "a refused create must leave nothing behind"
    );
}

/// Runs as nobody (re-executed through setpriv when the tests run as root).
#[test]
fn unprivileged_falls_back_to_rlimits() {
    if is_root() {
        if std::env::var_os(INNER_ENV).is_some() {
            panic!("setpriv did not drop root");
        }
        let exe = std::env::current_exe().expect("current_exe");
        let out = Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args([
                "--exact",
                "unprivileged_falls_back_to_rlimits",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(INNER_ENV, "1")
            .current_dir("/")
            .output()
            .expect("running the test binary as nobody");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "the unprivileged run failed:\n{text}");
        assert!(
            text.contains("1 passed"),
            "the inner test did not run:\n{text}"
        );
        return;
    }

    let limits = Limits {
        cpus: Some(0.5),
        memory_bytes: Some(256 << 20),
        pids: Some(64),
    };
    let (cg, report) = Cgroup::create(&unique_name(), &limits).expect("create");
    let mut g = Guard::new(cg);
    eprintln!("unprivileged report: {report}");
    let pids = report.pids.clone().expect("pids");
    let memory = report.memory.clone().expect("memory");
    let cpus = report.cpus.clone().expect("cpus");
    if is_cgroup(&pids.enforcement) {
        // A delegated cgroup (e.g. a systemd user slice) is writable: nothing to fall back.
        eprintln!("note: this user can write a pids cgroup; rlimit fallback not exercised");
        return;
    }
    assert_eq!(pids.enforcement, Enforcement::Rlimit, "{report}");
    assert!(pids
        .note
        .as_deref()
        .is_some_and(|n| n.contains("per") || n.contains("uid")));
    if !is_cgroup(&memory.enforcement) {
        assert_eq!(memory.enforcement, Enforcement::Rlimit, "{report}");
    }
    if !is_cgroup(&cpus.enforcement) {
        assert!(
            matches!(cpus.enforcement, Enforcement::NotEnforced(_)),
            "{report}"
        );
    }

    let child = spawn_attached(g.cg(), &["/usr/bin/sleep", "60"], false);
    let pid = child.id();
    g.child = Some(child);
    let limits_text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let row = |name: &str| -> Vec<String> {
        limits_text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/limits:\n{limits_text}"))
            [name.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(&row("Max processes")[..2], ["64", "64"], "{limits_text}");
    if memory.enforcement == Enforcement::Rlimit {
        let bytes = (256u64 << 20).to_string();
        assert_eq!(
            &row("Max address space")[..2],
            [bytes.clone(), bytes],
            "{limits_text}"
        );
    }
    if let Some(stdin) = g.child.as_mut().and_then(|c| c.stdin.as_mut()) {
        let _ = stdin.write_all(b"\n");
    }
    if memory.enforcement == Enforcement::Rlimit {
        // RLIMIT_AS=256 MiB: a 256 MiB buffer on top of the interpreter cannot fit.
        let child = spawn_attached(g.cg(), &[PYTHON, "-c", ALLOCATE_256M], false);
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "memoryerror",
            "RLIMIT_AS must refuse the allocation: {out:?}"
        );
    }
}

#[test]
fn parse_size_table() {
    let ok: &[(&str, u64)] = &[
        ("1", 1),
        ("1048576", 1 << 20),
        ("512b", 512),
        ("64k", 64 << 10),
        ("64KB", 64 << 10),
        ("512M", 512 << 20),
        ("512MiB", 512 << 20),
        ("1G", 1 << 30),
        ("1g", 1 << 30),
        ("1.5GiB", 3 << 29),
        ("1.5G", 3 << 29),
        ("0.5M", 512 << 10),
        (" 2T ", 2 << 40),
        ("16384P".trim_end_matches('P'), 16384),
    ];
    for &(s, want) in ok {
        assert_eq!(parse_size(s).ok(), Some(want), "{s:?}");
    }
    let bad = [
        "",
        "M",
        "-1",
        "1.2.3",
        ".5G",
        "5.G",
        "1X",
        "1 GB B",
        "abc",
        "0",
        "0.0001b",
        "99999999999T",
        "1e3",
    ];
    for s in bad {
        assert!(
            parse_size(s).is_err(),
            "{s:?} should be refused, got {:?}",
            parse_size(s)
        );
    }
}

#[test]
fn parse_cpus_table() {
    for (s, want) in [("0.5", 0.5), ("2", 2.0), (" 1.25 ", 1.25), ("0.01", 0.01)] {
        assert_eq!(parse_cpus(s).ok(), Some(want), "{s:?}");
    }
    for s in ["", "0", "-1", "0.001", "NaN", "inf", "two"] {
        assert!(parse_cpus(s).is_err(), "{s:?}");
    }
}

#[test]
fn report_display_and_serde() {
    let report = LimitsReport {
        pids: Some(Enforced {
            value: 256,
            enforcement: Enforcement::CgroupV1,
            note: None,
        }),
        memory: Some(Enforced {
            value: 1 << 30,
            enforcement: Enforcement::CgroupV1,
            note: None,
        }),
        cpus: None,
    };
    assert_eq!(
        report.to_string(),
        "pids=256 (cgroup v1), memory=1 GiB (cgroup v1), cpus=not set"
    );
    let json = serde_json::to_string(&report).expect("serialize");
    let back: LimitsReport = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, report);
    let not = Enforcement::NotEnforced("no cpu controller".into());
    assert_eq!(not.to_string(), "not enforced: no cpu controller");
    assert_eq!(format_size(3 << 29), "1.5 GiB");
    assert_eq!(format_size(1000), "1000 B");
    let limits = Limits {
        cpus: Some(0.5),
        memory_bytes: Some(1 << 20),
        pids: None,
    };
    let back: Limits =
        serde_json::from_str(&serde_json::to_string(&limits).expect("ser")).expect("de");
    assert_eq!(back, limits);
}

#[test]
fn a_probe_reports_what_a_group_would_get_and_leaves_nothing_behind() {
    let limits = Limits {
        cpus: Some(0.5),
        memory_bytes: Some(256 << 20),
        pids: None,
    };
    let probed = Cgroup::probe(&limits).expect("probe");
    let (guard, created) = Cgroup::create(&unique_name(), &limits)
        .map(|(cg, r)| (Guard::new(cg), r))
        .expect("create");
    assert_eq!(probed, created, "the probe gets what a sandbox gets");
    let memory = probed.memory.clone().expect("memory reported");
    assert_eq!(memory.value, 256 << 20);
    if is_root() {
        assert!(is_cgroup(&memory.enforcement), "{probed}");
    }
    // The probe's own group is gone.
    for dir in guard.cg().paths() {
        let parent = dir.parent().expect("the warden directory");
        let probes = std::fs::read_dir(parent)
            .expect("list")
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("probe-{}-", std::process::id()))
            })
            .count();
        assert_eq!(probes, 0, "a probe group was left in {}", parent.display());
    }
}
