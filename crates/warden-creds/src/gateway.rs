//! Keys from the environment: the process environment first, then `.env.local`, then
//! `.env`; direct provider keys, and expansion of one AI Gateway key into both providers.

use std::path::{Path, PathBuf};

use crate::{dotenv, Credential, Env, Kind, Provider, Secret, Source};

/// Anthropic base URL when going through the Vercel AI Gateway.
pub const GATEWAY_ANTHROPIC_BASE_URL: &str = "https://ai-gateway.vercel.sh";
/// OpenAI base URL when going through the Vercel AI Gateway.
pub const GATEWAY_OPENAI_BASE_URL: &str = "https://ai-gateway.vercel.sh/v1";

/// Gateway keys, most preferred first.
pub const GATEWAY_VARS: &[&str] = &["AI_GATEWAY_API_KEY", "VERCEL_OIDC_TOKEN"];

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
    /// Loads `.env.local` and `.env` from `work_dir` (when given). Missing files are silent.
    pub fn load(
        env: &'a dyn Env,
        work_dir: Option<&Path>,
        looked_at: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) -> Self {
        looked_at.push("the process environment (ANTHROPIC_API_KEY, CLAUDE_API_KEY, OPENAI_API_KEY, CODEX_API_KEY, AI_GATEWAY_API_KEY, VERCEL_OIDC_TOKEN)".to_string());
        let mut files = Vec::new();
        for name in [".env.local", ".env"] {
            let Some(dir) = work_dir else { break };
            let path = dir.join(name);
            looked_at.push(path.display().to_string());
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let parsed = dotenv::parse(&text);
                    if !parsed.bad_lines.is_empty() {
                        let lines: Vec<String> =
                            parsed.bad_lines.iter().map(ToString::to_string).collect();
                        notes.push(format!(
                            "ignored unparsable line(s) {} in {}",
                            lines.join(", "),
                            path.display()
                        ));
                    }
                    files.push((path, parsed));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => notes.push(format!("could not read {}: {}", path.display(), e.kind())),
            }
        }
        Self { env, files }
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

    fn rank(&self, source: &Source) -> usize {
        match source {
            Source::Env(_) => 0,
            Source::DotEnv(path) => 1 + self.files.iter().position(|(p, _)| p == path).unwrap_or(0),
            Source::ConfigFile(_) => usize::MAX,
        }
    }
}

/// Credentials from the layered environment: direct keys, then gateway expansion for
/// each provider with no direct key. Explicit base URLs always win over the gateway's.
pub fn from_env(layered: &Layered<'_>) -> Vec<Credential> {
    let mut out = Vec::new();
    let gateway = GATEWAY_VARS.iter().find_map(|var| layered.get(var));
    for (provider, vars, base_var) in DIRECT {
        let base_url = layered.get(base_var).map(|(url, _)| url);
        let direct: Vec<Credential> = vars
            .iter()
            .filter_map(|var| layered.get(var))
            .map(|(value, source)| Credential {
                provider: *provider,
                kind: Kind::ApiKey,
                source,
                value: Secret::new(value),
                expires_at: None,
                base_url: base_url.clone(),
            })
            .collect();
        if direct.is_empty() {
            if let Some((token, source)) = &gateway {
                let default = match provider {
                    Provider::Anthropic => GATEWAY_ANTHROPIC_BASE_URL,
                    Provider::OpenAi => GATEWAY_OPENAI_BASE_URL,
                };
                out.push(Credential {
                    provider: *provider,
                    kind: Kind::Gateway,
                    source: source.clone(),
                    value: Secret::new(token.clone()),
                    expires_at: None,
                    base_url: Some(base_url.unwrap_or_else(|| default.to_string())),
                });
            }
        }
        out.extend(direct);
    }
    // Process environment before .env.local before .env; stable within a layer.
    out.sort_by_key(|c| layered.rank(&c.source));
    out
}
