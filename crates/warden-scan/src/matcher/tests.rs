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
fn checks_are_looked_for_only_where_a_sink_they_can_answer_is() {
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
id = "demo.literal-eval"
title = "parsed as a literal"
category = "code-execution"
role = "sanitizer"
weight = 1
pattern = '\bliteral_eval\('
examples = ["literal_eval(x)"]

[[rule]]
id = "demo.cast"
title = "cast"
category = "input"
role = "sanitizer"
weight = 1
pattern = '\bint\('
examples = ["int(x)"]

[[rule]]
id = "demo.placeholder"
title = "placeholder"
category = "secrets"
role = "sanitizer"
weight = 1
pattern = 'changeme'
examples = ["'changeme'"]
"#;
    let rules = parse_pack("demo.toml", src).expect("valid").rules;
    let set = RuleSet::compile(rules, [Language::Python], |_, _| true).expect("compiles");
    let ids = |text: &str| -> Vec<String> {
        set.find(Language::Python, text.as_bytes())
            .iter()
            .map(|h| set.rules()[h.rule].id.clone())
            .collect()
    };
    let checks = "n = int(a)\nv = literal_eval(b)\npw = 'changeme'\n";
    assert!(ids(checks).is_empty(), "no sink: {:?}", ids(checks));
    let with_sink = format!("{checks}eval(c)\n");
    assert_eq!(
        ids(&with_sink),
        vec!["demo.cast", "demo.literal-eval", "demo.eval"],
        "a secrets check answers no code-execution sink"
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
fn c_preprocessor_lines_are_code() {
    assert!(is_comment("# eval(x)", Language::Python));
    assert!(!is_comment("#define RUN eval(x)", Language::C));
    assert!(!is_comment("#define RUN eval(x)", Language::Cpp));
    assert!(is_comment("// eval(x)", Language::C));
}

#[test]
fn invalid_utf8_is_matched_and_snippets_stay_text() {
    let set = RuleSet::compile(demo_rules(), [Language::Python], |_, _| true).expect("compiles");
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
fn a_family_shares_one_automaton_and_each_language_keeps_its_own_rules() {
    // `demo.key` runs on TypeScript only; JavaScript shares the automaton.
    let langs = [Language::JavaScript, Language::TypeScript];
    let set = RuleSet::compile(demo_rules(), langs, |r, l| {
        r.id == "demo.eval" || l == Language::TypeScript
    })
    .expect("compiles");
    let (js, ts) = (
        &set.per_language[&Language::JavaScript],
        &set.per_language[&Language::TypeScript],
    );
    assert!(Arc::ptr_eq(&js.matcher, &ts.matcher));
    let text = b"SECRET_KEY = 'x'\neval(y)\n";
    let ids = |l| -> Vec<&str> {
        set.find(l, text)
            .iter()
            .map(|h| set.rules()[h.rule].id.as_str())
            .collect()
    };
    assert_eq!(ids(Language::TypeScript), ["demo.key", "demo.eval"]);
    assert_eq!(ids(Language::JavaScript), ["demo.eval"]);
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
fn the_prefilter_never_hides_a_rule_from_its_own_examples() {
    // Each example, upper- and lower-cased too (the literals are folded), must reach
    // its rule's regex whenever that regex matches it.
    let packs = crate::rules::builtin_packs().expect("built-in packs parse");
    let rules: Vec<Rule> = packs.iter().flat_map(|p| p.rules.clone()).collect();
    let set = RuleSet::compile(rules, [Language::Python], |_, _| true).expect("compiles");
    let matcher = &set.per_language[&Language::Python].matcher;
    let mut missed = Vec::new();
    for (pos, &idx) in matcher.rule_index.iter().enumerate() {
        let rule = &set.rules()[idx];
        let regex = rule.regex().expect("compiles");
        for ex in &rule.examples {
            for text in [ex.clone(), ex.to_uppercase(), ex.to_lowercase()] {
                let reaches = matcher.prefilter.candidates(text.as_bytes()).contains(&pos);
                if regex.is_match(text.as_bytes()) && !reaches {
                    missed.push(format!("{}: {text}", rule.id));
                }
            }
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn searching_near_literals_finds_what_a_whole_search_finds() {
    // Every rule's examples, repeated in different surroundings, with filler that
    // leaves the budget room to try near each literal: the matches found from the
    // literals' positions must be exactly those of an ordinary search.
    let packs = crate::rules::builtin_packs().expect("built-in packs parse");
    let rules: Vec<Rule> = packs.iter().flat_map(|p| p.rules.clone()).collect();
    let set = RuleSet::compile(rules, [Language::Python], |_, _| true).expect("compiles");
    let matcher = &set.per_language[&Language::Python].matcher;
    let filler = "zz ".repeat(4000);
    let mut tried_near = 0;
    let mut tried_lines = 0;
    for (pos, &idx) in matcher.rule_index.iter().enumerate() {
        let rule = &set.rules()[idx];
        let Some(regex) = set.regex(idx) else {
            panic!("{} does not compile", rule.id);
        };
        for ex in &rule.examples {
            // Spread over lines too: blank lines and line breaks where the
            // example has spaces, for patterns whose whitespace spans lines.
            let text = format!(
                "{ex}\nfoo_{ex} {ex}\n  x = {ex};{ex}\n\t{}\n{}\n\n{}\n{filler}",
                ex.to_uppercase(),
                ex.replacen(' ', "\n \n\n  ", 1),
                ex.replace(' ', "\n"),
            );
            let content = text.as_bytes();
            let whole: Vec<(usize, usize)> = regex
                .find_iter(content)
                .map(|m| (m.start(), m.end()))
                .collect();
            let cache = &mut regex.create_cache();
            let every: Vec<(usize, usize)> = everywhere(regex, cache, content).collect();
            assert_eq!(every, whole, "{} (with its own cache): {ex}", rule.id);
            let found = matcher.prefilter.scan(content);
            let Some(lead) = matcher.leads[pos] else {
                continue;
            };
            let Some(at) = matcher.prefilter.occurrences(&found, pos) else {
                continue;
            };
            let first = set.first_bytes[idx].as_ref();
            if let Some(windows) = start_windows(content, &at, lead, first) {
                tried_near += 1;
                let cache = &mut regex.create_cache();
                let near: Vec<(usize, usize)> =
                    near_literals(regex, cache, content, windows, first, false).collect();
                assert_eq!(near, whole, "{}: {ex}", rule.id);
            }
            if lead.single_line {
                let lines = literal_lines(content, &at).expect("few lines");
                tried_lines += 1;
                let cache = &mut regex.create_cache();
                let on: Vec<(usize, usize)> = on_lines(regex, cache, content, lines).collect();
                assert_eq!(on, whole, "{} (by lines): {ex}", rule.id);
            }
        }
    }
    assert!(
        tried_near > 100,
        "only {tried_near} examples searched near literals"
    );
    assert!(
        tried_lines > 10,
        "only {tried_lines} examples searched by lines"
    );
}

#[test]
fn few_rules_lack_a_literal_to_filter_on() {
    // A rule without a literal of 3+ bytes in every branch runs its regex over every
    // file of its languages; a handful is affordable, a habit is not.
    let packs = crate::rules::builtin_packs().expect("built-in packs parse");
    let rules: Vec<&Rule> = packs.iter().flat_map(|p| &p.rules).collect();
    let without: Vec<&str> = rules
        .iter()
        .filter(|r| rule_literals(r).0.is_none())
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        without.len() * 10 <= rules.len(),
        "{} of {} rules have no literal every match needs (each costs a full pass \
         per file): {}",
        without.len(),
        rules.len(),
        without.join(", ")
    );
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
