//! Revalidation against the mock LLM: the skeptical reviewer explores with the
//! confined tools and answers through `report_verdict`.

mod common;

use common::*;
use serde_json::json;
use warden_agent::{AgentError, FindingTask, Outcome};
use warden_llm::{CancellationToken, LlmError};
use warden_store::{Confidence, Disposition, Finding, NewFinding, Severity, Verdict};
use warden_testkit::mock_llm::{ErrorKind, MockLlm, Script, Turn, Usage};

fn finding_task(d: &tempfile::TempDir) -> FindingTask {
    FindingTask {
        root: d.path().canonicalize().unwrap(),
        finding: Finding {
            id: "f1".into(),
            fingerprint: "fp".into(),
            reported: NewFinding {
                run_id: Some(1),
                path: "src/app.py".into(),
                start_line: 5,
                end_line: 5,
                title: "SQL injection in handler via q".into(),
                severity: Severity::High,
                confidence: Confidence::High,
                cwe: Some("CWE-89".into()),
                category: Some("injection".into()),
                rule_id: None,
                description: "q is concatenated into SQL.".into(),
                attack_path: "GET /?q='".into(),
                recommendation: "Bind parameters.".into(),
                patch: None,
                cost_usd: None,
            },
            created_at: String::new(),
            verdict: None,
            disposition: Disposition::Open,
            disposition_reason: None,
            duplicate_of: None,
        },
        tech: vec!["flask".into()],
    }
}

#[tokio::test]
async fn the_reviewer_explores_then_gives_a_verdict_with_cost_per_call() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![
        Turn::tool_call("read_file", json!({"path": "src/db.py"})).with_usage(Usage::new(1000, 50)),
        Turn::tool_call(
            "report_verdict",
            json!({"verdict": "false_positive", "reasoning": "db.execute escapes", "corrected_severity": "low"}),
        )
        .with_usage(Usage::new(1200, 80)),
    ]))
    .await;
    let r = agent(&mock)
        .revalidate(&finding_task(&d), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Complete);
    let v = r.verdict.clone().unwrap();
    assert_eq!(v.verdict, Verdict::FalsePositive);
    assert_eq!(v.reasoning, "db.execute escapes");
    assert_eq!(v.corrected_severity, Some(Severity::Low));
    assert_eq!(r.calls.len(), 2);
    assert!(r.calls.iter().all(|c| c.finding_id.as_deref() == Some("f1")
        && c.path.as_deref() == Some("src/app.py")
        && c.cost_usd.is_some()));
    assert!(r.cost_usd().unwrap() > 0.0);
    let reqs = mock.generation_requests();
    assert!(reqs[0].body_contains("try to disprove"));
    assert!(reqs[0].body_contains("report_verdict"));
    assert!(reqs[0].body_contains("SQL injection in handler via q"));
    // The tool result of read_file went back to the model.
    assert!(reqs[1].body_contains("conn.run(sql)"));
}

#[tokio::test]
async fn a_bad_verdict_is_refused_and_no_answer_is_incomplete() {
    let d = project();
    let mock = MockLlm::start(
        Script::new(vec![
            Turn::tool_call(
                "report_verdict",
                json!({"verdict": "maybe", "reasoning": "x"}),
            ),
            Turn::text("I think it is fine."),
        ])
        .with_final_text("Still thinking."),
    )
    .await;
    let r = agent(&mock)
        .revalidate(&finding_task(&d), &CancellationToken::new())
        .await
        .unwrap();
    assert!(r.verdict.is_none());
    assert!(
        matches!(&r.outcome, Outcome::Incomplete { reason } if reason.contains("report_verdict")),
        "{:?}",
        r.outcome
    );
    // The refusal, then two nudges: four calls in all.
    assert_eq!(r.calls.len(), 4);
    assert!(mock.generation_requests()[1].body_contains("Verdict rejected"));
}

#[tokio::test]
async fn exhausted_credits_are_an_error_that_stops_the_run() {
    let d = project();
    let mock = MockLlm::start(Script::new(vec![Turn::error(
        ErrorKind::AnthropicCreditBalanceTooLow,
    )]))
    .await;
    let err = agent(&mock)
        .revalidate(&finding_task(&d), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err.error, AgentError::Llm(e) if e.stops_run()),
        "{:?}",
        err.error
    );
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = agent(&mock)
        .revalidate(&finding_task(&d), &cancel)
        .await
        .unwrap_err();
    assert!(matches!(err.error, AgentError::Llm(LlmError::Cancelled)));
}
