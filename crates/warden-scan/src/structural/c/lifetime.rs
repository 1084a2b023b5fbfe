//! Pointer lifetimes: a freed pointer used or freed again, a pointer freed after it
//! was moved off the start of its block, an allocation used before it was checked.
//!
//! The walk follows statements in order. A branch that ends in a jump (`return`,
//! `break`, `exit`) does not carry its frees past the `if`; the two arms of an `if`
//! join as "freed on some path". An assignment to the pointer ends its story.

use super::func::Func;
use super::summary::ALLOCATORS;
use super::syntax::{assignment_sides, call, ends_in_jump, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Pointers freed on some path so far: (path, line of the free), and pointers moved
/// off the start of the block they were allocated as: (path, line of the move).
#[derive(Clone, Default)]
struct State {
    freed: Vec<(String, u32)>,
    moved: Vec<(String, u32)>,
    allocated: Vec<String>,
    /// `p = q`: both name one block until either is reassigned.
    aliases: Vec<(String, String)>,
    /// `pp = &p`: stepping `*pp` moves `p`.
    addressed: Vec<(String, String)>,
    /// `copy = *orig`: a shallow copy; `copy.f` and `orig->f` hold one pointer.
    fields: Vec<(String, String)>,
}

impl State {
    fn join(&mut self, other: State) {
        for f in other.freed {
            if !self.freed.iter().any(|(p, _)| *p == f.0) {
                self.freed.push(f);
            }
        }
        for m in other.moved {
            if !self.moved.iter().any(|(p, _)| *p == m.0) {
                self.moved.push(m);
            }
        }
        for a in other.aliases {
            if !self.aliases.contains(&a) {
                self.aliases.push(a);
            }
        }
        for a in other.addressed {
            if !self.addressed.contains(&a) {
                self.addressed.push(a);
            }
        }
        for a in other.fields {
            if !self.fields.contains(&a) {
                self.fields.push(a);
            }
        }
        for a in other.allocated {
            if !self.allocated.contains(&a) {
                self.allocated.push(a);
            }
        }
    }

    /// `p = ...`: `p` and every path through it start over.
    fn kill(&mut self, p: &str) {
        let through =
            |q: &str| q == p || q.starts_with(&format!("{p}->")) || q.starts_with(&format!("{p}."));
        self.freed.retain(|(q, _)| !through(q));
        self.moved.retain(|(q, _)| q != p);
        self.allocated.retain(|q| q != p);
        self.aliases.retain(|(a, b)| a != p && b != p);
        self.addressed.retain(|(a, _)| a != p);
        let (dot, arrow) = (format!("{p}."), format!("{p}->"));
        self.fields
            .retain(|(a, b)| ![a, b].iter().any(|x| **x == dot || **x == arrow));
    }

    /// `*pp` for `pp = &p`: the allocated pointer `p` it stands for.
    fn through_address(&self, src: &str, n: Node) -> Option<String> {
        let n = strip(n);
        if n.kind_name() != "pointer_expression" || !text(src, n).starts_with('*') {
            return None;
        }
        let pp = path_of(src, n.field("argument")?)?;
        self.addressed
            .iter()
            .find(|(a, _)| *a == pp)
            .map(|(_, p)| p.clone())
            .filter(|p| self.allocated.contains(p))
    }

    /// Other names of the block `p` points at.
    fn aliases_of(&self, p: &str) -> Vec<String> {
        let through = self.fields.iter().filter_map(|(a, b)| {
            if let Some(rest) = p.strip_prefix(a.as_str()) {
                Some(format!("{b}{rest}"))
            } else {
                p.strip_prefix(b.as_str()).map(|rest| format!("{a}{rest}"))
            }
        });
        self.aliases
            .iter()
            .filter_map(|(a, b)| {
                if a == p {
                    Some(b.clone())
                } else if b == p {
                    Some(a.clone())
                } else {
                    None
                }
            })
            .chain(through)
            .collect()
    }

    /// `swap(&a, &b)`: what was true of `a` is now true of `b` and the reverse.
    fn swap(&mut self, a: &str, b: &str) {
        let flip = |q: &mut String| {
            if q == a {
                *q = b.to_string();
            } else if q == b {
                *q = a.to_string();
            }
        };
        for (q, _) in &mut self.freed {
            flip(q);
        }
        for (q, _) in &mut self.moved {
            flip(q);
        }
        for q in &mut self.allocated {
            flip(q);
        }
        self.aliases
            .retain(|(x, y)| x != a && x != b && y != a && y != b);
    }
}

/// Use after free, double free and frees of a moved pointer, in one function.
pub(crate) fn freed_uses(f: &Func, out: &mut Vec<Finding>) {
    let mut st = State::default();
    walk(f, f.body, &mut st, out);
}

fn walk(f: &Func, n: Node, st: &mut State, out: &mut Vec<Finding>) {
    match n.kind_name() {
        "compound_statement" | "translation_unit" => {
            let mut c = n.walk();
            for s in n.named_children(&mut c) {
                walk(f, s, st, out);
            }
        }
        "if_statement" => {
            if let Some(c) = n.field("condition") {
                expr(f, c, st, out, true);
            }
            let entry = st.clone();
            let mut joined: Option<State> = None;
            let arms = [n.field("consequence"), n.field("alternative")];
            for arm in arms.into_iter().flatten() {
                let mut s = entry.clone();
                walk(f, arm, &mut s, out);
                let body = if arm.kind_name() == "else_clause" {
                    arm.named_child(0).unwrap_or(arm)
                } else {
                    arm
                };
                if !ends_in_jump(f.src, body) {
                    match &mut joined {
                        Some(j) => j.join(s),
                        None => joined = Some(s),
                    }
                }
            }
            if n.field("alternative").is_none() {
                match &mut joined {
                    Some(j) => j.join(entry),
                    None => joined = Some(entry),
                }
            }
            *st = joined.unwrap_or(entry_or(st));
        }
        "else_clause" => {
            let mut c = n.walk();
            for s in n.named_children(&mut c) {
                walk(f, s, st, out);
            }
        }
        "for_statement" => {
            // The step runs after the body, then the test again: `s = s->next` after
            // a body that freed `s` reads freed memory.
            let mut s = st.clone();
            let parts = ["initializer", "condition"].map(|k| n.field(k));
            for part in parts.into_iter().flatten() {
                if part.kind_name().ends_with("statement") || part.kind_name() == "declaration" {
                    walk(f, part, &mut s, out);
                } else {
                    expr(f, part, &mut s, out, true);
                }
            }
            if let Some(body) = n.field("body") {
                walk(f, body, &mut s, out);
            }
            let mut c = n.walk();
            for u in n.children_by_field_name("update", &mut c) {
                expr(f, u, &mut s, out, false);
            }
            if let Some(cond) = n.field("condition") {
                expr(f, cond, &mut s, out, true);
            }
            st.join(s);
        }
        "while_statement" | "do_statement" | "for_range_loop" => {
            // The body may run or not: its frees join what was there.
            let mut s = st.clone();
            let mut c = n.walk();
            for part in n.named_children(&mut c) {
                if part.kind_name().ends_with("statement") {
                    walk(f, part, &mut s, out);
                } else {
                    expr(f, part, &mut s, out, true);
                }
            }
            st.join(s);
        }
        "switch_statement" => {
            if let Some(c) = n.field("condition") {
                expr(f, c, st, out, true);
            }
            let entry = st.clone();
            if let Some(body) = n.field("body") {
                let mut c = body.walk();
                for case in body.named_children(&mut c) {
                    let mut s = entry.clone();
                    let mut cc = case.walk();
                    let stmts: Vec<Node> = case
                        .named_children(&mut cc)
                        .filter(|x| {
                            x.kind_name().ends_with("statement") || x.kind_name() == "declaration"
                        })
                        .collect();
                    for x in &stmts {
                        walk(f, *x, &mut s, out);
                    }
                    let leaves = stmts.last().is_some_and(|l| {
                        l.kind_name() != "break_statement" && ends_in_jump(f.src, *l)
                    });
                    if !leaves {
                        st.join(s);
                    }
                }
            }
        }
        "function_definition" => {}
        _ => expr(f, n, st, out, false),
    }
}

fn entry_or(st: &State) -> State {
    st.clone()
}

/// Walks an expression or simple statement in evaluation order.
fn expr(f: &Func, n: Node, st: &mut State, out: &mut Vec<Finding>, in_cond: bool) {
    let src = f.src;
    match n.kind_name() {
        "sizeof_expression" | "comment" | "string_literal" | "function_definition" => {}
        "assignment_expression" | "init_declarator" => {
            let (l, r) = assignment_sides(n);
            // `pp = &p` keeps `p` as it is: what is done through `*pp` is followed.
            let address = r.map(strip).is_some_and(|r| {
                r.kind_name() == "pointer_expression"
                    && text(src, r).starts_with('&')
                    && r.field("argument").and_then(|a| path_of(src, a)).is_some()
            });
            if let Some(r) = r.filter(|_| !address) {
                expr(f, r, st, out, in_cond);
            }
            let Some(l) = l else { return };
            let mut target = l;
            while let Some(x) = target.field("declarator") {
                target = x;
            }
            match path_of(src, target) {
                Some(p) => {
                    let op = n.field("operator").map(|o| text(src, o));
                    let moved = matches!(op, Some("+=" | "-="))
                        || r.is_some_and(|r| {
                            let r = strip(r);
                            r.kind_name() == "binary_expression"
                                && r.field("left")
                                    .and_then(|x| path_of(src, x))
                                    .is_some_and(|x| x == p)
                        });
                    if moved && st.allocated.contains(&p) {
                        use_of(f, target, &p, st, out);
                        st.moved.push((p.clone(), line(n)));
                        return;
                    }
                    if !moved || !st.freed.iter().any(|(q, _)| *q == p) {
                        st.kill(&p);
                    }
                    if let Some(pair) = r.and_then(|r| shallow_copy(f, &p, r)) {
                        st.fields.push(pair);
                    }
                    if let Some(q) = r.and_then(|r| path_of(src, r)).filter(|q| *q != p) {
                        // A copy of a block's start is a start too, until it moves.
                        if st.allocated.contains(&q) {
                            st.allocated.push(p.clone());
                        }
                        st.aliases.push((p.clone(), q));
                    }
                    let target_of = r.map(strip).filter(|r| {
                        r.kind_name() == "pointer_expression" && text(src, *r).starts_with('&')
                    });
                    if let Some(q) = target_of
                        .and_then(|r| r.field("argument"))
                        .and_then(|a| path_of(src, a))
                    {
                        st.addressed.push((p.clone(), q));
                    }
                    let alloc = r
                        .and_then(|r| call(src, strip(r)))
                        .is_some_and(|(c, _)| ALLOCATORS.contains(&c));
                    if alloc {
                        st.allocated.push(p);
                    }
                }
                // `*pp += n` for `pp = &p`: `p` moves.
                None if matches!(n.field("operator").map(|o| text(src, o)), Some("+=" | "-="))
                    && st.through_address(src, l).is_some() =>
                {
                    if let Some(p) = st.through_address(src, l) {
                        st.moved.push((p, line(n)));
                    }
                }
                // `*pp = q` for `pp = &p`: `p` now holds something else.
                None if st.through_address(src, l).is_some() => {
                    if let Some(p) = st.through_address(src, l) {
                        st.kill(&p);
                    }
                }
                // `*p = x`, `p[i] = x`, `p->f = x`: a write through the pointer.
                None => expr(f, l, st, out, in_cond),
            }
        }
        "update_expression" => {
            if let Some(p) = n.field("argument").and_then(|a| path_of(src, a)) {
                if st.allocated.contains(&p) {
                    st.moved.push((p, line(n)));
                    return;
                }
            }
            // `(*pp)++` for `pp = &p`.
            if let Some(p) = n.field("argument").and_then(|a| st.through_address(src, a)) {
                st.moved.push((p, line(n)));
                return;
            }
            children(f, n, st, out, in_cond);
        }
        "call_expression" => {
            let Some((name, args)) = call(src, n) else {
                return children(f, n, st, out, in_cond);
            };
            // `g(pp)` for `pp = &p`: the callee may point `p` somewhere else.
            for a in &args {
                if let Some(pp) = path_of(src, *a) {
                    let held: Vec<String> = st
                        .addressed
                        .iter()
                        .filter(|(x, _)| *x == pp)
                        .map(|(_, p)| p.clone())
                        .collect();
                    for p in held {
                        st.kill(&p);
                    }
                }
            }
            if let Some(&(i, j)) = f.file.swaps.get(name) {
                let target = |k: usize| {
                    let a = strip(*args.get(k)?);
                    (a.kind_name() == "pointer_expression")
                        .then(|| a.field("argument"))
                        .flatten()
                        .and_then(|x| path_of(src, x))
                };
                if let (Some(a), Some(b)) = (target(i), target(j)) {
                    st.swap(&a, &b);
                    return;
                }
            }
            if let Some(&i) = f.file.moving_macros.get(name) {
                if let Some(p) = args.get(i).and_then(|a| path_of(src, *a)) {
                    if st.allocated.contains(&p) {
                        st.moved.push((p, line(n)));
                    }
                }
            }
            let freed_args: Vec<usize> = if name == "free" {
                vec![0]
            } else {
                f.file.frees_param.get(name).cloned().unwrap_or_default()
            };
            for (i, a) in args.iter().enumerate() {
                if freed_args.contains(&i) {
                    if let Some(p) = path_of(src, *a) {
                        free(f, n, &p, name, st, out);
                        continue;
                    }
                }
                expr(f, *a, st, out, in_cond);
            }
        }
        "delete_expression" => match n.named_child(0).and_then(|a| path_of(src, a)) {
            Some(p) => free(f, n, &p, "delete", st, out),
            None => children(f, n, st, out, in_cond),
        },
        "identifier" | "field_expression" => {
            if let Some(p) = path_of(src, n) {
                if !in_cond || deref_in_cond(n) {
                    use_of(f, n, &p, st, out);
                }
            }
            if n.kind_name() == "field_expression" {
                children(f, n, st, out, in_cond);
            }
        }
        "pointer_expression" if n.child(0).is_some_and(|o| o.kind_name() == "&") => {
            // `swap(&a, &b)`: the callee may point `a` somewhere else.
            match n.field("argument").and_then(|a| path_of(src, a)) {
                Some(p) => st.kill(&p),
                None => children(f, n, st, out, in_cond),
            }
        }
        "binary_expression" => {
            let op = n.field("operator").map(|o| text(src, o)).unwrap_or("");
            // `p == NULL`, `p != q`: comparing the pointer value reads no freed memory.
            let compare = matches!(op, "==" | "!=");
            children(f, n, st, out, in_cond || compare)
        }
        _ => children(f, n, st, out, in_cond),
    }
}

fn children(f: &Func, n: Node, st: &mut State, out: &mut Vec<Finding>, in_cond: bool) {
    let mut c = n.walk();
    let kids: Vec<Node> = n.named_children(&mut c).collect();
    for k in kids {
        expr(f, k, st, out, in_cond);
    }
}

/// In a condition a bare pointer is only compared; `p->x`, `*p`, `p[i]` still read it.
fn deref_in_cond(n: Node) -> bool {
    n.kind_name() == "field_expression"
        || n.parent().is_some_and(|p| {
            matches!(p.kind_name(), "subscript_expression" | "pointer_expression")
                && p.field("argument").is_some_and(|a| a.id() == n.id())
                && !(p.kind_name() == "pointer_expression"
                    && p.child(0).is_some_and(|o| o.kind_name() == "&"))
        })
}

fn free(f: &Func, n: Node, p: &str, how: &str, st: &mut State, out: &mut Vec<Finding>) {
    let l = line(n);
    if let Some((_, at)) = st.freed.iter().find(|(q, _)| q == p) {
        out.push(Finding {
            check: "double-free",
            line: l,
            label: format!("`{p}` is freed again by {how} (first freed line {at})"),
        });
        return;
    }
    if let Some((_, at)) = st.moved.iter().find(|(q, _)| q == p) {
        out.push(Finding {
            check: "free-offset",
            line: l,
            label: format!("{how} of `{p}`, moved off its allocation's start at line {at}"),
        });
    }
    // A use inside the freed object (`free(p->buf)` after `free(p)`) is a use.
    use_of(f, n, p, st, out);
    for a in st.aliases_of(p) {
        if !st.freed.iter().any(|(q, _)| *q == a) {
            st.freed.push((a, l));
        }
    }
    st.freed.push((p.to_string(), l));
}

fn use_of(_f: &Func, n: Node, p: &str, st: &mut State, out: &mut Vec<Finding>) {
    let hit = st.freed.iter().find(|(q, _)| {
        p == q || p.starts_with(&format!("{q}->")) || p.starts_with(&format!("{q}."))
    });
    if let Some((q, at)) = hit {
        let (q, at) = (q.clone(), *at);
        out.push(Finding {
            check: "use-after-free",
            line: line(n),
            label: format!("`{p}` is used after `{q}` was freed (line {at})"),
        });
        // One report per free.
        st.freed.retain(|(x, _)| *x != q);
    }
}

/// `copy = *orig` or `copy = other` for struct values: the field prefixes the two
/// share (`copy.`, `orig->`).
fn shallow_copy(f: &Func, p: &str, r: Node) -> Option<(String, String)> {
    let src = f.src;
    let value = |name: &str| f.type_of(name).is_some_and(|t| !t.contains('*'));
    if !value(p) {
        return None;
    }
    let r = strip(r);
    if r.kind_name() == "pointer_expression" && text(src, r).starts_with('*') {
        let q = path_of(src, r.field("argument")?)?;
        return Some((format!("{p}."), format!("{q}->")));
    }
    let q = path_of(src, r).filter(|q| q != p && value(q))?;
    let is_struct =
        |t: &str| t.contains("struct ") || t.chars().next().is_some_and(char::is_uppercase);
    f.type_of(&q)
        .filter(|t| is_struct(t))
        .map(|_| (format!("{p}."), format!("{q}.")))
}
