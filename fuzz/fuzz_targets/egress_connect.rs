//! The egress proxy's reading of CONNECT and absolute-form targets, and of allow-list
//! entries, on arbitrary bytes: never a panic; a target it accepts has a canonical host
//! (what the policy and the audit log see), a non-zero port and no userinfo; canonical
//! forms are fixed points; an entry that parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_egress::fuzzing::{canonical_host, parse_absolute_target, parse_connect_target};
use warden_egress::{Pattern, Policy};

fn check_target(input: &[u8], host: &str, port: u16) {
    assert_ne!(port, 0, "port 0 accepted from {input:?}");
    assert_eq!(
        canonical_host(host).as_deref(),
        Some(host),
        "{host:?} (from {input:?}) is not canonical"
    );
    assert!(!input.contains(&b'@'), "userinfo accepted in {input:?}");
    let policy = Policy::allow_list(["allowed.test", "*.wild.test"]).expect("policy");
    let _ = policy.decide_host(host);
}

fuzz_target!(|input: &[u8]| {
    if let Some(Ok((host, port))) = parse_connect_target(input) {
        check_target(input, &host, port);
    }
    let mut url = b"http://".to_vec();
    url.extend_from_slice(input);
    if let Some(Ok((host, port))) = parse_absolute_target(&url) {
        let _ = port;
        assert_eq!(canonical_host(&host).as_deref(), Some(host.as_str()));
    }
    if let Ok(text) = std::str::from_utf8(input) {
        if let Some(canon) = canonical_host(text) {
            assert_eq!(canonical_host(&canon), Some(canon.clone()), "{text:?}");
        }
        if let Ok(pattern) = Pattern::parse(text) {
            let printed = String::from(pattern.clone());
            assert_eq!(
                Pattern::parse(&printed).ok(),
                Some(pattern.clone()),
                "{text:?}"
            );
            let _ = pattern.never_reachable();
        }
    }
});
