//! The table of agents' own credential files. Adding an agent is adding a row to
//! [`AGENT_FILES`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;

use crate::{Credential, Kind, Provider, Secret, Source};

/// What a row's extractor found in its file.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// API key or OAuth access token.
    pub kind: Kind,
    /// The value itself.
    pub value: String,
    /// Expiry in milliseconds since the Unix epoch, when the file gives one.
    pub expires_at_ms: Option<i64>,
}

/// Reads one credential out of a parsed file. `Ok(None)`: the file holds nothing for
/// this row. `Err`: the file has an unexpected shape (the message must name fields,
/// never values).
pub type Extract = fn(&Value) -> Result<Option<Found>, String>;

/// One agent's credential file, for one provider.
pub struct AgentFile {
    /// Agent name, for notes.
    pub agent: &'static str,
    /// Provider the credential is for.
    pub provider: Provider,
    /// Path relative to the home directory.
    pub path: &'static str,
    /// How to read the credential out of the file.
    pub extract: Extract,
}

/// Every agent's credential files, in precedence order.
pub const AGENT_FILES: &[AgentFile] = &[
    AgentFile {
        agent: "claude",
        provider: Provider::Anthropic,
        path: ".claude/.credentials.json",
        extract: claude_oauth,
    },
    AgentFile {
        agent: "claude",
        provider: Provider::Anthropic,
        path: ".claude.json",
        extract: claude_api_key,
    },
    AgentFile {
        agent: "codex",
        provider: Provider::OpenAi,
        path: ".codex/auth.json",
        extract: codex,
    },
    AgentFile {
        agent: "opencode",
        provider: Provider::Anthropic,
        path: ".local/share/opencode/auth.json",
        extract: opencode_anthropic,
    },
    AgentFile {
        agent: "opencode",
        provider: Provider::OpenAi,
        path: ".local/share/opencode/auth.json",
        extract: opencode_openai,
    },
    AgentFile {
        agent: "amp",
        provider: Provider::Anthropic,
        path: ".amp/config.json",
        extract: amp,
    },
];

fn non_empty_str(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

fn api_key(value: String) -> Option<Found> {
    Some(Found {
        kind: Kind::ApiKey,
        value,
        expires_at_ms: None,
    })
}

fn claude_oauth(file: &Value) -> Result<Option<Found>, String> {
    let Some(oauth) = file.get("claudeAiOauth") else {
        return Ok(None);
    };
    let token =
        non_empty_str(oauth.get("accessToken")).ok_or("claudeAiOauth has no accessToken string")?;
    Ok(Some(Found {
        kind: Kind::OAuth,
        value: token,
        expires_at_ms: oauth.get("expiresAt").and_then(Value::as_i64),
    }))
}

fn claude_api_key(file: &Value) -> Result<Option<Found>, String> {
    Ok(["primaryApiKey", "apiKey", "anthropicApiKey"]
        .iter()
        .find_map(|field| non_empty_str(file.get(*field)))
        .and_then(api_key))
}

fn codex(file: &Value) -> Result<Option<Found>, String> {
    if let Some(key) = non_empty_str(file.get("OPENAI_API_KEY")) {
        return Ok(api_key(key));
    }
    Ok(
        non_empty_str(file.pointer("/tokens/access_token")).map(|token| Found {
            kind: Kind::OAuth,
            value: token,
            expires_at_ms: None,
        }),
    )
}

fn opencode(file: &Value, provider: &str) -> Result<Option<Found>, String> {
    let Some(entry) = file.get(provider) else {
        return Ok(None);
    };
    match entry.get("type").and_then(Value::as_str) {
        Some("api") => non_empty_str(entry.get("key"))
            .map(api_key)
            .ok_or_else(|| format!("{provider} entry of type api has no key string")),
        Some("oauth") => non_empty_str(entry.get("access"))
            .map(|token| {
                Some(Found {
                    kind: Kind::OAuth,
                    value: token,
                    expires_at_ms: entry.get("expires").and_then(Value::as_i64),
                })
            })
            .ok_or_else(|| format!("{provider} entry of type oauth has no access string")),
        _ => Err(format!("{provider} entry has no known type (api or oauth)")),
    }
}

fn opencode_anthropic(file: &Value) -> Result<Option<Found>, String> {
    opencode(file, "anthropic")
}

fn opencode_openai(file: &Value) -> Result<Option<Found>, String> {
    opencode(file, "openai")
}

fn amp(file: &Value) -> Result<Option<Found>, String> {
    Ok(["amp.anthropic.apiKey", "anthropicApiKey", "apiKey"]
        .iter()
        .find_map(|field| non_empty_str(file.get(*field)))
        .and_then(api_key))
}

/// Reads every row of `table` under `home`. Missing files are silent; unreadable or
/// malformed files and expired tokens become notes.
pub fn read_agent_files(
    table: &[AgentFile],
    home: &Path,
    now: OffsetDateTime,
    looked_at: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Vec<Credential> {
    let mut parsed: HashMap<PathBuf, Option<Value>> = HashMap::new();
    let mut out = Vec::new();
    for row in table {
        let path = home.join(row.path);
        let place = format!(
            "{} ({} credentials for {})",
            path.display(),
            row.agent,
            row.provider
        );
        if !looked_at.contains(&place) {
            looked_at.push(place);
        }
        let file = parsed
            .entry(path.clone())
            .or_insert_with(|| load_json(&path, notes));
        let Some(file) = file.as_ref() else {
            continue;
        };
        let found = match (row.extract)(file) {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(shape) => {
                notes.push(format!("ignored {}: {shape}", path.display()));
                continue;
            }
        };
        let expires_at = found.expires_at_ms.and_then(|ms| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        });
        if let Some(when) = expires_at {
            if when <= now {
                notes.push(format!(
                    "skipped expired {} OAuth token in {} (expired {when}); run `{} login` to refresh it",
                    row.agent,
                    path.display(),
                    row.agent
                ));
                continue;
            }
        }
        out.push(Credential {
            provider: row.provider,
            kind: found.kind,
            source: Source::ConfigFile(path),
            value: Secret::new(found.value),
            expires_at,
            base_url: None,
        });
    }
    out
}

fn load_json(path: &Path, notes: &mut Vec<String>) -> Option<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(format!("could not read {}: {}", path.display(), e.kind()));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            // Position only: serde_json messages can quote file content.
            notes.push(format!(
                "ignored {}: not valid JSON (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ));
            None
        }
    }
}
