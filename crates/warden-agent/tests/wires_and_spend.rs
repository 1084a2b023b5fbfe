//! The loop over the OpenAI wires, and spend kept when an investigation
//! fails part-way.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use warden_agent::{AgentError, Limits, Outcome};
use warden_llm::{CancellationToken, LlmError, OpenAiWire};
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

#[tokio::test]
async fn openai_wires_run_the_same_investigation() {
    for wire in [OpenAiWire::Responses, OpenAiWire::ChatCompletions] {
        let d = project();
        let mock = MockLlm::start(Script::new(vec![
            Turn::tool_call(
                "read_file",
                json!({"path": "src/app.py", "start_line": 4, "end_line": 5}),
            )
            .with_usage(Usage::new(500, 30)),
            Turn::tool_call("report_finding", report(4, 5, "SQL injection"))
                .with_usage(Usage::new(600, 90)),
            Turn::tool_call("finish", json!({})).with_usage(Usage::new(700, 5)),
        ]))
        .await;
        let agent = openai_agent(&mock, wire, "gpt-4.1");
        let inv = agent
            .investigate_keeping_calls(&task(&d), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(inv.outcome, Outcome::Complete, "{wire:?}");
        assert_eq!(inv.findings.len(), 1, "{wire:?}: {:?}", inv.rejected);
        assert_eq!(inv.calls.len(), 3);
        assert!(inv
            .calls
            .iter()
            .all(|c| c.provider == "openai" && c.cost_usd.is_some()));
        assert_eq!(inv.calls[1].output_tokens, 90);
        let reqs = mock.generation_requests();
        assert!(
            reqs[1].body_contains("req.args['q']"),
            "{wire:?}: the tool output went back"
        );
    }
}

#[tokio::test]
async fn a_transient_error_after_some_calls_keeps_the_spend_as_incomplete() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("report_finding", report(4, 5, "SQL injection"))
            .with_usage(Usage::new(100, 10)),
        Turn::error(ErrorKind::ServerError),
    ]))
    .await;
    let inv = run(&agent(&mock), &task(&d)).await.unwrap();
    match &inv.outcome {
        Outcome::Incomplete { reason } => assert!(
            reason.contains("model call failed after 1 calls"),
            "{reason}"
        ),
        o => panic!("{o:?}"),
    }
    assert_eq!(inv.calls.len(), 1);
    assert_eq!(inv.findings.len(), 1);
    assert_eq!(inv.findings[0].cost_usd, inv.calls[0].cost_usd);
}

#[tokio::test]
async fn an_error_on_the_first_call_is_an_error() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![Turn::error(ErrorKind::ServerError)])).await;
    let r = run(&agent(&mock), &task(&d)).await;
    assert!(
        matches!(r, Err(AgentError::Llm(LlmError::Server { .. }))),
        "{:?}",
        r.map(|i| i.outcome)
    );
}

#[tokio::test]
async fn failures_keep_the_calls_already_made() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("list_dir", json!({})).with_usage(Usage::new(100, 10)),
        Turn::error(ErrorKind::AnthropicCreditBalanceTooLow),
    ]))
    .await;
    let failed = agent(&mock)
        .investigate_keeping_calls(&task(&d), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&failed.error, AgentError::Llm(e) if e.stops_run()),
        "{:?}",
        failed.error
    );
    assert_eq!(failed.calls.len(), 1);
    assert_eq!(failed.calls[0].input_tokens, 100);

    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("list_dir", json!({})).with_usage(Usage::new(100, 10)),
        Turn::text("slow").with_delay(Duration::from_secs(30)),
    ]))
    .await;
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel();
    });
    let failed = agent(&mock)
        .investigate_keeping_calls(&task(&d), &cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(failed.error, AgentError::Llm(LlmError::Cancelled)),
        "{:?}",
        failed.error
    );
    assert_eq!(failed.calls.len(), 1);
}

#[tokio::test]
async fn usage_no_call_produces_fails_the_investigation_with_the_reason() {
    let d = project();
    // On the first call: the investigation fails, and nothing is recorded as spend.
    let mock = MockLlm::start(Script::new(vec![
        Turn::text("done").with_usage(Usage::new(u64::MAX, 1))
    ]))
    .await;
    let failed = agent(&mock)
        .investigate_keeping_calls(&task(&d), &CancellationToken::new())
        .await
        .unwrap_err();
    let reason = failed.error.to_string();
    assert!(
        reason.contains("usage reports 18446744073709551615 input tokens"),
        "{reason}"
    );
    assert!(failed.calls.is_empty());
    assert_eq!(mock.turns_served(), 1, "not retried");

    // After a good call: incomplete, the good call's spend and finding kept.
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("report_finding", report(4, 5, "SQL injection"))
            .with_usage(Usage::new(100, 10)),
        Turn::text("done").with_usage(Usage::new(1, u64::MAX)),
    ]))
    .await;
    let inv = run(&agent(&mock), &task(&d)).await.unwrap();
    match &inv.outcome {
        Outcome::Incomplete { reason } => {
            assert!(reason.contains("output tokens"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(inv.calls.len(), 1);
    assert_eq!(inv.findings.len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_root_are_refused_to_the_model() {
    let d = project();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "PRIVATE KEY MATERIAL\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("src/out")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), d.path().join("key")).unwrap();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("read_file", json!({"path": "src/out/id_rsa"})),
        Turn::tool_call("read_file", json!({"path": "key"})),
        Turn::tool_call("search", json!({"pattern": "PRIVATE"})),
        Turn::tool_call("report_finding", json!({"title": "x", "severity": "high", "confidence": "high",
            "file": "key", "start_line": 1, "end_line": 1, "description": "d", "attack_path": "a", "recommendation": "r"})),
        Turn::text("done"),
    ]))
    .await;
    let limits = Limits::default();
    let inv = run(&agent_with(&mock, MODEL, limits), &task(&d))
        .await
        .unwrap();
    assert!(inv.findings.is_empty());
    assert!(
        inv.rejected[0].reason.contains("outside the project root"),
        "{}",
        inv.rejected[0].reason
    );
    let reqs = mock.generation_requests();
    for r in &reqs[1..3] {
        let res = tool_results(&r.body);
        assert_eq!(res[0]["is_error"], true);
        assert!(res[0]["content"]
            .as_str()
            .unwrap()
            .contains("outside the project root"));
    }
    assert_eq!(
        tool_results(&reqs[3].body)[0]["content"],
        "no matches for `PRIVATE`"
    );
    assert!(reqs
        .iter()
        .all(|r| !r.body_contains("PRIVATE KEY MATERIAL")));
}
