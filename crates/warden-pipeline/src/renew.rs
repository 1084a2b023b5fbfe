//! Keeps the leases of a claimed batch alive while its investigation runs, so an
//! investigation longer than the lease is not taken over by another process.

use crate::settle::lock;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warden_store::Store;

pub(crate) struct Renewal {
    pub store: Arc<Mutex<Store>>,
    pub project: String,
    pub paths: Vec<String>,
    pub holder: String,
    pub lease: Duration,
}

impl Renewal {
    /// Runs `investigation`, renewing every lease of the batch (in one transaction)
    /// every third of the lease until it ends.
    pub async fn keep_while<F: std::future::Future>(self, investigation: F) -> F::Output {
        tokio::pin!(investigation);
        let period = (self.lease / 3).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                out = &mut investigation => return out,
                _ = tick.tick() => self.renew(),
            }
        }
    }

    fn renew(&self) {
        let paths: Vec<&str> = self.paths.iter().map(String::as_str).collect();
        let renewed =
            lock(&self.store).renew_leases(&self.project, &paths, &self.holder, self.lease);
        match renewed {
            Ok(lost) => {
                for path in lost {
                    tracing::warn!(
                        "could not renew the lease on {path}: another process holds it now"
                    );
                }
            }
            Err(e) => tracing::warn!(
                "could not renew the lease on {}: {e}",
                self.paths.join(", ")
            ),
        }
    }
}
