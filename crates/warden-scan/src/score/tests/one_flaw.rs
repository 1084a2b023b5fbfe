//! Sinks that report one flaw count once.

use super::*;

#[test]
fn two_sinks_answered_by_one_allowlist_are_one_flaw() {
    let m = ScoreModel::default();
    let mut r = rules();
    r[3].allowlist = true;
    // The statement's builder (`t.sink`) and where it is executed (a heavier sink of
    // the same category), both answered by the check above them on line 9.
    let mut executed = r[0].clone();
    executed.id = "t.executed".into();
    executed.weight = 9.0;
    let e = r.len();
    r.push(executed);
    let both = m.score("a.py", &r, &[hit(3, 9), hit(0, 10), hit(e, 13)]);
    let heavier = m.score("a.py", &r, &[hit(3, 9), hit(e, 13)]);
    assert_eq!(both, heavier);
    // Unanswered, they are two findings.
    let bare = m.score("a.py", &r, &[hit(0, 10), hit(e, 13)]);
    assert_eq!(
        bare,
        m.score("a.py", &r, &[hit(0, 10)]) + m.score("a.py", &r, &[hit(e, 13)])
    );
    // Answered by two checks of their own (in two functions), they stay two.
    let layout = Layout {
        fed: Vec::new(),
        functions: vec![8, 15],
    };
    let hits = [hit(3, 9), hit(0, 10), hit(3, 16), hit(e, 17)];
    let own = m.score_in("a.py", &r, &hits, &layout);
    assert!(own > heavier, "{own} {heavier}");
    // An escape answers the value it wraps: the other sink's may be another one.
    r[3].allowlist = false;
    let escaped = m.score("a.py", &r, &[hit(3, 9), hit(0, 10), hit(e, 13)]);
    assert!(escaped > heavier, "{escaped} {heavier}");
}
