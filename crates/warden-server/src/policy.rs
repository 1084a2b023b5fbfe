//! The network policy as the API takes it (the Vercel SDK's shape) and shows it.
//!
//! ```json
//! "allow-all" | "deny-all"
//! | {"allow": ["registry.npmjs.org", "*.example.com"], "deny": ["bad.example.com"]}
//! | {"allow": {"api.anthropic.com": [{"transform": [{"headers": {"x-api-key": "sk-…"}}]}]}}
//! ```
//!
//! Parsed by hand from JSON so each mistake names its field. Header values are secrets:
//! no `Debug`, error or view of this module shows one.

use crate::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use warden_sandbox::NetworkPolicy;

/// `allow-all` or `deny-all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyMode {
    AllowAll,
    DenyAll,
}

/// A network policy in a request (its OpenAPI shape is [`schema::NetworkPolicy`]).
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkPolicyBody {
    Mode(PolicyMode),
    Lists { allow: AllowSpec, deny: Vec<String> },
}

/// Allowed domains: a list, or a map from domain to the rules applied to its requests.
#[derive(Debug, Clone, PartialEq)]
pub enum AllowSpec {
    Domains(Vec<String>),
    Rules(BTreeMap<String, Vec<DomainRule>>),
}

/// What the egress proxy does to requests to one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainRule {
    pub transform: Vec<Transform>,
}

/// Headers the proxy sets on the way out (values are secrets, never shown).
#[derive(Clone, PartialEq)]
pub struct Transform {
    pub headers: BTreeMap<String, String>,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<'de> Deserialize<'de> for NetworkPolicyBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        parse(&value).map_err(serde::de::Error::custom)
    }
}

fn parse(value: &Value) -> Result<NetworkPolicyBody, String> {
    const SHAPE: &str =
        "expected \"allow-all\", \"deny-all\" or {\"allow\": [...] | {...}, \"deny\": [...]}";
    match value {
        Value::String(s) if s == "allow-all" => Ok(NetworkPolicyBody::Mode(PolicyMode::AllowAll)),
        Value::String(s) if s == "deny-all" => Ok(NetworkPolicyBody::Mode(PolicyMode::DenyAll)),
        Value::Object(map) => {
            if let Some(key) = map.keys().find(|k| *k != "allow" && *k != "deny") {
                return Err(format!("unknown field {key:?}: {SHAPE}"));
            }
            let allow = match map.get("allow") {
                None => AllowSpec::Domains(Vec::new()),
                Some(Value::Array(_)) => AllowSpec::Domains(strings(&map["allow"], "allow")?),
                Some(Value::Object(rules)) => {
                    let mut out = BTreeMap::new();
                    for (domain, list) in rules {
                        out.insert(domain.clone(), domain_rules(domain, list)?);
                    }
                    AllowSpec::Rules(out)
                }
                Some(_) => return Err(format!("allow: {SHAPE}")),
            };
            let deny = match map.get("deny") {
                None => Vec::new(),
                Some(v) => strings(v, "deny")?,
            };
            Ok(NetworkPolicyBody::Lists { allow, deny })
        }
        _ => Err(SHAPE.to_string()),
    }
}

fn strings(value: &Value, field: &str) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!("{field}: expected a list of domains"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(format!("{field}[{i}]: expected a domain as a string")),
        })
        .collect()
}

fn domain_rules(domain: &str, value: &Value) -> Result<Vec<DomainRule>, String> {
    let at = format!("allow.{domain:?}");
    let Value::Array(rules) = value else {
        return Err(format!("{at}: expected a list of rules ([] for none)"));
    };
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let Value::Object(rule) = rule else {
            return Err(format!("{at}[{i}]: expected {{\"transform\": [...]}}"));
        };
        if let Some(key) = rule.keys().find(|k| *k != "transform") {
            return Err(format!("{at}[{i}]: unknown field {key:?}"));
        }
        let Some(Value::Array(transforms)) = rule.get("transform") else {
            return Err(format!("{at}[{i}].transform: expected a list"));
        };
        let mut list = Vec::new();
        for (j, t) in transforms.iter().enumerate() {
            let here = format!("{at}[{i}].transform[{j}]");
            let Some(Value::Object(headers)) = t.get("headers") else {
                return Err(format!("{here}: expected {{\"headers\": {{NAME: VALUE}}}}"));
            };
            if t.as_object().is_some_and(|o| o.len() != 1) {
                return Err(format!("{here}: only \"headers\" is known"));
            }
            let mut map = BTreeMap::new();
            for (name, v) in headers {
                let Value::String(v) = v else {
                    return Err(format!("{here}.headers.{name:?}: expected a string"));
                };
                map.insert(name.clone(), v.clone());
            }
            list.push(Transform { headers: map });
        }
        out.push(DomainRule { transform: list });
    }
    Ok(out)
}

impl NetworkPolicyBody {
    /// The policy the sandbox layer enforces today. Deny lists and header transforms are
    /// in the contract but not yet in the sandbox layer: 501 for now.
    pub fn to_sandbox(&self, field: &str) -> Result<NetworkPolicy, ApiError> {
        let policy = match self {
            NetworkPolicyBody::Mode(PolicyMode::AllowAll) => NetworkPolicy::AllowAll,
            NetworkPolicyBody::Mode(PolicyMode::DenyAll) => NetworkPolicy::DenyAll,
            NetworkPolicyBody::Lists { allow, deny } => {
                if !deny.is_empty() {
                    return Err(ApiError::not_implemented(&format!("{field}.deny")));
                }
                match allow {
                    AllowSpec::Domains(d) => NetworkPolicy::Allow(d.clone()),
                    AllowSpec::Rules(rules) => {
                        if rules.values().any(|r| !r.is_empty()) {
                            return Err(ApiError::not_implemented(&format!(
                                "{field}.allow with transform rules"
                            )));
                        }
                        NetworkPolicy::Allow(rules.keys().cloned().collect())
                    }
                }
            }
        };
        warden_sandbox::net::validate_policy(&policy)
            .map_err(|e| ApiError::Invalid(format!("{field}: {e}")))?;
        Ok(policy)
    }
}

/// `allow-all`, `deny-all` or `allow-list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyViewMode {
    AllowAll,
    DenyAll,
    AllowList,
}

/// A sandbox's network policy as the API shows it: header names only, never values.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NetworkPolicyView {
    pub mode: PolicyViewMode,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// Per domain, the names of the headers the proxy sets.
    pub transforms: BTreeMap<String, Vec<String>>,
}

impl NetworkPolicyView {
    pub fn of(policy: &NetworkPolicy) -> NetworkPolicyView {
        let (mode, allow) = match policy {
            NetworkPolicy::AllowAll => (PolicyViewMode::AllowAll, Vec::new()),
            p if p.is_deny_all() => (PolicyViewMode::DenyAll, Vec::new()),
            NetworkPolicy::Allow(d) => (PolicyViewMode::AllowList, d.clone()),
            NetworkPolicy::DenyAll => (PolicyViewMode::DenyAll, Vec::new()),
        };
        NetworkPolicyView {
            mode,
            allow,
            deny: Vec::new(),
            transforms: BTreeMap::new(),
        }
    }
}

/// The request shapes as the OpenAPI document shows them. The server parses requests
/// with [`NetworkPolicyBody`]'s own deserializer (whose errors name the field); these
/// types only describe the wire format.
#[allow(dead_code)]
pub mod schema {
    use serde::Deserialize;
    use std::collections::BTreeMap;
    use utoipa::ToSchema;

    /// `"allow-all"`, `"deny-all"`, or lists of allowed (and denied) domains.
    #[derive(Deserialize, ToSchema)]
    #[serde(untagged)]
    pub enum NetworkPolicy {
        Mode(super::PolicyMode),
        Lists(PolicyLists),
    }

    /// `{"allow": [...] | {...}, "deny": [...]}`; `deny` is not implemented yet (501).
    #[derive(Deserialize, ToSchema)]
    pub struct PolicyLists {
        pub allow: Option<Allow>,
        pub deny: Option<Vec<String>>,
    }

    /// Domains (`example.com`, `*.example.com`), or domains with the rules for their
    /// requests (rules other than `[]` are not implemented yet: 501).
    #[derive(Deserialize, ToSchema)]
    #[serde(untagged)]
    pub enum Allow {
        Domains(Vec<String>),
        Rules(BTreeMap<String, Vec<DomainRule>>),
    }

    /// What the egress proxy does to requests to one domain.
    #[derive(Deserialize, ToSchema)]
    pub struct DomainRule {
        pub transform: Vec<HeaderTransform>,
    }

    /// Headers set on the way out, by the proxy outside the sandbox; values never shown.
    #[derive(Deserialize, ToSchema)]
    pub struct HeaderTransform {
        pub headers: BTreeMap<String, String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Result<NetworkPolicyBody, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn every_shape_of_the_contract_parses() {
        assert_eq!(
            body(r#""allow-all""#).unwrap().to_sandbox("p").unwrap(),
            NetworkPolicy::AllowAll
        );
        assert_eq!(
            body(r#""deny-all""#).unwrap().to_sandbox("p").unwrap(),
            NetworkPolicy::DenyAll
        );
        assert_eq!(
            body(r#"{"allow": ["example.com", "*.example.org"]}"#)
                .unwrap()
                .to_sandbox("p")
                .unwrap(),
            NetworkPolicy::Allow(vec!["example.com".into(), "*.example.org".into()])
        );
        assert_eq!(
            body(r#"{"allow": {"registry.npmjs.org": []}}"#)
                .unwrap()
                .to_sandbox("p")
                .unwrap(),
            NetworkPolicy::Allow(vec!["registry.npmjs.org".into()])
        );
    }

    #[test]
    fn deny_lists_and_transforms_wait_for_the_sandbox_layer() {
        let deny = body(r#"{"allow": ["a.com"], "deny": ["b.a.com"]}"#).unwrap();
        assert_eq!(deny.to_sandbox("p").unwrap_err().status().as_u16(), 501);
        let transform = body(
            r#"{"allow": {"api.anthropic.com": [{"transform": [{"headers": {"x-api-key": "sk-secret"}}]}]}}"#,
        )
        .unwrap();
        assert!(!format!("{transform:?}").contains("sk-secret"));
        assert_eq!(
            transform.to_sandbox("p").unwrap_err().status().as_u16(),
            501
        );
    }

    #[test]
    fn mistakes_name_their_field() {
        for (json, expect) in [
            (r#""allow-some""#, "expected"),
            (r#"{"allow": [1]}"#, "allow[0]"),
            (r#"{"alow": []}"#, "unknown field \"alow\""),
            (
                r#"{"allow": {"a.com": [{"transform": [{"headers": {"k": 1}}]}]}}"#,
                "headers",
            ),
        ] {
            let err = body(json).unwrap_err();
            assert!(err.contains(expect), "{json}: {err}");
        }
        let bad_domain = body(r#"{"allow": ["exa mple.com"]}"#).unwrap();
        let err = bad_domain.to_sandbox("networkPolicy").unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert!(err.to_string().starts_with("networkPolicy: "), "{err}");
    }
}
