//! Finds the model-provider credentials Warden's agents need.
//!
//! Sources, in precedence order:
//!
//! 1. the process environment (through the [`Env`] trait, so tests never touch the real one);
//! 2. `.env.local`, then `.env`, in the working directory (never overriding 1);
//! 3. agents' own credential files under the home directory, one row per agent and
//!    provider in [`sources::AGENT_FILES`]: adding an agent is adding a row.
//!
//! Direct keys are `ANTHROPIC_API_KEY`/`CLAUDE_API_KEY` and `OPENAI_API_KEY`/`CODEX_API_KEY`;
//! `ANTHROPIC_AUTH_TOKEN` with `ANTHROPIC_BASE_URL` is a bearer token for that URL.
//! An `AI_GATEWAY_API_KEY` (else `VERCEL_OIDC_TOKEN`) expands into a gateway credential,
//! with the gateway's base URL, for each provider that has no direct key. A base URL
//! the user set (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`) goes with every credential of
//! its provider, logins included. [`agents`] says which credential each agent uses.
//!
//! Missing files are silent; malformed, oversized or special files (a FIFO never
//! blocks discovery: see [`file`]) and expired OAuth tokens become [`Discovery::notes`],
//! never errors, and [`CredsError::NotFound`] repeats them when nothing is usable.
//! Values are [`Secret`]s, which never print themselves.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use time::OffsetDateTime;

pub mod agents;
pub mod dotenv;
mod env_output;
mod expiry;
pub mod file;
pub mod gateway;
mod secret;
pub mod sources;

pub use agents::{Agent, Choice, Use};
pub use env_output::{extract_env, shell_quote};
pub use file::{read_config_file, read_regular_file, FileError};
pub use secret::Secret;

/// Read access to environment variables.
pub trait Env {
    /// The variable's value, if set.
    fn get(&self, name: &str) -> Option<String>;

    /// True when the variable is set but its value is not UTF-8 (so [`Env::get`] says
    /// unset): worth a note, since the user did set it.
    fn is_not_unicode(&self, _name: &str) -> bool {
        false
    }
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn is_not_unicode(&self, name: &str) -> bool {
        matches!(std::env::var(name), Err(std::env::VarError::NotUnicode(_)))
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A model provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Anthropic (Claude).
    Anthropic,
    /// OpenAI (Codex).
    OpenAi,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Anthropic => "Anthropic",
            Self::OpenAi => "OpenAI",
        })
    }
}

/// What kind of credential a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A provider API key.
    ApiKey,
    /// An OAuth access token from an agent's login.
    OAuth,
    /// An AI Gateway key, used with the gateway's base URL.
    Gateway,
    /// A bearer token for an explicit base URL: `ANTHROPIC_AUTH_TOKEN` with
    /// `ANTHROPIC_BASE_URL` (a gateway of the user's own, or the provider reached a
    /// different way). Always has a base URL.
    AuthToken,
}

/// Where a credential was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A process environment variable.
    Env(String),
    /// A `.env`-style file.
    DotEnv(PathBuf),
    /// An agent's config file.
    ConfigFile(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "environment variable {var}"),
            Self::DotEnv(path) => write!(f, "{}", path.display()),
            Self::ConfigFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One credential found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Provider it is for.
    pub provider: Provider,
    /// API key, OAuth token or gateway key.
    pub kind: Kind,
    /// Where it came from.
    pub source: Source,
    /// The value (redacted when printed).
    pub value: Secret,
    /// When an OAuth token expires, if known.
    pub expires_at: Option<OffsetDateTime>,
    /// Base URL to use with it, when not the provider's own.
    pub base_url: Option<String>,
    /// The account a ChatGPT login's token belongs to (`chatgpt-account-id`), from
    /// Codex's `auth.json`. Not a secret, but sent only with the token.
    pub account_id: Option<String>,
}

/// Where to look.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// Home directory holding agents' config files.
    pub home: Option<PathBuf>,
    /// Directory holding `.env.local` and `.env`.
    pub work_dir: Option<PathBuf>,
}

impl Places {
    /// `$HOME` and the current directory.
    pub fn from_process() -> Self {
        Self {
            home: std::env::var_os("HOME").map(PathBuf::from),
            work_dir: std::env::current_dir().ok(),
        }
    }
}

/// Everything found, best first, with notes on what was skipped.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Credentials in precedence order.
    pub credentials: Vec<Credential>,
    /// Things worth telling the user: malformed files, expired tokens. Never secrets.
    pub notes: Vec<String>,
    /// Every place looked at, for the not-found message.
    pub looked_at: Vec<String>,
    /// The AI Gateway credential for each provider when a gateway key is set, also
    /// where a direct key outranks it in `credentials` (`--broker gateway` asks for it).
    pub gateway: Vec<Credential>,
}

impl Discovery {
    /// The highest-precedence credential for `provider`, passing over OAuth tokens when `no_oauth`.
    pub fn best(&self, provider: Provider, no_oauth: bool) -> Option<&Credential> {
        self.credentials
            .iter()
            .find(|c| c.provider == provider && !(no_oauth && c.kind == Kind::OAuth))
    }

    /// [`Discovery::best`], or [`CredsError::NotFound`] for `provider` with every note.
    pub fn require_best(
        &self,
        provider: Provider,
        no_oauth: bool,
    ) -> Result<&Credential, CredsError> {
        self.best(provider, no_oauth)
            .ok_or_else(|| self.not_found(Some(provider)))
    }

    /// `self` if anything was found, else [`CredsError::NotFound`] with every note.
    pub fn require(self) -> Result<Self, CredsError> {
        if self.credentials.is_empty() {
            Err(self.not_found(None))
        } else {
            Ok(self)
        }
    }

    /// The error saying nothing usable was found for `provider` (any, when `None`):
    /// where it looked, and why each thing it found was passed over.
    pub fn not_found(&self, provider: Option<Provider>) -> CredsError {
        CredsError::NotFound {
            provider,
            looked_at: self.looked_at.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// Errors.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    /// No usable credential anywhere.
    #[error("{}", not_found_message(*.provider, .looked_at, .notes))]
    NotFound {
        /// The provider asked for; `None`: any.
        provider: Option<Provider>,
        /// Every place looked at.
        looked_at: Vec<String>,
        /// Why each file or value found was passed over (expired, malformed, not a
        /// regular file, …). Never secrets.
        notes: Vec<String>,
    },
    /// Credentials were found, but none this agent can use (see [`agents`]).
    #[error("the {agent} agent: {why}")]
    Unusable {
        /// The agent's name.
        agent: &'static str,
        /// What was found, why it does not serve, and what would. Never secrets.
        why: String,
    },
}

fn not_found_message(provider: Option<Provider>, looked_at: &[String], notes: &[String]) -> String {
    // One line: a CLI prints errors as a single line. The notes come first: when there
    // are any, they are the reason, and the list of places is only background.
    let what = provider.map_or_else(|| "Anthropic or OpenAI".to_string(), |p| p.to_string());
    let mut out = format!("no usable {what} credentials found");
    if !notes.is_empty() {
        out.push_str(&format!(" ({})", notes.join("; ")));
    }
    out.push_str(&format!(
        "; looked at: {}; fastest fixes: \
         (1) put AI_GATEWAY_API_KEY=<your key> in .env.local (one key covers both providers), \
         (2) run `claude login` or `codex login`",
        looked_at.join(", ")
    ));
    out.replace('\n', " ")
}

/// A credential value as it will be used: surrounding whitespace (a stray newline
/// from a copy and paste) trimmed. `Ok(None)` when nothing is left; an error, naming
/// the problem and never the value, when it cannot be a key (HTTP headers carry keys,
/// and control characters cannot go there).
pub fn usable_value(value: &str) -> Result<Option<String>, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        Ok(None)
    } else if value.chars().any(char::is_control) {
        Err("the value contains control characters")
    } else {
        Ok(Some(value.to_string()))
    }
}

/// Looks everywhere, in precedence order. Never fails; see [`Discovery::require`].
pub fn discover(env: &dyn Env, places: &Places, now: OffsetDateTime) -> Discovery {
    let mut looked_at = Vec::new();
    let mut notes = Vec::new();
    let layered =
        gateway::Layered::load(env, places.work_dir.as_deref(), &mut looked_at, &mut notes);
    let (mut credentials, gateway) = gateway::from_env(&layered, &mut notes);
    match places.home.as_deref() {
        // A relative (or empty) HOME would read agents' files from the current
        // directory, which may be the very repository being scanned.
        Some(home) if home.is_absolute() => {
            credentials.extend(sources::read_agent_files(
                sources::AGENT_FILES,
                home,
                now,
                &mut looked_at,
                &mut notes,
            ));
        }
        Some(home) => notes.push(format!(
            "the home directory {:?} is not an absolute path: agents' credential files were not read",
            home
        )),
        None => notes.push(
            "no home directory (HOME is not set): agents' credential files were not read"
                .to_string(),
        ),
    }
    // A base URL the user set applies to every credential of its provider that has
    // none: the user chose where that provider's traffic goes (a local model server,
    // their own gateway), whichever login or key pays for it.
    for c in credentials.iter_mut().filter(|c| c.base_url.is_none()) {
        c.base_url = layered
            .get(gateway::base_url_var(c.provider))
            .map(|(url, _)| url);
    }
    // The same value found twice (say ANTHROPIC_API_KEY and CLAUDE_API_KEY) is kept once.
    let mut seen = Vec::new();
    credentials.retain(|c| {
        let key = (c.provider, c.value.expose().to_string());
        let fresh = !seen.contains(&key);
        if fresh {
            seen.push(key);
        }
        fresh
    });
    Discovery {
        credentials,
        notes,
        looked_at,
        gateway,
    }
}

/// [`discover`] against the real environment, `$HOME` and the current directory.
pub fn discover_from_process() -> Discovery {
    discover(
        &ProcessEnv,
        &Places::from_process(),
        OffsetDateTime::now_utc(),
    )
}
