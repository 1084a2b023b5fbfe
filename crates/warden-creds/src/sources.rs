//! The table of agents' own credential files. Adding an agent is adding a row to
//! [`AGENT_FILES`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;

use crate::{expiry, file, Credential, Kind, Provider, Secret, Source};

/// Size limit for agents' files: Claude Code keeps its history in `~/.claude.json`,
/// which users report growing past 100 MB; anything this large is not a config file.
pub const MAX_AGENT_FILE_BYTES: u64 = 256 << 20;

/// What a row's extractor found in its file.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// API key or OAuth access token.
    pub kind: Kind,
    /// The value itself.
    pub value: String,
    /// Expiry in milliseconds since the Unix epoch, when the file gives one.
    pub expires_at_ms: Option<i64>,
    /// The account a ChatGPT login belongs to, when the file gives one.
    pub account_id: Option<String>,
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
        account_id: None,
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
        expires_at_ms: expiry::field_ms(oauth.get("expiresAt"), "claudeAiOauth.expiresAt")?,
        account_id: None,
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
    let Some(token) = non_empty_str(file.pointer("/tokens/access_token")) else {
        return Ok(None);
    };
    // The ChatGPT backend wants the account with the token: Codex keeps it next to the
    // tokens, and older files only inside the id_token's claims.
    let account_id = non_empty_str(file.pointer("/tokens/account_id")).or_else(|| {
        file.pointer("/tokens/id_token")
            .and_then(Value::as_str)
            .and_then(|jwt| expiry::jwt_claim(jwt, CHATGPT_ACCOUNT_CLAIM))
    });
    Ok(Some(Found {
        kind: Kind::OAuth,
        // Codex's file gives no expiry, but its access token is a JWT that does.
        expires_at_ms: expiry::jwt_ms(&token),
        value: token,
        account_id,
    }))
}

/// Where a ChatGPT id_token carries the account id.
const CHATGPT_ACCOUNT_CLAIM: &[&str] = &["https://api.openai.com/auth", "chatgpt_account_id"];

fn opencode(file: &Value, provider: &str) -> Result<Option<Found>, String> {
    let Some(entry) = file.get(provider) else {
        return Ok(None);
    };
    match entry.get("type").and_then(Value::as_str) {
        Some("api") => non_empty_str(entry.get("key"))
            .map(api_key)
            .ok_or_else(|| format!("{provider} entry of type api has no key string")),
        Some("oauth") => {
            let token = non_empty_str(entry.get("access"))
                .ok_or_else(|| format!("{provider} entry of type oauth has no access string"))?;
            Ok(Some(Found {
                kind: Kind::OAuth,
                value: token,
                expires_at_ms: expiry::field_ms(
                    entry.get("expires"),
                    &format!("{provider}.expires"),
                )?,
                account_id: non_empty_str(entry.get("accountId")),
            }))
        }
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

/// Reads every row of `table` under `home`. Missing files are silent; unreadable,
/// special, oversized or malformed files, unusable values and expired tokens become notes.
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
        match read_row(row, file, &path, now) {
            Ok(Some(credential)) => out.push(credential),
            Ok(None) => {}
            Err(Skip::Malformed(why)) => notes.push(format!("ignored {}: {why}", path.display())),
            Err(Skip::Expired(when)) => notes.push(format!(
                "skipped {} OAuth token in {}: expired {} (run `{} login` to refresh it)",
                row.agent,
                path.display(),
                expiry::display(when),
                row.agent
            )),
        }
    }
    out
}

/// Why a row's credential is passed over.
enum Skip {
    /// The file's shape or a value is wrong: the message names fields, never values.
    Malformed(String),
    /// The token expired at this time.
    Expired(OffsetDateTime),
}

/// The credential `row` finds in `file`, read from `path`.
fn read_row(
    row: &AgentFile,
    file: &Value,
    path: &Path,
    now: OffsetDateTime,
) -> Result<Option<Credential>, Skip> {
    let Some(found) = (row.extract)(file).map_err(Skip::Malformed)? else {
        return Ok(None);
    };
    let what = match found.kind {
        Kind::OAuth => "OAuth token",
        _ => "API key",
    };
    let Some(value) = crate::usable_value(&found.value)
        .map_err(|why| Skip::Malformed(format!("its {what}: {why}")))?
    else {
        return Ok(None);
    };
    let expires_at = found
        .expires_at_ms
        .map(|ms| expiry::to_time(ms, "the token's expiry"))
        .transpose()
        .map_err(Skip::Malformed)?;
    if let Some(when) = expires_at.filter(|when| *when <= now) {
        return Err(Skip::Expired(when));
    }
    Ok(Some(Credential {
        provider: row.provider,
        kind: found.kind,
        source: Source::ConfigFile(path.to_path_buf()),
        value: Secret::new(value),
        expires_at,
        base_url: None,
        account_id: found.account_id,
    }))
}

fn load_json(path: &Path, notes: &mut Vec<String>) -> Option<Value> {
    let bytes = match file::read_regular_file(path, MAX_AGENT_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return None,
        Err(e) => {
            notes.push(format!("{e}: skipped"));
            return None;
        }
    };
    // A byte-order mark is not JSON, but some editors add one.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        notes.push(format!(
            "ignored {}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.valid_up_to()
        ));
        return None;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) if value.is_object() => Some(value),
        Ok(_) => {
            notes.push(format!("ignored {}: not a JSON object", path.display()));
            None
        }
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
