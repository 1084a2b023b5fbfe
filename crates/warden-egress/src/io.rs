//! Byte counting and idle tracking around sockets, and the futures that end a
//! connection when it goes idle or the policy stops allowing its host.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use crate::policy::Policy;

/// When a connection last moved a byte in either direction; shared by the client side
/// and every upstream socket it opened, so a long download keeps the client alive.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Resolves once nothing has moved for `timeout`.
    pub async fn idle(&self, timeout: Duration) {
        loop {
            let idle = self.idle_for();
            if idle >= timeout {
                return;
            }
            tokio::time::sleep(timeout - idle).await;
        }
    }
}

/// Bytes read from and written to one socket.
#[derive(Debug)]
pub(crate) struct Meter {
    pub read: AtomicU64,
    pub written: AtomicU64,
    activity: Arc<Activity>,
}

impl Meter {
    pub fn new(activity: Arc<Activity>) -> Arc<Meter> {
        Arc::new(Meter {
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            activity,
        })
    }

    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// For bytes moved outside a [`Tracked`] wrapper (the splice relay).
    pub fn add_read(&self, n: u64) {
        self.read.fetch_add(n, Ordering::Relaxed);
        self.activity.touch();
    }

    pub fn add_written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
        self.activity.touch();
    }
}

/// A socket wrapper that feeds a [`Meter`].
pub(crate) struct Tracked<S> {
    inner: S,
    meter: Arc<Meter>,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, meter: Arc<Meter>) -> Tracked<S> {
        Tracked { inner, meter }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.meter.read.fetch_add(n as u64, Ordering::Relaxed);
            self.meter.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.meter.written.fetch_add(n as u64, Ordering::Relaxed);
            self.meter.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            self.meter.written.fetch_add(n as u64, Ordering::Relaxed);
            self.meter.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Resolves when the current policy no longer allows `host`; pends forever if the
/// proxy (the sender) is gone, leaving the connection to its other exits.
pub(crate) async fn until_denied(mut rx: watch::Receiver<Arc<Policy>>, host: String) {
    loop {
        if !rx.borrow_and_update().decide_host(&host).is_allowed() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
