//! The explicit auth-token pair, ChatGPT account ids, base URLs for logins, and which
//! credential each agent would use and why.

use std::collections::HashMap;
use std::fs;

use tempfile::TempDir;
use time::OffsetDateTime;
use warden_creds::{discover, Agent, CredsError, Discovery, Kind, Places, Provider, Use};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid time")
}

/// base64url without padding, for hand-made JWTs.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn jwt(claims: &serde_json::Value) -> String {
    format!(
        "{}.{}.sig",
        b64(br#"{"alg":"none"}"#),
        b64(claims.to_string().as_bytes())
    )
}

struct Machine {
    home: TempDir,
    env: HashMap<String, String>,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            home: TempDir::new().expect("tempdir"),
            env: HashMap::new(),
        }
    }

    fn env(mut self, name: &str, value: &str) -> Machine {
        self.env.insert(name.into(), value.into());
        self
    }

    fn file(self, rel: &str, text: &str) -> Machine {
        let path = self.home.path().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write");
        self
    }

    fn claude_login(self) -> Machine {
        self.file(
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-claude-sub-token","expiresAt":1900000000000}}"#,
        )
    }

    fn codex_login(self, tokens: serde_json::Value) -> Machine {
        self.file(
            ".codex/auth.json",
            &serde_json::json!({ "tokens": tokens }).to_string(),
        )
    }

    fn discover(&self) -> Discovery {
        let places = Places {
            home: Some(self.home.path().to_path_buf()),
            work_dir: None,
        };
        discover(&self.env, &places, now())
    }
}

#[test]
fn the_auth_token_pair_is_a_bearer_token_for_its_base_url() {
    let found = Machine::new()
        .env("ANTHROPIC_AUTH_TOKEN", "bypass-token")
        .env("ANTHROPIC_BASE_URL", "https://llm.internal.example")
        .env("ANTHROPIC_API_KEY", "sk-ant-api03-direct")
        .discover();
    let best = found
        .best(Provider::Anthropic, false)
        .expect("a credential");
    assert_eq!(
        (best.kind, best.value.expose(), best.base_url.as_deref()),
        (
            Kind::AuthToken,
            "bypass-token",
            Some("https://llm.internal.example")
        )
    );
    // The API key is still there, second, with the same base URL.
    let key = &found.credentials[1];
    assert_eq!(
        (key.kind, key.base_url.as_deref()),
        (Kind::ApiKey, Some("https://llm.internal.example"))
    );
    // No gateway expansion for a provider the pair covers.
    let gw = Machine::new()
        .env("ANTHROPIC_AUTH_TOKEN", "bypass-token")
        .env("ANTHROPIC_BASE_URL", "https://llm.internal.example")
        .env("AI_GATEWAY_API_KEY", "vck_gateway")
        .discover();
    let kinds: Vec<_> = gw
        .credentials
        .iter()
        .map(|c| (c.provider, c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (Provider::Anthropic, Kind::AuthToken),
            (Provider::OpenAi, Kind::Gateway)
        ]
    );
    // The gateway for both providers stays available to whoever asks for it by name.
    let gateways: Vec<_> = gw
        .gateway
        .iter()
        .map(|c| (c.provider, c.base_url.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        gateways,
        [
            (
                Provider::Anthropic,
                "https://llm.internal.example".to_string()
            ),
            (
                Provider::OpenAi,
                "https://ai-gateway.vercel.sh/v1".to_string()
            )
        ]
    );
    // A token alone is not read, and the note says why without quoting it.
    let alone = Machine::new()
        .env("ANTHROPIC_AUTH_TOKEN", "lonely-token")
        .discover();
    assert!(alone.credentials.is_empty());
    let notes = alone.notes.join("\n");
    assert!(
        notes.contains("ANTHROPIC_AUTH_TOKEN") && notes.contains("ANTHROPIC_BASE_URL"),
        "{notes}"
    );
    assert!(!notes.contains("lonely-token"), "{notes}");
}

#[test]
fn a_chatgpt_login_carries_its_account_id_and_logins_follow_the_base_url() {
    let claims = serde_json::json!({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-from-claim"}});
    let from_claim = Machine::new()
        .codex_login(
            serde_json::json!({"access_token": "chatgpt-access", "id_token": jwt(&claims)}),
        )
        .discover();
    let c = from_claim.best(Provider::OpenAi, false).expect("login");
    assert_eq!(
        (c.kind, c.account_id.as_deref()),
        (Kind::OAuth, Some("acct-from-claim"))
    );
    let explicit = Machine::new()
        .codex_login(serde_json::json!({"access_token": "chatgpt-access", "account_id": "acct-explicit", "id_token": jwt(&claims)}))
        .env("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
        .discover();
    let c = explicit.best(Provider::OpenAi, false).expect("login");
    assert_eq!(c.account_id.as_deref(), Some("acct-explicit"));
    assert_eq!(c.base_url.as_deref(), Some("http://127.0.0.1:11434/v1"));
    let claude = Machine::new()
        .claude_login()
        .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:8080")
        .discover();
    let c = claude.best(Provider::Anthropic, false).expect("login");
    assert_eq!(
        (c.kind, c.base_url.as_deref()),
        (Kind::OAuth, Some("http://127.0.0.1:8080"))
    );
}

#[test]
fn each_agent_gets_the_credential_it_can_use_and_says_why() {
    let account = serde_json::json!({"access_token": "chatgpt-access", "account_id": "acct-1"});
    // (machine, agent, provider, expected use, a phrase of why)
    let subscriptions = || Machine::new().claude_login().codex_login(account.clone());
    let cases: Vec<(Machine, Agent, Option<Provider>, Use, &str)> = vec![
        (subscriptions(), Agent::Claude, None, Use::ClaudeSubscription, ".claude/.credentials.json"),
        (subscriptions(), Agent::Codex, None, Use::ChatGptLogin, ".codex/auth.json"),
        (
            subscriptions().env("ANTHROPIC_API_KEY", "sk-ant-api03-key"),
            Agent::Claude,
            None,
            Use::ApiKey,
            "Anthropic API key from environment variable ANTHROPIC_API_KEY",
        ),
        (
            subscriptions().env("ANTHROPIC_API_KEY", "sk-ant-api03-key"),
            Agent::Native,
            None,
            Use::ApiKey,
            "ANTHROPIC_API_KEY",
        ),
        (
            subscriptions().env("AI_GATEWAY_API_KEY", "vck_gw"),
            Agent::Codex,
            None,
            Use::Gateway,
            "sent to https://ai-gateway.vercel.sh/v1",
        ),
        (
            Machine::new().env("OPENAI_API_KEY", "sk-proj-openai"),
            Agent::Native,
            None,
            Use::ApiKey,
            "OpenAI API key",
        ),
        (
            Machine::new().env("OPENAI_API_KEY", "sk-proj-openai"),
            Agent::OpenCode,
            None,
            Use::ApiKey,
            "OpenAI API key",
        ),
        (
            Machine::new()
                .env("ANTHROPIC_AUTH_TOKEN", "tok")
                .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:4000"),
            Agent::Claude,
            None,
            Use::AuthToken,
            "auth token from environment variable ANTHROPIC_AUTH_TOKEN, sent to http://127.0.0.1:4000",
        ),
        (
            Machine::new()
                .env("ANTHROPIC_API_KEY", "sk-ant-api03-key")
                .env("OPENAI_API_KEY", "sk-proj-openai"),
            Agent::OpenCode,
            Some(Provider::OpenAi),
            Use::ApiKey,
            "OpenAI",
        ),
    ];
    for (machine, agent, provider, want, phrase) in cases {
        let choice = machine
            .discover()
            .for_agent(agent, provider)
            .unwrap_or_else(|e| panic!("{agent}: {e}"));
        assert_eq!(choice.how, want, "{choice}");
        assert!(choice.why.contains(phrase), "{choice}");
        assert!(!choice.to_string().contains("sk-ant-api03-key"), "{choice}");
        assert!(choice.to_string().starts_with(&format!("{agent}: ")));
    }
}

#[test]
fn agents_refuse_what_they_cannot_use_and_say_what_would_work() {
    let account = serde_json::json!({"access_token": "chatgpt-access", "account_id": "acct-1"});
    let subscriptions = Machine::new()
        .claude_login()
        .codex_login(account)
        .discover();
    for agent in [Agent::Native, Agent::OpenCode] {
        let err = subscriptions
            .for_agent(agent, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not send a subscription token as an API key")
                && err.contains("use --agent claude")
                && err.contains("use --agent codex"),
            "{err}"
        );
        assert!(!err.contains("sk-ant-oat01"), "{err}");
    }
    let err = subscriptions
        .for_agent(Agent::Native, Some(Provider::Anthropic))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("use --agent claude") && !err.contains("codex"),
        "{err}"
    );
    // A login without its account id cannot reach the ChatGPT backend.
    let no_account = Machine::new()
        .codex_login(serde_json::json!({"access_token": "chatgpt-access"}))
        .discover();
    let err = no_account
        .for_agent(Agent::Codex, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("account id") && err.contains("codex login"),
        "{err}"
    );
    // The wrong provider for the agent, and nothing at all.
    let openai = Machine::new()
        .env("OPENAI_API_KEY", "sk-proj-openai")
        .discover();
    let err = openai.for_agent(Agent::Claude, None).unwrap_err();
    assert!(
        matches!(
            err,
            CredsError::NotFound {
                provider: Some(Provider::Anthropic),
                ..
            }
        ),
        "{err}"
    );
    let err = openai
        .for_agent(Agent::Claude, Some(Provider::OpenAi))
        .unwrap_err()
        .to_string();
    assert!(err.contains("talks to Anthropic only"), "{err}");
    assert_eq!(Agent::parse("opencode"), Some(Agent::OpenCode));
    assert_eq!(Agent::parse("amp"), None);
}
