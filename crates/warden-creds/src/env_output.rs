//! Prints discovered credentials as POSIX shell assignments.

use crate::{Credential, Discovery, Kind, Provider};

/// Quotes `value` for a POSIX shell: single quotes, with `'\''` for embedded quotes.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The variables to set for one credential, as `(name, value)`.
fn assignments(cred: &Credential) -> Vec<(&'static str, String)> {
    let value = cred.value.expose().to_string();
    let mut out = match (cred.provider, cred.kind) {
        (Provider::Anthropic, Kind::ApiKey) => vec![
            ("ANTHROPIC_API_KEY", value.clone()),
            ("CLAUDE_API_KEY", value),
        ],
        // Claude Code reads a subscription OAuth token from this variable.
        (Provider::Anthropic, Kind::OAuth) => vec![("CLAUDE_CODE_OAUTH_TOKEN", value)],
        (Provider::Anthropic, Kind::Gateway | Kind::AuthToken) => {
            vec![("ANTHROPIC_AUTH_TOKEN", value)]
        }
        (Provider::OpenAi, _) => vec![("OPENAI_API_KEY", value.clone()), ("CODEX_API_KEY", value)],
    };
    if let Some(url) = &cred.base_url {
        let name = match cred.provider {
            Provider::Anthropic => "ANTHROPIC_BASE_URL",
            Provider::OpenAi => "OPENAI_BASE_URL",
        };
        out.push((name, url.clone()));
    }
    out
}

/// Shell lines setting each provider's best credential, e.g.
/// `export ANTHROPIC_API_KEY='sk-…'`. With `no_oauth`, OAuth tokens are passed over.
/// The output holds secrets: write it only where the user asked for it.
pub fn extract_env(discovery: &Discovery, export: bool, no_oauth: bool) -> String {
    let prefix = if export { "export " } else { "" };
    let mut out = String::new();
    for provider in [Provider::Anthropic, Provider::OpenAi] {
        if let Some(cred) = discovery.best(provider, no_oauth) {
            for (name, value) in assignments(cred) {
                out.push_str(&format!("{prefix}{name}={}\n", shell_quote(&value)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_single_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$x y"), "'$x y'");
    }
}
