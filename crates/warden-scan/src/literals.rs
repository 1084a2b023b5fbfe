//! The literals a rule's matches cannot do without, read from its pattern.
//!
//! Most rules cannot match without some literal text: `\beval\(` needs `eval(`,
//! `request\.(?:args|form)` needs `request.args` or `request.form`. For each rule a
//! set of such literals is derived from its pattern's syntax tree, so that every match
//! contains at least one of them, with how far before it a match may start. The
//! analysis only ever over-approximates (literals are folded to ASCII lower case, to be
//! searched case-insensitively), so a rule it rules out can never have matched.

use crate::blank_lines::whitespace_runs;
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use std::collections::BTreeSet;

/// Largest set of exact strings kept while combining; beyond it, the analysis falls
/// back to a required literal of one part.
const MAX_EXACT: usize = 64;
/// Largest bounded repetition (`x{0,2}`, `x{1,3}`) multiplied out into its strings.
const MAX_SMALL_REPEAT: u32 = 3;
/// Largest class expanded into its members (`[Kk]`, `["']`); larger ones are "anything".
const MAX_CLASS: u32 = 16;
/// Literals shorter than this occur in nearly every file: a rule whose best literals
/// are this short is treated as having none.
const MIN_LITERAL: usize = 3;
/// Literals kept per rule: past this the search costs more than the regex it saves.
const MAX_LITERALS: usize = 256;

type Set = BTreeSet<Vec<u8>>;

/// Literals of which every match of a rule contains one, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Literals {
    /// Lower-cased; searched ASCII case-insensitively.
    pub set: Vec<Vec<u8>>,
    /// At most this many bytes lie between the start of a match and the start of its
    /// literal (`None`: unbounded). With a small lead, matches need only be looked for
    /// just before each place a literal occurs, not across the whole file.
    pub lead: Option<usize>,
    /// No newline lies between the start of a match and its literal: matches need only
    /// be looked for from the start of the literal's line.
    pub same_line: bool,
    /// The newlines between the start of a match and its literal lie in at most this
    /// many runs of whitespace (`Some(0)`: `same_line`; `None`: anywhere): matches need
    /// only be looked for from that many non-blank lines above the literal's.
    pub blank_runs: Option<usize>,
    /// No match holds a newline: matches need only be looked for on lines with a literal.
    pub single_line: bool,
    /// Every match starts at the start of a line (`(?m)^…`): with `same_line`, one
    /// place per literal is worth trying.
    pub line_start: bool,
}

/// A requirement: every match holds one of `set`, starting at most `lead` bytes in,
/// with the newlines before it in at most `runs` runs of whitespace.
#[derive(Clone)]
struct Req {
    set: Set,
    lead: Option<usize>,
    runs: Option<usize>,
}

/// What is known of the strings a piece of a pattern matches.
struct Info {
    /// Exactly these strings (lower-cased), when few enough to list.
    exact: Option<Set>,
    /// The best known requirement.
    required: Option<Req>,
}

impl Info {
    fn unknown() -> Info {
        Info {
            exact: None,
            required: None,
        }
    }

    fn exact(set: Set) -> Info {
        let required = usable(&set).then(|| Req {
            set: set.clone(),
            lead: Some(0),
            runs: Some(0),
        });
        Info {
            required,
            exact: Some(set),
        }
    }

    /// The best requirement every match meets.
    fn best(&self) -> Option<Req> {
        let exact = self.exact.as_ref().filter(|s| usable(s)).map(|set| Req {
            set: set.clone(),
            lead: Some(0),
            runs: Some(0),
        });
        better(exact, self.required.clone())
    }
}

/// A set can serve as a requirement only if none of its strings is empty.
fn usable(set: &Set) -> bool {
    !set.is_empty() && set.iter().all(|s| !s.is_empty())
}

/// Keywords and names found in nearly every source file of some language: a literal
/// that is one of them lets its rule run on every file, and costs the search a match
/// every few lines.
const COMMON_WORDS: &[&[u8]] = &[
    b"async",
    b"await",
    b"catch",
    b"class",
    b"const",
    b"def",
    b"else",
    b"err",
    b"error",
    b"false",
    b"for",
    b"from",
    b"func",
    b"function",
    b"import",
    b"int",
    b"interface",
    b"let",
    b"new",
    b"nil",
    b"none",
    b"null",
    b"package",
    b"private",
    b"protected",
    b"public",
    b"return",
    b"self",
    b"static",
    b"str",
    b"string",
    b"struct",
    b"this",
    b"true",
    b"try",
    b"type",
    b"var",
    b"void",
    b"while",
];

/// Whether a set holds a literal from [`COMMON_WORDS`], alone or with the blank
/// that follows or precedes it (`func `, `func\t`: as common as `func`).
fn has_common_word(set: &Set) -> bool {
    set.iter().any(|s| COMMON_WORDS.contains(&s.trim_ascii()))
}

/// The more selective of two requirements: one without a common word
/// ([`COMMON_WORDS`]), then the longer shortest literal, then fewer literals
/// (filtering rules out matters more than where matches start), then the smaller lead.
fn better(a: Option<Req>, b: Option<Req>) -> Option<Req> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let key = |r: &Req| {
                let shortest = r.set.iter().map(Vec::len).min().unwrap_or(0);
                (
                    // Only among literals long enough to search for at all.
                    shortest >= MIN_LITERAL && !has_common_word(&r.set),
                    shortest,
                    usize::MAX - r.set.len(),
                    usize::MAX - r.lead.unwrap_or(usize::MAX),
                )
            };
            Some(if key(&b) > key(&a) { b } else { a })
        }
        (a, None) => a,
        (None, b) => b,
    }
}

/// `req` as seen from a prefix at most `offset` bytes long (`None`: unbounded), whose
/// newlines lie in at most `runs` runs of whitespace (`None`: anywhere).
fn shifted(req: Req, offset: Option<usize>, runs: Option<usize>) -> Req {
    let lead = req.lead.zip(offset).map(|(l, o)| l.saturating_add(o));
    Req {
        set: req.set,
        lead,
        runs: req.runs.zip(runs).and_then(|(a, b)| a.checked_add(b)),
    }
}

/// Whether `hir` can match a string holding a newline.
fn matches_newline(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.contains(&b'\n'),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Repetition(rep) => matches_newline(&rep.sub),
        HirKind::Capture(cap) => matches_newline(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().any(matches_newline),
    }
}

/// Literals of which every match of `hir` contains at least one, lower-cased; `None`
/// when no useful set is known (the rule must run on every file).
pub fn required_literals(hir: &Hir) -> Option<Literals> {
    let req = analyse(hir).best()?;
    let shortest = req.set.iter().map(Vec::len).min()?;
    if shortest < MIN_LITERAL || req.set.len() > MAX_LITERALS {
        return None;
    }
    Some(Literals {
        set: req.set.into_iter().collect(),
        lead: req.lead,
        same_line: req.runs == Some(0),
        blank_runs: req.runs,
        single_line: !matches_newline(hir),
        line_start: starts_lines(hir),
    })
}

/// Whether every match of `hir` starts at the start of the text or just after a `\n`.
fn starts_lines(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Look(look) => matches!(look, Look::Start | Look::StartLF),
        HirKind::Capture(cap) => starts_lines(&cap.sub),
        HirKind::Concat(subs) => subs.first().is_some_and(starts_lines),
        HirKind::Alternation(subs) => subs.iter().all(starts_lines),
        _ => false,
    }
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
                // `x?` matches x's strings or nothing: still exact, so `SECRET(?:_?KEY)?"`
                // needs `secret"`, `secret_key"` or `secretkey"` rather than any `secret`;
                // and `%{0,2}` is one of ``, `%`, `%%`.
                let sub = analyse(&rep.sub).exact;
                return match (sub, rep.max) {
                    (Some(set), Some(max)) if max <= MAX_SMALL_REPEAT => {
                        bounded_powers(&set, 0, max).map_or_else(Info::unknown, Info::exact)
                    }
                    _ => Info::unknown(),
                };
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
            if let (Some(e), Some(max)) = (&sub.exact, rep.max) {
                if max <= MAX_SMALL_REPEAT {
                    if let Some(set) = bounded_powers(e, rep.min, max) {
                        return Info::exact(set);
                    }
                }
            }
            // Both start with the first repetition, where the match starts.
            let power = power.filter(usable).map(|set| Req {
                set,
                lead: Some(0),
                runs: Some(0),
            });
            Info {
                exact: None,
                required: better(power, sub.best()),
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
/// requirement of any run or part holds for the whole, its lead grown by the longest
/// the parts before it can be.
fn concat(subs: &[Hir]) -> Info {
    // The current run of exact parts, and how far into a match it may start.
    let mut run: Option<Set> = Some(Set::from([Vec::new()]));
    let mut run_at = (Some(0), Some(0));
    // How far into a match the current part may start, and in how many runs of
    // whitespace the newlines before it can be.
    let mut at: (Option<usize>, Option<usize>) = (Some(0), Some(0));
    let mut best: Option<Req> = None;
    let mut broken = false;
    let keep_run =
        |best: &mut Option<Req>, run: &Option<Set>, at: (Option<usize>, Option<usize>)| {
            if let Some(set) = run.as_ref().filter(|s| usable(s)) {
                let req = Req {
                    set: set.clone(),
                    lead: at.0,
                    runs: at.1,
                };
                *best = better(best.take(), Some(req));
            }
        };
    for sub in subs {
        let info = analyse(sub);
        match (&run, &info.exact) {
            (Some(r), Some(e)) if r.len() * e.len() <= MAX_EXACT => {
                run = Some(product(r, e));
                // A part alone may still be the better requirement: optional parts
                // multiply a run's strings (`["']?\s?password` holds 21 of them, and
                // `password` two bytes in says as much).
                let part = info.best().map(|req| shifted(req, at.0, at.1));
                best = better(best.take(), part);
            }
            _ => {
                broken = true;
                keep_run(&mut best, &run, run_at);
                let child = info.best();
                // A part whose literals start where it does (`(?:query|or)\s*\(`, or
                // what a factored alternation leaves, `\.(?:query\s*\(|get\s*\(&)`)
                // needs the run before it glued to them: `.query`, `.or`.
                if let (Some(r), Some(req)) = (&run, &child) {
                    if req.lead == Some(0) && r.len() * req.set.len() <= MAX_EXACT {
                        let joined = Req {
                            set: product(r, &req.set),
                            lead: run_at.0,
                            runs: run_at.1,
                        };
                        best = better(best.take(), Some(joined));
                    }
                }
                let child = child.map(|req| shifted(req, at.0, at.1));
                best = better(best.take(), child);
                run = Some(
                    info.exact
                        .clone()
                        .unwrap_or_else(|| Set::from([Vec::new()])),
                );
                // Without exact strings, the next run starts after this part.
                run_at = if info.exact.is_some() {
                    at
                } else {
                    after(at, sub)
                };
            }
        }
        at = after(at, sub);
    }
    if !broken {
        let mut info = Info::exact(run.unwrap_or_default());
        info.required = better(info.required.take(), best);
        return info;
    }
    keep_run(&mut best, &run, run_at);
    Info {
        exact: None,
        required: best,
    }
}

/// Where the part after `sub` may start, given where `sub` may.
fn after(at: (Option<usize>, Option<usize>), sub: &Hir) -> (Option<usize>, Option<usize>) {
    let offset =
        at.0.zip(sub.properties().maximum_len())
            .map(|(o, l)| o.saturating_add(l));
    let runs =
        at.1.zip(whitespace_runs(sub))
            .and_then(|(a, b)| a.checked_add(b));
    (offset, runs)
}

/// The strings of `min` to `max` repetitions of `set`'s, when at most [`MAX_EXACT`].
fn bounded_powers(set: &Set, min: u32, max: u32) -> Option<Set> {
    let mut power = Set::from([Vec::new()]);
    let mut out = Set::new();
    for i in 0..=max {
        if i >= min {
            out.extend(power.iter().cloned());
        }
        if i < max {
            if power.len() * set.len() > MAX_EXACT {
                return None;
            }
            power = product(&power, set);
        }
    }
    (out.len() <= MAX_EXACT).then_some(out)
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
    let required = infos.iter().map(Info::best).try_fold(
        Req {
            set: Set::new(),
            lead: Some(0),
            runs: Some(0),
        },
        |mut acc, r| {
            let r = r?;
            acc.set.extend(r.set);
            acc.lead = acc.lead.zip(r.lead).map(|(a, b)| a.max(b));
            acc.runs = acc.runs.zip(r.runs).map(|(a, b)| a.max(b));
            Some(acc)
        },
    );
    Info { exact, required }
}

#[cfg(test)]
mod tests;
