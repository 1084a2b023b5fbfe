//! [`SandboxedCli`]: an [`Agent`] that hands each investigation to a real agent CLI
//! running inside a fresh Warden sandbox.
//!
//! Per investigation: a sandbox with the run's tree read-only at `/workspace`, the
//! agent image's CLIs read-only at `/home/sandbox/.local`, a fresh home holding only
//! the config Warden writes, and egress to the model host alone with the credential
//! brokered outside. The CLI runs headless; what it reports through Warden's MCP
//! server is read back and validated again on the host; its usage is priced with
//! Warden's own table. The sandbox is destroyed whatever happens (dropping the handle
//! destroys it, also on cancellation).

use super::answer::{fenced_object, keep_for_debugging, repair_prompt, unreadable, Ran};
use super::prompt;
use super::setup::{self, Invocation, Target, Task, HOME, REPORTS};
use super::CliKind;
use crate::cli_output::{self, CliRun};
use crate::confine::Root;
use crate::mcp::{read_findings, read_verdict};
use crate::revalidate::{parse_verdict, FindingTask, Revalidation};
use crate::{
    Agent, AgentError, AgentSession, Failed, FileTask, Investigation, Outcome, RejectedFinding,
};
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warden_llm::{Api, CancellationToken, LlmError, PriceTable, Provider, Route};
use warden_sandbox::limits::Limits;
use warden_sandbox::{
    BrokerPlan, Capture, ExecIo, ExecRequest, Exit, NetworkPolicy, Sandbox, SandboxSpec, Sandboxes,
    WorkspaceSource,
};
use warden_store::LlmCall;

/// Files one CLI investigation may take.
pub const MAX_BATCH: usize = 8;
/// Characters of a CLI's output kept when it could not be read.
const TAIL_CHARS: usize = 4000;
/// What the CLI may write on stderr that is kept (for the failure reason).
const STDERR_LIMIT: usize = 256 << 10;

/// Everything decided on the host before the first investigation.
#[derive(Debug, Clone)]
pub struct CliAgentConfig {
    pub kind: CliKind,
    /// Where sandboxes are created.
    pub sandboxes: Sandboxes,
    /// The agent image's installed CLIs (`<snapshot>/home/.local`).
    pub image_local: PathBuf,
    /// The run's copy of the tree (bound read-only at /workspace).
    pub tree: PathBuf,
    /// The credential, brokered by the sandbox's proxy.
    pub plan: BrokerPlan,
    /// `anthropic`, `openai` or `gateway`: who bills the calls (for the spend records).
    pub billing: String,
    /// How the credential reaches the API (whose credits an error is about).
    pub route: Route,
    pub model: String,
    pub prices: PriceTable,
    /// The whole investigation, the CLI's start-up included.
    pub timeout: Duration,
    pub max_turns: u32,
    /// CPU and memory of each sandbox (`--cpus`, `--memory`), enforced where the host
    /// allows (see `warden_sandbox::limits`).
    pub limits: Limits,
}

/// A real agent CLI, one sandbox per investigation.
#[derive(Debug)]
pub struct SandboxedCli {
    config: CliAgentConfig,
    target: Target,
    root: Root,
    /// Sandboxes created ahead of need ([`Agent::prepare`]: one per slot, while the
    /// slot's current investigation runs), so that creating one is off the path from
    /// claim to first model request.
    spares: std::sync::Mutex<Vec<Spare>>,
}

/// A sandbox created ahead of need.
#[derive(Debug)]
struct Spare {
    created: std::time::Instant,
    sandbox: Sandbox,
}

impl SandboxedCli {
    /// Checks the config (the tree is a directory, the plan names a key variable).
    pub fn new(config: CliAgentConfig) -> Result<SandboxedCli, String> {
        let root = Root::new(&config.tree)?;
        let plan = &config.plan;
        let key_var = plan
            .env()
            .iter()
            .find(|(_, v)| v == plan.placeholder())
            .map(|(k, _)| k.clone())
            .ok_or_else(|| {
                "the brokered credential gives the sandbox no key variable".to_string()
            })?;
        let provider = if plan.is_anthropic() {
            Api::Anthropic
        } else {
            Api::OpenAi
        };
        if config.kind == CliKind::Claude && provider != Api::Anthropic {
            return Err("Claude Code talks to Anthropic's API only".into());
        }
        if config.kind == CliKind::Codex && provider != Api::OpenAi {
            return Err("Codex talks to OpenAI's API only".into());
        }
        let target = Target {
            provider,
            model: config.model.clone(),
            base_url: plan.door().base_url.clone(),
            key_var,
            max_turns: config.max_turns,
        };
        Ok(SandboxedCli {
            config,
            target,
            root,
            spares: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn spec(&self) -> SandboxSpec {
        let plan = &self.config.plan;
        SandboxSpec {
            workspace: WorkspaceSource::BindReadOnly(self.config.tree.clone()),
            read_only_binds: vec![(
                self.config.image_local.clone(),
                PathBuf::from("/home/sandbox/.local"),
            )],
            policy: match plan.allowed_host() {
                Some(host) => NetworkPolicy::Allow(vec![host.to_string()]),
                // A loopback base URL is reached through the front door only.
                None => NetworkPolicy::DenyAll,
            },
            broker_plans: vec![plan.clone()],
            // The supervisor outlives a stuck CLI by a little, never by much.
            timeout: Some(self.config.timeout + Duration::from_secs(120)),
            limits: self.config.limits,
            ..SandboxSpec::default()
        }
    }

    /// One task in one sandbox: the run, at most one repair turn, the reports read back.
    async fn session(
        &self,
        task: Task,
        prompt: String,
        cancel: &CancellationToken,
    ) -> Result<Ran, Failed> {
        let scratch =
            tempfile::tempdir().map_err(|e| other(format!("a scratch directory: {e}")))?;
        let sandbox = self.sandbox().await?;
        let first = setup::invocation(self.config.kind, &self.target, task, &prompt);
        let mut run = self
            .run(&sandbox, &first, scratch.path(), "run", cancel)
            .await?;
        if let Some(why) = unreadable(&run, task) {
            match run.parsed.session_id.clone() {
                Some(session) => {
                    let repair = setup::resume(
                        self.config.kind,
                        &self.target,
                        task,
                        &session,
                        &repair_prompt(task, &why),
                    );
                    let again = self
                        .run(&sandbox, &repair, scratch.path(), "repair", cancel)
                        .await?;
                    run = run.then(again);
                }
                None => run.unreadable = Some(why),
            }
            if let Some(why) = unreadable(&run, task) {
                run.unreadable = Some(why);
            }
        }
        let reports = scratch.path().join("reports.jsonl");
        run.reports = match sandbox.copy_out(Path::new(REPORTS), &reports) {
            Ok(_) => std::fs::read_to_string(&reports).unwrap_or_default(),
            Err(_) => String::new(),
        };
        keep_for_debugging(scratch.path(), &run.stderr);
        let destroyed = tokio::task::spawn_blocking(move || sandbox.destroy()).await;
        if let Ok(Err(e)) = destroyed {
            tracing::warn!("destroying an agent sandbox: {e}");
        }
        Ok(run)
    }

    /// A sandbox for one session: a spare when one is ready and fresh, else a new one.
    async fn sandbox(&self) -> Result<Sandbox, Failed> {
        // A spare must have most of its deadline left (it counts from its creation).
        let fresh = |s: &Spare| s.created.elapsed() < self.config.timeout / 2;
        let (usable, stale) = match self.spares.lock() {
            Ok(mut spares) => {
                let (usable, stale): (Vec<Spare>, Vec<Spare>) =
                    spares.drain(..).partition(|s| fresh(s));
                let mut usable = usable.into_iter();
                let first = usable.next();
                spares.extend(usable);
                (first, stale)
            }
            Err(_) => (None, Vec::new()),
        };
        if !stale.is_empty() {
            // Dropping a sandbox destroys it, which blocks.
            tokio::task::spawn_blocking(move || drop(stale));
        }
        if let Some(spare) = usable {
            return Ok(spare.sandbox);
        }
        self.create()
            .await
            .map_err(|e| other(format!("creating the sandbox: {e}")))
    }

    async fn create(&self) -> Result<Sandbox, String> {
        let sandboxes = self.config.sandboxes.clone();
        let spec = self.spec();
        tokio::task::spawn_blocking(move || {
            Sandbox::create(&sandboxes, &spec).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Creates a spare for a coming session; a failure is left to that session to meet.
    async fn prepare_spare(&self) {
        let created = std::time::Instant::now();
        match self.create().await {
            Ok(sandbox) => {
                if let Ok(mut spares) = self.spares.lock() {
                    spares.push(Spare { created, sandbox });
                }
            }
            Err(e) => tracing::debug!("creating a spare sandbox: {e}"),
        }
    }

    /// Writes the invocation's files into the home and runs it.
    async fn run(
        &self,
        sandbox: &Sandbox,
        inv: &Invocation,
        scratch: &Path,
        name: &str,
        cancel: &CancellationToken,
    ) -> Result<Ran, Failed> {
        let home = scratch.join(format!("{name}-home"));
        for (rel, content) in &inv.files {
            let path = home.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| other(format!("{e}")))?;
            }
            std::fs::write(&path, content).map_err(|e| other(format!("{e}")))?;
        }
        std::fs::create_dir_all(home.join(".warden")).map_err(|e| other(format!("{e}")))?;
        for entry in std::fs::read_dir(&home).map_err(|e| other(format!("{e}")))? {
            let entry = entry.map_err(|e| other(format!("{e}")))?;
            sandbox
                .copy_in(&entry.path(), Path::new(HOME))
                .map_err(|e| other(format!("writing the agent's config: {e}")))?;
        }
        let stdout = scratch.join(format!("{name}.stdout"));
        let mut request = ExecRequest::new(inv.argv.iter().map(String::as_str))
            .cwd(setup::WORKSPACE)
            .timeout(self.config.timeout);
        for (k, v) in self.config.plan.env().iter().chain(inv.env.iter()) {
            request = request.env(k.clone(), v.as_str());
        }
        let io = ExecIo {
            stdin: None,
            stdout: Capture::File(stdout.clone()),
            stderr: Capture::Memory {
                limit: STDERR_LIMIT,
            },
        };
        let out = sandbox
            .exec(&request, io, cancel.cancelled())
            .await
            .map_err(|e| other(format!("running {}: {e}", self.config.kind)))?;
        let bytes = std::fs::read(&stdout).unwrap_or_default();
        let provider = Provider::new(self.target.provider, self.config.route);
        let parsed = cli_output::parse(self.config.kind, &bytes, provider);
        Ok(Ran {
            exit: out.exit,
            parsed,
            tail: cli_output::output_tail(&bytes, TAIL_CHARS),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            reports: String::new(),
            unreadable: None,
        })
    }

    /// The model calls of a run, priced by Warden's table.
    fn calls(&self, run: &CliRun, path: Option<&str>) -> Result<Vec<LlmCall>, AgentError> {
        let mut out = Vec::new();
        for call in &run.calls {
            call.usage.check().map_err(AgentError::Llm)?;
            let model = call
                .model
                .clone()
                .unwrap_or_else(|| self.config.model.clone());
            let cost = self.config.prices.cost(&model, &call.usage);
            out.push(LlmCall {
                run_id: None,
                path: path.map(str::to_string),
                finding_id: None,
                provider: self.config.billing.clone(),
                model,
                input_tokens: call.usage.input,
                output_tokens: call.usage.output,
                cache_write_tokens: call.usage.cache_write,
                cache_read_tokens: call.usage.cache_read,
                cost_usd: cost.usd(),
            });
        }
        Ok(out)
    }

    fn session_of(&self, run: &Ran) -> AgentSession {
        AgentSession {
            agent: self.config.kind.name().to_string(),
            session_id: run.parsed.session_id.clone(),
            turns: run.parsed.turns,
            output_tail: run.unreadable.as_ref().map(|_| run.tail.clone()),
        }
    }

    /// The error of a run that did not end well, if any (`Ok(None)`: it ended well).
    fn ending(&self, run: &Ran) -> Result<Option<String>, AgentError> {
        if let Some(err) = &run.parsed.error {
            return match &err.llm {
                Some(llm) if err.stops_run() => Err(AgentError::Llm(llm.clone())),
                _ => Ok(Some(format!(
                    "{} reported: {}",
                    self.config.kind, err.message
                ))),
            };
        }
        match run.exit {
            Exit::Cancelled => Err(AgentError::Llm(LlmError::Cancelled)),
            Exit::TimedOut => Ok(Some(format!(
                "{} did not finish within {} s",
                self.config.kind,
                self.config.timeout.as_secs()
            ))),
            Exit::Signal(s) => Ok(Some(format!(
                "{} was killed by signal {s}",
                self.config.kind
            ))),
            _ => Ok(run.unreadable.clone()),
        }
    }

    async fn investigate_batch(
        &self,
        batch: &[FileTask],
        cancel: &CancellationToken,
    ) -> Result<Investigation, Failed> {
        let first = batch.first().map(|t| t.path.as_str());
        let run = self
            .session(Task::Investigate, prompt::investigation(batch), cancel)
            .await?;
        let session = Some(self.session_of(&run));
        let calls = match self.calls(&run.parsed, first) {
            Ok(c) => c,
            Err(error) => {
                return Err(Failed {
                    error,
                    calls: Vec::new(),
                    session,
                })
            }
        };
        let ending = match self.ending(&run) {
            Ok(e) => e,
            Err(error) => {
                return Err(Failed {
                    error,
                    calls,
                    session,
                })
            }
        };
        let mut file = read_findings(&self.root, &run.reports);
        if file.findings.is_empty() {
            // The fallback answer: a fenced JSON block in the final text.
            let fenced = run
                .parsed
                .final_text
                .as_deref()
                .and_then(cli_output::fenced_json_answer)
                .unwrap_or_default();
            for value in fenced {
                match crate::finding::validate(&self.root, &value) {
                    Ok(f) => file.findings.push(f),
                    Err(reason) => file.rejected.push(RejectedFinding {
                        title: crate::finding::title_of(&value),
                        reason,
                    }),
                }
            }
        }
        // A file's cost is split evenly over its findings, as the native agent does.
        let total: f64 = calls.iter().filter_map(|c| c.cost_usd).sum();
        let share = (!file.findings.is_empty()).then(|| total / file.findings.len() as f64);
        for f in &mut file.findings {
            f.cost_usd = share;
        }
        let outcome = match ending {
            None => Outcome::Complete,
            Some(reason) if file.findings.is_empty() && calls.is_empty() => {
                return Err(Failed {
                    error: AgentError::Other(reason),
                    calls,
                    session,
                })
            }
            Some(reason) => Outcome::Incomplete { reason },
        };
        Ok(Investigation {
            findings: file.findings,
            rejected: file.rejected,
            calls,
            outcome,
            session,
        })
    }

    async fn judge(
        &self,
        task: &FindingTask,
        cancel: &CancellationToken,
    ) -> Result<Revalidation, Failed> {
        let run = self
            .session(Task::Verdict, prompt::revalidation(task), cancel)
            .await?;
        let session = Some(self.session_of(&run));
        let path = Some(task.finding.reported.path.as_str());
        let mut calls = match self.calls(&run.parsed, path) {
            Ok(c) => c,
            Err(error) => {
                return Err(Failed {
                    error,
                    calls: Vec::new(),
                    session,
                })
            }
        };
        for c in &mut calls {
            c.finding_id = Some(task.finding.id.clone());
        }
        let ending = match self.ending(&run) {
            Ok(e) => e,
            Err(error) => {
                return Err(Failed {
                    error,
                    calls,
                    session,
                })
            }
        };
        let verdict = read_verdict(&run.reports).or_else(|| {
            let text = run.parsed.final_text.as_deref()?;
            fenced_object(text).and_then(|v| parse_verdict(&v).ok())
        });
        let outcome = match (&verdict, ending) {
            (Some(_), _) => Outcome::Complete,
            (None, Some(reason)) => Outcome::Incomplete { reason },
            (None, None) => Outcome::Incomplete {
                reason: format!("{} gave no verdict", self.config.kind),
            },
        };
        Ok(Revalidation {
            verdict,
            calls,
            outcome,
            session,
        })
    }
}

fn other(message: String) -> Failed {
    Failed::before_any_call(AgentError::Other(message))
}

impl Agent for SandboxedCli {
    fn name(&self) -> &str {
        self.config.kind.name()
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn investigate<'a>(
        &'a self,
        batch: &'a [FileTask],
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Investigation, Failed>> {
        Box::pin(self.investigate_batch(batch, cancel))
    }

    fn revalidate<'a>(
        &'a self,
        task: &'a FindingTask,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Revalidation, Failed>> {
        Box::pin(self.judge(task, cancel))
    }

    fn prepare(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.prepare_spare())
    }
}
