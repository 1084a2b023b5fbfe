use super::*;
use warden_creds::{Kind, Secret as CredSecret, Source};

const KEY: &str = "sk-ant-api03-REALKEY-0123456789abcdefghij";

fn cred(provider: Provider, kind: Kind, value: &str, base_url: Option<&str>) -> Credential {
    Credential {
        provider,
        kind,
        source: Source::Env("TEST_VAR".into()),
        value: CredSecret::new(value),
        expires_at: None,
        base_url: base_url.map(str::to_string),
        account_id: None,
    }
}

fn names(env: &[(String, String)]) -> Vec<&str> {
    env.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn each_kind_gets_its_door_variables_and_headers() {
    let api = BrokerPlan::for_credential(&cred(Provider::Anthropic, Kind::ApiKey, KEY, None))
        .expect("api key");
    assert_eq!(
        names(api.env()),
        ["ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"]
    );
    assert_eq!(
        api.env_var("ANTHROPIC_BASE_URL"),
        Some("http://127.0.0.1:3129")
    );
    assert!(api.placeholder().starts_with("sk-ant-api03-") && api.placeholder() != KEY);
    assert_eq!(api.allowed_host(), Some("api.anthropic.com"));
    assert_eq!(api.brokered(), ["api.anthropic.com: x-api-key"]);
    assert_eq!(api.label(), "anthropic (API key)");

    let sub = BrokerPlan::for_credential(&cred(
        Provider::Anthropic,
        Kind::OAuth,
        "sk-ant-oat01-subscription",
        None,
    ))
    .expect("subscription");
    assert_eq!(
        names(sub.env()),
        ["ANTHROPIC_BASE_URL", "CLAUDE_CODE_OAUTH_TOKEN"]
    );
    assert_eq!(sub.brokered(), ["api.anthropic.com: authorization"]);
    assert_eq!(sub.label(), "anthropic (Claude subscription login)");
    assert_eq!(
        sub.headers[0].list_tokens,
        [("anthropic-beta".to_string(), CLAUDE_OAUTH_BETA.to_string())]
    );
    assert_eq!(sub.headers[0].removes, ["x-api-key"]);

    let mut login = cred(Provider::OpenAi, Kind::OAuth, "chatgpt-access", None);
    login.account_id = Some("acct-9".into());
    let chatgpt = BrokerPlan::for_credential(&login).expect("chatgpt");
    assert_eq!(
        chatgpt.env_var("OPENAI_BASE_URL"),
        Some("http://127.0.0.1:3130/backend-api/codex")
    );
    assert_eq!(chatgpt.door().upstream, "https://chatgpt.com:443");
    assert_eq!(
        chatgpt.brokered(),
        [
            "chatgpt.com: authorization",
            "chatgpt.com: chatgpt-account-id"
        ]
    );
    login.account_id = None;
    let err = BrokerPlan::for_credential(&login)
        .expect_err("no account")
        .to_string();
    assert!(
        err.contains("account id") && err.contains("codex login"),
        "{err}"
    );

    let gw = BrokerPlan::for_credential(&cred(
        Provider::OpenAi,
        Kind::Gateway,
        "vck_gateway",
        Some("https://ai-gateway.vercel.sh/v1"),
    ))
    .expect("gateway");
    assert_eq!(
        names(gw.env()),
        ["OPENAI_BASE_URL", "OPENAI_API_KEY", "AI_GATEWAY_API_KEY"]
    );
    assert_eq!(
        gw.env_var("OPENAI_BASE_URL"),
        Some("http://127.0.0.1:3130/v1")
    );
    assert_eq!(gw.allowed_host(), Some("ai-gateway.vercel.sh"));
}

#[test]
fn a_loopback_base_url_is_the_doors_upstream_and_nothing_is_allowed() {
    let token = cred(
        Provider::Anthropic,
        Kind::AuthToken,
        "local-token",
        Some("http://127.0.0.1:11434/anthropic/"),
    );
    let plan = BrokerPlan::for_credential(&token).expect("loopback");
    assert_eq!(plan.allowed_host(), None);
    assert_eq!(plan.door().upstream, "http://127.0.0.1:11434");
    assert_eq!(
        plan.env_var("ANTHROPIC_BASE_URL"),
        Some("http://127.0.0.1:3129/anthropic")
    );
    assert_eq!(plan.brokered(), ["http://127.0.0.1:11434: authorization"]);
    let side = proxy_side(&[plan]).expect("proxy side");
    assert!(side.routed.is_empty());
    assert!(side.doors[0].1.is_loopback());
}

#[test]
fn bad_base_urls_name_the_variable_never_the_value() {
    for url in [
        "http://10.0.0.5:8000",
        "http://models.example.com/v1",
        "ftp://127.0.0.1",
        "https://user:SECRETPW@host.example",
        "127.0.0.1:11434",
        "https://host.example/v1?key=SECRETPW",
    ] {
        let err = BrokerPlan::for_credential(&cred(
            Provider::OpenAi,
            Kind::ApiKey,
            "sk-proj-x",
            Some(url),
        ))
        .expect_err(url)
        .to_string();
        assert!(err.starts_with("OPENAI_BASE_URL: "), "{url}: {err}");
        assert!(
            !err.contains("SECRETPW") && !err.contains("sk-proj-x"),
            "{err}"
        );
    }
}

#[test]
fn debug_and_the_record_never_show_the_secret() {
    let plan = BrokerPlan::for_credential(&cred(Provider::Anthropic, Kind::ApiKey, KEY, None))
        .expect("plan");
    let shown = format!(
        "{plan:?} {} {:?} {:?}",
        plan.label(),
        plan.brokered(),
        plan.door()
    );
    assert!(
        !shown.contains(KEY) && !shown.contains(plan.placeholder()),
        "{shown}"
    );
}

#[test]
fn names_resolve_against_what_was_found() {
    let found = Discovery {
        credentials: vec![
            cred(Provider::Anthropic, Kind::ApiKey, KEY, None),
            cred(Provider::OpenAi, Kind::ApiKey, "sk-proj-direct", None),
        ],
        gateway: vec![
            cred(
                Provider::Anthropic,
                Kind::Gateway,
                "vck_gw",
                Some("https://ai-gateway.vercel.sh"),
            ),
            cred(
                Provider::OpenAi,
                Kind::Gateway,
                "vck_gw",
                Some("https://ai-gateway.vercel.sh/v1"),
            ),
        ],
        ..Discovery::default()
    };
    let labels = |names: &[&str]| -> Result<Vec<String>> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        Ok(BrokerPlan::for_names(&names, &found)?
            .iter()
            .map(|p| p.label().to_string())
            .collect())
    };
    assert_eq!(
        labels(&["gateway"]).expect("gw"),
        ["anthropic (AI Gateway key)", "openai (AI Gateway key)"]
    );
    assert_eq!(
        labels(&["anthropic", "gateway"]).expect("mixed"),
        ["anthropic (API key)", "openai (AI Gateway key)"]
    );
    let err = labels(&["anthropic", "openai", "gateway"])
        .expect_err("nothing left")
        .to_string();
    assert!(err.contains("already brokered"), "{err}");
    let err = labels(&["openai", "openai"])
        .expect_err("twice")
        .to_string();
    assert!(err.contains("given twice"), "{err}");
    // The gateway's key binds its host once for both providers.
    let plans = BrokerPlan::for_names(&["gateway".to_string()], &found).expect("gw");
    let side = proxy_side(&plans).expect("proxy side");
    assert_eq!(side.routed.len(), 1);
    assert_eq!(
        side.doors.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [3129, 3130]
    );
    // Two credentials for one provider cannot share its door.
    let two = [
        BrokerPlan::for_credential(&found.credentials[0]).expect("a"),
        BrokerPlan::for_credential(&found.gateway[0]).expect("b"),
    ];
    let err = check_plans(&two).expect_err("one door").to_string();
    assert!(err.contains("one per provider"), "{err}");
    let none = Discovery::default();
    let err = BrokerPlan::for_names(&["anthropic".to_string()], &none)
        .expect_err("none")
        .to_string();
    assert!(err.contains("no Anthropic credential"), "{err}");
}
