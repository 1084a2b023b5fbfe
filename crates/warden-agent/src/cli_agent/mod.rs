//! The coding-agent CLIs Warden runs inside sandboxes: Claude Code, Codex and OpenCode.
//!
//! Each is an npm package installed into the agent image ([`image`]) at a pinned
//! version. What differs between them (how to configure, invoke and parse) lives in
//! their adapters; this module knows only what every part agrees on: names, packages,
//! versions and the Node.js each needs.

mod answer;
pub mod image;
pub mod prompt;
pub mod sandboxed;
pub mod setup;

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the agent CLIs Warden knows how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CliKind {
    Claude,
    Codex,
    OpenCode,
}

impl CliKind {
    pub const ALL: [CliKind; 3] = [CliKind::Claude, CliKind::Codex, CliKind::OpenCode];

    /// The name users type: `claude`, `codex`, `opencode`.
    pub fn name(self) -> &'static str {
        match self {
            CliKind::Claude => "claude",
            CliKind::Codex => "codex",
            CliKind::OpenCode => "opencode",
        }
    }

    pub fn from_name(name: &str) -> Option<CliKind> {
        CliKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The npm package the CLI ships in.
    pub fn package(self) -> &'static str {
        match self {
            CliKind::Claude => "@anthropic-ai/claude-code",
            CliKind::Codex => "@openai/codex",
            CliKind::OpenCode => "opencode-ai",
        }
    }

    /// The release installed unless the user pins another (`--version`, `claude@X`).
    pub fn default_version(self) -> &'static str {
        match self {
            CliKind::Claude => "2.1.332",
            CliKind::Codex => "0.171.0",
            CliKind::OpenCode => "1.18.33",
        }
    }

    /// The oldest Node.js major version the pinned release runs its installer on.
    /// Claude Code 2.1.198 and later declare `engines.node >= 22`.
    pub fn min_node_major(self) -> u32 {
        match self {
            CliKind::Claude => 22,
            CliKind::Codex => 16,
            CliKind::OpenCode => 18,
        }
    }

    /// The command the package puts on PATH.
    pub fn bin(self) -> &'static str {
        match self {
            CliKind::Claude => "claude",
            CliKind::Codex => "codex",
            CliKind::OpenCode => "opencode",
        }
    }
}

impl fmt::Display for CliKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// An agent to install: which, and at which release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRequest {
    pub kind: CliKind,
    pub version: String,
}

impl InstallRequest {
    /// Parses `claude` or `claude@2.1.300`; the version must look like an npm version
    /// (it ends up in an npm command line, so nothing else is let through).
    pub fn parse(text: &str) -> Result<InstallRequest, String> {
        let (name, version) = match text.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        let kind = CliKind::from_name(name).ok_or_else(|| {
            format!("unknown agent `{name}` (expected claude, codex or opencode)")
        })?;
        let version = match version {
            Some(v) => check_version(v)?,
            None => kind.default_version().to_string(),
        };
        Ok(InstallRequest { kind, version })
    }
}

/// An npm version or dist-tag: `2.1.300`, `1.0.0-beta.2`, `latest`.
pub fn check_version(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "version `{v}`: expected an npm version such as 2.1.300 or a tag such as latest"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_names_and_versions() {
        let r = InstallRequest::parse("claude").unwrap();
        assert_eq!(r.kind, CliKind::Claude);
        assert_eq!(r.version, CliKind::Claude.default_version());
        let r = InstallRequest::parse("codex@0.170.0").unwrap();
        assert_eq!((r.kind, r.version.as_str()), (CliKind::Codex, "0.170.0"));
        assert!(InstallRequest::parse("amp")
            .unwrap_err()
            .contains("unknown agent"));
        for bad in [
            "claude@",
            "claude@1.0;rm -rf /",
            "claude@$(id)",
            "claude@-x",
        ] {
            assert!(InstallRequest::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            InstallRequest::parse("opencode@latest").unwrap().version,
            "latest"
        );
    }
}
