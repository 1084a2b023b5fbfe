//! Keys from the environment: the process environment first, then `.env.local`, then
//! `.env`; direct provider keys, and expansion of one AI Gateway key into both providers.

use std::path::{Path, PathBuf};

use crate::{dotenv, file, Credential, Env, Kind, Provider, Secret, Source};

/// Anthropic base URL when going through the Vercel AI Gateway.
pub const GATEWAY_ANTHROPIC_BASE_URL: &str = "https://ai-gateway.vercel.sh";
/// OpenAI base URL when going through the Vercel AI Gateway.
pub const GATEWAY_OPENAI_BASE_URL: &str = "https://ai-gateway.vercel.sh/v1";

/// Gateway keys, most preferred first.
pub const GATEWAY_VARS: &[&str] = &["AI_GATEWAY_API_KEY", "VERCEL_OIDC_TOKEN"];

/// The variable naming a provider's base URL.
pub fn base_url_var(provider: Provider) -> &'static str {
    match provider {
        Provider::Anthropic => "ANTHROPIC_BASE_URL",
        Provider::OpenAi => "OPENAI_BASE_URL",
    }
}

/// The bearer token of the explicit pair (`ANTHROPIC_AUTH_TOKEN` + `ANTHROPIC_BASE_URL`).
pub const AUTH_TOKEN_VAR: &str = "ANTHROPIC_AUTH_TOKEN";

/// Direct key variables per provider, most preferred first, and each provider's base-URL variable.
const DIRECT: &[(Provider, &[&str], &str)] = &[
    (
        Provider::Anthropic,
        &["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"],
        "ANTHROPIC_BASE_URL",
    ),
    (
        Provider::OpenAi,
        &["OPENAI_API_KEY", "CODEX_API_KEY"],
        "OPENAI_BASE_URL",
    ),
];

/// The process environment layered over `.env.local` and `.env`: a variable set in
/// an earlier layer is never overridden by a later one.
pub struct Layered<'a> {
    env: &'a dyn Env,
    files: Vec<(PathBuf, dotenv::DotEnv)>,
}

impl<'a> Layered<'a> {
    /// Loads `.env.local` and `.env` from `work_dir` (when given). Missing files are
    /// silent; files that cannot be used (not regular, too large, unreadable) and values
    /// that cannot be a key become notes.
    pub fn load(
        env: &'a dyn Env,
        work_dir: Option<&Path>,
        looked_at: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) -> Self {
        looked_at.push("the process environment (ANTHROPIC_API_KEY, CLAUDE_API_KEY, ANTHROPIC_AUTH_TOKEN with ANTHROPIC_BASE_URL, OPENAI_API_KEY, CODEX_API_KEY, AI_GATEWAY_API_KEY, VERCEL_OIDC_TOKEN)".to_string());
        let mut files = Vec::new();
        for name in [".env.local", ".env"] {
            let Some(dir) = work_dir else { break };
            let path = dir.join(name);
            looked_at.push(path.display().to_string());
            match file::read_regular_file(&path, file::MAX_CONFIG_FILE_BYTES) {
                Ok(Some(bytes)) => {
                    let parsed = dotenv::parse_bytes(&bytes);
                    if !parsed.bad_lines.is_empty() {
                        notes.push(format!(
                            "ignored unparsable line(s) {} in {}",
                            line_list(&parsed.bad_lines),
                            path.display()
                        ));
                    }
                    files.push((path, parsed));
                }
                Ok(None) => {}
                Err(e) => notes.push(format!("{e}: skipped")),
            }
        }
        let layered = Self { env, files };
        layered.note_unusable_keys(notes);
        layered
    }

    /// Notes every key variable whose value cannot be a key, in each layer that sets it.
    fn note_unusable_keys(&self, notes: &mut Vec<String>) {
        let names = DIRECT
            .iter()
            .flat_map(|(_, vars, _)| vars.iter())
            .chain(GATEWAY_VARS)
            .chain([&AUTH_TOKEN_VAR]);
        for name in names {
            if self.env.is_not_unicode(name) {
                notes.push(format!(
                    "ignored environment variable {name}: not valid UTF-8"
                ));
            }
            let set = self
                .env
                .get(name)
                .map(|v| (v, Source::Env(name.to_string())));
            let in_files = self.files.iter().filter_map(|(path, file)| {
                file.get(name)
                    .map(|v| (v.to_string(), Source::DotEnv(path.clone())))
            });
            for (value, source) in set.into_iter().chain(in_files) {
                if let Err(why) = crate::usable_value(&value) {
                    notes.push(match source {
                        Source::Env(_) => format!("ignored environment variable {name}: {why}"),
                        other => format!("ignored {name} in {other}: {why}"),
                    });
                }
            }
        }
    }

    /// A non-empty value for `name` and where it came from.
    pub fn get(&self, name: &str) -> Option<(String, Source)> {
        if let Some(value) = self.env.get(name).filter(|v| !v.is_empty()) {
            return Some((value, Source::Env(name.to_string())));
        }
        self.files.iter().find_map(|(path, file)| {
            file.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| (v.to_string(), Source::DotEnv(path.clone())))
        })
    }

    /// A value for the key variable `name` that can be a key (see [`crate::usable_value`]),
    /// from the first layer that has one, and where it came from.
    pub fn get_key(&self, name: &str) -> Option<(String, Source)> {
        if let Some(value) = self
            .env
            .get(name)
            .and_then(|v| crate::usable_value(&v).ok().flatten())
        {
            return Some((value, Source::Env(name.to_string())));
        }
        self.files.iter().find_map(|(path, file)| {
            file.get(name)
                .and_then(|v| crate::usable_value(v).ok().flatten())
                .map(|v| (v, Source::DotEnv(path.clone())))
        })
    }

    fn rank(&self, source: &Source) -> usize {
        match source {
            Source::Env(_) => 0,
            Source::DotEnv(path) => 1 + self.files.iter().position(|(p, _)| p == path).unwrap_or(0),
            Source::ConfigFile(_) => usize::MAX,
        }
    }
}

/// Line numbers for a note: the first few, then how many more (a file of garbage
/// must not make a note, or the error carrying it, megabytes long).
fn line_list(lines: &[usize]) -> String {
    const SHOWN: usize = 10;
    let mut out: Vec<String> = lines.iter().take(SHOWN).map(ToString::to_string).collect();
    if lines.len() > SHOWN {
        out.push(format!("and {} more", lines.len() - SHOWN));
    }
    out.join(", ")
}

/// The explicit pair `ANTHROPIC_AUTH_TOKEN` + `ANTHROPIC_BASE_URL`: a bearer token for
/// that base URL. A token without the URL is not used (the pair is read together), and
/// says so in a note.
fn auth_token(layered: &Layered<'_>, notes: &mut Vec<String>) -> Option<Credential> {
    let (token, source) = layered.get_key(AUTH_TOKEN_VAR)?;
    let Some((base_url, _)) = layered.get(base_url_var(Provider::Anthropic)) else {
        notes.push(format!(
            "ignored {AUTH_TOKEN_VAR} ({source}): it is read together with ANTHROPIC_BASE_URL, which is not set"
        ));
        return None;
    };
    Some(Credential {
        provider: Provider::Anthropic,
        kind: Kind::AuthToken,
        source,
        value: Secret::new(token),
        expires_at: None,
        base_url: Some(base_url),
        account_id: None,
    })
}

/// Credentials from the layered environment: the explicit auth-token pair and direct
/// keys, then gateway expansion for each provider with neither. Explicit base URLs
/// always win over the gateway's.
///
/// The second list holds the gateway credential for each provider whether or not a
/// direct one outranks it (for `sandbox create --broker gateway`, which asks for it).
pub fn from_env(
    layered: &Layered<'_>,
    notes: &mut Vec<String>,
) -> (Vec<Credential>, Vec<Credential>) {
    let mut out = Vec::new();
    let mut gateways = Vec::new();
    let gateway = GATEWAY_VARS.iter().find_map(|var| layered.get_key(var));
    let token = auth_token(layered, notes);
    for (provider, vars, base_var) in DIRECT {
        let base_url = layered.get(base_var).map(|(url, _)| url);
        // The pair comes first: both of its variables were set for it, as Claude Code
        // itself prefers ANTHROPIC_AUTH_TOKEN over ANTHROPIC_API_KEY.
        let pair = token.iter().filter(|t| t.provider == *provider).cloned();
        let direct: Vec<Credential> =
            pair.chain(vars.iter().filter_map(|var| layered.get_key(var)).map(
                |(value, source)| Credential {
                    provider: *provider,
                    kind: Kind::ApiKey,
                    source,
                    value: Secret::new(value),
                    expires_at: None,
                    base_url: base_url.clone(),
                    account_id: None,
                },
            ))
            .collect();
        if let Some((token, source)) = &gateway {
            let default = match provider {
                Provider::Anthropic => GATEWAY_ANTHROPIC_BASE_URL,
                Provider::OpenAi => GATEWAY_OPENAI_BASE_URL,
            };
            gateways.push(Credential {
                provider: *provider,
                kind: Kind::Gateway,
                source: source.clone(),
                value: Secret::new(token.clone()),
                expires_at: None,
                base_url: Some(base_url.unwrap_or_else(|| default.to_string())),
                account_id: None,
            });
            if direct.is_empty() {
                out.extend(gateways.last().cloned());
            }
        }
        out.extend(direct);
    }
    // Process environment before .env.local before .env; stable within a layer.
    out.sort_by_key(|c| layered.rank(&c.source));
    (out, gateways)
}
