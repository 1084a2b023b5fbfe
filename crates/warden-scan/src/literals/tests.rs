use super::*;

fn lits(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .expect("parses");
    required_literals(&hir).map(|v| {
        v.set
            .into_iter()
            .map(|l| String::from_utf8(l).expect("utf8"))
            .collect()
    })
}

/// The store's redaction runs a secret pattern only on a text holding one of the
/// pattern's anchors, so every match of the pattern must hold one: each literal the
/// pattern needs (one of which is in every match) must contain an anchor.
#[test]
fn every_redaction_pattern_has_an_anchor_in_every_match() {
    for (pattern, anchors) in warden_store::redact::PATTERNS {
        assert!(!anchors.is_empty(), "`{pattern}` has no anchor");
        match lits(pattern) {
            Some(needed) => {
                for l in &needed {
                    assert!(
                        anchors.iter().any(|a| l.contains(a)),
                        "`{l}`, needed by `{pattern}`, holds none of its anchors {anchors:?}"
                    );
                }
            }
            // Short alternatives (`key|iv|secret`) leave no literal of 3 bytes: the
            // anchors must then be those words of the pattern.
            None => {
                let lower = pattern.to_ascii_lowercase();
                assert!(
                    anchors.iter().all(|a| lower.contains(a)),
                    "`{pattern}` needs no literal: its anchors {anchors:?} must be its words"
                );
            }
        }
    }
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
fn a_run_is_glued_to_the_literals_that_start_the_part_after_it() {
    // The parser factors the branches' common `.` out of the alternation; the
    // branches' names alone (`or`) are too short to search for, `.or` is not.
    assert_eq!(
        lits(r"\.(?:Or|Not)\s*\(|\.Get\s*\(\s*&"),
        Some(vec![".get".into(), ".not".into(), ".or".into()])
    );
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(r"x = \.(?:Or|Not)\s*\(|x = \.Get\s*\(\s*&")
        .expect("parses");
    assert_eq!(required_literals(&hir).map(|l| l.lead), Some(Some(0)));
    // A part whose literals may start later is not glued: `.` + `or` would claim
    // `.or` where the match holds `. or`.
    assert_eq!(lits(r"\.(?:\s*Or|\s*Not)\("), None);
}

#[test]
fn small_bounded_repetitions_multiply_out() {
    assert_eq!(
        lits(r"'%{0,2}%s'"),
        Some(vec!["'%%%s'".into(), "'%%s'".into(), "'%s'".into()])
    );
    // Two-byte literals are too short to search for.
    assert_eq!(lits(r"[ab]{1,2}\("), None);
    assert_eq!(
        lits(r"x[ab]{1,2}\("),
        Some(vec![
            "xa(".into(),
            "xaa(".into(),
            "xab(".into(),
            "xb(".into(),
            "xba(".into(),
            "xbb(".into()
        ])
    );
    // Too many strings: the repetition is "anything", its neighbours still count.
    assert_eq!(lits(r"[a-p]{0,3}eval\("), Some(vec!["eval(".into()]));
}

#[test]
fn a_common_word_gives_way_to_a_rarer_literal() {
    // `func` is in every Go file, and so is `func ` (`func\s`): the rarer `passw`,
    // though shorter, filters.
    assert_eq!(lits(r"\bfunc\s\w*(?i:pwd)\w*\("), Some(vec!["pwd".into()]));
    assert_eq!(
        lits(r"\bfunc\s+\w*(?i:passw)\w*\([^\n]*\n[^\n]*\bmd5\b"),
        Some(vec!["passw".into()])
    );
    assert_eq!(
        lits(r"\breturn\s+(?:md5|sha1)\.New"),
        Some(vec!["md5.new".into(), "sha1.new".into()])
    );
    // With nothing better, a common word still filters.
    assert_eq!(lits(r"\bfunc\s+main\("), Some(vec!["main(".into()]));
    assert_eq!(lits(r"\bfunction\s*\("), Some(vec!["function".into()]));
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

fn lead(pattern: &str) -> Option<usize> {
    where_(pattern).0
}

fn where_(pattern: &str) -> (Option<usize>, bool) {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .expect("parses");
    let lits = required_literals(&hir).expect("has literals");
    (lits.lead, lits.same_line)
}

#[test]
fn patterns_that_cannot_match_a_newline_are_single_line() {
    let single = |p: &str| {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(p)
            .expect("parses");
        required_literals(&hir).expect("has literals").single_line
    };
    assert!(
        single(r"(?m)^[ \t]*debug[ \t]*=[^\n]*"),
        "no class here holds \\n"
    );
    assert!(!single(r"password\s*="), "\\s holds \\n");
    assert!(!single(r"eval\([^)]*\)"), "a negated class holds \\n");
}

#[test]
fn a_prefix_without_newlines_keeps_matches_on_the_literal_line() {
    assert_eq!(where_(r"(?i)\b(?:[a-z0-9]+_)*password"), (None, true));
    assert_eq!(where_(r"(?m)^[ \t]*@\w+\.route\("), (None, true));
    assert_eq!(where_(r"\s*=\s*eval\("), (None, false), "\\s holds \\n");
    assert_eq!(where_(r"[^;]{0,9}eval\("), (Some(9), false));
    assert_eq!(where_(r"\beval\(|\w*exec\("), (None, true));
    assert_eq!(where_(r"\beval\(|\s*exec\("), (None, false));
}

#[test]
fn an_optional_part_keeps_its_neighbours_exact() {
    // `PWD` alone would be a three-letter literal found in any file; with its quote
    // it is not, and the optional `_KEY` keeps `SECRET…"` exact.
    assert_eq!(
        lits(r#"(?:SECRET(?:_?KEY)?|PWD)["']"#),
        Some(
            [
                "pwd\"",
                "pwd'",
                "secret\"",
                "secret'",
                "secret_key\"",
                "secret_key'",
                "secretkey\"",
                "secretkey'",
            ]
            .map(String::from)
            .to_vec()
        )
    );
    // Many optional parts multiply the strings: the part they surround is kept.
    assert_eq!(
        lits(r#"["']?\s?password"#),
        Some(vec!["password".to_string()])
    );
    // `x*` may repeat: no exact strings.
    assert_eq!(lits(r"a*secret"), Some(vec!["secret".to_string()]));
}

#[test]
fn leads_bound_how_far_a_match_starts_before_its_literal() {
    assert_eq!(lead(r"\beval\("), Some(0));
    assert_eq!(lead(r"(?:^|[^\w])gets\("), Some(1));
    assert_eq!(lead(r#"["']?\s?password"#), Some(2));
    // Unbounded before the literal: a match may start anywhere before it.
    assert_eq!(lead(r"\w*password"), None);
    assert_eq!(lead(r"\s*=\s*eval\("), None);
    // An alternation is as far as its furthest branch.
    assert_eq!(lead(r"eval\(|\b[ab]{0,3}exec\("), Some(3));
    // Inside a repetition, the first round is where the match starts.
    assert_eq!(lead(r"(?:x?secret)+"), Some(1));
}
