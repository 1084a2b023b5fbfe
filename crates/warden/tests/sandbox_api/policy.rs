//! Deny lists and per-domain header transforms, at create and live.

use crate::fixture::{files_holding, library, net, run};
use warden_sandbox::{
    HeaderTransform, NetworkPolicy, PolicyMode, PolicyUpdate, Sandbox, SandboxSpec, Secret,
};

const FIRST: &str = "sk-transform-FIRST-0123456789";
const SECOND: &str = "sk-transform-SECOND-9876543210";

fn key(value: &str) -> HeaderTransform {
    HeaderTransform::new("api.test").header("X-Api-Key", Secret::new(value))
}

/// `curl` from inside: the status and the egress marker (when refused), or how curl failed.
fn status(lib: &warden_sandbox::Sandboxes, id: &str, url: &str) -> String {
    let script = format!(
        "code=$(curl -s -o /dev/null -D /tmp/h -w '%{{http_code}}' -H 'x-api-key: from-sandbox' '{url}') \
           || {{ echo \"curl-exit $?\"; exit 0; }}; \
         echo \"$code $(tr -d '\\r' < /tmp/h | grep -i '^x-warden-egress:')\""
    );
    run(lib, id, &script).0.trim().to_string()
}

/// The `x-api-key` the upstream saw on the request for `path`.
fn key_seen(path: &str) -> Option<String> {
    let heads = net().api.heads();
    let head = heads
        .split("\n---\n")
        .find(|h| h.starts_with(&format!("GET {path} ")))?;
    head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with("x-api-key:")
            .then(|| l["x-api-key:".len()..].trim().to_string())
    })
}

#[test]
fn transforms_given_at_create_and_replaced_live_reach_the_upstream_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let spec = SandboxSpec {
        policy: NetworkPolicy::Allow(vec!["api.test".into(), "plain.test".into()]),
        transforms: vec![key(FIRST)],
        ..SandboxSpec::default()
    };
    let sandbox = Sandbox::create(&lib, &spec).unwrap();
    let id = sandbox.id().to_string();
    assert_eq!(status(&lib, &id, "https://api.test/transform-1"), "200");
    assert_eq!(key_seen("/transform-1").as_deref(), Some(FIRST));
    // Plain HTTP never carries a secret: what the sandbox sent arrives unchanged.
    assert_eq!(
        status(&lib, &id, "http://plain.test/transform-plain"),
        "200"
    );
    assert!(!net().plain.heads().contains(FIRST));

    let view = lib
        .update_policy(
            &id,
            &PolicyUpdate {
                policy: NetworkPolicy::AllowAll,
                deny: vec!["denied.test".into()],
                transforms: vec![key(SECOND)],
            },
        )
        .unwrap();
    assert_eq!(view.mode, PolicyMode::AllowAll);
    assert_eq!(view.deny, ["denied.test"]);
    assert_eq!(
        view.transforms.get("api.test").cloned(),
        Some(vec!["x-api-key".to_string()])
    );
    assert_eq!(lib.policy(&id).unwrap(), view);
    assert_eq!(status(&lib, &id, "https://api.test/transform-2"), "200");
    assert_eq!(key_seen("/transform-2").as_deref(), Some(SECOND));
    assert_eq!(
        status(&lib, &id, "http://plain.test/after-allow-all"),
        "200"
    );
    assert_eq!(
        status(&lib, &id, "http://denied.test/x"),
        "403 x-warden-egress: denied; reason=deny-list"
    );

    // Without transforms the host is no longer intercepted: the tunnel is opaque, and
    // the sandbox does not trust the upstream's own (test) CA.
    lib.update_policy(
        &id,
        &PolicyUpdate {
            policy: NetworkPolicy::Allow(vec!["api.test".into()]),
            ..PolicyUpdate::default()
        },
    )
    .unwrap();
    assert_eq!(
        status(&lib, &id, "https://api.test/transform-3"),
        "curl-exit 60"
    );
    assert_eq!(key_seen("/transform-3"), None);

    // The values were in no file of the sandbox: record, logs, audit log, workspace.
    let dir = lib.root().sandbox_dir(&id);
    for secret in [FIRST, SECOND] {
        assert_eq!(
            files_holding(dir.path(), secret),
            Vec::<std::path::PathBuf>::new()
        );
    }
    let audit = std::fs::read_to_string(dir.audit_log()).unwrap();
    assert!(audit.contains("\"injected\":true"), "{audit}");
    sandbox.destroy().unwrap();
}

#[test]
fn a_bad_update_names_its_domain_or_header_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let spec = SandboxSpec {
        policy: NetworkPolicy::Allow(vec!["api.test".into()]),
        transforms: vec![key(FIRST)],
        ..SandboxSpec::default()
    };
    let sandbox = Sandbox::create(&lib, &spec).unwrap();
    let id = sandbox.id().to_string();
    let before = lib.policy(&id).unwrap();
    let bad = [
        (
            PolicyUpdate {
                policy: NetworkPolicy::Allow(vec!["plain.test".into()]),
                transforms: vec![key(SECOND)],
                ..PolicyUpdate::default()
            },
            "api.test",
        ),
        (
            PolicyUpdate {
                policy: NetworkPolicy::AllowAll,
                transforms: vec![
                    HeaderTransform::new("api.test").header("bad header", Secret::new(SECOND))
                ],
                ..PolicyUpdate::default()
            },
            "bad header",
        ),
        (
            PolicyUpdate {
                policy: NetworkPolicy::AllowAll,
                deny: vec!["*.".into()],
                ..PolicyUpdate::default()
            },
            "*.",
        ),
    ];
    for (update, needle) in bad {
        let err = lib.update_policy(&id, &update).unwrap_err();
        assert!(err.is_usage(), "{err}");
        let text = err.to_string();
        assert!(text.contains(needle) && !text.contains(SECOND), "{text}");
    }
    assert_eq!(lib.policy(&id).unwrap(), before);
    assert_eq!(status(&lib, &id, "https://api.test/unchanged"), "200");
    assert_eq!(key_seen("/unchanged").as_deref(), Some(FIRST));
    // At create, the same checks, before anything starts.
    let err = Sandbox::create(
        &lib,
        &SandboxSpec {
            transforms: vec![key(FIRST)],
            ..SandboxSpec::default()
        },
    )
    .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("api.test"),
        "{err}"
    );
    assert!(!err.to_string().contains(FIRST), "{err}");
    sandbox.destroy().unwrap();
}
