//! Indexes past the ends of fixed-size arrays: loops one past the end or below
//! zero, constant indexes out of range, element counts in the wrong unit.

use super::func::Func;
use super::syntax::{descendants, line, path_of, strip, subscript, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

fn finding(check: &'static str, n: Node, label: String) -> Finding {
    Finding {
        check,
        line: line(n),
        label,
    }
}

/// Loops that index one past the end of a fixed-size array, and constant indexes
/// past it.
pub(crate) fn off_by_one(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        if n.kind_name() == "subscript_expression" {
            constant_index(f, n, out);
            continue;
        }
        if n.kind_name() == "binary_expression" {
            element_count(f, n, out);
            continue;
        }
        if n.kind_name() != "for_statement" {
            continue;
        }
        let Some(mut cond) = n.field("condition").map(strip) else {
            continue;
        };
        // `i <= N && src[i]`: the bound is the first of the conditions.
        while cond.kind_name() == "binary_expression"
            && cond.field("operator").is_some_and(|o| text(src, o) == "&&")
        {
            match cond.field("left") {
                Some(l) => cond = strip(l),
                None => break,
            }
        }
        if cond.kind_name() != "binary_expression" {
            continue;
        }
        let op = cond.field("operator").map(|o| text(src, o)).unwrap_or("");
        let (Some(l), Some(r)) = (cond.field("left"), cond.field("right")) else {
            continue;
        };
        if l.kind_name() != "identifier" || !matches!(op, "<" | "<=" | ">" | ">=") {
            continue;
        }
        let var = text(src, l);
        let Some(bound) = f.fold(r) else { continue };
        if matches!(op, ">" | ">=") {
            let lowest = if op == ">=" { bound } else { bound + 1 };
            if lowest < 0 {
                below_zero(f, n, var, lowest, cond, out);
            }
            continue;
        }
        let last = if op == "<=" { bound } else { bound - 1 };
        let Some(body) = n.field("body") else {
            continue;
        };
        for x in descendants(body) {
            if x.kind_name() != "subscript_expression" {
                continue;
            }
            let Some((a, idx)) = subscript(x) else {
                continue;
            };
            let Some(arr) = path_of(src, a) else { continue };
            let Some(len) = f.array_len(&arr) else {
                continue;
            };
            let idx = strip(idx);
            let offset = if text(src, idx) == var {
                0
            } else if idx.kind_name() == "binary_expression"
                && idx.field("left").is_some_and(|x| text(src, x) == var)
                && idx.field("operator").is_some_and(|o| text(src, o) == "+")
            {
                match idx.field("right").and_then(|r| f.fold(r)) {
                    Some(k) => k,
                    None => continue,
                }
            } else {
                continue;
            };
            if last + offset >= len {
                out.push(finding(
                    "off-by-one",
                    x,
                    format!(
                        "`{}` reaches index {} of `{arr}` [{len}] (loop `{}`)",
                        text(src, x),
                        last + offset,
                        text(src, cond)
                    ),
                ));
                break;
            }
        }
    }
}

fn constant_index(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some((a, idx)) = subscript(n) else { return };
    let Some(arr) = path_of(src, a) else { return };
    let Some(len) = f.array_len(&arr) else { return };
    let Some(i) = f.fold(idx) else { return };
    if i >= len || i < 0 {
        out.push(finding(
            "off-by-one",
            n,
            format!("`{}` is index {i} of `{arr}` [{len}]", text(src, n)),
        ));
    }
}

/// `for (i = last; i >= last - LEN; --i) a[i]`: a descending loop that reaches a
/// negative index.
fn below_zero(f: &Func, n: Node, var: &str, lowest: i64, cond: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some(body) = n.field("body") else {
        return;
    };
    for x in descendants(body) {
        let Some((a, idx)) = subscript(x) else {
            continue;
        };
        let Some(arr) = path_of(src, a) else { continue };
        if f.array_len(&arr).is_none() || text(src, strip(idx)) != var {
            continue;
        }
        out.push(finding(
            "off-by-one",
            x,
            format!(
                "`{}` reaches index {lowest} of `{arr}` (loop `{}`)",
                text(src, x),
                text(src, cond)
            ),
        ));
        return;
    }
}

/// `sizeof(a) / sizeof(float)` for an array of `double`: an element count divided by
/// the wrong element size.
fn element_count(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    if n.field("operator").map(|o| text(src, o)) != Some("/") {
        return;
    }
    let (Some(l), Some(r)) = (n.field("left"), n.field("right")) else {
        return;
    };
    let (l, r) = (strip(l), strip(r));
    if l.kind_name() != "sizeof_expression" || r.kind_name() != "sizeof_expression" {
        return;
    }
    let Some(arr) = l.field("value").and_then(|v| path_of(src, v)) else {
        return;
    };
    let (Some(bytes), Some(len)) = (f.array_bytes(&arr), f.array_len(&arr)) else {
        return;
    };
    let Some(per) = f.fold(r) else { return };
    if len > 0 && per != bytes / len {
        out.push(finding(
            "off-by-one",
            n,
            format!(
                "`{}` counts `{arr}` in {per}-byte units, its elements take {}",
                text(src, n),
                bytes / len
            ),
        ));
    }
}
