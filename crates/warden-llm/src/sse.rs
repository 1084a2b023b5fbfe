//! An incremental Server-Sent Events parser: bytes in, events out.
//!
//! Follows the WHATWG event-stream rules: lines end in `\n`, `\r\n` or `\r`;
//! `:` lines are comments; `data` lines accumulate with `\n`; a blank line
//! dispatches the event. Chunks may split anywhere, including inside a UTF-8
//! sequence or between `\r` and `\n`. Bad input is an error, never a panic.

use thiserror::Error;

/// Longest line accepted; a stream that never ends a line is broken.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, or `"message"` when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen, if any.
    pub id: Option<String>,
}

/// Why a stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SseError {
    #[error("event stream is not valid UTF-8 (line {line})")]
    InvalidUtf8 { line: usize },
    #[error("event stream line {line} is longer than {MAX_LINE} bytes")]
    LineTooLong { line: usize },
    #[error("event stream ended in the middle of an event")]
    Truncated,
}

/// The parser's state between chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// A `\r` ended the previous chunk: skip a `\n` that starts the next one.
    after_cr: bool,
    line_no: usize,
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    dirty: bool,
    id: Option<String>,
    failed: Option<SseError>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the events it completed. After an error every
    /// later call returns the same error.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        let mut rest = chunk;
        // An empty chunk says nothing about whether a `\n` follows a chunk-final `\r`:
        // keep waiting for the first byte that does.
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (line_part, tail) = rest.split_at(pos);
            self.buf.extend_from_slice(line_part);
            let was_cr = tail[0] == b'\r';
            rest = &tail[1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.buf);
            if let Err(e) = self.line(&line, &mut out) {
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
        self.buf.extend_from_slice(rest);
        if self.buf.len() > MAX_LINE {
            let e = SseError::LineTooLong {
                line: self.line_no + 1,
            };
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(out)
    }

    /// Ends the stream. An unfinished event (no blank line after it) is an error.
    pub fn finish(&mut self) -> Result<(), SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.buf.is_empty() || self.dirty {
            return Err(SseError::Truncated);
        }
        Ok(())
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.line_no += 1;
        let mut raw = raw;
        if !self.started {
            self.started = true;
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        let line =
            std::str::from_utf8(raw).map_err(|_| SseError::InvalidUtf8 { line: self.line_no })?;
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: if self.event.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut self.event)
                    },
                    data: std::mem::take(&mut self.data),
                    id: self.id.clone(),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            self.dirty = false;
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        self.dirty = true;
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {} // `retry` and unknown fields are ignored, as the spec says.
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
