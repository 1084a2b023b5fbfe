//! Every exhaustion or credential class the mock offers that must stop a run:
//! `warden process` exits 5 with one `warden: stopped:` line carrying the class's
//! remediation, gives the files back (pending), and a re-run against a healthy
//! endpoint finishes them.
//!
//! And endpoints that are broken rather than exhausted: a base URL that is no
//! http(s) URL stops the run before it claims a file (exit 2, naming the variable);
//! a real loopback server that never answers, only pings or drips fails each file
//! within the stall timeout without retries, and a run where every file failed
//! exits 4 with one `warden: FILE: reason` line per file; usage no call produces
//! fails that file, not the run.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

/// How the binary reaches the mock for one class.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// ANTHROPIC_API_KEY + ANTHROPIC_BASE_URL, default (Claude) model.
    AnthropicDirect,
    /// OPENAI_API_KEY + OPENAI_BASE_URL=<mock>/v1, `--model gpt-5`.
    OpenAiDirect,
    /// AI_GATEWAY_API_KEY with ANTHROPIC_BASE_URL pointing at the mock.
    Gateway,
}

struct Case {
    name: &'static str,
    error: ErrorKind,
    route: Route,
    /// Words the stop line must contain (the class's remediation).
    remediation: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "anthropic credit balance too low",
            error: ErrorKind::AnthropicCreditBalanceTooLow,
            route: Route::AnthropicDirect,
            remediation: &["Top up", "console.anthropic.com"],
        },
        Case {
            name: "anthropic authentication 401",
            error: ErrorKind::AnthropicAuthentication,
            route: Route::AnthropicDirect,
            remediation: &["Check the API key", "warden credentials status"],
        },
        Case {
            name: "openai insufficient_quota",
            error: ErrorKind::OpenaiInsufficientQuota,
            route: Route::OpenAiDirect,
            remediation: &["platform.openai.com/settings/organization/billing"],
        },
        Case {
            name: "openai invalid_api_key",
            error: ErrorKind::OpenaiInvalidApiKey,
            route: Route::OpenAiDirect,
            remediation: &["Check the API key", "warden credentials status"],
        },
        Case {
            name: "gateway 402 insufficient_funds",
            error: ErrorKind::GatewayInsufficientFunds,
            route: Route::Gateway,
            remediation: &["Top up the gateway account"],
        },
    ]
}

fn env_for(route: Route, mock: &MockLlm) -> Vec<(&'static str, String)> {
    match route {
        Route::AnthropicDirect => vec![
            ("ANTHROPIC_API_KEY", "test".into()),
            ("ANTHROPIC_BASE_URL", mock.url().into()),
        ],
        Route::OpenAiDirect => vec![
            ("OPENAI_API_KEY", "test".into()),
            ("OPENAI_BASE_URL", mock.openai_base_url()),
        ],
        Route::Gateway => vec![
            ("AI_GATEWAY_API_KEY", "test".into()),
            ("ANTHROPIC_BASE_URL", mock.url().into()),
        ],
    }
}

fn args_for(route: Route) -> Vec<&'static str> {
    let mut args = vec!["--concurrency", "1"];
    if let Route::OpenAiDirect = route {
        args.extend(["--model", "gpt-5"]);
    }
    args
}

fn process(tree: &Tree, route: Route, mock: &MockLlm, extra: &[&str]) -> Run {
    let env = env_for(route, mock);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [args_for(route).as_slice(), extra].concat();
    run_isolated(tree, &env, "process", &args)
}

/// Two candidate files, both pending.
fn scanned() -> Tree {
    let tree = Tree::new();
    tree.write("app.py", VULN_PY);
    tree.write("util.py", ONE_CALL_PY);
    tree.write("safe.py", SAFE_PY);
    let scan = tree.scan_json(&[]);
    assert_eq!(candidate_paths(&scan).len(), 2, "two candidates: {scan:#}");
    tree
}

fn counts(tree: &Tree) -> (Option<u64>, Option<u64>, Option<u64>) {
    let status = project_status(tree);
    (
        status["pending"].as_u64(),
        status["processing"].as_u64(),
        status["analyzed"].as_u64(),
    )
}

#[test]
fn each_stopping_class_exits_5_with_its_remediation_and_a_rerun_resumes() {
    let mut failures = Vec::new();
    for case in cases() {
        if let Err(e) = std::panic::catch_unwind(|| check(&case)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("[{}] {msg}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check(case: &Case) {
    let tree = scanned();
    let mock = MockLlm::start_blocking(Script::new(vec![Turn::error(case.error.clone())]));
    let out = process(&tree, case.route, &mock, &[]);
    out.code(5);
    let stops = stop_lines(&out);
    assert_eq!(
        stops.len(),
        1,
        "exactly one stop line on stderr:\n{}",
        out.stderr
    );
    for word in case.remediation {
        assert!(stops[0].contains(word), "missing {word:?} in: {}", stops[0]);
    }
    assert_eq!(
        mock.generation_requests().len(),
        1,
        "nothing retried after a stopping error"
    );
    assert_eq!(
        counts(&tree),
        (Some(2), Some(0), Some(0)),
        "files given back"
    );

    // Credentials fixed or account topped up: the same route finishes both files.
    let healthy = MockLlm::start_blocking(
        Script::new(vec![
            Turn::text("Nothing here.").with_usage(Usage::new(2_000, 300)),
            Turn::text("Nothing here.").with_usage(Usage::new(2_000, 300)),
        ])
        .with_final_text("Nothing here."),
    );
    let again = process(&tree, case.route, &healthy, &["--json"]);
    again.ok();
    assert!(
        stop_lines(&again).is_empty(),
        "no stop on a healthy run:\n{}",
        again.stderr
    );
    assert_eq!(again.json()["investigated"], 2, "{}", again.stdout);
    assert_eq!(counts(&tree), (Some(0), Some(0), Some(2)));
}

/// The lines of stderr that tell why a file failed (`warden: FILE: reason`).
fn failure_lines<'a>(run: &'a Run, file: &str) -> Vec<&'a str> {
    let prefix = format!("warden: {file}: ");
    run.stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

fn runs_begun(tree: &Tree) -> i64 {
    let conn = rusqlite::Connection::open(tree.db()).expect("open the store");
    conn.query_row(
        "SELECT COUNT(*) FROM runs WHERE kind = 'process'",
        [],
        |r| r.get(0),
    )
    .expect("count runs")
}

#[test]
fn a_base_url_that_is_no_http_url_is_a_configuration_error_before_any_file_is_claimed() {
    let tree = scanned();
    let key = "sk-ant-api03-PASTEDINTOTHEWRONGVARIABLE";
    let cases: &[(&str, &str, &str, &[&str])] = &[
        ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "not a url", &[]),
        (
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "ftp://example.com",
            &[],
        ),
        (
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "javascript:alert(1)",
            &[],
        ),
        (
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "http://[::1",
            &[],
        ),
        ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", key, &[]),
        (
            "AI_GATEWAY_API_KEY",
            "ANTHROPIC_BASE_URL",
            "ftp://gw.example",
            &[],
        ),
        (
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "file:///etc/passwd",
            &["--model", "gpt-5"],
        ),
    ];
    for (key_var, url_var, url, args) in cases {
        let out = run_isolated(&tree, &[(key_var, "test"), (url_var, url)], "process", args);
        out.code(2);
        let line = out.error_line();
        assert!(line.contains(url_var), "{url:?}: {line}");
        assert!(line.contains("http(s)"), "{url:?}: {line}");
        assert!(
            !line.contains("PASTEDINTO"),
            "the value is never quoted: {line}"
        );
        assert_eq!(counts(&tree), (Some(2), Some(0), Some(0)), "{url:?}");
        assert_eq!(runs_begun(&tree), 0, "{url:?}: no run was begun");
    }
}

#[test]
fn a_bad_stall_timeout_is_a_configuration_error() {
    let tree = scanned();
    for bad in ["0", "3601", "ten", "-5", "1.5"] {
        let env = [
            ("ANTHROPIC_API_KEY", "test"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
            ("WARDEN_STALL_TIMEOUT", bad),
        ];
        let out = run_isolated(&tree, &env, "process", &[]);
        out.code(2);
        let line = out.error_line();
        assert!(line.contains("WARDEN_STALL_TIMEOUT"), "{bad}: {line}");
        assert!(line.contains("1 to 3600"), "{bad}: {line}");
        assert_eq!(runs_begun(&tree), 0);
    }
}

/// How a broken endpoint treats each request it reads.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Accepts the connection and the request, and never answers.
    Silent,
    /// Answers 200 `text/event-stream`, then only keep-alive pings, forever.
    Pings,
    /// Answers 200 `text/event-stream`, then a real stream one byte a second.
    Drip,
}

/// A loopback HTTP server that misbehaves on every request and counts them.
struct BrokenEndpoint {
    url: String,
    requests: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";

impl BrokenEndpoint {
    fn start(how: Misbehaviour) -> BrokenEndpoint {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        runtime.spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    let _ = misbehave(sock, how, &counted).await;
                });
            }
        });
        BrokenEndpoint {
            url,
            requests,
            _runtime: runtime,
        }
    }
}

async fn misbehave(
    mut sock: tokio::net::TcpStream,
    how: Misbehaviour,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    requests.fetch_add(1, Ordering::SeqCst);
    match how {
        Misbehaviour::Silent => {
            // Read (the body, then EOF when the client gives up) and never write.
            while sock.read(&mut chunk).await? > 0 {}
        }
        Misbehaviour::Pings => {
            sock.write_all(SSE_HEAD).await?;
            loop {
                sock.write_all(b"event: ping\ndata: {\"type\": \"ping\"}\n\n")
                    .await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Misbehaviour::Drip => {
            sock.write_all(SSE_HEAD).await?;
            let stream = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":1}}}\n\n";
            for byte in stream {
                sock.write_all(&[*byte]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    Ok(())
}

#[test]
fn a_broken_endpoint_fails_each_file_within_the_stall_timeout_and_the_run_exits_4() {
    for how in [
        Misbehaviour::Silent,
        Misbehaviour::Pings,
        Misbehaviour::Drip,
    ] {
        let tree = scanned();
        let endpoint = BrokenEndpoint::start(how);
        let env = [
            ("ANTHROPIC_API_KEY", "test"),
            ("ANTHROPIC_BASE_URL", endpoint.url.as_str()),
            ("WARDEN_STALL_TIMEOUT", "2"),
        ];
        let started = Instant::now();
        let out = run_isolated(&tree, &env, "process", &["--concurrency", "2", "--json"]);
        let took = started.elapsed();
        out.code(4);
        // Far below the default stall timeout (120 s) and the call timeout (600 s).
        assert!(took < Duration::from_secs(60), "{how:?}: took {took:?}");
        for file in ["app.py", "util.py"] {
            let lines = failure_lines(&out, file);
            assert_eq!(
                lines.len(),
                1,
                "{how:?}: one line for {file}:\n{}",
                out.stderr
            );
            assert!(lines[0].contains("stalled"), "{how:?}: {}", lines[0]);
            assert!(lines[0].contains("2s"), "{how:?}: {}", lines[0]);
        }
        assert_eq!(
            endpoint.requests.load(Ordering::SeqCst),
            2,
            "{how:?}: one request per file, no retries"
        );
        let summary = out.json();
        assert_eq!(summary["status"], "failed", "{how:?}");
        assert_eq!(summary["failed"], 2, "{how:?}");
        let status = project_status(&tree);
        assert_eq!(status["failed"], 2, "{how:?}: {status:#}");
    }
}

#[test]
fn usage_no_call_produces_fails_that_file_not_the_run() {
    // app.py's answer claims 2^64-1 input tokens; util.py's is ordinary.
    let tree = scanned();
    let mock = MockLlm::start_blocking(
        Script::new(vec![
            Turn::text("Nothing here.").with_usage(Usage::new(u64::MAX, 10)),
            Turn::text("Nothing here.").with_usage(Usage::new(2_000, 300)),
        ])
        .with_final_text("Nothing here."),
    );
    let out = process(&tree, Route::AnthropicDirect, &mock, &["--json"]);
    out.ok();
    let lines = failure_lines(&out, "app.py");
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("usage reports 18446744073709551615 input tokens"),
        "{}",
        lines[0]
    );
    assert!(failure_lines(&out, "util.py").is_empty(), "{}", out.stderr);
    let summary = out.json();
    assert_eq!(
        (summary["investigated"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(summary["status"], "done");
    let status = project_status(&tree);
    assert_eq!(
        (status["analyzed"].as_u64(), status["failed"].as_u64()),
        (Some(1), Some(1))
    );

    // Every file's answer is absurd: the run failed (4), the store is fine.
    let tree = scanned();
    let absurd = || Turn::text("Nothing here.").with_usage(Usage::new(10, u64::MAX));
    let mock = MockLlm::start_blocking(Script::new(vec![absurd(), absurd()]));
    let out = process(&tree, Route::AnthropicDirect, &mock, &[]);
    out.code(4);
    for file in ["app.py", "util.py"] {
        let lines = failure_lines(&out, file);
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(lines[0].contains("output tokens"), "{}", lines[0]);
    }
    assert_eq!(project_status(&tree)["failed"], 2);
}
