//! Parsing and checking one rule pack file.

use super::{Answered, Check, Pack, Patterns, Role, Rule, CATEGORIES};
use crate::Language;
use serde::Deserialize;
use std::sync::OnceLock;

/// A rule pack that cannot be used, naming the file, the rule and the field.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule pack {file}: {message}")]
    Syntax { file: String, message: String },
    #[error("rule pack {file}, rule `{rule}`: field `{field}`: {message}")]
    Field {
        file: String,
        rule: String,
        field: &'static str,
        message: String,
    },
    #[error("rule id `{id}` is defined twice")]
    DuplicateId { id: String },
    #[error("unknown rule or pack `{id}` in --rules (see `warden rules` for the list)")]
    UnknownRule { id: String },
    #[error("rule `{rule}`: pattern does not compile: {message}")]
    Pattern { rule: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: PackHeader,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackHeader {
    id: String,
    name: String,
    #[serde(default)]
    languages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    id: String,
    title: String,
    #[serde(default)]
    cwe: Option<String>,
    category: String,
    #[serde(default = "default_role")]
    role: Role,
    weight: f64,
    #[serde(default)]
    frameworks: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    pattern: String,
    #[serde(default)]
    help: String,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    negatives: Vec<String>,
    #[serde(default)]
    check: Option<Check>,
    #[serde(default)]
    identifier: bool,
    #[serde(default)]
    spliced: bool,
    #[serde(default)]
    statement: bool,
}

fn default_role() -> Role {
    Role::Sink
}

/// Parses a pack's TOML source and checks every rule; `file` names it in errors.
pub fn parse_pack(file: &str, source: &str) -> Result<Pack, RuleError> {
    parse_pack_as(file, source, Patterns::Check)
}

/// [`parse_pack`], checking patterns as `patterns` says.
pub(crate) fn parse_pack_as(
    file: &str,
    source: &str,
    patterns: Patterns,
) -> Result<Pack, RuleError> {
    let parsed: PackFile = toml::from_str(source).map_err(|e| RuleError::Syntax {
        file: file.to_string(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let languages = parse_languages(&parsed.pack.languages).map_err(|name| RuleError::Syntax {
        file: file.to_string(),
        message: format!("unknown language `{name}` in [pack] languages"),
    })?;
    let pack_id = parsed.pack.id;
    let rules = parsed
        .rules
        .into_iter()
        .map(|entry| check_rule(file, &pack_id, entry, patterns))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pack {
        id: pack_id,
        name: parsed.pack.name,
        languages,
        rules,
    })
}

fn parse_languages(names: &[String]) -> Result<Vec<Language>, String> {
    names
        .iter()
        .map(|n| Language::from_name(n).ok_or_else(|| n.clone()))
        .collect()
}

fn check_rule(file: &str, pack: &str, e: RuleEntry, patterns: Patterns) -> Result<Rule, RuleError> {
    let field_err = |field: &'static str, message: String| RuleError::Field {
        file: file.to_string(),
        rule: e.id.clone(),
        field,
        message,
    };
    if !e.id.starts_with(&format!("{pack}.")) {
        return Err(field_err("id", format!("must start with `{pack}.`")));
    }
    if !CATEGORIES.contains(&e.category.as_str()) {
        return Err(field_err(
            "category",
            format!("`{}` is not one of {}", e.category, CATEGORIES.join(", ")),
        ));
    }
    if !(1.0..=10.0).contains(&e.weight) {
        return Err(field_err("weight", "must be between 1 and 10".into()));
    }
    if let Some(cwe) = &e.cwe {
        let digits = cwe.strip_prefix("CWE-").unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field_err(
                "cwe",
                format!("`{cwe}` is not of the form CWE-<n>"),
            ));
        }
    } else if e.role == Role::Sink {
        return Err(field_err("cwe", "a sink rule needs a CWE".into()));
    }
    let languages = parse_languages(&e.languages)
        .map_err(|name| field_err("languages", format!("unknown language `{name}`")))?;
    // Multi-line mode so `^`/`$` anchor at line boundaries, as a reader of a rule expects.
    // Only the syntax is checked here; compiling waits until a scan needs the rule.
    let pattern = format!("(?m:{})", e.pattern);
    patterns
        .check(&pattern)
        .map_err(|message| field_err("pattern", message))?;
    if e.examples.is_empty() {
        return Err(field_err(
            "examples",
            "at least one example must be given".into(),
        ));
    }
    let placements = [
        ("identifier", e.identifier, Answered::ByAllowlist),
        ("spliced", e.spliced, Answered::OnItsLine),
        ("statement", e.statement, Answered::FromAbove),
    ];
    let mut answered = Answered::Nearby;
    let mut allowlist = false;
    for (field, set, placement) in placements.into_iter().filter(|&(_, set, _)| set) {
        match e.role {
            // On a sanitizer, `identifier` marks an allowlist that answers such sinks.
            Role::Sanitizer if field == "identifier" => allowlist = set,
            Role::Sink if answered == Answered::Nearby => answered = placement,
            Role::Sink => {
                return Err(field_err(
                    field,
                    "a sink takes one of identifier, spliced and statement".into(),
                ))
            }
            _ => {
                return Err(field_err(
                    field,
                    "only a sink says where its sanitizers stand (and only a sanitizer \
                     that is an allowlist says identifier)"
                        .into(),
                ))
            }
        }
    }
    if e.check.is_some() && e.role != Role::Sink {
        return Err(field_err(
            "check",
            "only a sink rule can have a check".into(),
        ));
    }
    Ok(Rule {
        id: e.id,
        pack: pack.to_string(),
        title: e.title,
        cwe: e.cwe,
        category: e.category,
        role: e.role,
        weight: e.weight,
        frameworks: e.frameworks,
        languages,
        pattern,
        compiled: OnceLock::new(),
        help: e.help,
        examples: e.examples,
        negatives: e.negatives,
        check: e.check,
        answered,
        allowlist,
        structural: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[pack]
id = "demo"
name = "Demo"
languages = ["python"]

[[rule]]
id = "demo.eval"
title = "eval of data"
cwe = "CWE-95"
category = "code-execution"
weight = 7
pattern = '\beval\('
examples = ["eval(x)"]
negatives = ["evaluate(x)"]
"#;

    #[test]
    fn parses_a_valid_pack() {
        let pack = parse_pack("demo.toml", GOOD).expect("valid");
        assert_eq!(pack.rules.len(), 1);
        assert_eq!(pack.rules[0].role, Role::Sink);
        assert!(pack.covers(Language::Python));
        assert!(!pack.covers(Language::Go));
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (GOOD.replace("CWE-95", "95"), "`cwe`"),
            (GOOD.replace("code-execution", "rce"), "`category`"),
            (GOOD.replace("weight = 7", "weight = 70"), "`weight`"),
            (GOOD.replace(r"\beval\(", r"eval("), "`pattern`"),
            (GOOD.replace("demo.eval", "other.eval"), "`id`"),
        ];
        for (src, field) in cases {
            let err = parse_pack("demo.toml", &src).expect_err(field).to_string();
            assert!(err.contains("demo.toml"), "{err}");
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn a_sink_says_once_where_its_sanitizers_stand() {
        let one = GOOD.replace("weight = 7", "weight = 7\nspliced = true");
        let pack = parse_pack("demo.toml", &one).expect("one placement");
        assert_eq!(pack.rules[0].answered, Answered::OnItsLine);
        let two = GOOD.replace(
            "weight = 7",
            "weight = 7\nspliced = true\nidentifier = true",
        );
        let err = parse_pack("demo.toml", &two).expect_err("two").to_string();
        assert!(err.contains("identifier"), "{err}");
        let on_a_source = GOOD
            .replace("cwe = \"CWE-95\"\n", "role = \"source\"\n")
            .replace("weight = 7", "weight = 1\nstatement = true");
        let err = parse_pack("demo.toml", &on_a_source)
            .expect_err("source")
            .to_string();
        assert!(err.contains("statement"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let src = GOOD.replace("weight = 7", "weight = 7\nseverity = 'high'");
        let err = parse_pack("demo.toml", &src)
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("severity"), "{err}");
    }
}
