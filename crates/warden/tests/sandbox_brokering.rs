//! Brokering every kind of credential a user has into a sandbox, end to end: API keys,
//! the auth-token pair, the AI Gateway (both providers), a Claude subscription and a
//! ChatGPT login. The real value reaches only the upstream (a server this test runs on
//! 127.0.0.1, as a base URL the user set on the host, or behind a test certificate for
//! the provider's own host), never the sandbox; policy changes never break brokering.

mod sandbox_support;

use sandbox_support::{assert_secret_nowhere, secret_places, test_pki, Sandboxes, Upstream};
use std::path::Path;
use std::process::Command;

const ANTHROPIC_KEY: &str = "sk-ant-api03-BROKERED-REAL-KEY-0123456789abcdef";
const AUTH_TOKEN: &str = "bypass-REAL-AUTH-TOKEN-0123456789abcdef";
const GATEWAY_KEY: &str = "vck_BROKERED-REAL-GATEWAY-KEY-0123456789";
const CLAUDE_TOKEN: &str = "sk-ant-oat01-REAL-SUBSCRIPTION-TOKEN-0123456789";
const CHATGPT_TOKEN: &str = "chatgpt-REAL-ACCESS-TOKEN-0123456789abcdef";
const ACCOUNT: &str = "acct-0123-4567";

/// Every variable a credential could come from, removed so the test machine's own
/// credentials never leak into a case.
const CREDENTIAL_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "CLAUDE_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "OPENAI_BASE_URL",
    "AI_GATEWAY_API_KEY",
    "VERCEL_OIDC_TOKEN",
];

/// A machine with only the credentials a case gives it: its own HOME and working
/// directory (no `.env` files), its variables, and the test resolver and roots.
struct Machine {
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn env(mut self, name: &str, value: &str) -> Machine {
        self.env.push((name.into(), value.into()));
        self
    }

    fn file(self, rel: &str, text: &str) -> Machine {
        let path = self.home.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn cmd(&self, s: &Sandboxes, args: &[&str]) -> Command {
        let mut cmd = s.cmd(args);
        for var in CREDENTIAL_VARS {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home.path())
            .current_dir(self.home.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `create ARGS` → the id.
    fn create(&self, s: &Sandboxes, args: &[&str]) -> String {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let out = self.cmd(s, &all).output().unwrap();
        assert!(
            out.status.success(),
            "create {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The test CA for `host` in a roots file, and a TLS upstream holding its certificate.
fn tls_upstream(s: &Sandboxes, host: &str) -> (Upstream, String) {
    let (tls, ca_pem) = test_pki(&[host]);
    let roots = s.tmp.path().join(format!("roots-{host}.pem"));
    std::fs::write(&roots, ca_pem).unwrap();
    (Upstream::start(Some(tls)), roots.display().to_string())
}

/// `VAR` inside the sandbox.
fn var(s: &Sandboxes, id: &str, name: &str) -> String {
    s.sh(id, &format!("printf '%s' \"${name}\"")).1
}

#[test]
fn each_kind_of_credential_reaches_only_its_upstream_through_the_door() {
    let s = Sandboxes::new();
    // (name, machine, --broker, placeholder variable, request inside, header the upstream must see, secret)
    struct Case {
        name: &'static str,
        machine: Machine,
        broker: &'static str,
        placeholder_var: &'static str,
        request: &'static str,
        want: Vec<String>,
        refused: Vec<&'static str>,
        secret: &'static str,
    }
    let up = Upstream::start(None);
    let base = format!("http://127.0.0.1:{}", up.port);
    let cases = vec![
        Case {
            name: "anthropic api key",
            machine: Machine::new()
                .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
                .env("ANTHROPIC_BASE_URL", &base),
            broker: "anthropic",
            placeholder_var: "ANTHROPIC_API_KEY",
            request: "curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: $ANTHROPIC_API_KEY\" -d '{}'",
            want: vec![format!("x-api-key: {ANTHROPIC_KEY}"), "POST /v1/messages".into()],
            refused: vec![],
            secret: ANTHROPIC_KEY,
        },
        Case {
            name: "auth token pair",
            machine: Machine::new()
                .env("ANTHROPIC_AUTH_TOKEN", AUTH_TOKEN)
                .env("ANTHROPIC_BASE_URL", &format!("{base}/anthropic")),
            broker: "anthropic",
            placeholder_var: "ANTHROPIC_AUTH_TOKEN",
            request: "curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"authorization: Bearer $ANTHROPIC_AUTH_TOKEN\" -H 'x-api-key: stray' -d '{}'",
            want: vec![
                format!("authorization: Bearer {AUTH_TOKEN}"),
                "POST /anthropic/v1/messages".into(),
            ],
            refused: vec!["x-api-key"],
            secret: AUTH_TOKEN,
        },
        Case {
            name: "claude subscription",
            machine: Machine::new()
                .file(
                    ".claude/.credentials.json",
                    &format!(r#"{{"claudeAiOauth":{{"accessToken":"{CLAUDE_TOKEN}"}}}}"#),
                )
                .env("ANTHROPIC_BASE_URL", &base),
            broker: "anthropic",
            placeholder_var: "CLAUDE_CODE_OAUTH_TOKEN",
            request: "curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages?beta=true\" -H \"authorization: Bearer $CLAUDE_CODE_OAUTH_TOKEN\" -H 'anthropic-beta: claude-code-20250219' -H 'x-api-key: stray' -d '{}'",
            want: vec![
                format!("authorization: Bearer {CLAUDE_TOKEN}"),
                "anthropic-beta: claude-code-20250219,oauth-2025-04-20".into(),
            ],
            refused: vec!["x-api-key"],
            secret: CLAUDE_TOKEN,
        },
        Case {
            name: "chatgpt login",
            machine: Machine::new()
                .file(
                    ".codex/auth.json",
                    &format!(r#"{{"tokens":{{"access_token":"{CHATGPT_TOKEN}","account_id":"{ACCOUNT}"}}}}"#),
                )
                .env("OPENAI_BASE_URL", &format!("{base}/v1")),
            broker: "openai",
            placeholder_var: "OPENAI_API_KEY",
            request: "curl -s -X POST \"$OPENAI_BASE_URL/responses\" -H \"authorization: Bearer $OPENAI_API_KEY\" -H 'chatgpt-account-id: chosen-inside' -d '{}'",
            want: vec![
                format!("authorization: Bearer {CHATGPT_TOKEN}"),
                format!("chatgpt-account-id: {ACCOUNT}"),
                "POST /v1/responses".into(),
            ],
            refused: vec!["chosen-inside"],
            secret: CHATGPT_TOKEN,
        },
    ];
    for case in cases {
        let before = up.count();
        let id = case.machine.create(&s, &["--broker", case.broker]);
        let placeholder = var(&s, &id, case.placeholder_var);
        assert!(
            !placeholder.is_empty() && placeholder != case.secret,
            "{}: {placeholder:?}",
            case.name
        );
        let (code, body, err) = s.sh(&id, case.request);
        assert_eq!(
            (code, body.as_str()),
            (0, "upstream-ok"),
            "{}: {err}",
            case.name
        );
        assert_eq!(up.count(), before + 1, "{}", case.name);
        let heads = up.heads();
        let head = heads.rsplit("\n---\n").next().unwrap_or_default();
        for want in &case.want {
            assert!(
                head.contains(want.as_str()),
                "{}: wanted {want}\n{head}",
                case.name
            );
        }
        for refused in &case.refused {
            assert!(
                !head.contains(refused),
                "{}: {refused} forwarded\n{head}",
                case.name
            );
        }
        assert!(
            !head.contains(&placeholder),
            "{}: the placeholder was forwarded",
            case.name
        );
        // The loopback upstream is the door's alone: not through the proxy, not directly.
        let probe = format!(
            "curl -s -o /dev/null -w '%{{http_code}}' --noproxy '' http://127.0.0.1:{0}/; echo; \
             curl -s -o /dev/null -w '%{{http_code}}' --noproxy '*' --max-time 2 http://127.0.0.1:{0}/; echo \" $?\"",
            up.port
        );
        let (_, probed, _) = s.sh(&id, &probe);
        assert_eq!(probed, "403\n000 7\n", "{}", case.name);
        assert_eq!(
            up.count(),
            before + 1,
            "{}: reached around the door",
            case.name
        );
        assert_secret_nowhere(&s, &id, case.secret);
        // The search would have found it: the placeholder shows in every environment.
        let control = secret_places(&s, &id, &placeholder);
        assert!(
            control.iter().any(|p| p.ends_with("/environ")),
            "{}: {control:?}",
            case.name
        );
        s.ok(&["destroy", &id]);
    }
}

#[test]
fn the_gateway_brokers_anthropic_and_openai_with_one_key() {
    let s = Sandboxes::new();
    let (gateway, roots) = tls_upstream(&s, "ai-gateway.vercel.sh");
    let machine = Machine::new()
        .env("AI_GATEWAY_API_KEY", GATEWAY_KEY)
        .env(
            "WARDEN_EGRESS_TEST_RESOLVE",
            &format!("ai-gateway.vercel.sh=127.0.0.1:{}", gateway.port),
        )
        .env("WARDEN_EGRESS_TEST_ROOTS", &roots);
    let id = machine.create(&s, &["--broker", "gateway"]);
    let record = s.record(&id);
    assert_eq!(
        record["brokered"],
        serde_json::json!(["ai-gateway.vercel.sh: authorization"])
    );
    assert_eq!(
        record["brokers"],
        serde_json::json!(["anthropic (AI Gateway key)", "openai (AI Gateway key)"])
    );
    assert_eq!(var(&s, &id, "ANTHROPIC_BASE_URL"), "http://127.0.0.1:3129");
    assert_eq!(var(&s, &id, "OPENAI_BASE_URL"), "http://127.0.0.1:3130/v1");
    for name in [
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "AI_GATEWAY_API_KEY",
    ] {
        let placeholder = var(&s, &id, name);
        assert!(
            placeholder.starts_with("vck_") && placeholder != GATEWAY_KEY,
            "{name}={placeholder}"
        );
    }
    let (_, out, err) = s.sh(
        &id,
        "curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"authorization: Bearer $ANTHROPIC_AUTH_TOKEN\" -d '{}'; echo; \
         curl -s -X POST \"$OPENAI_BASE_URL/responses\" -H \"authorization: Bearer $OPENAI_API_KEY\" -d '{}'; echo; \
         curl -s https://ai-gateway.vercel.sh/v1/models",
    );
    assert_eq!(out, "upstream-ok\nupstream-ok\nupstream-ok", "{err}");
    let heads = gateway.heads();
    assert_eq!(
        heads
            .matches(&format!("authorization: Bearer {GATEWAY_KEY}"))
            .count(),
        3,
        "{heads}"
    );
    assert!(heads.contains("POST /v1/messages") && heads.contains("POST /v1/responses"));
    assert_secret_nowhere(&s, &id, GATEWAY_KEY);
}

#[test]
fn subscriptions_are_intercepted_on_their_own_hosts_too() {
    let s = Sandboxes::new();
    let (anthropic, anthropic_roots) = tls_upstream(&s, "api.anthropic.com");
    let (chatgpt, chatgpt_roots) = tls_upstream(&s, "chatgpt.com");
    let roots = s.tmp.path().join("roots.pem");
    let both = [anthropic_roots, chatgpt_roots]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    std::fs::write(&roots, both).unwrap();
    let machine = Machine::new()
        .file(
            ".claude/.credentials.json",
            &format!(r#"{{"claudeAiOauth":{{"accessToken":"{CLAUDE_TOKEN}"}}}}"#),
        )
        .file(
            ".codex/auth.json",
            &format!(
                r#"{{"tokens":{{"access_token":"{CHATGPT_TOKEN}","account_id":"{ACCOUNT}"}}}}"#
            ),
        )
        .env(
            "WARDEN_EGRESS_TEST_RESOLVE",
            &format!(
                "api.anthropic.com=127.0.0.1:{},chatgpt.com=127.0.0.1:{}",
                anthropic.port, chatgpt.port
            ),
        )
        .env("WARDEN_EGRESS_TEST_ROOTS", &roots.display().to_string());
    let id = machine.create(&s, &["--broker", "anthropic", "--broker", "openai"]);
    assert_eq!(
        var(&s, &id, "OPENAI_BASE_URL"),
        "http://127.0.0.1:3130/backend-api/codex"
    );
    assert_eq!(
        var(&s, &id, "ANTHROPIC_API_KEY"),
        "",
        "no API key variable for a login"
    );
    let (_, out, err) = s.sh(
        &id,
        "curl -s https://api.anthropic.com/v1/messages -H 'x-api-key: stray'; echo; \
         curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -d '{}'; echo; \
         curl -s -X POST \"$OPENAI_BASE_URL/responses\" -d '{}'; echo; \
         curl -s https://chatgpt.com/backend-api/codex/models",
    );
    assert_eq!(
        out, "upstream-ok\nupstream-ok\nupstream-ok\nupstream-ok",
        "{err}"
    );
    let heads = anthropic.heads();
    assert_eq!(
        heads
            .matches(&format!("authorization: Bearer {CLAUDE_TOKEN}"))
            .count(),
        2,
        "{heads}"
    );
    assert_eq!(
        heads.matches("anthropic-beta: oauth-2025-04-20").count(),
        2,
        "{heads}"
    );
    assert!(!heads.contains("x-api-key"), "{heads}");
    let heads = chatgpt.heads();
    assert!(
        heads.contains("POST /backend-api/codex/responses"),
        "{heads}"
    );
    assert_eq!(
        heads
            .matches(&format!("chatgpt-account-id: {ACCOUNT}"))
            .count(),
        2,
        "{heads}"
    );
    assert_eq!(
        heads
            .matches(&format!("authorization: Bearer {CHATGPT_TOKEN}"))
            .count(),
        2,
        "{heads}"
    );
    assert_secret_nowhere(&s, &id, CLAUDE_TOKEN);
    assert_secret_nowhere(&s, &id, CHATGPT_TOKEN);
}

#[test]
fn policy_changes_never_revoke_a_brokered_host() {
    let s = Sandboxes::new();
    let (anthropic, roots) = tls_upstream(&s, "api.anthropic.com");
    let other = Upstream::start(None);
    let machine = Machine::new()
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .env(
            "WARDEN_EGRESS_TEST_RESOLVE",
            &format!(
                "api.anthropic.com=127.0.0.1:{},other.test=127.0.0.1:{}",
                anthropic.port, other.port
            ),
        )
        .env("WARDEN_EGRESS_TEST_ROOTS", &roots);
    let id = machine.create(&s, &["--broker", "anthropic", "--allow", "other.test"]);
    let probe = "for u in \"$ANTHROPIC_BASE_URL/v1/models\" https://api.anthropic.com/v1/models http://other.test/; do \
                 curl -s -o /dev/null -w '%{http_code} ' \"$u\"; done";
    assert_eq!(s.sh(&id, probe).1, "200 200 200 ");
    for (change, want) in [
        (vec!["--allow", "example.org"], "200 200 403 "),
        (vec!["--deny-all"], "200 200 403 "),
        (vec!["--allow", "other.test"], "200 200 200 "),
    ] {
        let mut args = vec!["policy", id.as_str()];
        args.extend(change.iter());
        let out = s.output(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("brokered credentials stay reachable: api.anthropic.com: x-api-key"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(s.sh(&id, probe).1, want, "after policy {change:?}");
    }
    assert_eq!(
        s.record(&id)["policy"],
        serde_json::json!({"allow": ["other.test"]}),
        "the record keeps the policy as given"
    );
    assert!(anthropic.heads().matches(ANTHROPIC_KEY).count() >= 8);
}

#[test]
fn broker_errors_are_one_line_and_name_the_variable_never_the_value() {
    let s = Sandboxes::new();
    for (machine, args, want) in [
        (
            Machine::new()
                .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
                .env("ANTHROPIC_BASE_URL", "http://10.1.2.3:8000"),
            vec!["--broker", "anthropic"],
            "ANTHROPIC_BASE_URL: plain http:// is only for a server on this machine's loopback",
        ),
        (
            Machine::new().file(
                ".codex/auth.json",
                &format!(r#"{{"tokens":{{"access_token":"{CHATGPT_TOKEN}"}}}}"#),
            ),
            vec!["--broker", "openai"],
            "account id",
        ),
        (
            Machine::new().env("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            vec!["--broker", "gateway"],
            "--broker gateway: no AI Gateway",
        ),
        (
            Machine::new(),
            vec!["--broker", "anthropic"],
            "--broker anthropic: no Anthropic credential",
        ),
        (
            Machine::new().env("AI_GATEWAY_API_KEY", GATEWAY_KEY),
            vec!["--broker", "gateway", "--broker", "gateway"],
            "given twice",
        ),
    ] {
        let mut all = vec!["create"];
        all.extend(args.iter());
        let out = machine.cmd(&s, &all).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
        for secret in [ANTHROPIC_KEY, CHATGPT_TOKEN, GATEWAY_KEY] {
            assert!(!err.contains(secret), "{err}");
        }
    }
    assert!(
        !Path::new(&s.data_dir().join("sandboxes")).exists()
            || std::fs::read_dir(s.data_dir().join("sandboxes"))
                .unwrap()
                .count()
                == 0
    );
}
