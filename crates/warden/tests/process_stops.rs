//! Every exhaustion or credential class the mock offers that must stop a run:
//! `warden process` exits 5 with one `warden: stopped:` line carrying the class's
//! remediation, gives the files back (pending), and a re-run against a healthy
//! endpoint finishes them.

mod common;

use common::*;
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
