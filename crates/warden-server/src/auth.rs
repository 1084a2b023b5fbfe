//! Bearer tokens and the tenants they belong to.
//!
//! Tokens come from one of three places ([`TokenSource`]): a JSON file
//! (`{"tokens": [{"tenant": "acme", "token": "…"}]}`, not readable by group or others),
//! `WARDEN_SERVER_TOKEN` (tenant `default`), or a random token the server makes and keeps
//! in `<sandbox-dir>/server/token` (mode 0600). A request's token is compared with every
//! known token in constant time. Token values never reach a log, an error or `Debug`.

use crate::problem::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;
/// The tenant of `WARDEN_SERVER_TOKEN` and of a generated token.
pub const DEFAULT_TENANT: &str = "default";
/// The label that holds a sandbox's (and snapshot's) tenant.
pub const TENANT_LABEL: &str = "tenant";

/// Where the tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// `--tokens FILE`.
    File(PathBuf),
    /// `WARDEN_SERVER_TOKEN`: one token for tenant `default`.
    Single(String),
    /// Neither: a random token for tenant `default`, kept in `<sandbox-dir>/server/token`.
    Generate,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::File(path) => f.debug_tuple("File").field(path).finish(),
            TokenSource::Single(_) => f.write_str("Single(<redacted>)"),
            TokenSource::Generate => f.write_str("Generate"),
        }
    }
}

/// Why the tokens could not be loaded. No variant carries a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("--tokens {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("WARDEN_SERVER_TOKEN: {0}")]
    Env(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A tenant, as its token proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
}

struct Entry {
    tenant: Arc<Tenant>,
    token: Vec<u8>,
}

/// Every token the server accepts.
pub struct Tenants {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .entries
            .iter()
            .map(|e| e.tenant.name.as_str())
            .collect();
        f.debug_struct("Tenants").field("tenants", &names).finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    tenant: String,
    token: String,
}

/// What loading made: the tenants, and the file a generated token was written to.
#[derive(Debug)]
pub struct Loaded {
    pub tenants: Tenants,
    pub generated: Option<PathBuf>,
}

impl Tenants {
    /// Loads the tokens; `sandbox_dir` is where a generated token is kept.
    pub fn load(source: &TokenSource, sandbox_dir: &Path) -> Result<Loaded, TokenError> {
        match source {
            TokenSource::File(path) => Ok(Loaded {
                tenants: Tenants::from_file(path)?,
                generated: None,
            }),
            TokenSource::Single(token) => {
                if token.trim().len() < MIN_TOKEN_LEN {
                    return Err(TokenError::Env(format!(
                        "a token is at least {MIN_TOKEN_LEN} characters"
                    )));
                }
                Ok(Loaded {
                    tenants: Tenants::single(DEFAULT_TENANT, token.trim()),
                    generated: None,
                })
            }
            TokenSource::Generate => {
                let path = sandbox_dir.join("server").join("token");
                let token = generated_token(&path)?;
                Ok(Loaded {
                    tenants: Tenants::single(DEFAULT_TENANT, &token),
                    generated: Some(path),
                })
            }
        }
    }

    fn single(tenant: &str, token: &str) -> Tenants {
        Tenants {
            entries: vec![Entry {
                tenant: Arc::new(Tenant {
                    name: tenant.to_string(),
                }),
                token: token.as_bytes().to_vec(),
            }],
        }
    }

    fn from_file(path: &Path) -> Result<Tenants, TokenError> {
        let bad = |message: String| TokenError::File {
            path: path.to_path_buf(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad(format!(
                "readable by others (mode {:o}): chmod 600 it",
                meta.permissions().mode() & 0o777
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        // Only where it failed: serde's message may quote a value, and values are tokens.
        let file: TokensFile = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "expected {{\"tokens\": [{{\"tenant\": NAME, \"token\": TOKEN}}]}} \
                 (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if file.tokens.is_empty() {
            return Err(bad(
                "no tokens: the server would refuse every request".into()
            ));
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (i, entry) in file.tokens.into_iter().enumerate() {
            if !valid_tenant(&entry.tenant) {
                return Err(bad(format!(
                    "tokens[{i}].tenant {:?}: use 1-64 letters, digits, '-', '_' or '.'",
                    entry.tenant
                )));
            }
            if entry.token.len() < MIN_TOKEN_LEN || entry.token.trim() != entry.token {
                return Err(bad(format!(
                    "tokens[{i}].token: at least {MIN_TOKEN_LEN} characters, no surrounding spaces"
                )));
            }
            if entries.iter().any(|e| e.token == entry.token.as_bytes()) {
                return Err(bad(format!("tokens[{i}].token: given twice")));
            }
            let tenant = entries
                .iter()
                .find(|e| e.tenant.name == entry.tenant)
                .map(|e| e.tenant.clone())
                .unwrap_or_else(|| Arc::new(Tenant { name: entry.tenant }));
            entries.push(Entry {
                tenant,
                token: entry.token.into_bytes(),
            });
        }
        Ok(Tenants { entries })
    }

    /// The tenant whose token this is. Every token is compared, in constant time each.
    pub fn authenticate(&self, token: &[u8]) -> Option<Arc<Tenant>> {
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.token.as_slice().ct_eq(token)) {
                found = Some(entry.tenant.clone());
            }
        }
        found
    }

    /// The tenants' names, for the start-up log.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.iter().map(|e| e.tenant.name.clone()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

fn valid_tenant(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The token in `path` when a valid one is there (a restarted server keeps its token),
/// else a new random one written there with mode 0600.
fn generated_token(path: &Path) -> Result<String, TokenError> {
    let io = |source| TokenError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let private = meta.is_file() && meta.permissions().mode() & 0o077 == 0;
        if private {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let token = text.trim();
            if token.len() >= MIN_TOKEN_LEN {
                return Ok(token.to_string());
            }
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    let token = random_hex(32).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    std::io::Write::write_all(&mut file, format!("{token}\n").as_bytes()).map_err(io)?;
    Ok(token)
}

/// `n` random bytes from the kernel, as hex.
pub fn random_hex(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: the pointer and length describe the unfilled part of `bytes`.
        let got = unsafe { libc::getrandom(bytes[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if got < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        filled += got as usize;
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Middleware for `/v1`: the bearer token's tenant goes into the request, or 401.
pub async fn require_token(
    State(tenants): State<Arc<Tenants>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()));
    match token.and_then(|t| tenants.authenticate(t)) {
        Some(tenant) => {
            req.extensions_mut().insert(tenant);
            next.run(req).await
        }
        None => ApiError::Unauthorized.into_response(),
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme in any case).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// The authenticated tenant of a `/v1` request (put there by [`require_token`]).
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Tenant>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Arc<Tenant>>()
            .cloned()
            .map(Caller)
            .ok_or(ApiError::Unauthorized)
    }
}

impl Caller {
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether a record's labels say it is this caller's.
    pub fn owns(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        labels.get(TENANT_LABEL).map(String::as_str) == Some(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("tokens.json");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_tokens_file_maps_each_token_to_its_tenant() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(
            tmp.path(),
            r#"{"tokens": [{"tenant": "acme", "token": "acme-token-0123456789"},
                           {"tenant": "beta", "token": "beta-token-0123456789"}]}"#,
            0o600,
        );
        let loaded = Tenants::load(&TokenSource::File(path), tmp.path()).unwrap();
        let t = loaded.tenants;
        assert_eq!(
            t.authenticate(b"acme-token-0123456789").unwrap().name,
            "acme"
        );
        assert_eq!(
            t.authenticate(b"beta-token-0123456789").unwrap().name,
            "beta"
        );
        assert!(t.authenticate(b"beta-token-012345678").is_none());
        assert!(t.authenticate(b"").is_none());
    }

    #[test]
    fn bad_tokens_files_are_refused_without_showing_a_token() {
        let tmp = tempfile::tempdir().unwrap();
        let good = r#"{"tokens": [{"tenant": "acme", "token": "secret-value-0123456789"}]}"#;
        let cases = [
            (good, 0o644, "chmod 600"),
            (
                r#"{"tokens": [{"tenant": "acme", "token": "short"}]}"#,
                0o600,
                "at least 16",
            ),
            (r#"{"tokens": []}"#, 0o600, "no tokens"),
            (
                r#"{"tokens": [{"tenant": "a b", "token": "secret-value-0123456789"}]}"#,
                0o600,
                "tenant",
            ),
            (
                r#"{"tokens": [{"tenant": "a", "token": "secret-value-0123456789"},
                               {"tenant": "b", "token": "secret-value-0123456789"}]}"#,
                0o600,
                "given twice",
            ),
            (
                r#"{"tokens": "secret-value-0123456789"}"#,
                0o600,
                "expected",
            ),
        ];
        for (text, mode, expect) in cases {
            let path = write(tmp.path(), text, mode);
            let err = Tenants::load(&TokenSource::File(path), tmp.path())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{text}: {err}");
            assert!(!err.contains("secret-value"), "{err}");
        }
    }

    #[test]
    fn a_generated_token_is_private_and_kept_across_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Tenants::load(&TokenSource::Generate, tmp.path()).unwrap();
        let path = first.generated.clone().unwrap();
        assert_eq!(path, tmp.path().join("server/token"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let token = std::fs::read_to_string(&path).unwrap();
        assert!(token.trim().len() >= 32);
        let again = Tenants::load(&TokenSource::Generate, tmp.path()).unwrap();
        assert_eq!(
            again
                .tenants
                .authenticate(token.trim().as_bytes())
                .unwrap()
                .name,
            DEFAULT_TENANT
        );
        assert!(!format!("{:?}", again.tenants).contains(token.trim()));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
    }

    #[test]
    fn a_short_environment_token_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Tenants::load(&TokenSource::Single("short".into()), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("at least"));
        assert_eq!(
            format!("{:?}", TokenSource::Single("x".repeat(20))),
            "Single(<redacted>)"
        );
    }
}
