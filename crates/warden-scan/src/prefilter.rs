//! Which rules could match a file at all, decided by literals instead of regexes.
//!
//! Most rules cannot match without some literal text: `\beval\(` needs `eval(`,
//! `request\.(?:args|form)` needs `request.args` or `request.form`. For each rule a
//! set of such literals is derived from its pattern, so that every match contains at
//! least one of them. One Aho-Corasick pass over a file then says which rules are
//! worth running; the rest are skipped without touching their regex. The analysis only
//! ever over-approximates (literals are folded to ASCII lower case and searched case-
//! insensitively), so a rule it rules out can never have matched. A rule without a
//! useful literal runs on every file, as before.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind};
use std::collections::{BTreeSet, HashMap};

/// Largest set of exact strings kept while combining; beyond it, the analysis falls
/// back to a required literal of one part.
const MAX_EXACT: usize = 64;
/// Largest class expanded into its members (`[Kk]`, `["']`); larger ones are "anything".
const MAX_CLASS: u32 = 16;
/// Literals shorter than this occur in nearly every file: a rule whose best literals
/// are this short is treated as having none.
const MIN_LITERAL: usize = 3;
/// Literals kept per rule: past this the search costs more than the regex it saves.
const MAX_LITERALS: usize = 256;

type Set = BTreeSet<Vec<u8>>;

/// What is known of the strings a piece of a pattern matches.
struct Info {
    /// Exactly these strings (lower-cased), when few enough to list.
    exact: Option<Set>,
    /// Every match contains one of these (lower-cased), when such a set is known.
    required: Option<Set>,
}

impl Info {
    fn unknown() -> Info {
        Info {
            exact: None,
            required: None,
        }
    }

    fn exact(set: Set) -> Info {
        Info {
            required: usable(&set).then(|| set.clone()),
            exact: Some(set),
        }
    }

    /// The best set every match must contain one of.
    fn best(&self) -> Option<&Set> {
        let exact = self.exact.as_ref().filter(|s| usable(s));
        better(exact, self.required.as_ref())
    }
}

/// A set can serve as a requirement only if none of its strings is empty.
fn usable(set: &Set) -> bool {
    !set.is_empty() && set.iter().all(|s| !s.is_empty())
}

/// The more selective of two requirements: longer shortest literal, then fewer literals.
fn better<'a>(a: Option<&'a Set>, b: Option<&'a Set>) -> Option<&'a Set> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let key = |s: &Set| {
                (
                    s.iter().map(Vec::len).min().unwrap_or(0),
                    usize::MAX - s.len(),
                )
            };
            Some(if key(b) > key(a) { b } else { a })
        }
        (a, None) => a,
        (None, b) => b,
    }
}

/// Literals of which every match of `hir` contains at least one, lower-cased; `None`
/// when no useful set is known (the rule must run on every file).
pub fn required_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let info = analyse(hir);
    let set = info.best()?;
    let shortest = set.iter().map(Vec::len).min()?;
    if shortest < MIN_LITERAL || set.len() > MAX_LITERALS {
        return None;
    }
    Some(set.iter().cloned().collect())
}

fn analyse(hir: &Hir) -> Info {
    match hir.kind() {
        // Zero-width: matches the empty string, so it joins its neighbours' literals.
        HirKind::Empty | HirKind::Look(_) => Info::exact(Set::from([Vec::new()])),
        HirKind::Literal(lit) => Info::exact(Set::from([lit.0.to_ascii_lowercase()])),
        HirKind::Class(class) => class_members(class).map_or_else(Info::unknown, Info::exact),
        HirKind::Capture(cap) => analyse(&cap.sub),
        HirKind::Repetition(rep) => {
            if rep.min == 0 {
                return Info::unknown();
            }
            let sub = analyse(&rep.sub);
            // `x{6,}` needs `xxxxxx`: the sub-expression's strings, `min` times over.
            let mut power = sub.exact.clone();
            for _ in 1..rep.min {
                power = match (&power, &sub.exact) {
                    (Some(p), Some(e)) if p.len() * e.len() <= MAX_EXACT => Some(product(p, e)),
                    _ => None,
                };
            }
            if rep.max == Some(rep.min) {
                if let Some(power) = power {
                    return Info::exact(power);
                }
            }
            let power = power.filter(usable);
            let required = better(power.as_ref(), sub.best()).cloned();
            Info {
                exact: None,
                required,
            }
        }
        HirKind::Concat(subs) => concat(subs),
        HirKind::Alternation(subs) => alternation(subs),
    }
}

/// A class's members, lower-cased, when there are few of them.
fn class_members(class: &Class) -> Option<Set> {
    let mut set = Set::new();
    match class {
        Class::Bytes(c) => {
            let count: u32 = c
                .ranges()
                .iter()
                .map(|r| u32::from(r.end() - r.start()) + 1)
                .sum();
            if count == 0 || count > MAX_CLASS {
                return None;
            }
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    set.insert(vec![b.to_ascii_lowercase()]);
                }
            }
        }
        Class::Unicode(c) => {
            let count: u32 = c
                .ranges()
                .iter()
                .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
                .sum();
            if count == 0 || count > MAX_CLASS {
                return None;
            }
            for r in c.ranges() {
                for ch in r.start()..=r.end() {
                    let mut buf = [0; 4];
                    let bytes = ch.encode_utf8(&mut buf).as_bytes();
                    set.insert(bytes.to_ascii_lowercase());
                }
            }
        }
    }
    Some(set)
}

/// Runs of parts with exact strings are multiplied out while small; the best
/// requirement of any run or part holds for the whole.
fn concat(subs: &[Hir]) -> Info {
    let mut run: Option<Set> = Some(Set::from([Vec::new()]));
    let mut best: Option<Set> = None;
    let mut broken = false;
    let keep = |best: &mut Option<Set>, candidate: Option<&Set>| {
        let candidate = candidate.filter(|s| usable(s));
        *best = better(best.as_ref(), candidate).cloned();
    };
    for sub in subs {
        let info = analyse(sub);
        match (&run, &info.exact) {
            (Some(r), Some(e)) if r.len() * e.len() <= MAX_EXACT => {
                run = Some(product(r, e));
            }
            _ => {
                broken = true;
                keep(&mut best, run.as_ref());
                keep(&mut best, info.best());
                run = info.exact.clone();
                if run.is_none() {
                    run = Some(Set::from([Vec::new()]));
                }
            }
        }
    }
    if !broken {
        return Info::exact(run.unwrap_or_default());
    }
    keep(&mut best, run.as_ref());
    Info {
        exact: None,
        required: best,
    }
}

fn product(a: &Set, b: &Set) -> Set {
    let mut out = Set::new();
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.insert(s);
        }
    }
    out
}

/// Every branch must contribute a requirement, or the alternation has none.
fn alternation(subs: &[Hir]) -> Info {
    let infos: Vec<Info> = subs.iter().map(analyse).collect();
    let exact = infos
        .iter()
        .map(|i| i.exact.as_ref())
        .try_fold(Set::new(), |mut acc, e| {
            acc.extend(e?.iter().cloned());
            (acc.len() <= MAX_EXACT).then_some(acc)
        });
    let required = infos
        .iter()
        .map(Info::best)
        .try_fold(Set::new(), |mut acc, r| {
            acc.extend(r?.iter().cloned());
            Some(acc)
        });
    Info { exact, required }
}

/// The literals of many rules in one automaton: which rules may match a text.
#[derive(Debug)]
pub struct Prefilter {
    /// `None` when no rule has a literal: every rule always runs.
    searcher: Option<AhoCorasick>,
    /// Per literal of `searcher`: the rules (caller's indices) it lets run.
    rules_of: Vec<Vec<usize>>,
    /// Rules without a literal: they run on every text.
    always: Vec<usize>,
    rules: usize,
}

impl Prefilter {
    /// `literals[i]` is rule `i`'s requirement (`None`: always runs).
    pub fn new(literals: &[Option<Vec<Vec<u8>>>]) -> Prefilter {
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut patterns: Vec<&[u8]> = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (rule, lits) in literals.iter().enumerate() {
            let Some(lits) = lits else {
                always.push(rule);
                continue;
            };
            for lit in lits {
                let id = *index.entry(lit.as_slice()).or_insert_with(|| {
                    patterns.push(lit.as_slice());
                    rules_of.push(Vec::new());
                    patterns.len() - 1
                });
                rules_of[id].push(rule);
            }
        }
        let searcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .ok()
        };
        if searcher.is_none() {
            // Cannot build (too large): every rule runs, which is slower but still right.
            always = (0..literals.len()).collect();
            rules_of.clear();
        }
        Prefilter {
            searcher,
            rules_of,
            always,
            rules: literals.len(),
        }
    }

    /// The rules that may match `text`, ascending.
    pub fn candidates(&self, text: &[u8]) -> Vec<usize> {
        let mut on = vec![false; self.rules];
        for &r in &self.always {
            on[r] = true;
        }
        if let Some(ac) = &self.searcher {
            let mut seen = vec![false; self.rules_of.len()];
            let mut left = self.rules_of.len();
            for m in ac.find_overlapping_iter(text) {
                let id = m.pattern().as_usize();
                if seen[id] {
                    continue;
                }
                seen[id] = true;
                for &r in &self.rules_of[id] {
                    on[r] = true;
                }
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
        on.iter()
            .enumerate()
            .filter_map(|(i, &b)| b.then_some(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(pattern: &str) -> Option<Vec<String>> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("parses");
        required_literals(&hir).map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8(l).expect("utf8"))
                .collect()
        })
    }

    #[test]
    fn literals_of_common_shapes() {
        assert_eq!(lits(r"\beval\("), Some(vec!["eval(".into()]));
        assert_eq!(
            lits(r"request\.(?:args|form)\b"),
            Some(vec!["request.args".into(), "request.form".into()])
        );
        // Case-insensitive parts fold to lower case instead of multiplying out.
        assert_eq!(lits(r"(?i)PassWord\s*="), Some(vec!["password".into()]));
        // The most selective part of a concatenation wins.
        assert_eq!(
            lits(r"\bos\.system\s*\(\s*[^)]*\+"),
            Some(vec!["os.system".into()])
        );
        // Every branch of an alternation must contribute.
        // Repetitions multiply out what they must repeat.
        assert_eq!(lits(r"x{6,}"), Some(vec!["xxxxxx".into()]));
        assert_eq!(lits(r"(?:ab){2}c"), Some(vec!["ababc".into()]));
        assert_eq!(
            lits(r"\bpickle\.loads\(|\byaml\.load\("),
            Some(vec!["pickle.loads(".into(), "yaml.load(".into()])
        );
    }

    #[test]
    fn no_literal_means_always_run() {
        assert_eq!(lits(r"[A-Z2-7]{16}"), None);
        assert_eq!(
            lits(r"(?:eval\()?x"),
            None,
            "an optional part requires nothing"
        );
        assert_eq!(lits(r"eval\(|\w+\("), None, "a branch without literal");
        assert_eq!(
            lits(r"a\(\s*b"),
            None,
            "literals shorter than 3 bytes are useless"
        );
    }

    #[test]
    fn prefilter_selects_rules_by_literal_in_any_case() {
        let pf = Prefilter::new(&[
            Some(vec![b"eval(".to_vec()]),
            Some(vec![b"password".to_vec(), b"secret".to_vec()]),
            None,
        ]);
        assert_eq!(pf.candidates(b"x = 1"), vec![2]);
        assert_eq!(pf.candidates(b"EVAL(x); SECRET = 1"), vec![0, 1, 2]);
        assert_eq!(pf.candidates(b"my_password"), vec![1, 2]);
    }
}
