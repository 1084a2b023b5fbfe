//! A pointer stored into an object's array of pointers and then freed on an error
//! path that hands the object to the file's release function, which frees every
//! element of that array again:
//!
//! ```c
//! b->rings[b->n++] = copy;
//! if (!valid(copy)) { free(copy); goto fail; }
//! ...
//! fail: batch_free(b);          /* free(b->rings[i]) for each i < b->n */
//! ```

use super::func::Func;
use super::syntax::{call, descendants, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use tree_sitter::Node;

pub(crate) fn freed_while_stored(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    // `owner->field[...] = p`: (p, owner, field, end of the store).
    let mut stores: Vec<(String, String, String, usize)> = Vec::new();
    for &n in &f.nodes {
        if n.kind_name() != "assignment_expression" {
            continue;
        }
        let (Some(l), Some(r)) = (n.field("left").map(strip), n.field("right").map(strip)) else {
            continue;
        };
        if l.kind_name() != "subscript_expression" || r.kind_name() != "identifier" {
            continue;
        }
        let Some(arr) = l.field("argument").map(strip) else {
            continue;
        };
        if arr.kind_name() != "field_expression" {
            continue;
        }
        let owner = arr.field("argument").and_then(|a| path_of(src, a));
        let field = arr.field("field").map(|x| text(src, x).to_string());
        if let (Some(owner), Some(field)) = (owner, field) {
            stores.push((text(src, r).to_string(), owner, field, n.end_byte()));
        }
    }
    if stores.is_empty() {
        return;
    }
    for &n in &f.nodes {
        let Some(("free", args)) = call(src, n) else {
            continue;
        };
        let Some(p) = args.first().and_then(|a| path_of(src, *a)) else {
            continue;
        };
        let Some((_, owner, field, _)) = stores
            .iter()
            .find(|(v, _, _, end)| *v == p && *end <= n.start_byte())
        else {
            continue;
        };
        let store_end = stores
            .iter()
            .filter(|(v, o, _, end)| *v == p && o == owner && *end <= n.start_byte())
            .map(|(_, _, _, end)| *end)
            .max()
            .unwrap_or(0);
        // The slot taken back in between (`b->n--`, `b->rings[i] = NULL`).
        let prefix = format!("{owner}->");
        let touched = f.nodes.iter().any(|&x| {
            if x.start_byte() < store_end || x.start_byte() >= n.start_byte() {
                return false;
            }
            let target = match x.kind_name() {
                "assignment_expression" => x.field("left"),
                "update_expression" => x.field("argument"),
                _ => None,
            };
            target.is_some_and(|t| text(src, t).starts_with(&prefix))
        });
        if touched {
            continue;
        }
        if let Some(release) = released_after(f, n, owner, field) {
            out.push(Finding {
                check: "double-free",
                line: line(n),
                label: format!(
                    "`{p}` is freed while `{owner}->{field}` still holds it, and {release}() then frees the elements of `{owner}->{field}` again"
                ),
            });
        }
    }
}

/// The function of the file that the free's error path hands `owner` to, when it frees
/// the elements of `owner->field`: called later in the free's block, or at the label
/// the block jumps to.
fn released_after(f: &Func, free: Node, owner: &str, field: &str) -> Option<String> {
    let src = f.src;
    let stmt = free
        .parent()
        .filter(|p| p.kind_name() == "expression_statement")?;
    let block = stmt
        .parent()
        .filter(|b| b.kind_name() == "compound_statement")?;
    let mut from = None;
    let mut c = block.walk();
    for s in block.named_children(&mut c) {
        if s.start_byte() <= stmt.start_byte() {
            continue;
        }
        if s.kind_name() == "goto_statement" {
            let label = s.field("label").map(|l| text(src, l))?;
            from = f
                .nodes
                .iter()
                .find(|x| {
                    x.kind_name() == "labeled_statement"
                        && x.field("label").is_some_and(|l| text(src, l) == label)
                })
                .map(|x| x.start_byte());
            break;
        }
        if let Some(r) = releasing_call(f, s, owner, field) {
            return Some(r);
        }
    }
    let at = from?;
    f.nodes
        .iter()
        .filter(|x| x.start_byte() >= at)
        .find_map(|&x| releasing_call(f, x, owner, field))
}

/// A call in `n` to a function of the file, given `owner`, that frees
/// `param->field[...]` of the parameter it gets it in.
fn releasing_call(f: &Func, n: Node, owner: &str, field: &str) -> Option<String> {
    let src = f.src;
    descendants(n).into_iter().find_map(|x| {
        let (callee, args) = call(src, x)?;
        let i = args
            .iter()
            .position(|a| path_of(src, *a).as_deref() == Some(owner))?;
        let body = *f.file.by_name.get(callee)?;
        let param = f.file.param_names.get(callee)?.get(i)?;
        let element = format!("{param}->{field}[");
        let frees = f.file.body_nodes(body).iter().any(|&y| {
            matches!(call(src, y), Some(("free", a)) if a.first().is_some_and(|e| {
                text(src, *e).replace(' ', "").starts_with(&element)
            }))
        });
        frees.then(|| callee.to_string())
    })
}
