//! A tiny loopback HTTP/1.1 server that answers each connection with the next
//! canned reply and records the requests. (To be replaced by warden-testkit's mock.)

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub enum Reply {
    /// Raw bytes written after the request is read, then the connection closes.
    Raw(Vec<u8>),
    /// Read the request, answer nothing; report when the client hangs up.
    Hang,
    /// Write these bytes, then stall; report when the client hangs up.
    Stall(Vec<u8>),
    /// Write the first bytes at once, then the second ones a byte at a time, pausing
    /// between them; report when the client hangs up.
    Drip(Vec<u8>, Vec<u8>, Duration),
    /// Write the first bytes, then the second ones again and again, pausing between
    /// them, until the client hangs up (then report it).
    Repeat(Vec<u8>, Vec<u8>, Duration),
}

pub fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut s = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n");
    let mut ctype = false;
    for (k, v) in headers {
        ctype |= k.eq_ignore_ascii_case("content-type");
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if !ctype {
        s.push_str("content-type: application/json\r\n");
    }
    s.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    Reply::Raw(s.into_bytes())
}

/// A partial SSE reply that never ends.
pub fn sse_stall(body: &[u8]) -> Reply {
    match sse(body) {
        Reply::Raw(b) => Reply::Stall(b),
        other => other,
    }
}

/// An SSE reply delimited by connection close (no content-length).
pub fn sse(body: &[u8]) -> Reply {
    let mut s =
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/event-stream\r\n\r\n".to_vec();
    s.extend_from_slice(body);
    Reply::Raw(s)
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub head: String,
    pub body: serde_json::Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

pub struct Server {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub hangups: mpsc::UnboundedReceiver<()>,
}

pub async fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (tx, hangups) = mpsc::unbounded_channel();
    let rec = requests.clone();
    tokio::spawn(async move {
        for r in replies {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            let (head_end, len) = loop {
                let n = sock.read(&mut tmp).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&tmp[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (p + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let n = sock.read(&mut tmp).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            rec.lock().unwrap().push(Recorded {
                head: String::from_utf8_lossy(&buf[..head_end]).into_owned(),
                body: serde_json::from_slice(&buf[head_end..]).unwrap_or_default(),
            });
            match r {
                Reply::Drip(first, bytes, pause) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let _ = sock.write_all(&first).await;
                        for b in bytes {
                            if sock.write_all(&[b]).await.is_err() {
                                break;
                            }
                            tokio::time::sleep(pause).await;
                        }
                        let _ = tx.send(());
                    });
                }
                Reply::Repeat(first, again, pause) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut ok = sock.write_all(&first).await.is_ok();
                        while ok {
                            tokio::time::sleep(pause).await;
                            ok = sock.write_all(&again).await.is_ok();
                        }
                        let _ = tx.send(());
                    });
                }
                Reply::Raw(bytes) => {
                    let _ = sock.write_all(&bytes).await;
                    let _ = sock.shutdown().await;
                }
                r @ (Reply::Hang | Reply::Stall(_)) => {
                    if let Reply::Stall(bytes) = &r {
                        let _ = sock.write_all(bytes).await;
                    }
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut b = [0u8; 64];
                        // Returns 0 (EOF) or an error when the client drops the connection.
                        let _ =
                            tokio::time::timeout(Duration::from_secs(30), sock.read(&mut b)).await;
                        let _ = tx.send(());
                    });
                }
            }
        }
    });
    Server {
        base,
        requests,
        hangups,
    }
}
