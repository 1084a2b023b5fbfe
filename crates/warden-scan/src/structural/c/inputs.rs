//! Values from input used as an index, an allocation size or a divisor with no
//! bounds check on the way.

use super::func::Func;
use super::syntax::{call, descendants, line, path_of, strip, subscript, text};
use super::Finding;
use crate::structural::fields::Fields;
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
        match n.kind() {
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
                if !matches!(name.as_str(), "malloc" | "realloc" | "alloca" | "calloc") {
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
                if vars.iter().any(|v| f.guard(v, n.start_byte()).upper) {
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
    idx.kind() == "binary_expression"
        && idx
            .field("operator")
            .is_some_and(|o| matches!(text(src, o), "%" | "&"))
}

/// The input-holding variables an expression reads.
fn input_vars(f: &Func, n: Node) -> Vec<String> {
    descendants(n)
        .into_iter()
        .filter_map(|x| {
            path_of(f.src, x).filter(|_| matches!(x.kind(), "identifier" | "field_expression"))
        })
        .filter(|p| f.tainted.contains(p))
        .collect()
}
