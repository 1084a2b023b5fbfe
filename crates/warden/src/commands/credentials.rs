//! `warden credentials`: what credentials this machine has, and as env lines.

use crate::cli::{CredentialsArgs, CredentialsCommand};
use std::fmt::Write as _;
use std::path::Path;
use warden_creds::{Agent, Discovery, Kind, Places, Use};

pub fn run(args: &CredentialsArgs) -> anyhow::Result<u8> {
    match &args.command {
        CredentialsCommand::Status { home, json } => {
            let found = discover(home.as_deref())?.require()?;
            let text = if *json {
                status_json(&found)?
            } else {
                status_table(&found)
            };
            super::emit(None, &text)?;
        }
        CredentialsCommand::ExtractEnv {
            export,
            home,
            no_oauth,
        } => {
            let found = discover(home.as_deref())?.require()?;
            for note in &found.notes {
                eprintln!("warden: note: {note}");
            }
            let lines = warden_creds::extract_env(&found, *export, *no_oauth);
            if lines.trim().is_empty() {
                return Err(crate::exit::UsageError(
                    "only OAuth logins were found and --no-oauth excludes them".into(),
                )
                .into());
            }
            super::emit(None, &lines)?;
        }
    }
    Ok(0)
}

/// Discovery with `--home` in place of `$HOME`. A typed `--home` that is not a
/// directory is a usage error (a typo would otherwise read as "nothing found"); a
/// relative one means relative to the current directory, as any path argument does.
fn discover(home: Option<&Path>) -> anyhow::Result<Discovery> {
    let mut places = Places::from_process();
    if let Some(home) = home {
        if !home.is_dir() {
            return Err(crate::exit::UsageError(format!(
                "--home {}: not a directory",
                home.display()
            ))
            .into());
        }
        let home = std::path::absolute(home)
            .map_err(|e| crate::exit::UsageError(format!("--home {}: {e}", home.display())))?;
        places.home = Some(home);
    }
    Ok(warden_creds::discover(
        &warden_creds::ProcessEnv,
        &places,
        time::OffsetDateTime::now_utc(),
    ))
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::ApiKey => "api key",
        Kind::OAuth => "oauth",
        Kind::Gateway => "gateway",
        Kind::AuthToken => "token",
    }
}

fn expiry(c: &warden_creds::Credential) -> String {
    c.expires_at
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".to_string())
}

/// One row per credential; values are redacted by `Secret`'s `Display`.
fn status_table(found: &Discovery) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<8} {:<28} {:<25} source",
        "provider", "kind", "value", "expires"
    );
    for c in &found.credentials {
        let _ = writeln!(
            out,
            "{:<10} {:<8} {:<28} {:<25} {}",
            c.provider.to_string(),
            kind_name(c.kind),
            c.value.to_string(),
            expiry(c),
            c.source
        );
    }
    for note in &found.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out, "\nwhich credential each agent uses:");
    for agent in Agent::ALL {
        let line = match found.for_agent(agent, None) {
            Ok(choice) => choice.to_string(),
            Err(e) => format!("{agent}: none: {e}"),
        };
        let _ = writeln!(out, "  {line}");
    }
    out
}

fn use_name(how: Use) -> &'static str {
    match how {
        Use::ApiKey => "api-key",
        Use::AuthToken => "auth-token",
        Use::Gateway => "gateway",
        Use::ClaudeSubscription => "claude-subscription",
        Use::ChatGptLogin => "chatgpt-login",
    }
}

/// Each agent's choice as JSON: what it uses and why, or why it has none.
fn agents_json(found: &Discovery) -> Vec<serde_json::Value> {
    Agent::ALL
        .iter()
        .map(|agent| match found.for_agent(*agent, None) {
            Ok(choice) => serde_json::json!({
                "agent": agent.name(),
                "provider": choice.credential.provider.to_string(),
                "use": use_name(choice.how),
                "why": choice.why,
            }),
            Err(e) => serde_json::json!({ "agent": agent.name(), "error": e.to_string() }),
        })
        .collect()
}

fn status_json(found: &Discovery) -> anyhow::Result<String> {
    let rows: Vec<serde_json::Value> = found
        .credentials
        .iter()
        .map(|c| {
            serde_json::json!({
                "provider": c.provider.to_string(),
                "kind": kind_name(c.kind),
                "value": c.value.to_string(),
                "expires_at": c.expires_at.map(|_| expiry(c)),
                "source": c.source.to_string(),
                "base_url": c.base_url,
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "credentials": rows,
        "notes": found.notes,
        "agents": agents_json(found),
    }))?)
}
