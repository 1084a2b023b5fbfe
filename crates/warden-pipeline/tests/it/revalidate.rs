//! Revalidation through the pipeline: verdicts, spend and sessions per finding;
//! a stop leaves the findings not judged yet for the next run.

use crate::common::*;
use std::sync::Arc;
use warden_agent::AgentSession;
use warden_pipeline::{revalidate, CancellationToken, Silent, Stop};
use warden_store::*;

fn claude(tail: Option<&str>) -> AgentSession {
    AgentSession {
        agent: "claude".into(),
        session_id: Some("0b9e-session".into()),
        turns: 12,
        output_tail: tail.map(str::to_string),
    }
}

/// A store with one finding in each of `paths`, and those findings.
fn with_findings(paths: &[&str]) -> (Env, Vec<Finding>) {
    let scored: Vec<(&str, f64)> = paths.iter().map(|p| (*p, 5.0)).collect();
    let e = env(&scored);
    let new: Vec<NewFinding> = paths.iter().map(|p| finding(p)).collect();
    e.store().insert_findings(P, &new).unwrap();
    let findings = e.store().findings(P, &FindingFilter::default()).unwrap();
    (e, findings)
}

#[tokio::test]
async fn revalidation_records_verdicts_spend_and_the_session_of_each_finding() {
    let (e, findings) = with_findings(&["src/a.py", "src/b.py"]);
    let agent =
        Arc::new(FakeAgent::always(1, Plan::Findings { cost: 0.25 }).with_session(claude(None)));
    let mut work = e.work();
    work.concurrency = 2;
    let progress = Recorder::default();
    let out = revalidate(
        Arc::clone(&e.store),
        agent,
        work,
        findings.clone(),
        &progress,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!((out.judged(), out.true_positive, out.failed), (2, 2, 0));
    assert!((out.spend_usd - 0.5).abs() < 1e-9);
    let store = e.store();
    let judged = store.findings(P, &FindingFilter::default()).unwrap();
    assert!(judged
        .iter()
        .all(|f| f.verdict.as_ref().is_some_and(|v| v.run_id == Some(e.run))));
    let sessions = store.sessions(P, Some(e.run)).unwrap();
    let mut ids: Vec<&str> = sessions
        .iter()
        .filter_map(|s| s.finding_id.as_deref())
        .collect();
    ids.sort();
    let mut want: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    want.sort();
    assert_eq!(ids, want);
    // A judgement is no investigation: the files are not listed as failed by it.
    assert!(store.status(P).unwrap().failed_files.is_empty());
}

#[tokio::test]
async fn an_interrupted_revalidation_leaves_the_rest_for_the_next_run() {
    let e = env(&[("src/a.py", 9.0), ("src/b.py", 8.0), ("src/c.py", 7.0)]);
    e.store()
        .insert_findings(
            P,
            &[
                finding("src/a.py"),
                finding("src/b.py"),
                finding("src/c.py"),
            ],
        )
        .unwrap();
    let findings = e.store().findings(P, &FindingFilter::default()).unwrap();
    let agent = Arc::new(FakeAgent::always(1, Plan::Hang));
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
    let out = revalidate(
        Arc::clone(&e.store),
        agent,
        e.work(),
        findings,
        &Silent,
        interrupt,
    )
    .await
    .unwrap();
    assert!(matches!(out.stop, Some(Stop::Interrupted)));
    assert_eq!((out.judged(), out.failed, out.not_judged), (0, 0, 3));
    let store = e.store();
    let all = store.findings(P, &FindingFilter::default()).unwrap();
    assert!(all.iter().all(|f| f.verdict.is_none()));
}

#[tokio::test]
async fn a_failed_judgement_names_its_finding_and_max_cost_stops_the_rest() {
    let (e, findings) = with_findings(&["src/a.py", "src/b.py", "src/c.py"]);
    let first = findings[0].id.clone();
    let agent = Arc::new(FakeAgent::new(1, move |paths| {
        if paths[0] == "src/a.py" {
            Plan::Fail(unparseable)
        } else {
            Plan::Findings { cost: 1.0 }
        }
    }));
    let mut work = e.work();
    work.max_cost = Some(1.5);
    let out = revalidate(
        Arc::clone(&e.store),
        agent.clone(),
        work,
        findings,
        &Silent,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    // The failure cost 0.01 and the first verdict 1.0: a third judgement at that
    // average would pass 1.5.
    assert!(
        matches!(out.stop, Some(Stop::MaxCost { .. })),
        "{:?}",
        out.stop
    );
    assert_eq!((out.failed, out.judged(), out.not_judged), (1, 1, 1));
    let (id, path, reason) = &out.failures[0];
    assert_eq!(
        (id.as_str(), path.as_str(), reason.as_str()),
        (
            first.as_str(),
            "src/a.py",
            "the agent's output could not be parsed"
        )
    );
    assert_eq!(agent.batches().len(), 2);
}
