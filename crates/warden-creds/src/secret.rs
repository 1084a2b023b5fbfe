//! A credential value that never prints itself.

use std::fmt;

/// Prefixes that identify a key's issuer without revealing anything secret.
const PUBLIC_PREFIXES: &[&str] = &["sk-ant-", "sk-proj-", "sk-", "vck_"];

/// A secret string. `Debug` and `Display` print a redaction such as
/// `sk-ant-…(redacted, 108 chars)` or `****`; only [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Call this only where the value is handed on (a child's
    /// environment, a shell line the user asked for), never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in characters.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// True when the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn redacted(&self) -> String {
        let len = self.len();
        // Show a well-known issuer prefix only when the rest is long enough to stay secret.
        match PUBLIC_PREFIXES.iter().find(|p| self.0.starts_with(**p)) {
            Some(prefix) if len >= prefix.len() + 16 => {
                format!("{prefix}…(redacted, {len} chars)")
            }
            _ => "****".to_string(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_contain_the_value() {
        let raw = format!("sk-ant-api03-{}", "x9Q".repeat(32));
        let secret = Secret::new(raw.clone());
        let body = &raw["sk-ant-".len()..];
        for shown in [format!("{secret:?}"), format!("{secret}")] {
            assert!(!shown.contains(&raw), "{shown}");
            assert!(!shown.contains(body), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert_eq!(
            format!("{secret}"),
            format!("sk-ant-…(redacted, {} chars)", raw.len())
        );
        assert_eq!(secret.expose(), raw);
    }

    #[test]
    fn short_or_unknown_values_print_stars() {
        assert_eq!(Secret::new("hunter2").to_string(), "****");
        assert_eq!(Secret::new("sk-short").to_string(), "****");
        assert_eq!(format!("{:?}", Secret::new("abc")), "Secret(****)");
    }
}
