//! A pointer freed on an error path that then jumps to the function's cleanup label,
//! where it is freed again:
//!
//! ```c
//! if (parse(buf) < 0) { free(buf); goto out; }
//! ...
//! out:
//!     free(buf);
//! ```

use super::func::Func;
use super::syntax::{call, line, path_of, text};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use tree_sitter::Node;

/// Calls that release the memory their first argument points at.
const FREES: &[&str] = &["free", "g_free", "kfree", "xfree", "av_free"];

/// The pointer a call frees, if it is a release (`free(p)`, or a function of the file
/// that frees its argument).
fn freed(f: &Func, n: Node) -> Option<String> {
    let (c, args) = call(f.src, n)?;
    let at = if FREES.contains(&c) {
        0
    } else {
        *f.file.frees_param.get(c)?.first()?
    };
    path_of(f.src, *args.get(at)?)
}

pub(crate) fn freed_before_cleanup(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src[f.body.byte_range()].contains("goto") {
        return;
    }
    for &n in &f.nodes {
        let Some(p) = freed(f, n) else { continue };
        let Some(label) = jumps_after(src, n) else {
            continue;
        };
        let Some(at) = f
            .nodes
            .iter()
            .find(|x| {
                x.kind_name() == "labeled_statement"
                    && x.field("label").is_some_and(|l| text(src, l) == label)
            })
            .map(|x| x.start_byte())
        else {
            continue;
        };
        // Reset between the free and the jump (`free(p); p = NULL; goto out;`).
        if assigned(f, &p, n.end_byte(), at.max(n.end_byte()), Some(n)) {
            continue;
        }
        // At the label: the first release of `p`, unless `p` is set again before it.
        let again = f
            .nodes
            .iter()
            .copied()
            .filter(|x| x.start_byte() >= at && x.id() != n.id())
            .find(|&x| freed(f, x).as_deref() == Some(p.as_str()));
        let Some(again) = again else { continue };
        if assigned(f, &p, at, again.start_byte(), None) {
            continue;
        }
        out.push(Finding {
            check: "double-free",
            line: line(again),
            label: format!(
                "`{p}` is freed on line {} before `goto {label}`, and freed again here",
                line(n)
            ),
        });
    }
}

/// The label the statements after the call `n`, in its block, jump to (`goto out;`).
fn jumps_after<'s>(src: &'s str, n: Node) -> Option<&'s str> {
    let stmt = n
        .parent()
        .filter(|p| p.kind_name() == "expression_statement")?;
    let block = stmt
        .parent()
        .filter(|b| b.kind_name() == "compound_statement")?;
    let mut c = block.walk();
    let last = block
        .named_children(&mut c)
        .filter(|x| x.kind_name() != "comment")
        .last()?;
    (last.kind_name() == "goto_statement" && last.start_byte() > stmt.start_byte())
        .then(|| last.field("label").map(|l| text(src, l)))
        .flatten()
}

/// Whether `var` is assigned between bytes `from` and `to` (within the free's block
/// when `within` is given: the statements between the free and its `goto`).
fn assigned(f: &Func, var: &str, from: usize, to: usize, within: Option<Node>) -> bool {
    let block = within.and_then(|n| n.parent()).and_then(|s| s.parent());
    f.nodes.iter().any(|&x| {
        let range = match block {
            Some(b) => x.start_byte() >= from && x.end_byte() <= b.end_byte(),
            None => x.start_byte() >= from && x.start_byte() < to,
        };
        range
            && x.kind_name() == "assignment_expression"
            && x.field("left").and_then(|l| path_of(f.src, l)).as_deref() == Some(var)
    })
}
