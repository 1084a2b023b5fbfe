//! Evaluating every applicable rule over a file's content.
//!
//! Per language, the literals each rule needs (see [`crate::literals`]) go into one
//! Aho-Corasick automaton: one pass over the content says which rules could match at
//! all, and only those rules' regexes run, each on its own small automaton. Most files
//! hold the literals of few rules, so most regexes never run; nothing the size of the
//! whole rule set is ever determinised, which kept a single `RegexSet` slow and large.
//! Matching works on bytes, so content need not be valid UTF-8.

use crate::first_bytes::FirstBytes;
use crate::literals::{required_literals, Literals};
use crate::near::{everywhere, literal_lines, near_literals, on_lines, start_windows, Lead};
use crate::prefilter::Prefilter;
use crate::rules::{Role, Rule};
use crate::search_cache::with_caches;
use crate::Language;
use rayon::prelude::*;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Ids of rule sets, never reused within a process.
static NEXT_SET: AtomicU64 = AtomicU64::new(1);

/// At most this many hits of one rule are kept per file: more adds nothing to the score.
const MAX_HITS_PER_RULE: usize = 20;
/// Snippets are cut to this many bytes (on a char boundary).
const MAX_SNIPPET: usize = 200;

/// One match of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RawHit {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// 1-based line.
    pub line: u32,
    pub snippet: String,
    /// Where in the file the rule's regex matched (`None`: decided by the structural
    /// analysis, which reports lines).
    pub span: Option<std::ops::Range<usize>>,
}

/// The selected rules, compiled per language.
#[derive(Debug)]
pub struct RuleSet {
    /// Tells this set's search caches from another's (see [`with_caches`]).
    id: u64,
    rules: Vec<Rule>,
    per_language: HashMap<Language, LanguageRules>,
    /// Per rule, compiled on first use (`None`: does not compile, already reported).
    compiled: Vec<OnceLock<Option<meta::Regex>>>,
    /// Per rule, the bytes its matches can start with, when that narrows the tries.
    first_bytes: Vec<Option<FirstBytes>>,
}

/// A language's matcher, and which of its rules apply to the language when the matcher
/// is shared by a family whose rule lists differ slightly.
#[derive(Debug)]
struct LanguageRules {
    matcher: Arc<LanguageMatcher>,
    /// Position in `rule_index` → whether the rule applies; `None`: all do.
    applies: Option<Vec<bool>>,
}

/// A language and the rules (indexes into the set's) that apply to it.
type OwnRules = (Language, Vec<usize>);

/// Languages whose rule lists are nearly the same (a few rules for one of them only):
/// one automaton over the union serves both, each language skipping the other's rules.
/// Each automaton is a megabyte or two; two per family were past the memory budget.
fn family(lang: Language) -> Language {
    match lang {
        Language::TypeScript => Language::JavaScript,
        Language::Cpp => Language::C,
        other => other,
    }
}

#[derive(Debug)]
struct LanguageMatcher {
    /// Decides, by position in `rule_index`, which rules may match a file.
    prefilter: Prefilter,
    /// Position → index into `rules`.
    rule_index: Vec<usize>,
    /// Position → how far before its literal a match of the rule may start.
    leads: Vec<Option<Lead>>,
}

impl RuleSet {
    /// Prepares `rules` for each of `languages`; `applies(rule, lang)` says whether a rule
    /// runs on a language. Languages left out match nothing (a re-scan that reads no
    /// files of a language does not pay for its rules). Regexes are compiled on first
    /// use, so only rules whose literals occur somewhere are compiled at all.
    pub fn compile(
        rules: Vec<Rule>,
        languages: impl IntoIterator<Item = Language>,
        applies: impl Fn(&Rule, Language) -> bool,
    ) -> Result<RuleSet, regex::Error> {
        let by_language: Vec<(Language, Vec<usize>)> = languages
            .into_iter()
            .map(|lang| {
                let rule_index = (0..rules.len())
                    .filter(|&i| applies(&rules[i], lang))
                    .collect();
                (lang, rule_index)
            })
            .filter(|(_, rule_index): &(Language, Vec<usize>)| !rule_index.is_empty())
            .collect();
        // Reading literals from patterns and building the automata over them is the
        // last step before files are matched: done on every thread of the scan's pool
        // (when called inside it), not one.
        let mut needed = vec![false; rules.len()];
        for &i in by_language.iter().flat_map(|(_, ix)| ix) {
            needed[i] = true;
        }
        let (literals, first_bytes): (Vec<Option<Literals>>, Vec<Option<FirstBytes>>) = (0..rules
            .len())
            .into_par_iter()
            .map(|i| match needed[i] {
                true => rule_literals(&rules[i]),
                false => (None, None),
            })
            .unzip();
        // Languages running the same rules share one matcher, and so do a family's
        // (JavaScript and TypeScript, C and C++) over the union of their rules: its
        // automaton is built, and held in memory, once.
        let mut groups: Vec<(Vec<OwnRules>, Vec<usize>)> = Vec::new();
        for (lang, rule_index) in by_language {
            let joins = groups.iter_mut().find(|(langs, ix)| {
                *ix == rule_index || langs.iter().any(|(l, _)| family(*l) == family(lang))
            });
            match joins {
                Some((langs, ix)) => {
                    if *ix != rule_index {
                        let mut union: Vec<usize> = ix.iter().chain(&rule_index).copied().collect();
                        union.sort_unstable();
                        union.dedup();
                        *ix = union;
                    }
                    langs.push((lang, rule_index));
                }
                None => groups.push((vec![(lang, rule_index.clone())], rule_index)),
            }
        }
        let matchers: Vec<(Vec<OwnRules>, LanguageMatcher)> = groups
            .into_par_iter()
            .map(|(langs, rule_index)| {
                let lits: Vec<Option<&Literals>> =
                    rule_index.iter().map(|&i| literals[i].as_ref()).collect();
                let leads = lits
                    .iter()
                    .map(|l| {
                        l.map(|l| Lead {
                            max: l.lead,
                            blank_runs: l.blank_runs,
                            single_line: l.single_line,
                            line_start: l.line_start,
                        })
                    })
                    .collect();
                let dense = langs.iter().any(|(l, _)| {
                    !matches!(
                        l,
                        Language::Config | Language::Template | Language::Shell | Language::Sql
                    )
                });
                let prefilter = Prefilter::new(&lits, dense);
                let matcher = LanguageMatcher {
                    prefilter,
                    rule_index,
                    leads,
                };
                (langs, matcher)
            })
            .collect();
        let mut per_language = HashMap::new();
        for (langs, matcher) in matchers {
            let matcher = Arc::new(matcher);
            for (lang, own) in langs {
                let applies = (own.len() != matcher.rule_index.len()).then(|| {
                    matcher
                        .rule_index
                        .iter()
                        .map(|i| own.binary_search(i).is_ok())
                        .collect()
                });
                per_language.insert(
                    lang,
                    LanguageRules {
                        matcher: Arc::clone(&matcher),
                        applies,
                    },
                );
            }
        }
        let compiled = rules.iter().map(|_| OnceLock::new()).collect();
        Ok(RuleSet {
            id: NEXT_SET.fetch_add(1, Ordering::Relaxed),
            rules,
            per_language,
            compiled,
            first_bytes,
        })
    }

    /// The compiled rules, in the order hits refer to them.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether any rule applies to `lang`.
    pub fn covers(&self, lang: Language) -> bool {
        self.per_language.contains_key(&lang)
    }

    /// Every hit of every applicable rule in `content`, ordered by line.
    pub fn find(&self, lang: Language, content: &[u8]) -> Vec<RawHit> {
        let Some(LanguageRules { matcher, applies }) = self.per_language.get(&lang) else {
            return Vec::new();
        };
        // (offset of the hit's line, rule, snippet, match), in no particular order yet.
        let mut found: Vec<(usize, usize, String, std::ops::Range<usize>)> = Vec::new();
        let literals = matcher.prefilter.scan(content);
        // Sinks before checks: a sanitizer is looked for only in a file with a sink it
        // can answer (most files have none, and owner checks, allowlists and placeholder
        // values are among the costliest patterns).
        let mut order = literals.candidates.clone();
        order.sort_by_key(|&pos| self.rules[matcher.rule_index[pos]].role == Role::Sanitizer);
        let mut sinks: Option<Vec<&str>> = None;
        with_caches(self.id, self.rules.len(), |caches| {
            for &pos in &order {
                if applies.as_ref().is_some_and(|a| !a[pos]) {
                    continue;
                }
                let rule_idx = matcher.rule_index[pos];
                let rule = &self.rules[rule_idx];
                if rule.role == Role::Sanitizer {
                    let sinks = sinks.get_or_insert_with(|| {
                        found
                            .iter()
                            .map(|&(_, r, _, _)| &self.rules[r])
                            .filter(|r| r.role == Role::Sink)
                            .map(|r| r.category.as_str())
                            .collect()
                    });
                    if !crate::score::may_answer(&rule.category, sinks) {
                        continue;
                    }
                }
                let Some(regex) = self.regex(rule_idx) else {
                    continue;
                };
                // Where matches may start, when few enough places to try one by one, or the
                // lines they can be on, when few enough bytes.
                let at = matcher.leads[pos]
                    .and_then(|lead| Some((lead, matcher.prefilter.occurrences(&literals, pos)?)));
                let first = self.first_bytes[rule_idx].as_ref();
                let near = at
                    .as_ref()
                    .and_then(|(lead, at)| start_windows(content, at, *lead, first));
                let lines = match (&near, &at) {
                    (None, Some((lead, at))) if lead.single_line => literal_lines(content, at),
                    _ => None,
                };
                let cache = caches.get(rule_idx, regex);
                let matches: Box<dyn Iterator<Item = (usize, usize)>> = match (near, lines) {
                    (Some(windows), _) => {
                        let line_start = matcher.leads[pos].is_some_and(|l| l.line_start);
                        Box::new(near_literals(
                            regex, cache, content, windows, first, line_start,
                        ))
                    }
                    (None, Some(lines)) => Box::new(on_lines(regex, cache, content, lines)),
                    (None, None) => Box::new(everywhere(regex, cache, content)),
                };
                let mut kept = 0;
                for (start, end) in matches {
                    // Patterns may begin with `\s` or `[^\w]`, which can match the newline
                    // before the code: the hit belongs to the line of its first visible byte.
                    let start = content[start..end]
                        .iter()
                        .position(|b| !b.is_ascii_whitespace())
                        .map_or(start, |i| start + i);
                    let (line_start, line) = line_at(content, start);
                    let line = String::from_utf8_lossy(line);
                    if rule.category != "secrets" && is_comment(&line, lang) {
                        continue;
                    }
                    found.push((line_start, rule_idx, snippet(&line), start..end));
                    kept += 1;
                    if kept == MAX_HITS_PER_RULE {
                        break;
                    }
                }
            }
        });
        found.sort_by_key(|&(offset, rule, _, _)| (offset, rule));
        // Line numbers are counted once, up to the last hit, only for files with hits.
        let mut line_no: usize = 1;
        let mut counted = 0;
        found
            .into_iter()
            .map(|(offset, rule, snippet, span)| {
                line_no += memchr::memchr_iter(b'\n', &content[counted..offset]).count();
                counted = offset;
                RawHit {
                    rule,
                    line: u32::try_from(line_no).unwrap_or(u32::MAX),
                    snippet,
                    span: Some(span),
                }
            })
            .collect()
    }

    /// Whether any selected rule plays `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.rules.iter().any(|r| r.role == role)
    }

    /// Rule `idx`'s automaton, built on first use as the rule's own regex is (bytes,
    /// ASCII classes), but able to search anchored at a given offset.
    fn regex(&self, idx: usize) -> Option<&meta::Regex> {
        self.compiled[idx]
            .get_or_init(|| {
                let rule = &self.rules[idx];
                let built = search_regex(&rule.pattern);
                // Cannot happen for packs that pass the test suite; never fatal to a scan.
                built
                    .map_err(|err| tracing::warn!("rule `{}`: {err}", rule.id))
                    .ok()
            })
            .as_ref()
    }
}

/// A pattern's automaton for searches that ask only where a match is, not for its
/// groups (bytes, ASCII classes): no capture states in the NFA and no one-pass DFA,
/// which serves capture searches only; hundreds of patterns' worth of both was memory
/// no search used. Searches may be anchored at a given offset.
pub(crate) fn search_regex(pattern: &str) -> Result<meta::Regex, Box<meta::BuildError>> {
    meta::Regex::builder()
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false),
        )
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .nfa_size_limit(Some(1 << 24))
                .which_captures(WhichCaptures::Implicit)
                .onepass(false),
        )
        .build(pattern)
        .map_err(Box::new)
}

/// The literals a rule's matches need (`None`: it must run on every file), and the
/// bytes its matches can start with (`None`: unknown, or nearly any).
fn rule_literals(rule: &Rule) -> (Option<Literals>, Option<FirstBytes>) {
    let parsed = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&rule.pattern);
    match parsed {
        Ok(hir) => (required_literals(&hir), FirstBytes::of(&hir)),
        Err(_) => (None, None),
    }
}

/// The start offset and the text (without `\r\n`) of the line holding `offset`.
fn line_at(content: &[u8], offset: usize) -> (usize, &[u8]) {
    let start = memchr::memrchr(b'\n', &content[..offset]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &content[offset..]).map_or(content.len(), |i| offset + i);
    let line = &content[start..end];
    (start, line.strip_suffix(b"\r").unwrap_or(line))
}

/// A line that is only a comment: its matches are talk about code, not code. In C and
/// C++ a `#` line is a preprocessor directive, code like any other (`#define HASH EVP_md5`).
fn is_comment(line: &str, lang: Language) -> bool {
    let t = line.trim_start();
    let directives = matches!(lang, Language::C | Language::Cpp);
    t.starts_with("//")
        || t.starts_with('#') && !directives && !t.starts_with("#include") && !t.starts_with("#[")
        || t.starts_with("/*")
        || t.starts_with("* ")
        || t == "*"
        || t.starts_with("--")
        || t.starts_with("<!--")
        || t.starts_with("<%--")
        || t.starts_with("<%#")
        || t.starts_with("@*")
        || t.starts_with("{{!--")
}

/// A matched line as the store keeps it: trimmed, cut at `MAX_SNIPPET` bytes.
pub fn snippet(line: &str) -> String {
    let t = line.trim();
    if t.len() <= MAX_SNIPPET {
        return t.to_string();
    }
    let mut end = MAX_SNIPPET;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &t[..end])
}

#[cfg(test)]
mod tests;
