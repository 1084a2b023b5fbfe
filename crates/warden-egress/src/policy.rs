//! Which hosts the sandbox may reach, decided on the name before any DNS lookup.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A rejected allow-list entry; the message names the entry and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("allow-list entry {entry:?}: {why}")]
    InvalidEntry { entry: String, why: &'static str },
}

/// Why a request was refused; rendered as the `reason=` token of `x-warden-egress` and in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenyReason {
    /// The policy is deny-all.
    DenyAll,
    /// The name matches no allow-list entry.
    NotAllowed,
    /// An IP literal that is not listed exactly.
    IpLiteral,
    /// The target is not a syntactically valid host name.
    InvalidHost,
    /// The name resolved to a loopback, private, link-local or otherwise internal address.
    PrivateAddress,
    /// The name did not resolve (or resolution timed out).
    ResolveFailed,
    /// The name matches an entry of the policy's deny list ([`Policy::except`]).
    DenyList,
}

impl DenyReason {
    /// The stable token used in headers and the audit log.
    pub fn token(self) -> &'static str {
        match self {
            DenyReason::DenyAll => "deny-all",
            DenyReason::NotAllowed => "not-allowed",
            DenyReason::IpLiteral => "ip-literal",
            DenyReason::InvalidHost => "invalid-host",
            DenyReason::PrivateAddress => "private-address",
            DenyReason::ResolveFailed => "resolve-failed",
            DenyReason::DenyList => "deny-list",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// The outcome of [`Policy::decide_host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// One allow-list entry, already normalised (lower case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Pattern {
    /// Matches exactly this host name or IP literal.
    Exact(String),
    /// `*.suffix`: matches names strictly below `suffix`, never `suffix` itself.
    Subdomains(String),
}

impl Pattern {
    /// Parses one allow-list entry, rejecting anything that is not a host name,
    /// an IP literal or a `*.` wildcard with at least two labels after it.
    pub fn parse(entry: &str) -> Result<Pattern, PolicyError> {
        let bad = |why| PolicyError::InvalidEntry {
            entry: entry.to_string(),
            why,
        };
        let trimmed = entry.trim();
        if trimmed.is_empty() {
            return Err(bad("empty entry"));
        }
        if trimmed.contains("://") {
            return Err(bad("write the bare host name, without a scheme"));
        }
        if trimmed.contains('/') {
            return Err(bad("write the bare host name, without a path"));
        }
        if let Some(ip) = parse_ip_literal(trimmed) {
            return Ok(Pattern::Exact(ip.to_string()));
        }
        if trimmed.contains(':') {
            return Err(bad(
                "ports are not part of an entry; write the host name only",
            ));
        }
        let normalised = normalise_host(trimmed);
        if let Some(suffix) = normalised.strip_prefix("*.") {
            if !is_dns_name(suffix) {
                return Err(bad("the part after `*.` is not a valid host name"));
            }
            if !suffix.contains('.') {
                return Err(bad(
                    "a wildcard must name a domain below a public suffix, like `*.example.com`",
                ));
            }
            return Ok(Pattern::Subdomains(suffix.to_string()));
        }
        if normalised.contains('*') {
            return Err(bad("`*` is only allowed as a leading `*.` label"));
        }
        if !is_dns_name(&normalised) {
            return Err(bad(
                "not a valid host name (letters, digits, `-` and `.` only)",
            ));
        }
        Ok(Pattern::Exact(normalised))
    }

    /// Why the proxy would refuse every connection this entry allows, whatever the
    /// resolver says: an internal IP literal (loopback, private, link-local such as the
    /// metadata address 169.254.169.254, …) or a name that always means this machine
    /// (`localhost`, `*.localhost`). The address filter refuses those after DNS anyway;
    /// this lets a caller say so when the entry is written instead of on the first request.
    pub fn never_reachable(&self) -> Option<&'static str> {
        let name = match self {
            Pattern::Exact(name) => name.as_str(),
            Pattern::Subdomains(suffix) => suffix.as_str(),
        };
        if let Some(ip) = parse_ip_literal(name) {
            return crate::addr::is_internal(ip).then_some(
                "an internal address (loopback, private, link-local or metadata): the proxy never connects there",
            );
        }
        let local = name == "localhost"
            || name.ends_with(".localhost")
            || matches!(
                name,
                "localhost.localdomain" | "ip6-localhost" | "ip6-loopback"
            );
        local.then_some("a name for this machine (loopback): the proxy never connects there")
    }

    /// Whether `host` (already in canonical form: lower case, no trailing dot) is one
    /// this entry names.
    pub fn matches_host(&self, host: &str) -> bool {
        self.matches(host)
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Pattern::Exact(name) => name == host,
            Pattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
        }
    }
}

impl TryFrom<String> for Pattern {
    type Error = PolicyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Pattern::parse(&value)
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        match p {
            Pattern::Exact(name) => name,
            Pattern::Subdomains(suffix) => format!("*.{suffix}"),
        }
    }
}

/// What the sandbox may reach. Addresses are filtered again after DNS (see
/// [`crate::addr`]), whatever the policy says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode", content = "domains")]
pub enum Policy {
    /// Only hosts matching one of the patterns.
    AllowList(Vec<Pattern>),
    /// Nothing at all.
    DenyAll,
    /// Any public host (IP literals included); internal addresses stay blocked.
    AllowAll,
    /// What `allow` allows, minus the hosts matching `deny` (`bad.example.com` out of
    /// `*.example.com`, or out of allow-all).
    Except {
        allow: Box<Policy>,
        deny: Vec<Pattern>,
    },
}

impl Policy {
    /// Builds an allow list, failing on the first invalid entry.
    pub fn allow_list<I, S>(domains: I) -> Result<Policy, PolicyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = domains
            .into_iter()
            .map(|d| Pattern::parse(d.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy::AllowList(patterns))
    }

    pub fn deny_all() -> Policy {
        Policy::DenyAll
    }

    pub fn allow_all() -> Policy {
        Policy::AllowAll
    }

    /// This policy minus the hosts matching `deny` (entries as in an allow list). An
    /// empty deny list leaves the policy as it is.
    pub fn except<I, S>(self, deny: I) -> Result<Policy, PolicyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let deny = deny
            .into_iter()
            .map(|d| Pattern::parse(d.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if deny.is_empty() {
            return Ok(self);
        }
        Ok(Policy::Except {
            allow: Box::new(self),
            deny,
        })
    }

    /// Decides on the name alone, before any DNS lookup, so a denied name is never resolved.
    pub fn decide_host(&self, host: &str) -> Decision {
        let Some(host) = canonical_host(host) else {
            return Decision::Deny(DenyReason::InvalidHost);
        };
        self.decide_canonical(&host)
    }

    fn decide_canonical(&self, host: &str) -> Decision {
        match self {
            Policy::DenyAll => Decision::Deny(DenyReason::DenyAll),
            Policy::AllowAll => Decision::Allow,
            Policy::Except { allow, deny } => {
                if deny.iter().any(|p| p.matches(host)) {
                    Decision::Deny(DenyReason::DenyList)
                } else {
                    allow.decide_canonical(host)
                }
            }
            Policy::AllowList(patterns) => {
                if patterns.iter().any(|p| p.matches(host)) {
                    Decision::Allow
                } else if parse_ip_literal(host).is_some() {
                    Decision::Deny(DenyReason::IpLiteral)
                } else {
                    Decision::Deny(DenyReason::NotAllowed)
                }
            }
        }
    }
}

/// Lower case, without trailing dots.
pub(crate) fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The form a target host is compared and logged in: a normalised DNS name or the
/// canonical text of an IP literal (brackets removed). `None` for anything else.
pub(crate) fn canonical_host(host: &str) -> Option<String> {
    if let Some(ip) = parse_ip_literal(host) {
        return Some(ip.to_string());
    }
    let name = normalise_host(host);
    is_dns_name(&name).then_some(name)
}

/// `1.2.3.4`, `::1` or `[::1]`.
pub(crate) fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

/// Letters, digits and hyphens in dot-separated labels of 1..=63 bytes, 253 bytes at most.
/// Underscores are accepted because real service names (`_dmarc`, some CDNs) use them.
/// A numeric last label is refused: no TLD is numeric, and resolvers read names like
/// `127.1` or `0x7f.1` as IP addresses, which would slip past the IP-literal rule.
pub(crate) fn is_dns_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        return false;
    }
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
