//! A throwaway PostgreSQL cluster for tests: started once per test process, one fresh
//! database per caller.
//!
//! The server binaries come from `/usr/lib/postgresql/*/bin` (newest first) or
//! `pg_config --bindir`; without them [`database_url`] panics saying to install the
//! `postgresql` package, so a test never passes by skipping. The cluster lives under
//! `$TMPDIR/warden-testkit-pg/<pid>`, listens on 127.0.0.1 only (a free port), runs with
//! `fsync=off`, offers TLS with a self-signed certificate (made with `openssl`), and dies with the test process (`PR_SET_PDEATHSIG`); the directories of
//! earlier processes that are gone are removed when the next one starts. As root, the
//! server runs as the `postgres` OS user (initdb refuses root).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Enough connections for tests and the lease benchmark running many handles at once.
const MAX_CONNECTIONS: u32 = 300;

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The superuser the cluster is initialised with (trust authentication on loopback).
const SUPERUSER: &str = "postgres";

struct Cluster {
    bin: PathBuf,
    port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// The URL (`postgres://postgres@127.0.0.1:PORT/NAME`) of a new, empty database on the
/// test process's cluster, starting the cluster on first use.
///
/// Panics with the reason when PostgreSQL cannot be started or the database created.
pub fn database_url() -> String {
    let cluster = match CLUSTER.get_or_init(start_on_keeper_thread) {
        Ok(cluster) => cluster,
        Err(e) => panic!("{e}"),
    };
    let name = format!("warden_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let out = Command::new(cluster.bin.join("createdb"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            SUPERUSER,
            &name,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
    assert!(
        out.status.success(),
        "createdb {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster.url(&name)
}

/// Runs `sql` with `psql` on the database at `url` (of the test cluster) and returns
/// what it printed (unaligned, tuples only), panicking with psql's message if it fails:
/// for tests that must look at or bend a database behind the API's back.
pub fn psql(url: &str, sql: &str) -> String {
    let bin = match CLUSTER.get_or_init(start_on_keeper_thread) {
        Ok(cluster) => cluster.bin.join("psql"),
        Err(e) => panic!("{e}"),
    };
    let out = Command::new(bin)
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The port of the test process's cluster (starting it if needed), e.g. to build URLs
/// with other users or options.
pub fn port() -> u16 {
    match CLUSTER.get_or_init(start_on_keeper_thread) {
        Ok(cluster) => cluster.port,
        Err(e) => panic!("{e}"),
    }
}

impl Cluster {
    fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }
}

/// Starts the cluster from a thread that lives as long as the process: the parent-death
/// signal fires when the *thread* that spawned the server ends, and test threads end early.
fn start_on_keeper_thread() -> Result<Cluster, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("warden-testkit-pg".to_string())
        .spawn(move || {
            let _ = tx.send(start());
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("cannot start the PostgreSQL keeper thread: {e}"))?;
    rx.recv()
        .map_err(|_| "the PostgreSQL keeper thread died".to_string())?
}

/// The directory holding `initdb` and `postgres`.
fn bin_dir() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    // Newest major version first (numerically: 16 before 9).
    dirs.sort_by_key(|d| {
        std::cmp::Reverse(
            d.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    if let Some(dir) = dirs.into_iter().next() {
        return Ok(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    Err(
        "PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin \
         or `pg_config --bindir`: install the `postgresql` package (apt-get install postgresql) \
         to run the PostgreSQL store tests"
            .to_string(),
    )
}

/// The uid and gid of the `postgres` OS user, when running as root.
fn server_user() -> Result<Option<(libc::uid_t, libc::gid_t)>, String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: a valid C string; the result is read at once, before any other getpw* call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(
            "running as root, and there is no `postgres` OS user to run the \
                    PostgreSQL test server as (install the `postgresql` package)"
                .to_string(),
        );
    }
    // SAFETY: pw is non-null and points to getpwnam's static record.
    Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }))
}

/// A command that runs as `user` (if any) and is killed when the spawning thread ends.
fn server_command(program: PathBuf, user: Option<(libc::uid_t, libc::gid_t)>) -> Command {
    let mut cmd = Command::new(program);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((uid, gid)) = user {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // After the credential change, which clears the parent-death signal.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Removes the cluster directories of test processes that no longer exist.
fn remove_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// A self-signed certificate and key for the server (it offers TLS, so clients'
/// `sslmode=require` can be tested), made with the `openssl` command.
fn server_certificate(
    dir: &Path,
    user: Option<(libc::uid_t, libc::gid_t)>,
) -> Result<(PathBuf, PathBuf), String> {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .map_err(|e| {
            format!("cannot run openssl to make the test server's TLS certificate ({e}): install the `openssl` package")
        })?;
    if !out.status.success() {
        return Err(format!(
            "openssl could not make a certificate: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // The server refuses a key others can read, and must own it when run as postgres.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", key.display()))?;
    if let Some((uid, gid)) = user {
        for f in [&cert, &key] {
            std::os::unix::fs::chown(f, Some(uid), Some(gid))
                .map_err(|e| format!("cannot chown {}: {e}", f.display()))?;
        }
    }
    Ok((cert, key))
}

fn start() -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let user = server_user()?;
    let root = std::env::temp_dir().join("warden-testkit-pg");
    remove_stale(&root);
    let dir = root.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Shared like /tmp (sticky, writable by all): root's runs and a user's both fit.
    let _ = std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o1777));
    if let Some((uid, gid)) = user {
        // The server user owns its cluster directory.
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("cannot chown {}: {e}", dir.display()))?;
    }

    let out = server_command(bin.join("initdb"), user)
        .current_dir(&dir)
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ])
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }

    let (cert, key) = server_certificate(&dir, user)?;
    let port = free_port()?;
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let err_log = log
        .try_clone()
        .map_err(|e| format!("cannot open the server log: {e}"))?;
    let mut server = server_command(bin.join("postgres"), user)
        .current_dir(&dir)
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "ssl=on"])
        // What a store serving many workers should run with (see the README): a claim
        // queue leaves dead index entries that only a vacuum removes, and the default
        // looks for tables to vacuum once a minute.
        .args(["-c", "autovacuum_naptime=2s"])
        .arg("-c")
        .arg(format!("ssl_cert_file={}", cert.display()))
        .arg("-c")
        .arg(format!("ssl_key_file={}", key.display()))
        .arg("-c")
        .arg(format!("max_connections={MAX_CONNECTIONS}"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = server.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!(
                "postgres exited ({status}) at start: {}",
                log.trim()
            ));
        }
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            let _ = server.kill();
            return Err(format!(
                "postgres did not accept connections within {START_TIMEOUT:?}; see {}",
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The child handle is dropped without waiting: the server lives until this process ends.
    drop(server);
    Ok(Cluster { bin, port })
}
