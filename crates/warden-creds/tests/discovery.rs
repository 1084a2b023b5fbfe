//! Discovery against temporary HOME and working directories and an in-memory environment.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use tempfile::TempDir;
use time::OffsetDateTime;
use warden_creds::{discover, extract_env, CredsError, Discovery, Kind, Places, Provider, Source};

const NOW_MS: i64 = 1_800_000_000_000;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_MS / 1000).expect("valid time")
}

struct Fixture {
    home: TempDir,
    work: TempDir,
    env: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            home: TempDir::new().expect("tempdir"),
            work: TempDir::new().expect("tempdir"),
            env: HashMap::new(),
        }
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    fn home_file(self, rel: &str, text: &str) -> Self {
        write(&self.home.path().join(rel), text);
        self
    }

    fn work_file(self, rel: &str, text: &str) -> Self {
        write(&self.work.path().join(rel), text);
        self
    }

    fn discover(&self) -> Discovery {
        let places = Places {
            home: Some(self.home.path().to_path_buf()),
            work_dir: Some(self.work.path().to_path_buf()),
        };
        discover(&self.env, &places, now())
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

#[test]
fn process_env_beats_dotenv_local_beats_dotenv() {
    let fx = Fixture::new()
        .env("ANTHROPIC_API_KEY", "from-process")
        .work_file(
            ".env.local",
            "ANTHROPIC_API_KEY=from-local\nOPENAI_API_KEY=openai-local\n",
        )
        .work_file(
            ".env",
            "ANTHROPIC_API_KEY=from-dotenv\nOPENAI_API_KEY=openai-dotenv\n",
        );
    let d = fx.discover();
    let a = d.best(Provider::Anthropic, false).expect("anthropic");
    assert_eq!(a.value.expose(), "from-process");
    assert_eq!(a.source, Source::Env("ANTHROPIC_API_KEY".into()));
    let o = d.best(Provider::OpenAi, false).expect("openai");
    assert_eq!(o.value.expose(), "openai-local");
    assert_eq!(o.source, Source::DotEnv(fx.work.path().join(".env.local")));
}

#[test]
fn env_keys_beat_agent_config_files() {
    let fx = Fixture::new()
        .env("CODEX_API_KEY", "codex-env")
        .home_file(".codex/auth.json", r#"{"OPENAI_API_KEY":"codex-file"}"#);
    let d = fx.discover();
    assert_eq!(
        d.best(Provider::OpenAi, false)
            .expect("openai")
            .value
            .expose(),
        "codex-env"
    );
    assert_eq!(d.credentials.len(), 2);
}

#[test]
fn gateway_expands_where_no_explicit_key() {
    let fx = Fixture::new()
        .env("ANTHROPIC_API_KEY", "direct-anthropic")
        .work_file(".env.local", "AI_GATEWAY_API_KEY=vck_gateway\n");
    let d = fx.discover();
    let a = d.best(Provider::Anthropic, false).expect("anthropic");
    assert_eq!(
        (a.kind, a.value.expose()),
        (Kind::ApiKey, "direct-anthropic")
    );
    assert_eq!(a.base_url, None);
    let o = d.best(Provider::OpenAi, false).expect("openai");
    assert_eq!((o.kind, o.value.expose()), (Kind::Gateway, "vck_gateway"));
    assert_eq!(
        o.base_url.as_deref(),
        Some("https://ai-gateway.vercel.sh/v1")
    );

    let out = extract_env(&d, false, false);
    assert!(
        out.contains("ANTHROPIC_API_KEY='direct-anthropic'\n"),
        "{out}"
    );
    assert!(out.contains("OPENAI_API_KEY='vck_gateway'\n"), "{out}");
    assert!(
        out.contains("OPENAI_BASE_URL='https://ai-gateway.vercel.sh/v1'\n"),
        "{out}"
    );
    assert!(!out.contains("ANTHROPIC_BASE_URL"), "{out}");
    assert!(!out.contains("ANTHROPIC_AUTH_TOKEN"), "{out}");
}

#[test]
fn gateway_covers_both_and_explicit_base_url_wins() {
    let fx = Fixture::new()
        .env("VERCEL_OIDC_TOKEN", "oidc")
        .env("ANTHROPIC_BASE_URL", "https://proxy.example");
    let d = fx.discover();
    let a = d.best(Provider::Anthropic, false).expect("anthropic");
    assert_eq!((a.kind, a.value.expose()), (Kind::Gateway, "oidc"));
    assert_eq!(a.base_url.as_deref(), Some("https://proxy.example"));
    let out = extract_env(&d, true, false);
    assert!(
        out.contains("export ANTHROPIC_AUTH_TOKEN='oidc'\n"),
        "{out}"
    );
    assert!(
        out.contains("export ANTHROPIC_BASE_URL='https://proxy.example'\n"),
        "{out}"
    );
    assert!(
        out.contains("export OPENAI_BASE_URL='https://ai-gateway.vercel.sh/v1'\n"),
        "{out}"
    );

    // AI_GATEWAY_API_KEY is preferred over VERCEL_OIDC_TOKEN.
    let d = Fixture::new()
        .env("VERCEL_OIDC_TOKEN", "oidc")
        .env("AI_GATEWAY_API_KEY", "vck_key")
        .discover();
    assert_eq!(
        d.best(Provider::OpenAi, false)
            .expect("openai")
            .value
            .expose(),
        "vck_key"
    );
}

#[test]
fn reads_every_agent_file_row() {
    let future = NOW_MS + 3_600_000;
    let fx = Fixture::new()
        .home_file(
            ".claude/.credentials.json",
            &format!(r#"{{"claudeAiOauth":{{"accessToken":"claude-oauth","expiresAt":{future}}}}}"#),
        )
        .home_file(".claude.json", r#"{"primaryApiKey":"claude-json-key"}"#)
        .home_file(".codex/auth.json", r#"{"OPENAI_API_KEY":null,"tokens":{"access_token":"codex-oauth"}}"#)
        .home_file(
            ".local/share/opencode/auth.json",
            &format!(
                r#"{{"anthropic":{{"type":"api","key":"oc-anthropic"}},"openai":{{"type":"oauth","access":"oc-openai","expires":{future}}}}}"#
            ),
        )
        .home_file(".amp/config.json", r#"{"anthropicApiKey":"amp-key"}"#);
    let d = fx.discover();
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    let got: Vec<(Provider, Kind, &str)> = d
        .credentials
        .iter()
        .map(|c| (c.provider, c.kind, c.value.expose()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Provider::Anthropic, Kind::OAuth, "claude-oauth"),
            (Provider::Anthropic, Kind::ApiKey, "claude-json-key"),
            (Provider::OpenAi, Kind::OAuth, "codex-oauth"),
            (Provider::Anthropic, Kind::ApiKey, "oc-anthropic"),
            (Provider::OpenAi, Kind::OAuth, "oc-openai"),
            (Provider::Anthropic, Kind::ApiKey, "amp-key"),
        ]
    );
    let claude = &d.credentials[0];
    assert_eq!(
        claude.source,
        Source::ConfigFile(fx.home.path().join(".claude/.credentials.json"))
    );
    assert_eq!(
        claude.expires_at.map(|t| t.unix_timestamp()),
        Some(future / 1000)
    );

    // no_oauth passes over OAuth tokens.
    let a = d
        .best(Provider::Anthropic, true)
        .expect("anthropic api key");
    assert_eq!(a.value.expose(), "claude-json-key");
    assert!(d.best(Provider::OpenAi, true).is_none());
    let out = extract_env(&d, false, false);
    assert!(
        out.contains("CLAUDE_CODE_OAUTH_TOKEN='claude-oauth'\n"),
        "{out}"
    );
    assert!(out.contains("CODEX_API_KEY='codex-oauth'\n"), "{out}");
}

#[test]
fn expired_tokens_are_skipped_with_a_note() {
    let past = NOW_MS - 1;
    let fx = Fixture::new().home_file(
        ".claude/.credentials.json",
        &format!(r#"{{"claudeAiOauth":{{"accessToken":"stale-token","expiresAt":{past}}}}}"#),
    );
    let d = fx.discover();
    assert!(d.credentials.is_empty());
    assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    assert!(d.notes[0].contains("expired"), "{}", d.notes[0]);
    assert!(d.notes[0].contains(".credentials.json"), "{}", d.notes[0]);
    assert!(!d.notes[0].contains("stale-token"));
    let msg = d.require().expect_err("expired only").to_string();
    assert!(!msg.contains("stale-token"), "{msg}");
}

#[test]
fn malformed_files_are_notes_naming_the_file() {
    let fx = Fixture::new()
        .home_file(
            ".codex/auth.json",
            r#"{"OPENAI_API_KEY": "sk-secret-in-broken-file"#,
        )
        .home_file(
            ".local/share/opencode/auth.json",
            r#"{"anthropic":{"type":"weird","key":"k"}}"#,
        )
        .work_file(".env.local", "GOOD=1\nthis line holds sk-secret-text\n")
        .env("OPENAI_API_KEY", "ok");
    let d = fx.discover();
    assert_eq!(d.credentials.len(), 1);
    let notes = d.notes.join("\n");
    assert!(notes.contains("auth.json: not valid JSON"), "{notes}");
    assert!(notes.contains("opencode"), "{notes}");
    assert!(notes.contains(".env.local"), "{notes}");
    assert!(!notes.contains("sk-secret"), "{notes}");
}

#[test]
fn nothing_found_names_every_place_and_the_fixes() {
    let fx = Fixture::new().work_file(".env", "UNRELATED=1\n");
    let d = fx.discover();
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    let err = d.require().expect_err("nothing to find");
    assert!(matches!(err, CredsError::NotFound { .. }));
    let msg = err.to_string();
    for place in [
        ".env.local",
        ".env",
        ".claude/.credentials.json",
        ".claude.json",
        ".codex/auth.json",
        ".local/share/opencode/auth.json",
        ".amp/config.json",
        "AI_GATEWAY_API_KEY",
    ] {
        assert!(msg.contains(place), "{place} missing from {msg}");
    }
    assert!(msg.contains("claude login"), "{msg}");
    assert!(msg.contains("codex login"), "{msg}");
}

#[test]
fn extract_env_round_trips_through_sh() {
    let tricky = "a b $HOME `x` \"q\" it's \\ end";
    let fx = Fixture::new()
        .env("ANTHROPIC_API_KEY", tricky)
        .env("OPENAI_API_KEY", "plain");
    let d = fx.discover();
    let out = extract_env(&d, true, false);
    assert!(!format!("{d:?}").contains("it's"), "Debug must redact");
    let file = fx.work.path().join("creds.sh");
    fs::write(&file, &out).expect("write");
    for var in ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"] {
        let got = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(r#"eval "$(cat "$1")"; printf %s "${var}""#))
            .arg("sh")
            .arg(&file)
            .output()
            .expect("run sh");
        assert!(got.status.success());
        assert_eq!(String::from_utf8_lossy(&got.stdout), tricky, "{var}");
    }
}

/// Where a value may be put, in order of precedence.
#[derive(Clone, Copy, Debug)]
enum Place {
    Process,
    DotEnvLocal,
    DotEnv,
    CodexFile,
}

/// Each row: the places that hold an OpenAI key (each with its own value), and
/// the place whose value must win. Precedence: process > .env.local > .env > agent file.
#[test]
fn precedence_table() {
    use Place::*;
    let rows: &[(&[Place], Place)] = &[
        (&[Process, DotEnvLocal, DotEnv, CodexFile], Process),
        (&[DotEnvLocal, DotEnv, CodexFile], DotEnvLocal),
        (&[DotEnv, CodexFile], DotEnv),
        (&[CodexFile], CodexFile),
        (&[Process, CodexFile], Process),
        (&[DotEnv, DotEnvLocal], DotEnvLocal),
        (&[Process, DotEnv], Process),
    ];
    for (places, winner) in rows {
        let value = |p: Place| format!("sk-{p:?}-0123456789");
        let mut fx = Fixture::new();
        for &p in *places {
            fx = match p {
                Process => fx.env("OPENAI_API_KEY", &value(p)),
                DotEnvLocal => {
                    fx.work_file(".env.local", &format!("OPENAI_API_KEY={}\n", value(p)))
                }
                DotEnv => fx.work_file(".env", &format!("OPENAI_API_KEY={}\n", value(p))),
                CodexFile => fx.home_file(
                    ".codex/auth.json",
                    &format!(r#"{{"OPENAI_API_KEY":"{}"}}"#, value(p)),
                ),
            };
        }
        let d = fx.discover();
        let best = d.best(Provider::OpenAi, false).expect("a key is found");
        assert_eq!(best.value.expose(), value(*winner), "places {places:?}");
    }
}

/// Gateway expansion, one row per combination of explicit variables: the gateway fills
/// exactly the providers the user did not set, and never overrides an explicit value.
#[test]
fn gateway_expansion_table() {
    /// Explicit env vars, and the expected (anthropic kind, openai kind).
    type Row<'a> = (&'a [(&'a str, &'a str)], (Kind, Kind));
    let rows: &[Row] = &[
        (&[], (Kind::Gateway, Kind::Gateway)),
        (
            &[("ANTHROPIC_API_KEY", "sk-ant-direct")],
            (Kind::ApiKey, Kind::Gateway),
        ),
        (
            &[("OPENAI_API_KEY", "sk-direct")],
            (Kind::Gateway, Kind::ApiKey),
        ),
        (
            &[("CODEX_API_KEY", "sk-direct")],
            (Kind::Gateway, Kind::ApiKey),
        ),
        (
            &[
                ("CLAUDE_API_KEY", "sk-ant-direct"),
                ("OPENAI_API_KEY", "sk-direct"),
            ],
            (Kind::ApiKey, Kind::ApiKey),
        ),
    ];
    for (explicit, (anthropic, openai)) in rows {
        let mut fx = Fixture::new().env("AI_GATEWAY_API_KEY", "vck_gateway_key");
        for (k, v) in *explicit {
            fx = fx.env(k, v);
        }
        let d = fx.discover();
        let a = d.best(Provider::Anthropic, false).expect("anthropic");
        let o = d.best(Provider::OpenAi, false).expect("openai");
        assert_eq!(
            (a.kind, o.kind),
            (*anthropic, *openai),
            "explicit {explicit:?}"
        );
        for c in [a, o] {
            if c.kind == Kind::ApiKey {
                assert_ne!(c.value.expose(), "vck_gateway_key", "explicit {explicit:?}");
            }
        }
    }
}
