//! One raw pointer handed to two owners: `std::shared_ptr<T> a(raw);` and later
//! `std::unique_ptr<T> b(raw);` (or `delete raw;`, `p.reset(raw)`): each owner frees it,
//! the second free is a double free.

use super::func::Func;
use super::syntax::{call, line, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

fn smart(t: &str) -> bool {
    t.contains("unique_ptr") || t.contains("shared_ptr")
}

/// The raw pointer `n` hands to an owner: `std::shared_ptr<T> a(raw)`, `a{raw}`,
/// `std::unique_ptr<T>(raw)`, `p.reset(raw)`; or frees: `delete raw`, `free(raw)`.
fn owned<'s>(src: &'s str, n: Node) -> Option<&'s str> {
    let only = |args: Node| -> Option<&'s str> {
        (args.named_child_count() == 1)
            .then(|| args.named_child(0))
            .flatten()
            .filter(|a| a.kind_name() == "identifier")
            .map(|a| text(src, a))
    };
    match n.kind_name() {
        "init_declarator" => {
            let decl = n.parent()?;
            let ty = text(src, decl.field("type")?);
            let value = n.field("value")?;
            if !smart(ty) || !matches!(value.kind_name(), "argument_list" | "initializer_list") {
                return None;
            }
            only(value)
        }
        "call_expression" => {
            let fun = n.field("function")?;
            let name = text(src, fun);
            // Cheap before `call` lists the arguments: only owners, resets and frees.
            if !smart(name) && !name.ends_with("reset") && name != "free" && name != "std::free" {
                return None;
            }
            let args = n.field("arguments")?;
            if smart(name) && !name.contains("make_") {
                return only(args);
            }
            let (callee, _) = call(src, n)?;
            if callee.ends_with(".reset") || callee.ends_with("->reset") || callee == "free" {
                return only(args);
            }
            None
        }
        // `std::shared_ptr<T> a(raw);` read as a function declaration: `raw` parses as
        // the type of its one parameter.
        "function_declarator" => {
            let decl = n.parent().filter(|d| d.kind_name() == "declaration")?;
            if !smart(text(src, decl.field("type")?)) {
                return None;
            }
            let params = n.field("parameters")?;
            let p = (params.named_child_count() == 1)
                .then(|| params.named_child(0))
                .flatten()?;
            let ty = p.field("type")?;
            (p.field("declarator").is_none() && ty.kind_name() == "type_identifier")
                .then(|| text(src, ty))
        }
        "delete_expression" => {
            let arg = n.named_child(0)?;
            (arg.kind_name() == "identifier").then(|| text(src, arg))
        }
        _ => None,
    }
}

pub(crate) fn double_owners(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains("_ptr") && !src.contains("reset") {
        return;
    }
    let mut seen: Vec<(&str, Node, bool)> = Vec::new();
    for &n in &f.nodes {
        let Some(raw) = owned(src, n) else { continue };
        if raw == "this" || raw == "nullptr" || raw == "NULL" {
            continue;
        }
        let adopts =
            n.kind_name() != "delete_expression" && call(src, n).is_none_or(|(c, _)| c != "free");
        let first = seen.iter().find(|(r, _, _)| *r == raw).copied();
        if let Some((_, before, before_adopts)) = first {
            // Two frees alone are another check's; an owner is one of them. A new value
            // in between (`raw = new T;`) is another object.
            if (adopts || before_adopts) && !assigned_between(f, raw, before, n) {
                out.push(Finding {
                    check: "double-owner",
                    line: line(n),
                    label: format!(
                        "`{raw}` is already owned by `{}` (line {}); `{}` frees it a second time",
                        text(src, before).trim(),
                        line(before),
                        text(src, n).trim()
                    ),
                });
                return;
            }
            continue;
        }
        seen.push((raw, n, adopts));
    }
}

fn assigned_between(f: &Func, raw: &str, a: Node, b: Node) -> bool {
    let src = f.src;
    f.nodes.iter().any(|x| {
        x.start_byte() > a.end_byte()
            && x.end_byte() < b.start_byte()
            && x.kind_name() == "assignment_expression"
            && x.field("left").is_some_and(|l| text(src, l).trim() == raw)
    })
}
