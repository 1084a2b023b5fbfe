//! C++ use after move: `queue_.push_back(std::move(req)); log(req.id);` reads an
//! object whose contents went elsewhere (a moved-from string or vector is empty, a
//! moved-from smart pointer is null).

use super::escapes::{in_lambda, locals};
use super::func::Func;
use super::syntax::{call, line, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Methods that give a moved-from object a known state again.
const RESETS: &[&str] = &["clear", "reset", "assign", "swap", "emplace", "release"];

/// Constructs between a move and its enclosing block that make the move conditional or
/// repeated: a later statement of the block may not follow it.
const BRANCHES: &[&str] = &[
    "if_statement",
    "conditional_expression",
    "for_statement",
    "for_range_loop",
    "while_statement",
    "do_statement",
    "switch_statement",
    "case_statement",
    "lambda_expression",
    "try_statement",
    "catch_clause",
    "binary_expression",
];

/// The statement holding `n` and the block it is a statement of, when nothing between
/// them branches.
fn statement_and_block(n: Node) -> Option<(Node, Node)> {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if p.kind_name() == "compound_statement" {
            return Some((cur, p));
        }
        // `a && use(std::move(x))`: the move may not run.
        if p.kind_name() == "binary_expression"
            && p.child(1)
                .is_some_and(|o| matches!(o.kind_name(), "&&" | "||"))
        {
            return None;
        }
        if BRANCHES.contains(&p.kind_name()) && p.kind_name() != "binary_expression" {
            return None;
        }
        cur = p;
    }
    None
}

/// Types a move copies (a moved-from number is still the number).
fn scalar(ty: &str) -> bool {
    let ty = ty.trim_start_matches("const ").trim();
    matches!(
        ty,
        "int" | "unsigned" | "long" | "short" | "char" | "bool" | "float" | "double" | "auto"
    ) || ty.ends_with("int_t")
        || ty.ends_with("size_t")
        || ty.starts_with("unsigned ")
        || ty.starts_with("long ")
}

/// `std::move(x)` of a local or parameter `x`, then a later statement of the same block
/// reading `x` before anything sets it again.
pub(crate) fn used_after_move(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains("move") {
        return;
    }
    let mut owned: Option<Vec<String>> = None;
    for &n in &f.nodes {
        if n.kind_name() != "call_expression" {
            continue;
        }
        let Some(fun) = n.field("function") else {
            continue;
        };
        if !matches!(text(src, fun).trim(), "std::move" | "move") || in_lambda(n, f.body) {
            continue;
        }
        let Some((_, args)) = call(src, n) else {
            continue;
        };
        let [arg] = args.as_slice() else { continue };
        if arg.kind_name() != "identifier" {
            continue;
        }
        let name = text(src, *arg);
        let owned = owned.get_or_insert_with(|| {
            locals(f)
                .into_iter()
                .filter(|l| l.owned && !scalar(&l.ty))
                .map(|l| l.name)
                .collect()
        });
        let known = owned.iter().any(|l| l == name)
            || f.params
                .iter()
                .any(|(p, t)| p == name && !t.ends_with('*') && !scalar(t));
        if !known {
            continue;
        }
        let Some((stmt, block)) = statement_and_block(n) else {
            continue;
        };
        if stmt.kind_name() == "return_statement" {
            continue;
        }
        let Some(used) = first_read_after(f, name, stmt, block) else {
            continue;
        };
        out.push(Finding {
            check: "use-after-move",
            line: line(used),
            label: format!(
                "`{name}` is read at line {} after `{}` moved it away",
                line(used),
                text(src, n)
            ),
        });
    }
}

/// The first mention of `name` after `stmt` in `block`, when it reads the moved-from
/// object (not `name = …`, `name.clear()`, which set it again).
fn first_read_after<'t>(f: &Func<'_, 't>, name: &str, stmt: Node, block: Node) -> Option<Node<'t>> {
    let src = f.src;
    let first = f.nodes.iter().copied().find(|&x| {
        x.kind_name() == "identifier"
            && x.start_byte() >= stmt.end_byte()
            && x.end_byte() <= block.end_byte()
            && text(src, x) == name
    })?;
    let parent = first.parent()?;
    let assigned = parent.kind_name() == "assignment_expression"
        && parent.field("left").is_some_and(|l| l.id() == first.id());
    let reset = parent.kind_name() == "field_expression"
        && parent
            .field("field")
            .is_some_and(|m| RESETS.contains(&text(src, m)))
        && parent
            .parent()
            .is_some_and(|c| c.kind_name() == "call_expression");
    // A new declaration of the name in a nested scope, or `&x` handed to a filler.
    let redeclared = matches!(parent.kind_name(), "init_declarator" | "declaration");
    (!assigned && !reset && !redeclared).then_some(first)
}
