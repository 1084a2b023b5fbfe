//! Structural rule packs (`rules/structural/*.toml`): what they hold, and their
//! regexes compiled on first use (parsing and checking is `pack_file.rs`).
//!
//! A structural pack names, once, the sources (where attacker data comes from)
//! and the sanitizers of its language; each rule then picks the groups it uses,
//! lists its sinks (calls, and which of their arguments matter), a label
//! template and examples that must fire and look-alikes that must not. A rule
//! becomes an ordinary [`Rule`](crate::rules::Rule) whose `pattern` is its prefilter (the sink names
//! as a regex), so selection (`--rules`), listing, fingerprinting and scoring
//! treat it like any other rule; its [`Spec`] says how to confirm a hit.

use crate::Language;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

/// A pattern over code text, ASCII classes (code is ASCII where it matters; Unicode
/// classes would make every automaton many times larger). Only asked whether it
/// matches, so built as the rules' own patterns are, without capture automata.
#[derive(Debug)]
pub(crate) struct Regex(regex_automata::meta::Regex);

impl Regex {
    fn new(p: &str) -> Result<Regex, Box<regex_automata::meta::BuildError>> {
        crate::matcher::search_regex(p).map(Regex)
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text.as_bytes())
    }
}

/// Several patterns matched in one search.
#[derive(Debug)]
pub(crate) struct RegexSet(regex::bytes::RegexSet);

impl RegexSet {
    fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(ps: I) -> Result<RegexSet, regex::Error> {
        regex::bytes::RegexSetBuilder::new(ps)
            .unicode(false)
            .build()
            .map(RegexSet)
    }

    pub fn matches(&self, text: &str) -> regex::bytes::SetMatches {
        self.0.matches(text.as_bytes())
    }
}

/// What a structural rule confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A value from one of the rule's sources reaches a sink argument, not sanitised on the way.
    Taint,
    /// A sink argument is a string built (concatenation, interpolation, formatting) from a
    /// non-constant value, wherever that value comes from; the whole argument is seen even
    /// when it spans lines.
    Built,
    /// An object made by a `create` call reaches a `use` call with no `guard` call on it
    /// (a parser used without its secure configuration).
    Unguarded,
    /// A C/C++ check decided on the code's structure (`check` names it: a freed pointer
    /// used again, a copy that can overrun its array, a non-literal format string, ...).
    Memory,
}

/// One sink: a call whose resolved callee matches `call`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sink {
    /// Regex over the callee as resolved through imports and aliases (`subprocess.run`,
    /// `child_process.exec`, `$db.query`: `->`, `::` and `?.` read as `.`); anchored.
    pub call: String,
    /// Positional arguments that matter (0-based); empty: every argument.
    #[serde(default)]
    pub args: Vec<usize>,
    /// Keyword arguments that matter (Python `sql=`), beside `args`.
    #[serde(default)]
    pub kwargs: Vec<String>,
    /// The call's whole text must match this (e.g. `shell\s*=\s*True`).
    #[serde(default)]
    pub when: Option<String>,
    /// The call's whole text must not match this.
    #[serde(default)]
    pub unless: Option<String>,
    /// The object the method is called on matters too (`path.read_text()`); with
    /// `receiver`, an empty `args` means no argument matters.
    #[serde(default)]
    pub receiver: bool,
}

/// A named group of sources of a pack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceGroup {
    /// How a hit names it: "request value", "command-line argument".
    pub label: String,
    /// Regexes over an expression's text (whitespace removed, `->`/`::` read as `.`),
    /// anchored at its start: `request\.args`, `\$_GET`.
    #[serde(default, rename = "match")]
    pub matches: Vec<String>,
    /// Regexes over a function's header (decorators, annotations, signature): every
    /// parameter of such a function is a source (route handlers).
    #[serde(default)]
    pub handlers: Vec<String>,
    /// Regex over one parameter's text: such parameters are sources in any function
    /// (`@RequestParam String q`).
    #[serde(default)]
    pub params: Vec<String>,
    /// Parameter names that are never sources even in a handler (`self`, `request`).
    #[serde(default)]
    pub params_except: Vec<String>,
}

/// A named group of sanitizers of a pack.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SanitizerGroup {
    /// Regexes over a callee: its result is clean (`shlex\.quote`, `int`); anchored.
    #[serde(default)]
    pub calls: Vec<String>,
    /// Regexes over a condition (`if`, `unless`, guard clauses): the variables it names
    /// are clean afterwards (`\.startswith\(`, `\bin\s+ALLOWED`).
    #[serde(default)]
    pub guards: Vec<String>,
}

/// What a pack's rules share: its sources and sanitizers, compiled on first use.
#[derive(Debug)]
pub struct FlowPack {
    pub id: String,
    pub languages: Vec<Language>,
    /// Sorted by name; a rule's `sources` mask indexes this.
    pub sources: Vec<(String, SourceGroup)>,
    /// Sorted by name; a rule's `sanitizers` mask indexes this.
    pub sanitizers: Vec<(String, SanitizerGroup)>,
    pub(super) compiled: OnceLock<CompiledPack>,
}

/// A pack's regexes, compiled.
#[derive(Debug)]
pub(crate) struct CompiledPack {
    pub handlers: Vec<(usize, Regex)>,
    pub params: Vec<(usize, Regex)>,
    pub sanitizer_guards: Vec<(usize, Regex)>,
    /// Unanchored union of every source pattern and handler: a file none of them
    /// matches cannot hold a taint flow, and is not parsed for taint rules.
    pub any_source: Option<regex_automata::meta::Regex>,
    /// Parameter names that are never sources, of every group.
    pub params_except: Vec<String>,
    /// Every source pattern in one set (one search per expression), and the group of each.
    pub source_set: Option<RegexSet>,
    pub source_groups: Vec<usize>,
    /// Every sanitizer call pattern in one set, and the group of each.
    pub sanitizer_set: Option<RegexSet>,
    pub sanitizer_groups: Vec<usize>,
}

impl CompiledPack {
    /// The source group an expression's text starts with, if any.
    pub fn source_group(&self, text: &str) -> Option<usize> {
        let set = self.source_set.as_ref()?;
        set.matches(text)
            .iter()
            .next()
            .map(|i| self.source_groups[i])
    }

    /// The sanitizer groups whose call patterns match any of `callees`.
    pub fn sanitizer_mask(&self, callees: &[&str]) -> u64 {
        let Some(set) = &self.sanitizer_set else {
            return 0;
        };
        let mut m = 0u64;
        for c in callees {
            for i in set.matches(c).iter() {
                m |= 1 << self.sanitizer_groups[i];
            }
        }
        m
    }
}

impl FlowPack {
    /// The compiled regexes. Every pattern was checked when the pack was parsed.
    pub(crate) fn compiled(&self) -> &CompiledPack {
        self.compiled.get_or_init(|| {
            let mut c = CompiledPack {
                handlers: Vec::new(),
                params: Vec::new(),
                sanitizer_guards: Vec::new(),
                any_source: None,
                params_except: Vec::new(),
                source_set: None,
                source_groups: Vec::new(),
                sanitizer_set: None,
                sanitizer_groups: Vec::new(),
            };
            let mut source_patterns = Vec::new();
            let mut sanitizer_patterns = Vec::new();
            let mut union = Vec::new();
            for (i, (_, g)) in self.sources.iter().enumerate() {
                for p in &g.matches {
                    source_patterns.push(format!("^(?:{p})"));
                    c.source_groups.push(i);
                    // A source starts an expression: not inside a longer name.
                    union.push(format!(r"(?:^|[^\w$])(?:{p})"));
                }
                for p in &g.handlers {
                    c.handlers.extend(unanchored(p).map(|r| (i, r)));
                    union.push(format!("(?:{p})"));
                }
                for p in &g.params {
                    c.params.extend(unanchored(p).map(|r| (i, r)));
                    union.push(format!("(?:{p})"));
                }
                c.params_except.extend(g.params_except.iter().cloned());
            }
            for (i, (_, g)) in self.sanitizers.iter().enumerate() {
                for p in &g.calls {
                    sanitizer_patterns.push(format!("^(?:{p})$"));
                    c.sanitizer_groups.push(i);
                }
                for p in &g.guards {
                    c.sanitizer_guards.extend(unanchored(p).map(|r| (i, r)));
                }
            }
            c.source_set = RegexSet::new(&source_patterns).ok();
            c.sanitizer_set = RegexSet::new(&sanitizer_patterns).ok();
            if !union.is_empty() {
                // The union runs over raw text, where `.` may still be written `->` or `::`.
                let raw = union.join("|").replace(r"\.", r"(?:\.|->|::|\?\.)");
                c.any_source = crate::matcher::search_regex(&raw).ok();
            }
            c
        })
    }
}

/// How one structural rule confirms a hit.
#[derive(Debug)]
pub struct Spec {
    pub kind: Kind,
    pub pack: Arc<FlowPack>,
    /// Bit i: the pack's source group i feeds this rule.
    pub sources: u64,
    /// Bit i: the pack's sanitizer group i neutralises this rule's flows.
    pub sanitizers: u64,
    pub sinks: Vec<Sink>,
    pub create: Option<String>,
    pub use_: Option<String>,
    pub guards: Vec<String>,
    /// For `kind = "memory"`: the C check that confirms the rule.
    pub check: Option<String>,
    /// With `{source}`, `{sink}`, `{var}`, `{from}`, `{to}`.
    pub label: String,
    /// Look-alikes that must not fire (the examples are the rule's own).
    pub negatives: Vec<String>,
    pub(super) compiled: OnceLock<CompiledSpec>,
}

#[derive(Debug)]
pub(crate) struct CompiledSink {
    pub call: Regex,
    pub when: Option<Regex>,
    pub unless: Option<Regex>,
}

#[derive(Debug)]
pub(crate) struct CompiledSpec {
    pub sinks: Vec<CompiledSink>,
    /// Every sink's `call` in one set: a callee none of them matches is no sink.
    pub sink_set: Option<RegexSet>,
    pub create: Option<Regex>,
    pub use_: Option<Regex>,
    pub guards: Vec<Regex>,
}

impl Spec {
    pub(crate) fn compiled(&self) -> &CompiledSpec {
        self.compiled.get_or_init(|| CompiledSpec {
            sink_set: RegexSet::new(self.sinks.iter().map(|s| format!("^(?:{})$", s.call))).ok(),
            sinks: self
                .sinks
                .iter()
                .filter_map(|s| {
                    Some(CompiledSink {
                        call: anchored(&s.call)?,
                        when: s.when.as_deref().and_then(unanchored),
                        unless: s.unless.as_deref().and_then(unanchored),
                    })
                })
                .collect(),
            create: self.create.as_deref().and_then(anchored),
            use_: self.use_.as_deref().and_then(anchored),
            guards: self.guards.iter().filter_map(|g| unanchored(g)).collect(),
        })
    }

    /// Whether a hit of this rule is a confirmed flow from attacker input into its sink,
    /// which the scorer should rank above a bare dangerous call.
    pub fn taint_confirmed(&self) -> bool {
        self.kind == Kind::Taint
    }
}

/// Matches the whole text (callees).
fn anchored(p: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{p})$")).ok()
}

fn unanchored(p: &str) -> Option<Regex> {
    Regex::new(p).ok()
}
