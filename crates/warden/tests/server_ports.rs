//! `warden server` port routing: an HTTP server started inside a sandbox is reached by
//! host (`<port>-<id>.localhost`) and by path (`/v1/ports/<id>/<port>/…`, prefix
//! stripped), without a bearer token; request bodies and SSE stream both ways; a
//! WebSocket upgrade is tunnelled; unknown sandboxes and ports are 404, a port nobody
//! listens on is 502.

mod server_support;

use base64::Engine;
use futures_util::StreamExt;
use serde_json::json;
use server_support::{eventually, problem, Server, TOKEN_A};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves /echo (its path and Host), POST /upload (the body's length), /sse (one event,
/// then a pause) and a WebSocket handshake that echoes what follows.
const SERVER_PY: &str = r#"
import base64, hashlib, http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.headers.get('Upgrade', '').lower() == 'websocket':
            key = self.headers['Sec-WebSocket-Key'].encode()
            accept = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())
            self.wfile.write(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + b'\r\n\r\n')
            self.wfile.flush()
            while True:
                data = self.rfile.read1(4096)
                if not data:
                    return
                self.wfile.write(b'echo:' + data)
                self.wfile.flush()
        if self.path.startswith('/sse'):
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.end_headers()
            self.wfile.write(b'data: first\n\n')
            self.wfile.flush()
            time.sleep(5)
            self.wfile.write(b'data: late\n\n')
            return
        body = ('path=%s host=%s' % (self.path, self.headers.get('Host'))).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = len(self.rfile.read(int(self.headers['Content-Length'])))
        body = ('len=%d' % n).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(('0.0.0.0', int(sys.argv[1])), H).serve_forever()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_inside_is_reached_by_host_and_by_path_with_streams_and_websockets() {
    let server = Server::start(&[]);
    let sb = server.create(TOKEN_A, json!({"ports": [8000, 8001]})).await;
    let id = sb["id"].as_str().unwrap().to_string();
    let res = server
        .post(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/files"),
            json!({"files": [{"path": "/workspace/server.py",
                   "content": base64::engine::general_purpose::STANDARD.encode(SERVER_PY)}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    server.detach(&id, &["python3", "/workspace/server.py", "8000"]);

    // No token anywhere below: routed ports are for browsers.
    let by_path = |rest: &str| server.url(&format!("/v1/ports/{id}/8000/{rest}"));
    let up = eventually(Duration::from_secs(15), || async {
        matches!(server.client.get(by_path("echo")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    assert!(up, "the server in the sandbox never answered");
    let text = server
        .client
        .get(by_path("echo?x=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("path=/echo?x=1 "), "{text}");
    let root = server
        .client
        .get(server.url(&format!("/v1/ports/{id}/8000/")))
        .send()
        .await
        .unwrap();
    assert!(root.text().await.unwrap().starts_with("path=/ "));

    let host = format!("8000-{id}.localhost:{}", server.addr.port());
    for path in ["/echo?y=2", "/v1/sandboxes"] {
        let text = server
            .client
            .get(server.url(path))
            .header("host", &host)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(text, format!("path={path} host={host}"));
    }

    let big = vec![b'x'; 3_000_000];
    let text = server
        .client
        .post(by_path("upload"))
        .body(big)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "len=3000000");

    // SSE: the first event arrives while the response is still open.
    let res = server.client.get(by_path("sse")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(3), body.next()).await;
    let first = first.expect("no SSE event within 3 s").unwrap().unwrap();
    assert_eq!(first.as_ref(), b"data: first\n\n");
    drop(body);

    websocket_echoes(&server, &format!("/v1/ports/{id}/8000/ws")).await;

    let cases = [
        (server.url(&format!("/v1/ports/{id}/9999/")), None, 404),
        (server.url("/v1/ports/sb-0000000000/8000/"), None, 404),
        (
            server.url("/anything"),
            Some(format!(
                "8000-sb-0000000000.localhost:{}",
                server.addr.port()
            )),
            404,
        ),
        (server.url(&format!("/v1/ports/{id}/8001/")), None, 502),
    ];
    for (url, host, want) in cases {
        let mut request = server.client.get(&url);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, want, "{url}: {body}");
    }
}

/// A WebSocket handshake through the route, then bytes both ways on the tunnel.
async fn websocket_echoes(server: &Server, path: &str) {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut byte))
            .await
            .expect("no handshake answer")
            .unwrap();
        assert_eq!(
            n,
            1,
            "closed during the handshake: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    // The accept value RFC 6455 gives for this key.
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    tcp.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut echo))
        .await
        .expect("no echo through the tunnel")
        .unwrap();
    assert_eq!(&echo, b"echo:ping");
}
