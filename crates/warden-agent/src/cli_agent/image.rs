//! The agent image: one snapshot holding the pinned agent CLIs (and the Node.js they
//! need), installed from npm inside a sandbox that may reach only the npm registry.
//! Every investigation reuses it: the snapshot's `home/.local` is bound read-only into
//! each sandbox, so nothing is copied per investigation.
//!
//! The record of what the image holds is `agents/image.json` under the sandbox data
//! directory; the snapshot itself is an ordinary sandbox snapshot.

use super::{CliKind, InstallRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warden_sandbox::{
    ExecEvent, ExecRequest, NetworkPolicy, OsArg, SandboxError, SandboxSpec, Sandboxes,
    WorkspaceSource,
};

/// The registry the installs come from; the install sandbox may reach nothing else.
pub const NPM_REGISTRY_HOST: &str = "registry.npmjs.org";
/// How long the whole install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Exit code of the install script when the host has no npm.
const NO_NPM: i32 = 90;

/// One installed agent CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledAgent {
    pub package: String,
    /// The version asked for (`2.1.332`, `latest`).
    pub requested: String,
    /// What `<bin> --version` printed, first line.
    pub reported: String,
}

/// What the image holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentImage {
    /// The snapshot id (`snap-…`).
    pub snapshot: String,
    /// `node --version` inside the image (the host's, or one installed from npm).
    pub node: String,
    pub agents: BTreeMap<CliKind, InstalledAgent>,
    pub created_ms: u64,
}

/// Why the image could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("npm is not installed on this machine; the agent image is built with the host's Node.js and npm (install nodejs and npm)")]
    NoNpm,
    #[error("installing {what} failed (exit {code}); the install log is {log}: {tail}")]
    Install {
        what: String,
        code: i32,
        log: PathBuf,
        tail: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a record of an agent image ({detail})")]
    Corrupt { path: PathBuf, detail: String },
}

/// Where the image's record lives under the sandbox data directory.
pub fn record_path(sandboxes: &Sandboxes) -> PathBuf {
    sandboxes.root().dir().join("agents").join("image.json")
}

impl AgentImage {
    /// The image recorded under `sandboxes`, if one was built (and its snapshot is there).
    pub fn load(sandboxes: &Sandboxes) -> Result<Option<AgentImage>, ImageError> {
        let path = record_path(sandboxes);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ImageError::Io { path, source }),
        };
        let image: AgentImage = serde_json::from_str(&text).map_err(|e| ImageError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if !warden_sandbox::state::is_valid_id("snap", &image.snapshot) {
            return Err(ImageError::Corrupt {
                path,
                detail: format!("`{}` is not a snapshot id", image.snapshot),
            });
        }
        Ok(Some(image))
    }

    /// The image's installed CLIs on the host: bound read-only at `/home/sandbox/.local`.
    pub fn local_dir(&self, sandboxes: &Sandboxes) -> PathBuf {
        sandboxes
            .root()
            .snapshots_dir()
            .join(&self.snapshot)
            .join("home")
            .join(".local")
    }

    fn save(&self, sandboxes: &Sandboxes) -> Result<(), ImageError> {
        let path = record_path(sandboxes);
        let io = |source| ImageError::Io {
            path: path.clone(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| ImageError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let tmp = dir.join(format!(".image.json.{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

/// The agents an install ends with: those already in the image, with the requested
/// ones added or re-pinned.
pub fn plan(existing: Option<&AgentImage>, requests: &[InstallRequest]) -> Vec<InstallRequest> {
    let mut wanted: BTreeMap<CliKind, String> = BTreeMap::new();
    if let Some(image) = existing {
        for (kind, agent) in &image.agents {
            wanted.insert(*kind, agent.requested.clone());
        }
    }
    for r in requests {
        wanted.insert(r.kind, r.version.clone());
    }
    wanted
        .into_iter()
        .map(|(kind, version)| InstallRequest { kind, version })
        .collect()
}

/// The shell script that installs `agents` into the sandbox's `~/.local` (npm's global
/// prefix there), Node.js 22 first from npm when the host's Node is older than an agent
/// needs, and prints each CLI's `--version`.
pub fn install_script(agents: &[InstallRequest]) -> String {
    let need = agents
        .iter()
        .map(|a| a.kind.min_node_major())
        .max()
        .unwrap_or(0);
    let packages: Vec<String> = agents
        .iter()
        .map(|a| format!("{}@{}", a.kind.package(), a.version))
        .collect();
    let mut script = format!(
        "set -eu
export npm_config_cache=/tmp/npm-cache npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_loglevel=error
command -v npm >/dev/null 2>&1 || exit {NO_NPM}
# npm creates the global prefix's bin directory without its parents.
mkdir -p \"$HOME/.local/bin\" \"$HOME/.local/lib\"
major=$(node -p 'process.versions.node.split(\".\")[0]')
if [ \"$major\" -lt {need} ]; then
  echo \"warden: node $(node --version) is older than {need}: installing node@{need} from npm\"
  npm install -g node@{need}
  hash -r
fi
npm install -g {}
echo \"warden-node: $(node --version)\"
",
        packages.join(" ")
    );
    for a in agents {
        let bin = a.kind.bin();
        script.push_str(&format!(
            "echo \"warden-version {bin}: $({bin} --version 2>/dev/null | head -n 1)\"\n"
        ));
    }
    script
}

/// Builds the image holding `agents` (see [`plan`]), replacing the previous one; `log`
/// receives npm's output. The install sandbox is destroyed whatever happens.
pub fn install(
    sandboxes: &Sandboxes,
    agents: &[InstallRequest],
    log: &Path,
) -> Result<AgentImage, ImageError> {
    let previous = AgentImage::load(sandboxes).ok().flatten();
    let spec = SandboxSpec {
        name: None,
        workspace: WorkspaceSource::Empty,
        policy: NetworkPolicy::Allow(vec![NPM_REGISTRY_HOST.to_string()]),
        timeout: Some(INSTALL_TIMEOUT + Duration::from_secs(120)),
        ..SandboxSpec::default()
    };
    let meta = sandboxes.create(&spec)?;
    let result = install_into(sandboxes, &meta.id, agents, log);
    let destroyed = sandboxes.destroy(&meta.id);
    let image = result?;
    destroyed?;
    image.save(sandboxes)?;
    if let Some(old) = previous.filter(|old| old.snapshot != image.snapshot) {
        if let Err(e) = sandboxes.remove_snapshot(&old.snapshot) {
            tracing::warn!("removing the previous agent image {}: {e}", old.snapshot);
        }
    }
    Ok(image)
}

fn install_into(
    sandboxes: &Sandboxes,
    id: &str,
    agents: &[InstallRequest],
    log: &Path,
) -> Result<AgentImage, ImageError> {
    let io = |source| ImageError::Io {
        path: log.to_path_buf(),
        source,
    };
    let out = std::fs::File::create(log).map_err(io)?;
    let null = std::fs::File::open("/dev/null").map_err(io)?;
    let request = ExecRequest {
        argv: ["sh", "-c", &install_script(agents)]
            .into_iter()
            .map(OsArg::from)
            .collect(),
        env: Vec::new(),
        cwd: None,
        timeout_ms: Some(INSTALL_TIMEOUT.as_millis() as u64),
        detach: false,
    };
    let event = sandboxes.exec(
        id,
        &request,
        [null.as_raw_fd(), out.as_raw_fd(), out.as_raw_fd()],
    )?;
    drop(out);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let what = agents
        .iter()
        .map(|a| format!("{}@{}", a.kind, a.version))
        .collect::<Vec<_>>()
        .join(", ");
    match event {
        ExecEvent::Exited { code: 0, .. } => {}
        ExecEvent::Exited { code: NO_NPM, .. } => return Err(ImageError::NoNpm),
        ExecEvent::Exited { code, .. } => {
            return Err(ImageError::Install {
                what,
                code,
                log: log.to_path_buf(),
                tail: tail(&text),
            })
        }
        other => {
            return Err(ImageError::Install {
                what,
                code: -1,
                log: log.to_path_buf(),
                tail: format!("{other:?}"),
            })
        }
    }
    let mut installed = BTreeMap::new();
    for a in agents {
        let prefix = format!("warden-version {}: ", a.kind.bin());
        let reported = text
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or("")
            .trim()
            .to_string();
        if reported.is_empty() {
            return Err(ImageError::Install {
                what: format!("{}@{}", a.kind, a.version),
                code: 0,
                log: log.to_path_buf(),
                tail: format!(
                    "`{} --version` printed nothing after the install",
                    a.kind.bin()
                ),
            });
        }
        installed.insert(
            a.kind,
            InstalledAgent {
                package: a.kind.package().to_string(),
                requested: a.version.clone(),
                reported,
            },
        );
    }
    let node = text
        .lines()
        .find_map(|l| l.strip_prefix("warden-node: "))
        .unwrap_or("")
        .trim()
        .to_string();
    let snap = sandboxes.snapshot(id)?;
    Ok(AgentImage {
        snapshot: snap.id,
        node,
        agents: installed,
        created_ms: snap.created_ms,
    })
}

/// The last few lines of a log, on one line.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: CliKind, v: &str) -> InstallRequest {
        InstallRequest {
            kind,
            version: v.to_string(),
        }
    }

    #[test]
    fn a_plan_keeps_what_is_installed_and_repins_what_is_asked() {
        let mut agents = BTreeMap::new();
        agents.insert(
            CliKind::Codex,
            InstalledAgent {
                package: "@openai/codex".into(),
                requested: "0.1.0".into(),
                reported: "codex-cli 0.1.0".into(),
            },
        );
        agents.insert(
            CliKind::Claude,
            InstalledAgent {
                package: "@anthropic-ai/claude-code".into(),
                requested: "2.0.0".into(),
                reported: "2.0.0 (Claude Code)".into(),
            },
        );
        let image = AgentImage {
            snapshot: "snap-0011223344".into(),
            node: "v22.0.0".into(),
            agents,
            created_ms: 1,
        };
        let plan = plan(
            Some(&image),
            &[
                req(CliKind::Codex, "0.2.0"),
                req(CliKind::OpenCode, "1.0.0"),
            ],
        );
        assert_eq!(
            plan,
            vec![
                req(CliKind::Claude, "2.0.0"),
                req(CliKind::Codex, "0.2.0"),
                req(CliKind::OpenCode, "1.0.0")
            ]
        );
    }

    #[test]
    fn the_script_installs_node_22_only_when_an_agent_needs_it() {
        let s = install_script(&[req(CliKind::Codex, "0.171.0")]);
        assert!(s.contains("-lt 16"), "{s}");
        assert!(s.contains("npm install -g @openai/codex@0.171.0"), "{s}");
        let s = install_script(&[
            req(CliKind::Codex, "0.171.0"),
            req(CliKind::Claude, "2.1.332"),
        ]);
        assert!(s.contains("-lt 22") && s.contains("node@22"), "{s}");
        assert!(s.contains("warden-version claude:") && s.contains("warden-version codex:"));
    }
}
