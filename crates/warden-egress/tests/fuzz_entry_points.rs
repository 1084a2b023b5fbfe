//! The entry points the fuzz targets drive (`warden_egress::fuzzing`), on inputs the
//! fuzzers found interesting: whole client connections served from memory, and target
//! parsing. Keeps the harness honest in the ordinary test run.

use warden_egress::fuzzing::{parse_absolute_target, parse_connect_target, serve_bytes};
use warden_egress::{FrontDoor, Policy, Proxy, ProxyConfig, Resolver, TestResolver};

fn proxy() -> Proxy {
    let mut config = ProxyConfig::new(Policy::allow_list(["allowed.test"]).expect("policy"));
    config.resolver = Resolver::test(TestResolver::new());
    Proxy::new(config).expect("proxy")
}

async fn answer(proxy: &Proxy, front: Option<&FrontDoor>, input: &[u8]) -> String {
    String::from_utf8_lossy(&serve_bytes(proxy, front, input).await).into_owned()
}

#[tokio::test]
async fn connections_served_from_memory_get_http_answers() {
    let proxy = proxy();
    let denied = answer(&proxy, None, b"GET http://other.test/ HTTP/1.1\r\n\r\n").await;
    assert!(
        denied.starts_with("HTTP/1.1 403") && denied.contains("reason=not-allowed"),
        "{denied}"
    );
    let unresolved = answer(&proxy, None, b"CONNECT allowed.test:443 HTTP/1.1\r\n\r\n").await;
    assert!(
        unresolved.starts_with("HTTP/1.1 403") && unresolved.contains("reason=resolve-failed"),
        "{unresolved}"
    );
    for bad in [
        &b"CONNECT user@allowed.test:443 HTTP/1.1\r\n\r\n"[..],
        b"CONNECT allowed.test:0 HTTP/1.1\r\n\r\n",
        b"CONNECT allowed.test HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
    ] {
        let got = answer(&proxy, None, bad).await;
        assert!(
            got.is_empty() || got.starts_with("HTTP/1.1 4"),
            "{bad:?}: {got}"
        );
    }
    let front = FrontDoor::new("https://allowed.test").expect("front door");
    let got = answer(
        &proxy,
        Some(&front),
        b"GET http://elsewhere.test/ HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
}

/// Found by `fuzz/fuzz_targets/egress_request.rs`: a malformed HTTP/1.0 request line
/// followed by bytes after the blank line gets a 400 in the client's own version, not a
/// hang or a dropped connection.
#[tokio::test]
async fn a_malformed_http_1_0_request_gets_a_400() {
    let proxy = proxy();
    let input = b"CT recret.fuzvvC.est:443 HTTP/1.0\r\n\r\n\x16\x00\x00\xdd\x00lfoo\r\nT recret.fuzvvvvvvvvvvvvvvvvvz.\x05hello";
    let got = answer(&proxy, None, input).await;
    assert!(
        got.starts_with("HTTP/1.0 400") || got.starts_with("HTTP/1.1 400"),
        "{got}"
    );
    assert!(got.contains("x-warden-egress: rejected"), "{got}");
}

#[test]
fn targets_parse_to_canonical_hosts_or_reasons() {
    assert_eq!(
        parse_connect_target(b"API.Test.:443"),
        Some(Ok(("api.test".to_string(), 443)))
    );
    assert!(matches!(parse_connect_target(b"a.test:0"), Some(Err(_))));
    assert_eq!(parse_connect_target(b""), None);
    assert_eq!(
        parse_absolute_target(b"http://[::1]/x"),
        Some(Ok(("::1".to_string(), 80)))
    );
}
