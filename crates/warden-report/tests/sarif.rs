//! SARIF output: schema validity against the official 2.1.0 schema, and the
//! properties code-scanning consumers rely on.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_report::{render_candidates_sarif, render_findings_sarif};
use warden_store::model::{Disposition, Severity, Verdict};

fn results(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"].as_array().expect("results array")
}

fn rules(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules array")
}

fn rule_of<'a>(doc: &'a Value, result: &Value) -> &'a Value {
    let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    &rules(doc)[index]
}

#[test]
fn the_validator_rejects_a_broken_document() {
    let mut doc = render_findings_sarif(&ctx(), &[finding("a", "src/a.rs", Severity::High)], &[]);
    assert_valid_sarif(&doc);
    doc.as_object_mut().unwrap().remove("version");
    assert!(
        !sarif_errors(&doc).is_empty(),
        "missing `version` must fail"
    );

    let mut doc = render_findings_sarif(&ctx(), &[finding("a", "src/a.rs", Severity::High)], &[]);
    doc["runs"][0]["results"][0]["level"] = json!("fatal");
    assert!(!sarif_errors(&doc).is_empty(), "an unknown level must fail");

    // Formats are checked too: an unencoded space is not a URI reference.
    let mut doc = render_findings_sarif(&ctx(), &[finding("a", "src/a.rs", Severity::High)], &[]);
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        json!("my dir/a b.rs");
    assert!(
        !sarif_errors(&doc).is_empty(),
        "a raw space in a uri must fail"
    );
}

#[test]
fn empty_runs_are_valid() {
    let doc = render_findings_sarif(&ctx(), &[], &[]);
    assert_valid_sarif(&doc);
    assert_eq!(
        doc["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1);
    assert!(results(&doc).is_empty());
    assert!(rules(&doc).is_empty());
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "warden");
    assert_eq!(run["tool"]["driver"]["version"], "0.1.0");
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert_eq!(run["columnKind"], "utf16CodeUnits");
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        "file:///home/me/demo%20project/"
    );

    let doc = render_candidates_sarif(&ctx(), &[], &[]);
    assert_valid_sarif(&doc);
    assert!(results(&doc).is_empty());
}

#[test]
fn full_findings_log_is_valid() {
    let mut with_patch = finding("p", "src/db.rs", Severity::Critical);
    with_patch.reported.patch =
        Some("--- a/src/db.rs\n+++ b/src/db.rs\n@@ -1 +1 @@\n-a\n+b\n".into());
    with_patch.verdict = Some(verdict(
        Verdict::TruePositive,
        "Confirmed.",
        Some(Severity::High),
    ));

    let mut odd_path = finding("u", "web/my templates/ünïcode #1.html", Severity::Medium);
    odd_path.reported.rule_id = None;
    odd_path.reported.cwe = Some("cwe 79".into());
    odd_path.reported.cost_usd = None;

    let mut fp = finding("f", "src/fp.rs", Severity::Low);
    fp.verdict = Some(verdict(
        Verdict::FalsePositive,
        "Input is a constant.",
        None,
    ));

    let mut bare = finding("b", "b.rs", Severity::Info);
    bare.reported.rule_id = None;
    bare.reported.cwe = None;
    bare.reported.category = None;
    bare.reported.description = String::new();
    bare.reported.start_line = 0;
    bare.reported.end_line = 0;

    let doc = render_findings_sarif(
        &ctx(),
        &[bare, fp, odd_path, with_patch],
        &[rule(
            "sql-concat",
            "SQL built by concatenation",
            Some("CWE-89"),
        )],
    );
    assert_valid_sarif(&doc);
    assert_eq!(results(&doc).len(), 4);

    let ids: Vec<&str> = results(&doc)
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["sql-concat", "CWE-79", "sql-concat", "warden.finding"]
    );
    assert_eq!(rules(&doc).len(), 3, "one descriptor per rule id used");

    let patched = &results(&doc)[0];
    assert!(patched["properties"]["patch"]
        .as_str()
        .unwrap()
        .contains("+b"));
    assert_eq!(patched["properties"]["severity"], "high");
    assert_eq!(patched["properties"]["reportedSeverity"], "critical");
    assert_eq!(patched["properties"]["verdict"], "true_positive");
    let cost = patched["properties"]["costUsd"].as_f64().unwrap();
    assert!(
        (cost - 0.012).abs() < 1e-9,
        "investigation + revalidation cost, got {cost}"
    );
}

#[test]
fn paths_are_relative_percent_encoded_uris() {
    let doc = render_findings_sarif(
        &ctx(),
        &[
            finding("u", "web\\my templates/ünï #1.html", Severity::High),
            finding("abs", "/home/me/demo project/src/x.rs", Severity::Low),
        ],
        &[],
    );
    assert_valid_sarif(&doc);
    let artifact = &results(&doc)[0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(
        artifact["uri"],
        "web/my%20templates/%C3%BCn%C3%AF%20%231.html"
    );
    assert_eq!(artifact["uriBaseId"], "%SRCROOT%");
    let artifact = &results(&doc)[1]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(
        artifact["uri"], "src/x.rs",
        "absolute paths under the root become relative"
    );
    assert_eq!(artifact["uriBaseId"], "%SRCROOT%");

    let region = &results(&doc)[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 10);
    assert_eq!(region["endLine"], 12);
}

#[test]
fn fingerprints_do_not_depend_on_lines() {
    let before = finding("a", "src/a.rs", Severity::High);
    let mut after = before.clone();
    after.reported.start_line = 200;
    after.reported.end_line = 230;
    let fp = |f| {
        let doc = render_findings_sarif(&ctx(), &[f], &[]);
        results(&doc)[0]["partialFingerprints"].clone()
    };
    assert_eq!(fp(before.clone()), json!({ "warden/v1": "fp-a" }));
    assert_eq!(fp(before), fp(after));

    let snippet = "query(\"SELECT \" + id)";
    let at = |line| {
        let doc = render_candidates_sarif(
            &ctx(),
            &[candidate("a.rs", 3.0, &[("sql", line, snippet)])],
            &[],
        );
        results(&doc)[0]["partialFingerprints"].clone()
    };
    assert_eq!(at(5), at(50));
    let other = render_candidates_sarif(
        &ctx(),
        &[candidate("a.rs", 3.0, &[("sql", 5, "other()")])],
        &[],
    );
    assert_ne!(at(5), results(&other)[0]["partialFingerprints"]);
}

#[test]
fn levels_and_security_severity_follow_severity() {
    let cases = [
        (Severity::Critical, "error", "9.5"),
        (Severity::High, "error", "8.0"),
        (Severity::Medium, "warning", "5.5"),
        (Severity::Low, "note", "3.0"),
        (Severity::Info, "note", "1.0"),
    ];
    for (severity, level, score) in cases {
        let mut f = finding("x", "a.rs", severity);
        f.reported.rule_id = Some(format!("rule-{severity}"));
        let doc = render_findings_sarif(&ctx(), &[f], &[]);
        let result = &results(&doc)[0];
        assert_eq!(result["level"], level, "{severity}");
        let descriptor = rule_of(&doc, result);
        assert_eq!(
            descriptor["defaultConfiguration"]["level"], level,
            "{severity}"
        );
        assert_eq!(
            descriptor["properties"]["security-severity"], score,
            "{severity}"
        );
    }

    // A corrected severity wins over the reported one.
    let mut f = finding("x", "a.rs", Severity::Critical);
    f.verdict = Some(verdict(
        Verdict::Uncertain,
        "Partly mitigated.",
        Some(Severity::Medium),
    ));
    let doc = render_findings_sarif(&ctx(), &[f], &[]);
    assert_eq!(results(&doc)[0]["level"], "warning");
}

#[test]
fn rule_index_and_descriptors_match() {
    let mut findings = Vec::new();
    for (i, (rule_id, cwe)) in [
        (Some("xss-sink"), Some("CWE-79")),
        (Some("sql-concat"), Some("CWE-89")),
        (None, Some("CWE-22")),
        (Some("sql-concat"), Some("CWE-89")),
        (None, None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = finding(&i.to_string(), &format!("f{i}.rs"), Severity::High);
        f.reported.rule_id = rule_id.map(str::to_string);
        f.reported.cwe = cwe.map(str::to_string);
        findings.push(f);
    }
    let known = [
        rule("sql-concat", "SQL built by concatenation", Some("CWE-89")),
        rule("unused", "Never used", None),
    ];
    let doc = render_findings_sarif(&ctx(), &findings, &known);
    assert_valid_sarif(&doc);
    assert_eq!(rules(&doc).len(), 4, "unused rules are not listed");
    for result in results(&doc) {
        let descriptor = rule_of(&doc, result);
        assert_eq!(descriptor["id"], result["ruleId"]);
    }

    let sql = rules(&doc)
        .iter()
        .find(|r| r["id"] == "sql-concat")
        .unwrap();
    assert_eq!(sql["name"], "SQLBuiltByConcatenation");
    assert_eq!(
        sql["shortDescription"]["text"],
        "SQL built by concatenation"
    );
    assert_eq!(
        sql["help"]["text"].as_str().unwrap().lines().next(),
        Some("Help for SQL built by concatenation.")
    );
    assert!(sql["help"]["markdown"]
        .as_str()
        .unwrap()
        .contains("(https://cwe.mitre.org/data/definitions/89.html)"));
    assert_eq!(
        sql["properties"]["tags"],
        json!(["security", "external/cwe/cwe-89", "injection"])
    );

    let cwe22 = rules(&doc).iter().find(|r| r["id"] == "CWE-22").unwrap();
    assert!(cwe22["properties"]["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("external/cwe/cwe-22")));
    assert_eq!(
        cwe22["helpUri"],
        "https://cwe.mitre.org/data/definitions/22.html"
    );

    let xss = results(&doc)
        .iter()
        .find(|r| r["ruleId"] == "xss-sink")
        .unwrap();
    assert!(xss["properties"]["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("external/cwe/cwe-79")));
    assert!(xss["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Issue 0: User input reaches a SQL query."));
}

#[test]
fn dismissed_findings_carry_suppressions() {
    let mut fp = finding("fp", "a.rs", Severity::High);
    fp.verdict = Some(verdict(
        Verdict::FalsePositive,
        "The value is a constant.",
        None,
    ));
    let mut accepted = finding("ar", "b.rs", Severity::High);
    accepted.disposition = Disposition::AcceptedRisk;
    accepted.disposition_reason = Some("Internal tool only.".into());
    let mut wont = finding("wf", "c.rs", Severity::High);
    wont.disposition = Disposition::WontFix;
    let open = finding("op", "d.rs", Severity::High);

    let doc = render_findings_sarif(&ctx(), &[fp, accepted, wont, open], &[]);
    assert_valid_sarif(&doc);
    let by_id = |id: &str| {
        results(&doc)
            .iter()
            .find(|r| r["properties"]["findingId"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_id("fp")["suppressions"],
        json!([{ "kind": "external", "justification": "The value is a constant." }])
    );
    assert_eq!(
        by_id("ar")["suppressions"],
        json!([{ "kind": "external", "status": "accepted", "justification": "Internal tool only." }])
    );
    assert_eq!(by_id("wf")["suppressions"][0]["status"], "accepted");
    assert!(by_id("wf")["suppressions"][0]["justification"]
        .as_str()
        .unwrap()
        .contains("won't fix"));
    assert!(by_id("op").get("suppressions").is_none());
}

#[test]
fn candidates_are_notes_per_hit() {
    let candidates = [
        candidate(
            "src/db layer/q.rs",
            7.5,
            &[
                ("sql-concat", 3, "format!(\"SELECT {}\", id)"),
                ("mystery", 0, "x()"),
            ],
        ),
        candidate(
            "web/ü.js",
            2.0,
            &[("sql-concat", 9, "q + id"), ("sql-concat", 12, "q + id")],
        ),
    ];
    let doc = render_candidates_sarif(
        &ctx(),
        &candidates,
        &[rule(
            "sql-concat",
            "SQL built by concatenation",
            Some("CWE-89"),
        )],
    );
    assert_valid_sarif(&doc);
    assert_eq!(results(&doc).len(), 4);
    assert_eq!(
        rules(&doc).len(),
        2,
        "the unknown rule gets a minimal descriptor"
    );

    for result in results(&doc) {
        assert_eq!(result["level"], "note");
        assert_eq!(rule_of(&doc, result)["id"], result["ruleId"]);
        assert_eq!(
            rule_of(&doc, result)["defaultConfiguration"]["level"],
            "note"
        );
    }
    let first = &results(&doc)[0];
    let location = &first["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "src/db%20layer/q.rs");
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(location["region"]["startLine"], 3);
    assert_eq!(
        location["region"]["snippet"]["text"],
        "format!(\"SELECT {}\", id)"
    );
    assert_eq!(first["properties"]["fileScore"], 7.5);
    assert_eq!(
        rule_of(&doc, first)["properties"]["tags"],
        json!(["security", "external/cwe/cwe-89", "injection"])
    );

    // Line 0 is clamped to the first line rather than producing invalid SARIF.
    assert_eq!(
        results(&doc)[1]["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    // The same snippet twice in one file gets two fingerprints.
    assert_ne!(
        results(&doc)[2]["partialFingerprints"],
        results(&doc)[3]["partialFingerprints"]
    );
}
