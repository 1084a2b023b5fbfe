//! Walking a parsed file: statements in order, each function on its own, values
//! followed through assignments, aliases, branches and string building.
//!
//! The analysis is deliberately intra-procedural with one level of summaries: a
//! function of the same file records what its return value depends on and which of
//! its parameters reach a sink, and calls to it use that record (two passes).

use super::flow::{normalize, Env, Flow, Lit, Val};
use super::spec::{CompiledPack, CompiledSpec, Spec};
use super::syntax::Syntax;
use std::collections::HashMap;
use tree_sitter::Node;

/// A structural rule in play for the file being analysed.
pub(crate) struct Active<'a> {
    /// Index into the rule set (what `RawHit::rule` holds).
    pub rule: usize,
    pub category: &'a str,
    pub spec: &'a Spec,
    pub compiled: &'a CompiledSpec,
}

/// What a function of the file does with its parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    /// Its return value (parameter bits say which arguments flow into it).
    pub ret: Option<Val>,
    /// (active rule, parameters reaching the sink, the sink's name).
    pub sinks: Vec<(usize, u64, String)>,
    /// Parameters are counted from the second (`self`, `cls`).
    pub skips_self: bool,
}

/// A confirmed finding, before it becomes a `RawHit`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub active: usize,
    pub line: u32,
    pub label: String,
}

/// A sink call whose arguments were all judged: `safe` when every argument that
/// matters is a constant or sanitised (lines `from..=to`).
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub from: u32,
    pub to: u32,
    pub category: String,
    pub safe: bool,
}

pub(crate) struct Walker<'a> {
    pub src: &'a str,
    pub syn: &'static Syntax,
    pub pack: &'a CompiledPack,
    pub group_labels: Vec<&'a str>,
    pub active: Vec<Active<'a>>,
    pub summaries: HashMap<String, Summary>,
    /// Second pass: summaries are complete, findings are kept.
    pub record: bool,
    pub found: Vec<Found>,
    pub checked: Vec<Checked>,
    /// The function being analysed: its return value and the sinks its parameters reach.
    pub ret: Option<Val>,
    pub param_sinks: Vec<(usize, u64, String)>,
    /// Nesting guard: pathological inputs must not overflow the stack.
    pub depth: usize,
    /// The file's named functions, for summaries computed when first called.
    pub fn_nodes: HashMap<String, Vec<Node<'a>>>,
    /// Functions whose summary is being computed (recursion stops there).
    pub in_progress: Vec<String>,
    /// When set, the walk enters only functions spanning one of these lines (sorted).
    pub focus: Option<&'a [u32]>,
}

const MAX_DEPTH: usize = 400;
/// Texts longer than this are not normalised for matching (a callee never is).
const MAX_MATCH_TEXT: usize = 400;

impl<'a> Walker<'a> {
    pub fn text(&self, n: Node<'a>) -> &'a str {
        self.src.get(n.byte_range()).unwrap_or("")
    }

    pub fn line(n: Node<'a>) -> u32 {
        u32::try_from(n.start_position().row + 1).unwrap_or(u32::MAX)
    }

    pub fn end_line(n: Node<'a>) -> u32 {
        u32::try_from(n.end_position().row + 1).unwrap_or(u32::MAX)
    }

    /// The node's text as rules match it, or `None` when too long to be a name.
    pub fn norm(&self, n: Node<'a>) -> Option<String> {
        let t = self.text(n);
        (t.len() <= MAX_MATCH_TEXT).then(|| normalize(t))
    }

    /// The source group an expression's text starts with, if any.
    pub fn source_of(&self, text: &str, line: u32) -> Option<Val> {
        // `this.request.getParameter`: the object's own fields are read as names.
        let bare = ["this.", "self.", "$this."]
            .iter()
            .find_map(|p| text.strip_prefix(p))
            .unwrap_or(text);
        let group = self.pack.source_group(bare)?;
        Some(Val {
            taint: Some(Flow {
                groups: 1 << group,
                clean: 0,
                line,
                via: None,
            }),
            nonconst: true,
            stringy: true,
            ..Val::default()
        })
    }

    /// Evaluates a node in order, returning its abstract value; statements yield nothing.
    /// `br`: the node may not run (inside a branch or loop).
    pub fn eval(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        if self.depth > MAX_DEPTH {
            return Val::opaque();
        }
        self.depth += 1;
        let v = self.eval_inner(n, env, br);
        self.depth -= 1;
        v
    }

    fn eval_inner(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let syn = self.syn;
        let kind = n.kind();
        if syn.is(syn.comments, kind) {
            return Val::default();
        }
        if syn.is(syn.functions, kind) {
            if self.in_focus(n) {
                self.function(n, env);
            }
            return Val::default();
        }
        if syn.is(syn.calls, kind) {
            return self.call(n, env, br);
        }
        if let Some(a) = syn.assigns.iter().find(|a| a.kind == kind) {
            return self.assign(n, a, env, br);
        }
        if syn.is(syn.idents, kind) {
            return self.ident(n, env);
        }
        if syn.is(syn.members, kind) {
            return self.member(n, env, br);
        }
        if syn.is(syn.strings, kind) {
            return self.string(n, env, br);
        }
        if syn.is(syn.binaries, kind) {
            return self.binary(n, env, br);
        }
        if kind == "comparison_operator" && n.named_child_count() == 2 {
            return self.comparison(n, env, br);
        }
        if syn.is(syn.opaque, kind) {
            return literal(kind, self.text(n));
        }
        if kind == "character_literal" {
            let t = self.text(n);
            return Val::lit(Lit::Str(t.trim_matches('\'').to_string()));
        }
        if kind == "conditional_expression" && n.child_by_field_name("condition").is_none() {
            return self.python_conditional(n, env, br);
        }
        if n.child_by_field_name("condition").is_some()
            && (syn.is(syn.conditions, kind)
                || kind.contains("ternary")
                || kind == "conditional_expression")
        {
            return self.conditional(n, env, br);
        }
        if kind == "match_statement" {
            return self.python_match(n, env, br);
        }
        if kind.starts_with("switch") && n.child_by_field_name("body").is_some() {
            return self.switch(n, env, br);
        }
        if let Some(l) = syn.loops.iter().find(|l| l.kind == kind) {
            if let (Some(var), Some(iter)) =
                (n.child_by_field_name(l.var), n.child_by_field_name(l.iter))
            {
                let mut v = self.eval(iter, env, br);
                if let Some(elems) = self.path_key(iter).and_then(|k| env.get(&k)?.elems.clone()) {
                    v = elems.into_iter().fold(v, Val::join);
                }
                self.bind(var, v, None, env, true, false);
                let mut c = n.walk();
                for child in n.named_children(&mut c) {
                    if child.id() != var.id() && child.id() != iter.id() {
                        self.eval(child, env, true);
                    }
                }
                return Val::default();
            }
        }
        if kind == "return_statement" || kind == "return" {
            let mut v = Val::default();
            let mut c = n.walk();
            for child in n.named_children(&mut c) {
                v = v.join(self.eval(child, env, br));
            }
            self.ret = Some(match self.ret.take() {
                Some(r) => r.either(v.clone()),
                None => v.clone(),
            });
            return v;
        }
        if kind == "import_statement" || kind == "import_from_statement" {
            self.import(n, env);
            return Val::default();
        }
        if matches!(kind, "parenthesized_expression" | "cast_expression") {
            // The value of the last named child (the operand; a cast's type comes first).
            let mut v = Val::default();
            let mut c = n.walk();
            for child in n.named_children(&mut c) {
                v = self.eval(child, env, br);
            }
            return v;
        }
        let inner_br = br || syn.is(syn.branches, kind);
        let mut v = Val::default();
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            v = v.join(self.eval(child, env, inner_br));
        }
        v
    }

    fn ident(&mut self, n: Node<'a>, env: &Env) -> Val {
        let name = self.text(n);
        if let Some(v) = self.source_of(name, Self::line(n)) {
            return v;
        }
        match env.get(name) {
            Some(var) => {
                let mut v = var.val.clone();
                if let Some(f) = &mut v.taint {
                    f.via = Some(name.to_string());
                }
                v
            }
            // A class or constant name is not data; any other unbound name may be.
            None if name.starts_with(|c: char| c.is_ascii_uppercase()) => Val::unknown(),
            None => Val::opaque(),
        }
    }

    /// `a.b`, `a[b]`: a source, a tracked field or constant key, or the object's value.
    fn member(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let key = self.norm(n);
        if let Some(k) = &key {
            if let Some(v) = self.source_of(k, Self::line(n)) {
                return v;
            }
            if let Some(var) = env.get(k) {
                let mut v = var.val.clone();
                if let Some(f) = &mut v.taint {
                    f.via = Some(k.clone());
                }
                return v;
            }
        }
        let Some(object) = n.named_child(0) else {
            return Val::opaque();
        };
        let obj = self.eval(object, env, br);
        // Fields of the current object are state the analysis does not follow; a path
        // through a class (`Locale.US`, `settings.DEBUG`) is a constant.
        let own = key.as_deref().is_some_and(|k| {
            ["this.", "self.", "$this."]
                .iter()
                .any(|p| k.starts_with(p))
        });
        let class_path = key.as_deref().is_some_and(|k| {
            k.split('.')
                .skip(1)
                .any(|seg| seg.starts_with(|c: char| c.is_ascii_uppercase()))
        });
        let free = own || (obj.free && !class_path);
        let mut index = None;
        let mut c = n.walk();
        for child in n.named_children(&mut c).skip(1) {
            if n.kind().contains("subscript") || n.kind().contains("index") {
                index = Some(self.eval(child, env, br));
            }
        }
        if let (Some(Lit::Str(text)), Some(Lit::Int(i))) = (
            obj.lit.as_ref(),
            index.as_ref().and_then(|i| i.lit.as_ref()),
        ) {
            if let Some(c) = usize::try_from(*i).ok().and_then(|i| text.chars().nth(i)) {
                return Val::lit(Lit::Str(c.to_string()));
            }
        }
        if let (Some(Lit::Int(i)), Some(base)) = (
            index.as_ref().and_then(|i| i.lit.clone()),
            self.path_key(object),
        ) {
            let elem = env
                .get(&base)
                .and_then(|var| var.elems.as_ref())
                .and_then(|elems| usize::try_from(i).ok().and_then(|i| elems.get(i)));
            if let Some(v) = elem {
                return v.clone();
            }
        }
        if let (Some(Lit::Str(k)), Some(base)) = (
            index.as_ref().and_then(|i| i.lit.clone()),
            self.path_key(object),
        ) {
            if let Some((_, v)) = env
                .get(&base)
                .and_then(|var| var.keys.iter().find(|(kk, _)| *kk == k))
            {
                return v.clone();
            }
        }
        Val {
            lit: None,
            made: obj.made.clone(),
            free,
            ..obj
        }
    }

    fn string(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let syn = self.syn;
        let mut v = Val::lit(Lit::Str(String::new()));
        let mut pieces = 0;
        let mut nonconst_name = None;
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            if syn.is(syn.string_parts, child.kind()) {
                continue;
            }
            pieces += 1;
            let part = self.eval(child, env, br);
            if part.nonconst && nonconst_name.is_none() {
                nonconst_name = Some(short(self.text(child)));
            }
            v = v.join(part);
        }
        v.stringy = true;
        if pieces == 0 {
            v.lit = Some(Lit::Str(unquote(self.text(n))));
        } else if let Some(name) = nonconst_name {
            if v.built.is_none() {
                v.built = Some((Self::line(n), name));
            }
        }
        v.at(Self::line(n))
    }

    fn binary(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let (Some(l), Some(r)) = (
            n.child_by_field_name("left"),
            n.child_by_field_name("right"),
        ) else {
            return self.default_children(n, env, br);
        };
        let op = n
            .child_by_field_name("operator")
            .map(|o| self.text(o))
            .unwrap_or("");
        let lv = self.eval(l, env, br);
        let rv = self.eval(r, env, br);
        if let Some(lit) = fold(op, lv.lit.as_ref(), rv.lit.as_ref()) {
            return Val::lit(lit);
        }
        let concat = self.syn.is(self.syn.concat_ops, op)
            && (op != "%" || lv.stringy)
            && !(matches!(lv.lit, Some(Lit::Int(_))) && matches!(rv.lit, Some(Lit::Int(_))));
        if concat {
            let name = if lv.nonconst { l } else { r };
            let stringy = lv.stringy || rv.stringy;
            let mut v = lv.join(rv);
            if v.nonconst && stringy && v.built.is_none() {
                v.built = Some((Self::line(n), short(self.text(name))));
            }
            return v.at(Self::line(n));
        }
        if self.syn.is(self.syn.boolean_ops, op)
            || matches!(op, "%" | "<<" | ">>" | "&" | "|" | "^" | "**")
        {
            // Numbers and booleans: never text an attacker writes.
            return Val {
                nonconst: lv.nonconst || rv.nonconst,
                ..Val::default()
            };
        }
        // `a || b`, `a ?? b`, `x or y`: either operand.
        lv.either(rv)
    }

    fn default_children(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let mut v = Val::default();
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            v = v.join(self.eval(child, env, br));
        }
        v
    }

    /// `if`, `while`, `?:`: a condition that folds to a constant leaves one way open.
    fn conditional(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let Some(cond) = n.child_by_field_name("condition") else {
            return self.default_children(n, env, br);
        };
        let cv = self.eval(cond, env, br);
        let taken = match cv.lit {
            Some(Lit::Bool(b)) => Some(b),
            _ => None,
        };
        self.guard(cond, env);
        let is_loop = n.kind().starts_with("while");
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
                    child.kind(),
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
    fn comparison(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
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
    fn python_conditional(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
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
    fn guard(&mut self, cond: Node<'a>, env: &mut Env) {
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
    fn switch(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let cond = n
            .child_by_field_name("condition")
            .or_else(|| n.child_by_field_name("value"));
        let lit = cond.and_then(|c| self.eval(c, env, br).lit);
        let Some(body) = n.child_by_field_name("body") else {
            return Val::default();
        };
        let mut c = body.walk();
        let groups: Vec<Node> = body.named_children(&mut c).collect();
        // Each group's labels: `Some(lit)` for `case lit:`, `None` for `default:`.
        let labels_of = |w: &Self, g: Node| -> Vec<Option<Lit>> {
            let mut c = g.walk();
            g.named_children(&mut c)
                .filter(|ch| ch.kind() == "switch_label")
                .map(|label| {
                    label
                        .named_child(0)
                        .and_then(|x| literal_text(x.kind(), w.text(x)))
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
                    if g.named_children(&mut c)
                        .any(|s| s.kind() == "break_statement" || s.kind() == "return_statement")
                    {
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
    fn python_match(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let subject = n
            .child_by_field_name("subject")
            .map(|s| self.eval(s, env, br).lit);
        let Some(body) = n.child_by_field_name("body") else {
            return Val::default();
        };
        let mut c = body.walk();
        let cases: Vec<Node> = body
            .named_children(&mut c)
            .filter(|x| x.kind() == "case_clause")
            .collect();
        let matches = |w: &Self, case: Node, want: &Lit| -> bool {
            let mut c = case.walk();
            let found = case
                .named_children(&mut c)
                .filter(|p| p.kind() == "case_pattern")
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

    /// The key of a variable or field path (`x`, `this.x`, `$db`), if `n` is one.
    pub fn path_key(&self, n: Node<'a>) -> Option<String> {
        let kind = n.kind();
        if self.syn.is(self.syn.idents, kind)
            || (self.syn.is(self.syn.members, kind)
                && !kind.contains("subscript")
                && !kind.contains("index"))
            || kind == "this"
            || kind == "self"
        {
            self.norm(n)
        } else {
            None
        }
    }

    /// Whether the walk should enter function `n`: always when summarising, otherwise
    /// when it spans a line of interest.
    fn in_focus(&self, n: Node<'a>) -> bool {
        let Some(focus) = self.focus.filter(|_| self.record) else {
            return true;
        };
        let (from, to) = (Self::line(n), Self::end_line(n));
        let i = focus.partition_point(|&l| l < from);
        focus.get(i).is_some_and(|&l| l <= to)
    }

    /// Every named function of the tree, by name.
    pub fn collect_functions(&mut self, root: Node<'a>) {
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if self.syn.is(self.syn.functions, n.kind()) {
                if let Some(name) = n.child_by_field_name("name") {
                    let name = self.text(name).to_string();
                    self.fn_nodes.entry(name).or_default().push(n);
                }
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
    }

    /// Makes sure the summary of the file's function `name` exists, analysing it now
    /// (without recording findings) if the walk has not reached it yet.
    pub fn ensure_summary(&mut self, name: &str) {
        if self.summaries.contains_key(name) || self.in_progress.iter().any(|p| p == name) {
            return;
        }
        let Some(nodes) = self.fn_nodes.get(name).cloned() else {
            return;
        };
        self.in_progress.push(name.to_string());
        let record = std::mem::replace(&mut self.record, false);
        for node in nodes {
            self.function(node, &Env::default());
        }
        self.record = record;
        self.in_progress.pop();
    }

    /// Analyses a function on a copy of the enclosing scope, then records its summary.
    pub fn function(&mut self, n: Node<'a>, outer: &Env) {
        let mut env = outer.clone();
        let Some(body) = n.child_by_field_name("body") else {
            return;
        };
        let header = self.header(n, body);
        let handler = self
            .pack
            .handlers
            .iter()
            .find(|(_, re)| re.is_match(&header))
            .map(|(g, _)| *g);
        let mut skips_self = false;
        let params = n
            .child_by_field_name("parameters")
            .or_else(|| n.child_by_field_name("parameter"));
        if let Some(params) = params {
            let list: Vec<Node> = if self.syn.is(self.syn.idents, params.kind()) {
                vec![params]
            } else {
                let mut c = params.walk();
                params
                    .named_children(&mut c)
                    .filter(|p| !self.syn.is(self.syn.comments, p.kind()))
                    .collect()
            };
            let mut index = 0u32;
            for (i, p) in list.into_iter().enumerate() {
                let Some(name_node) = self.param_name(p) else {
                    continue;
                };
                let name = self.text(name_node).to_string();
                if i == 0 && (name == "self" || name == "cls") {
                    skips_self = true;
                    continue;
                }
                let mut v = Val::unknown();
                if index < 64 {
                    v.params = 1 << index;
                }
                index += 1;
                let by_param = self.norm(p).and_then(|t| {
                    self.pack
                        .params
                        .iter()
                        .find(|(_, re)| re.is_match(&t))
                        .map(|(g, _)| *g)
                });
                let group = by_param.or(handler.filter(|_| {
                    !self.pack.params_except.contains(&name)
                        && handler_param(&header, &name, self.text(p))
                }));
                if let Some(g) = group {
                    v.taint = Some(Flow {
                        groups: 1 << g,
                        clean: 0,
                        line: Self::line(p),
                        via: Some(name.clone()),
                    });
                    v.stringy = true;
                }
                let var = env.local(&name);
                var.val = v;
                var.alias = None;
            }
        }
        let saved_ret = self.ret.take();
        let saved_sinks = std::mem::take(&mut self.param_sinks);
        if self.syn.is(self.syn.functions, body.kind())
            || !body.kind().contains("block")
                && body.kind() != "compound_statement"
                && body.kind() != "statement_block"
        {
            // An expression body (`x => x + 1`, `lambda: ...`) is the return value.
            let v = self.eval(body, &mut env, false);
            self.ret = Some(v);
        } else {
            self.eval(body, &mut env, false);
        }
        let ret = std::mem::replace(&mut self.ret, saved_ret);
        let sinks = std::mem::replace(&mut self.param_sinks, saved_sinks);
        let name = n
            .child_by_field_name("name")
            .map(|x| self.text(x).to_string());
        // Computed on demand (not recording), or met first in the walk.
        if let Some(name) = name.filter(|k| !self.record || !self.summaries.contains_key(k)) {
            {
                let s = self.summaries.entry(name).or_default();
                // Overloads and redefinitions: what any of them does.
                s.ret = match (s.ret.take(), ret) {
                    (Some(a), Some(b)) => Some(a.either(b)),
                    (a, b) => a.or(b),
                };
                s.sinks.extend(sinks);
                s.skips_self = skips_self;
            }
        }
    }

    fn param_name(&self, p: Node<'a>) -> Option<Node<'a>> {
        if self.syn.is(self.syn.idents, p.kind()) {
            return Some(p);
        }
        for field in ["name", "pattern", "left"] {
            if let Some(x) = p.child_by_field_name(field) {
                return self.param_name(x).or(Some(x));
            }
        }
        let mut c = p.walk();
        let found = p
            .named_children(&mut c)
            .find(|x| self.syn.is(self.syn.idents, x.kind()));
        found
    }

    /// What says a function is a handler: its decorators or annotations, its signature,
    /// and the call it is passed to (`app.get('/x', (req, res) => ...)`).
    fn header(&self, n: Node<'a>, body: Node<'a>) -> String {
        let start = match n.parent() {
            Some(p) if p.kind() == "decorated_definition" => p.start_byte(),
            _ => n.start_byte(),
        };
        let end = body.start_byte().min(start + 2000);
        let mut h = normalize(self.src.get(start..end).unwrap_or(""));
        if let Some(call) = n
            .parent()
            .filter(|p| p.kind() == "arguments")
            .and_then(|p| p.parent())
        {
            if let Some(f) = call.child_by_field_name("function") {
                if let Some(t) = self.norm(f) {
                    h.push(' ');
                    h.push_str(&t);
                    h.push('(');
                }
            }
        }
        h
    }
}

/// Whether a handler's parameter carries request data: not an injected dependency
/// (`Depends(...)`), and, when the route declares path placeholders (`<name>`,
/// `<int:name>`), one of them; other parameters of such a route come from decorators.
fn handler_param(header: &str, name: &str, param: &str) -> bool {
    if param.contains("Depends(") || param.contains("Security(") {
        return false;
    }
    let placeholders = header.contains('<') && header.contains('>');
    !placeholders || header.contains(&format!("<{name}>")) || header.contains(&format!(":{name}>"))
}

/// The value of a literal node of an opaque kind.
fn literal(kind: &str, text: &str) -> Val {
    match literal_text(kind, text) {
        Some(l) => Val::lit(l),
        None => Val::default(),
    }
}

fn literal_text(kind: &str, text: &str) -> Option<Lit> {
    let t = text.trim();
    if kind.contains("integer") || kind == "int_literal" || kind == "number" {
        let t = t.trim_end_matches(['l', 'L']).replace('_', "");
        return t.parse::<i64>().ok().map(Lit::Int);
    }
    match t {
        "true" | "True" => return Some(Lit::Bool(true)),
        "false" | "False" => return Some(Lit::Bool(false)),
        _ => {}
    }
    if kind == "character_literal" || kind.contains("string") {
        return Some(Lit::Str(unquote(t)));
    }
    None
}

/// Folds an operator over two constants.
fn fold(op: &str, l: Option<&Lit>, r: Option<&Lit>) -> Option<Lit> {
    use Lit::*;
    Some(match (l?, r?) {
        (Int(a), Int(b)) => match op {
            "+" => Int(a.checked_add(*b)?),
            "-" => Int(a.checked_sub(*b)?),
            "*" => Int(a.checked_mul(*b)?),
            "/" if *b != 0 => Int(a.checked_div(*b)?),
            "%" if *b != 0 => Int(a.checked_rem(*b)?),
            ">" => Bool(a > b),
            "<" => Bool(a < b),
            ">=" => Bool(a >= b),
            "<=" => Bool(a <= b),
            "==" | "===" => Bool(a == b),
            "!=" | "!==" => Bool(a != b),
            _ => return None,
        },
        (Str(a), Str(b)) => match op {
            "+" | "." => Str(format!("{a}{b}")),
            "in" => Bool(b.contains(a.as_str())),
            "not in" => Bool(!b.contains(a.as_str())),
            "==" | "===" => Bool(a == b),
            "!=" | "!==" => Bool(a != b),
            _ => return None,
        },
        (Bool(a), Bool(b)) => match op {
            "&&" | "and" => Bool(*a && *b),
            "||" | "or" => Bool(*a || *b),
            "==" | "===" => Bool(a == b),
            "!=" | "!==" => Bool(a != b),
            _ => return None,
        },
        _ => return None,
    })
}

/// A string literal's content, without quotes or prefixes (approximate: escapes kept).
fn unquote(t: &str) -> String {
    let t = t.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    t.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}

/// An expression's text, cut for a label.
pub(crate) fn short(t: &str) -> String {
    let t = normalize(t.get(..t.len().min(200)).unwrap_or(t));
    if t.chars().count() > 40 {
        let cut: String = t.chars().take(37).collect();
        format!("{cut}...")
    } else {
        t
    }
}

fn contains_word(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}
