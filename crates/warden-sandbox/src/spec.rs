//! What a user asks a sandbox to be: the flags of `create`, validated.

use crate::error::{Result, SandboxError};
use crate::limits::Limits;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The egress policy as the user states it. The proxy enforces it; see `warden-egress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkPolicy {
    /// No connection leaves the sandbox. The default: fail closed.
    #[default]
    DenyAll,
    /// Any public host (private, loopback and metadata addresses stay denied).
    AllowAll,
    /// Only these domains (`example.com`, `*.example.com`).
    Allow(Vec<String>),
}

impl NetworkPolicy {
    pub fn is_deny_all(&self) -> bool {
        matches!(self, NetworkPolicy::DenyAll)
            || matches!(self, NetworkPolicy::Allow(d) if d.is_empty())
    }
}

impl std::fmt::Display for NetworkPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkPolicy::DenyAll => f.write_str("deny-all"),
            NetworkPolicy::AllowAll => f.write_str("allow-all"),
            NetworkPolicy::Allow(d) if d.is_empty() => f.write_str("deny-all"),
            NetworkPolicy::Allow(d) => f.write_str(&d.join(",")),
        }
    }
}

/// Where /workspace starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceSource {
    Empty,
    /// A copy of this host directory (`.env*` files and `.warden/` left out).
    Copy(PathBuf),
    /// This host directory itself, bound read-only: nothing is copied, and nothing in
    /// the sandbox can change it. It is bound as it is, so it must already be free of
    /// secrets: make it with [`crate::files::copy_workspace`] (which leaves out `.env*`
    /// and `.warden/` at every depth); at its top level both are masked anyway.
    BindReadOnly(PathBuf),
    /// The workspace and home captured by this snapshot.
    Snapshot(String),
    /// A clone of this repository (`http(s)://` only), made inside the sandbox through
    /// its egress proxy with the repository's host allowed for the clone only (see
    /// [`crate::git`]). `revision`: a branch, tag or commit to check out; `depth`: a
    /// shallow clone of that many commits.
    Git {
        url: String,
        revision: Option<String>,
        depth: Option<u32>,
    },
}

/// A secret the proxy injects: `HOST:HEADER=SOURCE`, kept as text until the supervisor reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRequest {
    pub spec: String,
}

/// Everything `warden sandbox create` (and `run`) takes.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub name: Option<String>,
    pub workspace: WorkspaceSource,
    pub policy: NetworkPolicy,
    pub timeout: Option<Duration>,
    pub ports: Vec<u16>,
    pub limits: Limits,
    /// `--secret` specs (`api.anthropic.com:x-api-key=env:ANTHROPIC_API_KEY`).
    pub secrets: Vec<String>,
    /// `--broker anthropic|openai|gateway`: resolved on the host, at create, into
    /// [`crate::broker::BrokerPlan`]s from the credentials found there.
    pub brokers: Vec<String>,
    /// Credentials the egress proxy brokers, each decided by the caller
    /// ([`crate::broker::BrokerPlan::for_credential`]). Their values reach the sandbox's
    /// supervisor through a pipe, never its record; the sandbox only sees placeholders.
    pub broker_plans: Vec<crate::broker::BrokerPlan>,
    /// `--env K=V`: variables every command starts with (stored in the record: not for
    /// secrets). Values are bytes.
    pub env: Vec<(String, crate::os_arg::OsArg)>,
    /// More host directories bound read-only, as `(host, inside)`: the host path must be
    /// a real directory (not a symlink), the inside path absolute and below `/workspace`,
    /// `/home/sandbox` or `/opt/warden` (see [`crate::binds`]). Nothing is copied.
    pub read_only_binds: Vec<(PathBuf, PathBuf)>,
    /// Hosts refused even where `policy` allows them (`bad.example.com`, `*.ads.example`).
    pub deny: Vec<String>,
    /// Headers the egress proxy writes per domain (see [`crate::rules`]); their values
    /// reach the supervisor through a pipe, never the record.
    pub transforms: Vec<crate::rules::HeaderTransform>,
    /// A pid whose death (even by `kill -9`) destroys the sandbox; [`crate::Sandbox`]
    /// sets its own, so a program's sandboxes never outlive it.
    pub owner: Option<u32>,
    /// Free-form `key=value` tags kept in the record (and copied into its snapshots);
    /// `warden server` keeps `tenant=<name>` here. Not for secrets.
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Default for SandboxSpec {
    fn default() -> Self {
        SandboxSpec {
            name: None,
            workspace: WorkspaceSource::Empty,
            policy: NetworkPolicy::DenyAll,
            timeout: Some(DEFAULT_TIMEOUT),
            ports: Vec::new(),
            limits: Limits::default(),
            secrets: Vec::new(),
            brokers: Vec::new(),
            broker_plans: Vec::new(),
            env: Vec::new(),
            read_only_binds: Vec::new(),
            deny: Vec::new(),
            transforms: Vec::new(),
            owner: None,
            labels: std::collections::BTreeMap::new(),
        }
    }
}

/// A sandbox nobody destroys is killed after an hour.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

impl SandboxSpec {
    /// The spec's network rules as one [`crate::rules::PolicyUpdate`].
    pub fn policy_update(&self) -> crate::rules::PolicyUpdate {
        crate::rules::PolicyUpdate {
            policy: self.policy.clone(),
            deny: self.deny.clone(),
            transforms: self.transforms.clone(),
        }
    }

    /// Checks what can be checked before anything is created.
    pub fn validate(&self) -> Result<()> {
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !name.starts_with('.');
            if !ok {
                return Err(SandboxError::Invalid(format!(
                    "--name {name:?}: use 1-64 letters, digits, '-', '_' or '.'"
                )));
            }
        }
        match &self.workspace {
            WorkspaceSource::Copy(dir) if !dir.is_dir() => {
                return Err(SandboxError::Invalid(format!(
                    "--workspace {}: not a directory",
                    dir.display()
                )));
            }
            WorkspaceSource::BindReadOnly(dir) => {
                crate::binds::check_host_dir(dir, "the read-only workspace")?;
            }
            WorkspaceSource::Git {
                url,
                revision,
                depth,
            } => {
                crate::git::check(url, revision.as_deref(), *depth)?;
            }
            _ => {}
        }
        crate::binds::validate(&self.read_only_binds, &self.workspace)?;
        for port in &self.ports {
            if *port == 0 {
                return Err(SandboxError::Invalid(
                    "--port 0: give the port a process in the sandbox listens on".into(),
                ));
            }
        }
        for broker in &self.brokers {
            if !matches!(broker.as_str(), "anthropic" | "openai" | "gateway") {
                return Err(SandboxError::Invalid(format!(
                    "--broker {broker:?}: expected anthropic, openai or gateway"
                )));
            }
        }
        crate::broker::check_plans(&self.broker_plans)?;
        Ok(())
    }
}

/// Parses `90s`, `30m`, `1h`, `2h30m`, `500ms`, a bare number of seconds, or `none`/`0` (no deadline).
pub fn parse_duration(text: &str) -> Result<Option<Duration>> {
    let t = text.trim();
    let bad = || {
        SandboxError::Invalid(format!(
            "{text:?} is not a duration: use e.g. 90s, 30m, 1h, 2h30m, 500ms, or none"
        ))
    };
    if t.is_empty() {
        return Err(bad());
    }
    if t.eq_ignore_ascii_case("none") || t == "0" {
        return Ok(None);
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Some(Duration::from_secs(secs)));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        // Checked: `99999999999999999999d` is a typo, not a reason to overflow.
        let part = match unit {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "d" => n.checked_mul(86400).map(Duration::from_secs),
            _ => return Err(bad()),
        };
        total = part.and_then(|p| total.checked_add(p)).ok_or_else(bad)?;
    }
    if total.is_zero() {
        return Ok(None);
    }
    Ok(Some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90s").unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("1h").unwrap(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_duration("2h30m").unwrap(),
            Some(Duration::from_secs(9000))
        );
        assert_eq!(
            parse_duration("500ms").unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("45").unwrap(), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("none").unwrap(), None);
        assert_eq!(parse_duration("0").unwrap(), None);
        for bad in [
            "",
            "h",
            "1x",
            "1.5h",
            "-1s",
            "m30",
            "18446744073709551615d",
            "99999999999999999999999s",
            "18446744073709551615s18446744073709551615s",
        ] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains("not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn names_are_checked() {
        let mut spec = SandboxSpec {
            name: Some("ok-name_1.2".into()),
            ..SandboxSpec::default()
        };
        spec.validate().unwrap();
        for bad in ["", "a b", "../x", ".hidden", "x/y"] {
            spec.name = Some(bad.into());
            assert!(spec.validate().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn empty_allow_list_is_deny_all() {
        assert!(NetworkPolicy::Allow(vec![]).is_deny_all());
        assert!(NetworkPolicy::DenyAll.is_deny_all());
        assert!(!NetworkPolicy::AllowAll.is_deny_all());
        assert_eq!(
            NetworkPolicy::Allow(vec!["a.com".into(), "*.b.org".into()]).to_string(),
            "a.com,*.b.org"
        );
    }
}
