//! How many generation requests are in flight at once, and the gate that holds
//! replies until enough are ([`Script::hold_until_in_flight`](super::Script::hold_until_in_flight)):
//! a test of "N at once" that a client running fewer cannot pass by luck.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The default wait of a held reply.
const HOLD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(super) struct Gate {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    reached: Notify,
}

/// One generation request in flight; dropping it ends it.
pub(super) struct InFlight<'a>(&'a Gate);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    /// Counts a generation request in; `hold` (with its timeout) waits until that many
    /// have been in flight at once. Held requests are released together.
    pub(super) async fn enter(&self, hold: Option<usize>, timeout: Option<u64>) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(self);
        if let Some(n) = hold {
            let wait = timeout.map_or(HOLD_TIMEOUT, Duration::from_millis);
            let reached = async {
                loop {
                    // Registered before the check, so a release between them is not missed.
                    let notified = self.reached.notified();
                    if self.peak.load(Ordering::SeqCst) >= n {
                        self.reached.notify_waiters();
                        return;
                    }
                    notified.await;
                }
            };
            let _ = tokio::time::timeout(wait, reached).await;
        }
        guard
    }

    /// The most generation requests that were in flight at once.
    pub(super) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}
