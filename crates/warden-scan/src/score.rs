//! Turning a file's rule hits into one score.
//!
//! Only sinks (and secrets, weak crypto, dangerous config, which are sinks too)
//! score. Sources, entry points and sanitizers change how much a sink counts:
//! attacker input a few lines above a sink, or a route handler around it, raise
//! it; a sanitizer of the same category on or next to it lowers it. A file with
//! only an entry point is not a candidate: every route handler is not a finding.

use crate::layout::Layout;
use crate::matcher::RawHit;
use crate::ranking::{
    classify, is_development_config, is_production_config, is_view_template, PathClass,
};
use crate::rules::{Answered, Role, Rule};
use std::collections::HashMap;

/// Knobs of the scoring model; the defaults are what `warden scan` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreModel {
    /// A source this many lines above a sink (or on its line) taints it.
    pub taint_window: u32,
    /// An entry point this many lines above a sink puts the sink in its handler.
    pub entry_window: u32,
    /// A sanitizer this many lines around a sink neutralises it.
    pub sanitizer_window: u32,
    /// An allowlist this many lines above a spliced identifier, in its function,
    /// answers it (see [`Answered::ByAllowlist`]).
    pub identifier_check_window: u32,
    /// An owner check (an `authz` sanitizer) this many lines below an object lookup
    /// (an `authz` sink) answers it: the check follows the fetch and its not-found
    /// handling, often past `sanitizer_window`.
    pub owner_check_window: u32,
    pub taint_boost: f64,
    /// A source this many lines below a sink (within `taint_window`): the sink sits in a
    /// helper defined above the handler that calls it.
    pub source_below_boost: f64,
    pub source_in_file_boost: f64,
    /// A sink whose statement names a parameter of its function (or a local computed
    /// from one), in a file that reads no input itself: the repository, storage helper
    /// or client an application hands the request down to.
    pub parameter_boost: f64,
    pub entry_boost: f64,
    pub entry_in_file_boost: f64,
    pub sanitizer_factor: f64,
    /// Tests, fixtures, examples, docs and rule definitions count this much; those that
    /// still reach the default threshold score within one point above it.
    pub demoted_factor: f64,
    /// Rank tests, fixtures, examples, docs and rule definitions like application code.
    pub include_tests: bool,
}

impl Default for ScoreModel {
    fn default() -> Self {
        ScoreModel {
            taint_window: 40,
            entry_window: 80,
            sanitizer_window: 3,
            identifier_check_window: 20,
            owner_check_window: 8,
            taint_boost: 1.8,
            source_below_boost: 1.5,
            source_in_file_boost: 1.25,
            parameter_boost: 1.5,
            entry_boost: 1.4,
            entry_in_file_boost: 1.15,
            sanitizer_factor: 0.3,
            demoted_factor: 0.35,
            include_tests: false,
        }
    }
}

impl ScoreModel {
    /// Scores one file from its hits (`rules` is what `hit.rule` indexes).
    pub fn score(&self, path: &str, rules: &[Rule], hits: &[RawHit]) -> f64 {
        self.score_in(path, rules, hits, &Layout::default())
    }

    /// As [`ScoreModel::score`], knowing more of the file's code than its hits (see
    /// [`crate::layout::layout`]).
    pub fn score_in(&self, path: &str, rules: &[Rule], hits: &[RawHit], layout: &Layout) -> f64 {
        let lines_of = |role: Role| -> Vec<u32> {
            hits.iter()
                .filter(|h| rules[h.rule].role == role)
                .map(|h| h.line)
                .collect()
        };
        let sources = lines_of(Role::Source);
        let entries = lines_of(Role::EntryPoint);
        let sanitizers: Vec<Sanitizer> = hits
            .iter()
            .filter(|h| rules[h.rule].role == Role::Sanitizer)
            .map(|h| Sanitizer {
                category: rules[h.rule].category.as_str(),
                line: h.line,
                allowlist: rules[h.rule].allowlist,
            })
            .collect();

        let context = Context {
            sources: &sources,
            entries: &entries,
            sanitizers: &sanitizers,
            fed: &layout.fed,
            functions: &layout.functions,
            // In a view template every print is its own statement: an escaped print on
            // the next line says nothing of a raw one, so only a sanitizer on its line
            // clears an XSS sink (a CSRF token field still answers the form it sits in).
            view: is_view_template(path),
        };
        // Each sink with its multiplier and the line of the allowlist that answers it.
        let sinks: Vec<(&RawHit, f64, Option<u32>)> = hits
            .iter()
            .filter(|h| rules[h.rule].role == Role::Sink)
            .map(|h| {
                let (m, answered_by) = self.context_multiplier(&rules[h.rule], h.line, &context);
                (h, m, answered_by)
            })
            .collect();

        // Two sinks of one category on one line are one flaw: only the one that weighs
        // most in its context counts (a value spliced between quotes is not answered by
        // the binding that answers the statement around it).
        let on_line = heaviest_by(rules, &sinks, |h, _| Some(h.line));
        let line_best = |h: &RawHit| {
            on_line
                .get(&(h.line, rules[h.rule].category.as_str()))
                .is_some_and(|&(r, _)| r == h.rule)
        };
        // So are two answered by one allowlist: it maps one value to a fixed set (a sort
        // column, then appended and executed), whichever lines report it. An escape
        // answers only the value it wraps, and a line may splice others beside it.
        let answered = heaviest_by(rules, &sinks, |h, by| by.filter(|_| line_best(h)));
        let kept = |h: &RawHit, by: Option<u32>| {
            line_best(h)
                && by.is_none_or(|l| {
                    answered
                        .get(&(l, rules[h.rule].category.as_str()))
                        .is_some_and(|&(r, _)| r == h.rule)
                })
        };

        // Best multiplier and hit count per sink rule, in first-seen order.
        let mut per_rule: Vec<(usize, f64, u32)> = Vec::new();
        for &(hit, m, _) in sinks.iter().filter(|(h, _, by)| kept(h, *by)) {
            match per_rule.iter_mut().find(|(r, _, _)| *r == hit.rule) {
                Some(entry) => {
                    entry.1 = entry.1.max(m);
                    entry.2 += 1;
                }
                None => per_rule.push((hit.rule, m, 1)),
            }
        }
        let production = is_production_config(path);
        let development = !production && is_development_config(path);
        let raw: f64 = per_rule
            .iter()
            .map(|&(r, m, n)| {
                // Debug switches and exposed endpoints are a finding in production's
                // own configuration, likely in a configuration that names no stage,
                // and expected in one written for development.
                let m = match rules[r].category.as_str() {
                    "config" if production => m * PRODUCTION_CONFIG_BOOST,
                    "config" if development => m / PRODUCTION_CONFIG_BOOST,
                    _ => m,
                };
                rules[r].weight * m * (1.0 + 0.15 * f64::from(n.min(5) - 1))
            })
            .sum();
        let raw = if self.include_tests {
            raw
        } else {
            self.demote(self.class_of(path, hits), raw)
        };
        ((raw * 100.0).round() / 100.0).max(0.0)
    }

    /// The kind of file `path` is, given the lines its hits matched.
    pub fn class_of(&self, path: &str, hits: &[RawHit]) -> PathClass {
        classify(path, hits.iter().map(|h| h.snippet.as_str()))
    }

    /// A demoted file's score: scaled down, so only a strong match stays a candidate, and
    /// past the threshold mapped into one point above it, keeping the order among such
    /// files. They rank below application code that scores higher, so a fixture full of
    /// example secrets no longer leads the queue.
    fn demote(&self, class: PathClass, raw: f64) -> f64 {
        if !class.is_demoted() {
            return raw;
        }
        let knee = crate::DEFAULT_MIN_SCORE;
        let scaled = raw * self.demoted_factor;
        if scaled < knee {
            scaled
        } else {
            let over = scaled - knee;
            knee + over / (over + 10.0)
        }
    }

    /// A sink's multiplier, and the line of the allowlist that answers it, if one does.
    fn context_multiplier(&self, rule: &Rule, line: u32, context: &Context) -> (f64, Option<u32>) {
        let Context {
            sources,
            entries,
            sanitizers,
            fed,
            functions,
            view,
        } = *context;
        let above = |l: u32, window: u32| l <= line && line - l <= window;
        let below = |l: u32, window: u32| l > line && l - line <= window;
        // A sanitizer counts next to the sink, or on the path from the input to it:
        // between the nearest source above the sink and the sink itself.
        let nearest_source = sources
            .iter()
            .copied()
            .filter(|&s| above(s, self.taint_window))
            .max();
        // A sink fed by its function's parameters where no check of its kind can be
        // about its value (the layout leaves out sinks whose function, or a function it
        // calls, holds one: it may check another value, so it does not clear the sink,
        // but it withholds the boost).
        let fed_unchecked = handed_down(&rule.category) && fed.binary_search(&line).is_ok();
        let by_allowlist = rule.answered == Answered::ByAllowlist;
        // A spliced identifier is mapped to a fixed set once, often by a `match` whose
        // arms end well above the splice: for it any allowlist counts anywhere above it
        // in its function, and for any statement a column allowlist does.
        let allowlisted_above = |san: &Sanitizer| {
            (by_allowlist || san.allowlist)
                && above(san.line, self.identifier_check_window)
                && !functions.iter().any(|&f| san.line < f && f <= line)
        };
        // A structural C check already decided whether a bounds check clears the flaw:
        // a regex sanitizer on a nearby line says nothing more.
        let answered_by = (!decided(rule))
            .then(|| {
                sanitizers.iter().find(|san| {
                    let (cat, l) = (san.category, san.line);
                    // A product that can wrap is answered by a check made before it is
                    // computed; a bounds check after it compares the wrapped value.
                    if rule.cwe.as_deref() == Some(WRAPPING_PRODUCT_CWE) && l >= line {
                        return false;
                    }
                    // An authz sanitizer is an owner check: it answers an object lookup by a
                    // key the caller chose, not a model bound whole from the request (mass
                    // assignment, the same category), which a policy check lets through.
                    if cat == "authz" && rule.cwe.as_deref() != Some(OBJECT_LOOKUP_CWE) {
                        return false;
                    }
                    // Below the lookup, in its own function: the next function's check is
                    // about the next function's lookup.
                    let owner_check = cat == "authz"
                        && below(l, self.owner_check_window)
                        && !functions.iter().any(|&f| line < f && f <= l);
                    // A secret written in the code is no flow from an input: a placeholder
                    // check between some request read and the key says nothing of the key.
                    let on_the_path = rule.category != "secrets"
                        && nearest_source.is_some_and(|s| s <= l && l <= line);
                    let near = match rule.answered {
                        _ if view && rule.category == "xss" => l == line,
                        Answered::FromAbove if l > line => false,
                        // What is spliced was checked before the splice, or not at all.
                        Answered::ByAllowlist => {
                            l <= line
                                && (line - l <= self.sanitizer_window
                                    || on_the_path
                                    || allowlisted_above(san))
                        }
                        // A bind or parse on the next clause's line is about that clause; a
                        // column allowlist above is about the statement.
                        Answered::OnItsLine => l == line || on_the_path || allowlisted_above(san),
                        // An allowlist maps the value it checks before that value is used:
                        // one below the sink is about a later statement's value (an inline
                        // `order(SORTS.include?(o) ? o : :name)` after an interpolated `where`).
                        Answered::Nearby | Answered::FromAbove => {
                            (l.abs_diff(line) <= self.sanitizer_window
                                && !(san.allowlist && l > line))
                                || owner_check
                                || on_the_path
                                || allowlisted_above(san)
                        }
                    };
                    // A spliced identifier is answered by an allowlist, never by binding
                    // the statement's values or escaping them.
                    let same = cat == rule.category && (!by_allowlist || san.allowlist);
                    (same || (cat == "input" && shape_matters(&rule.category))) && near
                })
            })
            .flatten();
        let mut m = 1.0;
        if answered_by.is_some() {
            // Sanitised input no longer counts as attacker-controlled for this sink.
            m *= self.sanitizer_factor;
        } else if nearest_source.is_some() {
            m *= self.taint_boost;
        } else if sources.iter().any(|&s| below(s, self.taint_window)) {
            m *= self.source_below_boost;
        } else if fed_unchecked {
            m *= self.parameter_boost;
        } else if !sources.is_empty() {
            m *= self.source_in_file_boost;
        }
        if entries.iter().any(|&e| above(e, self.entry_window)) {
            m *= self.entry_boost;
        } else if !entries.is_empty() {
            m *= self.entry_in_file_boost;
        }
        (
            m,
            answered_by.filter(|san| san.allowlist).map(|san| san.line),
        )
    }
}

/// A sanitizer's hit: its category, its line, and whether it is an allowlist that
/// answers a spliced identifier (see [`Rule::allowlist`]).
struct Sanitizer<'a> {
    category: &'a str,
    line: u32,
    allowlist: bool,
}

/// Per (key, category), the sink rule that weighs most in its context and its
/// multiplier, over the sinks `key` gives one; on a tie the structurally decided finding
/// speaks for them.
fn heaviest_by<'r>(
    rules: &'r [Rule],
    sinks: &[(&RawHit, f64, Option<u32>)],
    key: impl Fn(&RawHit, Option<u32>) -> Option<u32>,
) -> HashMap<(u32, &'r str), (usize, f64)> {
    let mut heaviest: HashMap<(u32, &str), (usize, f64)> = HashMap::new();
    for &(hit, m, by) in sinks {
        let Some(k) = key(hit, by) else { continue };
        let best = heaviest
            .entry((k, rules[hit.rule].category.as_str()))
            .or_insert((hit.rule, m));
        let (w, bw) = (rules[hit.rule].weight * m, rules[best.0].weight * best.1);
        if w > bw || (w == bw && decided(&rules[hit.rule]) && !decided(&rules[best.0])) {
            *best = (hit.rule, m);
        }
    }
    heaviest
}

/// What the multiplier of a sink reads of the rest of the file.
struct Context<'a> {
    sources: &'a [u32],
    entries: &'a [u32],
    sanitizers: &'a [Sanitizer<'a>],
    fed: &'a [u32],
    functions: &'a [u32],
    view: bool,
}

/// Weaknesses a caller's value decides: those of input shapes, and object lookups by a
/// key the caller passes. Not prototype pollution: a helper that splits a key path is
/// as often writing into a `Map`, and the writes that do reach a prototype have rules
/// of their own.
pub(crate) fn handed_down(category: &str) -> bool {
    (shape_matters(category) && category != "prototype-pollution") || category == "authz"
}

/// Authorization bypass through a user-controlled key (IDOR): the only weakness an
/// owner check answers.
const OBJECT_LOOKUP_CWE: &str = "CWE-639";

/// Integer overflow (a size product that wraps): only a check above it can prevent it.
const WRAPPING_PRODUCT_CWE: &str = "CWE-190";

/// How much more a configuration finding weighs in a production configuration file.
const PRODUCTION_CONFIG_BOOST: f64 = 1.5;

/// Whether a sanitizer of `category` can bear on a file whose sinks are of
/// `sinks`' categories: one of the same kind, or an input check (a cast, a shape
/// test), which also withholds the boost of a sink fed by its function's parameter.
pub(crate) fn may_answer(category: &str, sinks: &[&str]) -> bool {
    !sinks.is_empty() && (category == "input" || sinks.contains(&category))
}

/// Whether a sink of `category` is harmless once its input is parsed into a number,
/// UUID or a validated shape (the "input" sanitizers): true for injections, whose
/// payload is text; false for authorization, configuration, crypto and memory flaws,
/// where `Atoi(id)` fetches another user's record or indexes past a buffer just the same.
/// False for XXE too: the payload is the XML document itself, and a number parsed out of
/// the parsed tree (`(int) $node->nodeValue`) says nothing about its entities.
fn shape_matters(category: &str) -> bool {
    matches!(
        category,
        "injection"
            | "xss"
            | "path-traversal"
            | "command-execution"
            | "code-execution"
            | "ssrf"
            | "open-redirect"
            | "deserialization"
            | "prototype-pollution"
            | "denial-of-service"
    )
}

/// Whether a structural C check decided the finding (bounds checks included), so regex
/// sanitizers nearby say nothing more about it.
fn decided(rule: &Rule) -> bool {
    rule.structural
        .as_ref()
        .is_some_and(|s| s.kind == crate::structural::Kind::Memory)
}

#[cfg(test)]
mod tests;
