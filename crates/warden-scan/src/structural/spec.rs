//! Structural rule packs (`rules/structural/*.toml`): parsing and checking.
//!
//! A structural pack names, once, the sources (where attacker data comes from)
//! and the sanitizers of its language; each rule then picks the groups it uses,
//! lists its sinks (calls, and which of their arguments matter), a label
//! template and examples that must fire and look-alikes that must not. A rule
//! becomes an ordinary [`Rule`] whose `pattern` is its prefilter (the sink names
//! as a regex), so selection (`--rules`), listing, fingerprinting and scoring
//! treat it like any other rule; its [`Spec`] says how to confirm a hit.

use crate::rules::{Pack, Patterns, Role, Rule, RuleError, CATEGORIES};
use crate::Language;
/// A pattern over code text, ASCII classes (code is ASCII where it matters; Unicode
/// classes would make every automaton many times larger).
#[derive(Debug)]
pub(crate) struct Regex(regex::bytes::Regex);

impl Regex {
    fn new(p: &str) -> Result<Regex, regex::Error> {
        regex::bytes::RegexBuilder::new(p)
            .unicode(false)
            .build()
            .map(Regex)
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
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: Header,
    #[serde(default)]
    source: BTreeMap<String, SourceGroup>,
    #[serde(default)]
    sanitizer: BTreeMap<String, SanitizerGroup>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    name: String,
    languages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    id: String,
    kind: Kind,
    title: String,
    cwe: String,
    category: String,
    weight: f64,
    #[serde(default)]
    frameworks: Vec<String>,
    /// Regex run over the whole file first: the rule is in play only where it matches.
    prefilter: String,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    sanitizers: Vec<String>,
    #[serde(default)]
    sinks: Vec<Sink>,
    #[serde(default)]
    create: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    guards: Vec<String>,
    #[serde(default)]
    label: Option<String>,
    /// For `kind = "memory"`: which C check confirms the rule (see `c::CHECKS`).
    #[serde(default)]
    check: Option<String>,
    #[serde(default)]
    help: String,
    examples: Vec<String>,
    #[serde(default)]
    negatives: Vec<String>,
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
    compiled: OnceLock<CompiledPack>,
}

/// A pack's regexes, compiled.
#[derive(Debug)]
pub(crate) struct CompiledPack {
    pub handlers: Vec<(usize, Regex)>,
    pub params: Vec<(usize, Regex)>,
    pub sanitizer_guards: Vec<(usize, Regex)>,
    /// Unanchored union of every source pattern and handler: a file none of them
    /// matches cannot hold a taint flow, and is not parsed for taint rules.
    pub any_source: Option<regex::bytes::Regex>,
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
                c.any_source = crate::rules::compile(&raw).ok();
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
    compiled: OnceLock<CompiledSpec>,
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

/// The structural packs compiled into the binary: (file name, TOML source).
pub const BUILTIN_SOURCES: &[(&str, &str)] = &[
    (
        "structural/python.toml",
        include_str!("../../rules/structural/python.toml"),
    ),
    (
        "structural/javascript.toml",
        include_str!("../../rules/structural/javascript.toml"),
    ),
    (
        "structural/go.toml",
        include_str!("../../rules/structural/go.toml"),
    ),
    (
        "structural/java.toml",
        include_str!("../../rules/structural/java.toml"),
    ),
    (
        "structural/php.toml",
        include_str!("../../rules/structural/php.toml"),
    ),
    (
        "structural/c.toml",
        include_str!("../../rules/structural/c.toml"),
    ),
];

/// Every built-in structural pack, parsed and checked.
pub fn builtin_packs() -> Result<Vec<Pack>, RuleError> {
    builtin_packs_as(Patterns::Check)
}

/// Every built-in structural pack, its patterns checked as `patterns` says.
pub(crate) fn builtin_packs_as(patterns: Patterns) -> Result<Vec<Pack>, RuleError> {
    BUILTIN_SOURCES
        .iter()
        .map(|(file, src)| parse_pack_as(file, src, patterns))
        .collect()
}

/// Parses a structural pack's TOML source; `file` names it in errors.
pub fn parse_pack(file: &str, source: &str) -> Result<Pack, RuleError> {
    parse_pack_as(file, source, Patterns::Check)
}

fn parse_pack_as(file: &str, source: &str, patterns: Patterns) -> Result<Pack, RuleError> {
    let parsed: PackFile = toml::from_str(source).map_err(|e| RuleError::Syntax {
        file: file.to_string(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let syntax = |message: String| RuleError::Syntax {
        file: file.to_string(),
        message,
    };
    let mut languages = Vec::new();
    for name in &parsed.pack.languages {
        let lang = Language::from_name(name)
            .ok_or_else(|| syntax(format!("unknown language `{name}` in [pack] languages")))?;
        if !super::supports(lang) {
            return Err(syntax(format!(
                "language `{name}` has no structural analysis"
            )));
        }
        languages.push(lang);
    }
    if languages.is_empty() {
        return Err(syntax("[pack] languages must name at least one".into()));
    }
    if parsed.source.len() > 64 || parsed.sanitizer.len() > 64 {
        return Err(syntax("at most 64 source and 64 sanitizer groups".into()));
    }
    for (name, g) in &parsed.source {
        let field = format!("source.{name}");
        for p in g.matches.iter().chain(&g.handlers).chain(&g.params) {
            check_regex(patterns, p).map_err(|m| syntax(format!("{field}: {m}")))?;
        }
        if g.matches.is_empty() && g.handlers.is_empty() && g.params.is_empty() {
            return Err(syntax(format!(
                "{field}: needs `match`, `handlers` or `params`"
            )));
        }
    }
    for (name, g) in &parsed.sanitizer {
        for p in g.calls.iter().chain(&g.guards) {
            check_regex(patterns, p).map_err(|m| syntax(format!("sanitizer.{name}: {m}")))?;
        }
    }
    let pack = Arc::new(FlowPack {
        id: parsed.pack.id.clone(),
        languages: languages.clone(),
        sources: parsed.source.into_iter().collect(),
        sanitizers: parsed.sanitizer.into_iter().collect(),
        compiled: OnceLock::new(),
    });
    let rules = parsed
        .rules
        .into_iter()
        .map(|e| check_rule(file, &pack, e, patterns))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pack {
        id: parsed.pack.id,
        name: parsed.pack.name,
        languages,
        rules,
    })
}

/// The syntax of a pattern, checked as [`Regex::new`] reads it; its automata are built
/// when a scan first needs the pack (see `FlowPack::compiled`).
fn check_regex(patterns: Patterns, p: &str) -> Result<(), String> {
    patterns.check(p).map_err(|m| format!("`{p}`: {m}"))
}

fn mask(names: &[String], groups: &[(String, impl Sized)], what: &str) -> Result<u64, String> {
    let mut m = 0u64;
    for n in names {
        let i = groups
            .iter()
            .position(|(g, _)| g == n)
            .ok_or_else(|| format!("no {what} group `{n}` in this pack"))?;
        m |= 1 << i;
    }
    Ok(m)
}

fn check_rule(
    file: &str,
    pack: &Arc<FlowPack>,
    e: RuleEntry,
    patterns: Patterns,
) -> Result<Rule, RuleError> {
    let err = |field: &'static str, message: String| RuleError::Field {
        file: file.to_string(),
        rule: e.id.clone(),
        field,
        message,
    };
    if !e.id.starts_with(&format!("{}.", pack.id)) {
        return Err(err("id", format!("must start with `{}.`", pack.id)));
    }
    if !CATEGORIES.contains(&e.category.as_str()) {
        return Err(err(
            "category",
            format!("`{}` is not one of {}", e.category, CATEGORIES.join(", ")),
        ));
    }
    if !(1.0..=10.0).contains(&e.weight) {
        return Err(err("weight", "must be between 1 and 10".into()));
    }
    let digits = e.cwe.strip_prefix("CWE-").unwrap_or("");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            "cwe",
            format!("`{}` is not of the form CWE-<n>", e.cwe),
        ));
    }
    check_regex(patterns, &e.prefilter).map_err(|m| err("prefilter", m))?;
    let sources = mask(&e.sources, &pack.sources, "source").map_err(|m| err("sources", m))?;
    let sanitizers =
        mask(&e.sanitizers, &pack.sanitizers, "sanitizer").map_err(|m| err("sanitizers", m))?;
    for s in &e.sinks {
        for p in std::iter::once(&s.call).chain(&s.when).chain(&s.unless) {
            check_regex(patterns, p).map_err(|m| err("sinks", m))?;
        }
    }
    for p in e.create.iter().chain(&e.use_).chain(&e.guards) {
        check_regex(patterns, p).map_err(|m| err("create/use/guards", m))?;
    }
    match e.kind {
        Kind::Taint if sources == 0 => {
            return Err(err("sources", "a taint rule needs sources".into()))
        }
        Kind::Taint | Kind::Built if e.sinks.is_empty() => {
            return Err(err("sinks", "needs at least one sink".into()))
        }
        Kind::Memory
            if !e
                .check
                .as_deref()
                .is_some_and(|c| super::c::CHECKS.contains(&c)) =>
        {
            return Err(err(
                "check",
                format!(
                    "a memory rule needs `check`, one of {}",
                    super::c::CHECKS.join(", ")
                ),
            ))
        }
        Kind::Unguarded if e.create.is_none() || e.use_.is_none() => {
            return Err(err(
                "create",
                "an unguarded rule needs `create` and `use`".into(),
            ))
        }
        _ => {}
    }
    if e.examples.is_empty() {
        return Err(err("examples", "at least one example must be given".into()));
    }
    let label = e.label.unwrap_or_else(|| {
        match e.kind {
            Kind::Taint => "{source} `{var}` (line {from}) reaches {sink} (line {to})",
            Kind::Built => "{sink} (line {to}) gets a string built from `{var}` (line {from})",
            Kind::Unguarded => {
                "{sink} (line {to}) uses `{var}` made without a secure setting (line {from})"
            }
            Kind::Memory => "{sink} (line {to})",
        }
        .to_string()
    });
    let spec = Spec {
        kind: e.kind,
        pack: Arc::clone(pack),
        sources,
        sanitizers,
        sinks: e.sinks,
        create: e.create,
        use_: e.use_,
        guards: e.guards,
        check: e.check,
        label,
        negatives: e.negatives,
        compiled: OnceLock::new(),
    };
    // Multi-line mode as for regex rules; checked now so a broken prefilter is named here.
    let pattern = format!("(?m:{})", e.prefilter);
    patterns.check(&pattern).map_err(|m| err("prefilter", m))?;
    Ok(Rule {
        id: e.id,
        pack: pack.id.clone(),
        title: e.title,
        cwe: Some(e.cwe),
        category: e.category,
        role: Role::Sink,
        weight: e.weight,
        frameworks: e.frameworks,
        languages: Vec::new(),
        pattern,
        compiled: OnceLock::new(),
        help: e.help,
        examples: e.examples,
        negatives: Vec::new(),
        check: None,
        structural: Some(Arc::new(spec)),
    })
}
