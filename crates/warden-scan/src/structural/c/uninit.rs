//! A local declared without a value, set on some paths only (an `if`/`else if` chain
//! with no final `else`, a `switch` with no `default`, a loop body that may not run),
//! then read: on the other paths the read sees whatever the stack held (CWE-457).

use super::escapes::in_lambda;
use super::func::Func;
use super::syntax::{ends_in_jump, line, mentions, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// What a statement does to the variable.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Effect {
    /// Does not mention it.
    None,
    /// Sets it on every path through (or leaves the block on the paths that do not).
    Sets,
    /// Sets it on some paths only.
    Partly,
    /// Reads it before any set.
    Reads,
    /// Hands out its address (`scanf("%d", &n)`, `read_u16(buf, &len)`): assumed set.
    Escapes,
}

/// Scalar and pointer types: a class type may have a constructor.
fn scalar(ty: &str, pointer: bool) -> bool {
    let ty = ty.trim_start_matches("const ").trim();
    pointer
        || matches!(
            ty,
            "int"
                | "unsigned"
                | "long"
                | "short"
                | "char"
                | "float"
                | "double"
                | "bool"
                | "_Bool"
                | "unsigned int"
                | "unsigned long"
                | "unsigned char"
                | "long long"
                | "unsigned long long"
                | "size_t"
                | "ssize_t"
                | "off_t"
                | "ptrdiff_t"
        )
        || (ty.ends_with("int8_t")
            || ty.ends_with("int16_t")
            || ty.ends_with("int32_t")
            || ty.ends_with("int64_t"))
}

/// Mentions of `var` in `n` that read it (not under `sizeof`, not its own assignment).
fn reads(src: &str, n: Node, var: &str) -> bool {
    super::syntax::descendants(n).into_iter().any(|x| {
        x.kind_name() == "identifier"
            && text(src, x) == var
            && !under(x, n, "sizeof_expression")
            && !x.parent().is_some_and(|p| {
                p.kind_name() == "assignment_expression"
                    && p.field("left").is_some_and(|l| l.id() == x.id())
                    && p.child(1).is_some_and(|o| o.kind_name() == "=")
            })
    })
}

fn under(x: Node, top: Node, kind: &str) -> bool {
    let mut cur = x;
    while let Some(p) = cur.parent() {
        if p.kind_name() == kind {
            return true;
        }
        if p.id() == top.id() {
            return false;
        }
        cur = p;
    }
    false
}

/// Whether `n` holds `&var` (its address handed out).
fn address_taken(src: &str, n: Node, var: &str) -> bool {
    super::syntax::descendants(n).into_iter().any(|x| {
        x.kind_name() == "pointer_expression"
            && x.child(0).is_some_and(|o| o.kind_name() == "&")
            && x.field("argument")
                .is_some_and(|a| text(src, a).trim() == var)
    })
}

/// `var = …` as the whole expression (or one of a comma list).
fn plain_set(src: &str, n: Node, var: &str) -> bool {
    let mut e = n;
    if e.kind_name() == "expression_statement" {
        match e.named_child(0) {
            Some(x) => e = x,
            None => return false,
        }
    }
    e.kind_name() == "assignment_expression"
        && e.child(1).is_some_and(|o| o.kind_name() == "=")
        && e.field("left").is_some_and(|l| text(src, l).trim() == var)
        && e.field("right").is_none_or(|r| !reads(src, r, var))
}

fn effect(src: &str, s: Node, var: &str) -> Effect {
    if !mentions(text(src, s), var) {
        return Effect::None;
    }
    if address_taken(src, s, var) {
        return Effect::Escapes;
    }
    match s.kind_name() {
        "expression_statement" if plain_set(src, s, var) => Effect::Sets,
        "compound_statement" => block_effect(src, s, var),
        "if_statement" => {
            if s.field("condition").is_some_and(|c| reads(src, c, var)) {
                return Effect::Reads;
            }
            // `if ((n = read(fd, buf, sizeof buf)) < 0)`: the condition always runs.
            if s.field("condition").is_some_and(|c| assigns(src, c, var)) {
                return Effect::Sets;
            }
            let then = s.field("consequence").map(|c| branch(src, c, var));
            let other = s.field("alternative").map(|a| match a.kind_name() {
                "else_clause" => a
                    .named_child(0)
                    .map_or(Effect::None, |x| branch(src, x, var)),
                _ => branch(src, a, var),
            });
            match (then, other) {
                (Some(Effect::Reads), _) | (_, Some(Effect::Reads)) => Effect::Reads,
                (Some(Effect::Escapes), _) | (_, Some(Effect::Escapes)) => Effect::Escapes,
                (Some(Effect::Sets), Some(Effect::Sets)) => Effect::Sets,
                (Some(Effect::None), Some(Effect::None) | None) => Effect::None,
                _ => Effect::Partly,
            }
        }
        "for_statement" | "while_statement" | "do_statement" => {
            // `for (i = 0; …)`, `while ((tok = next()) != NULL)`: the header always runs.
            let header = ["initializer", "condition"]
                .iter()
                .filter_map(|k| s.field(k))
                .any(|h| assigns(src, h, var));
            if header {
                return Effect::Sets;
            }
            if s.kind_name() == "do_statement" {
                return s
                    .field("body")
                    .map_or(Effect::None, |b| branch(src, b, var));
            }
            let cond_reads = s.field("condition").is_some_and(|c| reads(src, c, var));
            let body = s
                .field("body")
                .map_or(Effect::None, |b| branch(src, b, var));
            match body {
                _ if cond_reads => Effect::Reads,
                Effect::Reads | Effect::Escapes => body,
                Effect::None => Effect::None,
                _ => Effect::Partly,
            }
        }
        "switch_statement" => {
            if s.field("condition").is_some_and(|c| reads(src, c, var)) {
                return Effect::Reads;
            }
            if s.field("condition").is_some_and(|c| assigns(src, c, var)) {
                return Effect::Sets;
            }
            let has_default = s.field("body").is_some_and(|b| {
                let mut c = b.walk();
                let found = b
                    .named_children(&mut c)
                    .any(|x| x.kind_name() == "case_statement" && x.field("value").is_none());
                found
            });
            // Each case's statements, in order: a read before a set in any case reads.
            let body = s.field("body");
            let reads_first = body.is_some_and(|b| {
                let mut c = b.walk();
                let cases: Vec<Node> = b.named_children(&mut c).collect();
                cases.iter().any(|case| {
                    let mut c = case.walk();
                    let stmts: Vec<Node> = case
                        .named_children(&mut c)
                        .filter(|x| case.field("value").is_none_or(|v| v.id() != x.id()))
                        .collect();
                    sequence(src, &stmts, var) == Effect::Reads
                })
            });
            if reads_first {
                Effect::Reads
            } else if has_default {
                Effect::Sets
            } else {
                Effect::Partly
            }
        }
        _ if reads(src, s, var) => Effect::Reads,
        _ => Effect::None,
    }
}

/// Whether `n` holds an assignment to `var` (`(n = next()) > 0`).
fn assigns(src: &str, n: Node, var: &str) -> bool {
    super::syntax::descendants(n).into_iter().any(|x| {
        x.kind_name() == "assignment_expression"
            && x.field("left").is_some_and(|l| text(src, l).trim() == var)
    })
}

/// A branch of an `if`: a block, or one statement; leaving (`return`) counts as set.
fn branch(src: &str, b: Node, var: &str) -> Effect {
    let e = effect(src, b, var);
    if e == Effect::None && ends_in_jump(src, b) {
        return Effect::Sets;
    }
    e
}

fn block_effect(src: &str, b: Node, var: &str) -> Effect {
    let mut c = b.walk();
    let stmts: Vec<Node> = b.named_children(&mut c).collect();
    let e = sequence(src, &stmts, var);
    if e == Effect::None && ends_in_jump(src, b) {
        return Effect::Sets;
    }
    e
}

/// Statements in order: the first that reads or sets decides; one that sets on some
/// paths leaves the next read reading an unset value on the others.
fn sequence(src: &str, stmts: &[Node], var: &str) -> Effect {
    let mut partly = false;
    for &s in stmts {
        match effect(src, s, var) {
            Effect::None => {}
            Effect::Partly => partly = true,
            Effect::Sets if !partly => return Effect::Sets,
            Effect::Sets => return Effect::Sets,
            Effect::Escapes => return Effect::Escapes,
            Effect::Reads => return Effect::Reads,
        }
        if partly && ends_in_jump(src, s) {
            return Effect::Partly;
        }
    }
    if partly {
        Effect::Partly
    } else {
        Effect::None
    }
}

/// Locals set on some paths and read on the others.
pub(crate) fn uninitialized_reads(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &d in &f.nodes {
        if d.kind_name() != "declaration" {
            continue;
        }
        // Only declarations without a value (`int n;`), before any parent is asked.
        let mut c = d.walk();
        if d.children_by_field_name("declarator", &mut c)
            .all(|x| x.kind_name() == "init_declarator")
        {
            continue;
        }
        let Some(block) = d.parent().filter(|b| b.kind_name() == "compound_statement") else {
            continue;
        };
        if in_lambda(d, f.body) {
            continue;
        }
        let ty = d.field("type").map_or("", |t| text(src, t));
        let mut c = d.walk();
        let stat = d.children(&mut c).any(|x| {
            x.kind_name() == "storage_class_specifier"
                && matches!(text(src, x), "static" | "extern" | "thread_local")
        });
        if stat {
            continue;
        }
        let mut c = d.walk();
        let decls: Vec<Node> = d.children_by_field_name("declarator", &mut c).collect();
        for decl in decls {
            let (name, pointer) = match decl.kind_name() {
                "identifier" => (text(src, decl), false),
                "pointer_declarator" => match decl.field("declarator") {
                    Some(x) if x.kind_name() == "identifier" => (text(src, x), true),
                    _ => continue,
                },
                _ => continue,
            };
            if !scalar(ty, pointer) {
                continue;
            }
            let mut c = block.walk();
            let later: Vec<Node> = block
                .named_children(&mut c)
                .filter(|s| s.start_byte() >= d.end_byte())
                .collect();
            let mut partly = false;
            for s in later {
                match effect(src, s, name) {
                    Effect::None => continue,
                    Effect::Partly => {
                        partly = true;
                        continue;
                    }
                    Effect::Reads if partly => {
                        out.push(Finding {
                            check: "uninitialized-read",
                            line: line(s),
                            label: format!(
                                "`{name}` (declared without a value) is set only on some paths before `{}` reads it",
                                short(text(src, s))
                            ),
                        });
                    }
                    _ => {}
                }
                break;
            }
        }
    }
}

fn short(t: &str) -> String {
    let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    match t.char_indices().nth(48) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    }
}
