//! A real store in a temp dir, a scripted fake [`Agent`], and a progress recorder.

use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use warden_agent::{
    Agent, AgentError, AgentSession, Failed, FileTask, FindingTask, Investigation, Outcome,
    Revalidation, VerdictAnswer,
};
use warden_llm::{CancellationToken, CreditSource, LlmError};
use warden_pipeline::{Progress, Queue, SlotState, Work};
use warden_store::*;

pub const P: &str = "proj";
pub const HOLDER: &str = "pid 1 on test";

/// A store with project `P` whose candidates are `files` (path, score).
pub struct Env {
    pub dir: TempDir,
    pub store: Arc<Mutex<Store>>,
    pub run: i64,
}

pub fn env(files: &[(&str, f64)]) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join(".warden")).expect("open");
    store
        .ensure_project(P, dir.path().to_str().expect("utf-8 temp dir"))
        .expect("project");
    let scan_run = store.begin_run(P, RunKind::Scan, HOLDER).expect("run");
    let files = files
        .iter()
        .map(|(path, score)| ScannedFile {
            path: path.to_string(),
            language: Some("python".into()),
            size: 10,
            mtime_ns: 1,
            hash: format!("hash of {path}"),
            matched: Some(MatchedFile {
                score: *score,
                hits: vec![Hit {
                    rule_id: "rule".into(),
                    line: 1,
                    snippet: "call()".into(),
                }],
            }),
        })
        .collect();
    let record = ScanRecord {
        files,
        limit: None,
        min_score: 0.5,
        unvisited: Vec::new(),
    };
    store
        .record_scan(P, scan_run, "rules", &record)
        .expect("scan");
    let run = store.begin_run(P, RunKind::Process, HOLDER).expect("run");
    Env {
        dir,
        store: Arc::new(Mutex::new(store)),
        run,
    }
}

impl Env {
    pub fn work(&self) -> Work {
        Work::new(P, self.dir.path().to_path_buf(), HOLDER, self.run)
    }

    pub fn queue(&self) -> Queue {
        Queue::Listed(self.listed())
    }

    pub fn listed(&self) -> Vec<CandidateFile> {
        self.store().pending_queue(P, None).expect("queue")
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("store")
    }

    /// A second handle on the same database, as another process would have.
    pub fn other_handle(&self) -> Store {
        Store::open(&self.dir.path().join(".warden")).expect("reopen")
    }

    pub fn status_of(&self, path: &str) -> FileStatus {
        let store = self.store();
        let all = store.candidates(P, None).expect("candidates");
        all.into_iter()
            .find(|c| c.path == path)
            .map(|c| c.status)
            .unwrap_or_else(|| panic!("{path} is no candidate"))
    }

    /// Files claimed (status processing) right now.
    pub fn leases(&self) -> Vec<FileLease> {
        self.store().file_leases(P).expect("leases")
    }
}

/// What the fake agent does with one batch (or finding).
#[derive(Clone)]
pub enum Plan {
    /// Finishes: one finding in each file of the batch, one call of this cost.
    Findings {
        cost: f64,
    },
    /// Hits a limit after one call of this cost.
    Incomplete(&'static str),
    /// Fails with this error after one call of cost 0.01.
    Fail(fn() -> AgentError),
    /// Waits for cancellation, then fails as cancelled after one call.
    Hang,
    /// Waits, then does the inner plan (cancellation ends the wait as `Hang` does).
    After(Duration, Box<Plan>),
    Panic,
}

pub fn credits() -> AgentError {
    AgentError::Llm(LlmError::CreditsExhausted {
        origin: CreditSource::Anthropic,
        message: "credit balance is too low".into(),
    })
}

pub fn unparseable() -> AgentError {
    AgentError::Other("the agent's output could not be parsed".into())
}

type Script = Box<dyn Fn(&[String]) -> Plan + Send + Sync>;

/// An agent that follows a script: which plan for which batch.
pub struct FakeAgent {
    pub max_batch: usize,
    script: Script,
    /// The session every result carries, if any.
    pub session: Option<AgentSession>,
    /// Every batch it was given, in the order investigations started.
    pub batches: Mutex<Vec<Vec<String>>>,
    pub started: AtomicUsize,
    pub cancelled: AtomicUsize,
    /// How long [`Agent::prepare`] takes (as creating a sandbox would).
    pub prepare_time: Duration,
    /// Calls of [`Agent::prepare`] that finished.
    pub prepared: AtomicUsize,
}

impl FakeAgent {
    pub fn new(
        max_batch: usize,
        script: impl Fn(&[String]) -> Plan + Send + Sync + 'static,
    ) -> Self {
        FakeAgent {
            max_batch,
            script: Box::new(script),
            session: None,
            batches: Mutex::new(Vec::new()),
            started: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            prepare_time: Duration::ZERO,
            prepared: AtomicUsize::new(0),
        }
    }

    pub fn preparing_for(mut self, time: Duration) -> Self {
        self.prepare_time = time;
        self
    }

    pub fn always(max_batch: usize, plan: Plan) -> Self {
        Self::new(max_batch, move |_| plan.clone())
    }

    pub fn with_session(mut self, session: AgentSession) -> Self {
        self.session = Some(session);
        self
    }

    pub fn batches(&self) -> Vec<Vec<String>> {
        self.batches.lock().expect("batches").clone()
    }

    fn call(&self, path: Option<&str>, cost: f64) -> LlmCall {
        LlmCall {
            run_id: None,
            path: path.map(str::to_string),
            finding_id: None,
            provider: "fake".into(),
            model: "fake-1".into(),
            input_tokens: 100,
            output_tokens: 10,
            cache_write_tokens: 0,
            cache_read_tokens: 0,
            cost_usd: Some(cost),
        }
    }

    fn failed(&self, error: AgentError) -> Failed {
        Failed {
            error,
            calls: vec![self.call(None, 0.01)],
            session: self.session.clone(),
        }
    }

    /// Runs `plan` for `paths`: the findings it reports, or its failure.
    async fn run(
        &self,
        plan: Plan,
        paths: &[String],
        cancel: &CancellationToken,
    ) -> Result<(Vec<NewFinding>, Outcome, f64), Failed> {
        let mut plan = plan;
        loop {
            match plan {
                Plan::After(wait, next) => {
                    tokio::select! {
                        _ = cancel.cancelled() => {
                            self.cancelled.fetch_add(1, Ordering::SeqCst);
                            return Err(self.failed(AgentError::Llm(LlmError::Cancelled)));
                        }
                        _ = tokio::time::sleep(wait) => plan = *next,
                    }
                }
                Plan::Hang => {
                    cancel.cancelled().await;
                    self.cancelled.fetch_add(1, Ordering::SeqCst);
                    return Err(self.failed(AgentError::Llm(LlmError::Cancelled)));
                }
                Plan::Panic => panic!("the fake agent was told to panic"),
                Plan::Fail(error) => return Err(self.failed(error())),
                Plan::Incomplete(reason) => {
                    let outcome = Outcome::Incomplete {
                        reason: reason.to_string(),
                    };
                    return Ok((vec![finding(&paths[0])], outcome, 0.01));
                }
                Plan::Findings { cost } => {
                    let found = paths.iter().map(|p| finding(p)).collect();
                    return Ok((found, Outcome::Complete, cost));
                }
            }
        }
    }
}

pub fn finding(path: &str) -> NewFinding {
    NewFinding {
        run_id: None,
        path: path.to_string(),
        start_line: 1,
        end_line: 1,
        title: format!("Injection in {path}"),
        severity: Severity::High,
        confidence: Confidence::High,
        cwe: Some("CWE-89".into()),
        category: None,
        rule_id: None,
        description: "user input reaches a query".into(),
        attack_path: "GET /".into(),
        recommendation: "use parameters".into(),
        patch: None,
        cost_usd: None,
    }
}

impl Agent for FakeAgent {
    fn name(&self) -> &str {
        "fake"
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn investigate<'a>(
        &'a self,
        batch: &'a [FileTask],
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Investigation, Failed>> {
        Box::pin(async move {
            let paths: Vec<String> = batch.iter().map(|t| t.path.clone()).collect();
            self.batches.lock().expect("batches").push(paths.clone());
            self.started.fetch_add(1, Ordering::SeqCst);
            let plan = (self.script)(&paths);
            let (findings, outcome, cost) = self.run(plan, &paths, cancel).await?;
            Ok(Investigation {
                findings,
                rejected: Vec::new(),
                calls: vec![self.call(None, cost)],
                outcome,
                session: self.session.clone(),
            })
        })
    }

    fn revalidate<'a>(
        &'a self,
        task: &'a FindingTask,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Revalidation, Failed>> {
        Box::pin(async move {
            let paths = vec![task.finding.reported.path.clone()];
            self.batches.lock().expect("batches").push(paths.clone());
            self.started.fetch_add(1, Ordering::SeqCst);
            let plan = (self.script)(&paths);
            let (_, outcome, cost) = self.run(plan, &paths, cancel).await?;
            let mut call = self.call(Some(&paths[0]), cost);
            call.finding_id = Some(task.finding.id.clone());
            Ok(Revalidation {
                verdict: (outcome == Outcome::Complete).then(|| VerdictAnswer {
                    verdict: Verdict::TruePositive,
                    reasoning: "reachable from GET /".into(),
                    corrected_severity: None,
                }),
                calls: vec![call],
                outcome,
                session: self.session.clone(),
            })
        })
    }

    fn prepare(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            tokio::time::sleep(self.prepare_time).await;
            self.prepared.fetch_add(1, Ordering::SeqCst);
        })
    }
}

/// Counts what the pipeline reports.
#[derive(Default)]
pub struct Recorder {
    pub done: AtomicUsize,
    pub finished: AtomicUsize,
    /// Every slot change, in order: (slot, "preparing" | "idle" | the path investigated).
    pub slots: Mutex<Vec<(usize, String)>>,
}

impl Recorder {
    pub fn slot_log(&self) -> Vec<(usize, String)> {
        self.slots.lock().expect("slots").clone()
    }
}

impl Progress for Recorder {
    fn file_done(&self, _findings: usize, _spend_usd: f64) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
    fn slot(&self, slot: usize, state: SlotState<'_>) {
        let what = match state {
            SlotState::Preparing => "preparing".to_string(),
            SlotState::Idle => "idle".to_string(),
            SlotState::Investigating { path, .. } => path.to_string(),
        };
        self.slots.lock().expect("slots").push((slot, what));
    }
    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits (up to 10 s) until `cond` holds.
pub async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
