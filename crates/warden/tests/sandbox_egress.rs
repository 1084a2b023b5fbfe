//! Egress from a sandbox: the allowlist, live policy changes, and credential brokering
//! through the front door and through TLS interception. Every upstream here is a
//! server this test runs on 127.0.0.1; names reach it through the proxy's test-only
//! resolver (`WARDEN_EGRESS_TEST_RESOLVE`), and its test CA through `WARDEN_EGRESS_TEST_ROOTS`.

mod sandbox_support;

use sandbox_support::{test_pki, wait_until, Sandboxes, Upstream};
use std::time::Duration;

const REAL_KEY: &str = "sk-ant-api03-REALKEY-0123456789abcdefghijklmnopqrstuvwxyz";

#[test]
fn only_allowed_domains_are_reachable_and_nothing_is_resolved_for_the_rest() {
    let s = Sandboxes::new();
    let allowed = Upstream::start(None);
    let sub = Upstream::start(None);
    let resolve = format!(
        "allowed.test=127.0.0.1:{},api.docs.test=127.0.0.1:{},docs.test=127.0.0.1:{},evildocs.test=127.0.0.1:{},docs.test.evil.test=127.0.0.1:{},meta.test~169.254.169.254,private.test~10.1.2.3",
        allowed.port, sub.port, sub.port, sub.port, sub.port
    );
    let script = "for u in http://allowed.test/ http://ALLOWED.TEST./x http://api.docs.test/ http://docs.test/ http://evildocs.test/ \
        http://docs.test.evil.test/ http://not-listed.test/ http://meta.test/ http://private.test/ http://127.0.0.1:9/; do \
          printf '%s %s\\n' \"$u\" \"$(curl -s --noproxy '' -o /dev/null -D - \"$u\" | tr -d '\\r' | grep -i '^x-warden-egress' | sed 's/.*reason=//')$(curl -s --noproxy '' -o /dev/null -w ' %{http_code}' \"$u\")\"; done";
    let mut cmd = s.cmd(&[
        "run",
        "--allow",
        "allowed.test",
        "--allow",
        "*.docs.test",
        "--allow",
        "meta.test",
        "--allow",
        "private.test",
        "--",
        "sh",
        "-c",
        script,
    ]);
    let asked = s.tmp.path().join("resolved.txt");
    let out = cmd
        .env("WARDEN_EGRESS_TEST_RESOLVE", &resolve)
        .env("WARDEN_EGRESS_TEST_RESOLVE_LOG", &asked)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expect = [
        ("http://allowed.test/", " 200"),
        ("http://ALLOWED.TEST./x", " 200"),
        ("http://api.docs.test/", " 200"),
        ("http://docs.test/", "not-allowed 403"),
        ("http://evildocs.test/", "not-allowed 403"),
        ("http://docs.test.evil.test/", "not-allowed 403"),
        ("http://not-listed.test/", "not-allowed 403"),
        ("http://meta.test/", "private-address 403"),
        ("http://private.test/", "private-address 403"),
        // Forced through the proxy (`--noproxy ''`): an IP literal is refused before any connect.
        ("http://127.0.0.1:9/", "ip-literal 403"),
    ];
    for (url, want) in expect {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{url} ")))
            .unwrap_or("");
        assert_eq!(
            line,
            format!("{url} {want}"),
            "\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        !sub.heads().contains("evildocs") && !sub.heads().contains("Host: docs.test\r"),
        "{}",
        sub.heads()
    );
    // Names the policy denies never reach a resolver: DNS cannot carry data out.
    let asked = std::fs::read_to_string(&asked).unwrap_or_default();
    for name in [
        "docs.test",
        "evildocs.test",
        "docs.test.evil.test",
        "not-listed.test",
    ] {
        assert!(
            !asked.lines().any(|l| l == name),
            "{name} was resolved: {asked}"
        );
    }
    assert!(asked.lines().any(|l| l == "allowed.test"), "{asked}");
}

#[test]
fn a_policy_change_reaches_a_running_process() {
    let s = Sandboxes::new();
    let up = Upstream::start(None);
    let resolve = format!("open.test=127.0.0.1:{}", up.port);
    let mut cmd = s.cmd(&["create", "--allow", "open.test"]);
    let out = cmd
        .env("WARDEN_EGRESS_TEST_RESOLVE", &resolve)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let poller = "while true; do curl -s -o /dev/null -w '%{http_code}\\n' http://open.test/ >> /workspace/codes; sleep 0.1; done";
    assert!(s
        .output(&["exec", &id, "--detach", "--", "sh", "-c", poller])
        .status
        .success());
    let codes = || s.sh(&id, "cat /workspace/codes 2>/dev/null").1;
    assert!(
        wait_until(Duration::from_secs(10), || codes().contains("200")),
        "{}",
        codes()
    );
    s.ok(&["policy", &id, "--deny-all"]);
    let seen = codes().lines().count();
    assert!(
        wait_until(Duration::from_secs(10), || codes()
            .lines()
            .skip(seen + 1)
            .filter(|c| *c == "403")
            .count()
            >= 3),
        "{}",
        codes()
    );
    assert!(
        !codes().lines().skip(seen + 1).any(|c| c == "200"),
        "allowed after deny-all:\n{}",
        codes()
    );
    assert_eq!(s.record(&id)["policy"], "deny-all");
    s.ok(&["policy", &id, "--allow", "open.test"]);
    let seen = codes().lines().count();
    assert!(
        wait_until(Duration::from_secs(10), || codes()
            .lines()
            .skip(seen + 1)
            .any(|c| c == "200")),
        "{}",
        codes()
    );
    let audit = std::fs::read_to_string(s.sandbox_dir(&id).join("audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"deny\"") && l.contains("open.test")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"allow\"") && l.contains("open.test")),
        "{audit}"
    );
}

#[test]
fn brokered_key_reaches_only_its_host_and_never_the_sandbox() {
    let s = Sandboxes::new();
    let (tls, ca_pem) = test_pki(&["api.anthropic.com"]);
    let anthropic = Upstream::start(Some(tls));
    let other = Upstream::start(None);
    let roots = s.tmp.path().join("roots.pem");
    std::fs::write(&roots, ca_pem).unwrap();
    let resolve = format!(
        "api.anthropic.com=127.0.0.1:{},other.test=127.0.0.1:{}",
        anthropic.port, other.port
    );
    let mut cmd = s.cmd(&["create", "--broker", "anthropic", "--allow", "other.test"]);
    cmd.env("WARDEN_EGRESS_TEST_RESOLVE", &resolve)
        .env("WARDEN_EGRESS_TEST_ROOTS", &roots)
        .env("ANTHROPIC_API_KEY", REAL_KEY)
        .env("HOME", s.tmp.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();

    assert_eq!(
        s.record(&id)["brokered"],
        serde_json::json!(["api.anthropic.com: x-api-key"])
    );
    // Inside: a placeholder and a plain-HTTP base URL; the real key nowhere.
    let (_, env, _) = s.sh(&id, "echo \"$ANTHROPIC_API_KEY|$ANTHROPIC_BASE_URL\"");
    let (placeholder, base) = env.trim().split_once('|').unwrap();
    assert!(
        placeholder.starts_with("sk-ant-") && placeholder != REAL_KEY,
        "{placeholder}"
    );
    assert_eq!(base, "http://127.0.0.1:3129");

    // (a) front door: plain HTTP in, verified HTTPS out with the real header.
    let (code, body, err) = s.sh(&id, "curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: $ANTHROPIC_API_KEY\" -d '{}'");
    assert_eq!((code, body.as_str()), (0, "upstream-ok"), "{err}");
    // (b) interception: HTTPS through the proxy, trusted through the sandbox's CA bundle;
    // a header the sandbox set itself is overwritten.
    let (code, body, err) = s.sh(&id, "curl -s https://api.anthropic.com/v1/messages -H 'x-api-key: attacker-chosen' -H 'x-probe: intercepted'");
    assert_eq!((code, body.as_str()), (0, "upstream-ok"), "{err}");
    let heads = anthropic.heads();
    assert_eq!(
        heads.matches(&format!("x-api-key: {REAL_KEY}")).count(),
        2,
        "{heads}"
    );
    assert!(
        !heads.contains(placeholder) && !heads.contains("attacker-chosen"),
        "{heads}"
    );
    assert!(heads.contains("x-probe: intercepted"), "{heads}");

    // The placeholder sent to an allowed but unbound host arrives unchanged.
    s.sh(
        &id,
        "curl -s http://other.test/ -H \"x-api-key: $ANTHROPIC_API_KEY\" >/dev/null",
    );
    let other_heads = other.heads();
    assert!(
        other_heads.contains(placeholder) && !other_heads.contains(REAL_KEY),
        "{other_heads}"
    );

    // A request whose Host disagrees with the CONNECT target is refused, not injected.
    let (_, code, _) = s.sh(
        &id,
        "curl -s -o /dev/null -w '%{http_code}' https://api.anthropic.com/ -H 'Host: other.test'",
    );
    assert_eq!(code, "421");

    // The key is in no process environment, file or log the sandbox or the host keeps.
    // The pattern is assembled from two halves so no command line ever holds it whole.
    let (k1, k2) = REAL_KEY.split_at(20);
    let script = format!(
        "K1='{k1}' K2='{k2}'; printf '%s%s' \"$K1\" \"$K2\" > /tmp/.pattern; \
         grep -rlF -f /tmp/.pattern --exclude=.pattern /proc/[0-9]*/environ /proc/[0-9]*/cmdline /workspace /home /tmp /run/warden/ca 2>/dev/null; echo end"
    );
    let (_, found, _) = s.sh(&id, &script);
    assert_eq!(
        found.trim(),
        "end",
        "the real key is visible inside: {found}"
    );
    for file in ["audit.log", "supervisor.log", "meta.json"] {
        let text = std::fs::read_to_string(s.sandbox_dir(&id).join(file)).unwrap_or_default();
        assert!(
            !text.contains(REAL_KEY) && !text.contains(placeholder),
            "{file} holds a secret or placeholder"
        );
    }
}

#[test]
fn a_secret_spec_binds_one_header_to_one_host() {
    let s = Sandboxes::new();
    let (tls, ca_pem) = test_pki(&["api.vendor.test"]);
    let vendor = Upstream::start(Some(tls));
    let roots = s.tmp.path().join("roots.pem");
    std::fs::write(&roots, ca_pem).unwrap();
    let mut cmd = s.cmd(&[
        "run",
        "--secret",
        "api.vendor.test:authorization=Bearer env:VENDOR_TOKEN",
        "--",
        "sh",
        "-c",
        "echo \"token=$VENDOR_TOKEN\"; curl -s https://api.vendor.test/v1 -H \"authorization: Bearer $VENDOR_TOKEN\"",
    ]);
    cmd.env(
        "WARDEN_EGRESS_TEST_RESOLVE",
        format!("api.vendor.test=127.0.0.1:{}", vendor.port),
    )
    .env("WARDEN_EGRESS_TEST_ROOTS", &roots)
    .env("VENDOR_TOKEN", "vendor-real-token-123");
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("upstream-ok"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("vendor-real-token-123"), "{text}");
    assert!(
        vendor
            .heads()
            .contains("authorization: Bearer vendor-real-token-123"),
        "{}",
        vendor.heads()
    );
}

#[test]
fn allow_all_still_refuses_internal_addresses_and_bad_domains_are_usage_errors() {
    let s = Sandboxes::new();
    let public = Upstream::start(None);
    let resolve = format!(
        "public.test=127.0.0.1:{},metadata.test~169.254.169.254,intranet.test~192.168.1.10",
        public.port
    );
    let script = "for u in http://public.test/ http://metadata.test/ http://intranet.test/; do \
        printf '%s %s\\n' $u $(curl -s -o /dev/null -w '%{http_code}' $u); done";
    let mut cmd = s.cmd(&["run", "--allow-all", "--", "sh", "-c", script]);
    let out = cmd
        .env("WARDEN_EGRESS_TEST_RESOLVE", &resolve)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        "http://public.test/ 200\nhttp://metadata.test/ 403\nhttp://intranet.test/ 403\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for bad in ["*", "*.com", "https://example.com", "example.com/path", ""] {
        let out = s.output(&["create", "--allow", bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--allow {bad:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("--allow"), "{err}");
    }
    let id = s.create(&[]);
    let out = s.output(&["policy", &id, "--allow", "*.com"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.record(&id)["policy"],
        "deny-all",
        "a refused policy must not change the record"
    );
}
