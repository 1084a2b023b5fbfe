//! The native agent against the mock LLM over real loopback HTTP, through
//! warden-llm's Anthropic client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use warden_agent::{Agent, AgentError, Limits, Outcome};
use warden_llm::{CancellationToken, LlmError};
use warden_store::Severity;
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, ToolCall, Turn, Usage};

#[tokio::test]
async fn scripted_investigation_stores_valid_findings_and_rejects_invalid_ones() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("read_file", json!({"path": "src/app.py"}))
            .with_usage(Usage::new(1000, 50).with_cache(800, 0)),
        Turn::tool_call("search", json!({"pattern": "def execute", "glob": "*.py"}))
            .with_usage(Usage::new(200, 40).with_cache(0, 800)),
        Turn::tool_calls(vec![
            ToolCall::new(
                "report_finding",
                report(4, 5, "SQL injection in handler via q"),
            ),
            ToolCall::new("report_finding", report(5, 50, "Hallucinated lines")),
        ])
        .with_usage(Usage::new(300, 400).with_cache(0, 800)),
        Turn::tool_call("finish", json!({"summary": "one SQL injection"}))
            .with_usage(Usage::new(100, 10).with_cache(0, 800)),
    ]))
    .await;
    let inv = run(&agent(&mock), &task(&d)).await.unwrap();

    assert_eq!(inv.outcome, Outcome::Complete);
    assert_eq!(inv.findings.len(), 1, "{:?}", inv.rejected);
    let f = &inv.findings[0];
    assert_eq!(
        (f.path.as_str(), f.start_line, f.end_line),
        ("src/app.py", 4, 5)
    );
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.cwe.as_deref(), Some("CWE-89"));
    assert!(f.patch.is_some() && f.run_id.is_none());
    assert_eq!(
        f.rule_id.as_deref(),
        Some("py.sqli.concat"),
        "attributed from the hit on line 5"
    );
    assert_eq!(inv.rejected.len(), 1);
    assert_eq!(inv.rejected[0].title, "Hallucinated lines");
    assert!(
        inv.rejected[0].reason.contains("has 5 lines"),
        "{}",
        inv.rejected[0].reason
    );

    assert_eq!(inv.calls.len(), 4);
    let c = &inv.calls[0];
    assert_eq!(
        (c.input_tokens, c.output_tokens, c.cache_write_tokens),
        (1000, 50, 800)
    );
    assert_eq!(inv.calls[1].cache_read_tokens, 800);
    assert!(inv
        .calls
        .iter()
        .all(|c| c.path.as_deref() == Some("src/app.py")
            && c.provider == "anthropic"
            && c.model == MODEL
            && c.run_id.is_none()));
    let total: f64 = inv.calls.iter().map(|c| c.cost_usd.unwrap()).sum();
    let expected_first = (1000.0 * 3.0 + 50.0 * 15.0 + 800.0 * 3.75) / 1e6;
    assert!((inv.calls[0].cost_usd.unwrap() - expected_first).abs() < 1e-12);
    assert!(
        (f.cost_usd.unwrap() - total).abs() < 1e-12,
        "one finding carries the whole cost"
    );

    let reqs = mock.generation_requests();
    assert_eq!(reqs.len(), 4);
    let first = &reqs[0].body;
    assert_eq!(first["system"][0]["cache_control"]["type"], "ephemeral");
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "read_file",
            "search",
            "list_dir",
            "find_files",
            "report_finding",
            "finish"
        ]
    );
    let prompt = first["messages"][0]["content"][0]["text"].as_str().unwrap();
    assert!(prompt.contains("py.sqli.concat") && prompt.contains("flask"));
    // Each tool ran and answered.
    let read = tool_results(&reqs[1].body);
    assert_eq!(read[0]["is_error"], false);
    assert!(read[0]["content"]
        .as_str()
        .unwrap()
        .contains("req.args['q']"));
    let search = tool_results(&reqs[2].body);
    assert_eq!(search[0]["content"], "src/db.py:1: def execute(sql):\n");
    let reports = tool_results(&reqs[3].body);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["is_error"], false);
    assert_eq!(reports[1]["is_error"], true);
    assert!(reports[1]["content"]
        .as_str()
        .unwrap()
        .contains("Finding rejected"));
}

#[tokio::test]
async fn escape_attempt_gets_an_error_tool_result() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("read_file", json!({"path": "../../etc/passwd"})),
        Turn::tool_call("read_file", json!({"path": "/etc/passwd"})),
        Turn::text("Nothing exploitable."),
    ]))
    .await;
    let inv = run(&agent(&mock), &task(&d)).await.unwrap();
    assert_eq!(
        inv.outcome,
        Outcome::Complete,
        "end_turn without tools ends it"
    );
    assert!(inv.findings.is_empty() && inv.rejected.is_empty());
    let reqs = mock.generation_requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs[1..] {
        let res = tool_results(&r.body);
        assert_eq!(res[0]["is_error"], true, "{}", r.raw_body);
        let text = res[0]["content"].as_str().unwrap();
        assert!(text.starts_with("refused"), "{text}");
        assert!(!r.raw_body.contains("root:x:0:0"));
    }
}

#[tokio::test]
async fn max_turns_makes_the_investigation_incomplete() {
    let d = project();
    let turns = (0..5)
        .map(|_| Turn::tool_call("list_dir", json!({})))
        .collect();
    let mock = MockLlm::start(Script::new(turns)).await;
    let limits = Limits {
        max_turns: 2,
        ..Limits::default()
    };
    let inv = run(&agent_with(&mock, MODEL, limits), &task(&d))
        .await
        .unwrap();
    match &inv.outcome {
        Outcome::Incomplete { reason } => assert!(reason.contains("turn limit"), "{reason}"),
        o => panic!("{o:?}"),
    }
    assert_eq!(inv.calls.len(), 2);
    assert_eq!(mock.generation_requests().len(), 2);
}

#[tokio::test]
async fn output_token_budget_makes_the_investigation_incomplete() {
    let d = project();
    let turns = (0..5)
        .map(|_| Turn::tool_call("list_dir", json!({})).with_usage(Usage::new(10, 60)))
        .collect();
    let mock = MockLlm::start(Script::new(turns)).await;
    let limits = Limits {
        max_output_tokens: 100,
        ..Limits::default()
    };
    let inv = run(&agent_with(&mock, MODEL, limits), &task(&d))
        .await
        .unwrap();
    match &inv.outcome {
        Outcome::Incomplete { reason } => {
            assert!(reason.contains("output token limit"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(inv.calls.len(), 2);
    assert_eq!(
        mock.generation_requests()[1].body["max_tokens"],
        40,
        "the last call asks for what is left"
    );
}

#[tokio::test]
async fn wall_clock_timeout_makes_the_investigation_incomplete() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("list_dir", json!({})),
        Turn::text("late").with_delay(Duration::from_secs(20)),
    ]))
    .await;
    let limits = Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = Instant::now();
    let inv = run(&agent_with(&mock, MODEL, limits), &task(&d))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &inv.outcome {
        Outcome::Incomplete { reason } => assert!(reason.contains("timed out"), "{reason}"),
        o => panic!("{o:?}"),
    }
    assert_eq!(inv.calls.len(), 1, "the completed call is still recorded");
}

#[tokio::test]
async fn exhausted_credits_stop_the_run() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("list_dir", json!({})),
        Turn::error(ErrorKind::AnthropicCreditBalanceTooLow),
    ]))
    .await;
    match run(&agent(&mock), &task(&d)).await {
        Err(AgentError::Llm(e)) => {
            assert!(e.stops_run(), "{e:?}");
            assert!(matches!(e, LlmError::CreditsExhausted { .. }), "{e:?}");
        }
        other => panic!("{:?}", other.map(|i| i.outcome)),
    }
}

#[tokio::test]
async fn cancellation_mid_call_returns_promptly() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::text("slow").with_delay(Duration::from_secs(30))
    ]))
    .await;
    let agent = agent(&mock);
    let t = task(&d);
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c2.cancel();
    });
    let started = Instant::now();
    let r = agent
        .investigate(std::slice::from_ref(&t), &cancel)
        .await
        .map_err(|f| f.error);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(r, Err(AgentError::Llm(LlmError::Cancelled))),
        "{:?}",
        r.map(|i| i.outcome)
    );
}

#[tokio::test]
async fn unknown_model_price_gives_unknown_costs() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("report_finding", report(4, 5, "SQL injection")),
        Turn::tool_call("report_finding", report(4, 5, "SQL injection")),
        Turn::text("done"),
    ]))
    .await;
    let inv = run(
        &agent_with(&mock, "mystery-model-1", Limits::default()),
        &task(&d),
    )
    .await
    .unwrap();
    assert_eq!(inv.findings.len(), 1);
    assert_eq!(inv.findings[0].cost_usd, None);
    assert!(inv.calls.iter().all(|c| c.cost_usd.is_none()));
    assert_eq!(inv.rejected.len(), 1);
    assert!(inv.rejected[0].reason.contains("duplicate"));
}

#[tokio::test]
async fn unknown_tools_and_malformed_arguments_are_tool_errors() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_calls(vec![
            ToolCall::new("run_shell", json!({"cmd": "cat /etc/passwd"})),
            ToolCall::new("read_file", json!({"path": 42})),
            ToolCall::new("search", json!({"pattern": "("})),
        ]),
        Turn::text("done"),
    ]))
    .await;
    let inv = run(&agent(&mock), &task(&d)).await.unwrap();
    assert_eq!(inv.outcome, Outcome::Complete);
    let res = tool_results(&mock.generation_requests()[1].body);
    assert_eq!(res.len(), 3);
    assert!(res.iter().all(|r| r["is_error"] == true));
    assert!(res[0]["content"].as_str().unwrap().contains("unknown tool"));
}

#[tokio::test]
async fn the_native_agent_takes_one_file_per_investigation_and_refuses_other_batches() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![Turn::text("unused")])).await;
    let agent = agent(&mock);
    assert_eq!((agent.name(), agent.max_batch()), ("native", 1));
    let mut other = task(&d);
    other.path = "src/db.py".into();
    let cancel = CancellationToken::new();
    for batch in [vec![task(&d), other], vec![]] {
        let failed = agent.investigate(&batch, &cancel).await.unwrap_err();
        let msg = failed.error.to_string();
        assert!(
            msg.contains(&format!("not a batch of {}", batch.len())),
            "{msg}"
        );
        assert!(failed.calls.is_empty() && failed.session.is_none());
    }
    assert!(
        mock.generation_requests().is_empty(),
        "refused before any call"
    );
}
