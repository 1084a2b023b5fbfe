//! Agent sessions land in the store: one row per file of an investigation that has
//! a session, none for an agent without one.

use crate::common::*;
use std::sync::Arc;
use warden_agent::AgentSession;
use warden_pipeline::{process, CancellationToken, Silent};
use warden_store::*;

fn claude(tail: Option<&str>) -> AgentSession {
    AgentSession {
        agent: "claude".into(),
        session_id: Some("0b9e-session".into()),
        turns: 12,
        output_tail: tail.map(str::to_string),
    }
}

#[tokio::test]
async fn a_batch_session_is_recorded_for_each_of_its_files() {
    let e = env(&[("src/a.py", 9.0), ("src/b.py", 8.0), ("lib/c.py", 7.0)]);
    let agent =
        Arc::new(FakeAgent::always(4, Plan::Findings { cost: 0.0 }).with_session(claude(None)));
    let mut work = e.work();
    work.batch_size = 4;
    process(
        Arc::clone(&e.store),
        agent,
        work,
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let sessions = e.store().sessions(P, Some(e.run)).unwrap();
    let rows: Vec<(&str, &str, u32, SessionOutcome)> = sessions
        .iter()
        .map(|s| {
            (
                s.path.as_str(),
                s.session_id.as_deref().unwrap_or(""),
                s.turns,
                s.outcome,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("src/a.py", "0b9e-session", 12, SessionOutcome::Complete),
            ("src/b.py", "0b9e-session", 12, SessionOutcome::Complete),
            ("lib/c.py", "0b9e-session", 12, SessionOutcome::Complete),
        ]
    );
    assert!(sessions
        .iter()
        .all(|s| s.agent == "claude" && s.finding_id.is_none()));
}

#[tokio::test]
async fn a_failed_investigation_keeps_its_output_tail_for_status_with_secrets_redacted() {
    let key = "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let tail = format!("{{\"type\":\"assistant\",\"text\":\"ANTHROPIC_API_KEY={key} and then");
    let e = env(&[("src/a.py", 9.0)]);
    let agent =
        Arc::new(FakeAgent::always(1, Plan::Fail(unparseable)).with_session(claude(Some(&tail))));
    let out = process(
        Arc::clone(&e.store),
        agent,
        e.work(),
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.failed, 1);
    let store = e.store();
    let sessions = store.sessions(P, None).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].outcome, SessionOutcome::Failed);
    let failed = &store.status(P).unwrap().failed_files;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].reason.as_deref(),
        Some("the agent's output could not be parsed")
    );
    assert_eq!(failed[0].agent.as_deref(), Some("claude"));
    let kept = failed[0].output_tail.as_deref().expect("the tail is kept");
    assert!(kept.starts_with("{\"type\":\"assistant\""), "{kept}");
    assert!(!kept.contains(key), "{kept}");
}

#[tokio::test]
async fn an_agent_without_sessions_records_none_and_a_cancelled_one_says_so() {
    let e = env(&[("src/a.py", 9.0)]);
    let agent = Arc::new(FakeAgent::always(1, Plan::Findings { cost: 0.0 }));
    process(
        Arc::clone(&e.store),
        agent,
        e.work(),
        e.queue(),
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(e.store().sessions(P, None).unwrap().is_empty());

    let e = env(&[("src/a.py", 9.0)]);
    let agent = Arc::new(FakeAgent::always(1, Plan::Hang).with_session(claude(None)));
    let interrupt = CancellationToken::new();
    let fire = interrupt.clone();
    let started = Arc::clone(&agent);
    tokio::spawn(async move {
        until("started", || {
            started.started.load(std::sync::atomic::Ordering::SeqCst) > 0
        })
        .await;
        fire.cancel();
    });
    process(
        Arc::clone(&e.store),
        agent,
        e.work(),
        e.queue(),
        &Silent,
        interrupt,
    )
    .await
    .unwrap();
    let sessions = e.store().sessions(P, None).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].outcome, SessionOutcome::Cancelled);
}
