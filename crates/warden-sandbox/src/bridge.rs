//! Byte bridges between the sandbox's loopback and unix sockets shared with the host.
//!
//! The sandbox's network namespace has only `lo`. Outbound, the init listens on
//! 127.0.0.1:<port> and carries each connection to a unix socket the host's egress
//! proxy listens on (`sock/proxy.sock`). Inbound (published ports), it listens on
//! `sock/port-<P>.sock` and carries each connection to 127.0.0.1:<P>. Nothing else
//! crosses the namespace boundary.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// Carries every connection accepted on `127.0.0.1:port` to the unix socket `target`.
pub fn loopback_to_unix(port: u16, target: PathBuf) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    spawn_named(format!("bridge-{port}"), move || {
        for conn in listener.incoming().flatten() {
            let target = target.clone();
            spawn_named("bridge-conn".into(), move || {
                if let Ok(up) = UnixStream::connect(&target) {
                    let _ = conn.set_nodelay(true);
                    pump(conn, up);
                }
            });
        }
    });
    Ok(())
}

/// Carries every connection accepted on the unix socket `path` to `127.0.0.1:port`.
pub fn unix_to_loopback(path: PathBuf, port: u16) -> std::io::Result<()> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    spawn_named(format!("publish-{port}"), move || {
        for conn in listener.incoming().flatten() {
            spawn_named("publish-conn".into(), move || {
                if let Ok(down) = TcpStream::connect(("127.0.0.1", port)) {
                    let _ = down.set_nodelay(true);
                    pump(down, conn);
                }
            });
        }
    });
    Ok(())
}

/// Copies both ways until both sides are done, passing half-closes along.
fn pump(tcp: TcpStream, unix: UnixStream) {
    let (Ok(tcp2), Ok(unix2)) = (tcp.try_clone(), unix.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        copy(&tcp, &unix);
        let _ = unix.shutdown(Shutdown::Write);
    });
    copy(&unix2, &tcp2);
    let _ = tcp2.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn copy(mut from: impl Read, mut to: impl Write) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn spawn_named(name: String, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new()
        .name(name)
        .stack_size(256 * 1024)
        .spawn(f)
    {
        eprintln!("warden init: cannot start a bridge thread: {e}");
    }
}
