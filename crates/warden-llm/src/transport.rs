//! HTTP plumbing shared by the provider clients: one POST with timeout,
//! cancellation and retries; error bodies classified; SSE bodies as a stream.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use warden_creds::Secret;

use crate::error::{classify, redact_known, LlmError, Provider};
use crate::retry::{with_retries, RetryPolicy};
use crate::sse::{SseEvent, SseParser};

/// Largest error body read for classification.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub provider: Provider,
    pub timeout: Duration,
    /// A streamed answer that makes no progress for this long is given up.
    pub stall: Duration,
    pub retry: RetryPolicy,
    /// Used only to scrub the key from any error text.
    pub secret: Secret,
}

pub(crate) fn transport_error(e: &reqwest::Error) -> LlmError {
    // The URL is not secret here (keys travel in headers), but drop it anyway
    // to keep messages short.
    let mut msg = format!("{}", DisplayChain(e));
    if e.is_connect() {
        msg = format!("cannot connect: {msg}");
    }
    LlmError::Transport { message: msg }
}

struct DisplayChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut src = self.0.source();
        while let Some(s) = src {
            write!(f, ": {s}")?;
            src = s.source();
        }
        Ok(())
    }
}

impl Transport {
    pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
        reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| transport_error(&e))
    }

    fn scrub(&self, e: LlmError) -> LlmError {
        scrub_error(e, &self.secret)
    }
}

/// Removes the key from every message an error carries.
pub(crate) fn scrub_error(e: LlmError, secret: &Secret) -> LlmError {
    let s = secret.expose();
    let fix = |m: String| redact_known(m, s);
    match e {
        LlmError::Auth { status, message } => LlmError::Auth {
            status,
            message: fix(message),
        },
        LlmError::CreditsExhausted { origin, message } => LlmError::CreditsExhausted {
            origin,
            message: fix(message),
        },
        LlmError::RateLimited {
            retry_after,
            message,
        } => LlmError::RateLimited {
            retry_after,
            message: fix(message),
        },
        LlmError::Overloaded {
            retry_after,
            message,
        } => LlmError::Overloaded {
            retry_after,
            message: fix(message),
        },
        LlmError::ContextTooLong { message } => LlmError::ContextTooLong {
            message: fix(message),
        },
        LlmError::InvalidRequest { status, message } => LlmError::InvalidRequest {
            status,
            message: fix(message),
        },
        LlmError::Server { status, message } => LlmError::Server {
            status,
            message: fix(message),
        },
        LlmError::Transport { message } => LlmError::Transport {
            message: fix(message),
        },
        LlmError::MalformedResponse { message } => LlmError::MalformedResponse {
            message: fix(message),
        },
        other => other,
    }
}

/// Classifies an error event inside a stream.
pub(crate) fn stream_error(provider: Provider, secret: &Secret, data: &str) -> LlmError {
    scrub_error(classify(0, &HeaderMap::new(), data, provider), secret)
}

/// How long one exchange may wait, and what running out of time means.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// A JSON answer, which arrives only once it is complete.
    Timeout(Duration),
    /// A streamed answer, which should start at once: this long without progress is a stall.
    Stall(Duration),
}

impl Wait {
    fn after(self) -> Duration {
        match self {
            Wait::Timeout(d) | Wait::Stall(d) => d,
        }
    }

    fn expired(self) -> LlmError {
        match self {
            Wait::Timeout(after) => LlmError::Timeout { after },
            Wait::Stall(after) => LlmError::Stalled { after },
        }
    }
}

/// The SSE events of an answer and when its request was sent (the stall clock starts there).
pub(crate) type OpenedSse = (
    BoxStream<'static, Result<SseEvent, LlmError>>,
    tokio::time::Instant,
);

impl Transport {
    /// One attempt: send and wait for the response head; non-2xx becomes a classified error.
    async fn attempt(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &Value,
        cancel: &CancellationToken,
        wait: Wait,
    ) -> Result<reqwest::Response, LlmError> {
        let send = self
            .http
            .post(url)
            .headers(headers.clone())
            .json(body)
            .send();
        let resp = tokio::select! {
            _ = cancel.cancelled() => return Err(LlmError::Cancelled),
            r = tokio::time::timeout(wait.after(), send) => match r {
                Err(_) => return Err(wait.expired()),
                Ok(Err(e)) if e.is_timeout() => return Err(wait.expired()),
                Ok(Err(e)) => return Err(self.scrub(transport_error(&e))),
                Ok(Ok(resp)) => resp,
            }
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let head = resp.headers().clone();
        let bytes = self.read_body(resp, MAX_ERROR_BODY, cancel, wait).await?;
        let text = String::from_utf8_lossy(&bytes);
        let err = self.scrub(classify(status, &head, &text, self.provider));
        tracing::debug!(status, error = %err, "model API returned an error");
        Err(err)
    }

    /// Reads a body (up to `limit` bytes) under the timeout and cancellation.
    async fn read_body(
        &self,
        resp: reqwest::Response,
        limit: usize,
        cancel: &CancellationToken,
        wait: Wait,
    ) -> Result<Vec<u8>, LlmError> {
        let mut body = resp.bytes_stream();
        let mut out = Vec::new();
        let read = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| self.scrub(transport_error(&e)))?;
                let room = limit.saturating_sub(out.len());
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if out.len() >= limit {
                    break;
                }
            }
            Ok::<_, LlmError>(())
        };
        tokio::select! {
            _ = cancel.cancelled() => return Err(LlmError::Cancelled),
            r = tokio::time::timeout(wait.after(), read) => match r {
                Err(_) => return Err(wait.expired()),
                Ok(r) => r?,
            }
        }
        Ok(out)
    }

    /// POSTs and parses a JSON answer, retrying the whole exchange.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<Value, LlmError> {
        let wait = Wait::Timeout(self.timeout);
        with_retries(&self.retry, cancel, |_| async {
            let resp = self.attempt(url, headers, body, cancel, wait).await?;
            let bytes = self.read_body(resp, usize::MAX, cancel, wait).await?;
            serde_json::from_slice(&bytes).map_err(|e| LlmError::MalformedResponse {
                message: format!("response is not JSON: {e}"),
            })
        })
        .await
    }

    /// POSTs and returns the SSE events of the answer. Retries cover the
    /// request up to the response head; once events flow, errors are final.
    pub(crate) async fn post_sse(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<OpenedSse, LlmError> {
        with_retries(&self.retry, cancel, |_| {
            self.open_sse(url, headers, body, cancel)
        })
        .await
    }

    /// One attempt at [`Transport::post_sse`]. The response head must come within
    /// the stall timeout: a streaming endpoint answers at once and sends content later.
    pub(crate) async fn open_sse(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<OpenedSse, LlmError> {
        let started = tokio::time::Instant::now();
        let resp = self
            .attempt(url, headers, body, cancel, Wait::Stall(self.stall))
            .await?;
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !ctype.starts_with("text/event-stream") {
            return Err(LlmError::MalformedResponse {
                message: format!("expected an event stream, got content-type {ctype:?}"),
            });
        }
        // The stall clock of the decoder governs; this bound only backs it up.
        let idle = self.timeout.max(self.stall);
        let events = sse_stream(resp.bytes_stream().boxed(), cancel.clone(), idle);
        Ok((events, started))
    }
}

struct SseState {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    queue: VecDeque<SseEvent>,
    cancel: CancellationToken,
    idle: Duration,
    done: bool,
}

impl SseState {
    /// Ends the stream and drops the connection.
    fn fail(mut self, e: LlmError) -> Option<(Result<SseEvent, LlmError>, Self)> {
        self.done = true;
        self.queue.clear();
        self.body = stream::empty().boxed();
        Some((Err(e), self))
    }
}

/// Turns a byte stream into SSE events; `idle` bounds the wait for each chunk.
fn sse_stream(
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    cancel: CancellationToken,
    idle: Duration,
) -> BoxStream<'static, Result<SseEvent, LlmError>> {
    let state = SseState {
        body,
        parser: SseParser::new(),
        queue: VecDeque::new(),
        cancel,
        idle,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.queue.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.done {
                return None;
            }
            let next = tokio::select! {
                _ = st.cancel.cancelled() => return st.fail(LlmError::Cancelled),
                r = tokio::time::timeout(st.idle, st.body.next()) => r,
            };
            match next {
                Err(_) => {
                    let after = st.idle;
                    return st.fail(LlmError::Timeout { after });
                }
                Ok(None) => {
                    st.done = true;
                    if let Err(e) = st.parser.finish() {
                        return st.fail(LlmError::MalformedResponse {
                            message: e.to_string(),
                        });
                    }
                }
                Ok(Some(Err(e))) => {
                    let err = transport_error(&e);
                    return st.fail(err);
                }
                Ok(Some(Ok(bytes))) => match st.parser.feed(&bytes) {
                    Ok(events) => st.queue.extend(events),
                    Err(e) => {
                        return st.fail(LlmError::MalformedResponse {
                            message: e.to_string(),
                        })
                    }
                },
            }
        }
    })
    .boxed()
}
