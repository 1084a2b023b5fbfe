//! `scan --coverage`: files on the attack surface that no rule selected become a low
//! tier of candidates, after every other; `status` says how much of the surface was
//! reviewed.

mod common;

use common::*;

/// A Flask app: a route with no dangerous call, a helper it imports, a module nobody
/// imports, and a file with a real sink.
fn app() -> Tree {
    let t = Tree::new();
    t.write(
        "app/routes.py",
        "from flask import Flask, request\nfrom .helpers import greet\n\napp = Flask(__name__)\n\n\
         @app.route('/hello')\ndef hello():\n    return greet(request.args.get('name', 'you'))\n",
    );
    t.write("app/__init__.py", "");
    t.write(
        "app/helpers.py",
        "def greet(name):\n    return name.strip().title()\n",
    );
    t.write("app/unused.py", "def add(a, b):\n    return a + b\n");
    t.write("tools/run.py", ONE_CALL_PY);
    t
}

#[test]
fn coverage_adds_the_unselected_surface_after_every_other_candidate() {
    let t = app();
    let plain = t.scan_json(&[]);
    let chosen = candidate_paths(&plain);
    assert!(chosen.contains(&"tools/run.py".to_string()), "{chosen:?}");
    assert!(
        !chosen.contains(&"app/helpers.py".to_string()),
        "{chosen:?}"
    );
    assert!(delta(&plain, "surface") >= 2, "{:#}", plain["delta"]);
    assert_eq!(delta(&plain, "coverage_candidates"), 0);

    let covered = t.scan_json(&["--coverage"]);
    let chosen = candidate_paths(&covered);
    let at = |p: &str| chosen.iter().position(|c| c == p);
    let (sink, route, helper) = (
        at("tools/run.py"),
        at("app/routes.py"),
        at("app/helpers.py"),
    );
    assert!(route.is_some() && helper.is_some(), "{chosen:?}");
    assert!(
        sink < route && sink < helper,
        "a rule's candidate comes first: {chosen:?}"
    );
    assert!(
        at("app/unused.py").is_none(),
        "not on the surface: {chosen:?}"
    );
    assert!(
        delta(&covered, "coverage_candidates") >= 2,
        "{:#}",
        covered["delta"]
    );

    // Without the flag the tier goes again.
    let again = t.scan_json(&[]);
    assert!(!candidate_paths(&again).contains(&"app/helpers.py".to_string()));
}

#[test]
fn status_reports_the_surface_and_how_much_was_reviewed() {
    let t = app();
    t.scan(&["--coverage", "-q"]).ok();
    let status = run(warden().current_dir(&t.root).args(["status", "--json"]));
    let s = &status.ok().json()[0];
    let surface = s["surface"].as_u64().unwrap();
    assert!(surface >= 2, "{s:#}");
    assert_eq!(s["surface_analyzed"], 0);
    let text = run(warden().current_dir(&t.root).arg("status"));
    assert!(
        text.ok()
            .stdout
            .contains(&format!("surface     {surface} files")),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("0 reviewed (0%)"), "{}", text.stdout);
}
