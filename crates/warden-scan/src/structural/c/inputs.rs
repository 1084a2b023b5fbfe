//! Values from input used as an index, an allocation size or a divisor with no
//! bounds check on the way.

use super::func::Func;
use super::syntax::{call, descendants, line, path_of, strip, subscript, text};
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

/// Indexes, allocation sizes and divisors taken from input with no check on the way.
pub(crate) fn input_arithmetic(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        match n.kind_name() {
            "subscript_expression" => {
                let Some((a, idx)) = subscript(n) else {
                    continue;
                };
                let Some(arr) = path_of(src, a) else { continue };
                let Some(len) = f.array_len(&arr) else {
                    continue;
                };
                if !f.is_input(idx) || masked(src, idx) {
                    continue;
                }
                let vars = input_vars(f, idx);
                let safe = !vars.is_empty()
                    && vars.iter().any(|v| {
                        let g = f.guard(v, n.start_byte());
                        g.upper && (g.lower || f.unsigned(v))
                    });
                if !safe {
                    out.push(finding(
                        "index-from-input",
                        n,
                        format!("`{}` indexes `{arr}` [{len}] with input, not checked against both ends", text(src, n)),
                    ));
                }
            }
            "call_expression" => {
                let Some((name, args)) = call(src, n) else {
                    continue;
                };
                if !matches!(name, "malloc" | "realloc" | "alloca" | "calloc") {
                    continue;
                }
                let size = if name == "realloc" {
                    args.get(1)
                } else {
                    args.first()
                };
                let sizes: Vec<Node> = if name == "calloc" {
                    args.clone()
                } else {
                    size.into_iter().copied().collect()
                };
                let Some(s) = sizes.into_iter().find(|s| f.is_input(*s)) else {
                    continue;
                };
                let vars = input_vars(f, s);
                let at = n.start_byte();
                // A 32-bit product (`uint32_t bytes = count * 24`) is checked through
                // its factors: a check of the product sees it after it wrapped.
                let checked = |v: &String| match f.narrow_product(v, at) {
                    Some(factors) => factors.iter().all(|x| f.bounded_above(x, n)),
                    None => f.guard(v, at).upper,
                };
                if vars.iter().any(checked) {
                    continue;
                }
                let st = text(src, s);
                let how = if st.contains('*') || st.contains('+') {
                    "can overflow"
                } else {
                    "has no upper limit"
                };
                out.push(finding(
                    "alloc-overflow",
                    n,
                    format!("{name}() size `{st}` comes from input and {how}"),
                ));
            }
            "binary_expression" => {
                let op = n.field("operator").map(|o| text(src, o));
                if !matches!(op, Some("/" | "%")) {
                    continue;
                }
                let Some(r) = n.field("right") else {
                    continue;
                };
                if f.fold(r).is_some() || !f.is_input(r) {
                    continue;
                }
                let vars = input_vars(f, r);
                let checked = vars.iter().any(|v| {
                    let g = f.guard(v, n.start_byte());
                    g.upper || g.lower || g.called
                });
                if !checked {
                    out.push(finding(
                        "divide-by-zero",
                        n,
                        format!(
                            "`{}` divides by input never compared with zero",
                            text(src, n)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// `i % N`, `i & MASK`: an index reduced into range.
fn masked(src: &str, idx: Node) -> bool {
    let idx = strip(idx);
    idx.kind_name() == "binary_expression"
        && idx
            .field("operator")
            .is_some_and(|o| matches!(text(src, o), "%" | "&"))
}

/// The input-holding variables an expression reads.
fn input_vars(f: &Func, n: Node) -> Vec<String> {
    descendants(n)
        .into_iter()
        .filter_map(|x| {
            path_of(f.src, x).filter(|_| matches!(x.kind_name(), "identifier" | "field_expression"))
        })
        .filter(|p| f.tainted.contains(p))
        .collect()
}

/// Divisors that are zero for ordinary values, with no comparison on the way: a
/// remainder (`m = x % n` is 0 for every multiple of `n`) or the difference of two
/// computed results (`a / (f(x) - g(x))` is a division by zero whenever they agree).
pub(crate) fn zero_prone_divisors(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        if n.kind_name() != "binary_expression" {
            continue;
        }
        let op = n.field("operator").map(|o| text(src, o));
        if !matches!(op, Some("/" | "%")) {
            continue;
        }
        let Some(r) = n.field("right").map(strip) else {
            continue;
        };
        if f.fold(r).is_some() {
            continue;
        }
        let unchecked = |name: &str| {
            let g = f.guard(name, n.start_byte());
            !(g.upper || g.lower || g.called)
        };
        let why = match r.kind_name() {
            "binary_expression" if difference_of_calls(src, r).is_some() => {
                let (a, b) = difference_of_calls(src, r).unwrap_or_default();
                (unchecked(&a) && unchecked(&b)).then(|| {
                    format!(
                        "`{}` divides by a difference of two results, zero when they agree",
                        text(src, n)
                    )
                })
            }
            "identifier" => {
                let v = text(src, r);
                let from_remainder = last_assigned(f, v, n.start_byte()).is_some_and(|e| {
                    let e = strip(e);
                    e.kind_name() == "binary_expression"
                        && e.field("operator").is_some_and(|o| text(src, o) == "%")
                });
                (from_remainder && unchecked(v)).then(|| {
                    format!(
                        "`{}` divides by `{v}`, a remainder (0 for every multiple), never compared with zero",
                        text(src, n)
                    )
                })
            }
            _ => None,
        };
        if let Some(label) = why {
            out.push(finding("divide-by-zero", n, label));
        }
    }
}

/// `f(x) - g(y)`: the names of the two functions.
fn difference_of_calls(src: &str, e: Node) -> Option<(String, String)> {
    if e.field("operator").map(|o| text(src, o)) != Some("-") {
        return None;
    }
    let (a, _) = call(src, strip(e.field("left")?))?;
    let (b, _) = call(src, strip(e.field("right")?))?;
    Some((a.to_string(), b.to_string()))
}

/// The value last given to `var` (initialiser or plain assignment) before byte `before`.
fn last_assigned<'t>(f: &Func<'_, 't>, var: &str, before: usize) -> Option<Node<'t>> {
    let src = f.src;
    let mut last = None;
    for &x in f.nodes.iter().filter(|x| x.start_byte() < before) {
        let (l, r) = match x.kind_name() {
            "init_declarator" => (x.field("declarator"), x.field("value")),
            "assignment_expression" if x.field("operator").map(|o| text(src, o)) == Some("=") => {
                (x.field("left"), x.field("right"))
            }
            _ => continue,
        };
        if l.is_some_and(|l| text(src, l) == var) {
            last = r;
        }
    }
    last
}
