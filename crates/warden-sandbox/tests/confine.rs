//! Real processes under a real confinement: seccomp, Landlock and no_new_privs.
//!
//! Each test spawns `python3` (or `/bin/sh`) with `Confinement::apply_in_child` in
//! `pre_exec`, has it try things and print what happened, and checks the result. Where a
//! "denied" result could also come from missing privileges, the same probe is run
//! unconfined as a control, so a test only passes when the confinement made the difference.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use warden_sandbox::confine::{denied_syscalls, ConfineSpec, Confinement, LandlockStatus};

const PYTHON: &str = "/usr/bin/python3";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// What every child needs to start python or sh: read + execute on the system.
fn system_paths() -> Vec<PathBuf> {
    ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc", "/dev"]
        .iter()
        .map(PathBuf::from)
        .collect()
}

fn prepare(read_only: &[&Path], read_write: &[&Path]) -> Arc<Confinement> {
    let mut ro = system_paths();
    ro.extend(read_only.iter().map(|p| p.to_path_buf()));
    let spec = ConfineSpec {
        read_only: ro,
        read_write: read_write.iter().map(|p| p.to_path_buf()).collect(),
    };
    Arc::new(Confinement::prepare(&spec).expect("Confinement::prepare"))
}

/// Run `argv` confined (or not, for controls), optionally as nobody via setpriv.
fn run(confinement: Option<&Arc<Confinement>>, as_nobody: bool, argv: &[&str]) -> Output {
    let mut full: Vec<&str> = Vec::new();
    if as_nobody {
        full.extend([
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    full.extend_from_slice(argv);
    let mut cmd = Command::new(full[0]);
    cmd.args(&full[1..])
        .stdin(Stdio::null())
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(c) = confinement {
        let c = c.clone();
        // SAFETY: apply_in_child only makes raw syscalls on data prepared in the parent.
        unsafe { cmd.pre_exec(move || c.apply_in_child()) };
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("spawning {full:?}: {e}"))
}

fn python(confinement: Option<&Arc<Confinement>>, as_nobody: bool, code: &str) -> Output {
    run(confinement, as_nobody, &[PYTHON, "-c", code])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn describe(o: &Output) -> String {
    format!(
        "status {:?} (signal {:?})\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        o.status.signal(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Parse `name=errno` lines printed by a probe.
fn results(o: &Output) -> BTreeMap<String, i32> {
    assert!(o.status.success(), "probe failed: {}", describe(o));
    stdout(o)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Python prelude: `sc(nr, *args)` → errno (0 on success), and `tryit(name, fn)`.
const PRELUDE: &str = r#"
import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return ctypes.get_errno() if r == -1 else 0
def report(name, e):
    print(f"{name}={e}", flush=True)
def tryit(name, fn):
    try:
        fn()
        report(name, 0)
    except OSError as e:
        report(name, e.errno)
def sock(family, type_, proto=0):
    def f():
        s = socket.socket(family, type_, proto)
        s.close()
    return f
"#;

/// The seccomp probe: prints `name=errno` for each attempted call.
fn seccomp_probe(confined: bool) -> String {
    let mut s = String::from(PRELUDE);
    s.push_str(&format!(
        r#"
AF_VSOCK = 40
tryit("socket_unix_stream", sock(socket.AF_UNIX, socket.SOCK_STREAM))
tryit("socket_unix_dgram", sock(socket.AF_UNIX, socket.SOCK_DGRAM))
tryit("socket_packet", sock(socket.AF_PACKET, socket.SOCK_RAW, 0))
tryit("socket_vsock", sock(AF_VSOCK, socket.SOCK_STREAM))
tryit("socket_inet_raw", sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
tryit("socket_inet6_raw", sock(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
tryit("socket_inet_raw_cloexec", sock(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.IPPROTO_ICMP))
tryit("socket_netlink_audit", sock(socket.AF_NETLINK, socket.SOCK_RAW, 9))
tryit("socket_inet_stream", sock(socket.AF_INET, socket.SOCK_STREAM))
tryit("socket_inet_nonblock", sock(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK))
tryit("socket_inet_dgram", sock(socket.AF_INET, socket.SOCK_DGRAM))
tryit("socket_netlink_route", sock(socket.AF_NETLINK, socket.SOCK_RAW, 0))
tryit("socketpair_unix", lambda: [x.close() for x in socket.socketpair()])
report("process_vm_readv", sc({process_vm_readv}, os.getpid(), 0, 0, 0, 0, 0))
report("io_uring_setup", sc({io_uring_setup}, 1, 0))
report("mount", sc({mount}, 0, 0, 0, 0, 0))
report("umount2", sc({umount2}, 0, 0))
report("bpf", sc({bpf}, 0, 0, 0))
report("keyctl", sc({keyctl}, 0, -3, 0))
report("add_key", sc({add_key}, 0, 0, 0, 0, 0))
report("setns", sc({setns}, -1, 0))
report("pidfd_getfd", sc({pidfd_getfd}, -1, 0, 0))
report("userfaultfd", sc({userfaultfd}, 0))
report("clone3", sc({clone3}, 0, 0))
report("ioctl_tiocsti", sc({ioctl}, 0, {tiocsti}, 0))
report("ioctl_tioclinux", sc({ioctl}, 0, {tioclinux}, 0))
report("ioctl_fionread", sc({ioctl}, 0, {fionread}, 0))
report("unshare_user", sc({unshare}, 0x10000000))
"#,
        unshare = libc::SYS_unshare,
        process_vm_readv = libc::SYS_process_vm_readv,
        io_uring_setup = libc::SYS_io_uring_setup,
        mount = libc::SYS_mount,
        umount2 = libc::SYS_umount2,
        bpf = libc::SYS_bpf,
        keyctl = libc::SYS_keyctl,
        add_key = libc::SYS_add_key,
        setns = libc::SYS_setns,
        pidfd_getfd = libc::SYS_pidfd_getfd,
        userfaultfd = libc::SYS_userfaultfd,
        clone3 = libc::SYS_clone3,
        ioctl = libc::SYS_ioctl,
        tiocsti = libc::TIOCSTI,
        tioclinux = libc::TIOCLINUX,
        fionread = libc::FIONREAD,
    ));
    // clone with CLONE_NEWUSER: a child that did start must leave at once.
    s.push_str(&format!(
        r#"
def clone_ns(flag):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long({clone}), ctypes.c_long(flag | 17), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
        return 0
    return ctypes.get_errno()
report("clone_newuser", clone_ns(0x10000000))
report("clone_newnet", clone_ns(0x40000000))
"#,
        clone = libc::SYS_clone,
    ));
    if cfg!(target_arch = "x86_64") {
        s.push_str("report(\"x32_getpid\", sc(0x40000000 + 39))\n");
    }
    // ptrace only confined: unconfined, attaching to the test runner would really attach.
    if confined {
        s.push_str(&format!(
            "report(\"ptrace_traceme\", sc({ptrace}, 0, 0, 0, 0))\nreport(\"ptrace_attach_parent\", sc({ptrace}, 16, os.getppid(), 0, 0))\n",
            ptrace = libc::SYS_ptrace
        ));
    }
    s
}

/// Calls that must fail with exactly this errno under the confinement.
const EXPECT_DENIED: &[(&str, i32)] = &[
    ("socket_unix_stream", libc::EPERM),
    ("socket_unix_dgram", libc::EPERM),
    ("socket_packet", libc::EPERM),
    ("socket_vsock", libc::EPERM),
    ("socket_inet_raw", libc::EPERM),
    ("socket_inet6_raw", libc::EPERM),
    ("socket_inet_raw_cloexec", libc::EPERM),
    ("socket_netlink_audit", libc::EPERM),
    ("process_vm_readv", libc::EPERM),
    ("io_uring_setup", libc::EPERM),
    ("mount", libc::EPERM),
    ("umount2", libc::EPERM),
    ("bpf", libc::EPERM),
    ("keyctl", libc::EPERM),
    ("add_key", libc::EPERM),
    ("setns", libc::EPERM),
    ("pidfd_getfd", libc::EPERM),
    ("userfaultfd", libc::EPERM),
    ("clone3", libc::ENOSYS),
    ("ioctl_tiocsti", libc::EPERM),
    ("ioctl_tioclinux", libc::EPERM),
    ("unshare_user", libc::EPERM),
    ("clone_newuser", libc::EPERM),
    ("clone_newnet", libc::EPERM),
];

/// Calls the confinement must leave alone.
const EXPECT_ALLOWED: &[&str] = &[
    "socket_inet_stream",
    "socket_inet_nonblock",
    "socket_inet_dgram",
    "socket_netlink_route",
    "socketpair_unix",
];

fn check_seccomp(as_nobody: bool) {
    let c = prepare(&[], &[]);
    let confined = results(&python(Some(&c), as_nobody, &seccomp_probe(true)));
    let control = results(&python(None, as_nobody, &seccomp_probe(false)));
    let who = if as_nobody {
        "as nobody"
    } else {
        "as the current user"
    };

    let mut distinguished = 0;
    for &(name, want) in EXPECT_DENIED {
        let got = confined.get(name).copied();
        assert_eq!(
            got,
            Some(want),
            "{name} {who}: confined result {got:?}, want errno {want} ({}); unconfined it gave {:?}",
            std::io::Error::from_raw_os_error(want),
            control.get(name)
        );
        if control.get(name) != Some(&want) {
            distinguished += 1;
        }
    }
    // Unconfined, most of these do not fail with the same errno (they succeed, or fail on
    // the bad arguments): the confinement is what changed them.
    assert!(
        distinguished * 2 > EXPECT_DENIED.len(),
        "only {distinguished} of {} denials differ from the unconfined run {who}: {control:?}",
        EXPECT_DENIED.len()
    );
    for &name in EXPECT_ALLOWED {
        assert_eq!(
            confined.get(name),
            Some(&0),
            "{name} must work {who} under the confinement; all results: {confined:?}"
        );
    }
    assert_ne!(
        confined.get("ioctl_fionread"),
        Some(&libc::EPERM),
        "an ordinary ioctl must not be denied {who}"
    );
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            confined.get("x32_getpid"),
            Some(&libc::EPERM),
            "x32 syscalls must be refused by the filter {who} (the kernel alone gives ENOSYS when x32 is off); unconfined: {:?}",
            control.get("x32_getpid")
        );
    }
    for name in ["ptrace_traceme", "ptrace_attach_parent"] {
        assert_eq!(
            confined.get(name),
            Some(&libc::EPERM),
            "{name} {who}: {confined:?}"
        );
    }
}

#[test]
fn seccomp_denies_escapes_and_allows_ordinary_sockets() {
    check_seccomp(false);
}

#[test]
fn seccomp_denies_escapes_as_unprivileged_user() {
    if !is_root() {
        // Already unprivileged: the other test covers it.
        eprintln!("note: not root, the main seccomp test already ran unprivileged");
        return;
    }
    check_seccomp(true);
}

#[test]
fn status_shows_no_new_privs_and_seccomp_filter() {
    let c = prepare(&[], &[]);
    let o = run(Some(&c), false, &["/bin/cat", "/proc/self/status"]);
    assert!(o.status.success(), "{}", describe(&o));
    let status = stdout(&o);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status:\n{status}"))
    };
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("Seccomp:"), "2", "2 = filter mode");
    let filters: usize = field("Seccomp_filters:").parse().expect("Seccomp_filters");
    assert_eq!(filters, c.report().seccomp.programs);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn ia32_syscalls_kill_the_process() {
    // getpid through `int 0x80`, the ia32 entry point (with socketcall behind it).
    let code = r#"
import ctypes, mmap
code = bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3])  # mov eax, 20; int 0x80; ret
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
print("pid", f(), flush=True)
"#;
    let control = python(None, false, code);
    if !control.status.success() {
        eprintln!(
            "note: ia32 syscalls do not work here even unconfined, skipping: {}",
            describe(&control)
        );
        return;
    }
    let c = prepare(&[], &[]);
    let o = python(Some(&c), false, code);
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGSYS),
        "an ia32 syscall must kill the process (SECCOMP_RET_KILL_PROCESS): {}",
        describe(&o)
    );
}

struct Tree {
    _dir: tempfile::TempDir,
    ro: PathBuf,
    rw: PathBuf,
    secret: PathBuf,
}

/// base/{ro/file.txt, rw/, secret/key}, all world-accessible so nobody can try them too.
fn tree() -> Tree {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path();
    let ro = base.join("ro");
    let rw = base.join("rw");
    let secret = base.join("secret");
    for d in [&ro, &rw, &secret] {
        std::fs::create_dir(d).expect("mkdir");
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for f in [ro.join("file.txt"), secret.join("key")] {
        std::fs::write(&f, "content\n").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    }
    Tree {
        _dir: dir,
        ro,
        rw,
        secret,
    }
}

fn landlock_probe(t: &Tree) -> String {
    format!(
        r#"{PRELUDE}
ro, rw, secret = {ro:?}, {rw:?}, {secret:?}
tryit("read_secret", lambda: open(secret + "/key").read())
tryit("list_secret", lambda: os.listdir(secret))
tryit("read_ro", lambda: open(ro + "/file.txt").read())
tryit("write_ro", lambda: open(ro + "/file.txt", "a").write("x"))
tryit("create_in_ro", lambda: open(ro + "/new", "w").write("x"))
def write_rw():
    with open(rw + "/new.txt", "w") as f:
        f.write("written inside\n")
tryit("write_rw", write_rw)
tryit("mkdir_rw", lambda: os.mkdir(rw + "/sub"))
tryit("truncate_rw", lambda: os.truncate(rw + "/new.txt", 3))
tryit("mkfifo_rw", lambda: os.mkfifo(rw + "/fifo"))
tryit("mknod_char_rw", lambda: os.mknod(rw + "/null", 0o666 | 0o020000, os.makedev(1, 3)))
tryit("hardlink_ro_into_rw", lambda: os.link(ro + "/file.txt", rw + "/link"))
tryit("rename_rw_to_ro", lambda: os.rename(rw + "/new.txt", ro + "/moved.txt"))
tryit("signal_parent", lambda: os.kill(os.getppid(), 0))
"#,
        ro = t.ro.to_string_lossy(),
        rw = t.rw.to_string_lossy(),
        secret = t.secret.to_string_lossy(),
    )
}

fn check_landlock(as_nobody: bool) {
    let probe_abi = warden_sandbox::confine::landlock_abi();
    let t = tree();
    let c = prepare(&[&t.ro], &[&t.rw]);
    let report = c.report();
    if report.landlock.status == LandlockStatus::NotEnforced {
        eprintln!("note: Landlock is not available on this kernel (ABI {probe_abi}); skipping");
        return;
    }
    let who = if as_nobody {
        "as nobody"
    } else {
        "as the current user"
    };
    let r = results(&python(Some(&c), as_nobody, &landlock_probe(&t)));
    let expect = |name: &str, want: &[i32]| {
        let got = r.get(name).copied();
        assert!(
            got.is_some_and(|g| want.contains(&g)),
            "{name} {who}: got {got:?}, want one of {want:?}; all: {r:?}"
        );
    };
    expect("read_secret", &[libc::EACCES]);
    expect("list_secret", &[libc::EACCES]);
    expect("read_ro", &[0]);
    expect("write_ro", &[libc::EACCES]);
    expect("create_in_ro", &[libc::EACCES]);
    expect("write_rw", &[0]);
    expect("mkdir_rw", &[0]);
    expect("mkfifo_rw", &[0]);
    // Landlock's check comes before the capability check, hence EACCES even for root.
    expect("mknod_char_rw", &[libc::EACCES]);
    // Linking a read-only file into a writable dir would make it writable: EXDEV (refer).
    expect("hardlink_ro_into_rw", &[libc::EXDEV, libc::EACCES]);
    expect("rename_rw_to_ro", &[libc::EXDEV, libc::EACCES]);
    if report.landlock.scoped {
        expect("signal_parent", &[libc::EPERM]);
    }
    if report.landlock.kernel_abi >= 3 {
        expect("truncate_rw", &[0]);
    }
    assert_eq!(
        std::fs::read_to_string(t.rw.join("new.txt")).expect("new.txt written by the child"),
        "wri",
        "written then truncated to 3 bytes"
    );
    assert!(!t.rw.join("link").exists(), "the hardlink must not exist");
    assert_eq!(
        std::fs::read_to_string(t.ro.join("file.txt")).expect("ro file"),
        "content\n",
        "the read-only file must be unchanged"
    );

    // Control: unconfined, the same probe reads the secret, so the denial above is Landlock's.
    let t2 = tree();
    let control = results(&python(None, as_nobody, &landlock_probe(&t2)));
    assert_eq!(control.get("read_secret"), Some(&0), "control: {control:?}");
    assert_eq!(control.get("write_ro"), Some(&0), "control: {control:?}");
    if !as_nobody && is_root() {
        assert_eq!(
            control.get("signal_parent"),
            Some(&0),
            "control: {control:?}"
        );
        assert_eq!(
            control.get("hardlink_ro_into_rw"),
            Some(&0),
            "control: {control:?}"
        );
    }
}

#[test]
fn landlock_limits_the_filesystem() {
    check_landlock(false);
}

#[test]
fn landlock_limits_the_filesystem_as_unprivileged_user() {
    if !is_root() {
        eprintln!("note: not root, the main Landlock test already ran unprivileged");
        return;
    }
    check_landlock(true);
}

#[test]
fn landlock_report_on_this_kernel() {
    let t = tree();
    let c = prepare(&[&t.ro], &[&t.rw]);
    let r = c.report();
    let abi = warden_sandbox::confine::landlock_abi();
    assert_eq!(r.landlock.kernel_abi, abi);
    let want = match abi {
        0 => LandlockStatus::NotEnforced,
        1..=5 => LandlockStatus::Partial,
        _ => LandlockStatus::Full,
    };
    assert_eq!(r.landlock.status, want, "{r:?}");
    assert_eq!(r.landlock.scoped, abi >= 6);
    assert!(r.landlock.read_only.contains(&t.ro));
    assert_eq!(r.landlock.read_write, vec![t.rw.clone()]);
    let json = serde_json::to_value(&r).expect("report serializes");
    assert_eq!(json["seccomp"]["denied_syscalls"], denied_syscalls().len());
}

#[test]
fn children_of_the_confined_command_inherit_everything() {
    let t = tree();
    let c = prepare(&[&t.ro], &[&t.rw]);
    let inner = format!(
        "{PRELUDE}\ntryit('socket_unix', sock(socket.AF_UNIX, socket.SOCK_STREAM))\ntryit('read_secret', lambda: open({:?}).read())\nst = open('/proc/self/status').read()\nprint('nnp=' + [l.split()[1] for l in st.splitlines() if l.startswith('NoNewPrivs:')][0])\nprint('seccomp=' + [l.split()[1] for l in st.splitlines() if l.startswith('Seccomp:')][0])\n",
        t.secret.join("key").to_string_lossy()
    );
    // sh forks and execs python: the confinement must survive both.
    let script = format!("{PYTHON} -c \"$1\"; echo sh_done=0");
    let o = run(Some(&c), false, &["/bin/sh", "-c", &script, "sh", &inner]);
    let r = results(&o);
    assert_eq!(r.get("socket_unix"), Some(&libc::EPERM), "{}", describe(&o));
    if c.report().landlock.status != LandlockStatus::NotEnforced {
        assert_eq!(
            r.get("read_secret"),
            Some(&libc::EACCES),
            "{}",
            describe(&o)
        );
    }
    assert_eq!(r.get("nnp"), Some(&1), "{}", describe(&o));
    assert_eq!(r.get("seccomp"), Some(&2), "{}", describe(&o));
    assert_eq!(r.get("sh_done"), Some(&0), "{}", describe(&o));
}

#[test]
fn device_files_need_a_read_write_rule() {
    let c = prepare(&[], &[]);
    if c.report().landlock.status == LandlockStatus::NotEnforced {
        eprintln!("note: Landlock is not available on this kernel; skipping");
        return;
    }
    let script = ["/bin/sh", "-c", "echo hi > /dev/null"];
    let o = run(Some(&c), false, &script);
    assert!(
        !o.status.success(),
        "with /dev read-only, writing /dev/null must fail: {}",
        describe(&o)
    );
    let c = prepare(&[], &[Path::new("/dev/null")]);
    let o = run(Some(&c), false, &script);
    assert!(
        o.status.success(),
        "with /dev/null read-write, writing it must work: {}",
        describe(&o)
    );
}

#[test]
fn apply_in_child_can_be_reused_for_many_children() {
    let c = prepare(&[], &[]);
    for _ in 0..3 {
        let o = run(Some(&c), false, &["/bin/true"]);
        assert!(o.status.success(), "{}", describe(&o));
    }
}
