//! Credential brokering against loopback TLS upstreams signed by a test CA: the front
//! door and TLS interception put the real key in the bound header, overwriting what the
//! sandbox sent, and nothing else ever carries it (other hosts, plaintext, Host tricks).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use warden_egress::{
    Binding, FrontDoor, Policy, Proxy, ProxyConfig, Resolver, Secret, TestResolver,
};

const REAL_KEY: &str = "sk-ant-api03-REAL-SECRET-VALUE-0123456789abcdef";

struct Fixture {
    pki: TestPki,
    /// TLS upstream for the bound host `api.test`.
    api: Upstream,
    /// TLS upstream for the allowed but unbound `other.test`.
    other: Upstream,
    /// Plain-HTTP upstream for `plain.test`, which is bound too.
    plain: Upstream,
    proxy: Proxy,
    addr: SocketAddr,
    placeholder: String,
}

async fn fixture(policy: Policy) -> Result<Fixture, BoxError> {
    let pki = TestPki::new()?;
    let api = Upstream::start(Some(pki.server_config(&["api.test"])?)).await?;
    let other = Upstream::start(Some(pki.server_config(&["other.test"])?)).await?;
    let plain = Upstream::start(None).await?;
    let api_key = Binding::new("api.test", "x-api-key", Secret::new(REAL_KEY))?;
    let placeholder = api_key.placeholder().to_string();
    let mut config = ProxyConfig::new(policy);
    config.bindings = vec![
        api_key,
        Binding::new("plain.test", "x-api-key", Secret::new(REAL_KEY))?,
    ];
    config.extra_roots = vec![pki.ca_der()];
    config.resolver = Resolver::test(
        TestResolver::new()
            .pin("api.test", api.addr)?
            .pin("other.test", other.addr)?
            .pin("plain.test", plain.addr)?,
    );
    let (proxy, addr) = start_proxy(config).await?;
    Ok(Fixture {
        pki,
        api,
        other,
        plain,
        proxy,
        addr,
        placeholder,
    })
}

fn allow() -> Result<Policy, BoxError> {
    Ok(Policy::allow_list([
        "api.test",
        "other.test",
        "plain.test",
    ])?)
}

async fn front_door(proxy: &Proxy, upstream: &str) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let front = FrontDoor::new(upstream)?;
    let proxy = proxy.clone();
    tokio::spawn(async move { proxy.serve_front_door_tcp(listener, front).await });
    Ok(addr)
}

fn header(seen: &Seen, name: &str) -> Vec<String> {
    seen.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn front_door_replaces_the_placeholder_with_the_real_key_over_verified_tls() -> TestResult {
    let f = fixture(allow()?).await?;
    assert!(f.placeholder.starts_with("sk-ant-api03-") && f.placeholder != REAL_KEY);
    let door = front_door(&f.proxy, "https://api.test").await?;
    let mut sender = client(tokio::net::TcpStream::connect(door).await?).await?;
    let req = http::Request::post("/v1/messages?beta=true")
        .header("host", door.to_string())
        .header("x-api-key", &f.placeholder)
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(Bytes::from_static(b"{\"model\":\"x\"}")))?;
    let got = send(&mut sender, req).await?;
    assert_eq!((got.status, got.body.as_str()), (200, "hello"));
    let seen = f.api.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/v1/messages?beta=true");
    assert_eq!(header(&seen[0], "x-api-key"), [REAL_KEY]);
    assert_eq!(header(&seen[0], "host"), ["api.test"]);
    assert_eq!(header(&seen[0], "anthropic-version"), ["2023-06-01"]);
    Ok(())
}

#[tokio::test]
async fn a_header_set_by_the_sandbox_is_overwritten_not_appended() -> TestResult {
    let f = fixture(allow()?).await?;
    let door = front_door(&f.proxy, "https://api.test").await?;
    let mut sender = client(tokio::net::TcpStream::connect(door).await?).await?;
    let req = http::Request::get("/v1/models")
        .header("x-api-key", "sandbox-chosen-key")
        .header("x-api-key", "second-value")
        .header("connection", "x-api-key")
        .body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    assert_eq!(header(&f.api.seen()[0], "x-api-key"), [REAL_KEY]);
    Ok(())
}

#[tokio::test]
async fn front_door_streams_server_sent_events_chunk_by_chunk() -> TestResult {
    let f = fixture(allow()?).await?;
    let door = front_door(&f.proxy, "https://api.test").await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
        hyper_util::rt::TokioIo::new(tokio::net::TcpStream::connect(door).await?),
    )
    .await?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(http::Request::get("/sse").body(Full::new(Bytes::new()))?)
        .await?;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await?;
    let first = first
        .ok_or("body ended")??
        .into_data()
        .map_err(|_| "not data")?;
    assert_eq!(&first[..], b"data: first\n\n");
    assert!(
        !f.api.sse_finished.load(Ordering::SeqCst),
        "upstream had already finished"
    );
    f.api.release_sse();
    let rest = body.collect().await?.to_bytes();
    assert_eq!(&rest[..], b"data: second\n\n");
    Ok(())
}

#[tokio::test]
async fn front_door_obeys_the_live_policy() -> TestResult {
    let f = fixture(allow()?).await?;
    let door = front_door(&f.proxy, "https://api.test").await?;
    f.proxy.set_policy(Policy::deny_all());
    let mut sender = client(tokio::net::TcpStream::connect(door).await?).await?;
    let got = send(&mut sender, get("/v1/models", "127.0.0.1")?).await?;
    assert_eq!(
        (got.status, marker(&got).as_str()),
        (403, "denied; reason=deny-all")
    );
    assert!(f.api.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn front_door_refuses_an_upstream_it_cannot_verify() -> TestResult {
    // The upstream's certificate is for another name: the key must not be sent.
    let f = fixture(allow()?).await?;
    let impostor = Upstream::start(Some(f.pki.server_config(&["impostor.test"])?)).await?;
    let mut config = ProxyConfig::new(Policy::allow_all());
    config.bindings = vec![Binding::new(
        "api.test",
        "x-api-key",
        Secret::new(REAL_KEY),
    )?];
    config.extra_roots = vec![f.pki.ca_der()];
    config.resolver = Resolver::test(TestResolver::new().pin("api.test", impostor.addr)?);
    let proxy = Proxy::new(config)?;
    let door = front_door(&proxy, "https://api.test").await?;
    let mut sender = client(tokio::net::TcpStream::connect(door).await?).await?;
    let got = send(&mut sender, get("/v1/models", "127.0.0.1")?).await?;
    assert_eq!(got.status, 502);
    assert!(impostor.seen().is_empty());
    assert!(
        FrontDoor::new("http://api.test").is_err(),
        "plaintext front doors are refused"
    );
    Ok(())
}

#[tokio::test]
async fn interception_with_the_proxy_ca_injects_the_real_key() -> TestResult {
    let f = fixture(allow()?).await?;
    let ca = f.proxy.ca_pem().ok_or("no CA with bindings")?;
    let (status, head, tunnel) = open_connect(f.addr, "api.test:443").await?;
    assert_eq!(status, 200, "{head}");
    let tls = tls_in_tunnel(&tls_client_trusting(&ca)?, "api.test", tunnel).await?;
    let mut sender = client(tls).await?;
    for _ in 0..2 {
        let req = http::Request::get("/v1/models?limit=2")
            .header("host", "api.test")
            .header("x-api-key", &f.placeholder)
            .body(Full::new(Bytes::new()))?;
        let got = send(&mut sender, req).await?;
        assert_eq!((got.status, got.body.as_str()), (200, "hello"));
    }
    let seen = f.api.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].uri, "/v1/models?limit=2");
    assert_eq!(header(&seen[0], "x-api-key"), [REAL_KEY]);
    assert_eq!(header(&seen[1], "host"), ["api.test"]);

    // A client that trusts only the real PKI refuses the proxy's certificate: the
    // bound host really is intercepted, not tunnelled.
    let (_, _, tunnel) = open_connect(f.addr, "api.test:443").await?;
    assert!(tls_in_tunnel(
        &tls_client_trusting_der(f.pki.ca_der())?,
        "api.test",
        tunnel
    )
    .await
    .is_err());
    Ok(())
}

#[tokio::test]
async fn a_placeholder_sent_to_an_allowed_unbound_host_arrives_unchanged() -> TestResult {
    let f = fixture(allow()?).await?;
    // Opaque tunnel: the client talks TLS to the real upstream (trusting the test PKI).
    let (status, _, tunnel) = open_connect(f.addr, "other.test:443").await?;
    assert_eq!(status, 200);
    let tls = tls_in_tunnel(
        &tls_client_trusting_der(f.pki.ca_der())?,
        "other.test",
        tunnel,
    )
    .await?;
    let mut sender = client(tls).await?;
    let req = http::Request::get("/")
        .header("host", "other.test")
        .header("x-api-key", &f.placeholder)
        .body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    assert_eq!(
        header(&f.other.seen()[0], "x-api-key"),
        [f.placeholder.as_str()]
    );
    Ok(())
}

#[tokio::test]
async fn connect_to_one_host_with_host_header_of_another_never_gets_its_key() -> TestResult {
    let f = fixture(allow()?).await?;
    // Intercepted tunnel to api.test naming other.test: refused with 421, nothing sent.
    let ca = f.proxy.ca_pem().ok_or("no CA")?;
    let (_, _, tunnel) = open_connect(f.addr, "api.test:443").await?;
    let mut sender =
        client(tls_in_tunnel(&tls_client_trusting(&ca)?, "api.test", tunnel).await?).await?;
    let got = send(&mut sender, get("/", "other.test")?).await?;
    assert_eq!(
        (got.status, marker(&got).as_str()),
        (421, "denied; reason=host-mismatch")
    );
    assert!(f.api.seen().is_empty() && f.other.seen().is_empty());

    // Opaque tunnel to other.test naming api.test: other.test gets the placeholder only.
    let (_, _, tunnel) = open_connect(f.addr, "other.test:443").await?;
    let tls = tls_in_tunnel(
        &tls_client_trusting_der(f.pki.ca_der())?,
        "other.test",
        tunnel,
    )
    .await?;
    let mut sender = client(tls).await?;
    let req = http::Request::get("/")
        .header("host", "api.test")
        .header("x-api-key", &f.placeholder)
        .body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    assert_eq!(
        header(&f.other.seen()[0], "x-api-key"),
        [f.placeholder.as_str()]
    );
    assert!(f.api.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn plaintext_requests_to_a_bound_host_are_never_injected() -> TestResult {
    let f = fixture(allow()?).await?;
    let mut sender = client(tokio::net::TcpStream::connect(f.addr).await?).await?;
    let req = http::Request::get("http://plain.test/v1/models")
        .header("host", "plain.test")
        .header("x-api-key", &f.placeholder)
        .body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    let seen = f.plain.seen();
    assert_eq!(header(&seen[0], "x-api-key"), [f.placeholder.as_str()]);
    Ok(())
}
