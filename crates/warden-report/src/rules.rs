//! Shared bits: severity mappings, CWE helpers and SARIF rule descriptors.

use serde_json::{json, Map, Value};
use warden_store::model::Severity;

use crate::RuleInfo;

/// The rule id of findings that name neither a scan rule nor a CWE.
pub(crate) const FALLBACK_RULE_ID: &str = "warden.finding";

/// SARIF `level` for a severity.
pub(crate) fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` score for a severity.
pub(crate) fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The number of a CWE written as `CWE-89`, `cwe 89`, `CWE_89` or `89`.
pub(crate) fn cwe_number(cwe: &str) -> Option<u32> {
    let s = cwe.trim();
    let rest = match s.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("cwe") => &s[3..],
        _ => s,
    };
    let digits = rest.trim_start_matches(['-', '_', ' ', ':']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// MITRE's page for a CWE.
pub(crate) fn cwe_url(number: u32) -> String {
    format!("https://cwe.mitre.org/data/definitions/{number}.html")
}

/// The SARIF tag GitHub recognises for a CWE: `external/cwe/cwe-89`.
pub(crate) fn cwe_tag(number: u32) -> String {
    format!("external/cwe/cwe-{number}")
}

/// `CWE-89` for any spelling `cwe_number` accepts; other text is kept, trimmed.
pub(crate) fn canonical_cwe(cwe: &str) -> String {
    match cwe_number(cwe) {
        Some(n) => format!("CWE-{n}"),
        None => cwe.trim().to_string(),
    }
}

/// A one-word PascalCase name (`SQL built by concat` → `SQLBuiltByConcat`).
pub(crate) fn pascal_case(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() {
        "Rule".to_string()
    } else {
        out
    }
}

/// What one SARIF rule descriptor is built from, gathered over the results using it.
#[derive(Debug, Clone)]
pub(crate) struct RuleUse<'a> {
    pub id: String,
    pub info: Option<&'a RuleInfo>,
    /// CWE numbers seen on results under this rule (besides the rule's own).
    pub cwes: Vec<u32>,
    /// Categories seen on results under this rule (besides the rule's own).
    pub categories: Vec<String>,
    /// Worst severity among the results; `None` for scan candidates.
    pub max_severity: Option<Severity>,
}

impl<'a> RuleUse<'a> {
    pub fn new(id: &str, rules: &'a [RuleInfo]) -> Self {
        RuleUse {
            id: id.to_string(),
            info: rules.iter().find(|r| r.id == id),
            cwes: Vec::new(),
            categories: Vec::new(),
            max_severity: None,
        }
    }

    pub fn add_cwe(&mut self, cwe: Option<&str>) {
        if let Some(n) = cwe.and_then(cwe_number) {
            if !self.cwes.contains(&n) {
                self.cwes.push(n);
            }
        }
    }

    pub fn add_category(&mut self, category: Option<&str>) {
        if let Some(c) = category.map(str::trim).filter(|c| !c.is_empty()) {
            if !self.categories.iter().any(|k| k == c) {
                self.categories.push(c.to_string());
            }
        }
    }

    pub fn add_severity(&mut self, severity: Severity) {
        self.max_severity = Some(self.max_severity.map_or(severity, |m| m.max(severity)));
    }

    /// Every CWE of this rule: the rule's own first, then those seen on results.
    fn all_cwes(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .info
            .and_then(|i| i.cwe.as_deref())
            .and_then(cwe_number)
            .into_iter()
            .collect();
        for n in &self.cwes {
            if !out.contains(n) {
                out.push(*n);
            }
        }
        out
    }

    /// `["security", "external/cwe/cwe-89", <category>...]`, without duplicates.
    fn tags(&self) -> Vec<String> {
        let mut tags = vec!["security".to_string()];
        tags.extend(self.all_cwes().into_iter().map(cwe_tag));
        let own = self
            .info
            .map(|i| i.category.trim())
            .filter(|c| !c.is_empty());
        for category in own
            .into_iter()
            .chain(self.categories.iter().map(String::as_str))
        {
            if !tags.iter().any(|t| t == category) {
                tags.push(category.to_string());
            }
        }
        tags
    }

    /// (short description, full description, help text) for this rule.
    fn descriptions(&self) -> (String, String, String) {
        if let Some(info) = self.info {
            let title = non_empty(&info.title).unwrap_or(&info.id).to_string();
            let help = non_empty(&info.help).unwrap_or(&title).to_string();
            return (title, help.clone(), help);
        }
        if let Some(n) = cwe_number(&self.id) {
            let short = format!("CWE-{n}");
            let full = format!("Findings classified as CWE-{n}.");
            return (short, full.clone(), full);
        }
        if self.id == FALLBACK_RULE_ID {
            let short = "Security finding".to_string();
            let full = "A security finding reported by a Warden agent that names neither a \
                        scan rule nor a CWE."
                .to_string();
            return (short, full.clone(), full);
        }
        let short = format!("Scan rule {}", self.id);
        let full = format!(
            "Lines matched by scan rule `{}` (no metadata known).",
            self.id
        );
        (short, full.clone(), full)
    }

    /// The SARIF `reportingDescriptor`.
    pub fn descriptor(&self) -> Value {
        let (short, full, help) = self.descriptions();
        let cwes = self.all_cwes();
        let mut help_text = help.clone();
        let mut help_markdown = help;
        for n in &cwes {
            help_text.push_str(&format!("\n\nCWE-{n}: {}", cwe_url(*n)));
            help_markdown.push_str(&format!("\n\n[CWE-{n}]({})", cwe_url(*n)));
        }

        let mut properties = Map::new();
        properties.insert("tags".into(), json!(self.tags()));
        if let Some(severity) = self.max_severity {
            properties.insert(
                "security-severity".into(),
                json!(security_severity(severity)),
            );
        }
        if let Some(info) = self.info {
            if info.weight.is_finite() {
                properties.insert("weight".into(), json!(info.weight));
            }
        }

        let name = match self.info {
            Some(info) if non_empty(&info.title).is_some() => pascal_case(&info.title),
            _ => pascal_case(&self.id),
        };
        let level = self.max_severity.map_or("note", sarif_level);
        let mut descriptor = json!({
            "id": self.id,
            "name": name,
            "shortDescription": { "text": short },
            "fullDescription": { "text": full },
            "help": { "text": help_text, "markdown": help_markdown },
            "defaultConfiguration": { "level": level },
            "properties": properties,
        });
        if let Some(n) = cwes.first() {
            descriptor["helpUri"] = json!(cwe_url(*n));
        }
        descriptor
    }
}

fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwe_spellings() {
        assert_eq!(cwe_number("CWE-89"), Some(89));
        assert_eq!(cwe_number(" cwe 79 "), Some(79));
        assert_eq!(cwe_number("22"), Some(22));
        assert_eq!(cwe_number("CWE-"), None);
        assert_eq!(cwe_number("injection"), None);
        assert_eq!(canonical_cwe("cwe_78"), "CWE-78");
    }

    #[test]
    fn pascal_case_names() {
        assert_eq!(pascal_case("SQL built by concat"), "SQLBuiltByConcat");
        assert_eq!(pascal_case("warden.finding"), "WardenFinding");
        assert_eq!(pascal_case("--"), "Rule");
    }
}
