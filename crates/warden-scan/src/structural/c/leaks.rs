//! Allocations that are never released: a local pointer given a new block that the
//! function neither frees, returns, stores, nor hands to code that may keep it.

use super::func::Func;
use super::summary::{leaf, ALLOCATORS};
use super::syntax::{assignment_sides, call, descendants, line, mentions, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
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
        if !matches!(n.kind_name(), "init_declarator" | "assignment_expression") {
            continue;
        }
        let (l, r) = assignment_sides(*n);
        let (Some(l), Some(r)) = (l, r) else { continue };
        let Some((callee, _)) = call(src, strip(r)) else {
            continue;
        };
        let allocates = ALLOCATORS.contains(&callee) && callee != "realloc"
            || f.file.allocates.contains(callee);
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
    match x.kind_name() {
        "return_statement" => mentions(text(src, x), p),
        "init_declarator" | "assignment_expression" if x.id() != alloc => {
            let r = x.field("value").or_else(|| x.field("right"));
            // `q = p`, `q = (T *)(HEAD + (char *)p)`: the block (or a pointer into it)
            // lives on in `q`. Reading through it (`*p`, `p[i]`, `f(p)`) does not count.
            r.is_some_and(|r| {
                descendants(r).into_iter().any(|x| {
                    x.kind_name() == "identifier"
                        && text(src, x) == p
                        && !x.parent().is_some_and(|up| {
                            matches!(
                                up.kind_name(),
                                "subscript_expression" | "field_expression" | "argument_list"
                            ) || (up.kind_name() == "pointer_expression"
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
                    let a = if a.kind_name() == "pointer_expression" {
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
                a.kind_name() == "pointer_expression"
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
            if let Some(kept) = f.file.keeps_param.get(name) {
                return at.iter().any(|&i| kept & (1 << i.min(63)) != 0);
            }
            !BORROWS.contains(&name)
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
        .filter(|x| x.kind_name() == "return_statement" && x.start_byte() > alloc.end_byte())
    {
        if mentions(text(src, *r), p) {
            continue;
        }
        let mut up = r.parent();
        let mut checks_p = false;
        while let Some(u) = up {
            if u.kind_name() == "if_statement" {
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

/// Where a local's block is, statement by statement.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    /// Holds block k (index into the allocations seen).
    Block(usize),
    /// NULL, freed, or given away: nothing this function must free.
    Empty,
}

/// The parameters a function of the file frees through (`free(*p)`), and whether it
/// then clears them (`*p = NULL`).
fn frees_through(f: &Func, name: &str) -> Vec<(usize, bool)> {
    let src = f.src;
    let Some(&callee) = f.file.by_name.get(name) else {
        return Vec::new();
    };
    let (_, params, _) = super::file::signature(src, callee);
    let Some(body) = callee.field("body") else {
        return Vec::new();
    };
    let flat: String = text(src, body).split_whitespace().collect();
    params
        .iter()
        .enumerate()
        .filter(|(_, (p, _))| flat.contains(&format!("free(*{p})")))
        .map(|(i, (p, _))| (i, flat.contains(&format!("*{p}=NULL;"))))
        .collect()
}

/// Blocks whose owners are handed around by address: `release(&a)` frees what `a`
/// holds and clears it, `swap(&a, &b)` exchanges two owners. Followed through the
/// function's top-level statements, a block left in an owner at the end was lost:
/// `release(&a); swap(&a, &b); release(&b);` frees one block twice over and leaks the
/// other. Anything the walk cannot follow (a branch or loop touching the owners, an
/// address handed to other code) ends it without a finding.
pub(crate) fn handed_leaks(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let mut slots: Vec<(String, Slot)> = Vec::new();
    let mut blocks: Vec<(u32, String)> = Vec::new();
    let mut freed: Vec<usize> = Vec::new();
    let mut handed = false;
    let mut c = f.body.walk();
    let stmts: Vec<Node> = f.body.named_children(&mut c).collect();
    let arg_target = |a: Node| -> Option<String> {
        let a = strip(a);
        (a.kind_name() == "pointer_expression" && text(src, a).starts_with('&'))
            .then(|| a.field("argument"))
            .flatten()
            .and_then(|x| path_of(src, x))
    };
    let allocation = |r: Node| -> Option<String> {
        let (callee, _) = call(src, strip(r))?;
        (ALLOCATORS.contains(&callee) && callee != "realloc" || f.file.allocates.contains(callee))
            .then_some(callee.to_string())
    };
    for stmt in stmts {
        let tracked: Vec<String> = slots.iter().map(|(v, _)| v.clone()).collect();
        let touches = tracked.iter().any(|v| mentions(text(src, stmt), v));
        match stmt.kind_name() {
            "declaration" => {
                for d in descendants(stmt) {
                    if d.kind_name() != "init_declarator" {
                        continue;
                    }
                    let (Some(l), Some(r)) = (d.field("declarator"), d.field("value")) else {
                        continue;
                    };
                    let Some(p) = leaf(src, l) else { continue };
                    if let Some(callee) = allocation(r) {
                        blocks.push((line(d), callee));
                        slots.push((p, Slot::Block(blocks.len() - 1)));
                    } else if tracked.iter().any(|v| mentions(text(src, r), v)) {
                        return;
                    }
                }
            }
            "expression_statement" => {
                let Some(e) = stmt.named_child(0).map(strip) else {
                    continue;
                };
                if e.kind_name() == "assignment_expression" {
                    let (Some(l), Some(r)) = (e.field("left"), e.field("right")) else {
                        continue;
                    };
                    if l.kind_name() == "identifier" {
                        let p = text(src, l).to_string();
                        if let Some(callee) = allocation(r) {
                            if slots.iter().any(|(v, s)| *v == p && *s != Slot::Empty) {
                                return;
                            }
                            blocks.push((line(e), callee));
                            slots.retain(|(v, _)| *v != p);
                            slots.push((p, Slot::Block(blocks.len() - 1)));
                            continue;
                        }
                        if tracked.contains(&p) {
                            return;
                        }
                    }
                    // `*a = 5`, `x = *a`: reads and writes through an owner keep it.
                    if tracked.iter().any(|v| {
                        descendants(r).iter().any(|x| {
                            path_of(src, *x).as_deref() == Some(v)
                                && !x.parent().is_some_and(|u| {
                                    u.kind_name() == "pointer_expression"
                                        || u.kind_name() == "subscript_expression"
                                        || u.kind_name() == "argument_list"
                                })
                        })
                    }) {
                        return;
                    }
                    continue;
                }
                let Some((name, args)) = call(src, e) else {
                    if touches
                        && descendants(e).iter().any(|x| {
                            x.kind_name() == "pointer_expression" && text(src, *x).starts_with('&')
                        })
                    {
                        return;
                    }
                    continue;
                };
                let addressed: Vec<Option<String>> = args.iter().map(|a| arg_target(*a)).collect();
                if name == "free" {
                    if let Some(p) = args.first().and_then(|a| path_of(src, *a)) {
                        if let Some((_, s)) = slots.iter_mut().find(|(v, _)| *v == p) {
                            if let Slot::Block(k) = *s {
                                freed.push(k);
                            }
                            *s = Slot::Empty;
                        }
                    }
                    continue;
                }
                if let Some(&(i, j)) = f.file.swaps.get(name) {
                    if let (Some(Some(a)), Some(Some(b))) = (addressed.get(i), addressed.get(j)) {
                        let sa = slots.iter().find(|(v, _)| v == a).map(|(_, s)| *s);
                        let sb = slots.iter().find(|(v, _)| v == b).map(|(_, s)| *s);
                        let (Some(sa), Some(sb)) = (sa, sb) else {
                            return;
                        };
                        for (v, s) in slots.iter_mut() {
                            if v == a {
                                *s = sb;
                            } else if v == b {
                                *s = sa;
                            }
                        }
                        handed = true;
                        continue;
                    }
                }
                if slots.is_empty() {
                    continue;
                }
                let through = frees_through(f, name);
                let mut followed = false;
                for (i, clears) in through {
                    let Some(Some(p)) = addressed.get(i) else {
                        continue;
                    };
                    if let Some((_, s)) = slots.iter_mut().find(|(v, _)| v == p) {
                        if let Slot::Block(k) = *s {
                            freed.push(k);
                        }
                        *s = Slot::Empty;
                        handed = true;
                        followed = clears;
                    }
                }
                if followed {
                    continue;
                }
                // Any other address of an owner: the callee may do anything with it.
                if addressed.iter().flatten().any(|p| tracked.contains(p)) {
                    return;
                }
                // An owner passed by value to code that keeps it is given away.
                for (i, a) in args.iter().enumerate() {
                    let Some(p) = path_of(src, *a) else { continue };
                    let kept = match f.file.keeps_param.get(name) {
                        Some(k) => k & (1 << i.min(63)) != 0,
                        None => !BORROWS.contains(&name),
                    };
                    if kept {
                        if let Some((_, s)) = slots.iter_mut().find(|(v, _)| *v == p) {
                            *s = Slot::Empty;
                        }
                    }
                }
            }
            "if_statement" => {
                // `if (!a || !b) return 1;`: the check after allocating.
                let exits = stmt
                    .field("consequence")
                    .is_some_and(|c| super::syntax::ends_in_jump(src, c))
                    && stmt.field("alternative").is_none();
                let only_cond = stmt
                    .field("consequence")
                    .is_some_and(|c| !tracked.iter().any(|v| mentions(text(src, c), v)));
                if touches && !(exits && only_cond) {
                    return;
                }
            }
            "return_statement" => {
                if touches {
                    return;
                }
                break;
            }
            _ if touches => return,
            _ => {}
        }
    }
    if !handed {
        return;
    }
    for (v, s) in &slots {
        if let Slot::Block(k) = *s {
            if freed.contains(&k) {
                continue;
            }
            let (at, callee) = &blocks[k];
            out.push(Finding {
                check: "leak",
                line: *at,
                label: format!(
                    "the block from {callee}() line {at} ends in `{v}` after owners were swapped or released by address, and is never freed"
                ),
            });
        }
    }
}
