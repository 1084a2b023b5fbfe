//! Summaries of what one function of the file does with its parameters: frees,
//! keeps, swaps or writes through them, returns a new block or NULL.

use super::syntax::{assignment_sides, call, descendants, path_of, text};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::HashMap;
use tree_sitter::Node;

/// The two parameters a function swaps through (`*a = *b; *b = t;`), if it does.
pub(crate) fn swap_pair(
    src: &str,
    body: Node,
    params: &[(String, String)],
) -> Option<(usize, usize)> {
    if params.len() != 2 {
        return None;
    }
    let t: String = text(src, body)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (a, b) = (&params[0].0, &params[1].0);
    (t.contains(&format!("*{a}=*{b};")) || t.contains(&format!("*{b}=*{a};"))).then_some((0, 1))
}

/// Allocating calls of the C library.
pub(crate) const ALLOCATORS: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "strdup",
    "strndup",
    "aligned_alloc",
];

/// What a function does with ownership: which parameters it keeps (stores or returns;
/// bit i), whether it returns a new allocation, and whether it may return NULL.
pub(crate) fn ownership(
    src: &str,
    func: Node,
    body_nodes: &[Node],
    params: &[(String, String)],
) -> (u64, bool, bool) {
    let mut keeps = 0u64;
    let mut allocated: Vec<String> = Vec::new();
    let mut allocates = false;
    let mut null = false;
    let pointer = func
        .field("declarator")
        .is_some_and(|d| d.kind_name() == "pointer_declarator");
    let param = |p: &str| params.iter().position(|(q, _)| q == p);
    for &n in body_nodes {
        match n.kind_name() {
            "init_declarator" | "assignment_expression" => {
                let (l, r) = assignment_sides(n);
                let Some(r) = r else { continue };
                if let Some(i) = path_of(src, r).and_then(|p| param(&p)) {
                    keeps |= 1 << i.min(63);
                }
                let alloc = call(src, super::syntax::strip(r))
                    .is_some_and(|(c, _)| ALLOCATORS.contains(&c));
                if let (true, Some(p)) = (alloc, l.and_then(|l| leaf(src, l))) {
                    allocated.push(p);
                }
            }
            "return_statement" => {
                let Some(e) = n.named_child(0) else { continue };
                let e = super::syntax::strip(e);
                let t = text(src, e).trim();
                if pointer && matches!(t, "NULL" | "nullptr" | "0") {
                    null = true;
                }
                if let Some(p) = path_of(src, e) {
                    if let Some(i) = param(&p) {
                        keeps |= 1 << i.min(63);
                    }
                    allocates |= allocated.contains(&p);
                }
                allocates |= call(src, e).is_some_and(|(c, _)| ALLOCATORS.contains(&c));
            }
            _ => {}
        }
    }
    (keeps, allocates, null)
}

/// The variable a declarator or assignment target names (`*p` → `p`).
pub(crate) fn leaf(src: &str, n: Node) -> Option<String> {
    let mut n = n;
    while let Some(x) = n.field("declarator") {
        n = x;
    }
    path_of(src, n)
}

/// The parameter a function-like macro steps (`p++`, `++p`, `p += n`), if any.
pub(crate) fn stepped_param(src: &str, def: Node, body: &str) -> Option<usize> {
    let params = def.field("parameters")?;
    let mut c = params.walk();
    let names: Vec<&str> = params
        .named_children(&mut c)
        .map(|p| text(src, p))
        .collect();
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    names.iter().position(|p| {
        ["++", "+=", "--", "-="]
            .iter()
            .any(|op| body.contains(&format!("{p}{op}")))
            || body.contains(&format!("++{p}"))
            || body.contains(&format!("--{p}"))
    })
}

/// The type a pointer parameter is read as: its own pointee, or for `void *` the type
/// the body casts it to.
pub(crate) fn read_as(src: &str, body_nodes: &[Node], p: &str, ty: &str) -> Option<String> {
    let base = ty
        .trim_end_matches('*')
        .trim()
        .trim_start_matches("const ")
        .trim();
    if !ty.ends_with('*') {
        return None;
    }
    if base != "void" {
        return Some(base.to_string());
    }
    let mut seen: Vec<String> = body_nodes
        .iter()
        .filter_map(|&x| {
            if x.kind_name() != "cast_expression" {
                return None;
            }
            let v = x.field("value")?;
            if text(src, v) != p {
                return None;
            }
            let t = text(src, x.field("type")?);
            let t = t
                .trim_end_matches('*')
                .trim()
                .trim_start_matches("const ")
                .trim();
            (t != "void" && !t.contains('*')).then(|| t.to_string())
        })
        .collect();
    seen.dedup();
    // Cast to one type only; a parameter read as several depends on another argument.
    (seen.len() == 1).then(|| seen.remove(0))
}

/// Parameters written through: `*p = x`, `*(p + i) = x`, `p[i] = x` (bit i).
pub(crate) fn written_params(src: &str, body_nodes: &[Node], params: &[(String, String)]) -> u64 {
    let mut bits = 0u64;
    for &n in body_nodes {
        if n.kind_name() != "assignment_expression" {
            continue;
        }
        let Some(l) = n.field("left") else {
            continue;
        };
        if !matches!(l.kind_name(), "pointer_expression" | "subscript_expression") {
            continue;
        }
        let Some(base) = descendants(l)
            .into_iter()
            .find(|x| x.kind_name() == "identifier")
        else {
            continue;
        };
        if let Some(i) = params.iter().position(|(p, _)| p == text(src, base)) {
            bits |= 1 << i.min(63);
        }
    }
    bits
}

/// Locals set from a parameter (`uint8_t *p = buf;`): local → the parameter's index.
pub(crate) fn param_aliases(
    src: &str,
    nodes: &[Node],
    params: &[(String, String)],
) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for &n in nodes {
        let (Some(mut l), Some(r)) = (match n.kind_name() {
            "init_declarator" | "assignment_expression" => assignment_sides(n),
            _ => (None, None),
        }) else {
            continue;
        };
        while let Some(d) = l.field("declarator") {
            l = d;
        }
        let (Some(local), Some(from)) = (path_of(src, l), path_of(src, r)) else {
            continue;
        };
        if let Some(i) = params.iter().position(|(p, _)| *p == from) {
            out.insert(local, i);
        }
    }
    out
}
