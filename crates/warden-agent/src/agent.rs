//! The investigation loop: send, run the tools the model asks for, answer
//! with tool results, until the model finishes or a limit is hit.

use std::time::Instant;

use serde_json::Value;
use warden_llm::{
    CancellationToken, ContentBlock, LlmError, Message, Request, Response, Role, StopReason,
    SystemPrompt,
};
use warden_store::{LlmCall, NewFinding};

use crate::confine::Root;
use crate::finding::{self, FINISH, REPORT_FINDING};
use crate::tools::{self, ToolOutput};
use crate::{AgentError, Failed, FileTask, Investigation, NativeAgent, Outcome, RejectedFinding};

/// Output tokens asked for per call (bounded further by the remaining budget).
pub const MAX_TOKENS_PER_CALL: u64 = 8192;

/// The model calls of a job so far.
#[derive(Default)]
struct State {
    calls: Vec<LlmCall>,
    output_tokens: u64,
}

/// The tools offered to the model, in a fixed order (part of the cached prefix).
pub fn tool_definitions() -> Vec<warden_llm::Tool> {
    let mut t = tools::definitions();
    t.push(finding::report_definition());
    t.push(finding::finish_definition());
    t
}

/// What differs between the agent's jobs (investigating a file, revalidating a
/// finding): the prompt, the answer tools and what they do. The loop, limits,
/// cancellation and per-call cost are shared ([`drive`]).
pub(crate) trait Job: Send {
    fn system(&self) -> &'static str;
    fn first_message(&self, root: &Root) -> String;
    fn tools(&self) -> Vec<warden_llm::Tool>;
    /// Recorded as the path of every model call.
    fn path(&self) -> &str;
    /// Names of all tools, for the unknown-tool error.
    fn tool_names(&self) -> &'static str;
    /// What to say when an answer was cut off by the token limit.
    fn continue_hint(&self) -> &'static str;
    /// A turn ended without tool calls: `Some(nudge)` asks the model again
    /// (e.g. it has not answered yet), `None` ends the job.
    fn on_text_only(&mut self) -> Option<&'static str> {
        None
    }
    /// Handles a non-exploration tool: `Some((output, finished))`, or `None` if unknown.
    fn handle(&mut self, root: &Root, name: &str, input: &Value) -> Option<(ToolOutput, bool)>;
}

/// Runs `job` under the agent's limits and `cancel`. A non-fatal model error
/// after at least one call ends the job as [`Outcome::Incomplete`].
pub(crate) async fn drive<J: Job>(
    agent: &NativeAgent,
    root: &Root,
    job: &mut J,
    cancel: &CancellationToken,
) -> Result<(Outcome, Vec<LlmCall>), Failed> {
    let mut st = State::default();
    let result = {
        let run = run_loop(agent, job, root, cancel, &mut st);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(LlmError::Cancelled.into()),
            r = tokio::time::timeout(agent.limits.timeout, run) => match r {
                Ok(r) => r,
                Err(_) => Ok(Outcome::Incomplete {
                    reason: format!(
                        "timed out: the investigation exceeded its wall-clock limit of {}s",
                        agent.limits.timeout.as_secs_f64()
                    ),
                }),
            },
        }
    };
    let outcome = match result {
        Ok(o) => o,
        Err(AgentError::Llm(e))
            if !e.stops_run() && e != LlmError::Cancelled && !st.calls.is_empty() =>
        {
            Outcome::Incomplete {
                reason: format!("model call failed after {} calls: {e}", st.calls.len()),
            }
        }
        Err(error) => {
            return Err(Failed {
                error,
                calls: st.calls,
                session: None,
            })
        }
    };
    Ok((outcome, st.calls))
}

/// Investigating one candidate file: findings come through `report_finding`.
struct Investigate<'a> {
    task: &'a FileTask,
    findings: Vec<NewFinding>,
    rejected: Vec<RejectedFinding>,
}

impl Job for Investigate<'_> {
    fn system(&self) -> &'static str {
        crate::prompt::SYSTEM
    }
    fn first_message(&self, root: &Root) -> String {
        crate::prompt::user_prompt(self.task, root)
    }
    fn tools(&self) -> Vec<warden_llm::Tool> {
        tool_definitions()
    }
    fn path(&self) -> &str {
        &self.task.path
    }
    fn tool_names(&self) -> &'static str {
        "read_file, search, list_dir, find_files, report_finding, finish"
    }
    fn continue_hint(&self) -> &'static str {
        "Your answer was cut off. Continue: report findings with report_finding, then call finish."
    }
    fn handle(&mut self, root: &Root, name: &str, input: &Value) -> Option<(ToolOutput, bool)> {
        match name {
            REPORT_FINDING => Some((self.report(root, input), false)),
            FINISH => Some((ToolOutput::ok("Investigation finished."), true)),
            _ => None,
        }
    }
}

pub(crate) async fn investigate(
    agent: &NativeAgent,
    task: &FileTask,
    cancel: &CancellationToken,
) -> Result<Investigation, Failed> {
    let fail = Failed::before_any_call;
    let root = Root::new(&task.root).map_err(|e| fail(AgentError::Other(e)))?;
    if let Err(e) = root.resolve(&task.path) {
        let msg = format!("cannot investigate `{}`: {e}", task.path);
        return Err(fail(AgentError::Other(msg)));
    }
    let started = Instant::now();
    let mut job = Investigate {
        task,
        findings: Vec::new(),
        rejected: Vec::new(),
    };
    let (outcome, calls) = drive(agent, &root, &mut job, cancel).await?;
    tracing::debug!(
        path = task.path,
        calls = calls.len(),
        findings = job.findings.len(),
        rejected = job.rejected.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "investigation ended"
    );
    Ok(job.into_investigation(calls, outcome))
}

async fn run_loop<J: Job>(
    agent: &NativeAgent,
    job: &mut J,
    root: &Root,
    cancel: &CancellationToken,
    st: &mut State,
) -> Result<Outcome, AgentError> {
    let limits = agent.limits;
    let mut req = Request {
        model: agent.model.clone(),
        system: Some(SystemPrompt {
            text: job.system().to_string(),
            cache: true,
        }),
        messages: vec![Message::user(job.first_message(root))],
        tools: job.tools(),
        max_tokens: 0,
        temperature: None,
    };
    let budget_spent = |st: &State| Outcome::Incomplete {
        reason: format!(
            "output token limit reached ({} of {} tokens)",
            st.output_tokens, limits.max_output_tokens
        ),
    };
    for _ in 0..limits.max_turns {
        let remaining = limits.max_output_tokens.saturating_sub(st.output_tokens);
        if remaining == 0 {
            return Ok(budget_spent(st));
        }
        req.max_tokens = remaining.min(MAX_TOKENS_PER_CALL) as u32;
        // Streamed, so that an endpoint that stops making progress is given up after
        // the client's stall timeout instead of holding the file until the wall clock.
        let resp = agent.client.send_streamed(&req, cancel).await?;
        st.record_call(agent, job.path(), &resp)?;
        req.messages.push(Message {
            role: Role::Assistant,
            content: resp.content.clone(),
        });
        let uses: Vec<(&str, &str, &Value)> = resp.tool_uses().collect();
        if uses.is_empty() {
            if resp.stop_reason != StopReason::MaxTokens {
                match job.on_text_only() {
                    None => return Ok(Outcome::Complete),
                    Some(nudge) => {
                        req.messages.push(Message::user(nudge));
                        continue;
                    }
                }
            }
            if st.output_tokens >= limits.max_output_tokens {
                return Ok(budget_spent(st));
            }
            req.messages.push(Message::user(job.continue_hint()));
            continue;
        }
        let mut results = Vec::with_capacity(uses.len());
        let mut finished = false;
        for (id, name, input) in uses {
            let out = match job.handle(root, name, input) {
                Some((out, done)) => {
                    finished |= done;
                    out
                }
                None if tools::is_exploration(name) => run_tool(root, name, input).await,
                None => ToolOutput::err(format!(
                    "unknown tool `{name}`; available: {}",
                    job.tool_names()
                )),
            };
            results.push(ContentBlock::ToolResult {
                tool_use_id: id.to_string(),
                content: out.content,
                is_error: out.is_error,
            });
        }
        if finished {
            return Ok(Outcome::Complete);
        }
        if st.output_tokens >= limits.max_output_tokens {
            return Ok(budget_spent(st));
        }
        req.messages.push(Message {
            role: Role::User,
            content: results,
        });
    }
    Ok(Outcome::Incomplete {
        reason: format!(
            "turn limit reached ({} model calls) before the agent finished",
            limits.max_turns
        ),
    })
}

/// Names the scan rule that led here when the model did not: the first hit
/// of the investigated file inside the finding's lines.
fn attribute_rule(f: &mut NewFinding, task: &FileTask) {
    if f.rule_id.is_none() && f.path == task.path.trim_start_matches("./") {
        f.rule_id = task
            .hits
            .iter()
            .find(|h| (f.start_line..=f.end_line).contains(&h.line))
            .map(|h| h.rule_id.clone());
    }
}

/// Runs a file-system tool off the async threads.
async fn run_tool(root: &Root, name: &str, input: &Value) -> ToolOutput {
    let (root, name, input) = (root.clone(), name.to_string(), input.clone());
    tokio::task::spawn_blocking(move || tools::run(&root, &name, &input))
        .await
        .unwrap_or_else(|e| ToolOutput::err(format!("the tool failed: {e}")))
}

impl State {
    /// Records one answered call. Figures that no store could add up (token counts
    /// beyond any real call, a cost that is not a finite amount) fail the call: the
    /// client checks usage already, but not every [`warden_llm::ModelClient`] does.
    fn record_call(
        &mut self,
        agent: &NativeAgent,
        path: &str,
        resp: &Response,
    ) -> Result<(), AgentError> {
        let u = resp.usage;
        u.check()?;
        // Price by the configured name first, else by what the provider reported.
        let cost = if agent.prices.price(&agent.model).is_some() {
            agent.prices.cost(&agent.model, &u)
        } else {
            resp.cost(&agent.prices)
        };
        if let Some(usd) = cost.usd().filter(|usd| !usd.is_finite() || *usd < 0.0) {
            return Err(LlmError::MalformedResponse {
                message: format!("the call's usage prices at {usd} USD, not an amount"),
            }
            .into());
        }
        self.output_tokens = self.output_tokens.saturating_add(u.output);
        self.calls.push(LlmCall {
            run_id: None,
            path: Some(path.to_string()),
            finding_id: None,
            provider: agent.provider.clone(),
            model: agent.model.clone(),
            input_tokens: u.input,
            output_tokens: u.output,
            cache_write_tokens: u.cache_write,
            cache_read_tokens: u.cache_read,
            cost_usd: cost.usd(),
        });
        Ok(())
    }
}

impl Investigate<'_> {
    fn report(&mut self, root: &Root, input: &Value) -> ToolOutput {
        let task = self.task;
        let title = finding::title_of(input);
        let checked = finding::validate(root, input).and_then(|mut f| {
            attribute_rule(&mut f, task);
            let dup = self.findings.iter().any(|g| {
                g.path == f.path
                    && g.start_line == f.start_line
                    && g.title.eq_ignore_ascii_case(&f.title)
            });
            if dup {
                Err("duplicate: this issue was already reported".to_string())
            } else {
                Ok(f)
            }
        });
        match checked {
            Ok(f) => {
                let msg = format!(
                    "Recorded finding {}: {} ({}:{}-{}).",
                    self.findings.len() + 1,
                    f.title,
                    f.path,
                    f.start_line,
                    f.end_line
                );
                self.findings.push(f);
                ToolOutput::ok(msg)
            }
            Err(reason) => {
                let msg = format!(
                    "Finding rejected: {reason}. Correct it and report again if the issue is real."
                );
                self.rejected.push(RejectedFinding { title, reason });
                ToolOutput::err(msg)
            }
        }
    }

    fn into_investigation(mut self, calls: Vec<LlmCall>, outcome: Outcome) -> Investigation {
        let total: Option<f64> = calls.iter().map(|c| c.cost_usd).sum();
        if !self.findings.is_empty() {
            let share = total.map(|t| t / self.findings.len() as f64);
            for f in &mut self.findings {
                f.cost_usd = share;
            }
        }
        Investigation {
            findings: self.findings,
            rejected: self.rejected,
            calls,
            outcome,
            session: None,
        }
    }
}
