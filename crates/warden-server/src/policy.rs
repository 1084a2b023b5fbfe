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
use warden_sandbox::{HeaderTransform, NetworkPolicy, PolicyUpdate, PolicyView, Secret};

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
    /// The whole policy the sandbox layer applies (allowed hosts, deny list, header
    /// transforms), checked: a mistake is a 400 naming `field` and the domain or header
    /// at fault, never a value. `[]` rules are a plain allow.
    pub fn to_update(&self, field: &str) -> Result<PolicyUpdate, ApiError> {
        let update = match self {
            NetworkPolicyBody::Mode(PolicyMode::AllowAll) => PolicyUpdate {
                policy: NetworkPolicy::AllowAll,
                ..PolicyUpdate::default()
            },
            NetworkPolicyBody::Mode(PolicyMode::DenyAll) => PolicyUpdate::default(),
            NetworkPolicyBody::Lists { allow, deny } => {
                let (domains, transforms) = match allow {
                    AllowSpec::Domains(d) => (d.clone(), Vec::new()),
                    AllowSpec::Rules(rules) => (
                        rules.keys().cloned().collect(),
                        rules
                            .iter()
                            .filter_map(|(domain, rules)| transform_of(domain, rules))
                            .collect(),
                    ),
                };
                PolicyUpdate {
                    policy: NetworkPolicy::Allow(domains),
                    deny: deny.clone(),
                    transforms,
                }
            }
        };
        warden_sandbox::rules::validate(&update)
            .map_err(|e| ApiError::Invalid(format!("{field}: {e}")))?;
        Ok(update)
    }
}

/// Every header the rules of one domain set, as one transform; none when they set none.
fn transform_of(domain: &str, rules: &[DomainRule]) -> Option<HeaderTransform> {
    let mut transform = HeaderTransform::new(domain);
    for (name, value) in rules
        .iter()
        .flat_map(|r| &r.transform)
        .flat_map(|t| &t.headers)
    {
        transform = transform.header(name.as_str(), Secret::new(value.as_str()));
    }
    (!transform.headers.is_empty()).then_some(transform)
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
    /// The allowed domains (empty unless `mode` is `allow-list`).
    pub allow: Vec<String>,
    /// Domains refused even where `allow` (or `allow-all`) lets them through.
    pub deny: Vec<String>,
    /// Per domain, the names (lower case) of the headers the proxy sets on HTTPS requests.
    pub transforms: BTreeMap<String, Vec<String>>,
}

impl From<PolicyView> for NetworkPolicyView {
    fn from(view: PolicyView) -> NetworkPolicyView {
        NetworkPolicyView {
            mode: match view.mode {
                warden_sandbox::PolicyMode::AllowAll => PolicyViewMode::AllowAll,
                warden_sandbox::PolicyMode::DenyAll => PolicyViewMode::DenyAll,
                warden_sandbox::PolicyMode::AllowList => PolicyViewMode::AllowList,
            },
            allow: view.allow,
            deny: view.deny,
            transforms: view.transforms,
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

    /// `{"allow": [...] | {...}, "deny": [...]}`: only the allowed domains, less the
    /// denied ones (`deny` entries as in `allow`; no `allow`: none).
    #[derive(Deserialize, ToSchema)]
    pub struct PolicyLists {
        pub allow: Option<Allow>,
        pub deny: Option<Vec<String>>,
    }

    /// Domains (`example.com`, `*.example.com`), or domains with the rules for their
    /// requests (`[]` for none). A domain with a `transform` must be one exact host name.
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

    /// Headers set on every HTTPS request to the domain (intercepted by the egress proxy
    /// outside the sandbox, replacing what the sandbox sent); never on plain HTTP. The
    /// values are never written, logged or shown.
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

    fn policy(json: &str) -> NetworkPolicy {
        body(json).unwrap().to_update("p").unwrap().policy
    }

    #[test]
    fn every_shape_of_the_contract_parses() {
        assert_eq!(policy(r#""allow-all""#), NetworkPolicy::AllowAll);
        assert_eq!(policy(r#""deny-all""#), NetworkPolicy::DenyAll);
        assert_eq!(
            policy(r#"{"allow": ["example.com", "*.example.org"]}"#),
            NetworkPolicy::Allow(vec!["example.com".into(), "*.example.org".into()])
        );
        assert_eq!(
            policy(r#"{"allow": {"registry.npmjs.org": []}}"#),
            NetworkPolicy::Allow(vec!["registry.npmjs.org".into()])
        );
    }

    #[test]
    fn deny_lists_and_transforms_map_to_the_sandbox_layer_without_showing_values() {
        let deny = body(r#"{"allow": ["*.a.com"], "deny": ["b.a.com"]}"#)
            .unwrap()
            .to_update("p")
            .unwrap();
        assert_eq!(deny.deny, ["b.a.com"]);
        let transform = body(
            r#"{"allow": {"api.anthropic.com": [{"transform": [{"headers": {"x-api-key": "sk-secret"}}]}],
                          "registry.npmjs.org": []}}"#,
        )
        .unwrap();
        assert!(!format!("{transform:?}").contains("sk-secret"));
        let update = transform.to_update("p").unwrap();
        assert!(!format!("{update:?}").contains("sk-secret"));
        assert_eq!(
            update.policy,
            NetworkPolicy::Allow(vec![
                "api.anthropic.com".into(),
                "registry.npmjs.org".into()
            ])
        );
        assert_eq!(update.transforms.len(), 1);
        assert_eq!(update.transforms[0].domain, "api.anthropic.com");
        assert_eq!(update.transforms[0].headers[0].0, "x-api-key");
        assert_eq!(update.transforms[0].headers[0].1.expose(), "sk-secret");
    }

    #[test]
    fn a_wildcard_transform_is_refused_naming_its_domain_not_its_value() {
        let wild = body(
            r#"{"allow": {"*.example.com": [{"transform": [{"headers": {"x-k": "sk-wild-value"}}]}]}}"#,
        )
        .unwrap();
        let err = wild.to_update("networkPolicy").unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        let text = err.to_string();
        assert!(
            text.contains("*.example.com") && !text.contains("sk-wild"),
            "{text}"
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
        let err = bad_domain.to_update("networkPolicy").unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert!(err.to_string().starts_with("networkPolicy: "), "{err}");
    }
}
