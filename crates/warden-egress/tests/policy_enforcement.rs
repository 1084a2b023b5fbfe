//! The policy as the sandbox meets it through the proxy: every case here is one attempt
//! to get out, and the assertion is that the proxy refused before connecting or resolving.

mod common;

use std::net::IpAddr;

use common::*;
use warden_egress::{Policy, ProxyConfig, Resolver, TestResolver};

fn config(policy: Policy, resolver: TestResolver) -> ProxyConfig {
    let mut config = ProxyConfig::new(policy);
    config.resolver = Resolver::test(resolver);
    config
}

#[tokio::test]
async fn connect_to_an_unlisted_name_is_403_and_the_name_is_never_resolved() -> TestResult {
    let (echo, hits) = echo_server().await?;
    let table = TestResolver::new()
        .pin("allowed.test", echo)?
        .pin("secret-data.attacker.test", echo)?;
    let (_proxy, addr) =
        start_proxy(config(Policy::allow_list(["allowed.test"])?, table.clone())).await?;

    let (status, head, _) = open_connect(addr, "secret-data.attacker.test:443").await?;
    assert_eq!(status, 403, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-warden-egress: denied; reason=not-allowed"),
        "{head}"
    );
    assert!(
        table.queries().is_empty(),
        "a denied name was resolved: {:?}",
        table.queries()
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn wildcard_edges_case_and_trailing_dots_through_the_proxy() -> TestResult {
    let (echo, _) = echo_server().await?;
    let mut table = TestResolver::new();
    for name in [
        "api.x.test",
        "x.test",
        "evilx.test",
        "x.test.evil.net",
        "deep.api.x.test",
    ] {
        table = table.pin(name, echo)?;
    }
    let (_proxy, addr) =
        start_proxy(config(Policy::allow_list(["*.x.test"])?, table.clone())).await?;
    for (target, want) in [
        ("x.test:443", 403),
        ("evilx.test:443", 403),
        ("x.test.evil.net:443", 403),
        ("api.x.test:443", 200),
        ("API.X.Test.:443", 200),
        ("deep.api.x.test:443", 200),
    ] {
        let (status, head, _) = open_connect(addr, target).await?;
        assert_eq!(status, want, "{target}: {head}");
    }
    // Only the allowed names were ever looked up, in normalised form.
    assert_eq!(
        table.queries(),
        ["api.x.test", "api.x.test", "deep.api.x.test"]
    );
    Ok(())
}

#[tokio::test]
async fn ip_literals_are_refused_before_any_connect() -> TestResult {
    let (echo, hits) = echo_server().await?;
    let (_proxy, addr) = start_proxy(config(
        Policy::allow_list(["allowed.test"])?,
        TestResolver::new(),
    ))
    .await?;
    let port = echo.port();
    for target in [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "1.1.1.1:443".into(),
        "192.0.2.1:80".into(),
    ] {
        let (status, head, _) = open_connect(addr, &target).await?;
        assert_eq!(status, 403, "{target}: {head}");
        assert!(head.contains("reason=ip-literal"), "{target}: {head}");
    }
    // Absolute-form too.
    let got = raw_exchange(
        addr,
        format!(
            "GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    assert!(
        got.starts_with("HTTP/1.1 403") && got.contains("reason=ip-literal"),
        "{got}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn a_listed_ip_literal_is_still_filtered_as_an_address() -> TestResult {
    let (echo, hits) = echo_server().await?;
    let policy = Policy::allow_list(["127.0.0.1", "10.0.0.7"])?;
    let (_proxy, addr) = start_proxy(config(policy, TestResolver::new())).await?;
    for target in [format!("127.0.0.1:{}", echo.port()), "10.0.0.7:80".into()] {
        let (status, head, _) = open_connect(addr, &target).await?;
        assert_eq!(status, 403, "{head}");
        assert!(head.contains("reason=private-address"), "{head}");
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn allowed_names_resolving_to_internal_addresses_are_refused() -> TestResult {
    let (echo, hits) = echo_server().await?;
    let ip = |s: &str| s.parse::<IpAddr>();
    let table = TestResolver::new()
        .dns("metadata.test", ip("169.254.169.254")?)
        .dns("rfc1918.test", ip("10.1.2.3")?)
        .dns("cgnat.test", ip("100.64.1.1")?)
        .dns("ula.test", ip("fd00::1")?)
        .dns("mapped.test", ip("::ffff:169.254.169.254")?)
        .dns("linklocal6.test", ip("fe80::1")?)
        // A loopback answer pointing at a live server: it must not receive a connection.
        .dns("loopback.test", echo.ip())
        // Public and internal answers mixed: refused as a whole.
        .dns("mixed.test", ip("93.184.216.34")?)
        .dns("mixed.test", ip("192.168.0.1")?);
    let names = [
        "metadata.test",
        "rfc1918.test",
        "cgnat.test",
        "ula.test",
        "mapped.test",
        "linklocal6.test",
        "loopback.test",
        "mixed.test",
    ];
    let (_proxy, addr) = start_proxy(config(Policy::allow_list(names)?, table.clone())).await?;
    for name in names {
        let (status, head, _) = open_connect(addr, &format!("{name}:{}", echo.port())).await?;
        assert_eq!(status, 403, "{name}: {head}");
        assert!(head.contains("reason=private-address"), "{name}: {head}");
    }
    let got = raw_exchange(addr, b"GET http://metadata.test/latest/meta-data/ HTTP/1.1\r\nHost: metadata.test\r\nConnection: close\r\n\r\n").await?;
    assert!(
        got.starts_with("HTTP/1.1 403") && got.contains("reason=private-address"),
        "{got}"
    );
    assert!(
        got.contains("metadata.test denied (private-address)"),
        "{got}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn unresolvable_and_deny_all() -> TestResult {
    let (proxy, addr) = start_proxy(config(
        Policy::allow_list(["nowhere.test"])?,
        TestResolver::new(),
    ))
    .await?;
    let (status, head, _) = open_connect(addr, "nowhere.test:443").await?;
    assert_eq!(status, 403);
    assert!(head.contains("reason=resolve-failed"), "{head}");
    proxy.set_policy(Policy::deny_all());
    let (status, head, _) = open_connect(addr, "nowhere.test:443").await?;
    assert_eq!(status, 403);
    assert!(head.contains("reason=deny-all"), "{head}");
    Ok(())
}

#[tokio::test]
async fn malformed_requests_get_400() -> TestResult {
    let (echo, hits) = echo_server().await?;
    let table = TestResolver::new().pin("ok.test", echo)?;
    let (_proxy, addr) = start_proxy(config(Policy::allow_all(), table)).await?;
    let cases: [&[u8]; 7] = [
        b"GET /origin-form HTTP/1.1\r\nHost: ok.test\r\n\r\n",
        b"CONNECT ok.test HTTP/1.1\r\nHost: ok.test\r\n\r\n",
        b"CONNECT user@ok.test:443 HTTP/1.1\r\nHost: ok.test\r\n\r\n",
        b"CONNECT ok.test\r\n.evil:443 HTTP/1.1\r\nHost: ok.test\r\n\r\n",
        b"CONNECT ok .test:443 HTTP/1.1\r\nHost: ok.test\r\n\r\n",
        b"GET http://user:pw@ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n",
        b"GET https://ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n",
    ];
    for raw in cases {
        let got = raw_exchange(addr, raw).await?;
        assert!(
            got.starts_with("HTTP/1.1 400"),
            "{:?} -> {got:?}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    Ok(())
}
