//! Front doors to an upstream on the host's loopback (a local model server the user
//! chose), door-owned bindings, and the header shapes subscription logins need.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use warden_egress::{Binding, FrontDoor, Policy, Proxy, ProxyConfig, Secret};

const TOKEN: &str = "sk-ant-oat01-REAL-SUBSCRIPTION-TOKEN-0123456789";

async fn serve_door(proxy: &Proxy, door: FrontDoor) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let proxy = proxy.clone();
    tokio::spawn(async move { proxy.serve_front_door_tcp(listener, door).await });
    Ok(addr)
}

fn values(seen: &Seen, name: &str) -> Vec<String> {
    seen.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect()
}

/// A door to `upstream` that writes a Claude subscription token the way Claude's API wants it.
fn subscription_door(upstream: &str) -> Result<FrontDoor, BoxError> {
    let door = FrontDoor::new(upstream)?;
    let binding = Binding::for_front_door(&door, "authorization", "Bearer ", Secret::new(TOKEN))?
        .with_list_token("anthropic-beta", "oauth-2025-04-20")?
        .removing("x-api-key")?;
    Ok(door.with_binding(binding))
}

#[tokio::test]
async fn a_loopback_upstream_gets_the_token_through_its_door_whatever_the_policy() -> TestResult {
    let local_model = Upstream::start(None).await?;
    let other_local = Upstream::start(None).await?;
    // Deny-all: the door's upstream is the user's choice on the host, not a policy decision.
    let (proxy, proxy_addr) = start_proxy(ProxyConfig::new(Policy::deny_all())).await?;
    let door = subscription_door(&format!("http://127.0.0.1:{}", local_model.addr.port()))?;
    assert!(door.is_loopback());
    let door_addr = serve_door(&proxy, door).await?;
    let mut sender = client(tokio::net::TcpStream::connect(door_addr).await?).await?;
    let req = http::Request::post("/v1/messages?beta=true")
        .header("authorization", "Bearer sk-ant-oat01-placeholder")
        .header("x-api-key", "sk-ant-api03-placeholder")
        .header(
            "anthropic-beta",
            "claude-code-20250219, fine-grained-tool-streaming",
        )
        .body(Full::new(Bytes::from_static(b"{}")))?;
    let got = send(&mut sender, req).await?;
    assert_eq!((got.status, got.body.as_str()), (200, "hello"));
    let seen = local_model.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/v1/messages?beta=true");
    assert_eq!(
        values(&seen[0], "authorization"),
        [format!("Bearer {TOKEN}")]
    );
    assert!(
        values(&seen[0], "x-api-key").is_empty(),
        "the placeholder key was forwarded"
    );
    assert_eq!(
        values(&seen[0], "anthropic-beta"),
        ["claude-code-20250219,fine-grained-tool-streaming,oauth-2025-04-20"]
    );
    // A flag already there is not added twice.
    let req = http::Request::get("/v1/models")
        .header("anthropic-beta", "oauth-2025-04-20")
        .body(Full::new(Bytes::new()))?;
    send(&mut sender, req).await?;
    assert_eq!(
        values(&local_model.seen()[1], "anthropic-beta"),
        ["oauth-2025-04-20"]
    );

    // Nothing else on loopback became reachable: not the other server, not the same one
    // through the proxy, by CONNECT or by absolute URL.
    for target in [other_local.addr, local_model.addr] {
        let (status, head, _) = open_connect(proxy_addr, &target.to_string()).await?;
        assert_eq!(status, 403, "{head}");
        let raw =
            format!("GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        let head = raw_exchange(proxy_addr, raw.as_bytes()).await?;
        assert_eq!(status_of(&head), 403, "{head}");
    }
    assert!(other_local.seen().is_empty());
    assert_eq!(local_model.seen().len(), 2);
    // An absolute-form target naming another host is refused, not redirected.
    let mut sender = client(tokio::net::TcpStream::connect(door_addr).await?).await?;
    let got = send(
        &mut sender,
        get(
            &format!("http://127.0.0.1:{}/", other_local.addr.port()),
            "x",
        )?,
    )
    .await?;
    assert_eq!(got.status, 400);
    assert!(other_local.seen().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_chatgpt_door_sets_the_token_and_the_account() -> TestResult {
    let backend = Upstream::start(None).await?;
    let (proxy, _) = start_proxy(ProxyConfig::new(Policy::deny_all())).await?;
    let door = FrontDoor::new(&format!("http://localhost:{}", backend.addr.port()))?;
    let auth = Binding::for_front_door(
        &door,
        "authorization",
        "Bearer ",
        Secret::new("chatgpt-access-token"),
    )?;
    let account =
        Binding::for_front_door(&door, "chatgpt-account-id", "", Secret::new("acct-123"))?;
    let door = door.with_binding(auth).with_binding(account);
    let addr = serve_door(&proxy, door).await?;
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    let req = http::Request::post("/backend-api/codex/responses")
        .header("authorization", "Bearer placeholder")
        .header("chatgpt-account-id", "attacker-account")
        .body(Full::new(Bytes::from_static(b"{}")))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    let seen = &backend.seen()[0];
    assert_eq!(seen.uri, "/backend-api/codex/responses");
    assert_eq!(
        values(seen, "authorization"),
        ["Bearer chatgpt-access-token"]
    );
    assert_eq!(values(seen, "chatgpt-account-id"), ["acct-123"]);
    Ok(())
}

#[tokio::test]
async fn plaintext_doors_are_only_for_loopback_and_a_dead_loopback_upstream_is_502() -> TestResult {
    for bad in [
        "http://api.test",
        "http://10.0.0.5:8000",
        "http://[fd00::1]:80",
        "https://10.0.0.5",
        "ftp://127.0.0.1",
        "http://127.0.0.1:8080/v1",
    ] {
        let err = FrontDoor::new(bad).expect_err(bad).to_string();
        assert!(err.contains(bad), "{err}");
    }
    for good in [
        "http://127.0.0.1:11434",
        "http://127.1.2.3:80",
        "http://[::1]:8000",
        "http://localhost:4000",
        "https://localhost:8443",
    ] {
        let door = FrontDoor::new(good).expect(good);
        assert!(door.is_loopback(), "{good}");
    }
    assert!(!FrontDoor::new("https://api.anthropic.com")?.is_loopback());
    assert_eq!(
        FrontDoor::new("http://[::1]:8000")?.origin(),
        "http://[::1]:8000"
    );
    // Nothing listens there: the sandbox gets a 502, not a hang.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = closed.local_addr()?.port();
    drop(closed);
    let (proxy, _) = start_proxy(ProxyConfig::new(Policy::deny_all())).await?;
    let addr = serve_door(
        &proxy,
        subscription_door(&format!("http://127.0.0.1:{port}"))?,
    )
    .await?;
    let mut sender = client(tokio::net::TcpStream::connect(addr).await?).await?;
    assert_eq!(
        send(&mut sender, get("/v1/models", "x")?).await?.status,
        502
    );
    // A door binding never prints its value.
    let door = subscription_door("http://127.0.0.1:1")?;
    assert!(!format!("{door:?}").contains(TOKEN));
    Ok(())
}
