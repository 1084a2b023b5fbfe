use super::*;

fn list(entries: &[&str]) -> Policy {
    match Policy::allow_list(entries) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn wildcard_matches_subdomains_only() {
    let p = list(&["*.example.com"]);
    let table = [
        ("api.example.com", true),
        ("a.b.example.com", true),
        ("API.Example.COM.", true),
        ("example.com", false),
        ("evilexample.com", false),
        ("example.com.evil.net", false),
        (".example.com", false),
        ("xexample.com", false),
    ];
    for (host, allowed) in table {
        assert_eq!(p.decide_host(host).is_allowed(), allowed, "{host}");
    }
}

#[test]
fn exact_entries_are_normalised_on_both_sides() {
    let p = list(&["API.Anthropic.com."]);
    for host in [
        "api.anthropic.com",
        "API.ANTHROPIC.COM",
        "api.anthropic.com.",
        "api.anthropic.com..",
    ] {
        assert_eq!(p.decide_host(host), Decision::Allow, "{host}");
    }
    for host in [
        "anthropic.com",
        "x.api.anthropic.com",
        "api.anthropic.com.evil.net",
    ] {
        assert_eq!(
            p.decide_host(host),
            Decision::Deny(DenyReason::NotAllowed),
            "{host}"
        );
    }
}

#[test]
fn invalid_entries_are_rejected_naming_the_entry() {
    for entry in [
        "",
        "  ",
        "*",
        "*.com",
        "*.",
        "https://example.com",
        "example.com/path",
        "example.com:443",
        "example.com:abc",
        "exa mple.com",
        "ex*ample.com",
        "a.*.example.com",
        "-bad.com",
        "127.1",
    ] {
        match Pattern::parse(entry) {
            Err(PolicyError::InvalidEntry { entry: named, .. }) => assert_eq!(named, entry),
            Ok(p) => panic!("{entry:?} was accepted as {p:?}"),
        }
    }
    let msg = Policy::allow_list(["ok.com", "*.com"])
        .err()
        .map(|e| e.to_string());
    assert!(msg.is_some_and(|m| m.contains("\"*.com\"")));
}

#[test]
fn ip_literals_are_denied_unless_listed_exactly() {
    let p = list(&["*.example.com", "203.0.113.7", "[2001:db8::1]"]);
    let table = [
        ("1.1.1.1", Decision::Deny(DenyReason::IpLiteral)),
        ("[::1]", Decision::Deny(DenyReason::IpLiteral)),
        ("::1", Decision::Deny(DenyReason::IpLiteral)),
        ("169.254.169.254", Decision::Deny(DenyReason::IpLiteral)),
        ("203.0.113.7", Decision::Allow),
        ("[2001:db8::1]", Decision::Allow),
        ("2001:DB8:0::1", Decision::Allow),
        ("127.1", Decision::Deny(DenyReason::InvalidHost)),
        ("0x7f.0.0.1", Decision::Deny(DenyReason::InvalidHost)),
        ("bad host", Decision::Deny(DenyReason::InvalidHost)),
        ("a\r\nb.com", Decision::Deny(DenyReason::InvalidHost)),
    ];
    for (host, want) in table {
        assert_eq!(p.decide_host(host), want, "{host}");
    }
}

#[test]
fn deny_all_and_allow_all() {
    assert_eq!(
        Policy::deny_all().decide_host("example.com"),
        Decision::Deny(DenyReason::DenyAll)
    );
    assert_eq!(
        Policy::allow_all().decide_host("example.com"),
        Decision::Allow
    );
    assert_eq!(
        Policy::allow_all().decide_host("bad_/host"),
        Decision::Deny(DenyReason::InvalidHost)
    );
}

#[test]
fn policy_round_trips_through_json() {
    let p = list(&["*.example.com", "api.test"]);
    let json = serde_json::to_string(&p).unwrap_or_default();
    assert_eq!(
        json,
        r#"{"mode":"allow-list","domains":["*.example.com","api.test"]}"#
    );
    let back: Result<Policy, _> = serde_json::from_str(&json);
    assert_eq!(back.ok(), Some(p));
    let bad: Result<Policy, _> = serde_json::from_str(r#"{"mode":"allow-list","domains":["*"]}"#);
    assert!(bad.is_err());
}

#[test]
fn internal_literals_and_local_names_are_never_reachable() {
    for entry in [
        "169.254.169.254",
        "127.0.0.1",
        "10.0.0.7",
        "[::1]",
        "::ffff:127.0.0.1",
        "localhost",
        "LocalHost.",
        "app.localhost",
        "localhost.localdomain",
    ] {
        let p = Pattern::parse(entry).map_err(|e| e.to_string());
        assert!(
            p.as_ref().is_ok_and(|p| p.never_reachable().is_some()),
            "{entry}: {p:?}"
        );
    }
    for entry in [
        "example.com",
        "*.example.com",
        "1.1.1.1",
        "localhost.example.com",
    ] {
        let p = Pattern::parse(entry).map_err(|e| e.to_string());
        assert!(
            p.as_ref().is_ok_and(|p| p.never_reachable().is_none()),
            "{entry}: {p:?}"
        );
    }
}

#[test]
fn a_deny_list_carves_hosts_out_of_wildcards_and_allow_all() {
    let carved = match list(&["*.example.com"]).except(["bad.example.com", "*.evil.example.com"]) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let table = [
        ("api.example.com", Decision::Allow),
        ("BAD.example.com.", Decision::Deny(DenyReason::DenyList)),
        ("x.evil.example.com", Decision::Deny(DenyReason::DenyList)),
        ("other.org", Decision::Deny(DenyReason::NotAllowed)),
    ];
    for (host, want) in table {
        assert_eq!(carved.decide_host(host), want, "{host}");
    }
    let open = match Policy::allow_all().except(["tracker.test"]) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(open.decide_host("anything.test"), Decision::Allow);
    assert_eq!(
        open.decide_host("tracker.test"),
        Decision::Deny(DenyReason::DenyList)
    );
    assert_eq!(
        Policy::allow_all().except(Vec::<String>::new()).ok(),
        Some(Policy::AllowAll)
    );
    let bad = Policy::allow_all().except(["https://x.test/"]).unwrap_err();
    assert!(bad.to_string().contains("https://x.test/"), "{bad}");
}
