//! Rule packs: data files (one per language family) compiled into the binary.
//!
//! A rule is a regular expression with an id, a CWE, a category, a role and a
//! weight, plus examples that must fire and look-alikes that must not. The
//! packs live in `crates/warden-scan/rules/*.toml`; `pack.rs` parses and checks
//! them, this module holds the types and the registry of all packs.

mod pack;

pub use pack::{parse_pack, RuleError};

use crate::Language;
use regex::bytes::Regex;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// What a rule's match means for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A dangerous operation: the thing an agent should look at.
    Sink,
    /// Attacker-controlled data entering the program (request parameters, argv, message bodies).
    Source,
    /// Where outside input reaches the code: HTTP routes, CLI parsing, message consumers.
    EntryPoint,
    /// A defence that neutralises sinks of the same category nearby (escaping, parameterisation).
    Sanitizer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sink => "sink",
            Role::Source => "source",
            Role::EntryPoint => "entry-point",
            Role::Sanitizer => "sanitizer",
        }
    }
}

/// The vulnerability classes rules are filed under.
pub const CATEGORIES: &[&str] = &[
    "injection",
    "command-execution",
    "code-execution",
    "path-traversal",
    "ssrf",
    "deserialization",
    "xss",
    "xxe",
    "open-redirect",
    "authn",
    "authz",
    "crypto",
    "weak-random",
    "secrets",
    "config",
    "cookie",
    "memory-safety",
    "race-condition",
    "denial-of-service",
    "error-handling",
    "prototype-pollution",
    "input",
];

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id, `<pack>.<name>` (e.g. `python.sql-string-build`).
    pub id: String,
    /// The pack this rule belongs to.
    pub pack: String,
    pub title: String,
    /// e.g. `CWE-89`; `None` for entry points and sources.
    pub cwe: Option<String>,
    pub category: String,
    pub role: Role,
    /// 1–10: how much a match raises a file's score.
    pub weight: f64,
    /// Runs only when one of these frameworks is detected (empty: always).
    pub frameworks: Vec<String>,
    /// Extra languages beyond the pack's own.
    pub languages: Vec<Language>,
    /// The pattern as matched: the rule's own, in multi-line mode.
    pub pattern: String,
    /// Compiled on first use: a scan compiles only the rules that matched somewhere.
    pub(crate) compiled: OnceLock<Result<Regex, String>>,
    pub help: String,
    pub examples: Vec<String>,
    pub negatives: Vec<String>,
    /// A file-level check that decides which of the pattern's matches are hits.
    pub check: Option<Check>,
    /// For a sink: which sanitizers answer it, and from where (see [`Answered`]).
    pub answered: Answered,
    /// For a sanitizer: it is an allowlist (of columns, of keys) that answers a sink
    /// [`Answered::ByAllowlist`], and any statement built below it in its function.
    pub allowlist: bool,
    /// For a structural rule (`rules/structural/*.toml`): how a hit is confirmed. Its
    /// `pattern` is then only the prefilter that puts the rule in play for a file.
    pub structural: Option<std::sync::Arc<crate::structural::Spec>>,
}

/// Which sanitizers answer a sink, and from where. Packs say it with one of
/// `identifier = true`, `spliced = true` or `statement = true` on the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Answered {
    /// Any sanitizer of its category a few lines around it, or on the path from its
    /// input.
    #[default]
    Nearby,
    /// One statement among many alike (`html.append("<h1>").append(t)`, whose pattern
    /// already leaves out a value escaped on its line): a sanitizer on a later line
    /// escapes another statement's value, so only one on its line or above it
    /// (`statement = true`).
    FromAbove,
    /// A value formatted into one clause of a clause-by-clause builder (`'%s'`,
    /// `'{}'`): the neighbouring clauses bind or parse their own values, so only a
    /// sanitizer on its own line, on the path from its source, or a column allowlist
    /// above it (`spliced = true`).
    OnItsLine,
    /// An identifier (a sort column, a table name) or a value between quotes spliced
    /// into the SQL text, which binding the statement's other values and escaping
    /// cannot answer: only an allowlist or an `input` sanitizer (a cast, a strict
    /// check) before it (`identifier = true`).
    ByAllowlist,
}

/// File-level checks a rule can ask for, beyond its pattern matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The pattern finds route declarations; only those with no guard (a sanitizer rule
    /// of category `authz`) next to them count, and only in a file where another route
    /// has one: the auth check its siblings have is missing (see `sibling_guard.rs`).
    SiblingGuard,
}

impl Rule {
    /// The rule as a scan holds it: what matching and scoring read, without the text only
    /// people and tests read (help, examples, look-alikes), which for a thousand rules
    /// is most of their memory and would be held twice, with the packs.
    pub(crate) fn for_matching(&self) -> Rule {
        Rule {
            help: String::new(),
            examples: Vec::new(),
            negatives: Vec::new(),
            ..self.clone()
        }
    }

    /// The compiled pattern. Patterns are compiled without Unicode classes: `\w`, `\s`,
    /// `\b` are ASCII, as code is, which keeps the automata small and fast on any input,
    /// valid UTF-8 or not. The syntax was checked when the pack was parsed, so this fails
    /// only if the automaton exceeds its size limit.
    pub fn regex(&self) -> Result<&Regex, RuleError> {
        self.compiled
            .get_or_init(|| compile(&self.pattern).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| RuleError::Pattern {
                rule: self.id.clone(),
                message: message.replace('\n', " "),
            })
    }
}

/// Whether parsing a pack checks its patterns' syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patterns {
    /// Every pattern is parsed, and a broken one is an error naming its rule and field.
    Check,
    /// The built-in packs: the test suite checks their patterns (see
    /// `builtin_patterns_are_checked_by_the_tests`), so every start of the binary need
    /// not parse them all again; a rule is compiled only when a scan runs it.
    Trust,
}

impl Patterns {
    /// `check_syntax(pattern)`, unless trusted.
    pub(crate) fn check(self, pattern: &str) -> Result<(), String> {
        match self {
            Patterns::Check => check_syntax(pattern),
            Patterns::Trust => Ok(()),
        }
    }
}

/// Checks a pattern's syntax as [`compile`] reads it (bytes, ASCII classes), without
/// building its automata: loading the packs checks every pattern, while a scan compiles
/// only those of rules it runs, so a full compile here made startup pay for them all.
pub(crate) fn check_syntax(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map(drop)
        .map_err(|err| err.to_string().replace('\n', " "))
}

/// Compiles a pattern as rules are matched: bytes, ASCII classes.
pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(1 << 24)
        .build()
}

/// A pack as loaded: its id, the languages it covers (empty: every language) and its rules.
#[derive(Debug, Clone)]
pub struct Pack {
    pub id: String,
    pub name: String,
    /// Empty for the language-independent pack.
    pub languages: Vec<Language>,
    pub rules: Vec<Rule>,
}

impl Pack {
    /// Whether the pack's rules apply to files of `lang`.
    pub fn covers(&self, lang: Language) -> bool {
        self.languages.is_empty() || self.languages.contains(&lang)
    }
}

/// The packs compiled into the binary: (file name, TOML source).
pub const BUILTIN_SOURCES: &[(&str, &str)] = &[
    ("generic.toml", include_str!("../../rules/generic.toml")),
    ("python.toml", include_str!("../../rules/python.toml")),
    (
        "javascript.toml",
        include_str!("../../rules/javascript.toml"),
    ),
    ("go.toml", include_str!("../../rules/go.toml")),
    ("java.toml", include_str!("../../rules/java.toml")),
    ("ruby.toml", include_str!("../../rules/ruby.toml")),
    ("php.toml", include_str!("../../rules/php.toml")),
    ("c.toml", include_str!("../../rules/c.toml")),
    ("csharp.toml", include_str!("../../rules/csharp.toml")),
    ("rust.toml", include_str!("../../rules/rust.toml")),
    ("template.toml", include_str!("../../rules/template.toml")),
    ("sql.toml", include_str!("../../rules/sql.toml")),
    ("config.toml", include_str!("../../rules/config.toml")),
    (
        "server_pages.toml",
        include_str!("../../rules/server_pages.toml"),
    ),
    (
        "ownership/csharp.toml",
        include_str!("../../rules/ownership/csharp.toml"),
    ),
    (
        "ownership/go.toml",
        include_str!("../../rules/ownership/go.toml"),
    ),
    (
        "ownership/java.toml",
        include_str!("../../rules/ownership/java.toml"),
    ),
    (
        "ownership/javascript.toml",
        include_str!("../../rules/ownership/javascript.toml"),
    ),
    (
        "ownership/php.toml",
        include_str!("../../rules/ownership/php.toml"),
    ),
    (
        "ownership/ruby.toml",
        include_str!("../../rules/ownership/ruby.toml"),
    ),
    (
        "ownership/rust.toml",
        include_str!("../../rules/ownership/rust.toml"),
    ),
    (
        "authz/python.toml",
        include_str!("../../rules/authz/python.toml"),
    ),
    (
        "authz/javascript.toml",
        include_str!("../../rules/authz/javascript.toml"),
    ),
    (
        "authz/java.toml",
        include_str!("../../rules/authz/java.toml"),
    ),
    ("authz/php.toml", include_str!("../../rules/authz/php.toml")),
    (
        "authz/csharp.toml",
        include_str!("../../rules/authz/csharp.toml"),
    ),
    ("authz/go.toml", include_str!("../../rules/authz/go.toml")),
    ("races/go.toml", include_str!("../../rules/races/go.toml")),
    (
        "races/java.toml",
        include_str!("../../rules/races/java.toml"),
    ),
    (
        "authz/rust.toml",
        include_str!("../../rules/authz/rust.toml"),
    ),
    (
        "library/javascript.toml",
        include_str!("../../rules/library/javascript.toml"),
    ),
    ("cpp_web.toml", include_str!("../../rules/cpp_web.toml")),
    (
        "clauses/php.toml",
        include_str!("../../rules/clauses/php.toml"),
    ),
    (
        "clauses/csharp.toml",
        include_str!("../../rules/clauses/csharp.toml"),
    ),
    (
        "clauses/ruby.toml",
        include_str!("../../rules/clauses/ruby.toml"),
    ),
    (
        "clauses/rust.toml",
        include_str!("../../rules/clauses/rust.toml"),
    ),
    (
        "arithmetic/c.toml",
        include_str!("../../rules/arithmetic/c.toml"),
    ),
    ("indexes/c.toml", include_str!("../../rules/indexes/c.toml")),
    ("wire/c.toml", include_str!("../../rules/wire/c.toml")),
    (
        "cookies/csharp.toml",
        include_str!("../../rules/cookies/csharp.toml"),
    ),
    (
        "cookies/go.toml",
        include_str!("../../rules/cookies/go.toml"),
    ),
    (
        "cookies/rust.toml",
        include_str!("../../rules/cookies/rust.toml"),
    ),
    ("keys/rust.toml", include_str!("../../rules/keys/rust.toml")),
    (
        "cookies/javascript.toml",
        include_str!("../../rules/cookies/javascript.toml"),
    ),
    (
        "nextjs/javascript.toml",
        include_str!("../../rules/nextjs/javascript.toml"),
    ),
    (
        "races/javascript.toml",
        include_str!("../../rules/races/javascript.toml"),
    ),
    ("races/php.toml", include_str!("../../rules/races/php.toml")),
    (
        "races/ruby.toml",
        include_str!("../../rules/races/ruby.toml"),
    ),
    (
        "passwords/bcrypt.toml",
        include_str!("../../rules/passwords/bcrypt.toml"),
    ),
    (
        "sessions/php.toml",
        include_str!("../../rules/sessions/php.toml"),
    ),
    (
        "injection/javascript.toml",
        include_str!("../../rules/injection/javascript.toml"),
    ),
    (
        "uploads/javascript.toml",
        include_str!("../../rules/uploads/javascript.toml"),
    ),
    (
        "crypto/javascript.toml",
        include_str!("../../rules/crypto/javascript.toml"),
    ),
    (
        "cookies/php.toml",
        include_str!("../../rules/cookies/php.toml"),
    ),
    (
        "cookies/ruby.toml",
        include_str!("../../rules/cookies/ruby.toml"),
    ),
];

/// Every built-in pack, parsed and checked. Fails only if a built-in pack is broken,
/// which the test suite rules out.
pub fn builtin_packs() -> Result<Vec<Pack>, RuleError> {
    let packs = BUILTIN_SOURCES
        .iter()
        .map(|(file, src)| pack::parse_pack_as(file, src, Patterns::Trust))
        .collect::<Result<Vec<_>, _>>()?;
    let mut packs = packs;
    packs.extend(crate::structural::builtin_packs_as(Patterns::Trust)?);
    let mut seen = BTreeSet::new();
    for rule in packs.iter().flat_map(|p| &p.rules) {
        if !seen.insert(rule.id.as_str()) {
            return Err(RuleError::DuplicateId {
                id: rule.id.clone(),
            });
        }
    }
    Ok(packs)
}

/// A fingerprint of the rule sources: a change re-matches every file on the next scan.
pub fn builtin_fingerprint() -> String {
    let mut hasher = blake3::Hasher::new();
    for (file, src) in BUILTIN_SOURCES
        .iter()
        .chain(crate::structural::BUILTIN_SOURCES)
    {
        hasher.update(file.as_bytes());
        hasher.update(src.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_patterns_are_checked_by_the_tests() {
        // Scans load the built-in packs with `Patterns::Trust`: this is the check they skip.
        for (file, src) in BUILTIN_SOURCES {
            let checked = parse_pack(file, src);
            assert!(checked.is_ok(), "{file}: {:?}", checked.err());
        }
        for (file, src) in crate::structural::BUILTIN_SOURCES {
            let checked = crate::structural::parse_pack(file, src);
            assert!(checked.is_ok(), "{file}: {:?}", checked.err());
        }
        // Trusting changes nothing but the check: the same rules, in the same order.
        let ids = |packs: Vec<Pack>| -> Vec<String> {
            packs
                .into_iter()
                .flat_map(|p| p.rules)
                .map(|r| r.id)
                .collect()
        };
        let checked: Vec<Pack> = BUILTIN_SOURCES
            .iter()
            .map(|(file, src)| parse_pack(file, src).expect("checked above"))
            .chain(crate::structural::builtin_packs().expect("checked above"))
            .collect();
        assert_eq!(ids(builtin_packs().expect("loads")), ids(checked));
    }

    #[test]
    fn a_broken_pattern_is_named_only_when_checked() {
        let src = r#"
[pack]
id = "demo"
name = "Demo"
languages = ["c"]

[[rule]]
id = "demo.broken"
title = "broken"
cwe = "CWE-1"
category = "injection"
weight = 5
pattern = 'gets('
examples = ["gets("]
"#;
        let err = parse_pack("demo.toml", src).expect_err("unclosed group");
        assert!(err.to_string().contains("demo.broken"), "{err}");
        assert!(pack::parse_pack_as("demo.toml", src, Patterns::Trust).is_ok());
    }
}
