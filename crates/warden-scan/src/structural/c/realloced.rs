//! A pointer into a heap buffer kept across a `realloc` of that buffer:
//!
//! ```c
//! struct item *last = &r->items[r->count - 1];
//! if (r->count < r->cap / 4)
//!     grow(r, r->cap / 2);          /* r->items = realloc(r->items, ...) */
//! log_void(last->sku);              /* `last` may point into the freed block */
//! ```
//!
//! `realloc` may move the block: every pointer taken into it before the call dangles
//! after it, whether the call is made here or by a function of the file that
//! reallocates a member of the object it is handed.

use super::file::{signature, FileFacts};
use super::func::Func;
use super::syntax::{assignment_sides, call, line, path_of, strip, subscript, text};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use tree_sitter::Node;

/// A function of the file that reallocates a member of its parameter: (function,
/// parameter index, member) for `realloc(r->items, n)` with `r` its parameter.
pub(crate) type Mover = (String, usize, String);

/// The functions of the file that reallocate a member of one of their parameters.
pub(crate) fn movers(facts: &FileFacts) -> Vec<Mover> {
    let src = facts.src;
    if !src.contains("realloc") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for &func in &facts.functions {
        let (name, params, _) = signature(src, func);
        for &n in facts.body_nodes(func) {
            let Some(moved) = realloc_target(src, n) else {
                continue;
            };
            let Some((owner, member)) = moved.split_once("->").or_else(|| moved.split_once('.'))
            else {
                continue;
            };
            if let Some(i) = params.iter().position(|(p, _)| p == owner) {
                out.push((name.clone(), i, member.to_string()));
            }
        }
    }
    out
}

/// The buffer a `realloc` call moves: the path of its first argument.
fn realloc_target(src: &str, n: Node) -> Option<String> {
    let (c, args) = call(src, n)?;
    if !matches!(c, "realloc" | "reallocf" | "g_realloc" | "xrealloc") {
        return None;
    }
    path_of(src, *args.first()?)
}

/// Pointers taken into a heap buffer (`&buf[i]`, `buf + i`) and used after a call that
/// reallocates that buffer, without being taken again.
pub(crate) fn kept_across_realloc(f: &Func, movers: &[Mover], out: &mut Vec<Finding>) {
    let src = f.src;
    if !src[f.body.byte_range()].contains("realloc") && movers.is_empty() {
        return;
    }
    for &n in &f.nodes {
        if !matches!(n.kind_name(), "init_declarator" | "assignment_expression") {
            continue;
        }
        let (Some(mut l), Some(r)) = assignment_sides(n) else {
            continue;
        };
        // `struct line *gone = ...`: the name under the pointer declarator.
        while let Some(x) = l.field("declarator") {
            l = x;
        }
        let Some(p) = path_of(src, l).filter(|p| !p.contains(['.', '>'])) else {
            continue;
        };
        if !f.type_of(&p).is_some_and(|t| t.contains('*')) {
            continue;
        }
        let Some(buf) = into_buffer(f, r) else {
            continue;
        };
        let Some(mv) = f
            .nodes
            .iter()
            .copied()
            .find(|&c| c.start_byte() > n.end_byte() && moves(f, c, &buf, movers))
        else {
            continue;
        };
        let used = f.nodes.iter().copied().find(|&u| {
            u.start_byte() > mv.end_byte()
                && u.kind_name() == "identifier"
                && text(src, u) == p
                && !is_target(u)
        });
        let Some(u) = used else { continue };
        if set_between(f, &p, mv.start_byte(), u.start_byte()) {
            continue;
        }
        out.push(Finding {
            check: "use-after-free",
            line: line(u),
            label: format!(
                "`{p}` points into `{buf}`, which `{}` may move, and is used after it",
                text(src, mv).split('(').next().unwrap_or("realloc").trim()
            ),
        });
    }
}

/// The heap buffer `e` points into: `&buf[i]` or `buf + i`, with `buf` not an array.
fn into_buffer(f: &Func, e: Node) -> Option<String> {
    let src = f.src;
    let e = strip(e);
    let base = match e.kind_name() {
        "pointer_expression" if text(src, e).starts_with('&') => {
            subscript(strip(e.field("argument")?))?.0
        }
        "binary_expression" if e.field("operator").is_some_and(|o| text(src, o) == "+") => {
            e.field("left")?
        }
        _ => return None,
    };
    let buf = path_of(src, base)?;
    let pointer = f.type_of(&buf).is_some_and(|t| t.contains('*')) || buf.contains(['.', '>']);
    (pointer && f.array_len(&buf).is_none()).then_some(buf)
}

/// Whether the call `c` reallocates `buf`: `realloc(buf, ...)` here, or a function of
/// the file handed the owner of `buf` (`grow(r, n)` for `r->items`).
fn moves(f: &Func, c: Node, buf: &str, movers: &[Mover]) -> bool {
    let src = f.src;
    if realloc_target(src, c).is_some_and(|t| t == buf) {
        return true;
    }
    let Some((name, args)) = call(src, c) else {
        return false;
    };
    movers.iter().any(|(m, i, member)| {
        m == name
            && args
                .get(*i)
                .and_then(|a| path_of(src, *a))
                .is_some_and(|o| buf == format!("{o}->{member}") || buf == format!("{o}.{member}"))
    })
}

/// Whether the identifier `u` is what an assignment sets (`p = ...`).
fn is_target(u: Node) -> bool {
    u.parent().is_some_and(|p| {
        p.kind_name() == "assignment_expression"
            && p.field("left").is_some_and(|l| l.id() == u.id())
    })
}

/// Whether `var` is assigned between byte offsets `from` and `to`.
fn set_between(f: &Func, var: &str, from: usize, to: usize) -> bool {
    f.nodes.iter().any(|&x| {
        x.start_byte() >= from
            && x.start_byte() < to
            && x.kind_name() == "assignment_expression"
            && x.field("left").and_then(|l| path_of(f.src, l)).as_deref() == Some(var)
    })
}
