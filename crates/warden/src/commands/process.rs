//! `warden process`: an agent investigates the pending candidate files, best-scored
//! first; findings and the cost of every model call land in the store.
//!
//! This module does the setup (store, project, model client from the credentials
//! found) and the summary; [`super::process_worker`] runs the investigations.

use super::process_worker::{self, Stop, Summary, Work};
use crate::cli::{GlobalArgs, ProcessArgs};
use crate::exit::{UsageError, STOPPED};
use crate::locate;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use warden_agent::{Limits, NativeAgent};
use warden_creds::{Credential, CredsError, Kind, Provider};
use warden_llm::{
    AnthropicAuth, AnthropicClient, AnthropicConfig, ModelClient, OpenAiClient, OpenAiConfig,
    OpenAiWire, PriceTable, Route,
};
use warden_store::{RunKind, RunStatus, Severity, Store};

pub fn run(global: &GlobalArgs, args: &ProcessArgs) -> anyhow::Result<u8> {
    if args.concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()).into());
    }
    if let Some(cap) = args.max_cost {
        if !cap.is_finite() || cap < 0.0 {
            return Err(UsageError(format!(
                "--max-cost {cap}: must be a non-negative amount in USD"
            ))
            .into());
        }
    }
    let provider = provider_for(&args.model)?;

    let data_dir = locate::data_dir_for_reading(global.data_dir.as_deref())?;
    let mut store = Store::open_existing(&data_dir)?;
    let project_id = locate::project_for_reading(&store, global.project_id.as_deref())?;
    let project = store
        .project(&project_id)?
        .ok_or_else(|| UsageError(format!("project {project_id} vanished from the store")))?;

    let found = warden_creds::discover_from_process();
    let Some(cred) = found.best(provider, false).cloned() else {
        return Err(CredsError::NotFound {
            looked_at: found.looked_at,
        }
        .into());
    };
    let limits = Limits::default();
    let client = client_for(provider, &cred)?;
    let agent = NativeAgent::new(
        client,
        args.model.clone(),
        provider_name(provider, &cred).to_string(),
        PriceTable::builtin(),
        limits,
    );

    if args.reinvestigate {
        store.requeue_analyzed(&project_id)?;
    }
    // Files left claimed by a process that died on this host (kill -9, crash) go back
    // to the queue now instead of when their lease runs out.
    for lease in store.file_leases(&project_id)? {
        if locate::holder_is_dead(&lease.holder) {
            store.release_file(&project_id, &lease.path, &lease.holder)?;
        }
    }
    let queue = store.pending_queue(&project_id, args.limit)?;
    let holder = warden_store::default_holder();
    let run_id = store.begin_run(&project_id, RunKind::Process, &holder)?;

    let work = Work {
        project: project_id.clone(),
        root: PathBuf::from(&project.root),
        tech: project.tech.clone(),
        holder,
        run_id,
        lease: limits.timeout + std::time::Duration::from_secs(300),
        concurrency: args.concurrency,
        max_cost: args.max_cost,
        quiet: global.quiet,
    };
    let store = Arc::new(Mutex::new(store));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.concurrency.clamp(1, 4))
        .enable_all()
        .build()?;
    let result = runtime.block_on(process_worker::run(
        Arc::clone(&store),
        Arc::new(agent),
        work,
        queue,
    ));
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            let _ = store.finish_run(run_id, RunStatus::Failed, &serde_json::json!({}));
            return Err(err);
        }
    };
    let status = if outcome.stop.is_some() {
        RunStatus::Stopped
    } else {
        RunStatus::Done
    };
    let stats = summary_json(&outcome, run_id, &args.model);
    store.finish_run(run_id, status, &stats)?;
    drop(store);

    if let Some(stop) = &outcome.stop {
        eprintln!("warden: stopped: {}", stop.message().replace('\n', " "));
    }
    let text = if args.json {
        serde_json::to_string_pretty(&stats)?
    } else {
        summary_text(&outcome, run_id)
    };
    if !global.quiet || args.json {
        super::emit(None, &text)?;
    }
    Ok(if outcome.stop.is_some() { STOPPED } else { 0 })
}

/// The provider a model name belongs to (a `vendor/` prefix, as gateways use, is ignored).
fn provider_for(model: &str) -> anyhow::Result<Provider> {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    if name.starts_with("claude") {
        Ok(Provider::Anthropic)
    } else if ["gpt", "o1", "o3", "o4", "codex"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        Ok(Provider::OpenAi)
    } else {
        Err(UsageError(format!(
            "--model {model}: unknown model family (expected claude-*, gpt-*, o1*, o3* or o4*)"
        ))
        .into())
    }
}

fn route_for(cred: &Credential) -> Route {
    match cred.kind {
        Kind::ApiKey => Route::Direct,
        Kind::Gateway => Route::Gateway,
        Kind::OAuth => Route::Subscription,
    }
}

fn provider_name(provider: Provider, cred: &Credential) -> &'static str {
    match (provider, cred.kind) {
        (_, Kind::Gateway) => "gateway",
        (Provider::Anthropic, _) => "anthropic",
        (Provider::OpenAi, _) => "openai",
    }
}

fn client_for(provider: Provider, cred: &Credential) -> anyhow::Result<Arc<dyn ModelClient>> {
    let route = route_for(cred);
    Ok(match provider {
        Provider::Anthropic => {
            let auth = match cred.kind {
                Kind::ApiKey => AnthropicAuth::ApiKey(cred.value.clone()),
                Kind::OAuth | Kind::Gateway => AnthropicAuth::Bearer(cred.value.clone()),
            };
            let mut cfg = AnthropicConfig::new(auth);
            cfg.route = route;
            if let Some(url) = &cred.base_url {
                cfg.base_url = url.clone();
            }
            Arc::new(AnthropicClient::new(cfg).map_err(|e| UsageError(e.to_string()))?)
        }
        Provider::OpenAi => {
            let mut cfg = OpenAiConfig::new(Some(cred.value.clone()), OpenAiWire::Responses);
            cfg.route = route;
            if let Some(url) = &cred.base_url {
                cfg.base_url = url.clone();
            }
            Arc::new(OpenAiClient::new(cfg).map_err(|e| UsageError(e.to_string()))?)
        }
    })
}

fn summary_json(o: &Summary, run_id: i64, model: &str) -> serde_json::Value {
    let by_severity: serde_json::Map<String, serde_json::Value> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), o.findings_of(*s).into()))
        .collect();
    serde_json::json!({
        "run_id": run_id,
        "model": model,
        "status": if o.stop.is_some() { "stopped" } else { "done" },
        "stop_reason": o.stop.as_ref().map(Stop::message),
        "queued": o.queued,
        "investigated": o.investigated,
        "failed": o.failed,
        "released": o.released,
        "skipped": o.skipped,
        "not_started": o.not_started,
        "findings": o.findings.len(),
        "findings_by_severity": by_severity,
        "rejected": o.rejected,
        "spend_usd": o.spend_usd,
        "unpriced_calls": o.unpriced_calls,
        "failures": o.failures.iter().map(|(p, r)| serde_json::json!({"path": p, "reason": r})).collect::<Vec<_>>(),
    })
}

fn summary_text(o: &Summary, run_id: i64) -> String {
    let mut out = String::new();
    let by_sev: Vec<String> = Severity::ALL
        .iter()
        .map(|s| (s, o.findings_of(*s)))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let findings = if by_sev.is_empty() {
        "no findings".to_string()
    } else {
        format!("{} findings ({})", o.findings.len(), by_sev.join(", "))
    };
    let unpriced = if o.unpriced_calls > 0 {
        format!(" (+{} calls of unknown price)", o.unpriced_calls)
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "Run {run_id}: investigated {} of {} queued files, {findings}, spent ${:.4}{unpriced}",
        o.investigated, o.queued, o.spend_usd
    );
    if o.failed > 0 {
        let _ = write!(out, "; {} failed", o.failed);
        for (path, reason) in o.failures.iter().take(5) {
            let _ = write!(out, " [{path}: {reason}]");
        }
    }
    if o.released + o.not_started > 0 {
        let _ = write!(
            out,
            "; {} left pending for the next run",
            o.released + o.not_started
        );
    }
    if o.skipped > 0 {
        let _ = write!(out, "; {} taken by another process", o.skipped);
    }
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_follows_the_model_name() {
        assert_eq!(
            provider_for("claude-sonnet-4-5").unwrap(),
            Provider::Anthropic
        );
        assert_eq!(
            provider_for("anthropic/claude-opus-4").unwrap(),
            Provider::Anthropic
        );
        assert_eq!(provider_for("gpt-5").unwrap(), Provider::OpenAi);
        assert_eq!(provider_for("o3-mini").unwrap(), Provider::OpenAi);
        assert_eq!(provider_for("o4-mini").unwrap(), Provider::OpenAi);
        assert!(provider_for("llama-3").is_err());
    }
}
