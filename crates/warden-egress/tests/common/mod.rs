//! Loopback fixtures: a test PKI, upstream servers that record what they saw, a proxy
//! on an ephemeral port, and small clients. Everything binds 127.0.0.1 only.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use warden_egress::{Proxy, ProxyConfig};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A CA the test generates, standing in for the public PKI of real upstreams.
pub struct TestPki {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestPki {
    pub fn new() -> Result<TestPki, BoxError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        Ok(TestPki {
            issuer: CertifiedIssuer::self_signed(params, key)?,
        })
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub fn server_config(&self, names: &[&str]) -> Result<Arc<ServerConfig>, BoxError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A TLS client trusting exactly the given PEM roots.
pub fn tls_client_trusting(pem: &str) -> Result<TlsConnector, BoxError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

pub fn tls_client_trusting_der(der: CertificateDer<'static>) -> Result<TlsConnector, BoxError> {
    let mut roots = RootCertStore::empty();
    roots.add(der)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// One request as an upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
}

/// A hyper upstream on 127.0.0.1 (plain or TLS) that records requests and counts
/// accepted connections. `/sse` sends one event, waits for [`Upstream::release_sse`],
/// then sends a second and ends; `/bytes/<n>` returns n bytes; anything else "hello".
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub connections: Arc<AtomicUsize>,
    sse_release: Arc<tokio::sync::Notify>,
    pub sse_finished: Arc<std::sync::atomic::AtomicBool>,
}

impl Upstream {
    pub async fn start(tls: Option<Arc<ServerConfig>>) -> Result<Upstream, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let up = Upstream {
            addr: listener.local_addr()?,
            seen: Arc::default(),
            connections: Arc::default(),
            sse_release: Arc::default(),
            sse_finished: Arc::default(),
        };
        let server = up.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                server.connections.fetch_add(1, Ordering::SeqCst);
                let server = server.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(config) => {
                            if let Ok(stream) = TlsAcceptor::from(config).accept(stream).await {
                                server.serve(stream).await;
                            }
                        }
                        None => server.serve(stream).await,
                    }
                });
            }
        });
        Ok(up)
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(&self, stream: S) {
        let me = self.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let me = me.clone();
            async move { Ok::<_, std::convert::Infallible>(me.respond(req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }

    async fn respond(&self, req: Request<Incoming>) -> Response<ChannelBody> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Seen {
                method: req.method().to_string(),
                uri: req.uri().to_string(),
                headers: req.headers().clone(),
            });
        }
        let path = req.uri().path().to_string();
        let _ = req.into_body().collect().await;
        let (tx, rx) = mpsc::channel(4);
        if path == "/sse" {
            let release = self.sse_release.clone();
            let finished = self.sse_finished.clone();
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from_static(b"data: first\n\n")).await;
                release.notified().await;
                let _ = tx.send(Bytes::from_static(b"data: second\n\n")).await;
                finished.store(true, Ordering::SeqCst);
            });
            let mut resp = Response::new(ChannelBody(rx));
            resp.headers_mut().insert(
                "content-type",
                http::HeaderValue::from_static("text/event-stream"),
            );
            return resp;
        }
        if let Some(n) = path
            .strip_prefix("/bytes/")
            .and_then(|n| n.parse::<usize>().ok())
        {
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                let mut left = n;
                while left > 0 {
                    let take = left.min(chunk.len());
                    if tx.send(chunk.slice(..take)).await.is_err() {
                        return;
                    }
                    left -= take;
                }
            });
            return Response::new(ChannelBody(rx));
        }
        let _ = tx.try_send(Bytes::from_static(b"hello"));
        Response::new(ChannelBody(rx))
    }

    pub fn release_sse(&self) {
        self.sse_release.notify_one();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A streaming body fed by a channel; ends when the sender is dropped.
pub struct ChannelBody(pub mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// A plain TCP echo server on 127.0.0.1 that echoes until the client half-closes,
/// then closes its side; counts connections.
pub async fn echo_server() -> Result<(SocketAddr, Arc<AtomicUsize>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    Ok((addr, count))
}

/// Starts the proxy on 127.0.0.1:0.
pub async fn start_proxy(config: ProxyConfig) -> Result<(Proxy, SocketAddr), BoxError> {
    let proxy = Proxy::new(config)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = proxy.clone();
    tokio::spawn(async move { serving.serve_proxy_tcp(listener).await });
    Ok((proxy, addr))
}

/// Sends a raw CONNECT and reads the response head. On 200 the stream is the tunnel.
pub async fn open_connect(
    proxy: SocketAddr,
    target: &str,
) -> Result<(u16, String, TcpStream), BoxError> {
    let mut stream = TcpStream::connect(proxy).await?;
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await?;
    let head = read_head(&mut stream).await?;
    Ok((status_of(&head), head, stream))
}

/// Reads bytes up to and including the blank line ending a response head.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<String, BoxError> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

pub fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Writes `raw` to the proxy and reads whatever comes back until the proxy closes.
pub async fn raw_exchange(proxy: SocketAddr, raw: &[u8]) -> Result<String, BoxError> {
    let mut stream = TcpStream::connect(proxy).await?;
    stream.write_all(raw).await?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut out),
    )
    .await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A finished response.
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// One hyper client connection over any stream.
pub async fn client<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, BoxError> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

pub async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<Got, BoxError> {
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Got {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub fn get(uri: &str, host: &str) -> Result<Request<Full<Bytes>>, BoxError> {
    Ok(Request::get(uri)
        .header("host", host)
        .body(Full::new(Bytes::new()))?)
}

/// TLS (for `name`) inside an established CONNECT tunnel.
pub async fn tls_in_tunnel(
    connector: &TlsConnector,
    name: &str,
    tunnel: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, BoxError> {
    Ok(connector
        .connect(ServerName::try_from(name.to_string())?, tunnel)
        .await?)
}

pub fn marker(got: &Got) -> String {
    got.headers
        .get("x-warden-egress")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub fn audit_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
