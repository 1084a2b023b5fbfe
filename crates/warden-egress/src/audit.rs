//! The audit log: one JSON line per connection or request. Records carry names,
//! numbers and decisions only; there is no field a header value could end up in.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::EgressError;

/// What the line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditKind {
    /// A CONNECT tunnel (opaque or intercepted); one line for the whole tunnel.
    Connect,
    /// One absolute-form HTTP request.
    Http,
    /// One request through a front door.
    FrontDoor,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub time: String,
    pub kind: AuditKind,
    pub host: String,
    pub port: u16,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// A token: `allowed`, `intercepted`, a deny reason, or what failed after an allow
    /// (`upstream-error`, `bad-gateway`).
    pub reason: &'static str,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub injected: bool,
    pub duration_ms: u64,
}

/// Builds a record as a connection goes along, written once at its end.
#[derive(Debug)]
pub(crate) struct Entry {
    started: Instant,
    started_at: OffsetDateTime,
    pub kind: AuditKind,
    pub host: String,
    pub port: u16,
}

impl Entry {
    pub fn start(kind: AuditKind, host: &str, port: u16) -> Entry {
        Entry {
            started: Instant::now(),
            started_at: OffsetDateTime::now_utc(),
            kind,
            host: host.to_string(),
            port,
        }
    }

    pub fn finish(
        &self,
        allowed: bool,
        reason: &'static str,
        up: u64,
        down: u64,
        injected: bool,
    ) -> AuditRecord {
        AuditRecord {
            time: self.started_at.format(&Rfc3339).unwrap_or_default(),
            kind: self.kind,
            host: self.host.clone(),
            port: self.port,
            decision: if allowed { "allow" } else { "deny" },
            reason,
            bytes_up: up,
            bytes_down: down,
            injected,
            duration_ms: self.started.elapsed().as_millis() as u64,
        }
    }
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub(crate) struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<AuditLog, EgressError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| EgressError::AuditLog {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(AuditLog {
            file: Mutex::new(file),
        })
    }

    /// Writes one line. A line is one `write` on an O_APPEND file, so concurrent
    /// connections never interleave; a failed write is logged, never fatal.
    pub fn write(&self, record: &AuditRecord) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let written = match self.file.lock() {
            Ok(mut f) => f.write_all(&line),
            Err(_) => return,
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot append to the egress audit log");
        }
    }
}
