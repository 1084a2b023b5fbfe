//! The listeners a sandbox really uses: the proxy and a front door on unix sockets
//! (the in-sandbox bridge forwards 127.0.0.1:3128 to them), and slow or silent clients.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use warden_egress::{
    Binding, FrontDoor, Policy, Proxy, ProxyConfig, Resolver, Secret, TestResolver,
};

#[tokio::test]
async fn connect_tunnel_and_absolute_form_over_the_unix_socket() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("egress.sock");
    let (echo, _) = echo_server().await?;
    let web = Upstream::start(None).await?;
    let mut config = ProxyConfig::new(Policy::allow_list(["echo.test", "web.test"])?);
    config.resolver = Resolver::test(
        TestResolver::new()
            .pin("echo.test", echo)?
            .pin("web.test", web.addr)?,
    );
    let proxy = Proxy::new(config)?;
    let listener = UnixListener::bind(&sock)?;
    let serving = proxy.clone();
    tokio::spawn(async move { serving.serve_proxy(listener).await });

    let mut stream = UnixStream::connect(&sock).await?;
    stream
        .write_all(b"CONNECT echo.test:443 HTTP/1.1\r\nHost: echo.test:443\r\n\r\npipelined")
        .await?;
    let head = read_head(&mut stream).await?;
    assert_eq!(status_of(&head), 200, "{head}");
    // Bytes sent right behind the CONNECT head are not lost when the tunnel starts.
    stream.write_all(b"+more").await?;
    stream.shutdown().await?;
    let mut echoed = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut echoed)).await??;
    assert_eq!(echoed, b"pipelined+more");

    let mut sender = client(UnixStream::connect(&sock).await?).await?;
    let got = send(&mut sender, get("http://web.test/", "web.test")?).await?;
    assert_eq!((got.status, got.body.as_str()), (200, "hello"));
    Ok(())
}

#[tokio::test]
async fn front_door_on_a_unix_socket_injects() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("anthropic.sock");
    let pki = TestPki::new()?;
    let api = Upstream::start(Some(pki.server_config(&["api.test"])?)).await?;
    let mut config = ProxyConfig::new(Policy::allow_list(["api.test"])?);
    config.bindings = vec![Binding::new(
        "api.test",
        "x-api-key",
        Secret::new("real-key-123"),
    )?];
    config.extra_roots = vec![pki.ca_der()];
    config.resolver = Resolver::test(TestResolver::new().pin("api.test", api.addr)?);
    let proxy = Proxy::new(config)?;
    let listener = UnixListener::bind(&sock)?;
    let front = FrontDoor::new("https://api.test")?;
    tokio::spawn(async move { proxy.serve_front_door(listener, front).await });
    let mut sender = client(UnixStream::connect(&sock).await?).await?;
    let req = http::Request::get("/v1/models").body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    let seen = api.seen();
    assert_eq!(
        seen[0]
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok()),
        Some("real-key-123")
    );
    Ok(())
}

#[tokio::test]
async fn silent_and_slow_clients_are_dropped_and_the_proxy_keeps_serving() -> TestResult {
    let web = Upstream::start(None).await?;
    let mut config = ProxyConfig::new(Policy::allow_all());
    config.resolver = Resolver::test(TestResolver::new().pin("web.test", web.addr)?);
    config.idle_timeout = Duration::from_millis(300);
    let (_proxy, addr) = start_proxy(config).await?;
    let mut silent = tokio::net::TcpStream::connect(addr).await?;
    let mut slow = tokio::net::TcpStream::connect(addr).await?;
    slow.write_all(b"GET http://web.test/ HTTP/1.1\r\nHo")
        .await?;
    for stream in [&mut silent, &mut slow] {
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "an idle client connection was kept open");
    }
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    assert_eq!(
        send(&mut sender, get("http://web.test/", "web.test")?)
            .await?
            .status,
        200
    );
    Ok(())
}

#[test]
fn the_test_resolver_string_format_round_trips_through_the_environment_variable_name() {
    assert_eq!(
        warden_egress::TEST_RESOLVE_ENV,
        "WARDEN_EGRESS_TEST_RESOLVE"
    );
    assert!("api.test=127.0.0.1:4443,meta.test~169.254.169.254"
        .parse::<TestResolver>()
        .is_ok());
    assert!("api.test=192.168.1.1:443".parse::<TestResolver>().is_err());
}
