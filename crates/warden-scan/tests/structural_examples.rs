//! Every structural rule fires on its own examples and stays quiet on its look-alikes,
//! through the real parser and analyzer (not just its prefilter).

use warden_scan::structural::{analyze, builtin_packs};
use warden_scan::{NoProgress, Prior, ScannerBuilder};

#[test]
fn every_structural_rule_fires_on_its_examples_and_not_on_its_negatives() {
    let packs = builtin_packs().expect("structural packs parse");
    let mut failures = Vec::new();
    let mut checked = 0;
    for pack in &packs {
        for (i, rule) in pack.rules.iter().enumerate() {
            let spec = rule
                .structural
                .as_ref()
                .expect("a structural rule has a spec");
            for &lang in &pack.languages {
                for ex in &rule.examples {
                    checked += 1;
                    let a = analyze(lang, ex.as_bytes(), &pack.rules, &[i]);
                    if !a.hits.iter().any(|h| h.rule == i) {
                        failures.push(format!(
                            "{} ({}): example does not fire:\n{ex}\n",
                            rule.id,
                            lang.name()
                        ));
                    }
                }
                for neg in &spec.negatives {
                    checked += 1;
                    let a = analyze(lang, neg.as_bytes(), &pack.rules, &[i]);
                    if let Some(h) = a.hits.iter().find(|h| h.rule == i) {
                        failures.push(format!(
                            "{} ({}): look-alike fires ({}):\n{neg}\n",
                            rule.id,
                            lang.name(),
                            h.snippet
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0, "structural packs have examples");
}

#[test]
fn every_structural_pack_has_rules_and_negatives() {
    let packs = builtin_packs().expect("structural packs parse");
    for want in [
        "python-flow",
        "javascript-flow",
        "go-flow",
        "java-flow",
        "php-flow",
        "c-struct",
    ] {
        let pack = packs
            .iter()
            .find(|p| p.id == want)
            .unwrap_or_else(|| panic!("missing structural pack {want}"));
        assert!(!pack.rules.is_empty(), "{want} has no rules");
        for rule in &pack.rules {
            let spec = rule.structural.as_ref().expect("spec");
            assert!(!spec.negatives.is_empty(), "{} has no look-alikes", rule.id);
        }
    }
}

/// Scans a tree holding only `name` with the built-in rules; its hits and score.
fn scan_one(name: &str, src: &str) -> warden_store::MatchedFile {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(name), src).expect("write");
    let scanner = ScannerBuilder::new().build().expect("scanner");
    let outcome = scanner
        .scan(dir.path(), &Prior::default(), &NoProgress)
        .expect("scan");
    outcome
        .files
        .into_iter()
        .find(|f| f.path == name)
        .and_then(|f| f.matched)
        .expect("scanned and matched")
}

#[test]
fn a_scan_labels_a_confirmed_flow_and_drops_prefilter_hits() {
    let app = "import subprocess\n\
               from flask import Flask, request\n\
               app = Flask(__name__)\n\
               \n\
               @app.route('/run')\n\
               def run():\n    \
                   cmd = request.args.get('cmd')\n    \
                   line = 'echo ' + cmd\n    \
                   subprocess.run(line,\n                   \
                   shell=True)\n";
    let matched = scan_one("app.py", app);
    let hit = matched
        .hits
        .iter()
        .find(|h| h.rule_id == "python-flow.command-taint")
        .unwrap_or_else(|| panic!("no structural hit: {:?}", matched.hits));
    assert_eq!(hit.line, 9);
    assert_eq!(
        hit.snippet,
        "request value `line` (line 7) reaches subprocess.run (line 9)"
    );
    assert!(matched.score >= warden_scan::DEFAULT_MIN_SCORE);
    // Prefilter matches of structural rules that the analysis did not confirm are not hits.
    // (a raw prefilter hit would carry the source line as its snippet).
    for h in matched
        .hits
        .iter()
        .filter(|h| h.rule_id.starts_with("python-flow."))
    {
        assert!(h.snippet.contains("(line "), "unconfirmed hit {h:?}");
    }
}

#[test]
fn a_sink_with_constant_arguments_refutes_its_line() {
    let packs = builtin_packs().expect("structural packs parse");
    let pack = packs
        .iter()
        .find(|p| p.id == "java-flow")
        .expect("java pack");
    let all: Vec<usize> = (0..pack.rules.len()).collect();
    let src = "class A {\n\
               void doGet(HttpServletRequest request, HttpServletResponse response) throws Exception {\n\
               String param = request.getParameter(\"id\");\n\
               String bar = \"safe\";\n\
               String sql = \"SELECT * FROM t WHERE c = '\" + bar + \"'\";\n\
               conn.createStatement().executeQuery(sql);\n\
               conn.createStatement().executeQuery(\"SELECT \" + param);\n\
               }\n}\n";
    let a = analyze(
        warden_scan::Language::Java,
        src.as_bytes(),
        &pack.rules,
        &all,
    );
    let refuted = |line: u32| {
        a.refuted
            .iter()
            .any(|(l, c)| *l == line && c == "injection")
    };
    assert!(refuted(5), "the building line is refuted: {:?}", a.refuted);
    assert!(refuted(6), "the sink line is refuted: {:?}", a.refuted);
    assert!(
        !refuted(7),
        "a tainted sink is not refuted: {:?}",
        a.refuted
    );
    assert!(a.hits.iter().any(|h| h.line == 7), "{:?}", a.hits);
}

#[test]
fn a_sink_fed_by_the_objects_own_state_is_not_refuted() {
    let packs = builtin_packs().expect("structural packs parse");
    let pack = packs
        .iter()
        .find(|p| p.id == "javascript-flow")
        .expect("javascript pack");
    let all: Vec<usize> = (0..pack.rules.len()).collect();
    // The table name comes from the options a caller gave the store: a method reading
    // it is no constant, so the query line keeps its line-based hits.
    let src = "module.exports = function (options) {\n\
               function Store() { this.table = options.table; }\n\
               Store.prototype.destroy = function (sid, fn) {\n\
               this.query('DELETE FROM ' + this.quotedTable() + ' WHERE sid = $1', [sid], fn);\n\
               this.query('DELETE FROM sessions WHERE sid = $1', [sid], fn);\n\
               };\n\
               return Store;\n\
               };\n";
    let a = analyze(
        warden_scan::Language::JavaScript,
        src.as_bytes(),
        &pack.rules,
        &all,
    );
    let refuted = |line: u32| a.refuted.iter().any(|(l, _)| *l == line);
    assert!(!refuted(4), "{:?}", a.refuted);
    assert!(refuted(5), "a constant query is refuted: {:?}", a.refuted);
}

#[test]
fn deeply_nested_code_does_not_overflow_the_stack() {
    let packs = builtin_packs().expect("structural packs parse");
    let pack = packs
        .into_iter()
        .find(|p| p.id == "python-flow")
        .expect("python pack");
    let all: Vec<usize> = (0..pack.rules.len()).collect();
    let depth = 3000;
    let src = format!(
        "@app.route('/x')\ndef f():\n    q = request.args.get('q')\n    cursor.execute({}q{})\n    y = {}1{}\n",
        "g(".repeat(depth),
        ")".repeat(depth),
        "(".repeat(depth),
        ")".repeat(depth)
    );
    // Scan threads have the default 2 MiB stack: the analysis must fit in it.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            analyze(
                warden_scan::Language::Python,
                src.as_bytes(),
                &pack.rules,
                &all,
            )
        })
        .expect("spawn");
    let a = handle.join().expect("no stack overflow");
    assert!(a.hits.len() <= 2, "{:?}", a.hits);
}

#[test]
fn a_decided_c_flaw_keeps_its_weight_next_to_a_bounds_check() {
    // The bounds check names another buffer: the regex sanitizer matches its line, the
    // structural check sees the copy into `name` is still unbounded.
    let src = "#include <string.h>\n\
               int main(int argc, char **argv) {\n\
               \x20   char other[8], name[16];\n\
               \x20   if (strlen(argv[2]) >= sizeof(other)) return 1;\n\
               \x20   strcpy(name, argv[1]);\n\
               \x20   return 0;\n\
               }\n";
    let matched = scan_one("main.c", src);
    let hit = matched
        .hits
        .iter()
        .find(|h| h.rule_id == "c-struct.unchecked-copy")
        .unwrap_or_else(|| panic!("no structural hit: {:?}", matched.hits));
    assert_eq!(hit.line, 5);
    assert!(hit.snippet.contains("strcpy()"), "{}", hit.snippet);
    assert!(
        matched.score >= 7.0,
        "score {} was discounted by the regex sanitizer",
        matched.score
    );
}
