//! Bindings replaced on a running proxy: the next request, in an open intercepted
//! tunnel too, carries the new value; a proxy built without a CA refuses them.

mod common;

use common::*;
use warden_egress::{Binding, EgressError, Policy, ProxyConfig, Resolver, Secret, TestResolver};

#[tokio::test]
async fn replaced_bindings_reach_the_next_request_of_an_open_tunnel() -> TestResult {
    let pki = TestPki::new()?;
    let api = Upstream::start(Some(pki.server_config(&["api.test"])?)).await?;
    let mut config = ProxyConfig::new(Policy::allow_list(["api.test"])?);
    config.live_bindings = true;
    config.extra_roots = vec![pki.ca_der()];
    config.resolver = Resolver::test(TestResolver::new().pin("api.test", api.addr)?);
    let (proxy, addr) = start_proxy(config).await?;
    let ca = proxy.ca_pem().ok_or("live bindings made no CA")?;

    proxy.set_bindings(vec![Binding::new(
        "api.test",
        "x-api-key",
        Secret::new("first-value"),
    )?])?;
    let (status, _, tunnel) = open_connect(addr, "api.test:443").await?;
    assert_eq!(status, 200);
    let mut sender =
        client(tls_in_tunnel(&tls_client_trusting(&ca)?, "api.test", tunnel).await?).await?;
    let with_key = |key: &str| -> Result<_, BoxError> {
        Ok(http::Request::get("/")
            .header("host", "api.test")
            .header("x-api-key", key)
            .body(http_body_util::Full::new(bytes::Bytes::new()))?)
    };
    assert_eq!(
        send(&mut sender, with_key("sandbox-sent")?).await?.status,
        200
    );
    proxy.set_bindings(vec![Binding::new(
        "api.test",
        "x-api-key",
        Secret::new("second-value"),
    )?])?;
    assert_eq!(
        send(&mut sender, with_key("sandbox-sent")?).await?.status,
        200
    );
    proxy.set_bindings(Vec::new())?;
    assert_eq!(
        send(&mut sender, with_key("sandbox-sent")?).await?.status,
        200
    );
    let keys: Vec<String> = api
        .seen()
        .iter()
        .map(|s| {
            s.headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(keys, ["first-value", "second-value", "sandbox-sent"]);

    let duplicate = proxy.set_bindings(vec![
        Binding::new("api.test", "x-api-key", Secret::new("a"))?,
        Binding::new("API.test", "X-Api-Key", Secret::new("b"))?,
    ]);
    assert!(
        matches!(duplicate, Err(EgressError::DuplicateBinding { .. })),
        "{duplicate:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_proxy_without_a_ca_refuses_bindings_later() -> TestResult {
    let (proxy, _) = start_proxy(ProxyConfig::new(Policy::allow_all())).await?;
    assert!(proxy.ca_pem().is_none());
    let refused = proxy.set_bindings(vec![Binding::new(
        "api.test",
        "x-api-key",
        Secret::new("v"),
    )?]);
    assert!(
        matches!(refused, Err(EgressError::NoInterceptionCa)),
        "{refused:?}"
    );
    assert!(proxy.set_bindings(Vec::new()).is_ok());
    let shown = format!(
        "{} {:?}",
        Secret::new("hidden-value"),
        Secret::new("hidden-value")
    );
    assert!(!shown.contains("hidden-value"), "{shown}");
    Ok(())
}
