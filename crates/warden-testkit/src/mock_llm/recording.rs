//! What the mock saw: every request, in arrival order.

use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, `POST`, …
    pub method: String,
    /// The path without the query, e.g. `/v1/messages`.
    pub path: String,
    /// The raw query string, e.g. `beta=true`.
    pub query: Option<String>,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// The body as text (lossy UTF-8).
    pub raw_body: String,
    /// The index of the script turn this request consumed (generation
    /// endpoints only); `None` for preflights, token counts and unknown routes.
    pub turn: Option<usize>,
}

impl RecordedRequest {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the raw body contains `needle`.
    pub fn body_contains(&self, needle: &str) -> bool {
        self.raw_body.contains(needle)
    }

    /// Whether this request asked for a generation (consumed a turn).
    pub fn is_generation(&self) -> bool {
        self.turn.is_some()
    }
}

/// A shared, append-only log of requests.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl Recorder {
    pub fn push(&self, r: RecordedRequest) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    pub fn all(&self) -> Vec<RecordedRequest> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
