//! Where a store lives: a SQLite data directory or a PostgreSQL URL, and the redacted
//! name every error, `Debug` output and log line uses for it.

use crate::error::StoreError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// A store's name as shown to people: the database file, or the PostgreSQL URL with
/// its password replaced by `***`. Cheap to clone (errors carry one).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreName(Arc<str>);

impl StoreName {
    pub(crate) fn new(shown: impl Into<Arc<str>>) -> StoreName {
        StoreName(shown.into())
    }

    /// The name of a SQLite store, its database file.
    pub(crate) fn file(path: &Path) -> StoreName {
        StoreName::new(path.display().to_string())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Where to open a store: `postgres://…`/`postgresql://…` is a PostgreSQL database,
/// anything else a SQLite data directory (holding `warden.db`).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A data directory holding `warden.db`.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (its `Debug` and `Display` hide the password).
    Postgres(PgUrl),
}

/// A PostgreSQL connection URL; only [`PgUrl::redacted`] forms of it are ever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    url: String,
    redacted: StoreName,
}

impl PgUrl {
    /// The URL with its password (in the user info or a `password=` option) as `***`.
    pub fn redacted(&self) -> &StoreName {
        &self.redacted
    }

    /// The full URL, password included: for connecting only, never for showing.
    pub(crate) fn secret(&self) -> &str {
        &self.url
    }

    /// The password the URL carries, in its user info or a `password=` option, if any
    /// (to scrub it from driver messages).
    pub(crate) fn password(&self) -> Option<String> {
        let from_config = tokio_postgres::Config::from_str(&self.url)
            .ok()
            .and_then(|c| {
                c.get_password()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            });
        from_config.or_else(|| {
            password_span(&self.url).map(|(start, end)| self.url[start..end].to_string())
        })
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted, f)
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.redacted, f)
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(dir) => f.debug_tuple("Sqlite").field(dir).finish(),
            StoreLocation::Postgres(url) => f.debug_tuple("Postgres").field(url).finish(),
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(dir) => write!(f, "{}", dir.display()),
            StoreLocation::Postgres(url) => fmt::Display::fmt(url, f),
        }
    }
}

/// Whether `s` names a PostgreSQL database rather than a directory.
fn is_postgres_url(s: &str) -> bool {
    let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

impl FromStr for StoreLocation {
    type Err = StoreError;

    /// Fails with `InvalidLocation` for an empty string or a URL the driver cannot parse.
    fn from_str(s: &str) -> Result<StoreLocation, StoreError> {
        if !is_postgres_url(s) {
            if s.trim().is_empty() {
                return Err(StoreError::InvalidLocation {
                    store: StoreName::new(""),
                    detail: "the store location is empty".to_string(),
                });
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(s)));
        }
        // The driver wants the scheme in lower case; people may not write it so.
        let scheme_end = s.find("://").unwrap_or(0);
        let s = format!(
            "{}{}",
            s[..scheme_end].to_ascii_lowercase(),
            &s[scheme_end..]
        );
        let url = PgUrl {
            redacted: StoreName::new(redact_url(&s)),
            url: s,
        };
        if let Err(e) = tokio_postgres::Config::from_str(&url.url) {
            return Err(StoreError::InvalidLocation {
                store: url.redacted.clone(),
                detail: scrub(&e.to_string(), url.password().as_deref()),
            });
        }
        Ok(StoreLocation::Postgres(url))
    }
}

/// `text` with every occurrence of `secret` replaced by `***`.
pub(crate) fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, "***"),
        _ => text.to_string(),
    }
}

/// Byte range of the password in the URL's user info (`user:PASSWORD@host`), if any.
fn password_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((start + colon + 1, start + at))
}

/// The URL with the user-info password and any `password=` option value as `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = match password_span(url) {
        Some((start, end)) => format!("{}***{}", &url[..start], &url[end..]),
        None => url.to_string(),
    };
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{base}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_the_url_carries_them() {
        assert_eq!(
            redact_url("postgres://warden:s3cr:et@10.0.0.5/warden"),
            "postgres://warden:***@10.0.0.5/warden"
        );
        assert_eq!(
            redact_url("postgresql://u@h/db?sslmode=require&password=hunter2"),
            "postgresql://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(redact_url("postgres://h:5432/db"), "postgres://h:5432/db");
    }

    #[test]
    fn a_location_is_postgres_only_by_its_scheme() {
        let pg: StoreLocation = "PostgreSQL://u:pw@localhost/db".parse().expect("url");
        assert!(matches!(pg, StoreLocation::Postgres(_)));
        let dir: StoreLocation = "./postgres".parse().expect("dir");
        assert_eq!(dir, StoreLocation::Sqlite(PathBuf::from("./postgres")));
        assert!("".parse::<StoreLocation>().is_err());
    }
}
