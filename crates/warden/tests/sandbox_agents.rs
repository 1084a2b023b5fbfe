//! The issue's headline: a real agent CLI (Claude Code from npm) runs inside
//! `warden sandbox run`, reaches its model only through the egress proxy, and works
//! with a key it never holds: the proxy's front door adds it on the way out.
//!
//! The "model" is the mock LLM on 127.0.0.1, behind a TLS terminator holding a test
//! certificate for api.anthropic.com, which the proxy's test-only resolver and roots
//! point it at. Nothing leaves the machine.

mod sandbox_support;

use sandbox_support::{test_pki, Sandboxes};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use warden_testkit::agents::{agents_bin, run_with_timeout, Output, RUN_TIMEOUT};
use warden_testkit::mock_llm::{MockLlm, Script, Turn};

const REAL_KEY: &str = "sk-ant-api03-SANDBOXED-AGENT-REAL-KEY-0123456789";
const REAL_OPENAI_KEY: &str = "sk-proj-SANDBOXED-CODEX-REAL-KEY-0123456789abcdef";

/// Terminates TLS with `config` on 127.0.0.1 and carries each connection to `upstream`.
fn tls_terminator(config: Arc<rustls::ServerConfig>, upstream: std::net::SocketAddr) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
    });
    port
}

/// `create --broker NAME` with the real key in the CLI's environment, the provider's
/// host (for `NAME`) pointed at `mock` behind TLS with a test certificate.
fn brokered_sandbox(
    s: &Sandboxes,
    mock: &MockLlm,
    broker: &str,
    key: (&str, &str),
    extra: &[&str],
) -> String {
    let host = if broker == "openai" {
        "api.openai.com"
    } else {
        "api.anthropic.com"
    };
    let (tls, ca_pem) = test_pki(&[host]);
    let port = tls_terminator(tls, mock.addr());
    let roots = s.tmp.path().join(format!("roots-{broker}.pem"));
    std::fs::write(&roots, ca_pem).unwrap();
    let mut args = vec!["create", "--broker", broker];
    args.extend_from_slice(extra);
    let mut cmd = s.cmd(&args);
    cmd.env(key.0, key.1)
        .env("HOME", s.tmp.path())
        .env(
            "WARDEN_EGRESS_TEST_RESOLVE",
            format!("{host}=127.0.0.1:{port}"),
        )
        .env("WARDEN_EGRESS_TEST_ROOTS", &roots);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn claude_code_runs_sandboxed_with_a_brokered_key() {
    let claude_pkg = agents_bin(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .join("../@anthropic-ai/claude-code")
        .canonicalize()
        .expect("the claude-code package");
    let s = Sandboxes::new();
    let canary = format!("sandboxed-canary-{}", std::process::id());
    let project = s.tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("notes.txt"), format!("{canary}\n")).unwrap();
    std::fs::write(
        project.join(".env"),
        format!("ANTHROPIC_API_KEY={REAL_KEY}\n"),
    )
    .unwrap();
    let final_text = "MOCK-FINAL: read it inside the sandbox.";
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("Read", json!({"file_path": "/workspace/notes.txt"})),
        Turn::text(final_text),
    ]));
    // The agent's package goes in as a file copy, as a user would `sandbox cp` a tool.
    let id = brokered_sandbox(
        &s,
        &mock,
        "anthropic",
        ("ANTHROPIC_API_KEY", REAL_KEY),
        &["--workspace", project.to_str().unwrap()],
    );
    s.ok(&[
        "cp",
        claude_pkg.to_str().unwrap(),
        &format!("{id}:/home/sandbox/claude-code"),
    ]);

    let mut exec = s.cmd(&[
        "exec",
        &id,
        "--env",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        "--",
        "/home/sandbox/claude-code/bin/claude.exe",
        "-p",
        "Read notes.txt and tell me what it says.",
        "--allowedTools",
        "Read",
        "--output-format",
        "json",
    ]);
    exec.env_remove("ANTHROPIC_API_KEY");
    let out = run_with_timeout(exec, RUN_TIMEOUT).expect("claude in the sandbox finished");
    let requests = mock.requests();
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw {} requests",
        out.code,
        out.stdout,
        out.stderr,
        requests.len()
    );
    assert!(out.success, "{context}");
    let printed: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{context}"));
    assert_eq!(printed["result"], final_text, "{context}");

    let generations: Vec<_> = requests.iter().filter(|r| r.is_generation()).collect();
    assert!(generations.len() >= 2, "{context}");
    for r in &generations {
        assert_eq!(
            r.header("x-api-key"),
            Some(REAL_KEY),
            "the front door adds the real key"
        );
    }
    assert!(
        generations[1..]
            .iter()
            .any(|r| r.body.to_string().contains(&canary)),
        "the Read tool result (from inside the sandbox) reached the model\n{context}"
    );
    // The workspace copy left the project's .env behind, and the sandbox only ever held a placeholder.
    let (_, env, _) = s.sh(&id, "echo \"$ANTHROPIC_API_KEY\"; ls -a /workspace");
    assert!(!env.contains(REAL_KEY) && !env.contains(".env\n"), "{env}");
    let audit = std::fs::read_to_string(s.sandbox_dir(&id).join("audit.log")).unwrap();
    assert!(
        audit.contains("front-door") && audit.contains("api.anthropic.com"),
        "{audit}"
    );
    assert!(!audit.contains(REAL_KEY));
}

/// Copies the Codex binary the test setup installed from npm into sandbox `id`, points
/// it at the OpenAI base URL and key the sandbox was given (the front door and a
/// placeholder) and runs `codex exec PROMPT` there.
fn run_codex(s: &Sandboxes, id: &str, prompt: &str) -> Output {
    let codex = agents_bin(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .join("../@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex")
        .canonicalize()
        .expect("the codex binary");
    s.ok(&[
        "cp",
        codex.to_str().unwrap(),
        &format!("{id}:/home/sandbox/codex"),
    ]);
    let setup = "mkdir -p ~/.codex && printf '%s\\n' \
         'model_provider = \"brokered\"' 'model = \"gpt-5.5\"' '[model_providers.brokered]' 'name = \"Brokered\"' \
         \"base_url = \\\"$OPENAI_BASE_URL\\\"\" 'env_key = \"OPENAI_API_KEY\"' 'wire_api = \"responses\"' > ~/.codex/config.toml && cat ~/.codex/config.toml";
    let (code, config, err) = s.sh(id, setup);
    assert_eq!(code, 0, "{err}");
    assert!(
        config.contains("base_url = \"http://127.0.0.1:3130/v1\""),
        "{config}"
    );
    let exec = s.cmd(&[
        "exec",
        id,
        "--",
        "/home/sandbox/codex",
        "exec",
        "--skip-git-repo-check",
        "--disable",
        "plugins",
        // Codex's own bubblewrap sandbox cannot nest inside ours (no user namespaces here).
        "--sandbox",
        "danger-full-access",
        prompt,
    ]);
    run_with_timeout(exec, RUN_TIMEOUT).expect("codex in the sandbox finished")
}

#[test]
fn codex_runs_sandboxed_with_a_brokered_openai_key() {
    let s = Sandboxes::new();
    let canary = format!("codex-sandboxed-canary-{}", std::process::id());
    let final_text = "MOCK-FINAL: codex read it inside the sandbox.";
    let mock = MockLlm::start_blocking(Script::new(vec![
        Turn::tool_call("exec_command", json!({"cmd": "cat /workspace/notes.txt"})),
        Turn::text(final_text),
    ]));
    let id = brokered_sandbox(
        &s,
        &mock,
        "openai",
        ("OPENAI_API_KEY", REAL_OPENAI_KEY),
        &[],
    );
    let (code, _, err) = s.sh(&id, &format!("echo {canary} > /workspace/notes.txt"));
    assert_eq!(code, 0, "{err}");
    let out = run_codex(&s, &id, "Print the contents of notes.txt.");
    let requests = mock.requests();
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw {} requests",
        out.code,
        out.stdout,
        out.stderr,
        requests.len()
    );
    assert!(out.success, "{context}");
    assert!(out.stdout.contains(final_text), "{context}");
    let generations: Vec<_> = requests.iter().filter(|r| r.is_generation()).collect();
    assert!(generations.len() >= 2, "{context}");
    for r in &generations {
        assert_eq!(r.path, "/v1/responses", "{context}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {REAL_OPENAI_KEY}").as_str()),
            "the front door adds the real key"
        );
    }
    assert!(
        generations[1..]
            .iter()
            .any(|r| r.body.to_string().contains(&canary)),
        "the command's output (run inside the sandbox) reached the model\n{context}"
    );
    let (_, key, _) = s.sh(&id, "echo \"$OPENAI_API_KEY\"");
    assert!(
        key.trim().starts_with("sk-proj-") && key.trim() != REAL_OPENAI_KEY,
        "{key}"
    );
}

/// The credential variables a case must not inherit from the machine running the tests.
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

/// `create --broker NAME` on a machine whose only credential is a login file in `home`,
/// with a base URL set on the host that points at the mock on loopback.
fn login_sandbox(s: &Sandboxes, home: &Path, broker: &str, base: (&str, String)) -> String {
    let mut cmd = s.cmd(&["create", "--broker", broker]);
    for var in CREDENTIAL_VARS {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).current_dir(home).env(base.0, base.1);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn claude_code_runs_sandboxed_on_a_brokered_subscription_login() {
    const TOKEN: &str = "sk-ant-oat01-SANDBOXED-SUBSCRIPTION-TOKEN-0123456789";
    let claude_pkg = agents_bin(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .join("../@anthropic-ai/claude-code")
        .canonicalize()
        .expect("the claude-code package");
    let s = Sandboxes::new();
    let home = s.tmp.path().join("host-home");
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    std::fs::write(
        home.join(".claude/.credentials.json"),
        format!(r#"{{"claudeAiOauth":{{"accessToken":"{TOKEN}","expiresAt":4102444800000}}}}"#),
    )
    .unwrap();
    let final_text = "MOCK-FINAL: subscription brokered.";
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::text(final_text)]));
    let id = login_sandbox(
        &s,
        &home,
        "anthropic",
        ("ANTHROPIC_BASE_URL", mock.url().to_string()),
    );
    s.ok(&[
        "cp",
        claude_pkg.to_str().unwrap(),
        &format!("{id}:/home/sandbox/claude-code"),
    ]);
    let (_, env, _) = s.sh(&id, "printf '%s|%s|%s' \"$CLAUDE_CODE_OAUTH_TOKEN\" \"$ANTHROPIC_BASE_URL\" \"$ANTHROPIC_API_KEY\"");
    let placeholder = env.split('|').next().unwrap_or_default().to_string();
    assert!(
        placeholder.starts_with("sk-ant-oat01-") && placeholder != TOKEN,
        "{env}"
    );
    assert!(env.ends_with("|http://127.0.0.1:3129|"), "{env}");
    let exec = s.cmd(&[
        "exec",
        &id,
        "--env",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        "--",
        "/home/sandbox/claude-code/bin/claude.exe",
        "-p",
        "Say something.",
        "--output-format",
        "json",
    ]);
    let out = run_with_timeout(exec, RUN_TIMEOUT).expect("claude in the sandbox finished");
    let requests = mock.requests();
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw {} requests",
        out.code,
        out.stdout,
        out.stderr,
        requests.len()
    );
    assert!(out.success, "{context}");
    let printed: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{context}"));
    assert_eq!(printed["result"], final_text, "{context}");
    let generations: Vec<_> = requests.iter().filter(|r| r.is_generation()).collect();
    assert!(!generations.is_empty(), "{context}");
    for r in &generations {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "the door writes the subscription token"
        );
        assert!(
            r.header("anthropic-beta")
                .is_some_and(|b| b.split(',').any(|f| f.trim() == "oauth-2025-04-20")),
            "{:?}",
            r.header("anthropic-beta")
        );
        assert_eq!(r.header("x-api-key"), None);
    }
    sandbox_support::assert_secret_nowhere(&s, &id, TOKEN);
}

#[test]
fn codex_runs_sandboxed_on_a_brokered_chatgpt_login() {
    const ACCESS: &str = "chatgpt-SANDBOXED-ACCESS-TOKEN-0123456789abcdef";
    const ACCOUNT: &str = "acct-sandboxed-42";
    let s = Sandboxes::new();
    let home = s.tmp.path().join("host-home");
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    std::fs::write(
        home.join(".codex/auth.json"),
        format!(r#"{{"tokens":{{"access_token":"{ACCESS}","account_id":"{ACCOUNT}"}}}}"#),
    )
    .unwrap();
    let final_text = "MOCK-FINAL: chatgpt login brokered.";
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::text(final_text)]));
    let id = login_sandbox(
        &s,
        &home,
        "openai",
        ("OPENAI_BASE_URL", format!("{}/v1", mock.url())),
    );
    let out = run_codex(&s, &id, "Say something.");
    let requests = mock.requests();
    let context = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nmock saw {} requests",
        out.code,
        out.stdout,
        out.stderr,
        requests.len()
    );
    assert!(out.success, "{context}");
    assert!(out.stdout.contains(final_text), "{context}");
    let generations: Vec<_> = requests.iter().filter(|r| r.is_generation()).collect();
    assert!(!generations.is_empty(), "{context}");
    for r in &generations {
        assert_eq!(r.path, "/v1/responses", "{context}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {ACCESS}").as_str())
        );
        assert_eq!(r.header("chatgpt-account-id"), Some(ACCOUNT));
    }
    sandbox_support::assert_secret_nowhere(&s, &id, ACCESS);
}
