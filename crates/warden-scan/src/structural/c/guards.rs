//! The `if`s on the way to a statement, and what their conditions say of a variable
//! there: `if (n > cap) return;` before a copy bounds `n` from above, `if (n > 0) {…}`
//! around it from below, while `if (a && n > 0) return;` bounds nothing.

use super::func::Func;
use super::syntax::{ends_in_jump, path_of, strip, text};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// An `if` on the way to a statement: its condition, and whether the statement is in
/// its body (the condition held) or after it (the body left the block: it failed).
pub(crate) struct IfGuard<'t> {
    pub cond: Node<'t>,
    pub inside: bool,
}

impl IfGuard<'_> {
    /// How the comparisons that decide the guard are joined: all must hold for the
    /// body to run, any one sends control away.
    fn joined_by(&self) -> &'static str {
        if self.inside {
            "&&"
        } else {
            "||"
        }
    }

    /// What the guard says of `var` at the statement: (operator, constant) with `var`
    /// on the left (`n <= 31`), from each comparison with a constant that decides it.
    pub fn facts(&self, f: &Func, var: &str) -> Vec<(&'static str, i64)> {
        let mut out = Vec::new();
        comparisons(f, self.cond, var, self.joined_by(), &mut out);
        if self.inside {
            return out;
        }
        // The body left: at the statement, each comparison failed.
        out.into_iter()
            .map(|(op, k)| {
                let negated = match op {
                    "<" => ">=",
                    "<=" => ">",
                    ">" => "<=",
                    _ => "<",
                };
                (negated, k)
            })
            .collect()
    }
}

/// The `if`s before `n` that it runs inside or after (when their body leaves the
/// block), closest first.
pub(crate) fn if_guards<'t>(f: &Func<'_, 't>, n: Node<'t>) -> Vec<IfGuard<'t>> {
    let src = f.src;
    f.conds
        .iter()
        .rev()
        .filter(|c| c.start_byte() < n.start_byte())
        .filter_map(|&cond| {
            let stmt = cond.parent().filter(|p| p.kind_name() == "if_statement")?;
            let body = stmt.field("consequence")?;
            let inside = body.start_byte() <= n.start_byte() && n.end_byte() <= body.end_byte();
            let after = stmt.end_byte() <= n.start_byte()
                && stmt.parent().is_some_and(|p| {
                    p.start_byte() <= n.start_byte() && n.end_byte() <= p.end_byte()
                });
            let leaves = !inside && after && ends_in_jump(src, body);
            (inside || leaves).then_some(IfGuard { cond, inside })
        })
        .collect()
}

/// The comparisons of `var` with a constant in `cond`, through `joined_by`: the
/// operator with `var` on the left, and the constant.
fn comparisons(
    f: &Func,
    cond: Node,
    var: &str,
    joined_by: &str,
    out: &mut Vec<(&'static str, i64)>,
) {
    let src = f.src;
    let cond = strip(cond);
    if cond.kind_name() != "binary_expression" {
        return;
    }
    let (Some(op), Some(l), Some(r)) = (
        cond.field("operator").map(|o| text(src, o)),
        cond.field("left"),
        cond.field("right"),
    ) else {
        return;
    };
    if op == joined_by {
        comparisons(f, l, var, joined_by, out);
        comparisons(f, r, var, joined_by, out);
        return;
    }
    let (same, flipped) = match op {
        "<" => ("<", ">"),
        "<=" => ("<=", ">="),
        ">" => (">", "<"),
        ">=" => (">=", "<="),
        _ => return,
    };
    if path_of(src, l).as_deref() == Some(var) {
        if let Some(k) = f.fold(r) {
            out.push((same, k));
        }
    } else if path_of(src, r).as_deref() == Some(var) {
        if let Some(k) = f.fold(l) {
            out.push((flipped, k));
        }
    }
}
