//! Signed lengths: `int n = hdr->len; if (n > cap) n = cap; memcpy(dst, src, n)`.
//! A signed length checked only against an upper bound lets a negative value through,
//! and the copy turns it into a size near `SIZE_MAX`.

use super::func::Func;
use super::guards::if_guards;
use super::syntax::{call, line, mentions, path_of, strip_casts, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Calls whose argument at the index is a byte count.
const SIZED: &[(&str, usize)] = &[
    ("memcpy", 2),
    ("memmove", 2),
    ("memset", 2),
    ("strncpy", 2),
    ("strncat", 2),
    ("read", 2),
    ("recv", 2),
    ("fread", 2),
];

/// Calls whose result is never negative: a length derived from them is no risk.
const NON_NEGATIVE: &[&str] = &["strlen", "sizeof", "strcspn", "strspn", "strnlen", "wcslen"];

/// Copies sized by a signed variable whose only check is an upper bound.
pub(crate) fn signed_lengths(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((c, args)) = call(src, n) else {
            continue;
        };
        let c = c.trim_start_matches("std::");
        // A library copy's size argument, or a `size_t` parameter of a function of the
        // file (`read_exact(fd, buf, len)`): either turns a negative into a huge size.
        let sizes: Vec<usize> = match SIZED.iter().find(|(name, _)| *name == c) {
            Some(&(_, at)) => vec![at],
            None => size_params(f, c),
        };
        let Some((v, _)) = sizes.iter().find_map(|&at| {
            let size = args.get(at).map(|a| strip_casts(src, *a))?;
            let v = (size.kind_name() == "identifier")
                .then(|| path_of(src, size))
                .flatten()?;
            signed_int(f.type_of(&v)).then_some((v, at))
        }) else {
            continue;
        };
        // `if (!fill(fd, buf, n))`: the condition holding the call is no check of `n`.
        let at = f
            .conds
            .iter()
            .filter(|c| c.start_byte() <= n.start_byte() && n.end_byte() <= c.end_byte())
            .map(|c| c.start_byte())
            .min()
            .unwrap_or(n.start_byte());
        let g = f.guard(&v, at);
        if !g.upper
            || g.called
            || (g.lower && bounded_below(f, &v, n))
            || non_negative_origin(f, &v, n.start_byte())
        {
            continue;
        }
        out.push(Finding {
            check: "unchecked-copy",
            line: line(n),
            label: format!(
                "{c}() size `{v}` is a signed {} checked only against an upper bound: a negative value passes and becomes a huge size",
                f.type_of(&v).unwrap_or("int").trim()
            ),
        });
    }
}

/// Conversions of text to a signed number: `-5` parses as well as `5`.
const SIGNED_PARSES: &[&str] = &["atoi", "atol", "atoll", "strtol", "strtoll", "stoi", "stol"];

/// `int z = atoi(zone); if (z >= ZONES) return -1; temps[z] = t;`: a fixed-size array
/// indexed by a signed number parsed from text and checked only against its length.
pub(crate) fn signed_indexes(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((a, idx)) = super::syntax::subscript(n) else {
            continue;
        };
        let Some(arr) = path_of(src, a) else { continue };
        let Some(len) = f.array_len(&arr) else {
            continue;
        };
        let idx = strip_casts(src, idx);
        if idx.kind_name() != "identifier" {
            continue;
        }
        let v = text(src, idx);
        if !signed_int(f.type_of(v)) || !parsed_from_text(f, v, n.start_byte()) {
            continue;
        }
        let g = f.guard(v, n.start_byte());
        if !g.upper || g.lower || g.called || bounded_below(f, v, n) {
            continue;
        }
        out.push(Finding {
            check: "index-from-input",
            line: line(n),
            label: format!(
                "`{}` indexes `{arr}` [{len}] with `{v}`, parsed from text as a signed number and checked only against the upper end: a negative value reaches before the array",
                text(src, n)
            ),
        });
    }
}

/// Containers indexed with `[]`, which checks nothing (`std::vector`, `std::array`,
/// `std::deque`, `std::string`).
fn unchecked_container(ty: &str) -> bool {
    ["vector<", "array<", "deque<", "string"]
        .iter()
        .any(|t| ty.contains(t))
        && !ty.contains("map<")
}

/// `int i = std::stoi(slot); return owners_[i];`: a vector (or std::array, deque)
/// indexed with `[]` by a number parsed from text that nothing compares first: any
/// value, negative ones too, reads or writes outside it.
pub(crate) fn parsed_container_indexes(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains("sto") && !src.contains("strto") && !src.contains("ato") {
        return;
    }
    for &n in &f.nodes {
        let Some((a, idx)) = super::syntax::subscript(n) else {
            continue;
        };
        let Some(arr) = path_of(src, a) else { continue };
        let member = arr.trim_start_matches("this->");
        let ty = f
            .type_of(&arr)
            .or_else(|| f.file.member_types.get(member).map(String::as_str));
        if !ty.is_some_and(unchecked_container) || f.array_len(&arr).is_some() {
            continue;
        }
        let idx = strip_casts(src, idx);
        if idx.kind_name() != "identifier" {
            continue;
        }
        let v = text(src, idx);
        if !parsed_length(f, v, n.start_byte()) {
            continue;
        }
        let g = f.guard(v, n.start_byte());
        if g.upper || g.lower || g.called {
            continue;
        }
        // `i < v.size()` written the other way round, or a loop bound: any mention of
        // the container's size in a condition counts as a check.
        let sized = format!("{arr}.size()");
        if f.conds
            .iter()
            .any(|c| c.start_byte() < n.start_byte() && text(src, *c).contains(sized.as_str()))
        {
            continue;
        }
        out.push(Finding {
            check: "index-from-input",
            line: line(n),
            label: format!(
                "`{}` indexes `{arr}` with `{v}`, parsed from text and never compared with anything: operator[] checks nothing",
                text(src, n)
            ),
        });
    }
}

/// Whether the last value given to `var` before byte `before` is a signed number parsed
/// from text (`atoi(s)`, `strtol(s, &end, 10)`, `std::stoi(s)`).
fn parsed_from_text(f: &Func, var: &str, before: usize) -> bool {
    last_value_parsed(f, var, before, SIGNED_PARSES)
}

/// Conversions of text to a number, signed or not.
const PARSES: &[&str] = &[
    "atoi", "atol", "atoll", "strtol", "strtoll", "strtoul", "strtoull", "stoi", "stol", "stoll",
    "stoul", "stoull",
];

/// Whether the last value given to `var` before byte `before` is a number parsed from
/// text (`int len = std::stoi(header);`, `n = strtoul(field, NULL, 10)`): a length
/// the text chose.
pub(crate) fn parsed_length(f: &Func, var: &str, before: usize) -> bool {
    last_value_parsed(f, var, before, PARSES)
}

/// Whether the last value given to `var` before byte `before` is a call of `parses`.
fn last_value_parsed(f: &Func, var: &str, before: usize, parses: &[&str]) -> bool {
    let src = f.src;
    f.nodes
        .iter()
        .take_while(|n| n.start_byte() < before)
        .filter_map(|&n| match n.kind_name() {
            "init_declarator" => Some((n.field("declarator")?, n.field("value")?)),
            "assignment_expression" => Some((n.field("left")?, n.field("right")?)),
            _ => None,
        })
        .filter(|(l, _)| path_of(src, *l).as_deref() == Some(var))
        .last()
        .is_some_and(|(_, r)| {
            call(src, strip_casts(src, r)).is_some_and(|(c, _)| parses.contains(&c))
        })
}

/// Parameters of a function of the file declared as an unsigned size (`size_t n`).
fn size_params(f: &Func, callee: &str) -> Vec<usize> {
    f.file
        .param_types
        .get(callee)
        .map(|types| {
            types
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    let t = t.trim_start_matches("const ").trim();
                    matches!(t, "size_t" | "std::size_t")
                })
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a check on the way to `n` keeps `var` from being negative there: an `if`
/// around it (`if (n >= 0)`) or one that leaves the block when it is
/// (`if (n < 0 || n > cap) return;`), but not `if (a && n > 0) return;`, which
/// lets every negative `n` through. A loop's or an assertion's comparison counts.
fn bounded_below(f: &Func, var: &str, n: Node) -> bool {
    let by_if = if_guards(f, n).iter().any(|g| {
        g.facts(f, var)
            .iter()
            .any(|&(op, k)| (op == ">" && k >= -1) || (op == ">=" && k >= 0))
    });
    by_if
        || f.conds.iter().any(|c| {
            c.start_byte() < n.start_byte()
                && c.parent().is_none_or(|p| p.kind_name() != "if_statement")
                && mentions(text(f.src, *c), var)
                && ternary_clamps(f.src, *c, var)
        })
}

/// Whether a condition that is not an `if`'s bounds `var` from then on: a loop's or an
/// assertion's does, and a ternary's only when its value is what `var` becomes
/// (`n = n < 0 ? 0 : n`). A ternary inside another expression (`4 + (n > 0 ? n : 0)`
/// in a size check) picks a value for that expression and leaves `var` as it was.
fn ternary_clamps(src: &str, c: Node, var: &str) -> bool {
    let Some(mut p) = c.parent() else {
        return true;
    };
    if p.kind_name() != "conditional_expression" {
        return true;
    }
    while let Some(up) = p.parent() {
        if up.kind_name() != "parenthesized_expression" {
            break;
        }
        p = up;
    }
    let Some(holder) = p.parent() else {
        return false;
    };
    let target = match holder.kind_name() {
        "assignment_expression" => holder.field("left"),
        "init_declarator" => holder.field("declarator"),
        _ => None,
    };
    target.is_some_and(|t| path_of(src, t).as_deref() == Some(var))
}

/// Whether a declared type is a signed integer.
fn signed_int(t: Option<&str>) -> bool {
    let Some(t) = t else { return false };
    if t.contains('*') || t.contains('[') || t.contains("unsigned") || t.contains("uint") {
        return false;
    }
    if t.contains("size_t") {
        return t.contains("ssize_t");
    }
    let base = t.trim_start_matches("const ").trim();
    matches!(
        base,
        "int"
            | "long"
            | "short"
            | "long long"
            | "long int"
            | "short int"
            | "signed"
            | "signed int"
            | "int8_t"
            | "int16_t"
            | "int32_t"
            | "int64_t"
            | "ssize_t"
            | "off_t"
            | "intptr_t"
    )
}

/// Whether the values given to `var` before byte `before` cannot be negative (`int n =
/// strlen(s)`). A clamp (`if (n > cap) n = cap;`) keeps whatever came before: it says
/// nothing of where `n` came from (`int n = atoi(s); if (n > cap) n = sizeof buf;`).
fn non_negative_origin(f: &Func, var: &str, before: usize) -> bool {
    let src = f.src;
    let origins: Vec<Node> = f
        .nodes
        .iter()
        .take_while(|n| n.start_byte() < before)
        .filter_map(|&n| match n.kind_name() {
            "init_declarator" => Some((n, n.field("declarator")?, n.field("value")?)),
            "assignment_expression" => Some((n, n.field("left")?, n.field("right")?)),
            _ => None,
        })
        .filter(|(_, l, _)| path_of(src, *l).as_deref() == Some(var))
        .filter(|(n, _, _)| !is_clamp(src, *n, var))
        .map(|(_, _, r)| r)
        .collect();
    !origins.is_empty()
        && origins.iter().all(|r| {
            let t = text(src, *r);
            NON_NEGATIVE.iter().any(|c| t.contains(c))
        })
}

/// Whether the assignment `n` is the body of an `if` whose condition compares `var`.
fn is_clamp(src: &str, n: Node, var: &str) -> bool {
    let mut cur = n;
    for _ in 0..4 {
        let Some(p) = cur.parent() else { return false };
        if p.kind_name() == "if_statement" {
            return p
                .field("condition")
                .is_some_and(|c| mentions(text(src, c), var));
        }
        cur = p;
    }
    false
}
