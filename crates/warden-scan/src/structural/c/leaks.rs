//! Allocations that are never released: a local pointer given a new block that the
//! function neither frees, returns, stores, nor hands to code that may keep it.

use super::func::Func;
use super::summary::{leaf, ALLOCATORS};
use super::syntax::{call, descendants, line, mentions, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use tree_sitter::Node;

/// Library calls that read or write through a pointer without keeping it.
const BORROWS: &[&str] = &[
    "printf", "fprintf", "sprintf", "snprintf", "puts", "fputs", "memcpy", "memmove", "memset",
    "memcmp", "strcpy", "strncpy", "strcat", "strncat", "strlen", "strcmp", "strncmp", "strchr",
    "strrchr", "strstr", "strtok", "fgets", "fread", "fwrite", "read", "write", "recv", "send",
    "sscanf", "scanf", "fscanf", "atoi", "strtol", "realloc", "qsort", "perror", "assert",
    "sizeof", "toupper", "tolower", "strcspn", "strspn",
];

/// A block allocated into a local and never released in this function.
pub(crate) fn leaks(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let nodes = f.nodes.clone();
    let mut seen: Vec<String> = Vec::new();
    for n in &nodes {
        if !matches!(n.kind(), "init_declarator" | "assignment_expression") {
            continue;
        }
        let (l, r) = if n.kind() == "init_declarator" {
            (n.field("declarator"), n.field("value"))
        } else {
            (n.field("left"), n.field("right"))
        };
        let (Some(l), Some(r)) = (l, r) else { continue };
        let Some((callee, _)) = call(src, strip(r)) else {
            continue;
        };
        let allocates = ALLOCATORS.contains(&callee.as_str()) && callee != "realloc"
            || f.file.allocates.contains(&callee);
        if !allocates {
            continue;
        }
        let Some(p) = leaf(src, l).filter(|p| !p.contains("->") && !p.contains('.')) else {
            continue;
        };
        // Only locals: a global or a parameter's block lives on past the function.
        if f.type_of(&p).is_none() || f.params.iter().any(|(q, _)| *q == p) || seen.contains(&p) {
            continue;
        }
        seen.push(p.clone());
        if let Some(ret) = early_return(f, &nodes, *n, &p) {
            out.push(Finding {
                check: "leak",
                line: line(ret),
                label: format!(
                    "returns without freeing `{p}` (allocated by {callee}() line {})",
                    line(*n)
                ),
            });
            continue;
        }
        if !nodes.iter().any(|x| releases(f, *x, &p, n.id())) {
            out.push(Finding {
                check: "leak",
                line: line(*n),
                label: format!("`{p}` gets a block from {callee}() that is never freed"),
            });
        }
    }
}

/// Whether `x` frees, returns, stores or hands off `p` (the allocation itself excepted).
fn releases(f: &Func, x: Node, p: &str, alloc: usize) -> bool {
    let src = f.src;
    match x.kind() {
        "return_statement" => mentions(text(src, x), p),
        "init_declarator" | "assignment_expression" if x.id() != alloc => {
            let r = x.field("value").or_else(|| x.field("right"));
            // `q = p`, `q = (T *)(HEAD + (char *)p)`: the block (or a pointer into it)
            // lives on in `q`. Reading through it (`*p`, `p[i]`, `f(p)`) does not count.
            r.is_some_and(|r| {
                descendants(r).into_iter().any(|x| {
                    x.kind() == "identifier"
                        && text(src, x) == p
                        && !x.parent().is_some_and(|up| {
                            matches!(
                                up.kind(),
                                "subscript_expression" | "field_expression" | "argument_list"
                            ) || (up.kind() == "pointer_expression"
                                && text(src, up).starts_with('*'))
                        })
                })
            })
        }
        "initializer_list" => mentions(text(src, x), p),
        "delete_expression" => mentions(text(src, x), p),
        "call_expression" => {
            let Some((name, args)) = call(src, x) else {
                return false;
            };
            let at: Vec<usize> = args
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    let a = strip(**a);
                    let a = if a.kind() == "pointer_expression" {
                        a.field("argument").unwrap_or(a)
                    } else {
                        a
                    };
                    path_of(src, a).is_some_and(|q| q == p)
                })
                .map(|(i, _)| i)
                .collect();
            if at.is_empty() {
                return false;
            }
            // `swap(&a, &p)`: whoever gets the address may take the block.
            let by_address = args.iter().any(|a| {
                let a = strip(*a);
                a.kind() == "pointer_expression"
                    && text(src, a).starts_with('&')
                    && a.field("argument")
                        .and_then(|x| path_of(src, x))
                        .is_some_and(|q| q == p)
            });
            if by_address {
                return true;
            }
            if name == "free" {
                return true;
            }
            if let Some(kept) = f.file.keeps_param.get(&name) {
                return at.iter().any(|&i| kept & (1 << i.min(63)) != 0);
            }
            !BORROWS.contains(&name.as_str())
        }
        _ => false,
    }
}

/// A `return` after the allocation that neither hands `p` back nor follows its
/// release, outside the branch that checks `p` itself (`if (!p) return NULL;`).
fn early_return<'t>(
    f: &Func<'_, 't>,
    nodes: &[Node<'t>],
    alloc: Node<'t>,
    p: &str,
) -> Option<Node<'t>> {
    let src = f.src;
    // Every return of a function whose block is released somewhere is checked; a
    // function that never releases it is reported once, by the caller.
    if !nodes.iter().any(|x| releases(f, *x, p, alloc.id())) {
        return None;
    }
    for r in nodes
        .iter()
        .filter(|x| x.kind() == "return_statement" && x.start_byte() > alloc.end_byte())
    {
        if mentions(text(src, *r), p) {
            continue;
        }
        let mut up = r.parent();
        let mut checks_p = false;
        while let Some(u) = up {
            if u.kind() == "if_statement" {
                checks_p |= u
                    .field("condition")
                    .is_some_and(|c| mentions(text(src, c), p));
            }
            up = u.parent();
        }
        if checks_p {
            continue;
        }
        let released = nodes.iter().any(|x| {
            x.start_byte() > alloc.end_byte()
                && x.start_byte() < r.start_byte()
                && releases(f, *x, p, alloc.id())
        });
        if !released {
            return Some(*r);
        }
    }
    None
}
