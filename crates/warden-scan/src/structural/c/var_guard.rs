//! What the conditions before a use establish of a variable: compared from above, from
//! below, or handed to a check. A status test of the call that filled the variable
//! (`read(fd, &len, 2) != 2`) and an error sentinel (`len == -1`) bound nothing.

use super::func::Func;
use super::syntax::{assignment_sides, call, descendants, is_cast, mentions, path_of, strip, text};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// What a bounds check on a variable establishes before some point.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Guard {
    /// Compared with something other than zero (`n < sizeof buf`, `len >= MAX`).
    pub upper: bool,
    /// Compared with zero (`i >= 0`, `n < 0`).
    pub lower: bool,
    /// Passed to a call inside a condition (`if (!valid(name))`, `strstr(p, "..")`).
    pub called: bool,
}

impl<'t> Func<'_, 't> {
    /// The checks on `var` in conditions that start before byte `before`.
    pub fn guard(&self, var: &str, before: usize) -> Guard {
        let mut g = Guard::default();
        for (c, x) in self.condition_nodes(var, before) {
            // A C++ cast (`static_cast<size_t>(n)`) parses as a call but checks nothing.
            if let Some((_, args)) = call(self.src, x).filter(|(name, _)| !is_cast(name)) {
                // `read(fd, &len, 2) != 2` fills `len`; it checks nothing of its value.
                let filled =
                    |a: &Node| text(self.src, strip(*a)).replace(' ', "") == format!("&{var}");
                if args
                    .iter()
                    .any(|a| mentions(text(self.src, *a), var) && !filled(a))
                {
                    g.called = true;
                }
                if c.kind_name() == "call_expression" && x.id() == c.id() {
                    g.upper = true;
                }
            }
            let Some((op, other)) = self.comparison(x, var) else {
                continue;
            };
            // `read(fd, &len, 2) != 2`: the status of the call that filled `len`.
            let status = [x.field("left"), x.field("right")]
                .into_iter()
                .flatten()
                .any(|side| {
                    call(self.src, strip(side)).is_some_and(|(_, args)| {
                        args.iter().any(|a| {
                            text(self.src, strip(*a)).replace(' ', "") == format!("&{var}")
                        })
                    })
                });
            if status {
                continue;
            }
            let ot = text(self.src, strip(other)).trim();
            if matches!(ot, "NULL" | "nullptr" | "'\\0'" | "0L") && matches!(op, "==" | "!=") {
                continue;
            }
            // `len == -1`: an error sentinel, not a bound (-2 passes).
            if matches!(op, "==" | "!=") {
                g.called |= !ot.starts_with('-');
                continue;
            }
            if ot == "0" || ot.starts_with('-') {
                g.lower = true;
            } else {
                g.upper = true;
            }
        }
        g
    }
}

impl<'t> Func<'_, 't> {
    /// For a 32-bit (or narrower) integer assigned a product before byte `before`
    /// (`uint32_t bytes = count * sizeof(struct rec);`): the variables multiplied. A
    /// check of the product itself sees the value after it wrapped; only checks of its
    /// factors, every one of them, can keep it from wrapping.
    pub fn narrow_product(&self, var: &str, before: usize) -> Option<Vec<String>> {
        let ty = self.type_of(var)?;
        let base = ty.trim().trim_start_matches("const ").trim();
        let narrow = matches!(
            base,
            "int"
                | "unsigned"
                | "unsigned int"
                | "uint32_t"
                | "int32_t"
                | "uint16_t"
                | "int16_t"
                | "u32"
                | "u16"
                | "DWORD"
                | "UINT"
                | "uint"
                | "guint32"
        );
        if !narrow {
            return None;
        }
        let src = self.src;
        let mut factors = Vec::new();
        for &n in &self.nodes {
            if n.start_byte() >= before
                || !matches!(n.kind_name(), "init_declarator" | "assignment_expression")
            {
                continue;
            }
            let (Some(mut l), Some(r)) = assignment_sides(n) else {
                continue;
            };
            while let Some(d) = l.field("declarator") {
                l = d;
            }
            if path_of(src, l).as_deref() != Some(var) {
                continue;
            }
            let product = descendants(r).into_iter().find(|x| {
                x.kind_name() == "binary_expression"
                    && x.field("operator").is_some_and(|o| text(src, o) == "*")
                    && self.fold(*x).is_none()
            });
            let p = product?;
            factors.extend(
                descendants(p)
                    .into_iter()
                    .filter(|x| matches!(x.kind_name(), "identifier" | "field_expression"))
                    // `hdr.tiles`, not its `hdr`; nothing inside `sizeof`.
                    .filter(|x| {
                        x.parent().is_none_or(|p| {
                            !matches!(p.kind_name(), "field_expression" | "sizeof_expression")
                        })
                    })
                    .filter_map(|x| path_of(src, x))
                    .filter(|x| x != var && self.constant(x).is_none()),
            );
        }
        (!factors.is_empty()).then_some(factors)
    }

    /// Whether an `if` on the way to `n` bounds `var` from above: one that leaves when
    /// it is large (`if (count > MAX / 24) return`), or holds `n` while it is small.
    pub fn bounded_above(&self, var: &str, n: Node<'t>) -> bool {
        let src = self.src;
        super::guards::if_guards(self, n).iter().any(|g| {
            descendants(g.cond).into_iter().any(|x| {
                if x.kind_name() != "binary_expression" {
                    return false;
                }
                let op = x.field("operator").map_or("", |o| text(src, o));
                let (Some(l), Some(r)) = (x.field("left"), x.field("right")) else {
                    return false;
                };
                let on_left = path_of(src, strip(l)).as_deref() == Some(var);
                let on_right = path_of(src, strip(r)).as_deref() == Some(var);
                let large_when_true = match op {
                    ">" | ">=" => on_left,
                    "<" | "<=" => on_right,
                    _ => false,
                };
                let small_when_true = match op {
                    "<" | "<=" => on_left,
                    ">" | ">=" => on_right,
                    _ => false,
                };
                if g.inside {
                    small_when_true
                } else {
                    large_when_true
                }
            })
        })
    }
}
