//! What `warden scan` tells the user: a human summary or the same as JSON.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;
use warden_scan::ranking::classify;
use warden_scan::{Role, ScanOutcome, ScanStats, Scanner};
use warden_store::{CandidateFile, ScanDelta};

/// Everything the summary shows, computed once.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    project: &'a str,
    root: String,
    store: String,
    #[serde(serialize_with = "secs")]
    elapsed: Duration,
    tech: &'a [String],
    stats: &'a ScanStats,
    delta: &'a ScanDelta,
    candidate_files: usize,
    /// Candidate files per vulnerability category of their sink hits.
    by_category: BTreeMap<String, u64>,
    by_language: BTreeMap<String, u64>,
    /// Candidate files per kind (app, test, fixture, example, docs, rule-definition).
    by_kind: BTreeMap<&'static str, u64>,
    /// Whether tests, fixtures, examples, docs and rule definitions rank like app code.
    include_tests: bool,
    candidates: Vec<CandidateLine<'a>>,
}

#[derive(Debug, Serialize)]
struct CandidateLine<'a> {
    path: &'a str,
    score: f64,
    language: Option<&'a str>,
    status: &'static str,
    /// The kind of file: ranked below application code unless it is `app`.
    kind: &'static str,
    categories: Vec<&'a str>,
    hits: Vec<HitLine<'a>>,
}

#[derive(Debug, Serialize)]
struct HitLine<'a> {
    rule: &'a str,
    line: u32,
    role: &'static str,
    snippet: &'a str,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl<'a> Summary<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scanner: &'a Scanner,
        project: &'a str,
        root: &Path,
        store: &Path,
        outcome: &'a ScanOutcome,
        delta: &'a ScanDelta,
        candidates: &'a [CandidateFile],
        include_tests: bool,
        elapsed: Duration,
    ) -> Summary<'a> {
        let rules: HashMap<&str, &warden_scan::Rule> = scanner
            .packs()
            .iter()
            .flat_map(|p| &p.rules)
            .map(|r| (r.id.as_str(), r))
            .collect();
        let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_language: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut lines = Vec::with_capacity(candidates.len());
        for c in candidates {
            let mut categories = BTreeSet::new();
            let hits = c
                .hits
                .iter()
                .map(|h| {
                    let rule = rules.get(h.rule_id.as_str());
                    let role = rule.map_or(Role::Sink, |r| r.role);
                    if role == Role::Sink {
                        if let Some(r) = rule {
                            categories.insert(r.category.as_str());
                        }
                    }
                    HitLine {
                        rule: &h.rule_id,
                        line: h.line,
                        role: role.as_str(),
                        snippet: &h.snippet,
                    }
                })
                .collect();
            for cat in &categories {
                *by_category.entry((*cat).to_string()).or_default() += 1;
            }
            *by_language
                .entry(c.language.clone().unwrap_or_else(|| "other".into()))
                .or_default() += 1;
            let kind = classify(&c.path, c.hits.iter().map(|h| h.snippet.as_str())).name();
            *by_kind.entry(kind).or_default() += 1;
            lines.push(CandidateLine {
                path: &c.path,
                score: c.score,
                language: c.language.as_deref(),
                status: c.status.as_str(),
                kind,
                categories: categories.into_iter().collect(),
                hits,
            });
        }
        Summary {
            project,
            root: root.display().to_string(),
            store: store.display().to_string(),
            elapsed,
            tech: &outcome.tech,
            stats: &outcome.stats,
            delta,
            candidate_files: candidates.len(),
            by_category,
            by_language,
            by_kind,
            include_tests,
            candidates: lines,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The human summary, listing the `top` best candidates.
    pub fn text(&self, top: usize) -> String {
        let s = self.stats;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Scanned {} (project {}) in {:.2} s",
            self.root,
            self.project,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "  files walked   {:>8}   {} read, {} matched, {} unchanged since last scan",
            s.files_walked,
            human_bytes(s.bytes_read),
            s.files_matched,
            s.files_unchanged
        );
        let skipped: u64 = s.skipped.values().sum();
        let _ = writeln!(
            out,
            "  skipped        {:>8}   {}",
            skipped,
            join_counts(s.skipped.iter().map(|(r, n)| (r.as_str(), *n)))
        );
        let _ = writeln!(
            out,
            "  pruned dirs    {:>8}   VCS, dependencies, build output",
            s.pruned_dirs
        );
        if s.non_utf8 > 0 {
            let _ = writeln!(
                out,
                "  non-UTF-8      {:>8}   decoded lossily and scanned",
                s.non_utf8
            );
        }
        let d = self.delta;
        let _ = writeln!(
            out,
            "  candidates     {:>8}   files ({} new, {} changed, {} gone, {} re-queued)",
            self.candidate_files, d.new, d.changed, d.gone, d.requeued
        );
        let coverage = if d.coverage_candidates > 0 {
            format!(
                "; {} of them candidates in the coverage tier",
                d.coverage_candidates
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  attack surface {:>8}   files with an entry point or imported by one{coverage}",
            d.surface
        );
        let _ = writeln!(
            out,
            "  by category               {}",
            join_counts(sorted_desc(&self.by_category))
        );
        let _ = writeln!(
            out,
            "  by language               {}",
            join_counts(sorted_desc(&self.by_language))
        );
        let demoted: u64 = self
            .by_kind
            .iter()
            .filter(|(k, _)| **k != "app")
            .map(|(_, n)| n)
            .sum();
        if demoted > 0 {
            let kinds: BTreeMap<String, u64> = self
                .by_kind
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect();
            let how = if self.include_tests {
                "all ranked alike (--include-tests)"
            } else {
                "all but app ranked below app code; --include-tests ranks them alike"
            };
            let _ = writeln!(
                out,
                "  by kind                   {} ({how})",
                join_counts(sorted_desc(&kinds))
            );
        }
        if !self.tech.is_empty() {
            let _ = writeln!(out, "  tech                      {}", self.tech.join(", "));
        }
        for err in s.walk_errors.iter().take(3) {
            let _ = writeln!(out, "  note: {err}");
        }
        if self.candidates.is_empty() {
            let _ = writeln!(
                out,
                "\nNo candidates: nothing here matched a rule strongly enough."
            );
            return out;
        }
        if top > 0 {
            let _ = writeln!(out, "\nTop candidates:");
            for c in self.candidates.iter().take(top) {
                let rules: BTreeSet<&str> = c
                    .hits
                    .iter()
                    .filter(|h| h.role == "sink")
                    .map(|h| h.rule)
                    .collect();
                let kind = if c.kind == "app" {
                    String::new()
                } else {
                    format!(" [{}]", c.kind)
                };
                let _ = writeln!(
                    out,
                    "  {:>6.1}  {}{kind}  {}",
                    c.score,
                    c.path,
                    rules.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
        }
        let _ = writeln!(
            out,
            "\nStore: {} (`warden status` shows every stage; `--format sarif` exports the candidates)",
            self.store
        );
        out
    }
}

fn sorted_desc(map: &BTreeMap<String, u64>) -> impl Iterator<Item = (&str, u64)> {
    let mut v: Vec<(&str, u64)> = map.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter()
}

fn join_counts<'s>(items: impl Iterator<Item = (&'s str, u64)>) -> String {
    let parts: Vec<String> = items.map(|(k, n)| format!("{k} {n}")).collect();
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(", ")
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
