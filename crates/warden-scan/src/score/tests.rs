use super::*;
use crate::layout::fed_by_parameters;
use crate::rules::parse_pack;

mod one_flaw;

fn rules() -> Vec<Rule> {
    let src = r#"
[pack]
id = "t"
name = "T"
languages = ["python"]

[[rule]]
id = "t.sink"
title = "sink"
cwe = "CWE-78"
category = "command-execution"
weight = 5
pattern = 'sink\('
examples = ["sink("]

[[rule]]
id = "t.source"
title = "source"
category = "input"
role = "source"
weight = 1
pattern = 'request\.'
examples = ["request."]

[[rule]]
id = "t.route"
title = "route"
category = "input"
role = "entry-point"
weight = 1
pattern = '@route'
examples = ["@route"]

[[rule]]
id = "t.clean"
title = "clean"
category = "command-execution"
role = "sanitizer"
weight = 1
pattern = 'quote\('
examples = ["quote("]

[[rule]]
id = "t.typed"
title = "typed"
category = "input"
role = "sanitizer"
weight = 1
pattern = 'int\('
examples = ["int("]

[[rule]]
id = "t.lookup"
title = "lookup"
cwe = "CWE-639"
category = "authz"
weight = 5
pattern = 'get_by_id\('
examples = ["get_by_id("]
"#;
    parse_pack("t.toml", src).expect("valid").rules
}

fn hit(rule: usize, line: u32) -> RawHit {
    RawHit {
        rule,
        line,
        snippet: String::new(),
        span: None,
    }
}

#[test]
fn a_number_parsed_from_input_clears_an_injection_but_not_an_object_lookup() {
    let m = ScoreModel::default();
    let r = rules();
    // source at 45, `int(` at 46, the sink at 50.
    let command = m.score("a.py", &r, &[hit(1, 45), hit(0, 50)]);
    let command_typed = m.score("a.py", &r, &[hit(1, 45), hit(4, 46), hit(0, 50)]);
    assert!(command_typed < command, "{command_typed} {command}");
    let lookup = m.score("a.py", &r, &[hit(1, 45), hit(5, 50)]);
    let lookup_typed = m.score("a.py", &r, &[hit(1, 45), hit(4, 46), hit(5, 50)]);
    assert_eq!(
        lookup_typed, lookup,
        "another user's id parses as a number just the same"
    );
}

#[test]
fn input_read_just_below_a_sink_raises_it_less_than_input_above() {
    let m = ScoreModel::default();
    let r = rules();
    // The sink in a helper at line 10; the handler reading the input at line 20.
    let below = m.score("a.py", &r, &[hit(0, 10), hit(1, 20)]);
    let above = m.score("a.py", &r, &[hit(1, 5), hit(0, 10)]);
    let far = m.score("a.py", &r, &[hit(0, 10), hit(1, 200)]);
    assert!(far < below && below < above, "{far} {below} {above}");
}

#[test]
fn a_sink_fed_by_its_function_parameter_counts_as_input_from_the_caller() {
    let m = ScoreModel::default();
    let r = rules();
    let lang = crate::Language::Python;
    let helper = b"def run(cmd):\n    sink(cmd)\n";
    let fed = fed_by_parameters(lang, helper, &r, &[hit(0, 2)]);
    assert_eq!(fed, vec![2]);
    let alone = m.score("a.py", &r, &[hit(0, 2)]);
    let fed = |lines: Vec<u32>| Layout {
        fed: lines,
        functions: Vec::new(),
    };
    let boosted = m.score_in("a.py", &r, &[hit(0, 2)], &fed(vec![2]));
    assert!(boosted > alone, "{boosted} {alone}");
    // A constant argument is fed by nothing.
    let constant = b"def run(cmd):\n    sink(\"ls\")\n";
    assert!(fed_by_parameters(lang, constant, &r, &[hit(0, 2)]).is_empty());
    // With a source in the file, the sources decide instead.
    assert!(fed_by_parameters(lang, helper, &r, &[hit(1, 1), hit(0, 2)]).is_empty());
    // A file that declares handlers but reads no input keeps the boost (a message
    // handler's message, a repository beside the routes that call it), but not
    // through the framework's request object, whose reads the sources speak for.
    assert_eq!(
        fed_by_parameters(lang, helper, &r, &[hit(2, 1), hit(0, 2)]),
        vec![2]
    );
    let handler = b"def update(request):\n    sink(request)\n";
    assert!(fed_by_parameters(lang, handler, &r, &[hit(2, 1), hit(0, 2)]).is_empty());
    assert_eq!(fed_by_parameters(lang, handler, &r, &[hit(0, 2)]), vec![2]);
    // A check of the sink's kind withholds the boost (it may check another value,
    // so it does not clear the sink either) where it can be about the sink's value:
    // in its function, in a function it calls, or outside any function; not in
    // another method of the class.
    let store = b"class Store:\n    def save(self, name):\n        keep(name)\n        sink(name)\n\n    def read(self, name):\n        sink(name)\n";
    let check = |line| hit(3, line);
    for (at, withheld) in [(3, true), (7, false)] {
        let fed = fed_by_parameters(lang, store, &r, &[check(3), hit(0, at)]);
        assert_eq!(fed.is_empty(), withheld, "sink on line {at}");
    }
    let calls = b"def locate(name):\n    keep(name)\n\ndef read(name):\n    path = locate(name)\n    sink(path)\n";
    assert!(fed_by_parameters(lang, calls, &r, &[check(2), hit(0, 6)]).is_empty());
    let caller = b"def install(name):\n    keep(name)\n    write(name)\n\ndef write(target):\n    sink(target)\n";
    assert!(fed_by_parameters(lang, caller, &r, &[check(2), hit(0, 6)]).is_empty());
    let module = b"keep(DEFAULT)\ndef read(name):\n    sink(name)\n";
    assert!(fed_by_parameters(lang, module, &r, &[check(1), hit(0, 3)]).is_empty());
    let unchecked = m.score_in("a.py", &r, &[hit(0, 9)], &fed(vec![9]));
    assert!(m.score("a.py", &r, &[hit(0, 9)]) < unchecked);
}

#[test]
fn in_a_view_only_an_escape_on_the_line_clears_a_raw_print() {
    let mut r = rules();
    r[0].category = "xss".into();
    r[3].category = "xss".into();
    let m = ScoreModel::default();
    // A raw print on line 12, an escaped print on line 11.
    let hits = [hit(3, 11), hit(0, 12)];
    let raw = m.score("views/ticket.jsp", &r, &[hit(0, 12)]);
    assert_eq!(m.score("views/ticket.jsp", &r, &hits), raw);
    assert_eq!(m.score("views/ticket.ejs", &r, &hits), raw);
    assert_eq!(m.score("templates/ticket.php", &r, &hits), raw);
    assert!(m.score("views/ticket.jsp", &r, &[hit(3, 12), hit(0, 12)]) < raw);
    // In code the escape next to the sink still counts.
    assert!(m.score("app/ticket.py", &r, &hits) < raw);
    assert!(m.score("src/Controller/TicketController.php", &r, &hits) < raw);
}

#[test]
fn an_owner_check_below_an_object_lookup_answers_it_not_one_above() {
    let mut r = rules();
    let mut owner = r[3].clone();
    owner.id = "t.owner".into();
    owner.category = "authz".into();
    let o = r.len();
    r.push(owner);
    let m = ScoreModel::default();
    let bare = m.score("a.py", &r, &[hit(5, 10)]);
    // The fetch, its not-found handling, then the check, six lines down.
    let checked_below = m.score("a.py", &r, &[hit(5, 10), hit(o, 16)]);
    assert!(checked_below < bare, "{checked_below} {bare}");
    // A check six lines above is about another object.
    let checked_above = m.score("a.py", &r, &[hit(o, 4), hit(5, 10)]);
    assert_eq!(checked_above, bare);
    // Past the window, nothing.
    let far_below = m.score("a.py", &r, &[hit(5, 10), hit(o, 30)]);
    assert_eq!(far_below, bare);
    // Below, but in the next function (starting on line 13): its check is its own.
    let next_function = Layout {
        fed: Vec::new(),
        functions: vec![8, 13],
    };
    let checked_next = m.score_in("a.py", &r, &[hit(5, 10), hit(o, 16)], &next_function);
    assert_eq!(checked_next, bare);
    // A policy check right above a model bound from the request does not answer it.
    let mut bound = r[5].clone();
    bound.id = "t.bound".into();
    bound.cwe = Some("CWE-915".into());
    let b = r.len();
    r.push(bound);
    let assigned = m.score("a.py", &r, &[hit(b, 10)]);
    let assigned_checked = m.score("a.py", &r, &[hit(o, 9), hit(b, 10)]);
    assert_eq!(assigned_checked, assigned);
}

#[test]
fn a_number_parsed_next_to_an_xml_parse_does_not_clear_xxe() {
    let mut r = rules();
    let mut xxe = r[0].clone();
    xxe.id = "t.xxe".into();
    xxe.category = "xxe".into();
    let x = r.len();
    r.push(xxe);
    let m = ScoreModel::default();
    let bare = m.score("a.py", &r, &[hit(x, 10)]);
    let cast_nearby = m.score("a.py", &r, &[hit(x, 10), hit(4, 12)]);
    assert_eq!(cast_nearby, bare);
}

#[test]
fn configuration_findings_weigh_more_in_production_configuration() {
    let mut r = rules();
    let mut debug = r[0].clone();
    debug.id = "t.debug".into();
    debug.category = "config".into();
    debug.weight = 2.5;
    let d = r.len();
    r.push(debug);
    let m = ScoreModel::default();
    let unnamed = m.score("config/settings.yaml", &r, &[hit(d, 3)]);
    for prod in [
        "config/environments/production.rb",
        ".env.production",
        "src/main/resources/application-prod.properties",
        "settings/prod.py",
    ] {
        assert_eq!(
            m.score(prod, &r, &[hit(d, 3)]),
            unnamed * PRODUCTION_CONFIG_BOOST,
            "{prod}"
        );
    }
    // A developer's own configuration is expected to switch debugging on.
    for dev in [
        "config/environments/development.rb",
        ".env.development",
        "settings/local.py",
        "src/main/resources/application-dev.yml",
    ] {
        let score = m.score(dev, &r, &[hit(d, 3)]);
        assert!(
            (score - unnamed / PRODUCTION_CONFIG_BOOST).abs() < 0.01,
            "{dev}: {score}"
        );
    }
    for other in [
        "src/product.rs",
        "reproduce.py",
        "config/products.yaml",
        "devices/locale.yaml",
    ] {
        assert_eq!(m.score(other, &r, &[hit(d, 3)]), unnamed, "{other}");
    }
    // An injection sink weighs the same wherever it is.
    assert_eq!(
        m.score("settings/prod.py", &r, &[hit(0, 3)]),
        m.score("settings/dev.py", &r, &[hit(0, 3)])
    );
}

#[test]
fn entry_points_and_sources_alone_do_not_score() {
    let m = ScoreModel::default();
    assert_eq!(m.score("a.py", &rules(), &[hit(1, 1), hit(2, 2)]), 0.0);
}

#[test]
fn taint_and_handler_raise_a_sink_and_sanitizers_lower_it() {
    let m = ScoreModel::default();
    let r = rules();
    let bare = m.score("a.py", &r, &[hit(0, 50)]);
    let tainted = m.score("a.py", &r, &[hit(1, 45), hit(0, 50)]);
    let in_handler = m.score("a.py", &r, &[hit(2, 40), hit(1, 45), hit(0, 50)]);
    let sanitized = m.score("a.py", &r, &[hit(1, 45), hit(0, 50), hit(3, 50)]);
    assert_eq!(bare, 5.0);
    assert!(
        tainted > bare && in_handler > tainted,
        "{bare} {tainted} {in_handler}"
    );
    assert!(sanitized < bare, "{sanitized}");
    // A check between the input and the sink, several lines up, also counts...
    let guarded = m.score("a.py", &r, &[hit(1, 40), hit(3, 44), hit(0, 50)]);
    assert!(guarded < bare, "{guarded}");
    // ...but not one before the input arrives.
    let too_early = m.score("a.py", &r, &[hit(3, 30), hit(1, 40), hit(0, 50)]);
    assert_eq!(too_early, tainted);
    // A source far below the sink does not taint it.
    let below = m.score("a.py", &r, &[hit(0, 10), hit(1, 45)]);
    assert!(below < tainted);
}

#[test]
fn a_sanitizer_on_the_sink_line_cancels_the_taint_boost() {
    let m = ScoreModel::default();
    let r = rules();
    let bare = m.score("a.py", &r, &[hit(0, 50)]);
    let sanitized = m.score("a.py", &r, &[hit(1, 50), hit(0, 50), hit(3, 50)]);
    assert_eq!(sanitized, bare * m.sanitizer_factor);
}

#[test]
fn a_numeric_cast_clears_injection_but_not_access_control() {
    let src = r#"
[pack]
id = "u"
name = "U"
languages = ["python"]

[[rule]]
id = "u.sql"
title = "sql"
cwe = "CWE-89"
category = "injection"
weight = 5
pattern = 'execute\('
examples = ["execute("]

[[rule]]
id = "u.idor"
title = "idor"
cwe = "CWE-639"
category = "authz"
weight = 5
pattern = 'objects\.get\('
examples = ["objects.get("]

[[rule]]
id = "u.cast"
title = "cast"
category = "input"
role = "sanitizer"
weight = 1
pattern = 'int\('
examples = ["int("]
"#;
    let r = parse_pack("u.toml", src).expect("valid").rules;
    let m = ScoreModel::default();
    let sql = m.score("a.py", &r, &[hit(0, 10)]);
    let sql_cast = m.score("a.py", &r, &[hit(0, 10), hit(2, 10)]);
    let idor = m.score("a.py", &r, &[hit(1, 10)]);
    let idor_cast = m.score("a.py", &r, &[hit(1, 10), hit(2, 10)]);
    assert_eq!(sql_cast, sql * m.sanitizer_factor);
    assert_eq!(idor_cast, idor);
}

#[test]
fn a_placeholder_between_an_input_and_a_key_does_not_clear_the_key() {
    let src = r#"
[pack]
id = "s"
name = "S"
languages = ["python"]

[[rule]]
id = "s.key"
title = "key"
cwe = "CWE-798"
category = "secrets"
weight = 6
pattern = 'AWS_SECRET'
examples = ["AWS_SECRET"]

[[rule]]
id = "s.env"
title = "env"
category = "input"
role = "source"
weight = 1
pattern = 'environ'
examples = ["environ"]

[[rule]]
id = "s.placeholder"
title = "placeholder"
category = "secrets"
role = "sanitizer"
weight = 1
pattern = 'PASSWORD'
examples = ["PASSWORD"]
"#;
    let r = parse_pack("s.toml", src).expect("valid").rules;
    let m = ScoreModel::default();
    let key = m.score("settings.py", &r, &[hit(1, 2), hit(0, 14)]);
    // A placeholder six lines up, after some input was read, is about another value.
    let apart = m.score("settings.py", &r, &[hit(1, 2), hit(2, 8), hit(0, 14)]);
    assert_eq!(apart, key);
    // On the key's own line it is the key's value that is a placeholder.
    let same_line = m.score("settings.py", &r, &[hit(1, 2), hit(2, 14), hit(0, 14)]);
    assert!(same_line < key, "{same_line} {key}");
}

#[test]
fn sinks_of_one_category_on_one_line_count_once() {
    let mut r = rules();
    let mut twin = r[0].clone();
    twin.id = "t.sink2".into();
    twin.weight = 3.0;
    let t = r.len();
    r.push(twin);
    let m = ScoreModel::default();
    let one = m.score("a.py", &r, &[hit(0, 5)]);
    let both_same_line = m.score("a.py", &r, &[hit(0, 5), hit(t, 5)]);
    let both_two_lines = m.score("a.py", &r, &[hit(0, 5), hit(t, 9)]);
    assert_eq!(both_same_line, one);
    assert_eq!(both_two_lines, one + 3.0);
}

#[test]
fn repeated_hits_add_a_little_and_tests_count_less() {
    let m = ScoreModel::default();
    let r = rules();
    let once = m.score("a.py", &r, &[hit(0, 1)]);
    let thrice = m.score("a.py", &r, &[hit(0, 1), hit(0, 2), hit(0, 3)]);
    assert!(thrice > once && thrice < 2.0 * once);
    assert!(m.score("tests/a.py", &r, &[hit(0, 1)]) < once);
}

#[test]
fn demoted_files_rank_below_application_code_unless_included() {
    let mut r = rules();
    r[0].weight = 20.0;
    let m = ScoreModel::default();
    let many: Vec<RawHit> = (1..=5).map(|l| hit(0, l)).collect();
    let app = m.score("app/run.py", &r, &many);
    let fixture = m.score("test/fixtures/run.py", &r, &many);
    let example = m.score("examples/run.py", &r, &many);
    let weaker_fixture = m.score("test/fixtures/run.py", &r, &many[..1]);
    // Still a candidate, but far below the same code in the application...
    let min = crate::DEFAULT_MIN_SCORE;
    assert!(
        fixture >= min && fixture < min + 1.0 && fixture < app / 3.0,
        "{fixture} {app}"
    );
    assert_eq!(fixture, example);
    // ...and the order among demoted files is kept.
    assert!(weaker_fixture < fixture);
    let equal = ScoreModel {
        include_tests: true,
        ..ScoreModel::default()
    };
    assert_eq!(equal.score("test/fixtures/run.py", &r, &many), app);
}

#[test]
fn a_spliced_identifier_is_answered_by_an_allowlist_not_by_binding() {
    let m = ScoreModel::default();
    let mut r = rules();
    r[0].answered = Answered::ByAllowlist;
    // The sink at 50; binding (`t.clean`, its own category) on the next line.
    let alone = m.score("a.py", &r, &[hit(0, 50)]);
    let bound = m.score("a.py", &r, &[hit(0, 50), hit(3, 51)]);
    assert_eq!(
        bound, alone,
        "binding the values leaves the column as spliced"
    );
    // An allowlist or a cast (`t.typed`, an input sanitizer) next to it answers it.
    let allowed = m.score("a.py", &r, &[hit(4, 49), hit(0, 50)]);
    assert!(allowed < alone, "{allowed} {alone}");
}

#[test]
fn an_allowlist_anywhere_above_a_spliced_identifier_in_its_function_answers_it() {
    let m = ScoreModel::default();
    let mut r = rules();
    r[0].answered = Answered::ByAllowlist;
    let alone = m.score("a.py", &r, &[hit(0, 50)]);
    // A `match` on the sort key opening eight lines above the splice.
    let matched = m.score("a.py", &r, &[hit(4, 42), hit(0, 50)]);
    assert!(matched < alone, "{matched} {alone}");
    // Not one in the function before.
    let layout = Layout {
        fed: Vec::new(),
        functions: vec![40, 45],
    };
    assert_eq!(
        m.score_in("a.py", &r, &[hit(4, 42), hit(0, 50)], &layout),
        alone
    );
    // A sink of values keeps the usual window: the cast above is about another value.
    r[0].answered = Answered::Nearby;
    let plain = m.score("a.py", &r, &[hit(0, 50)]);
    assert_eq!(m.score("a.py", &r, &[hit(4, 42), hit(0, 50)]), plain);
    // ...while a column allowlist above it answers any statement built in its function.
    r[4].allowlist = true;
    assert!(m.score("a.py", &r, &[hit(4, 42), hit(0, 50)]) < plain);
}

#[test]
fn of_two_sinks_on_a_line_the_one_weighing_most_in_its_context_counts() {
    let m = ScoreModel::default();
    let mut r = rules();
    // A lighter sink of the same category that binding does not answer.
    let mut quoted = r[0].clone();
    quoted.id = "t.quoted".into();
    quoted.weight = 4.0;
    quoted.answered = Answered::ByAllowlist;
    let q = r.len();
    r.push(quoted);
    // Binding (`t.clean`) next to both: the heavy sink is answered, the quoted one not.
    let both = m.score("a.py", &r, &[hit(0, 10), hit(q, 10), hit(3, 11)]);
    assert_eq!(both, m.score("a.py", &r, &[hit(q, 10)]));
    // With nothing to answer either, the heavier one speaks for the line.
    assert_eq!(
        m.score("a.py", &r, &[hit(0, 10), hit(q, 10)]),
        m.score("a.py", &r, &[hit(0, 10)])
    );
}

#[test]
fn a_check_below_a_spliced_identifier_does_not_answer_it() {
    let m = ScoreModel::default();
    let mut r = rules();
    r[0].answered = Answered::ByAllowlist;
    let alone = m.score("a.py", &r, &[hit(0, 10)]);
    // A cast two lines further down is about another value.
    assert_eq!(m.score("a.py", &r, &[hit(0, 10), hit(4, 12)]), alone);
    assert!(m.score("a.py", &r, &[hit(4, 8), hit(0, 10)]) < alone);
}

#[test]
fn an_allowlist_below_a_sink_is_about_a_later_statement() {
    let m = ScoreModel::default();
    let mut r = rules();
    let alone = m.score("a.rb", &r, &[hit(0, 10)]);
    // A cast two lines below still answers a sink of values next to it...
    assert!(m.score("a.rb", &r, &[hit(0, 10), hit(4, 12)]) < alone);
    // ...but an allowlist there maps the value of the statement it sits in.
    r[4].allowlist = true;
    assert_eq!(m.score("a.rb", &r, &[hit(0, 10), hit(4, 12)]), alone);
    assert!(m.score("a.rb", &r, &[hit(4, 9), hit(0, 10)]) < alone);
}

#[test]
fn a_spliced_clause_is_answered_only_on_its_line_or_on_its_path() {
    let mut r = rules();
    r[0].answered = Answered::OnItsLine;
    let m = ScoreModel::default();
    // The clause splicing a value at line 12; the next clause binds its own at 13.
    let raw = m.score("store/trips.go", &r, &[hit(0, 12)]);
    assert_eq!(
        m.score("store/trips.go", &r, &[hit(0, 12), hit(3, 13)]),
        raw
    );
    assert!(m.score("store/trips.go", &r, &[hit(3, 12), hit(0, 12)]) < raw);
    // A sanitizer between the input and the sink still counts.
    let tainted = m.score("store/trips.go", &r, &[hit(1, 5), hit(0, 12)]);
    assert!(m.score("store/trips.go", &r, &[hit(1, 5), hit(3, 8), hit(0, 12)]) < tainted);
    // Without the flag the neighbouring line's sanitizer clears it.
    r[0].answered = Answered::Nearby;
    assert!(m.score("store/trips.go", &r, &[hit(0, 12), hit(3, 13)]) < raw);
}

#[test]
fn a_bounds_check_after_a_wrapping_product_does_not_answer_it() {
    let mut r = rules();
    r[0].cwe = Some("CWE-190".into());
    r[0].category = "memory-safety".into();
    r[3].category = "memory-safety".into();
    let m = ScoreModel::default();
    let raw = m.score("src/calib.c", &r, &[hit(0, 20)]);
    assert_eq!(m.score("src/calib.c", &r, &[hit(0, 20), hit(3, 21)]), raw);
    assert_eq!(m.score("src/calib.c", &r, &[hit(3, 20), hit(0, 20)]), raw);
    assert!(m.score("src/calib.c", &r, &[hit(3, 18), hit(0, 20)]) < raw);
}

#[test]
fn a_statement_sink_is_answered_above_or_on_its_line_never_by_a_later_statement() {
    let m = ScoreModel::default();
    let mut r = rules();
    r[0].answered = Answered::FromAbove;
    let alone = m.score("a.py", &r, &[hit(0, 50)]);
    // `append(escape(x))` two lines below escapes another value.
    assert_eq!(m.score("a.py", &r, &[hit(0, 50), hit(3, 52)]), alone);
    // On its line, or just above it, it still answers the sink.
    assert!(m.score("a.py", &r, &[hit(3, 50), hit(0, 50)]) < alone);
    assert!(m.score("a.py", &r, &[hit(3, 48), hit(0, 50)]) < alone);
    // Any other sink keeps the window on both sides.
    r[0].answered = Answered::Nearby;
    assert!(m.score("a.py", &r, &[hit(0, 50), hit(3, 52)]) < alone);
}
