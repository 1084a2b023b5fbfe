//! The network rules beyond allow/deny-all: a deny list, and headers the egress proxy
//! writes on every HTTPS request to one host ("transforms", as in the Vercel sandbox
//! SDK's `{"allow": {"api.anthropic.com": [{"transform": [{"headers": {...}}]}]}}`).
//!
//! Header values are secrets: they reach the sandbox's supervisor through its stdin at
//! create and through its control socket on a change ([`TransformWire`]), live in its
//! memory only, and are never written to the record, a log, an error or the audit log.
//! The record keeps the header names ([`PolicyView`]).

use crate::error::{Result, SandboxError};
use crate::spec::NetworkPolicy;
use crate::state::SandboxMeta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use warden_egress::{Binding, BindingError, Pattern};

pub use warden_egress::Secret;

/// Headers the egress proxy sets, replacing whatever the sandbox sent, on every request
/// to one host over HTTPS (intercepted with the sandbox's own CA). Plain `http://`
/// requests never get them: a secret only leaves over verified TLS.
#[derive(Debug, Clone)]
pub struct HeaderTransform {
    /// One exact host name (`api.anthropic.com`): no wildcard, port or IP address.
    pub domain: String,
    /// `(name, value)`; names are case-insensitive, each at most once per domain.
    pub headers: Vec<(String, Secret)>,
}

impl HeaderTransform {
    pub fn new(domain: impl Into<String>) -> HeaderTransform {
        HeaderTransform {
            domain: domain.into(),
            headers: Vec::new(),
        }
    }

    /// Adds one header the proxy writes.
    pub fn header(mut self, name: impl Into<String>, value: Secret) -> HeaderTransform {
        self.headers.push((name.into(), value));
        self
    }
}

/// A whole network policy, replaced at once by [`crate::Sandboxes::update_policy`]
/// (and given at create through [`crate::SandboxSpec`]'s `policy`, `deny`, `transforms`).
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate {
    /// Which hosts: none, any public host, or a list (`example.com`, `*.example.com`).
    pub policy: NetworkPolicy,
    /// Hosts refused even where `policy` allows them (entries as in an allow list).
    pub deny: Vec<String>,
    pub transforms: Vec<HeaderTransform>,
}

/// What a policy allows, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyMode {
    AllowAll,
    DenyAll,
    AllowList,
}

/// A sandbox's policy as it can be shown: header names, never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub mode: PolicyMode,
    /// The allowed domains (empty unless `mode` is `allow-list`).
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// Domain → names of the headers the proxy writes there (lower case).
    pub transforms: BTreeMap<String, Vec<String>>,
}

impl SandboxMeta {
    /// The policy as it is now (the supervisor records every change), names only.
    pub fn policy_view(&self) -> PolicyView {
        let (mode, allow) = match &self.policy {
            NetworkPolicy::AllowAll => (PolicyMode::AllowAll, Vec::new()),
            p if p.is_deny_all() => (PolicyMode::DenyAll, Vec::new()),
            NetworkPolicy::Allow(domains) => (PolicyMode::AllowList, domains.clone()),
            NetworkPolicy::DenyAll => (PolicyMode::DenyAll, Vec::new()),
        };
        PolicyView {
            mode,
            allow,
            deny: self.deny.clone(),
            transforms: self.transforms.clone(),
        }
    }
}

/// A transform on its way to the supervisor (stdin or control socket). Its `Debug`
/// shows names only.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TransformWire {
    domain: String,
    headers: Vec<(String, String)>,
}

impl fmt::Debug for TransformWire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransformWire")
            .field("domain", &self.domain)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

pub(crate) fn to_wire(transforms: &[HeaderTransform]) -> Vec<TransformWire> {
    transforms
        .iter()
        .map(|t| TransformWire {
            domain: t.domain.clone(),
            headers: t
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
        })
        .collect()
}

pub(crate) fn from_wire(wire: Vec<TransformWire>) -> Vec<HeaderTransform> {
    wire.into_iter()
        .map(|t| HeaderTransform {
            domain: t.domain,
            headers: t
                .headers
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        })
        .collect()
}

/// Domain → header names (lower case), for the record.
pub(crate) fn header_names(transforms: &[HeaderTransform]) -> BTreeMap<String, Vec<String>> {
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in transforms {
        let entry = names
            .entry(t.domain.trim().to_ascii_lowercase())
            .or_default();
        entry.extend(t.headers.iter().map(|(k, _)| k.trim().to_ascii_lowercase()));
    }
    names
}

/// Checks a whole policy before it is applied: every deny entry, every transform's
/// domain (exact, allowed by the policy and not denied) and header. Errors name the
/// domain and header at fault, never a value.
pub fn validate(update: &PolicyUpdate) -> Result<()> {
    crate::net::validate_policy(&update.policy)?;
    let effective = crate::net::egress_policy(&update.policy)?;
    let effective = effective
        .except(&update.deny)
        .map_err(|e| SandboxError::Invalid(format!("deny: {e}")))?;
    bindings(&update.transforms)?;
    for t in &update.transforms {
        if !effective.decide_host(&t.domain).is_allowed() {
            return Err(SandboxError::Invalid(format!(
                "transform for {}: the policy does not allow {} (allow it, and leave it off the deny list)",
                t.domain, t.domain
            )));
        }
    }
    Ok(())
}

/// The proxy's bindings for `transforms`, checked.
pub(crate) fn bindings(transforms: &[HeaderTransform]) -> Result<Vec<Binding>> {
    let mut out: Vec<Binding> = Vec::new();
    let mut domains: Vec<String> = Vec::new();
    for t in transforms {
        let domain = t.domain.trim();
        let bad = |why: String| SandboxError::Invalid(format!("transform for {domain:?}: {why}"));
        match Pattern::parse(domain) {
            Ok(Pattern::Exact(name)) if name.parse::<std::net::IpAddr>().is_err() => {
                if domains.contains(&name) {
                    return Err(bad("the domain is given twice".into()));
                }
                domains.push(name);
            }
            Ok(_) => {
                return Err(bad(
                    "headers are written for one exact host name (no wildcard or IP address)"
                        .into(),
                ))
            }
            Err(e) => return Err(bad(e.to_string())),
        }
        if let Some(why) = Pattern::parse(domain)
            .ok()
            .and_then(|p| p.never_reachable())
        {
            return Err(bad(why.into()));
        }
        for (name, value) in &t.headers {
            let binding = Binding::new(domain, name.trim(), value.clone()).map_err(|e| match e {
                BindingError::Syntax { why, .. } => bad(format!("header {name:?}: {why}")),
                BindingError::BadValue { .. } => bad(format!(
                    "the value of header {name:?} is empty or holds characters not allowed in an HTTP header"
                )),
                // The other kinds read files or variables, which a transform never does.
                _ => bad(format!("header {name:?} cannot be set")),
            })?;
            if out
                .iter()
                .any(|b| b.host() == binding.host() && b.header() == binding.header())
            {
                return Err(bad(format!("header {name:?} is given twice")));
            }
            out.push(binding);
        }
    }
    Ok(out)
}

impl crate::Sandboxes {
    /// Replaces a running sandbox's whole network policy (allowed hosts, deny list,
    /// header transforms) through its supervisor: connections opened from now on, and
    /// every request in an open intercepted connection, see it at once. Nothing changes
    /// on an error. Returns the policy as it now is (names only).
    pub fn update_policy(&self, id_or_name: &str, update: &PolicyUpdate) -> Result<PolicyView> {
        validate(update)?;
        let (sandbox, meta) = self.find_running(id_or_name)?;
        let request = crate::supervisor::CtlRequest::Policy {
            policy: update.policy.clone(),
            deny: Some(update.deny.clone()),
            transforms: Some(to_wire(&update.transforms)),
        };
        crate::control::ctl(&sandbox, &meta.id, &request).map_err(|e| match e {
            // The supervisor's refusal is about the input: keep it a usage error.
            SandboxError::Protocol { message, .. }
                if message.starts_with("transform for ") || message.starts_with("deny") =>
            {
                SandboxError::Invalid(message)
            }
            other => other,
        })?;
        Ok(sandbox.load()?.policy_view())
    }

    /// A sandbox's network policy, header names only (any status).
    pub fn policy(&self, id_or_name: &str) -> Result<PolicyView> {
        Ok(self.find(id_or_name)?.1.policy_view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(policy: NetworkPolicy, deny: &[&str], t: Vec<HeaderTransform>) -> PolicyUpdate {
        PolicyUpdate {
            policy,
            deny: deny.iter().map(|d| d.to_string()).collect(),
            transforms: t,
        }
    }

    fn key(domain: &str, name: &str, value: &str) -> HeaderTransform {
        HeaderTransform::new(domain).header(name, Secret::new(value))
    }

    #[test]
    fn errors_name_the_domain_and_header_never_the_value() {
        let allow = || NetworkPolicy::Allow(vec!["api.test".into(), "*.wild.test".into()]);
        let cases = [
            (update(allow(), &["https://x"], vec![]), "https://x"),
            (
                update(allow(), &[], vec![key("*.wild.test", "x-k", "sk-val-1")]),
                "*.wild.test",
            ),
            (
                update(
                    allow(),
                    &[],
                    vec![key("api.test", "bad header", "sk-val-1")],
                ),
                "bad header",
            ),
            (
                update(allow(), &[], vec![key("api.test", "host", "sk-val-1")]),
                "\"host\"",
            ),
            (
                update(allow(), &[], vec![key("api.test", "x-k", "sk-val\n1")]),
                "x-k",
            ),
            (
                update(allow(), &[], vec![key("other.test", "x-k", "sk-val-1")]),
                "other.test",
            ),
            (
                update(
                    allow(),
                    &["api.test"],
                    vec![key("api.test", "x-k", "sk-val-1")],
                ),
                "api.test",
            ),
            (
                update(
                    NetworkPolicy::DenyAll,
                    &[],
                    vec![key("api.test", "x-k", "sk-val-1")],
                ),
                "api.test",
            ),
            (
                update(
                    allow(),
                    &[],
                    vec![key("api.test", "X-K", "sk-val-1").header("x-k", Secret::new("sk-val-2"))],
                ),
                "given twice",
            ),
        ];
        for (u, needle) in cases {
            let err = validate(&u).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
            assert!(!err.contains("sk-val"), "{err}");
        }
        validate(&update(
            allow(),
            &["bad.wild.test"],
            vec![key("api.test", "x-k", "sk-val-1")],
        ))
        .unwrap();
        validate(&update(
            NetworkPolicy::AllowAll,
            &["ads.test"],
            vec![key("api.test", "x-k", "v")],
        ))
        .unwrap();
    }

    #[test]
    fn the_wire_and_debug_forms_keep_values_out_of_sight() {
        let t = vec![key("API.test", "X-Api-Key", "sk-hidden-1")];
        let shown = format!("{t:?} {:?}", to_wire(&t));
        assert!(!shown.contains("sk-hidden"), "{shown}");
        let back = from_wire(to_wire(&t));
        assert_eq!(back[0].headers[0].1.expose(), "sk-hidden-1");
        assert_eq!(
            header_names(&t),
            BTreeMap::from([("api.test".to_string(), vec!["x-api-key".to_string()])])
        );
    }
}
