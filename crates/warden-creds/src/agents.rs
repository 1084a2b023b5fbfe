//! Which credential each agent would use, and why: decided once, on the host, from what
//! [`crate::discover`] found, and shown by `warden agents ls` and the `process` header.
//!
//! - **native** (Warden's own agent, calling the provider APIs itself): an API key, the
//!   auth-token pair or a gateway key. Never a subscription login's OAuth token: those
//!   are for the vendors' own CLIs, and sending one as an API key is not what they are for.
//! - **claude** (Claude Code): Anthropic only; an API key, the auth-token pair, a gateway
//!   key, or a Claude subscription login.
//! - **codex**: OpenAI only; an API key, a gateway key, or a ChatGPT login (with its
//!   account id).
//! - **opencode**: either provider's API key, the auth-token pair or a gateway key.
//!
//! Among the usable ones the order is discovery's: the environment, then `.env.local`
//! and `.env`, then agents' files. With `--model` the provider is fixed; without, the
//! credential decides it.

use std::fmt;

use crate::{Credential, CredsError, Discovery, Kind, Provider, Source};

/// An agent that spends model credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Agent {
    Native,
    Claude,
    Codex,
    OpenCode,
}

impl Agent {
    /// Every agent, in the order they are listed.
    pub const ALL: [Agent; 4] = [Agent::Native, Agent::Claude, Agent::Codex, Agent::OpenCode];

    /// The name users type (`--agent claude`).
    pub fn name(self) -> &'static str {
        match self {
            Agent::Native => "native",
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::OpenCode => "opencode",
        }
    }

    /// The agent named `name`, if any.
    pub fn parse(name: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The providers this agent can talk to.
    pub fn providers(self) -> &'static [Provider] {
        match self {
            Agent::Claude => &[Provider::Anthropic],
            Agent::Codex => &[Provider::OpenAi],
            Agent::Native | Agent::OpenCode => &[Provider::Anthropic, Provider::OpenAi],
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an agent uses a credential: what the egress proxy must do with it and how the
/// agent's own configuration must point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Use {
    /// A provider API key (`x-api-key` for Anthropic, `Authorization: Bearer` for OpenAI).
    ApiKey,
    /// `Authorization: Bearer` to an explicit base URL (`ANTHROPIC_AUTH_TOKEN`).
    AuthToken,
    /// `Authorization: Bearer` with an AI Gateway key, to the gateway.
    Gateway,
    /// A Claude subscription login: `Authorization: Bearer` plus the OAuth beta flag.
    ClaudeSubscription,
    /// A ChatGPT login: `Authorization: Bearer` plus `chatgpt-account-id`, to the
    /// ChatGPT backend.
    ChatGptLogin,
}

impl Use {
    /// How `credential` is used, whoever uses it.
    pub fn of(credential: &Credential) -> Use {
        match (credential.kind, credential.provider) {
            (Kind::ApiKey, _) => Use::ApiKey,
            (Kind::AuthToken, _) => Use::AuthToken,
            (Kind::Gateway, _) => Use::Gateway,
            (Kind::OAuth, Provider::Anthropic) => Use::ClaudeSubscription,
            (Kind::OAuth, Provider::OpenAi) => Use::ChatGptLogin,
        }
    }

    /// A subscription login rather than a key.
    pub fn is_subscription(self) -> bool {
        matches!(self, Use::ClaudeSubscription | Use::ChatGptLogin)
    }

    fn describe(self, provider: Provider) -> String {
        match self {
            Use::ApiKey => format!("{provider} API key"),
            Use::AuthToken => format!("{provider} auth token"),
            Use::Gateway => format!("AI Gateway key (for {provider})"),
            Use::ClaudeSubscription => "Claude subscription login".to_string(),
            Use::ChatGptLogin => "ChatGPT login".to_string(),
        }
    }
}

/// The credential an agent would use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub agent: Agent,
    pub credential: Credential,
    pub how: Use,
    /// One line for people: what it is, where it came from, where it is sent.
    pub why: String,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.agent, self.why)
    }
}

/// Why `credential` cannot serve `agent` (`None`: it can).
fn refusal(agent: Agent, credential: &Credential) -> Option<&'static str> {
    let how = Use::of(credential);
    match (agent, how) {
        (Agent::Native | Agent::OpenCode, Use::ClaudeSubscription | Use::ChatGptLogin) => {
            Some("a subscription login is only used by its vendor's own CLI")
        }
        (Agent::Codex, Use::ChatGptLogin) if credential.account_id.is_none() => {
            Some("a ChatGPT login without its account id (run `codex login` again)")
        }
        (Agent::Codex, Use::AuthToken) => Some("an Anthropic auth token"),
        _ => None,
    }
}

fn why(credential: &Credential, how: Use) -> String {
    let mut out = format!(
        "{} from {}",
        how.describe(credential.provider),
        credential.source
    );
    if let Some(when) = credential.expires_at {
        out.push_str(&format!(", expires {}", crate::expiry::display(when)));
    }
    if let Some(url) = &credential.base_url {
        out.push_str(&format!(", sent to {url}"));
    }
    out
}

/// Which agents could use a subscription login from `source`, for the native agent's error.
fn subscription_hint(credential: &Credential) -> String {
    let (what, agent) = match credential.provider {
        Provider::Anthropic => ("a Claude subscription login", Agent::Claude),
        Provider::OpenAi => ("a ChatGPT login", Agent::Codex),
    };
    let place = match &credential.source {
        Source::ConfigFile(path) => format!(" ({})", path.display()),
        _ => String::new(),
    };
    format!("{what}{place}: use --agent {agent}")
}

impl Discovery {
    /// The credential `agent` would use (for `provider` when the model fixes it) and why;
    /// otherwise an error saying what was found and what would work instead.
    pub fn for_agent(
        &self,
        agent: Agent,
        provider: Option<Provider>,
    ) -> Result<Choice, CredsError> {
        if let Some(p) = provider.filter(|p| !agent.providers().contains(p)) {
            return Err(CredsError::Unusable {
                agent: agent.name(),
                why: format!("{agent} talks to {} only, not {p}", agent.providers()[0]),
            });
        }
        let wanted = |c: &&Credential| {
            agent.providers().contains(&c.provider) && provider.is_none_or(|p| c.provider == p)
        };
        let mut passed_over = Vec::new();
        for credential in self.credentials.iter().filter(wanted) {
            match refusal(agent, credential) {
                None => {
                    let how = Use::of(credential);
                    return Ok(Choice {
                        agent,
                        credential: credential.clone(),
                        how,
                        why: why(credential, how),
                    });
                }
                Some(reason) => passed_over.push((credential, reason)),
            }
        }
        let subscriptions: Vec<String> = passed_over
            .iter()
            .filter(|(c, _)| Use::of(c).is_subscription() && agent != Agent::Codex)
            .map(|(c, _)| subscription_hint(c))
            .collect();
        if !subscriptions.is_empty() {
            return Err(CredsError::Unusable {
                agent: agent.name(),
                why: format!(
                    "only subscription logins were found, and {agent} does not send a subscription token as an API key: {}; or set an API key (ANTHROPIC_API_KEY, OPENAI_API_KEY) or AI_GATEWAY_API_KEY",
                    subscriptions.join("; ")
                ),
            });
        }
        if let Some((credential, reason)) = passed_over.first() {
            return Err(CredsError::Unusable {
                agent: agent.name(),
                why: format!(
                    "passed over {} from {}: {reason}",
                    Use::of(credential).describe(credential.provider),
                    credential.source
                ),
            });
        }
        let for_provider = match agent.providers() {
            [only] => Some(*only),
            _ => provider,
        };
        Err(self.not_found(for_provider))
    }
}
