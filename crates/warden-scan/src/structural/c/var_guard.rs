//! What the conditions before a use establish of a variable: compared from above, from
//! below, or handed to a check. A status test of the call that filled the variable
//! (`read(fd, &len, 2) != 2`) and an error sentinel (`len == -1`) bound nothing.

use super::func::Func;
use super::syntax::{call, mentions, strip, text};
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

/// Whether a call's name is a C++ cast (`static_cast<size_t>`), which converts its
/// argument and checks nothing about it.
fn is_cast(name: &str) -> bool {
    [
        "static_cast",
        "reinterpret_cast",
        "const_cast",
        "dynamic_cast",
    ]
    .iter()
    .any(|c| name.trim_start_matches("std::").starts_with(c))
}
