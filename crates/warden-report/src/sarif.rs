//! SARIF 2.1.0 output, for code-scanning dashboards and editors.
//!
//! Two kinds of log: the stored findings ([`render_findings_sarif`]) and the
//! scan's candidates before any agent looked at them ([`render_candidates_sarif`]).
//! Locations are relative to `%SRCROOT%`, which `originalUriBaseIds` maps to the
//! scanned root, so a log stays meaningful after the tree moves.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use warden_store::model::{CandidateFile, Disposition, Finding, Verdict};

use crate::rules::{
    canonical_cwe, cwe_number, cwe_tag, sarif_level, security_severity, RuleUse, FALLBACK_RULE_ID,
};
use crate::summary::{finding_cost, sorted};
use crate::uri::{artifact_uri, root_uri, ArtifactUri};
use crate::{ReportContext, RuleInfo};

/// The `$schema` of every SARIF log this crate writes.
pub const SARIF_SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The SARIF version this crate writes.
pub const SARIF_VERSION: &str = "2.1.0";
/// `tool.driver.name`.
pub const TOOL_NAME: &str = "warden";

/// The base id every relative artifact location is resolved against.
const SRCROOT: &str = "%SRCROOT%";
/// `partialFingerprints` key of findings (the store's line-independent fingerprint).
const FINDING_FINGERPRINT_KEY: &str = "warden/v1";
/// `partialFingerprints` key of scan candidates.
const CANDIDATE_FINGERPRINT_KEY: &str = "wardenCandidate/v1";
/// Longest `message.text` tail taken from a finding's description.
const MESSAGE_DESCRIPTION_CHARS: usize = 240;

/// A SARIF 2.1.0 log of `findings`, one result each, in severity order.
///
/// The caller chooses which findings to include. A finding judged a false
/// positive, or triaged as accepted risk / won't fix, is kept but carries
/// `suppressions`, so SARIF consumers show it as dismissed.
pub fn render_findings_sarif(
    ctx: &ReportContext<'_>,
    findings: &[Finding],
    rules: &[RuleInfo],
) -> Value {
    let findings = sorted(findings);

    let mut uses: BTreeMap<String, RuleUse<'_>> = BTreeMap::new();
    for finding in &findings {
        let id = finding_rule_id(finding);
        let rule = uses
            .entry(id.clone())
            .or_insert_with(|| RuleUse::new(&id, rules));
        rule.add_cwe(finding.reported.cwe.as_deref());
        rule.add_category(finding.reported.category.as_deref());
        rule.add_severity(finding.effective_severity());
    }
    let (descriptors, index) = descriptors(&uses);

    let results = findings
        .iter()
        .map(|finding| {
            let rule_id = finding_rule_id(finding);
            finding_result(ctx, finding, &rule_id, index[&rule_id])
        })
        .collect();
    log(ctx, "findings", descriptors, results)
}

/// A SARIF 2.1.0 log of the scan's candidates: one `note` result per rule hit.
///
/// Rule ids missing from `rules` still get a minimal descriptor, so every
/// `ruleIndex` resolves.
pub fn render_candidates_sarif(
    ctx: &ReportContext<'_>,
    candidates: &[CandidateFile],
    rules: &[RuleInfo],
) -> Value {
    let mut uses: BTreeMap<String, RuleUse<'_>> = BTreeMap::new();
    for hit in candidates.iter().flat_map(|c| &c.hits) {
        uses.entry(hit.rule_id.clone())
            .or_insert_with(|| RuleUse::new(&hit.rule_id, rules));
    }
    let (descriptors, index) = descriptors(&uses);

    let mut occurrences: HashMap<(&str, &str, &str), u32> = HashMap::new();
    let mut results = Vec::new();
    for candidate in candidates {
        for hit in &candidate.hits {
            let rule = &uses[&hit.rule_id];
            let title = rule.info.map_or(hit.rule_id.as_str(), |i| i.title.as_str());
            let snippet = hit.snippet.trim();
            let key = (candidate.path.as_str(), hit.rule_id.as_str(), snippet);
            let occurrence = occurrences.entry(key).or_insert(0);
            *occurrence += 1;

            let mut properties = Map::new();
            properties.insert("fileScore".into(), json!(candidate.score));
            properties.insert("fileStatus".into(), json!(candidate.status.as_str()));
            if let Some(language) = &candidate.language {
                properties.insert("language".into(), json!(language));
            }
            let mut location = location(ctx, &candidate.path, hit.line, hit.line);
            if !snippet.is_empty() {
                location["physicalLocation"]["region"]["snippet"] = json!({ "text": hit.snippet });
            }
            results.push(json!({
                "ruleId": hit.rule_id,
                "ruleIndex": index[&hit.rule_id],
                "level": "note",
                "message": {
                    "text": format!(
                        "{} (scan rule {}; file score {:.2})",
                        non_empty_or(title, &hit.rule_id),
                        hit.rule_id,
                        candidate.score
                    )
                },
                "locations": [location],
                "partialFingerprints": {
                    CANDIDATE_FINGERPRINT_KEY:
                        candidate_fingerprint(&candidate.path, &hit.rule_id, snippet, *occurrence)
                },
                "properties": properties,
            }));
        }
    }
    log(ctx, "candidates", descriptors, results)
}

/// A finding's SARIF rule id: its scan rule, else its CWE, else the fallback.
fn finding_rule_id(finding: &Finding) -> String {
    let reported = &finding.reported;
    if let Some(rule) = reported.rule_id.as_deref().map(str::trim) {
        if !rule.is_empty() {
            return rule.to_string();
        }
    }
    match reported.cwe.as_deref().map(str::trim) {
        Some(cwe) if !cwe.is_empty() => canonical_cwe(cwe),
        _ => FALLBACK_RULE_ID.to_string(),
    }
}

/// Descriptors in id order, and each id's position among them (`ruleIndex`).
fn descriptors(uses: &BTreeMap<String, RuleUse<'_>>) -> (Vec<Value>, HashMap<String, usize>) {
    let index = uses
        .keys()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    (uses.values().map(RuleUse::descriptor).collect(), index)
}

fn finding_result(
    ctx: &ReportContext<'_>,
    finding: &Finding,
    rule_id: &str,
    rule_index: usize,
) -> Value {
    let reported = &finding.reported;
    let severity = finding.effective_severity();

    let mut message = reported.title.trim().to_string();
    let short = short_description(&reported.description, MESSAGE_DESCRIPTION_CHARS);
    if !short.is_empty() {
        message = if message.is_empty() {
            short
        } else {
            format!("{message}: {short}")
        };
    }
    if message.is_empty() {
        message = "Security finding".to_string();
    }

    let mut tags = vec!["security".to_string()];
    if let Some(n) = reported.cwe.as_deref().and_then(cwe_number) {
        tags.push(cwe_tag(n));
    }
    if let Some(category) = reported
        .category
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        tags.push(category.trim().to_string());
    }

    let mut properties = Map::new();
    properties.insert("findingId".into(), json!(finding.id));
    properties.insert("severity".into(), json!(severity.as_str()));
    properties.insert("reportedSeverity".into(), json!(reported.severity.as_str()));
    properties.insert(
        "security-severity".into(),
        json!(security_severity(severity)),
    );
    properties.insert("confidence".into(), json!(reported.confidence.as_str()));
    if let Some(cwe) = &reported.cwe {
        properties.insert("cwe".into(), json!(canonical_cwe(cwe)));
    }
    if let Some(verdict) = &finding.verdict {
        properties.insert("verdict".into(), json!(verdict.verdict.as_str()));
        properties.insert("verdictReasoning".into(), json!(verdict.reasoning));
    }
    if let Some(cost) = finding_cost(finding).filter(|c| c.is_finite()) {
        properties.insert("costUsd".into(), json!(cost));
    }
    properties.insert("disposition".into(), json!(finding.disposition.as_str()));
    if let Some(original) = &finding.duplicate_of {
        properties.insert("duplicateOf".into(), json!(original));
    }
    if let Some(patch) = reported.patch.as_deref().filter(|p| !p.trim().is_empty()) {
        properties.insert("patch".into(), json!(patch));
    }
    properties.insert("tags".into(), json!(tags));

    let mut result = json!({
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": sarif_level(severity),
        "message": { "text": message },
        "locations": [location(ctx, &reported.path, reported.start_line, reported.end_line)],
        "properties": properties,
    });
    if !finding.fingerprint.is_empty() {
        result["partialFingerprints"] = json!({ FINDING_FINGERPRINT_KEY: finding.fingerprint });
    }
    let suppressions = suppressions(finding);
    if !suppressions.is_empty() {
        result["suppressions"] = Value::Array(suppressions);
    }
    result
}

/// External suppressions for false positives and triaged-away findings.
fn suppressions(finding: &Finding) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(verdict) = &finding.verdict {
        if verdict.verdict == Verdict::FalsePositive {
            let justification = non_empty_or(
                &verdict.reasoning,
                "Revalidation judged this finding a false positive.",
            );
            out.push(json!({ "kind": "external", "justification": justification }));
        }
    }
    let default = match finding.disposition {
        Disposition::Open => None,
        Disposition::AcceptedRisk => Some("Triaged as accepted risk."),
        Disposition::WontFix => Some("Triaged as won't fix."),
    };
    if let Some(default) = default {
        let justification =
            non_empty_or(finding.disposition_reason.as_deref().unwrap_or(""), default);
        out.push(json!({
            "kind": "external",
            "status": "accepted",
            "justification": justification,
        }));
    }
    out
}

/// A `location` with a line region (lines clamped to be valid: 1-based, end ≥ start).
fn location(ctx: &ReportContext<'_>, path: &str, start_line: u32, end_line: u32) -> Value {
    let start = start_line.max(1);
    let end = end_line.max(start);
    let artifact = match artifact_uri(path, ctx.root) {
        ArtifactUri::Relative(uri) => json!({ "uri": uri, "uriBaseId": SRCROOT }),
        ArtifactUri::Absolute(uri) => json!({ "uri": uri }),
    };
    json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": { "startLine": start, "endLine": end },
        }
    })
}

/// The whole log around one run.
fn log(ctx: &ReportContext<'_>, kind: &str, rules: Vec<Value>, results: Vec<Value>) -> Value {
    json!({
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": TOOL_NAME,
                    "version": ctx.tool_version,
                    "rules": rules,
                }
            },
            "automationDetails": { "id": format!("warden/{kind}/") },
            "invocations": [{ "executionSuccessful": true }],
            "originalUriBaseIds": { SRCROOT: { "uri": root_uri(ctx.root) } },
            "columnKind": "utf16CodeUnits",
            "results": results,
            "properties": {
                "projectId": ctx.project_id,
                "generatedAt": ctx.generated_at,
            },
        }]
    })
}

/// A candidate's fingerprint: independent of its line, distinct per repeat of
/// the same snippet in the same file.
fn candidate_fingerprint(path: &str, rule_id: &str, snippet: &str, occurrence: u32) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [path, rule_id, snippet, &occurrence.to_string()] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().to_hex()[..32].to_string()
}

/// The first sentence (or line) of `text`, cut to `max` characters.
fn short_description(text: &str, max: usize) -> String {
    let first_line = text.trim().lines().next().unwrap_or("").trim();
    let sentence = match first_line.find(". ") {
        Some(end) => &first_line[..=end],
        None => first_line,
    };
    if sentence.chars().count() <= max {
        sentence.to_string()
    } else {
        let cut: String = sentence.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

fn non_empty_or<'a>(text: &'a str, default: &'a str) -> &'a str {
    let t = text.trim();
    if t.is_empty() {
        default
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_descriptions() {
        assert_eq!(short_description("One. Two.", 100), "One.");
        assert_eq!(
            short_description("\n first line\nsecond", 100),
            "first line"
        );
        assert_eq!(short_description("abcdef", 4), "abc…");
        assert_eq!(short_description("", 4), "");
    }

    #[test]
    fn candidate_fingerprints_ignore_lines_but_not_content() {
        let a = candidate_fingerprint("a.rs", "r", "x()", 1);
        assert_eq!(a, candidate_fingerprint("a.rs", "r", "x()", 1));
        assert_ne!(a, candidate_fingerprint("a.rs", "r", "x()", 2));
        assert_ne!(a, candidate_fingerprint("b.rs", "r", "x()", 1));
        assert_eq!(a.len(), 32);
    }
}
