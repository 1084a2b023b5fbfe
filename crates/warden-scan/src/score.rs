//! Turning a file's rule hits into one score.
//!
//! Only sinks (and secrets, weak crypto, dangerous config, which are sinks too)
//! score. Sources, entry points and sanitizers change how much a sink counts:
//! attacker input a few lines above a sink, or a route handler around it, raise
//! it; a sanitizer of the same category on or next to it lowers it. A file with
//! only an entry point is not a candidate: every route handler is not a finding.

use crate::layout::Layout;
use crate::matcher::RawHit;
use crate::ranking::{classify, is_production_config, is_view_template, PathClass};
use crate::rules::{Role, Rule};
use std::collections::HashMap;

/// Knobs of the scoring model; the defaults are what `warden scan` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreModel {
    /// A source this many lines above a sink (or on its line) taints it.
    pub taint_window: u32,
    /// An entry point this many lines above a sink puts the sink in its handler.
    pub entry_window: u32,
    /// A sanitizer this many lines around a sink neutralises it.
    pub sanitizer_window: u32,
    /// An owner check (an `authz` sanitizer) this many lines below an object lookup
    /// (an `authz` sink) answers it: the check follows the fetch and its not-found
    /// handling, often past `sanitizer_window`.
    pub owner_check_window: u32,
    pub taint_boost: f64,
    /// A source this many lines below a sink (within `taint_window`): the sink sits in a
    /// helper defined above the handler that calls it.
    pub source_below_boost: f64,
    pub source_in_file_boost: f64,
    /// A sink whose statement names a parameter of its function (or a local computed
    /// from one), in a file that reads no input itself: the repository, storage helper
    /// or client an application hands the request down to.
    pub parameter_boost: f64,
    pub entry_boost: f64,
    pub entry_in_file_boost: f64,
    pub sanitizer_factor: f64,
    /// Tests, fixtures, examples, docs and rule definitions count this much; those that
    /// still reach the default threshold score within one point above it.
    pub demoted_factor: f64,
    /// Rank tests, fixtures, examples, docs and rule definitions like application code.
    pub include_tests: bool,
}

impl Default for ScoreModel {
    fn default() -> Self {
        ScoreModel {
            taint_window: 40,
            entry_window: 80,
            sanitizer_window: 3,
            owner_check_window: 8,
            taint_boost: 1.8,
            source_below_boost: 1.5,
            source_in_file_boost: 1.25,
            parameter_boost: 1.5,
            entry_boost: 1.4,
            entry_in_file_boost: 1.15,
            sanitizer_factor: 0.3,
            demoted_factor: 0.35,
            include_tests: false,
        }
    }
}

impl ScoreModel {
    /// Scores one file from its hits (`rules` is what `hit.rule` indexes).
    pub fn score(&self, path: &str, rules: &[Rule], hits: &[RawHit]) -> f64 {
        self.score_in(path, rules, hits, &Layout::default())
    }

    /// As [`ScoreModel::score`], knowing more of the file's code than its hits (see
    /// [`crate::layout::layout`]).
    pub fn score_in(&self, path: &str, rules: &[Rule], hits: &[RawHit], layout: &Layout) -> f64 {
        let lines_of = |role: Role| -> Vec<u32> {
            hits.iter()
                .filter(|h| rules[h.rule].role == role)
                .map(|h| h.line)
                .collect()
        };
        let sources = lines_of(Role::Source);
        let entries = lines_of(Role::EntryPoint);
        let sanitizers: Vec<(&str, u32)> = hits
            .iter()
            .filter(|h| rules[h.rule].role == Role::Sanitizer)
            .map(|h| (rules[h.rule].category.as_str(), h.line))
            .collect();

        // Two sinks of one category on one line are one flaw: only the heavier counts.
        let mut heaviest: HashMap<(u32, &str), usize> = HashMap::new();
        for hit in hits.iter().filter(|h| rules[h.rule].role == Role::Sink) {
            let key = (hit.line, rules[hit.rule].category.as_str());
            let best = heaviest.entry(key).or_insert(hit.rule);
            // On a tie the structurally decided finding speaks for the line.
            let (w, bw) = (rules[hit.rule].weight, rules[*best].weight);
            if w > bw || (w == bw && decided(&rules[hit.rule]) && !decided(&rules[*best])) {
                *best = hit.rule;
            }
        }

        // In a view template every print is its own statement: an escaped print on the
        // next line says nothing of a raw one, so only a sanitizer on its line clears an
        // XSS sink (a CSRF token field still answers the form it sits in).
        let view = is_view_template(path);
        // Best multiplier and hit count per sink rule, in first-seen order.
        let mut per_rule: Vec<(usize, f64, u32)> = Vec::new();
        for hit in hits.iter().filter(|h| {
            rules[h.rule].role == Role::Sink
                && heaviest.get(&(h.line, rules[h.rule].category.as_str())) == Some(&h.rule)
        }) {
            let rule = &rules[hit.rule];
            let context = Context {
                sources: &sources,
                entries: &entries,
                sanitizers: &sanitizers,
                fed: &layout.fed,
                functions: &layout.functions,
                view,
            };
            let m = self.context_multiplier(rule, hit.line, &context);
            match per_rule.iter_mut().find(|(r, _, _)| *r == hit.rule) {
                Some(entry) => {
                    entry.1 = entry.1.max(m);
                    entry.2 += 1;
                }
                None => per_rule.push((hit.rule, m, 1)),
            }
        }
        let production = is_production_config(path);
        let raw: f64 = per_rule
            .iter()
            .map(|&(r, m, n)| {
                // Debug switches and exposed endpoints are a finding in production's
                // own configuration, and merely likely anywhere else.
                let m = if production && rules[r].category == "config" {
                    m * PRODUCTION_CONFIG_BOOST
                } else {
                    m
                };
                rules[r].weight * m * (1.0 + 0.15 * f64::from(n.min(5) - 1))
            })
            .sum();
        let raw = if self.include_tests {
            raw
        } else {
            self.demote(self.class_of(path, hits), raw)
        };
        ((raw * 100.0).round() / 100.0).max(0.0)
    }

    /// The kind of file `path` is, given the lines its hits matched.
    pub fn class_of(&self, path: &str, hits: &[RawHit]) -> PathClass {
        classify(path, hits.iter().map(|h| h.snippet.as_str()))
    }

    /// A demoted file's score: scaled down, so only a strong match stays a candidate, and
    /// past the threshold mapped into one point above it, keeping the order among such
    /// files. They rank below application code that scores higher, so a fixture full of
    /// example secrets no longer leads the queue.
    fn demote(&self, class: PathClass, raw: f64) -> f64 {
        if !class.is_demoted() {
            return raw;
        }
        let knee = crate::DEFAULT_MIN_SCORE;
        let scaled = raw * self.demoted_factor;
        if scaled < knee {
            scaled
        } else {
            let over = scaled - knee;
            knee + over / (over + 10.0)
        }
    }

    fn context_multiplier(&self, rule: &Rule, line: u32, context: &Context) -> f64 {
        let Context {
            sources,
            entries,
            sanitizers,
            fed,
            functions,
            view,
        } = *context;
        let above = |l: u32, window: u32| l <= line && line - l <= window;
        let below = |l: u32, window: u32| l > line && l - line <= window;
        // A sanitizer counts next to the sink, or on the path from the input to it:
        // between the nearest source above the sink and the sink itself.
        let nearest_source = sources
            .iter()
            .copied()
            .filter(|&s| above(s, self.taint_window))
            .max();
        // A sink fed by its function's parameters where no check of its kind can be
        // about its value (the layout leaves out sinks whose function, or a function it
        // calls, holds one: it may check another value, so it does not clear the sink,
        // but it withholds the boost).
        let fed_unchecked = handed_down(&rule.category) && fed.binary_search(&line).is_ok();
        // A structural C check already decided whether a bounds check clears the flaw:
        // a regex sanitizer on a nearby line says nothing more.
        let sanitized = !decided(rule)
            && sanitizers.iter().any(|&(cat, l)| {
                // An authz sanitizer is an owner check: it answers an object lookup by a
                // key the caller chose, not a model bound whole from the request (mass
                // assignment, the same category), which a policy check lets through.
                if cat == "authz" && rule.cwe.as_deref() != Some(OBJECT_LOOKUP_CWE) {
                    return false;
                }
                // Below the lookup, in its own function: the next function's check is
                // about the next function's lookup.
                let owner_check = cat == "authz"
                    && below(l, self.owner_check_window)
                    && !functions.iter().any(|&f| line < f && f <= l);
                // A secret written in the code is no flow from an input: a placeholder
                // check between some request read and the key says nothing of the key.
                let on_the_path = rule.category != "secrets"
                    && nearest_source.is_some_and(|s| s <= l && l <= line);
                let near = if view && rule.category == "xss" {
                    l == line
                } else {
                    l.abs_diff(line) <= self.sanitizer_window || owner_check || on_the_path
                };
                (cat == rule.category || (cat == "input" && shape_matters(&rule.category))) && near
            });
        let mut m = 1.0;
        if sanitized {
            // Sanitised input no longer counts as attacker-controlled for this sink.
            m *= self.sanitizer_factor;
        } else if nearest_source.is_some() {
            m *= self.taint_boost;
        } else if sources.iter().any(|&s| below(s, self.taint_window)) {
            m *= self.source_below_boost;
        } else if fed_unchecked {
            m *= self.parameter_boost;
        } else if !sources.is_empty() {
            m *= self.source_in_file_boost;
        }
        if entries.iter().any(|&e| above(e, self.entry_window)) {
            m *= self.entry_boost;
        } else if !entries.is_empty() {
            m *= self.entry_in_file_boost;
        }
        m
    }
}

/// What the multiplier of a sink reads of the rest of the file.
struct Context<'a> {
    sources: &'a [u32],
    entries: &'a [u32],
    sanitizers: &'a [(&'a str, u32)],
    fed: &'a [u32],
    functions: &'a [u32],
    view: bool,
}

/// Weaknesses a caller's value decides: those of input shapes, and object lookups by a
/// key the caller passes. Not prototype pollution: a helper that splits a key path is
/// as often writing into a `Map`, and the writes that do reach a prototype have rules
/// of their own.
pub(crate) fn handed_down(category: &str) -> bool {
    (shape_matters(category) && category != "prototype-pollution") || category == "authz"
}

/// Authorization bypass through a user-controlled key (IDOR): the only weakness an
/// owner check answers.
const OBJECT_LOOKUP_CWE: &str = "CWE-639";

/// How much more a configuration finding weighs in a production configuration file.
const PRODUCTION_CONFIG_BOOST: f64 = 1.5;

/// Whether a sink of `category` is harmless once its input is parsed into a number,
/// UUID or a validated shape (the "input" sanitizers): true for injections, whose
/// payload is text; false for authorization, configuration, crypto and memory flaws,
/// where `Atoi(id)` fetches another user's record or indexes past a buffer just the same.
/// False for XXE too: the payload is the XML document itself, and a number parsed out of
/// the parsed tree (`(int) $node->nodeValue`) says nothing about its entities.
fn shape_matters(category: &str) -> bool {
    matches!(
        category,
        "injection"
            | "xss"
            | "path-traversal"
            | "command-execution"
            | "code-execution"
            | "ssrf"
            | "open-redirect"
            | "deserialization"
            | "prototype-pollution"
            | "denial-of-service"
    )
}

/// Whether a structural C check decided the finding (bounds checks included), so regex
/// sanitizers nearby say nothing more about it.
fn decided(rule: &Rule) -> bool {
    rule.structural
        .as_ref()
        .is_some_and(|s| s.kind == crate::structural::Kind::Memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::fed_by_parameters;
    use crate::rules::parse_pack;

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
        let dev = m.score("config/environments/development.rb", &r, &[hit(d, 3)]);
        for prod in [
            "config/environments/production.rb",
            ".env.production",
            "src/main/resources/application-prod.properties",
            "settings/prod.py",
        ] {
            assert_eq!(
                m.score(prod, &r, &[hit(d, 3)]),
                dev * PRODUCTION_CONFIG_BOOST,
                "{prod}"
            );
        }
        for other in ["src/product.rs", "reproduce.py", "config/products.yaml"] {
            assert_eq!(m.score(other, &r, &[hit(d, 3)]), dev, "{other}");
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
}
