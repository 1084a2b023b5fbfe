//! Loopback benchmark of the egress proxy: added latency for small requests and
//! throughput through a CONNECT tunnel. `cargo run --release -p warden-egress --example egress_bench`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warden_egress::{Policy, Proxy, ProxyConfig, Resolver, TestResolver};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const REQUESTS: usize = 2_000;
const DOWNLOAD: usize = 100 * 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let http = http_server().await?;
    let bulk = bulk_server().await?;
    let mut config = ProxyConfig::new(Policy::allow_list(["bench.test", "bulk.test"])?);
    config.resolver = Resolver::test(
        TestResolver::new()
            .pin("bench.test", http)?
            .pin("bulk.test", bulk)?,
    );
    let proxy = Proxy::new(config)?;
    // The proxy runs on its own runtime thread, as it does in warden (a separate
    // process from the sandboxed client), so it does not queue behind the client's tasks.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let proxy_addr = std_listener.local_addr()?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async move {
                if let Ok(listener) = TcpListener::from_std(std_listener) {
                    let _ = proxy.serve_proxy_tcp(listener).await;
                }
            });
        }
    });

    println!("latency: {REQUESTS} sequential GETs, keep-alive client connection on both paths;");
    println!("         the proxy opens a fresh upstream connection per request (no pooling)");
    let direct = latencies(http, "/small").await?;
    let via = latencies(proxy_addr, "http://bench.test/small").await?;
    let (d50, d90) = (percentile(&direct, 50), percentile(&direct, 90));
    let (p50, p90) = (percentile(&via, 50), percentile(&via, 90));
    println!("direct:    p50 {:.3} ms, p90 {:.3} ms", ms(d50), ms(d90));
    println!("via proxy: p50 {:.3} ms, p90 {:.3} ms", ms(p50), ms(p90));
    println!(
        "proxy p50 added latency: {:.3} ms (direct p50 {:.3} ms, via proxy {:.3} ms)",
        ms(p50.saturating_sub(d50)),
        ms(d50),
        ms(p50)
    );

    println!(
        "throughput: 100 MB download, best of 5 alternating runs each, raw TCP vs CONNECT tunnel"
    );
    let mut direct_best = 0f64;
    let mut via_best = 0f64;
    for _ in 0..5 {
        direct_best = direct_best.max(download(TcpStream::connect(bulk).await?).await?);
        via_best = via_best.max(download(tunnel(proxy_addr, "bulk.test:443").await?).await?);
    }
    println!(
        "proxy throughput ratio: {:.2} (direct {:.0} MB/s, via proxy {:.0} MB/s)",
        via_best / direct_best,
        direct_best,
        via_best
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

async fn latencies(addr: SocketAddr, uri: &str) -> Result<Vec<Duration>, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    for _ in 0..100 {
        one(&mut sender, uri).await?;
    }
    let mut times = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        one(&mut sender, uri).await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

async fn one(sender: &mut SendRequest<Empty<Bytes>>, uri: &str) -> Result<(), BoxError> {
    // The keep-alive connection becomes ready again only once the previous exchange is
    // fully processed by its task; sending earlier is a client error, not a proxy one.
    sender.ready().await?;
    let req = Request::get(uri)
        .header("host", "bench.test")
        .body(Empty::new())?;
    let resp = sender.send_request(req).await?;
    resp.into_body().collect().await?;
    Ok(())
}

async fn tunnel(proxy: SocketAddr, target: &str) -> Result<TcpStream, BoxError> {
    let mut stream = TcpStream::connect(proxy).await?;
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err("proxy closed during CONNECT".into());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(format!("CONNECT refused: {}", String::from_utf8_lossy(&head)).into());
    }
    Ok(stream)
}

/// Asks the bulk server for DOWNLOAD bytes and returns MB/s.
async fn download(mut stream: TcpStream) -> Result<f64, BoxError> {
    let start = Instant::now();
    stream.write_all(b"go\n").await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    while total < DOWNLOAD {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err("download ended early".into());
        }
        total += n;
    }
    Ok(total as f64 / (1024.0 * 1024.0) / start.elapsed().as_secs_f64())
}

async fn http_server() -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                        Bytes::from_static(b"small response body"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Reads one line, then writes DOWNLOAD bytes and closes.
async fn bulk_server() -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut line = [0u8; 3];
                if stream.read_exact(&mut line).await.is_err() {
                    return;
                }
                let chunk = vec![0u8; 256 * 1024];
                let mut left = DOWNLOAD;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(addr)
}
