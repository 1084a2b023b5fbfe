//! Zero-copy tunnel relay with splice(2): socket → pipe → socket inside the kernel.
//! A userspace copy doubles the memory traffic of a download on loopback (measured
//! ~0.45 of direct throughput); splicing keeps the tunnel close to direct speed.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;

use crate::io::Meter;
use crate::socket::Socket;

/// Bytes moved per splice call; the pipe is enlarged to match when the kernel allows.
const CHUNK: usize = 1024 * 1024;

/// Relays both directions until both ends finished (each EOF passed on as a half-close)
/// or either side fails. `upstream` is the destination socket; its counters are fed.
pub(crate) async fn relay(client: &Socket, upstream: &Socket, meter: &Meter) -> io::Result<()> {
    let up = one_way(client, upstream, |n| meter.add_written(n));
    let down = one_way(upstream, client, |n| meter.add_read(n));
    tokio::try_join!(up, down).map(drop)
}

async fn one_way(src: &Socket, dst: &Socket, count: impl Fn(u64)) -> io::Result<()> {
    let pipe = Pipe::new()?;
    loop {
        src.ready_for(Interest::READABLE).await?;
        let n = match src.try_io(Interest::READABLE, || pipe.fill_from(src.fd())) {
            Ok(0) => {
                shutdown_write(dst.fd());
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        // Drain the pipe completely before reading more, so a 0 from the next fill
        // always means EOF and never "pipe full".
        let mut pending = n;
        while pending > 0 {
            dst.ready_for(Interest::WRITABLE).await?;
            match dst.try_io(Interest::WRITABLE, || pipe.drain_to(dst.fd(), pending)) {
                Ok(m) => {
                    pending -= m;
                    count(m as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // Best effort: a larger pipe means fewer syscalls; the default (64 KiB) still works.
        // SAFETY: fcntl on a descriptor we own, with an integer argument.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
        Ok(Pipe { read, write })
    }

    fn fill_from(&self, socket: RawFd) -> io::Result<usize> {
        splice(socket, self.write.as_raw_fd(), CHUNK)
    }

    fn drain_to(&self, socket: RawFd, len: usize) -> io::Result<usize> {
        splice(self.read.as_raw_fd(), socket, len)
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: plain descriptors and null offsets (both ends are streams); the kernel
    // reads and writes no user memory.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn shutdown_write(fd: RawFd) {
    // SAFETY: shutdown on a descriptor owned by a live socket; errors (already closed
    // by the peer) are irrelevant here.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}
