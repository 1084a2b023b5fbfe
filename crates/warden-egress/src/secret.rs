//! Secrets bound to one host and one header, and the placeholders the sandbox sees instead.

use std::fmt;
use std::path::PathBuf;

use http::{HeaderName, HeaderValue};

use crate::policy::{is_dns_name, normalise_host};

/// A credential value. `Debug` and `Display` never show it; [`Secret::expose`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value; call only where it is written to a verified upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a binding could not be built. Never contains the secret itself.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("binding {spec:?}: {why}; expected host:header=[prefix ]env:VAR or file:PATH")]
    Syntax { spec: String, why: &'static str },
    #[error("binding for {host}: environment variable {var} is not set or not UTF-8")]
    MissingEnv { host: String, var: String },
    #[error("binding for {host}: cannot read secret file {path}: {source}")]
    File {
        host: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("binding for {host}: secret file {path} is {what}, not a regular file")]
    NotRegular {
        host: String,
        path: PathBuf,
        what: &'static str,
    },
    #[error("binding for {host}: secret file {path} is larger than {MAX_SECRET_FILE} bytes")]
    FileTooLarge { host: String, path: PathBuf },
    #[error("binding for {host}: the secret is empty or contains characters not allowed in an HTTP header")]
    BadValue { host: String },
}

/// No credential is this long; a bigger file is the wrong file.
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Where a parsed binding's value came from; kept so the sandbox knows which variable to fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    Given,
}

/// A secret bound to exactly one host and one header. The proxy sets that header to
/// `prefix + secret` on requests to that host over verified TLS; the sandbox only ever
/// holds [`Binding::placeholder`].
#[derive(Clone)]
pub struct Binding {
    host: String,
    header: HeaderName,
    prefix: String,
    secret: Secret,
    source: SecretSource,
    placeholder: String,
    /// Comma-separated list headers that must hold a token with the secret (a
    /// subscription's `anthropic-beta: oauth-2025-04-20`). Not secret.
    list_tokens: Vec<(HeaderName, String)>,
    /// Headers removed when the secret is set (a placeholder the sandbox sent for
    /// another scheme, such as `x-api-key` next to a bearer token).
    removes: Vec<HeaderName>,
}

impl fmt::Debug for Binding {
    // The placeholder is redacted too: it is harmless alone, but audit logs and traces
    // must not carry it (it identifies which variable an agent leaked).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("host", &self.host)
            .field("header", &self.header)
            .field("source", &self.source)
            .field("secret", &self.secret)
            .field("placeholder", &"<redacted>")
            .field("list_tokens", &self.list_tokens)
            .field("removes", &self.removes)
            .finish()
    }
}

impl Binding {
    /// A binding for a caller that already holds the value; the header is set to the
    /// value alone (see [`Binding::with_prefix`] for `Bearer ` and the like).
    pub fn new(host: &str, header: &str, value: Secret) -> Result<Binding, BindingError> {
        Binding::build(host, header, "", value, SecretSource::Given)
    }

    /// Like [`Binding::new`] with a literal prefix before the secret, e.g. `"Bearer "`.
    pub fn with_prefix(
        host: &str,
        header: &str,
        prefix: &str,
        value: Secret,
    ) -> Result<Binding, BindingError> {
        Binding::build(host, header, prefix, value, SecretSource::Given)
    }

    /// A binding a [`crate::FrontDoor`] applies itself ([`crate::FrontDoor::with_binding`]):
    /// its host is only a label (the door's upstream decides where it goes), so it may
    /// also be a loopback address. It is never an entry of [`crate::ProxyConfig::bindings`].
    pub fn for_front_door(
        door: &crate::FrontDoor,
        header: &str,
        prefix: &str,
        value: Secret,
    ) -> Result<Binding, BindingError> {
        Binding::build_for(
            door.host(),
            header,
            prefix,
            value,
            SecretSource::Given,
            false,
        )
    }

    /// Also makes sure the comma-separated list header `header` holds `token` on every
    /// request this binding applies to (appended to what the sandbox sent, never a
    /// duplicate), e.g. `anthropic-beta: oauth-2025-04-20` with a subscription token.
    pub fn with_list_token(mut self, header: &str, token: &str) -> Result<Binding, BindingError> {
        let spec = format!("{}:{header}", self.host);
        let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| BindingError::Syntax {
            spec: spec.clone(),
            why: "not a valid HTTP header name",
        })?;
        if token.is_empty() || token.contains(',') || HeaderValue::from_str(token).is_err() {
            return Err(BindingError::Syntax {
                spec,
                why: "a list token is one non-empty item without commas",
            });
        }
        self.list_tokens.push((name, token.to_string()));
        Ok(self)
    }

    /// Also removes `header` from every request this binding applies to.
    pub fn removing(mut self, header: &str) -> Result<Binding, BindingError> {
        let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| BindingError::Syntax {
            spec: format!("{}:{header}", self.host),
            why: "not a valid HTTP header name",
        })?;
        self.removes.push(name);
        Ok(self)
    }

    /// Parses `host:header=[prefix ]source`, source `env:VAR` or `file:PATH`, and reads the value now:
    /// `api.anthropic.com:x-api-key=env:ANTHROPIC_API_KEY`,
    /// `api.openai.com:authorization=Bearer env:OPENAI_API_KEY`.
    pub fn parse(spec: &str) -> Result<Binding, BindingError> {
        let syntax = |why| BindingError::Syntax {
            spec: spec.to_string(),
            why,
        };
        let (host, rest) = spec
            .split_once(':')
            .ok_or_else(|| syntax("missing `:` after the host"))?;
        let (header, value) = rest
            .split_once('=')
            .ok_or_else(|| syntax("missing `=` after the header"))?;
        let (prefix, source) = split_source(value)
            .ok_or_else(|| syntax("the value must end in env:VAR or file:PATH"))?;
        let host_norm = normalise_host(host.trim());
        let (secret, source) = if let Some(var) = source.strip_prefix("env:") {
            let value = std::env::var(var).map_err(|_| BindingError::MissingEnv {
                host: host_norm.clone(),
                var: var.to_string(),
            })?;
            (value, SecretSource::Env(var.to_string()))
        } else if let Some(path) = source.strip_prefix("file:") {
            let path = PathBuf::from(path);
            let value = read_secret_file(&host_norm, &path)?;
            // Files written by editors or `echo` end in a newline that is not part of the key.
            (
                value.trim_end_matches(['\r', '\n']).to_string(),
                SecretSource::File(path),
            )
        } else {
            return Err(syntax("the value must end in env:VAR or file:PATH"));
        };
        Binding::build(host.trim(), header.trim(), prefix, Secret(secret), source)
    }

    fn build(
        host: &str,
        header: &str,
        prefix: &str,
        secret: Secret,
        source: SecretSource,
    ) -> Result<Binding, BindingError> {
        Binding::build_for(host, header, prefix, secret, source, true)
    }

    fn build_for(
        host: &str,
        header: &str,
        prefix: &str,
        secret: Secret,
        source: SecretSource,
        routed_by_host: bool,
    ) -> Result<Binding, BindingError> {
        let spec = format!("{host}:{header}");
        let host = normalise_host(host);
        if routed_by_host && !is_dns_name(&host) {
            return Err(BindingError::Syntax {
                spec,
                why: "the host must be one exact DNS name (no wildcard, port or IP)",
            });
        }
        let header =
            HeaderName::from_bytes(header.as_bytes()).map_err(|_| BindingError::Syntax {
                spec: spec.clone(),
                why: "not a valid HTTP header name",
            })?;
        if matches!(
            header.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding"
        ) {
            return Err(BindingError::Syntax {
                spec,
                why: "this header controls framing or routing and cannot carry a secret",
            });
        }
        let binding = Binding {
            placeholder: placeholder_for(secret.expose()),
            host,
            header,
            prefix: prefix.to_string(),
            secret,
            source,
            list_tokens: Vec::new(),
            removes: Vec::new(),
        };
        if binding.secret.expose().is_empty() || binding.header_value().is_none() {
            return Err(BindingError::BadValue { host: binding.host });
        }
        Ok(binding)
    }

    /// The exact host this secret is sent to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The header the secret is written into.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The stand-in value to give the sandbox (e.g. as `ANTHROPIC_API_KEY`).
    pub fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// Where the value came from; for `env:VAR` the sandbox should get `VAR=<placeholder>`.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// Writes this binding into `headers`: removals first, then the secret (replacing
    /// every value the sandbox sent: overwrite, never append), then list tokens.
    /// Returns whether the secret was set.
    pub(crate) fn apply(&self, headers: &mut http::HeaderMap) -> bool {
        let Some(value) = self.header_value() else {
            return false;
        };
        for name in &self.removes {
            headers.remove(name);
        }
        headers.insert(self.header.clone(), value);
        for (name, token) in &self.list_tokens {
            let items: Vec<String> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect();
            if items.iter().any(|item| item == token) {
                continue;
            }
            let mut joined = items;
            joined.push(token.clone());
            if let Ok(v) = HeaderValue::from_str(&joined.join(",")) {
                headers.insert(name.clone(), v);
            }
        }
        true
    }

    /// `prefix + secret`, marked sensitive so hyper never logs or indexes it.
    pub(crate) fn header_value(&self) -> Option<HeaderValue> {
        let mut value =
            HeaderValue::from_str(&format!("{}{}", self.prefix, self.secret.expose())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// Reads a secret file without ever blocking: opened non-blocking (a FIFO would wait
/// for a writer forever), checked on the descriptor (the path may be swapped after a
/// `stat`), regular files only, at most [`MAX_SECRET_FILE`] bytes.
fn read_secret_file(host: &str, path: &std::path::Path) -> Result<String, BindingError> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let io = |source| BindingError::File {
        host: host.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else {
        Some("a special file")
    };
    if let Some(what) = what {
        return Err(BindingError::NotRegular {
            host: host.to_string(),
            path: path.to_path_buf(),
            what,
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(BindingError::FileTooLarge {
            host: host.to_string(),
            path: path.to_path_buf(),
        });
    }
    // Not UTF-8 cannot be a header value anyway; say so without quoting the bytes.
    String::from_utf8(bytes).map_err(|_| BindingError::BadValue {
        host: host.to_string(),
    })
}

/// Splits `Bearer env:X` into (`Bearer `, `env:X`).
fn split_source(value: &str) -> Option<(&str, &str)> {
    if value.starts_with("env:") || value.starts_with("file:") {
        return Some(("", value));
    }
    let at = [" env:", " file:"]
        .iter()
        .filter_map(|m| value.rfind(m))
        .max()?;
    Some((&value[..=at], &value[at + 1..]))
}

/// Known key prefixes, longest first: a placeholder keeps the prefix and the length so
/// SDKs that check a key's shape accept it.
const KNOWN_PREFIXES: &[&str] = &[
    "sk-ant-api03-",
    "sk-ant-oat01-",
    "sk-ant-",
    "sk-proj-",
    "sk-",
    "vck_",
    "github_pat_",
    "ghp_",
    "gho_",
];

const RANDOM_LEN: usize = 24;

/// A random stand-in for `secret` with its shape: a known key prefix (`sk-ant-api03-`,
/// `sk-proj-`, …) and at least its length, else `warden-placeholder-…`. What a sandbox
/// holds in place of a real key; the proxy never matches on it (it overwrites the header).
pub fn placeholder_for(secret: &str) -> String {
    if let Some(prefix) = KNOWN_PREFIXES.iter().find(|p| secret.starts_with(**p)) {
        let len = secret.len().saturating_sub(prefix.len()).max(RANDOM_LEN);
        return format!("{prefix}{}", random_alnum(len));
    }
    format!("warden-placeholder-{}", random_alnum(RANDOM_LEN))
}

fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    let rng = rustls::crypto::ring::default_provider().secure_random;
    if rng.fill(&mut bytes).is_err() {
        // The OS RNG failing is not recoverable in a meaningful way; fall back to the
        // clock mixed with the address of the buffer so placeholders still differ.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
