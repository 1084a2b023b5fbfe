//! `warden agents`: install the agent CLIs into the agent image, and list them.

use crate::cli::{AgentsArgs, AgentsCommand, GlobalArgs};
use crate::exit::UsageError;
use std::path::PathBuf;
use warden_agent::cli_agent::image::{self, AgentImage};
use warden_agent::cli_agent::{check_version, CliKind, InstallRequest};
use warden_sandbox::{SandboxRoot, Sandboxes};

pub fn run(global: &GlobalArgs, args: &AgentsArgs) -> anyhow::Result<u8> {
    let sandboxes = Sandboxes::new(SandboxRoot::new(sandbox_dir()?));
    match &args.command {
        AgentsCommand::Install { agents, version } => {
            let requests = requests(agents, version.as_deref())?;
            let existing = AgentImage::load(&sandboxes)?;
            let plan = image::plan(existing.as_ref(), &requests);
            let log_dir = sandboxes.root().dir().join("agents");
            std::fs::create_dir_all(&log_dir)?;
            let log = log_dir.join("install.log");
            if !global.quiet {
                let what: Vec<String> = plan
                    .iter()
                    .map(|r| format!("{}@{}", r.kind.package(), r.version))
                    .collect();
                eprintln!(
                    "warden: installing {} from npm into a sandbox that reaches only {} (log: {})",
                    what.join(", "),
                    image::NPM_REGISTRY_HOST,
                    log.display()
                );
            }
            let built = image::install(&sandboxes, &plan, &log)?;
            if !global.quiet {
                for (kind, agent) in &built.agents {
                    eprintln!("  {kind:<9} {}", agent.reported);
                }
                eprintln!("  node      {}", built.node);
            }
            println!("{}", built.snapshot);
            Ok(0)
        }
        AgentsCommand::Ls { json } => {
            let image = AgentImage::load(&sandboxes)?;
            let rows = rows(image.as_ref());
            if *json {
                super::emit(None, &serde_json::to_string_pretty(&rows)?)?;
            } else {
                super::emit(None, &table(&rows, image.as_ref()))?;
            }
            Ok(0)
        }
    }
}

/// Where sandboxes, snapshots and the agent image live: `WARDEN_SANDBOX_DIR`, else the
/// user's state directory (`warden sandbox` also honours `--data-dir`).
pub(crate) fn sandbox_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WARDEN_SANDBOX_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    SandboxRoot::default_dir().ok_or_else(|| {
        UsageError("no HOME or XDG_STATE_HOME: set WARDEN_SANDBOX_DIR".into()).into()
    })
}

fn requests(agents: &[String], version: Option<&str>) -> anyhow::Result<Vec<InstallRequest>> {
    let names: Vec<String> = if agents.is_empty() {
        CliKind::ALL.iter().map(|k| k.name().to_string()).collect()
    } else {
        agents.to_vec()
    };
    if version.is_some() && names.len() != 1 {
        return Err(UsageError(
            "--version pins one agent: name exactly one (or write claude@VERSION)".into(),
        )
        .into());
    }
    let mut out = Vec::new();
    for name in &names {
        let mut request = InstallRequest::parse(name).map_err(UsageError)?;
        if let Some(v) = version {
            if name.contains('@') {
                return Err(UsageError(format!(
                    "{name}: give the version either with @ or with --version, not both"
                ))
                .into());
            }
            request.version = check_version(v).map_err(|e| UsageError(format!("--version {e}")))?;
        }
        if out.iter().any(|r: &InstallRequest| r.kind == request.kind) {
            return Err(UsageError(format!("{} is named twice", request.kind)).into());
        }
        out.push(request);
    }
    Ok(out)
}

#[derive(serde::Serialize)]
struct Row {
    agent: &'static str,
    package: &'static str,
    /// What the image holds (`--version` output), or None.
    installed: Option<String>,
    /// What `warden agents install` installs by default.
    pinned: &'static str,
    image: Option<String>,
    /// The credential it would use and why, or why none fits.
    credential: String,
    usable: bool,
}

fn rows(image: Option<&AgentImage>) -> Vec<Row> {
    let found = warden_creds::discover_from_process();
    CliKind::ALL
        .iter()
        .map(|&kind| {
            let installed = image.and_then(|i| i.agents.get(&kind));
            let agent =
                warden_creds::Agent::parse(kind.name()).unwrap_or(warden_creds::Agent::Native);
            let (credential, usable) = match found.for_agent(agent, None) {
                Ok(choice) => (choice.why, true),
                // The full list of places looked at is `warden credentials status`'s.
                Err(e) => {
                    let text = e.to_string();
                    let short = text.split("; looked at").next().unwrap_or(&text);
                    (short.to_string(), false)
                }
            };
            Row {
                credential,
                usable,
                agent: kind.name(),
                package: kind.package(),
                installed: installed.map(|a| a.reported.clone()),
                pinned: kind.default_version(),
                image: installed.and(image.map(|i| i.snapshot.clone())),
            }
        })
        .collect()
}

fn table(rows: &[Row], image: Option<&AgentImage>) -> String {
    let mut out = format!(
        "{:<9} {:<26} {:<24} {:<9} {}\n",
        "AGENT", "PACKAGE", "INSTALLED", "PINNED", "IMAGE"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<9} {:<26} {:<24} {:<9} {}\n",
            r.agent,
            r.package,
            r.installed.as_deref().unwrap_or("-"),
            r.pinned,
            r.image.as_deref().unwrap_or("-"),
        ));
    }
    match image {
        Some(i) => out.push_str(&format!("node in the image: {}\n", i.node)),
        None => out.push_str("no agent image yet: `warden agents install` builds one\n"),
    }
    out.push_str(
        "\nCredentials (brokered by the sandbox's proxy; the agent holds a placeholder):\n",
    );
    for r in rows {
        let mark = if r.usable { "" } else { "none: " };
        out.push_str(&format!("  {:<9} {mark}{}\n", r.agent, r.credential));
    }
    out
}
