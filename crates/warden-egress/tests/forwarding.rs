//! CONNECT tunnels and absolute-form HTTP to loopback servers reached through test pins:
//! bytes both ways with half-close, keep-alive, hop-by-hop headers, live policy changes,
//! failures and timeouts that must not take the proxy down, and the audit lines.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_egress::{Policy, ProxyConfig, Resolver, TestResolver};

fn config(policy: Policy, resolver: TestResolver) -> ProxyConfig {
    let mut config = ProxyConfig::new(policy);
    config.resolver = Resolver::test(resolver);
    config
}

#[tokio::test]
async fn connect_tunnel_copies_both_ways_and_passes_half_close() -> TestResult {
    let (echo, hits) = echo_server().await?;
    let (_proxy, addr) = start_proxy(config(
        Policy::allow_list(["echo.test"])?,
        TestResolver::new().pin("echo.test", echo)?,
    ))
    .await?;
    let (status, head, mut tunnel) = open_connect(addr, "echo.test:443").await?;
    assert_eq!(status, 200, "{head}");
    tunnel.write_all(b"ping through the tunnel").await?;
    let mut buf = [0u8; 23];
    tunnel.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping through the tunnel");
    // Half-close: our EOF reaches the echo server, which then closes its side; data sent
    // just before the EOF still comes back.
    tunnel.write_all(b"last words").await?;
    tunnel.shutdown().await?;
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tunnel.read_to_end(&mut rest)).await??;
    assert_eq!(rest, b"last words");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn absolute_form_get_is_forwarded_origin_form_with_keep_alive() -> TestResult {
    let up = Upstream::start(None).await?;
    let (_proxy, addr) = start_proxy(config(
        Policy::allow_list(["web.test"])?,
        TestResolver::new().pin("web.test", up.addr)?,
    ))
    .await?;
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    for i in 0..3 {
        let req = http::Request::get(format!("http://web.test/page/{i}?q=1"))
            .header("host", "web.test")
            .header("connection", "keep-alive, x-drop-me")
            .header("x-drop-me", "hop")
            .header("proxy-authorization", "Basic c2VjcmV0")
            .header("x-keep", "end-to-end")
            .body(http_body_util::Full::new(bytes::Bytes::new()))?;
        let got = send(&mut sender, req).await?;
        assert_eq!((got.status, got.body.as_str()), (200, "hello"));
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].uri, "/page/2?q=1");
    let h = &seen[0].headers;
    assert_eq!(
        h.get("host").and_then(|v| v.to_str().ok()),
        Some("web.test")
    );
    assert_eq!(
        h.get("x-keep").and_then(|v| v.to_str().ok()),
        Some("end-to-end")
    );
    for gone in [
        "x-drop-me",
        "proxy-authorization",
        "proxy-connection",
        "keep-alive",
    ] {
        assert!(h.get(gone).is_none(), "{gone} was forwarded");
    }
    Ok(())
}

#[tokio::test]
async fn set_policy_denies_new_requests_and_closes_open_tunnels() -> TestResult {
    let (echo, _) = echo_server().await?;
    let up = Upstream::start(None).await?;
    let table = TestResolver::new()
        .pin("echo.test", echo)?
        .pin("web.test", up.addr)?;
    let (proxy, addr) = start_proxy(config(
        Policy::allow_list(["echo.test", "web.test"])?,
        table,
    ))
    .await?;
    let (status, _, mut tunnel) = open_connect(addr, "echo.test:443").await?;
    assert_eq!(status, 200);
    tunnel.write_all(b"x").await?;
    let mut one = [0u8; 1];
    tunnel.read_exact(&mut one).await?;

    proxy.set_policy(Policy::allow_list(["web.test"])?);
    assert_eq!(proxy.policy(), Policy::allow_list(["web.test"])?);
    // The open tunnel is closed by the proxy: reads end, without us closing anything.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tunnel.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "tunnel still open: {closed:?}"
    );
    let (status, head, _) = open_connect(addr, "echo.test:443").await?;
    assert_eq!(status, 403, "{head}");
    // The other host is untouched.
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    assert_eq!(
        send(&mut sender, get("http://web.test/", "web.test")?)
            .await?
            .status,
        200
    );
    proxy.set_policy(Policy::deny_all());
    let got = send(&mut sender, get("http://web.test/", "web.test")?).await?;
    assert_eq!(
        (got.status, marker(&got).as_str()),
        (403, "denied; reason=deny-all")
    );
    Ok(())
}

#[tokio::test]
async fn refused_upstreams_get_502_and_the_proxy_keeps_serving() -> TestResult {
    let closed_port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        l.local_addr()?
    };
    let up = Upstream::start(None).await?;
    let table = TestResolver::new()
        .pin("down.test", closed_port)?
        .pin("web.test", up.addr)?;
    let (_proxy, addr) = start_proxy(config(Policy::allow_all(), table)).await?;
    let (status, head, _) = open_connect(addr, "down.test:443").await?;
    assert_eq!(status, 502, "{head}");
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    let got = send(&mut sender, get("http://down.test/", "down.test")?).await?;
    assert_eq!(got.status, 502);
    let got = send(&mut sender, get("http://web.test/", "web.test")?).await?;
    assert_eq!(got.status, 200);
    Ok(())
}

#[tokio::test]
async fn a_client_vanishing_mid_download_does_not_hurt_the_proxy() -> TestResult {
    let up = Upstream::start(None).await?;
    let (_proxy, addr) = start_proxy(config(
        Policy::allow_all(),
        TestResolver::new().pin("web.test", up.addr)?,
    ))
    .await?;
    for _ in 0..5 {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET http://web.test/bytes/50000000 HTTP/1.1\r\nHost: web.test\r\n\r\n")
            .await?;
        let mut some = [0u8; 4096];
        let _ = stream.read(&mut some).await?;
        drop(stream);
        let (status, _, mut tunnel) = open_connect(addr, "web.test:80").await?;
        assert_eq!(status, 200);
        tunnel
            .write_all(b"GET /bytes/100 HTTP/1.1\r\nHost: web.test\r\n\r\n")
            .await?;
        drop(tunnel);
    }
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    assert_eq!(
        send(&mut sender, get("http://web.test/", "web.test")?)
            .await?
            .body,
        "hello"
    );
    Ok(())
}

#[tokio::test]
async fn idle_tunnels_are_closed() -> TestResult {
    let (echo, _) = echo_server().await?;
    let mut cfg = config(
        Policy::allow_all(),
        TestResolver::new().pin("echo.test", echo)?,
    );
    cfg.idle_timeout = Duration::from_millis(300);
    let (_proxy, addr) = start_proxy(cfg).await?;
    let (status, _, mut tunnel) = open_connect(addr, "echo.test:443").await?;
    assert_eq!(status, 200);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tunnel.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "idle tunnel still open: {closed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn websocket_upgrades_through_absolute_form_are_refused() -> TestResult {
    let up = Upstream::start(None).await?;
    let (_proxy, addr) = start_proxy(config(
        Policy::allow_all(),
        TestResolver::new().pin("web.test", up.addr)?,
    ))
    .await?;
    let got = raw_exchange(
        addr,
        b"GET http://web.test/ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await?;
    assert!(
        got.starts_with("HTTP/1.1 501") && got.contains("reason=upgrade-unsupported"),
        "{got}"
    );
    assert!(up.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn audit_log_has_one_line_per_connection_and_request() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("audit.jsonl");
    let (echo, _) = echo_server().await?;
    let up = Upstream::start(None).await?;
    let mut cfg = config(
        Policy::allow_list(["echo.test", "web.test"])?,
        TestResolver::new()
            .pin("echo.test", echo)?
            .pin("web.test", up.addr)?,
    );
    cfg.audit_log = Some(log.clone());
    let (_proxy, addr) = start_proxy(cfg).await?;

    let (_, _, _denied) = open_connect(addr, "blocked.test:443").await?;
    let denied_line = audit_lines(&log);
    assert_eq!(denied_line.len(), 1, "a deny is logged immediately");

    let (_, _, mut tunnel) = open_connect(addr, "echo.test:443").await?;
    tunnel.write_all(b"12345").await?;
    tunnel.shutdown().await?;
    let mut back = Vec::new();
    tunnel.read_to_end(&mut back).await?;
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    send(&mut sender, get("http://web.test/x", "web.test")?).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let lines = audit_lines(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let deny = &lines[0];
    assert_eq!(deny["kind"], "connect");
    assert_eq!(deny["host"], "blocked.test");
    assert_eq!(deny["port"], 443);
    assert_eq!(deny["decision"], "deny");
    assert_eq!(deny["reason"], "not-allowed");
    let tunnel_line = lines
        .iter()
        .find(|l| l["host"] == "echo.test")
        .ok_or("no tunnel line")?;
    assert_eq!(tunnel_line["decision"], "allow");
    assert_eq!(tunnel_line["bytes_up"], 5);
    assert_eq!(tunnel_line["bytes_down"], 5);
    assert_eq!(tunnel_line["injected"], false);
    let http_line = lines
        .iter()
        .find(|l| l["kind"] == "http")
        .ok_or("no http line")?;
    assert_eq!(http_line["host"], "web.test");
    assert_eq!(http_line["port"], 80);
    assert!(
        http_line["bytes_up"].as_u64().unwrap_or(0) > 0
            && http_line["bytes_down"].as_u64().unwrap_or(0) > 0
    );
    for line in &lines {
        let time = line["time"].as_str().unwrap_or_default();
        assert!(
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{time}"
        );
        assert!(line["duration_ms"].is_u64());
    }
    Ok(())
}
