//! Which agent runs a `process` or `revalidate`, with which model and credential, decided
//! once on the host and shown in the run header: the native agent over a provider API, or
//! an agent CLI (Claude Code, Codex, OpenCode) in a sandbox per investigation.
//!
//! The agent is `--agent`, else `WARDEN_AGENT`, else `agent` in `.warden/config.toml` (the
//! store's directory), else native; the model likewise (`--model`, `WARDEN_MODEL`,
//! `model`), else one for the provider of the credential found.

use crate::cli::AgentKind;
use crate::exit::UsageError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use warden_agent::cli_agent::image::AgentImage;
use warden_agent::cli_agent::sandboxed::{CliAgentConfig, SandboxedCli};
use warden_agent::cli_agent::CliKind;
use warden_agent::{Agent, Limits};
use warden_creds::Agent as CredAgent;
use warden_llm::PriceTable;
use warden_sandbox::{BrokerPlan, SandboxRoot, Sandboxes};

/// The agent of a run, ready to hand to the pipeline.
pub(crate) struct Prepared {
    pub agent: Arc<dyn Agent>,
    pub model: String,
    /// One line: agent, model, credential and why.
    pub header: String,
    /// The credential used and why (for the run summary).
    pub credential: String,
    /// The tree copy the sandboxes see; removed when the run ends.
    pub tree: Option<TreeCopy>,
    /// For an agent CLI, one line: how many sandboxes at once, their size, and what of
    /// it this host enforces.
    pub sandboxes: Option<String>,
}

/// The agent and model a run uses, from the flags, the environment and the config file.
pub(crate) fn choose(
    flag_agent: Option<AgentKind>,
    flag_model: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<(AgentKind, Option<String>)> {
    let file = crate::project_config::load(data_dir)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let agent = match flag_agent {
        Some(a) => a,
        None => match env("WARDEN_AGENT")
            .map(|v| ("WARDEN_AGENT", v))
            .or_else(|| {
                file.agent
                    .clone()
                    .map(|v| ("`agent` in .warden/config.toml", v))
            }) {
            Some((source, name)) => AgentKind::from_name(name.trim()).ok_or_else(|| {
                UsageError(format!(
                    "{source}: unknown agent `{name}` (expected native, claude, codex or opencode)"
                ))
            })?,
            None => AgentKind::Native,
        },
    };
    let model = flag_model
        .map(str::to_string)
        .or_else(|| env("WARDEN_MODEL"))
        .or(file.model);
    Ok((agent, model))
}

fn cred_agent(kind: AgentKind) -> CredAgent {
    match kind {
        AgentKind::Native => CredAgent::Native,
        AgentKind::Claude => CredAgent::Claude,
        AgentKind::Codex => CredAgent::Codex,
        AgentKind::Opencode => CredAgent::OpenCode,
    }
}

fn cli_kind(kind: AgentKind) -> Option<CliKind> {
    match kind {
        AgentKind::Native => None,
        AgentKind::Claude => Some(CliKind::Claude),
        AgentKind::Codex => Some(CliKind::Codex),
        AgentKind::Opencode => Some(CliKind::OpenCode),
    }
}

/// Builds the agent: the credential it uses (and why), the model, and for an agent CLI
/// the image, the brokering plan and a copy of `root` for its sandboxes.
pub(crate) fn prepare(
    kind: AgentKind,
    model: Option<&str>,
    root: &Path,
    run_tag: &str,
    limits: Limits,
    slots: &super::slots::Slots,
) -> anyhow::Result<Prepared> {
    let provider = model.map(super::model_setup::provider_for).transpose()?;
    let found = warden_creds::discover_from_process();
    let choice = found.for_agent(cred_agent(kind), provider)?;
    let cred = &choice.credential;
    let model = model
        .map(str::to_string)
        .unwrap_or_else(|| super::model_setup::default_model(cred.provider).to_string());
    let Some(cli) = cli_kind(kind) else {
        let agent = super::model_setup::native_agent(cred, &model, limits)?;
        return Ok(Prepared {
            agent: Arc::new(agent),
            header: format!("agent native, model {model}; credential: {}", choice.why),
            credential: choice.why.clone(),
            model,
            tree: None,
            sandboxes: None,
        });
    };
    let sandboxes = Sandboxes::new(SandboxRoot::new(super::agents::sandbox_dir()?));
    let image = AgentImage::load(&sandboxes)?
        .filter(|i| i.agents.contains_key(&cli))
        .ok_or_else(|| {
            UsageError(format!(
                "--agent {cli}: {cli} is not installed in the agent image; run `warden agents install {cli}` first"
            ))
        })?;
    let version = image
        .agents
        .get(&cli)
        .map(|a| a.reported.clone())
        .unwrap_or_default();
    let plan = BrokerPlan::for_credential(cred)?;
    let tree = TreeCopy::make(&sandboxes, root, run_tag)?;
    let config = CliAgentConfig {
        kind: cli,
        image_local: image.local_dir(&sandboxes),
        sandboxes,
        tree: tree.path.clone(),
        plan,
        billing: super::model_setup::provider_name(cred.provider, cred).to_string(),
        route: super::model_setup::route_for(cred),
        model: model.clone(),
        prices: PriceTable::builtin(),
        timeout: limits.timeout,
        max_turns: limits.max_turns,
        limits: slots.limits,
    };
    let agent = SandboxedCli::new(config).map_err(|e| UsageError(format!("--agent {cli}: {e}")))?;
    Ok(Prepared {
        agent: Arc::new(agent),
        header: format!(
            "agent {cli} ({version}) in a sandbox per investigation, model {model}; credential: {} (brokered: the sandbox holds a placeholder)",
            choice.why
        ),
        credential: choice.why.clone(),
        model,
        tree: Some(tree),
        sandboxes: Some(slots.describe(cli.name())),
    })
}

impl Prepared {
    /// Shows the header on a terminal (scripts read the summary, which repeats it).
    pub fn announce(&self, quiet: bool) {
        if !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            for line in self.header_lines() {
                eprintln!("warden: {line}");
            }
        }
    }

    /// The header: the agent, model and credential, then for an agent CLI its sandboxes.
    pub fn header_lines(&self) -> Vec<&str> {
        std::iter::once(self.header.as_str())
            .chain(self.sandboxes.as_deref())
            .collect()
    }

    /// The agent's name in summaries.
    pub fn name(&self) -> &str {
        self.agent.name()
    }
}

/// A copy of the scanned tree for one run (never `.env*`, never `.warden/`), bound
/// read-only into every sandbox of the run; removed when dropped.
pub(crate) struct TreeCopy {
    pub path: PathBuf,
}

impl TreeCopy {
    fn make(sandboxes: &Sandboxes, root: &Path, tag: &str) -> anyhow::Result<TreeCopy> {
        let dir = sandboxes.root().dir().join("trees");
        std::fs::create_dir_all(&dir)?;
        remove_left_behind(&dir);
        let path = dir.join(format!("{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let copy = TreeCopy { path };
        warden_sandbox::tree::copy_workspace(root, &copy.path)
            .map_err(|e| anyhow::anyhow!("copying {} for the sandboxes: {e}", root.display()))?;
        Ok(copy)
    }

    /// Whether `rel` in the copy still has the content the scan recorded (`hash`, blake3).
    pub fn matches(&self, rel: &str, hash: &str) -> bool {
        match std::fs::read(self.path.join(rel)) {
            Ok(bytes) => blake3::hash(&bytes).to_hex().as_str() == hash,
            Err(_) => false,
        }
    }
}

/// Removes the tree copies of runs whose process is gone (killed before it could).
fn remove_left_behind(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for TreeCopy {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!("removing the run's tree copy {}: {e}", self.path.display());
        }
    }
}
