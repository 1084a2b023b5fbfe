//! Stable finding fingerprints and ids, shared by the store and the SARIF renderer.
//!
//! A fingerprint ignores line numbers on purpose: when code moves, the same
//! issue in the same file keeps its fingerprint, so re-reports deduplicate.

use crate::model::NewFinding;

/// Hex BLAKE3 identifying a finding independently of project and line numbers.
///
/// Inputs: the path relative to the project root (`\` and a leading `./` are
/// normalised away), the CWE (upper-cased) or else the rule id or else nothing,
/// and the title lower-cased with whitespace runs collapsed to one space.
pub fn finding_fingerprint(
    path: &str,
    cwe: Option<&str>,
    rule_id: Option<&str>,
    title: &str,
) -> String {
    let path = normalise_path(path);
    let class = match (non_empty(cwe), non_empty(rule_id)) {
        (Some(cwe), _) => cwe.to_ascii_uppercase(),
        (None, Some(rule)) => rule.to_string(),
        (None, None) => String::new(),
    };
    let title = normalise_title(title);
    let mut hasher = blake3::Hasher::new();
    // Length-prefixed fields: no two different inputs hash the same bytes.
    for field in [path.as_str(), class.as_str(), title.as_str()] {
        hasher.update(&(field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// The finding id: `WF-` followed by the first 12 hex digits of BLAKE3(project + fingerprint).
pub fn finding_id(project: &str, fingerprint: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(project.as_bytes());
    hasher.update(fingerprint.as_bytes());
    let hex = hasher.finalize().to_hex();
    format!("WF-{}", &hex.as_str()[..12])
}

impl NewFinding {
    /// This finding's fingerprint, see [`finding_fingerprint`].
    pub fn fingerprint(&self) -> String {
        finding_fingerprint(
            &self.path,
            self.cwe.as_deref(),
            self.rule_id.as_deref(),
            &self.title,
        )
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn normalise_path(path: &str) -> String {
    let path = path.trim().replace('\\', "/");
    let mut rest = path.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    rest.to_string()
}

fn normalise_title(title: &str) -> String {
    title
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_and_whitespace_do_not_matter() {
        let a = finding_fingerprint("src/a.rs", Some("CWE-89"), None, "SQL  injection\tin login");
        let b = finding_fingerprint(
            "./src/a.rs",
            Some("cwe-89"),
            None,
            " sql injection in LOGIN ",
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn cwe_wins_over_rule_and_fields_do_not_bleed() {
        let with_cwe = finding_fingerprint("a", Some("CWE-1"), Some("r"), "t");
        assert_eq!(
            with_cwe,
            finding_fingerprint("a", Some("CWE-1"), Some("other"), "t")
        );
        assert_ne!(
            finding_fingerprint("a", None, Some("r"), "t"),
            finding_fingerprint("a", None, None, "t")
        );
        assert_ne!(
            finding_fingerprint("ab", None, None, "c"),
            finding_fingerprint("a", None, None, "bc")
        );
    }

    #[test]
    fn id_depends_on_project() {
        let fp = finding_fingerprint("a", None, None, "t");
        let id = finding_id("p1", &fp);
        assert!(id.starts_with("WF-") && id.len() == 15, "{id}");
        assert_ne!(id, finding_id("p2", &fp));
        assert_eq!(id, finding_id("p1", &fp));
    }
}
