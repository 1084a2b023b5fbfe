//! Control flow: branches whose condition folds to a constant leave one way open;
//! other branches may or may not run; guards that validate a value clean it.

use super::analyze::{contains_word, Walker};
use super::flow::{Env, Lit, Val};
use super::fold::{fold, literal_text};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

impl<'a> Walker<'a> {
    /// `if`, `while`, `?:`: a condition that folds to a constant leaves one way open.
    pub(crate) fn conditional(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let Some(cond) = n.field("condition") else {
            return self.default_children(n, env, br);
        };
        let cv = self.eval(cond, env, br);
        let taken = match cv.lit {
            Some(Lit::Bool(b)) => Some(b),
            _ => None,
        };
        self.guard(cond, env);
        let is_loop = n.kind_name().starts_with("while");
        let mut then_v: Option<Val> = None;
        let mut else_v: Option<Val> = None;
        let mut c = n.walk();
        let children: Vec<(Option<&str>, Node)> = n
            .children(&mut c)
            .filter(|ch| ch.is_named())
            .map(|ch| (None, ch))
            .collect();
        let mut c = n.walk();
        let fields: Vec<Option<&'static str>> = {
            let mut out = Vec::new();
            if c.goto_first_child() {
                loop {
                    if c.node().is_named() {
                        out.push(c.field_name());
                    }
                    if !c.goto_next_sibling() {
                        break;
                    }
                }
            }
            out
        };
        for ((_, child), field) in children.into_iter().zip(fields) {
            if child.id() == cond.id() {
                continue;
            }
            let is_else = field == Some("alternative")
                || matches!(
                    child.kind_name(),
                    "else_clause" | "elif_clause" | "else_if_clause"
                );
            let runs = match taken {
                Some(t) => t != is_else,
                None => true,
            };
            if !runs {
                continue;
            }
            let sure = taken.is_some() && !is_loop;
            let v = self.eval(child, env, br || !sure);
            if is_else {
                else_v = Some(else_v.map_or(v.clone(), |e| e.either(v)));
            } else {
                then_v = Some(then_v.map_or(v.clone(), |t| t.either(v)));
            }
        }
        match (then_v, else_v) {
            (Some(t), Some(e)) => t.either(e),
            (Some(t), None) => t,
            (None, Some(e)) => e,
            (None, None) => Val::default(),
        }
    }

    /// Python's `a == b`, `a in b`: a boolean, folded when both sides are constants.
    pub(crate) fn comparison(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let (Some(l), Some(r)) = (n.named_child(0), n.named_child(1)) else {
            return Val::default();
        };
        let lv = self.eval(l, env, br);
        let rv = self.eval(r, env, br);
        let op = self
            .src
            .get(l.end_byte()..r.start_byte())
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match fold(&op, lv.lit.as_ref(), rv.lit.as_ref()) {
            Some(lit) => Val::lit(lit),
            None => Val {
                nonconst: lv.nonconst || rv.nonconst,
                ..Val::default()
            },
        }
    }

    /// Python's `a if cond else b`, whose parts are not named fields.
    pub(crate) fn python_conditional(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let (Some(a), Some(cond), Some(b)) = (n.named_child(0), n.named_child(1), n.named_child(2))
        else {
            return self.default_children(n, env, br);
        };
        let taken = match self.eval(cond, env, br).lit {
            Some(Lit::Bool(t)) => Some(t),
            _ => None,
        };
        match taken {
            Some(true) => self.eval(a, env, br),
            Some(false) => self.eval(b, env, br),
            None => {
                let va = self.eval(a, env, true);
                va.either(self.eval(b, env, true))
            }
        }
    }

    /// A sanitizer guard (`if x not in ALLOWED`, `if (!isValid(x)) return`): the names it
    /// tests are clean for its groups from here on.
    pub(crate) fn guard(&mut self, cond: Node<'a>, env: &mut Env) {
        if self.pack.sanitizer_guards.is_empty() {
            return;
        }
        let Some(text) = self.norm(cond) else { return };
        let groups = self
            .pack
            .sanitizer_guards
            .iter()
            .filter(|(_, re)| re.is_match(&text))
            .fold(0u64, |m, (g, _)| m | 1 << g);
        if groups == 0 {
            return;
        }
        // The names it tests, and whatever else holds the same request value (a check of
        // `urlparse(x).netloc` validates `x`).
        let tested: Vec<u32> = env
            .vars
            .iter()
            .filter(|(name, _)| contains_word(&text, name))
            .filter_map(|(_, v)| v.val.taint.as_ref().map(|f| f.line))
            .collect();
        for (name, var) in env.vars.iter_mut() {
            let same_source = var
                .val
                .taint
                .as_ref()
                .is_some_and(|f| tested.contains(&f.line));
            if same_source || contains_word(&text, name) {
                var.val = std::mem::take(&mut var.val).sanitized(groups);
            }
        }
    }

    /// `switch` on a constant runs one case; otherwise every case may.
    pub(crate) fn switch(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let cond = n.field("condition").or_else(|| n.field("value"));
        let lit = cond.and_then(|c| self.eval(c, env, br).lit);
        let Some(body) = n.field("body") else {
            return Val::default();
        };
        let mut c = body.walk();
        let groups: Vec<Node> = body.named_children(&mut c).collect();
        // Each group's labels: `Some(lit)` for `case lit:`, `None` for `default:`.
        let labels_of = |w: &Self, g: Node| -> Vec<Option<Lit>> {
            let mut c = g.walk();
            g.named_children(&mut c)
                .filter(|ch| ch.kind_name() == "switch_label")
                .map(|label| {
                    label
                        .named_child(0)
                        .and_then(|x| literal_text(x.kind_name(), w.text(x)))
                })
                .collect()
        };
        let chosen = lit.as_ref().and_then(|want| {
            groups
                .iter()
                .position(|g| labels_of(self, *g).iter().any(|l| l.as_ref() == Some(want)))
                .or_else(|| {
                    groups
                        .iter()
                        .position(|g| labels_of(self, *g).iter().any(Option::is_none))
                })
        });
        match chosen {
            Some(i) => {
                // Fall through to later groups until one breaks.
                for g in &groups[i..] {
                    self.eval(*g, env, br);
                    let mut c = g.walk();
                    if g.named_children(&mut c).any(|s| {
                        s.kind_name() == "break_statement" || s.kind_name() == "return_statement"
                    }) {
                        break;
                    }
                }
            }
            None => {
                for g in groups {
                    self.eval(g, env, true);
                }
            }
        }
        Val::default()
    }

    /// Python's `match`: on a constant subject only the matching `case` runs.
    pub(crate) fn python_match(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let subject = n.field("subject").map(|s| self.eval(s, env, br).lit);
        let Some(body) = n.field("body") else {
            return Val::default();
        };
        let mut c = body.walk();
        let cases: Vec<Node> = body
            .named_children(&mut c)
            .filter(|x| x.kind_name() == "case_clause")
            .collect();
        let matches = |w: &Self, case: Node, want: &Lit| -> bool {
            let mut c = case.walk();
            let found = case
                .named_children(&mut c)
                .filter(|p| p.kind_name() == "case_pattern")
                .any(|p| {
                    w.text(p).split('|').any(|alt| {
                        let alt = alt.trim();
                        alt == "_" || literal_text("string", alt).as_ref() == Some(want)
                    })
                });
            found
        };
        let chosen = match subject.flatten() {
            Some(want) => cases.iter().position(|c| matches(self, *c, &want)),
            None => None,
        };
        match chosen {
            Some(i) => {
                self.eval(cases[i], env, br);
            }
            None => {
                for case in cases {
                    self.eval(case, env, true);
                }
            }
        }
        Val::default()
    }
}
