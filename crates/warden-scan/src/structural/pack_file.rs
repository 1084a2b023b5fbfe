//! Reading a structural pack's TOML (see [`super::spec`] for what a pack holds): the
//! file's shape, and the checks that name a broken rule by its file, id and field.

use super::spec::{FlowPack, Kind, SanitizerGroup, Sink, SourceGroup, Spec};
use crate::rules::{Answered, Pack, Patterns, Role, Rule, RuleError, CATEGORIES};
use crate::Language;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

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
    (
        "structural/cpp.toml",
        include_str!("../../rules/structural/cpp.toml"),
    ),
    (
        "structural/cpp_lifetime.toml",
        include_str!("../../rules/structural/cpp_lifetime.toml"),
    ),
    (
        "structural/c_init.toml",
        include_str!("../../rules/structural/c_init.toml"),
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
        answered: Answered::Nearby,
        allowlist: false,
        structural: Some(Arc::new(spec)),
    })
}
