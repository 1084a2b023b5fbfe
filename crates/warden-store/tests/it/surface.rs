//! The attack surface in the store: marked per scan, a coverage tier of candidates
//! after every other, and how much of it was reviewed.

use crate::common::*;
use warden_store::*;

fn the_surface_is_replaced_each_time_and_coverage_promotes_only_what_rules_left_out(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![
            matched("sink.py", "h1", 5.0),
            matched("route.py", "h2", 0.0),
            matched("helper.py", "h3", 0.0),
            matched("other.py", "h4", 0.0),
        ],
    );
    let delta = store
        .set_surface(P, &["route.py".into(), "sink.py".into()], false)
        .unwrap();
    assert_eq!((delta.surface, delta.coverage_candidates), (2, 0));
    let paths = |s: &Store| -> Vec<String> {
        s.candidates(P, None)
            .unwrap()
            .into_iter()
            .map(|c| c.path)
            .collect()
    };
    assert_eq!(paths(&store), ["sink.py"]);

    let delta = store
        .set_surface(
            P,
            &["route.py".into(), "helper.py".into(), "sink.py".into()],
            true,
        )
        .unwrap();
    assert_eq!((delta.surface, delta.coverage_candidates), (3, 2));
    // Best score first: the coverage tier (below the threshold) comes after the rules' picks.
    assert_eq!(paths(&store), ["sink.py", "helper.py", "route.py"]);
    assert_eq!(store.surface_reviewed(P).unwrap(), (3, 0));
    let status = store.status(P).unwrap();
    assert_eq!((status.surface, status.surface_analyzed), (3, 0));

    // A later scan recomputes candidates by score: the tier is gone until asked again.
    scan(
        &mut store,
        vec![
            matched("sink.py", "h1", 5.0),
            matched("route.py", "h2", 0.0),
            matched("helper.py", "h3", 0.0),
            matched("other.py", "h4", 0.0),
        ],
    );
    assert_eq!(paths(&store), ["sink.py"]);
    let delta = store.set_surface(P, &["route.py".into()], false).unwrap();
    assert_eq!(delta.surface, 1, "the surface is exactly what was given");
    assert_eq!(store.surface_reviewed(P).unwrap(), (1, 0));
}

fn files_with_rules_lists_paths_by_rule_id(b: Backend) {
    let (_dir, mut store) = store(b);
    scan(
        &mut store,
        vec![matched("a.py", "ha", 2.0), matched("b.py", "hb", 1.0)],
    );
    // `matched` gives rule-0 and rule-1 to a score-2 file, rule-0 only to a score-1 file.
    assert_eq!(
        store.files_with_rules(P, &["rule-1".into()]).unwrap(),
        ["a.py"]
    );
    assert_eq!(
        store
            .files_with_rules(P, &["rule-0".into(), "nope".into()])
            .unwrap(),
        ["a.py", "b.py"]
    );
}

backend_tests!(
    the_surface_is_replaced_each_time_and_coverage_promotes_only_what_rules_left_out,
    files_with_rules_lists_paths_by_rule_id,
);
