//! Retries with exponential backoff and jitter, honouring `retry-after`.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::LlmError;

/// When and how often to retry a failed call. Only errors for which
/// [`LlmError::is_retryable`] holds are retried; credits and auth errors never are.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_delay: Duration,
    /// Upper bound on any delay, `retry-after` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The pause after failed attempt number `attempt` (1-based): the
    /// provider's `retry-after` if it gave one, else `base · 2^(attempt-1)`
    /// with the upper half jittered, both capped at `max_delay`.
    pub fn delay(&self, attempt: u32, err: &LlmError) -> Duration {
        if let Some(after) = err.retry_after() {
            return after.min(self.max_delay);
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let exp = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let half = exp / 2;
        let jitter_ms = fastrand::u64(0..=half.as_millis().min(u64::MAX as u128) as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

/// Runs `op` (given the 1-based attempt number) until it succeeds, fails with
/// a non-retryable error, runs out of attempts, or `cancel` fires.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut op: F,
) -> Result<T, LlmError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, LlmError>>,
{
    let mut attempt = 1;
    loop {
        if cancel.is_cancelled() {
            return Err(LlmError::Cancelled);
        }
        match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                let delay = policy.delay(attempt, &e);
                tracing::warn!(
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %e,
                    "model call failed, retrying"
                );
                tokio::select! {
                    _ = cancel.cancelled() => return Err(LlmError::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> LlmError {
        LlmError::Server {
            status: 500,
            message: String::new(),
        }
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let d1 = p.delay(1, &server());
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, &server());
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.delay(40, &server()) <= Duration::from_millis(1000));
        }
        let limited = LlmError::RateLimited {
            retry_after: Some(Duration::from_millis(700)),
            message: String::new(),
        };
        assert_eq!(p.delay(1, &limited), Duration::from_millis(700));
        let long = LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
            message: String::new(),
        };
        assert_eq!(p.delay(1, &long), Duration::from_millis(1000));
    }

    #[tokio::test]
    async fn retries_only_retryable_errors() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        let cancel = CancellationToken::new();
        let mut calls = 0;
        let r: Result<(), _> = with_retries(&p, &cancel, |_| {
            calls += 1;
            async { Err(server()) }
        })
        .await;
        assert!(matches!(r, Err(LlmError::Server { .. })));
        assert_eq!(calls, 3);

        let mut calls = 0;
        let r: Result<(), _> = with_retries(&p, &cancel, |_| {
            calls += 1;
            async {
                Err(LlmError::CreditsExhausted {
                    origin: crate::error::CreditSource::Anthropic,
                    message: String::new(),
                })
            }
        })
        .await;
        assert!(matches!(r, Err(LlmError::CreditsExhausted { .. })));
        assert_eq!(calls, 1);

        let r = with_retries(&p, &cancel, |n| async move {
            if n < 3 {
                Err(server())
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test]
    async fn cancel_interrupts_the_backoff_sleep() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(600),
            max_delay: Duration::from_secs(600),
        };
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c2.cancel();
        });
        let r: Result<(), _> = with_retries(&p, &cancel, |_| async { Err(server()) }).await;
        assert_eq!(r, Err(LlmError::Cancelled));
    }
}
