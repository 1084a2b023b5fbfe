//! Evaluating every applicable rule over a file's content in one pass.
//!
//! Per language, all rules that apply are compiled into one `RegexSet`: a single
//! scan of the content says which rules match at all, and only those rules are
//! run again to find where. Most files match few rules, so the second step is cheap.
//! Matching works on bytes, so content need not be valid UTF-8.

use crate::rules::{Role, Rule};
use crate::Language;
use regex::bytes::RegexSet;
use std::collections::HashMap;

/// At most this many hits of one rule are kept per file: more adds nothing to the score.
const MAX_HITS_PER_RULE: usize = 20;
/// Rules per `RegexSet`. One set over a whole pack (100+ patterns) has so many DFA
/// states that its lazy DFA overflows its cache and thrashes, so every added rule made
/// every file slower; several smaller sets each stay cached and are ~40x faster in all.
const RULES_PER_SET: usize = 48;
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
}

/// The selected rules, compiled per language.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    per_language: HashMap<Language, LanguageMatcher>,
}

#[derive(Debug)]
struct LanguageMatcher {
    /// The language's rules, in chunks of at most [`RULES_PER_SET`].
    sets: Vec<RuleChunk>,
}

#[derive(Debug)]
struct RuleChunk {
    set: RegexSet,
    /// Position in `set` → index into `rules`.
    rule_index: Vec<usize>,
}

impl RuleSet {
    /// Compiles `rules` for each of `languages`; `applies(rule, lang)` says whether a rule
    /// runs on a language. Languages left out match nothing (a re-scan that reads no
    /// files of a language does not pay for compiling its rules).
    pub fn compile(
        rules: Vec<Rule>,
        languages: impl IntoIterator<Item = Language>,
        applies: impl Fn(&Rule, Language) -> bool,
    ) -> Result<RuleSet, regex::Error> {
        let mut per_language = HashMap::new();
        for lang in languages {
            let rule_index: Vec<usize> = (0..rules.len())
                .filter(|&i| applies(&rules[i], lang))
                .collect();
            if rule_index.is_empty() {
                continue;
            }
            let sets = rule_index
                .chunks(RULES_PER_SET)
                .map(|chunk| {
                    let set = regex::bytes::RegexSetBuilder::new(
                        chunk.iter().map(|&i| rules[i].pattern.as_str()),
                    )
                    .unicode(false)
                    .size_limit(1 << 26)
                    .dfa_size_limit(1 << 24)
                    .build()?;
                    Ok(RuleChunk {
                        set,
                        rule_index: chunk.to_vec(),
                    })
                })
                .collect::<Result<Vec<_>, regex::Error>>()?;
            per_language.insert(lang, LanguageMatcher { sets });
        }
        Ok(RuleSet {
            rules,
            per_language,
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
        let Some(matcher) = self.per_language.get(&lang) else {
            return Vec::new();
        };
        let matched: Vec<usize> = matcher
            .sets
            .iter()
            .flat_map(|chunk| {
                chunk
                    .set
                    .matches(content)
                    .into_iter()
                    .map(|pos| chunk.rule_index[pos])
            })
            .collect();
        if matched.is_empty() {
            return Vec::new();
        }
        let lines = LineIndex::new(content);
        let mut hits = Vec::new();
        for rule_idx in matched {
            let rule = &self.rules[rule_idx];
            let mut kept = 0;
            let regex = match rule.regex() {
                Ok(regex) => regex,
                Err(err) => {
                    // Cannot happen for packs that pass the test suite; never fatal to a scan.
                    tracing::warn!("{err}");
                    continue;
                }
            };
            for m in regex.find_iter(content) {
                // Patterns may begin with `\s` or `[^\w]`, which can match the newline
                // before the code: the hit belongs to the line of its first visible byte.
                let start = m
                    .as_bytes()
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .map_or(m.start(), |i| m.start() + i);
                let (line_no, line) = lines.line_of(content, start);
                let line = String::from_utf8_lossy(line);
                if rule.category != "secrets" && is_comment(&line) {
                    continue;
                }
                hits.push(RawHit {
                    rule: rule_idx,
                    line: line_no,
                    snippet: snippet(&line),
                });
                kept += 1;
                if kept == MAX_HITS_PER_RULE {
                    break;
                }
            }
        }
        hits.sort_by_key(|h| (h.line, h.rule));
        hits
    }

    /// Whether any selected rule plays `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.rules.iter().any(|r| r.role == role)
    }
}

/// Start offsets of lines, for turning a byte offset into a line number.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(content: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', content).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line number and the text of the line holding `offset`.
    fn line_of<'c>(&self, content: &'c [u8], offset: usize) -> (u32, &'c [u8]) {
        let idx = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[idx];
        let end = self
            .starts
            .get(idx + 1)
            .map_or(content.len(), |&next| next - 1);
        let line = &content[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (u32::try_from(idx + 1).unwrap_or(u32::MAX), line)
    }
}

/// A line that is only a comment: its matches are talk about code, not code.
fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//")
        || t.starts_with('#') && !t.starts_with("#include") && !t.starts_with("#[")
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
mod tests {
    use super::*;
    use crate::rules::parse_pack;

    fn demo_rules() -> Vec<Rule> {
        let src = r#"
[pack]
id = "demo"
name = "Demo"
languages = ["python"]

[[rule]]
id = "demo.eval"
title = "eval"
cwe = "CWE-95"
category = "code-execution"
weight = 7
pattern = '\beval\('
examples = ["eval(x)"]

[[rule]]
id = "demo.key"
title = "key"
cwe = "CWE-798"
category = "secrets"
weight = 7
pattern = 'SECRET_KEY\s*='
examples = ["SECRET_KEY = 'x'"]
"#;
        parse_pack("demo.toml", src).expect("valid").rules
    }

    #[test]
    fn rules_past_the_first_set_are_matched_with_their_own_index() {
        let mut src =
            String::from("[pack]\nid = \"many\"\nname = \"Many\"\nlanguages = [\"python\"]\n");
        let count = RULES_PER_SET * 2 + 3;
        for i in 0..count {
            src.push_str(&format!(
                "[[rule]]\nid = \"many.r{i}\"\ntitle = \"t\"\ncwe = \"CWE-1\"\ncategory = \"injection\"\nweight = 5\npattern = '\\bcall{i}\\('\nexamples = [\"call{i}(x)\"]\n"
            ));
        }
        let rules = parse_pack("many.toml", &src).expect("valid").rules;
        let set =
            RuleSet::compile(rules, Language::ALL, |_, l| l == Language::Python).expect("compiles");
        let last = count - 1;
        let content = format!("call0(a)\ncall{RULES_PER_SET}(b)\ncall{last}(c)\n");
        let got: Vec<(String, u32)> = set
            .find(Language::Python, content.as_bytes())
            .iter()
            .map(|h| (set.rules()[h.rule].id.clone(), h.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("many.r0".to_string(), 1),
                (format!("many.r{RULES_PER_SET}"), 2),
                (format!("many.r{last}"), 3),
            ]
        );
    }

    #[test]
    fn finds_lines_of_every_matching_rule() {
        let set = RuleSet::compile(demo_rules(), Language::ALL, |_, l| l == Language::Python)
            .expect("compiles");
        let content = "import os\nx = eval(y)\r\nSECRET_KEY = 'abc'\n";
        let hits = set.find(Language::Python, content.as_bytes());
        let got: Vec<(&str, u32, &str)> = hits
            .iter()
            .map(|h| (set.rules()[h.rule].id.as_str(), h.line, h.snippet.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("demo.eval", 2, "x = eval(y)"),
                ("demo.key", 3, "SECRET_KEY = 'abc'")
            ]
        );
        assert!(set.find(Language::Go, content.as_bytes()).is_empty());
    }

    #[test]
    fn comments_do_not_count_except_for_secrets() {
        let set = RuleSet::compile(demo_rules(), Language::ALL, |_, _| true).expect("compiles");
        let content = "# never call eval(input)\n# SECRET_KEY = 'leaked'\n";
        let hits = set.find(Language::Python, content.as_bytes());
        assert_eq!(hits.len(), 1);
        assert_eq!(set.rules()[hits[0].rule].id, "demo.key");
    }

    #[test]
    fn invalid_utf8_is_matched_and_snippets_stay_text() {
        let set =
            RuleSet::compile(demo_rules(), [Language::Python], |_, _| true).expect("compiles");
        let content = b"# caf\xe9\nx = eval(\xff y)\n";
        let hits = set.find(Language::Python, content);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 2);
        assert_eq!(hits[0].snippet, "x = eval(\u{fffd} y)");
    }

    #[test]
    fn languages_left_out_match_nothing() {
        let set = RuleSet::compile(demo_rules(), [Language::Go], |_, _| true).expect("compiles");
        assert!(set.find(Language::Python, b"eval(x)").is_empty());
        assert!(!set.find(Language::Go, b"eval(x)").is_empty());
    }

    #[test]
    fn a_match_starting_with_a_newline_belongs_to_the_next_line() {
        let src = r#"
[pack]
id = "demo"
name = "Demo"
languages = ["c"]

[[rule]]
id = "demo.gets"
title = "gets"
cwe = "CWE-242"
category = "memory-safety"
weight = 7
pattern = '(?:^|[^\w])gets\('
examples = ["gets(buf)"]
"#;
        let rules = parse_pack("demo.toml", src).expect("valid").rules;
        let set = RuleSet::compile(rules, [Language::C], |_, _| true).expect("compiles");
        let hits = set.find(Language::C, b"// read a line\ngets(buf);\n");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 2);
    }

    #[test]
    fn last_line_without_newline_and_long_lines() {
        let set = RuleSet::compile(demo_rules(), Language::ALL, |_, _| true).expect("compiles");
        let long = format!("eval(\"{}\")", "é".repeat(300));
        let hits = set.find(Language::Python, format!("a\n{long}").as_bytes());
        assert_eq!(hits[0].line, 2);
        assert!(hits[0].snippet.ends_with('…'));
        assert!(hits[0].snippet.len() <= MAX_SNIPPET + '…'.len_utf8());
    }
}
