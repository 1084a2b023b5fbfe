//! The HTTP server: routing, turn bookkeeping, recording, lifecycle.

use super::errors::{error_reply, Wire};
use super::gate::Gate;
use super::recording::{RecordedRequest, Recorder};
use super::reply::{sse_data, sse_event, Chunk, Reply};
use super::script::{Script, Turn};
use super::{anthropic, openai};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

struct Shared {
    script: Script,
    next_turn: AtomicUsize,
    recorder: Recorder,
    gate: Gate,
    log: bool,
}

enum Route {
    Generate(Endpoint),
    CountTokens,
    Alive,
    NotFound,
}

#[derive(Clone, Copy)]
enum Endpoint {
    Messages,
    Responses,
    Chat,
}

fn route(method: &str, path: &str) -> Route {
    let path = path.trim_end_matches('/');
    match (method, path) {
        ("POST", "/v1/messages") => Route::Generate(Endpoint::Messages),
        ("POST", "/v1/responses") => Route::Generate(Endpoint::Responses),
        ("POST", "/v1/chat/completions") => Route::Generate(Endpoint::Chat),
        ("POST", "/v1/messages/count_tokens") => Route::CountTokens,
        ("GET" | "HEAD", "") => Route::Alive,
        _ => Route::NotFound,
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 512 << 20)
        .await
        .unwrap_or_default();
    let body_json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let route = route(&method, &path);

    let (turn_index, turn) = match route {
        Route::Generate(_) => {
            let i = shared.next_turn.fetch_add(1, Ordering::SeqCst);
            let turn = shared
                .script
                .turns
                .get(i)
                .cloned()
                .unwrap_or_else(|| Turn::text(shared.script.final_text.clone()));
            (Some(i), Some(turn))
        }
        _ => (None, None),
    };

    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if shared.log {
        eprintln!(
            "warden-mock-llm: {method} {} ({} bytes){}",
            parts.uri,
            bytes.len(),
            turn_index
                .map(|i| format!(" -> turn {i}"))
                .unwrap_or_default()
        );
    }
    shared.recorder.push(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_string),
        headers,
        body: body_json.clone(),
        raw_body: String::from_utf8_lossy(&bytes).into_owned(),
        turn: turn_index,
    });

    let seq = turn_index.unwrap_or(0) as u64 + 1;
    let reply = match (route, turn) {
        (Route::Generate(endpoint), Some(turn)) => {
            let script = &shared.script;
            let _in_flight = shared
                .gate
                .enter(script.hold_until_in_flight, script.hold_timeout_ms)
                .await;
            let delay = turn.delay_ms + script.latency_ms;
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let wire = match endpoint {
                Endpoint::Messages => Wire::Anthropic,
                _ => Wire::OpenAi,
            };
            let stream = body_json.get("stream").and_then(Value::as_bool) == Some(true);
            match (&turn.error, endpoint) {
                (Some(kind), _) if turn.error_mid_stream && stream => {
                    mid_stream_error(error_reply(kind, wire, seq), endpoint, &body_json, seq)
                }
                (Some(kind), _) => error_reply(kind, wire, seq),
                (None, Endpoint::Messages) => anthropic::reply(&turn, &body_json, seq),
                (None, Endpoint::Responses) => openai::responses_reply(&turn, &body_json, seq),
                (None, Endpoint::Chat) => openai::chat_reply(&turn, &body_json, seq),
            }
        }
        (Route::CountTokens, _) => anthropic::count_tokens(bytes.len()),
        (Route::Alive, _) => Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            chunks: if method == "HEAD" {
                vec![]
            } else {
                vec![Chunk::Data("warden mock LLM\n".into())]
            },
        },
        _ => Reply::json(
            404,
            &json!({"type": "error", "error": {"type": "not_found_error",
                    "message": format!("the mock LLM does not serve {method} {path}")}}),
        ),
    };
    into_response(reply)
}

/// A 200 SSE stream that starts normally and then carries `error`'s body.
fn mid_stream_error(error: Reply, endpoint: Endpoint, request: &Value, seq: u64) -> Reply {
    let body: Value = match error.chunks.first() {
        Some(Chunk::Data(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let empty = Turn::text("");
    let mut start = match endpoint {
        Endpoint::Messages => anthropic::reply(&empty, request, seq),
        Endpoint::Responses => openai::responses_reply(&empty, request, seq),
        Endpoint::Chat => openai::chat_reply(&empty, request, seq),
    };
    start.chunks.truncate(1);
    let event = match endpoint {
        Endpoint::Messages => sse_event("error", &body),
        Endpoint::Responses => {
            let e = &body["error"];
            let code = e.get("code").filter(|c| !c.is_null()).unwrap_or(&e["type"]);
            let mut response = match start.chunks.first() {
                Some(Chunk::Data(s)) => s
                    .split_once("data: ")
                    .and_then(|(_, d)| serde_json::from_str::<Value>(d.trim()).ok())
                    .map(|v| v["response"].clone())
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            };
            response["status"] = json!("failed");
            response["error"] = json!({"code": code, "message": e["message"]});
            sse_event(
                "response.failed",
                &json!({"type": "response.failed", "sequence_number": 1, "response": response}),
            )
        }
        Endpoint::Chat => sse_data(&body),
    };
    start.chunks.push(Chunk::Data(event));
    start
}

fn into_response(reply: Reply) -> Response {
    let streamed = reply.chunks.len() > 1 || reply.chunks.iter().any(|c| matches!(c, Chunk::Abort));
    let body = if streamed {
        let stream = futures_util::stream::unfold(reply.chunks.into_iter(), |mut it| async move {
            match it.next()? {
                Chunk::Data(s) => Some((Ok(Bytes::from(s)), it)),
                Chunk::Abort => {
                    // Let the bytes already written reach the client before the reset.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Err(std::io::Error::other("mock: stream truncated on purpose")),
                        it,
                    ))
                }
            }
        });
        Body::from_stream(stream)
    } else {
        match reply.chunks.into_iter().next() {
            Some(Chunk::Data(s)) => Body::from(s),
            _ => Body::empty(),
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            response.headers_mut().append(k, v);
        }
    }
    response
}

/// A running mock LLM server on loopback. Dropping it stops the server.
///
/// ```no_run
/// # async fn f() {
/// use warden_testkit::mock_llm::{MockLlm, Script, Turn};
/// let mock = MockLlm::start(Script::new(vec![Turn::text("hello")])).await;
/// // point a client at mock.url() (Anthropic) or format!("{}/v1", mock.url()) (OpenAI)
/// assert!(mock.requests().is_empty());
/// # }
/// ```
pub struct MockLlm {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl MockLlm {
    /// Starts on `127.0.0.1:<free port>` in the current tokio runtime.
    /// Panics if loopback cannot be bound (a test helper).
    pub async fn start(script: Script) -> MockLlm {
        MockLlm::serve(script, SocketAddr::from(([127, 0, 0, 1], 0)), false)
            .await
            .expect("bind the mock LLM on 127.0.0.1")
    }

    /// Starts on `addr` in the current tokio runtime; `log` prints one line
    /// per request to stderr.
    pub async fn serve(script: Script, addr: SocketAddr, log: bool) -> std::io::Result<MockLlm> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(MockLlm::spawn(script, listener, log))
    }

    /// For synchronous tests: starts on `127.0.0.1:<free port>` in a runtime
    /// on its own thread, which ends when the returned value is dropped.
    pub fn start_blocking(script: Script) -> MockLlm {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the mock LLM on 127.0.0.1");
        std_listener
            .set_nonblocking(true)
            .expect("set the listener non-blocking");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("warden-mock-llm".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the mock LLM runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .expect("register the mock LLM listener");
                    let mut mock = MockLlm::spawn(script, listener, false);
                    let stop = mock.stop.take();
                    let (done_tx, done_rx) = oneshot::channel::<()>();
                    let _ = tx.send((mock, done_tx));
                    let _ = done_rx.await;
                    if let Some(stop) = stop {
                        let _ = stop.send(());
                    }
                });
            })
            .expect("spawn the mock LLM thread");
        let (mut mock, done_tx) = rx.recv().expect("the mock LLM thread started");
        mock.stop = Some(done_tx);
        mock
    }

    fn spawn(script: Script, listener: tokio::net::TcpListener, log: bool) -> MockLlm {
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared {
            script,
            next_turn: AtomicUsize::new(0),
            recorder: Recorder::default(),
            gate: Gate::default(),
            log,
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
        MockLlm {
            url: format!("http://{addr}"),
            addr,
            shared,
            stop: Some(stop_tx),
        }
    }

    /// `http://127.0.0.1:PORT` — the Anthropic base URL. OpenAI clients want
    /// [`MockLlm::openai_base_url`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT/v1`, the form OpenAI clients take as base URL.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.all()
    }

    /// The requests that consumed a script turn (generation endpoints).
    pub fn generation_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_generation)
            .collect()
    }

    /// The most generation requests that were in flight at once (received and not
    /// yet answered).
    pub fn peak_in_flight(&self) -> usize {
        self.shared.gate.peak()
    }

    /// How many generation requests have been answered or are being answered.
    pub fn turns_served(&self) -> usize {
        self.shared.next_turn.load(Ordering::SeqCst)
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
