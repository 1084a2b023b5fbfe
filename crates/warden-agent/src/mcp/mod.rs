//! Warden's MCP server: the `report_finding` (or `report_verdict`) tool served
//! to an agent CLI over stdio, so that a finding is validated while the agent
//! can still fix it, exactly as the native agent validates it.
//!
//! Transport: MCP's stdio transport, one JSON-RPC 2.0 message per line in
//! both directions. Handled: `initialize`, `notifications/initialized`,
//! `ping`, `tools/list`, `tools/call`. Anything else gets `-32601`; a line that
//! is not JSON gets `-32700`; a line longer than [`MAX_LINE_BYTES`] is
//! discarded and answered `-32600`. Nothing a client sends makes it panic or
//! stop: only the end of its input (or a failed write) ends [`serve`].
//!
//! Records: each accepted report appends one JSON line to the output file
//! ([`warden_store::NewFinding`] in [`Mode::Investigate`], a [`VerdictRecord`] in
//! [`Mode::Verdict`]). The host reads the file back with [`read_findings`] /
//! [`read_verdict`], which validate every record again against the host's tree.

mod records;
mod tools;

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::confine::Root;
pub use records::{read_findings, read_verdict, FindingsFile, VerdictRecord};

/// The protocol versions this server speaks, newest first.
pub const PROTOCOL_VERSIONS: [&str; 3] = ["2025-06-18", "2025-03-26", "2024-11-05"];
/// The longest message accepted (a finding with a generous patch fits easily).
pub const MAX_LINE_BYTES: usize = 4 << 20;
/// Accepted reports per server (one investigation); later ones are refused, so
/// a looping agent cannot fill the disk.
pub const MAX_RECORDS: usize = 200;
/// The name MCP clients prefix tools with (`mcp__warden__report_finding` in Claude Code).
pub const SERVER_NAME: &str = "warden";

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;

/// Which tool the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `report_finding`, validated against the root like the native agent's.
    Investigate,
    /// `report_verdict`, parsed like the native reviewer's.
    Verdict,
}

/// Why the server could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("--root {}: {reason}", path.display())]
    Root { path: PathBuf, reason: String },
    #[error("--out {}: {source}", path.display())]
    Out {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the client's messages: {0}")]
    Read(std::io::Error),
    #[error("writing to the client: {0}")]
    Write(std::io::Error),
}

/// Serves one MCP client until its input ends. The output file is created (or
/// appended to) before the first message is read, so a bad `out_path` fails at
/// once instead of at the first report.
pub fn serve<R: BufRead, W: Write>(
    mode: Mode,
    root: &Path,
    out_path: &Path,
    input: R,
    mut output: W,
) -> Result<(), McpError> {
    let root = Root::new(root).map_err(|reason| McpError::Root {
        path: root.to_path_buf(),
        reason,
    })?;
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out_path)
        .map_err(|source| McpError::Out {
            path: out_path.to_path_buf(),
            source,
        })?;
    let mut server = Server {
        tools: tools::Reporter::new(mode, root, out),
    };
    let mut lines = BoundedLines::new(input);
    while let Some(line) = lines.next_line().map_err(McpError::Read)? {
        let reply = match line {
            Line::TooLong => Some(error_reply(
                Value::Null,
                INVALID_REQUEST,
                &format!("message longer than {MAX_LINE_BYTES} bytes"),
            )),
            Line::Text(bytes) => server.handle_line(&bytes),
        };
        if let Some(reply) = reply {
            write_message(&mut output, &reply).map_err(McpError::Write)?;
        }
    }
    Ok(())
}

/// The hidden subcommand that serves this module:
/// `warden __mcp-report --root DIR --out FILE [--verdict]`.
pub const ARG: &str = "__mcp-report";

/// The subcommand's arguments (after [`ARG`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub mode: Mode,
    pub root: PathBuf,
    pub out: PathBuf,
}

/// Parses `--root DIR --out FILE [--verdict]` (paths as bytes, any order).
pub fn parse_args(args: &[OsString]) -> Result<Args, String> {
    let (mut root, mut out, mut mode) = (None, None, Mode::Investigate);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| match it.next() {
            Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
            _ => Err(format!("{flag} needs a path")),
        };
        match arg.to_str() {
            Some("--root") => root = Some(value("--root")?),
            Some("--out") => out = Some(value("--out")?),
            Some("--verdict") => mode = Mode::Verdict,
            _ => return Err(format!("unexpected argument `{}`", arg.to_string_lossy())),
        }
    }
    Ok(Args {
        mode,
        root: root.ok_or("--root DIR is required")?,
        out: out.ok_or("--out FILE is required")?,
    })
}

/// Runs the subcommand on this process's stdin and stdout; returns the exit
/// code (0 when the client closed its input, 2 for bad arguments, 1 otherwise).
/// Errors are one line on stderr: stdout belongs to the protocol.
pub fn main(args: &[OsString]) -> i32 {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warden {ARG}: error: {e}");
            return 2;
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    match serve(
        args.mode,
        &args.root,
        &args.out,
        stdin.lock(),
        stdout.lock(),
    ) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("warden {ARG}: error: {e}");
            1
        }
    }
}

fn write_message<W: Write>(w: &mut W, msg: &Value) -> std::io::Result<()> {
    // serde_json escapes control characters, so a message never contains a raw newline.
    let mut text = msg.to_string();
    text.push('\n');
    w.write_all(text.as_bytes())?;
    w.flush()
}

struct Server {
    tools: tools::Reporter,
}

impl Server {
    /// The reply to one line, or None (notifications, responses, blank lines).
    fn handle_line(&mut self, bytes: &[u8]) -> Option<Value> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let msg: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                return Some(error_reply(
                    Value::Null,
                    PARSE_ERROR,
                    &format!("parse error: {e}"),
                ))
            }
        };
        let Value::Object(obj) = &msg else {
            // Batches were dropped from MCP in 2025-06-18 and no client sends them.
            return Some(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "expected one JSON-RPC message object (batches are not supported)",
            ));
        };
        let id = obj.get("id").cloned();
        let method = match obj.get("method") {
            Some(Value::String(m)) => m.as_str(),
            // A response to a request we never sent: nothing to answer.
            None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
                return None
            }
            _ => {
                return Some(error_reply(
                    id.unwrap_or(Value::Null),
                    INVALID_REQUEST,
                    "`method` must be a string",
                ))
            }
        };
        let Some(id) = id else {
            // Notifications (`notifications/initialized`, `notifications/cancelled`, ...)
            // never get a reply, known or not.
            return None;
        };
        if !matches!(id, Value::String(_) | Value::Number(_)) {
            return Some(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "`id` must be a string or a number",
            ));
        }
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Some(error_reply(
                id,
                INVALID_REQUEST,
                "`jsonrpc` must be \"2.0\"",
            ));
        }
        let params = obj.get("params").cloned().unwrap_or(Value::Null);
        Some(match self.call(method, &params) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => error_reply(id, code, &message),
        })
    }

    fn call(&mut self, method: &str, params: &Value) -> Result<Value, (i64, String)> {
        if !(params.is_object() || params.is_null()) {
            return Err((INVALID_PARAMS, "`params` must be an object".into()));
        }
        match method {
            "initialize" => Ok(initialize_result(params)),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({"tools": [self.tools.definition()]})),
            "tools/call" => {
                let name = params.get("name").and_then(Value::as_str).ok_or((
                    INVALID_PARAMS,
                    "`params.name` must be the tool's name".to_string(),
                ))?;
                if name != self.tools.name() {
                    return Err((INVALID_PARAMS, format!("unknown tool `{name}`")));
                }
                let args = match params.get("arguments") {
                    None | Some(Value::Null) => json!({}),
                    Some(a) => a.clone(),
                };
                let out = self.tools.call(&args);
                Ok(json!({
                    "content": [{"type": "text", "text": out.content}],
                    "isError": out.is_error,
                }))
            }
            other => Err((METHOD_NOT_FOUND, format!("method not found: {other}"))),
        }
    }
}

fn initialize_result(params: &Value) -> Value {
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    let version = PROTOCOL_VERSIONS
        .iter()
        .find(|v| Some(**v) == requested)
        .unwrap_or(&PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Report each security finding through this server's tool; a rejected report comes back with the reason, so fix it and report again.",
    })
}

fn error_reply(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

enum Line {
    Text(Vec<u8>),
    TooLong,
}

/// Newline-delimited messages, each at most [`MAX_LINE_BYTES`]; a longer one is
/// skipped to its newline without being held in memory. A last line without a
/// newline still counts.
struct BoundedLines<R> {
    inner: R,
}

impl<R: BufRead> BoundedLines<R> {
    fn new(inner: R) -> Self {
        Self { inner }
    }

    fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut buf = Vec::new();
        let mut too_long = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(match (too_long, buf.is_empty()) {
                    (true, _) => Some(Line::TooLong),
                    (false, true) => None,
                    (false, false) => Some(Line::Text(buf)),
                });
            }
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if buf.len() + take > MAX_LINE_BYTES {
                    too_long = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                return Ok(Some(if too_long {
                    Line::TooLong
                } else {
                    Line::Text(buf)
                }));
            }
        }
    }
}

/// Appends one record line to the output file in a single write, so concurrent
/// readers never see half a record.
fn append_record(out: &mut File, record: &Value) -> std::io::Result<()> {
    let mut text = record.to_string();
    text.push('\n');
    out.write_all(text.as_bytes())?;
    out.flush()
}
