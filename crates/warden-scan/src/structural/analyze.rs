//! Walking a parsed file: statements in order, each function on its own, values
//! followed through assignments, aliases, branches and string building.
//!
//! The analysis is deliberately intra-procedural with one level of summaries: a
//! function of the same file records what its return value depends on and which of
//! its parameters reach a sink, and calls to it use that record (computed when first
//! called). Control flow lives in `control`, functions in `functions`, calls in
//! `calls`, assignments and imports in `assign`, constant folding in `fold`.

use super::flow::{normalize, Env, Flow, Lit, Val};
use super::fold::{fold, literal_text, unquote};
use super::spec::{CompiledPack, CompiledSpec, Spec};
use super::syntax::Syntax;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
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
    /// The function being walked is a route handler: what it returns is the response.
    pub in_handler: bool,
}

/// Nesting followed before a value is given up as unknown: scan threads have 2 MiB
/// stacks, and unoptimised builds use several times more of it per level.
const MAX_DEPTH: usize = if cfg!(debug_assertions) { 100 } else { 300 };
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

    pub(crate) fn eval_inner(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let syn = self.syn;
        let kind = n.kind_name();
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
        if kind == "conditional_expression" && n.field("condition").is_none() {
            return self.python_conditional(n, env, br);
        }
        if n.field("condition").is_some()
            && (syn.is(syn.conditions, kind)
                || kind.contains("ternary")
                || kind == "conditional_expression")
        {
            return self.conditional(n, env, br);
        }
        if kind == "match_statement" {
            return self.python_match(n, env, br);
        }
        if kind.starts_with("switch") && n.field("body").is_some() {
            return self.switch(n, env, br);
        }
        if let Some(l) = syn.loops.iter().find(|l| l.kind == kind) {
            if let (Some(var), Some(iter)) = (n.field(l.var), n.field(l.iter)) {
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
            let mut returned = None;
            for child in n.named_children(&mut c) {
                v = v.join(self.eval(child, env, br));
                returned = Some(child);
            }
            if let Some(expr) = returned.filter(|_| self.in_handler) {
                self.response(n, expr, &v);
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

    pub(crate) fn ident(&mut self, n: Node<'a>, env: &Env) -> Val {
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
    pub(crate) fn member(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let key = self.norm(n);
        let indexed = n.kind_name().contains("subscript") || n.kind_name().contains("index");
        if !indexed && key.as_deref().is_some_and(|k| k.ends_with(".length")) {
            return Val::count();
        }
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
            if n.kind_name().contains("subscript") || n.kind_name().contains("index") {
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

    pub(crate) fn string(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let syn = self.syn;
        let mut v = Val::lit(Lit::Str(String::new()));
        let mut pieces = 0;
        let mut nonconst_name = None;
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            if syn.is(syn.string_parts, child.kind_name()) {
                continue;
            }
            pieces += 1;
            let part = self.eval(child, env, br);
            if part.nonconst && !part.is_local_number() && nonconst_name.is_none() {
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
        } else {
            // Constant text around local numbers only: nothing from outside in it.
            v.nonconst = false;
        }
        v.at(Self::line(n))
    }

    pub(crate) fn binary(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let (Some(l), Some(r)) = (n.field("left"), n.field("right")) else {
            return self.default_children(n, env, br);
        };
        let op = n.field("operator").map(|o| self.text(o)).unwrap_or("");
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
            // A local number (a placeholder's index) pasted into constant text builds
            // nothing from outside.
            let data = |v: &Val| v.nonconst && !v.is_local_number();
            let from_data = data(&lv) || data(&rv);
            let mut v = lv.join(rv);
            if from_data && stringy && v.built.is_none() {
                v.built = Some((Self::line(n), short(self.text(name))));
            }
            if !from_data && stringy && v.built.is_none() {
                v.nonconst = false;
            }
            return v.at(Self::line(n));
        }
        if self.syn.is(self.syn.boolean_ops, op)
            || matches!(op, "%" | "<<" | ">>" | "&" | "|" | "^" | "**")
        {
            // Numbers and booleans: never text an attacker writes.
            return Val {
                nonconst: lv.nonconst || rv.nonconst,
                count: true,
                ..Val::default()
            };
        }
        // `a || b`, `a ?? b`, `x or y`: either operand.
        lv.either(rv)
    }

    pub(crate) fn default_children(&mut self, n: Node<'a>, env: &mut Env, br: bool) -> Val {
        let mut v = Val::default();
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            v = v.join(self.eval(child, env, br));
        }
        v
    }

    /// The key of a variable or field path (`x`, `this.x`, `$db`), if `n` is one.
    pub fn path_key(&self, n: Node<'a>) -> Option<String> {
        let kind = n.kind_name();
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
}

/// The value of a literal node of an opaque kind.
pub(crate) fn literal(kind: &str, text: &str) -> Val {
    match literal_text(kind, text) {
        Some(l) => Val::lit(l),
        None => Val::default(),
    }
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

pub(crate) fn contains_word(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}
