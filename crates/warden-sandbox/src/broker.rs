//! Brokered credentials: what a sandbox gets instead of a real key or login, and where
//! the egress proxy sends the real one.
//!
//! A [`BrokerPlan`] is decided on the host from one [`warden_creds::Credential`]: the
//! front door inside the sandbox (Anthropic at `127.0.0.1:3129`, OpenAI at `:3130`),
//! the base URL and placeholder variables the sandbox's programs read, the upstream the
//! door forwards to (the provider, the user's base URL, the AI Gateway, or the ChatGPT
//! backend), and the headers the proxy writes there:
//!
//! | credential | headers written | sandbox variables |
//! |---|---|---|
//! | Anthropic API key | `x-api-key` | `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY` |
//! | auth token / gateway (Anthropic) | `authorization: Bearer`, `x-api-key` removed | `ANTHROPIC_BASE_URL`, `ANTHROPIC_AUTH_TOKEN` (+ `AI_GATEWAY_API_KEY`) |
//! | Claude subscription | `authorization: Bearer`, `anthropic-beta` += `oauth-2025-04-20`, `x-api-key` removed | `ANTHROPIC_BASE_URL`, `CLAUDE_CODE_OAUTH_TOKEN` |
//! | OpenAI key / gateway | `authorization: Bearer` | `OPENAI_BASE_URL`, `OPENAI_API_KEY` (+ `AI_GATEWAY_API_KEY`) |
//! | ChatGPT login | `authorization: Bearer`, `chatgpt-account-id` | `OPENAI_BASE_URL` (the ChatGPT backend's door), `OPENAI_API_KEY` |
//!
//! An HTTPS upstream's host is allowed (whatever later policy changes say) and
//! intercepted too, so a program that ignores the base URL is brokered as well. An
//! upstream on the host's loopback (a base URL the user set, such as a local model
//! server) is reached through its door only, and nothing else on loopback is.

use crate::error::{Result, SandboxError};
use serde::{Deserialize, Serialize};
use std::fmt;
use warden_creds::{Credential, Discovery, Provider, Use};
use warden_egress::{Binding, FrontDoor, Secret};

/// Where the Anthropic front door answers inside a sandbox.
pub const ANTHROPIC_DOOR_PORT: u16 = 3129;
/// Where the OpenAI front door answers inside a sandbox.
pub const OPENAI_DOOR_PORT: u16 = 3130;
/// Anthropic's API, when no base URL was set.
pub const ANTHROPIC_API: &str = "https://api.anthropic.com";
/// OpenAI's API, when no base URL was set.
pub const OPENAI_API: &str = "https://api.openai.com/v1";
/// Where Codex sends a ChatGPT login's requests, when no base URL was set.
pub const CHATGPT_BACKEND: &str = "https://chatgpt.com/backend-api/codex";
/// The beta flag Anthropic's API wants with a subscription's OAuth token.
pub const CLAUDE_OAUTH_BETA: &str = "oauth-2025-04-20";

/// One header the proxy writes. Private: it holds the secret.
#[derive(Clone, Serialize, Deserialize)]
struct HeaderPlan {
    name: String,
    prefix: String,
    value: String,
    list_tokens: Vec<(String, String)>,
    removes: Vec<String>,
}

/// The front door of one plan, as programs inside see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorPlan {
    /// The port on the sandbox's 127.0.0.1.
    pub port: u16,
    /// The base URL programs inside use: `http://127.0.0.1:3129`, `http://127.0.0.1:3130/v1`.
    pub base_url: String,
    /// The origin the door forwards to (`https://api.anthropic.com`,
    /// `http://127.0.0.1:11434`); the base URL's path is kept on every request.
    pub upstream: String,
}

/// A credential brokered into a sandbox. `Debug` never shows the secret; the sandbox's
/// record keeps [`BrokerPlan::label`] and [`BrokerPlan::brokered`] only.
#[derive(Clone, Serialize, Deserialize)]
pub struct BrokerPlan {
    provider: String,
    label: String,
    door: DoorPlan,
    env: Vec<(String, String)>,
    placeholder: String,
    allowed_host: Option<String>,
    headers: Vec<HeaderPlan>,
}

impl fmt::Debug for BrokerPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerPlan")
            .field("label", &self.label)
            .field("door", &self.door)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("allowed_host", &self.allowed_host)
            .field("brokered", &self.brokered())
            .finish()
    }
}

fn usage(message: String) -> SandboxError {
    SandboxError::Invalid(message)
}

/// `scheme://authority[/path]` split into the origin and the path without a trailing
/// slash; errors name `what` (the variable), never the value (it may hold a secret).
fn split_base_url(url: &str, what: &str) -> Result<(String, String)> {
    let bad = |why: &str| usage(format!("{what}: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("not an http(s) URL"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad("not an http(s) URL"));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("a base URL has no query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad("the URL has no host"));
    }
    Ok((format!("{scheme}://{authority}"), path.to_string()))
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Anthropic => "anthropic",
        Provider::OpenAi => "openai",
    }
}

impl BrokerPlan {
    /// The plan for one credential, as found on this machine. Refuses (naming the
    /// variable, never a value) a base URL that is plain HTTP to another machine, and a
    /// ChatGPT login without its account id.
    pub fn for_credential(cred: &Credential) -> Result<BrokerPlan> {
        let how = Use::of(cred);
        let (port, default, base_var) = match cred.provider {
            Provider::Anthropic => (ANTHROPIC_DOOR_PORT, ANTHROPIC_API, "ANTHROPIC_BASE_URL"),
            Provider::OpenAi if how == Use::ChatGptLogin => {
                (OPENAI_DOOR_PORT, CHATGPT_BACKEND, "OPENAI_BASE_URL")
            }
            Provider::OpenAi => (OPENAI_DOOR_PORT, OPENAI_API, "OPENAI_BASE_URL"),
        };
        let what = match (how, &cred.base_url) {
            (Use::Gateway, Some(_)) => format!("the AI Gateway URL ({base_var} or its default)"),
            (_, Some(_)) => base_var.to_string(),
            (_, None) => "the default upstream".to_string(),
        };
        let (origin, path) = split_base_url(cred.base_url.as_deref().unwrap_or(default), &what)?;
        let door = FrontDoor::new(&origin).map_err(|e| {
            usage(format!(
                "{what}: {}",
                match e {
                    warden_egress::EgressError::FrontDoor { why, .. } => why.to_string(),
                    other => other.to_string(),
                }
            ))
        })?;
        let secret = cred.value.expose().to_string();
        let header = |name: &str, prefix: &str, value: &str| HeaderPlan {
            name: name.into(),
            prefix: prefix.into(),
            value: value.into(),
            list_tokens: Vec::new(),
            removes: Vec::new(),
        };
        let bearer = || HeaderPlan {
            removes: vec!["x-api-key".into()],
            ..header("authorization", "Bearer ", &secret)
        };
        let placeholder = warden_egress::placeholder_for(&secret);
        let base_url = format!("http://127.0.0.1:{port}{path}");
        let (headers, mut env) = match (cred.provider, how) {
            (Provider::Anthropic, Use::ApiKey) => (
                vec![header("x-api-key", "", &secret)],
                vec![("ANTHROPIC_API_KEY", &placeholder)],
            ),
            (Provider::Anthropic, Use::ClaudeSubscription) => (
                vec![HeaderPlan {
                    list_tokens: vec![("anthropic-beta".into(), CLAUDE_OAUTH_BETA.into())],
                    ..bearer()
                }],
                vec![("CLAUDE_CODE_OAUTH_TOKEN", &placeholder)],
            ),
            (Provider::Anthropic, _) => {
                (vec![bearer()], vec![("ANTHROPIC_AUTH_TOKEN", &placeholder)])
            }
            (Provider::OpenAi, Use::ChatGptLogin) => {
                let account = cred.account_id.as_deref().ok_or_else(|| {
                    usage(format!(
                        "the ChatGPT login from {} has no account id: run `codex login` again",
                        cred.source
                    ))
                })?;
                (
                    vec![
                        header("authorization", "Bearer ", &secret),
                        header("chatgpt-account-id", "", account),
                    ],
                    vec![("OPENAI_API_KEY", &placeholder)],
                )
            }
            (Provider::OpenAi, _) => (
                vec![header("authorization", "Bearer ", &secret)],
                vec![("OPENAI_API_KEY", &placeholder)],
            ),
        };
        if how == Use::Gateway {
            env.push(("AI_GATEWAY_API_KEY", &placeholder));
        }
        let base_var = match cred.provider {
            Provider::Anthropic => "ANTHROPIC_BASE_URL",
            Provider::OpenAi => "OPENAI_BASE_URL",
        };
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        env.insert(0, (base_var.to_string(), base_url.clone()));
        let describe = match how {
            Use::ApiKey => "API key",
            Use::AuthToken => "auth token",
            Use::Gateway => "AI Gateway key",
            Use::ClaudeSubscription => "Claude subscription login",
            Use::ChatGptLogin => "ChatGPT login",
        };
        Ok(BrokerPlan {
            provider: provider_name(cred.provider).to_string(),
            label: format!("{} ({describe})", provider_name(cred.provider)),
            door: DoorPlan {
                port,
                base_url,
                upstream: door.origin(),
            },
            env,
            placeholder,
            allowed_host: (!door.is_loopback()).then(|| door.host().to_string()),
            headers,
        })
    }

    /// The plans for `--broker NAME`s, from what `found` holds on this machine:
    /// `anthropic` and `openai` take the credential Claude Code and Codex would use
    /// (subscription logins included), `gateway` covers every provider not named.
    pub fn for_names(names: &[String], found: &Discovery) -> Result<Vec<BrokerPlan>> {
        let missing = |name: &str, what: &str| {
            usage(format!(
                "--broker {name}: no {what} credential found on this machine (see `warden credentials status`)"
            ))
        };
        let mut plans = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for name in names {
            if seen.contains(&name.as_str()) {
                return Err(usage(format!("--broker {name} is given twice")));
            }
            seen.push(name);
            let agent = match name.as_str() {
                "anthropic" => warden_creds::Agent::Claude,
                "openai" => warden_creds::Agent::Codex,
                "gateway" => continue,
                other => {
                    return Err(usage(format!(
                        "--broker {other:?}: expected anthropic, openai or gateway"
                    )))
                }
            };
            let choice = found.for_agent(agent, None).map_err(|e| match e {
                warden_creds::CredsError::NotFound { .. } => missing(
                    name,
                    if name == "anthropic" {
                        "Anthropic"
                    } else {
                        "OpenAI"
                    },
                ),
                other => usage(format!("--broker {name}: {other}")),
            })?;
            plans.push(
                BrokerPlan::for_credential(&choice.credential)
                    .map_err(|e| usage(format!("--broker {name}: {e}")))?,
            );
        }
        if seen.contains(&"gateway") {
            let named: Vec<String> = plans.iter().map(|p| p.provider.clone()).collect();
            if found.gateway.is_empty() {
                return Err(missing(
                    "gateway",
                    "AI Gateway (AI_GATEWAY_API_KEY, VERCEL_OIDC_TOKEN)",
                ));
            }
            let mut added = false;
            for cred in found
                .gateway
                .iter()
                .filter(|c| !named.iter().any(|n| n == provider_name(c.provider)))
            {
                plans.push(
                    BrokerPlan::for_credential(cred)
                        .map_err(|e| usage(format!("--broker gateway: {e}")))?,
                );
                added = true;
            }
            if !added {
                return Err(usage(
                    "--broker gateway: anthropic and openai are already brokered directly; give fewer --broker names".into(),
                ));
            }
        }
        Ok(plans)
    }

    /// `provider (kind)`, e.g. `anthropic (Claude subscription login)`: for records and headers.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The front door programs inside use.
    pub fn door(&self) -> &DoorPlan {
        &self.door
    }

    /// The variables the sandbox gets: the base URL and placeholders, never the secret.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The value a variable of [`BrokerPlan::env`] gets.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The stand-in for the secret (what a CLI's own config may name as its key).
    pub fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// The host the sandbox may reach for this credential (the door's HTTPS upstream);
    /// `None` when the upstream is on the host's loopback (reached through the door only).
    pub fn allowed_host(&self) -> Option<&str> {
        self.allowed_host.as_deref()
    }

    /// `where: header` for each header the proxy writes (never a value).
    pub fn brokered(&self) -> Vec<String> {
        let place = self
            .allowed_host
            .clone()
            .unwrap_or_else(|| self.door.upstream.clone());
        self.headers
            .iter()
            .map(|h| format!("{place}: {}", h.name))
            .collect()
    }

    /// Whether this plan covers Anthropic (else OpenAI).
    pub fn is_anthropic(&self) -> bool {
        self.provider == "anthropic"
    }

    /// The proxy's side: bindings routed by host (an HTTPS upstream: also intercepted),
    /// skipping those `seen` already holds with the same value, and the front door with
    /// its own bindings (a loopback upstream).
    fn materialize(
        &self,
        seen: &mut Vec<(String, String, String)>,
    ) -> Result<(Vec<Binding>, FrontDoor)> {
        let bad = |e: warden_egress::BindingError| usage(format!("broker {}: {e}", self.label));
        let mut door = FrontDoor::new(&self.door.upstream)
            .map_err(|e| usage(format!("broker {}: {e}", self.label)))?;
        let mut routed = Vec::new();
        for h in &self.headers {
            if let Some(host) = &self.allowed_host {
                // One key for both providers (the AI Gateway) binds its host once.
                let value = format!("{}{}", h.prefix, h.value);
                match seen.iter().find(|(sh, sn, _)| sh == host && *sn == h.name) {
                    Some((_, _, v)) if *v == value => continue,
                    Some(_) => {
                        return Err(usage(format!(
                            "two brokered credentials set {} for {host}; broker one of them",
                            h.name
                        )))
                    }
                    None => seen.push((host.clone(), h.name.clone(), value)),
                }
            }
            let value = Secret::new(h.value.clone());
            let mut binding = match &self.allowed_host {
                Some(host) => Binding::with_prefix(host, &h.name, &h.prefix, value),
                None => Binding::for_front_door(&door, &h.name, &h.prefix, value),
            }
            .map_err(bad)?;
            for (list, token) in &h.list_tokens {
                binding = binding.with_list_token(list, token).map_err(bad)?;
            }
            for name in &h.removes {
                binding = binding.removing(name).map_err(bad)?;
            }
            if self.allowed_host.is_some() {
                routed.push(binding);
            } else {
                door = door.with_binding(binding);
            }
        }
        Ok((routed, door))
    }
}

/// What the proxy serves for a set of plans.
pub(crate) struct ProxySide {
    /// Bindings routed by host (front doors to HTTPS upstreams, and interception).
    pub routed: Vec<Binding>,
    /// Each plan's front door and the port it answers on inside, in the plans' order.
    pub doors: Vec<(u16, FrontDoor)>,
}

/// What the proxy needs for `plans`. Fails when two plans share a door or set the same
/// header on the same host differently.
pub(crate) fn proxy_side(plans: &[BrokerPlan]) -> Result<ProxySide> {
    check_plans(plans)?;
    let mut seen = Vec::new();
    let mut side = ProxySide {
        routed: Vec::new(),
        doors: Vec::new(),
    };
    for plan in plans {
        let (bindings, door) = plan.materialize(&mut seen)?;
        side.routed.extend(bindings);
        side.doors.push((plan.door.port, door));
    }
    Ok(side)
}

/// Checks that plans can live in one sandbox: one per provider (each has one door).
pub(crate) fn check_plans(plans: &[BrokerPlan]) -> Result<()> {
    for (i, p) in plans.iter().enumerate() {
        if let Some(other) = plans[..i].iter().find(|o| o.door.port == p.door.port) {
            return Err(usage(format!(
                "two brokered credentials for {}: {} and {}; broker one per provider",
                p.provider, other.label, p.label
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
