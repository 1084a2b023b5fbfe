//! Which rules could match a file at all, decided by literals instead of regexes.
//!
//! The literals of every rule of a language (see [`crate::literals`]) go into one
//! Aho-Corasick automaton. One pass over a file says which rules are worth running,
//! and where their literals occur; the rest are skipped without touching their regex.
//! A rule without a useful literal runs on every file.

use crate::literals::Literals;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::cell::RefCell;
use std::collections::HashMap;

/// The literals of many rules in one automaton: which rules may match a text, and
/// where their literals are.
#[derive(Debug)]
pub struct Prefilter {
    /// `None` when no rule has a literal: every rule always runs. Its patterns are the
    /// literals' prefixes (see [`MAX_LITERAL`]).
    searcher: Option<AhoCorasick>,
    /// Per prefix of `searcher`: the literals (ids into `literals`) that start with it.
    literals_at: Vec<Vec<u32>>,
    /// Every distinct literal, whole, as a prefix's occurrence must continue.
    literals: Vec<Box<[u8]>>,
    /// Per literal: the rules (caller's indices) it lets run.
    rules_of: Vec<Vec<usize>>,
    /// Per rule: its literals (ids into `literals`); empty for rules that always run.
    literals_of: Vec<Vec<u32>>,
    /// Rules without a literal: they run on every text.
    always: Vec<usize>,
}

/// At most this many literal occurrences are remembered per text; past it, texts are
/// searched whole (a file made of one literal gains nothing from its positions).
const MAX_OCCURRENCES: usize = 1 << 16;

/// Literals go into the automaton cut to this many bytes, and an occurrence of the
/// prefix counts once the rest of its literal follows. The DFA's tables grow with the
/// prefixes' states, not the literals': cut to four bytes they take a quarter of the
/// memory of eight (ragflow: 1.9 MB against 7), and checking the rest costs one
/// comparison per prefix found, which measured no slower. Cutting without the check
/// made rules run, and windows open, wherever a prefix alone occurred.
const MAX_LITERAL: usize = 4;

/// The lower-casing buffer keeps at most this much between texts: a large file's
/// copy is not held for the rest of the scan.
const KEPT_LOWER: usize = 256 << 10;

thread_local! {
    /// Per thread, the text being searched, ASCII lower-cased (same length, same offsets).
    static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with `text` ASCII lower-cased (same length, same offsets), in this
/// thread's buffer.
fn with_lower_cased<R>(text: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    LOWER.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            buf.extend(text.iter().map(u8::to_ascii_lowercase));
            let out = f(&buf);
            buf.clear();
            buf.shrink_to(KEPT_LOWER);
            out
        }
        Err(_) => f(&text.to_ascii_lowercase()),
    })
}

/// What a pass of a [`Prefilter`] over one text found.
#[derive(Debug)]
pub struct Found {
    /// Rules that may match, ascending.
    pub candidates: Vec<usize>,
    /// (literal id, start offset) of every literal occurrence, sorted; `None` past
    /// [`MAX_OCCURRENCES`].
    occurrences: Option<Vec<(u32, u32)>>,
}

impl Prefilter {
    /// `literals[i]` is rule `i`'s requirement (`None`: always runs). `dense` builds the
    /// faster automaton with the larger tables: for the languages most of a tree is
    /// written in, not for configuration, templates, shell or SQL scripts.
    pub fn new(literals: &[Option<&Literals>], dense: bool) -> Prefilter {
        let mut prefix_index: HashMap<&[u8], u32> = HashMap::new();
        let mut literal_index: HashMap<&[u8], u32> = HashMap::new();
        let mut patterns: Vec<&[u8]> = Vec::new();
        let mut literals_at: Vec<Vec<u32>> = Vec::new();
        let mut whole: Vec<Box<[u8]>> = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        let mut literals_of: Vec<Vec<u32>> = vec![Vec::new(); literals.len()];
        let mut always = Vec::new();
        for (rule, lits) in literals.iter().enumerate() {
            let Some(lits) = lits else {
                always.push(rule);
                continue;
            };
            for lit in &lits.set {
                let id = match literal_index.get(lit.as_slice()) {
                    Some(&id) => id,
                    None => {
                        let id = u32::try_from(whole.len()).unwrap_or(u32::MAX);
                        literal_index.insert(lit, id);
                        whole.push(lit.as_slice().into());
                        rules_of.push(Vec::new());
                        let prefix = &lit[..lit.len().min(MAX_LITERAL)];
                        let at = *prefix_index.entry(prefix).or_insert_with(|| {
                            patterns.push(prefix);
                            literals_at.push(Vec::new());
                            u32::try_from(patterns.len() - 1).unwrap_or(u32::MAX)
                        });
                        literals_at[at as usize].push(id);
                        id
                    }
                };
                rules_of[id as usize].push(rule);
                literals_of[rule].push(id);
            }
        }
        let searcher = if patterns.is_empty() {
            None
        } else {
            // Case-sensitive over lower-cased text (see `scan`): an automaton folding case
            // itself carries both cases' transitions in every state, and was a tenth
            // slower to step through.
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                // A DFA: an NFA follows failure links and searches its sparse states at
                // most bytes, and ran twice the instructions over a tree. Its tables are
                // megabytes, which the literals' cut (`MAX_LITERAL`) and languages sharing
                // one matcher keep within the memory budget; the few files of the other
                // languages get the compact NFA, a fifth of the size.
                .kind(Some(if dense {
                    AhoCorasickKind::DFA
                } else {
                    AhoCorasickKind::ContiguousNFA
                }))
                .build(&patterns)
                .ok()
        };
        if searcher.is_none() {
            // Cannot build (too large): every rule runs, which is slower but still right.
            always = (0..literals.len()).collect();
            rules_of.clear();
            literals_at.clear();
            whole.clear();
            literals_of.iter_mut().for_each(Vec::clear);
        }
        Prefilter {
            searcher,
            literals_at,
            literals: whole,
            rules_of,
            literals_of,
            always,
        }
    }

    /// One pass over `text`: the rules that may match it, and where their literals are.
    pub fn scan(&self, text: &[u8]) -> Found {
        let mut on = vec![false; self.literals_of.len()];
        for &r in &self.always {
            on[r] = true;
        }
        let mut occurrences = Some(Vec::new());
        if let Some(ac) = &self.searcher {
            let mut seen = vec![false; self.rules_of.len()];
            with_lower_cased(text, |lower| {
                for m in ac.find_overlapping_iter(lower) {
                    let rest = &lower[m.start()..];
                    for &id in &self.literals_at[m.pattern().as_usize()] {
                        if !rest.starts_with(&self.literals[id as usize]) {
                            continue;
                        }
                        if let Some(occ) = &mut occurrences {
                            match u32::try_from(m.start()) {
                                Ok(start) if occ.len() < MAX_OCCURRENCES => occ.push((id, start)),
                                _ => occurrences = None,
                            }
                        }
                        if !seen[id as usize] {
                            seen[id as usize] = true;
                            for &r in &self.rules_of[id as usize] {
                                on[r] = true;
                            }
                        }
                    }
                }
            });
        }
        if let Some(occ) = &mut occurrences {
            occ.sort_unstable();
        }
        Found {
            candidates: on
                .iter()
                .enumerate()
                .filter_map(|(i, &b)| b.then_some(i))
                .collect(),
            occurrences,
        }
    }

    /// The rules that may match `text`, ascending.
    #[cfg(test)]
    pub fn candidates(&self, text: &[u8]) -> Vec<usize> {
        self.scan(text).candidates
    }

    /// Where `rule`'s literals start in the text `found` came from, ascending; `None`
    /// if not known (the rule has no literals, or the text had too many).
    pub fn occurrences(&self, found: &Found, rule: usize) -> Option<Vec<usize>> {
        let occ = found.occurrences.as_ref()?;
        let ids = &self.literals_of[rule];
        if ids.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for &id in ids {
            let from = occ.partition_point(|&(i, _)| i < id);
            let to = occ.partition_point(|&(i, _)| i <= id);
            out.extend(occ[from..to].iter().map(|&(_, at)| at as usize));
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilter_selects_rules_by_literal_in_any_case() {
        let eval = Literals {
            set: vec![b"eval(".to_vec()],
            lead: Some(0),
            same_line: true,
            blank_runs: Some(0),
            single_line: true,
            line_start: false,
        };
        let secret = Literals {
            set: vec![b"password".to_vec(), b"secret".to_vec()],
            lead: None,
            same_line: false,
            blank_runs: None,
            single_line: false,
            line_start: false,
        };
        let pf = Prefilter::new(&[Some(&eval), Some(&secret), None], true);
        assert_eq!(pf.candidates(b"x = 1"), vec![2]);
        assert_eq!(pf.candidates(b"EVAL(x); SECRET = 1"), vec![0, 1, 2]);
        assert_eq!(pf.candidates(b"my_password"), vec![1, 2]);
        let text = b"Secret, eval(a), password=secret";
        let found = pf.scan(text);
        assert_eq!(pf.occurrences(&found, 0), Some(vec![8]));
        assert_eq!(pf.occurrences(&found, 1), Some(vec![0, 17, 26]));
        assert_eq!(pf.occurrences(&found, 2), None, "no literals, no positions");
        // Bytes past ASCII are not folded and keep every offset where it was.
        let text = "é EvAL(x) PassWord ÉVAL(".as_bytes();
        let found = pf.scan(text);
        assert_eq!(found.candidates, vec![0, 1, 2]);
        assert_eq!(pf.occurrences(&found, 0), Some(vec![3]), "É is no E");
        assert_eq!(pf.occurrences(&found, 1), Some(vec![11]));
    }

    #[test]
    fn a_long_literal_is_found_by_its_prefix_at_its_own_start() {
        let long = Literals {
            set: vec![b"verify_signature".to_vec()],
            lead: Some(0),
            same_line: true,
            blank_runs: Some(0),
            single_line: true,
            line_start: false,
        };
        let pf = Prefilter::new(&[Some(&long)], false);
        let text = b"opts = {'verify_signature': False}";
        let found = pf.scan(text);
        assert_eq!(found.candidates, vec![0]);
        assert_eq!(pf.occurrences(&found, 0), Some(vec![9]));
        // The prefix alone is not the literal: the rule does not run.
        assert!(pf.candidates(b"verify_s").is_empty());
        assert!(pf.candidates(b"verify_signatur").is_empty());
        assert_eq!(pf.candidates(b"VERIFY_SIGNATURES"), vec![0]);
    }

    #[test]
    fn literals_sharing_a_prefix_each_let_only_their_own_rules_run() {
        let lits = |set: &[&[u8]]| Literals {
            set: set.iter().map(|l| l.to_vec()).collect(),
            lead: Some(0),
            same_line: true,
            blank_runs: Some(0),
            single_line: true,
            line_start: false,
        };
        let signature = lits(&[b"verify_signature"]);
        let ssl = lits(&[b"verify_ssl", b"verify="]);
        let short = lits(&[b"veri"]);
        let pf = Prefilter::new(&[Some(&signature), Some(&ssl), Some(&short)], true);
        let text = b"verify_ssl = False; verify=no";
        let found = pf.scan(text);
        assert_eq!(found.candidates, vec![1, 2]);
        assert_eq!(pf.occurrences(&found, 1), Some(vec![0, 20]));
        assert_eq!(pf.occurrences(&found, 2), Some(vec![0, 20]));
        assert_eq!(pf.occurrences(&found, 0), Some(vec![]));
        assert_eq!(pf.candidates(b"Verify_Signature"), vec![0, 2]);
    }
}
