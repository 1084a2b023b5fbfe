//! A counter stepped once for each element of a sequence whose length was checked:
//! after the loop it can equal that length.
//!
//! ```cpp
//! if (text.size() > kMax) return false;     // lets the size be kMax
//! std::size_t n = 0;
//! for (char c : text) out.places[n++] = c;
//! out.places[n] = '\0';                     // n may be kMax
//! ```

use super::func::Func;
use super::guards::if_guards;
use super::syntax::{descendants, path_of, strip, text};
use crate::structural::fields::{Fields, Kinds};
use tree_sitter::Node;

/// For `var` used at `n`, after a range-for over a sequence that steps `var` once per
/// element, from zero: the highest value the sequence's length check (`x.size() > K`
/// leaving, `strlen(x) <= K` holding) lets `var` reach, and that check.
pub(crate) fn counted_bound<'t>(
    f: &Func<'_, 't>,
    n: Node<'t>,
    var: &str,
) -> Option<(i64, Node<'t>)> {
    let src = f.src;
    let lp = f.nodes.iter().rev().find(|x| {
        x.kind_name() == "for_range_loop"
            && x.end_byte() <= n.start_byte()
            && steps_once(src, **x, var)
    })?;
    let seq = lp.field("right").and_then(|r| path_of(src, strip(r)))?;
    let from_zero = f.nodes.iter().any(|x| {
        x.kind_name() == "init_declarator"
            && x.end_byte() <= lp.start_byte()
            && x.field("declarator").is_some_and(|d| text(src, d) == var)
            && x.field("value").is_some_and(|v| text(src, v).trim() == "0")
    });
    if !from_zero {
        return None;
    }
    let lengths = [
        format!("{seq}.size()"),
        format!("{seq}.length()"),
        format!("strlen({seq})"),
    ];
    let is_len = |x: Node| {
        let t: String = text(src, strip(x)).split_whitespace().collect();
        lengths.contains(&t)
    };
    if_guards(f, *lp).into_iter().find_map(|g| {
        descendants(g.cond).into_iter().find_map(|x| {
            if x.kind_name() != "binary_expression" {
                return None;
            }
            let op = x.field("operator").map(|o| text(src, o))?;
            let (l, r) = (x.field("left")?, x.field("right")?);
            // The comparison as `length OP k`.
            let (op, k) = if is_len(l) {
                (op, f.fold(r)?)
            } else if is_len(r) {
                let flipped = match op {
                    "<" => ">",
                    "<=" => ">=",
                    ">" => "<",
                    ">=" => "<=",
                    _ => return None,
                };
                (flipped, f.fold(l)?)
            } else {
                return None;
            };
            let highest = match (g.inside, op) {
                (false, ">") | (true, "<=") => k,
                (false, ">=") | (true, "<") => k - 1,
                _ => return None,
            };
            Some((highest, g.cond))
        })
    })
}

/// Whether the loop's body steps `var` exactly once (`a[var++] = c`).
fn steps_once(src: &str, lp: Node, var: &str) -> bool {
    let Some(body) = lp.field("body") else {
        return false;
    };
    let steps = descendants(body)
        .into_iter()
        .filter(|x| {
            x.kind_name() == "update_expression"
                && x.field("argument").is_some_and(|a| text(src, a) == var)
        })
        .count();
    let nested = descendants(body).into_iter().any(|x| {
        matches!(
            x.kind_name(),
            "for_range_loop" | "for_statement" | "while_statement"
        ) && descendants(x).into_iter().any(|y| {
            y.kind_name() == "update_expression"
                && y.field("argument").is_some_and(|a| text(src, a) == var)
        })
    });
    steps == 1 && !nested
}
