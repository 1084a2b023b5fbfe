//! Indexes past the ends of fixed-size arrays: loops one past the end or below
//! zero, constant indexes out of range, element counts in the wrong unit.

use super::func::Func;
use super::guards::if_guards;
use super::syntax::{
    assignment_sides, call, descendants, line, path_of, strip, strip_casts, subscript, text,
};
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
            admitted_end(f, n, out);
            continue;
        }
        if n.kind_name() == "binary_expression" {
            element_count(f, n, out);
            continue;
        }
        if !matches!(n.kind_name(), "for_statement" | "while_statement") {
            continue;
        }
        let Some(cond) = n.field("condition").map(strip) else {
            continue;
        };
        // `i <= N && src[i]`, `tok != NULL && i <= N`: the first comparison of a
        // counter with a constant among the conditions.
        let Some((cond, var, op, bound)) = counter_bound(f, cond) else {
            continue;
        };
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
            // `argv[i++]` reads `i` before stepping it.
            let post_step = idx.kind_name() == "update_expression"
                && idx.child(0).is_some_and(|x| text(src, x) == var);
            let offset = if text(src, idx) == var || post_step {
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

/// In a loop condition joined by `&&`, the first `var OP constant` comparison:
/// (comparison, var, operator, constant).
fn counter_bound<'a>(
    f: &Func<'_, 'a>,
    cond: Node<'a>,
) -> Option<(Node<'a>, &'a str, &'a str, i64)> {
    let src = f.src;
    if cond.kind_name() != "binary_expression" {
        return None;
    }
    let op = text(src, cond.field("operator")?);
    if op == "&&" {
        let l = cond.field("left").map(strip);
        let r = cond.field("right").map(strip);
        return l
            .and_then(|l| counter_bound(f, l))
            .or_else(|| r.and_then(|r| counter_bound(f, r)));
    }
    let (l, r) = (cond.field("left")?, cond.field("right")?);
    if l.kind_name() != "identifier" || !matches!(op, "<" | "<=" | ">" | ">=") {
        return None;
    }
    Some((cond, text(src, l), op, f.fold(r)?))
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

/// `if (len > sizeof(name)) return; memcpy(name, src, len); name[len] = '\0';`: the
/// closest check of an index before a write lets it reach the array's own length.
fn admitted_end(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    if !written_or_handed_out(n) {
        return;
    }
    let Some((a, idx)) = subscript(n) else { return };
    let Some(arr) = path_of(src, a) else { return };
    let Some(len) = f.array_len(&arr) else { return };
    if f.fold(idx).is_some() {
        return;
    }
    // `a[n++] = x` writes index n, as `a[n] = x` does.
    let idx = match idx.kind_name() {
        "update_expression" if text(src, idx).ends_with("++") => {
            idx.field("argument").unwrap_or(idx)
        }
        _ => idx,
    };
    let Some(var) = path_of(src, idx) else { return };
    // The closest `if` on the way that compares the index with a constant decides.
    let guarded = if_guards(f, n).into_iter().find_map(|g| {
        let facts = g.facts(f, &var);
        (!facts.is_empty()).then_some((g.cond, facts))
    });
    let (cond, highest) = match guarded {
        Some((cond, facts)) => {
            let upper = facts
                .iter()
                .filter_map(|&(op, k)| match op {
                    "<" => Some(k - 1),
                    "<=" => Some(k),
                    _ => None,
                })
                .min();
            match upper {
                Some(highest) => {
                    if changed_between(f, &var, cond.end_byte(), n.start_byte()) {
                        return;
                    }
                    (cond, highest)
                }
                // `if (n <= 0) return -1;` says nothing of how large `n` is: the read
                // that set it does.
                None => match read_bound(f, n, &var) {
                    Some((highest, at)) => (at, highest),
                    None => return,
                },
            }
        }
        // `if (n > sizeof(buf)) n = sizeof(buf);` or `n = min(len, sizeof(buf))`: a clamp
        // to the whole capacity; else `n` counts the elements of a string whose length was checked.
        None => match clamp_bound(f, n, &var)
            .or_else(|| min_bound(f, n, &var))
            .or_else(|| super::counted::counted_bound(f, n, &var))
            .or_else(|| read_bound(f, n, &var))
        {
            Some((highest, cond)) => (cond, highest),
            None => return,
        },
    };
    if highest < len {
        return;
    }
    out.push(finding(
        "off-by-one",
        n,
        format!(
            "`{}` writes index {highest} of `{arr}` [{len}]: the check `{}` lets `{var}` be {highest}",
            text(src, n),
            text(src, strip(cond))
        ),
    ));
}

/// Calls returning how many bytes they stored, at most their size argument: (name,
/// index of the size argument).
const READS: &[(&str, usize)] = &[("read", 2), ("recv", 2), ("recvfrom", 2), ("pread", 2)];

/// `n = read(fd, buf, sizeof buf);` as the last value of `var` before `n`: the highest
/// value it can have is the size asked for (`buf[n] = '\0'` then writes one past a
/// full read), and the call.
fn read_bound<'t>(f: &Func<'_, 't>, n: Node<'t>, var: &str) -> Option<(i64, Node<'t>)> {
    let src = f.src;
    let (_, value) = f
        .nodes
        .iter()
        .copied()
        .filter(|x| {
            x.end_byte() <= n.start_byte()
                && matches!(x.kind_name(), "init_declarator" | "assignment_expression")
        })
        .filter_map(|x| {
            let (l, r) = assignment_sides(x);
            let l = match l?.kind_name() {
                "identifier" | "field_expression" => l?,
                _ => descendants(l?)
                    .into_iter()
                    .find(|i| i.kind_name() == "identifier")?,
            };
            (path_of(src, l).as_deref() == Some(var)).then_some((x, r?))
        })
        .next_back()?;
    let value = strip_casts(src, value);
    let (name, args) = call(src, value)?;
    let &(_, at) = READS.iter().find(|(c, _)| *c == name)?;
    let size = f.fold(*args.get(at)?)?;
    Some((size, value))
}

/// `if (len > CAP) len = CAP;` before `n`, the last statement to set `var` on the way:
/// the highest value the clamp leaves `var` (the larger of the bound the condition lets
/// through and the value it clamps to), and the condition.
fn clamp_bound<'t>(f: &Func<'_, 't>, n: Node<'t>, var: &str) -> Option<(i64, Node<'t>)> {
    let src = f.src;
    let stmt = f.nodes.iter().rev().copied().find(|x| {
        x.kind_name() == "if_statement"
            && x.end_byte() <= n.start_byte()
            && x.field("alternative").is_none()
            && x.parent()
                .is_some_and(|p| p.start_byte() <= n.start_byte() && n.end_byte() <= p.end_byte())
            && x.field("consequence")
                .is_some_and(|b| clamped_to(f, b, var).is_some())
    })?;
    if changed_between(f, var, stmt.end_byte(), n.start_byte()) {
        return None;
    }
    let cond = stmt.field("condition")?;
    let to = clamped_to(f, stmt.field("consequence")?, var)?;
    let c = strip(cond);
    let (op, l, r) = (
        text(src, c.field("operator")?),
        c.field("left")?,
        c.field("right")?,
    );
    let (op, k) = if path_of(src, l).as_deref() == Some(var) {
        (op, f.fold(r)?)
    } else if path_of(src, r).as_deref() == Some(var) {
        let flipped = match op {
            "<" => ">",
            "<=" => ">=",
            _ => return None,
        };
        (flipped, f.fold(l)?)
    } else {
        return None;
    };
    let passes = match op {
        ">" => k,
        ">=" => k - 1,
        _ => return None,
    };
    Some((passes.max(to), cond))
}

/// `n = std::min(len, sizeof(buf));` (or `MIN(...)`), the last value `var` is given
/// before `n`: the constant it is capped at, and the call.
fn min_bound<'t>(f: &Func<'_, 't>, n: Node<'t>, var: &str) -> Option<(i64, Node<'t>)> {
    let src = f.src;
    let set = f.nodes.iter().rev().copied().find(|x| {
        x.end_byte() <= n.start_byte()
            && matches!(x.kind_name(), "init_declarator" | "assignment_expression")
            && {
                let (l, _) = assignment_sides(*x);
                l.and_then(|l| path_of(src, l)).as_deref() == Some(var)
            }
    })?;
    if changed_between(f, var, set.end_byte(), n.start_byte()) {
        return None;
    }
    let v = strip_casts(src, assignment_sides(set).1?);
    let (name, args) = call(src, v)?;
    let name = name.split('<').next().unwrap_or(name).to_ascii_lowercase();
    if name != "min" && !name.ends_with("_min") {
        return None;
    }
    let k = args.iter().filter_map(|a| f.fold(*a)).min()?;
    Some((k, v))
}

/// `var = K;` (alone, or alone in braces) with a constant `K`: the value.
fn clamped_to(f: &Func, body: Node, var: &str) -> Option<i64> {
    let mut b = body;
    if b.kind_name() == "compound_statement" {
        if b.named_child_count() != 1 {
            return None;
        }
        b = b.named_child(0)?;
    }
    if b.kind_name() != "expression_statement" {
        return None;
    }
    let e = strip(b.named_child(0)?);
    if e.kind_name() != "assignment_expression"
        || e.field("operator").map(|o| text(f.src, o)) != Some("=")
        || e.field("left").and_then(|l| path_of(f.src, l)).as_deref() != Some(var)
    {
        return None;
    }
    f.fold(e.field("right")?)
}

/// Whether the element `a[i]` is written (`a[i] = x`, `a[i].count = 0`, `a[i]++`) or
/// handed out for writing: its address returned or kept (`return &slots[i];`,
/// `struct slot *s = &slots[i];`), as a lookup helper does for its callers, or bound
/// to a reference (`Segment& seg = segments[n];`).
fn written_or_handed_out(n: Node) -> bool {
    let Some(p) = n.parent() else { return false };
    let is_left = |a: Node, x: Node| {
        (a.kind_name() == "assignment_expression"
            && a.field("left").is_some_and(|l| l.id() == x.id()))
            || a.kind_name() == "update_expression"
    };
    match p.kind_name() {
        "field_expression" if p.field("argument").is_some_and(|a| a.id() == n.id()) => {
            p.parent().is_some_and(|g| is_left(g, p))
        }
        "pointer_expression" if p.child(0).is_some_and(|o| o.kind_name() == "&") => {
            p.parent().is_some_and(|g| {
                matches!(g.kind_name(), "return_statement" | "init_declarator")
                    || (g.kind_name() == "assignment_expression"
                        && g.field("right").is_some_and(|r| r.id() == p.id()))
            })
        }
        // `Segment& seg = segments[count++];`: a reference the code then writes through.
        "init_declarator" => p
            .field("declarator")
            .is_some_and(|d| d.kind_name() == "reference_declarator"),
        _ => is_left(p, n),
    }
}

/// Whether `var` is assigned or stepped between byte offsets `from` and `to`.
fn changed_between(f: &Func, var: &str, from: usize, to: usize) -> bool {
    f.nodes.iter().any(|&x| {
        if x.start_byte() < from || x.start_byte() >= to {
            return false;
        }
        let target = match x.kind_name() {
            "assignment_expression" => x.field("left"),
            "update_expression" => x.field("argument"),
            _ => None,
        };
        target.is_some_and(|t| path_of(f.src, t).as_deref() == Some(var))
    })
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
