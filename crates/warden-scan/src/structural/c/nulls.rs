//! NULL results: a call that returns NULL on failure (or a function of the file that
//! can return NULL) whose result is used before any check of it, or checked against
//! the wrong value (`p < 0`, `fp == -1`).

use super::func::Func;
use super::syntax::{assignment_sides, call, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Functions that read or write through a pointer argument (a NULL one crashes).
const DEREFS: &[&str] = &[
    "strcpy", "strncpy", "strcat", "strncat", "memcpy", "memmove", "memset", "strlen", "strcmp",
    "strncmp", "sprintf", "snprintf", "fgets", "fputs", "fprintf", "fscanf", "fread", "fwrite",
    "fgetc", "fputc", "fseek", "ftell", "rewind", "fclose", "fflush", "getline", "strtok",
    "strchr", "strstr", "atoi", "strdup",
];
/// Of these, the calls that dereference only some arguments (the stream, the buffer):
/// `fprintf(f, "%p", p)` reads through `f`, not `p`.
const DEREF_ARGS: &[(&str, &[usize])] = &[
    ("fprintf", &[0]),
    ("fputs", &[1]),
    ("fgets", &[0, 2]),
    ("fread", &[0, 3]),
    ("fwrite", &[0, 3]),
    ("fscanf", &[0]),
    ("fgetc", &[0]),
    ("fputc", &[1]),
    ("fseek", &[0]),
    ("ftell", &[0]),
    ("rewind", &[0]),
    ("fclose", &[0]),
    ("fflush", &[0]),
    ("sprintf", &[0]),
    ("snprintf", &[0]),
    ("getline", &[2]),
];
/// Calls that return NULL on failure.
const MAY_FAIL: &[&str] = &[
    "malloc", "calloc", "realloc", "strdup", "strndup", "fopen", "tmpfile", "getenv", "opendir",
];

/// A NULL-returning call's result dereferenced before any check of it.
pub(crate) fn null_deref(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let mut unchecked: Vec<(String, String, u32)> = Vec::new();
    for &n in &f.nodes {
        match n.kind_name() {
            "init_declarator" | "assignment_expression" => {
                let (l, r) = assignment_sides(n);
                let (Some(mut l), Some(r)) = (l, r) else {
                    continue;
                };
                while let Some(x) = l.field("declarator") {
                    l = x;
                }
                let Some(p) = path_of(src, l) else { continue };
                unchecked.retain(|(q, _, _)| *q != p);
                // `if ((fp = fopen(...)) == NULL)` checks as it assigns.
                if super::syntax::in_condition(n) {
                    continue;
                }
                if let Some((c, _)) = call(src, strip(r)) {
                    if MAY_FAIL.contains(&c) || f.file.returns_null.contains(c) {
                        unchecked.push((p, c.to_string(), line(n)));
                    }
                }
            }
            "if_statement" | "while_statement" | "conditional_expression" | "for_statement" => {
                if let Some(c) = n.field("condition") {
                    let t = text(src, c);
                    unchecked.retain(|(q, call_, _)| {
                        if !super::syntax::mentions(t, q) {
                            return true;
                        }
                        match wrong_check(f, c, q) {
                            Some(how) => {
                                out.push(Finding {
                                    check: "wrong-check",
                                    line: line(c),
                                    label: format!(
                                        "`{q}` from {call_}() is checked with `{how}`: failure is NULL"
                                    ),
                                });
                                true
                            }
                            None => false,
                        }
                    });
                }
            }
            "call_expression" => {
                let Some((c, args)) = call(src, n) else {
                    continue;
                };
                if c == "assert" || c.ends_with("_ASSERT") || c == "free" {
                    let t = text(src, n);
                    unchecked.retain(|(q, _, _)| !super::syntax::mentions(t, q));
                    continue;
                }
                if !DEREFS.contains(&c) {
                    continue;
                }
                let only = DEREF_ARGS
                    .iter()
                    .find(|(name, _)| *name == c)
                    .map(|(_, at)| *at);
                for (i, a) in args.into_iter().enumerate() {
                    if only.is_some_and(|at| !at.contains(&i)) {
                        continue;
                    }
                    if let Some(p) = path_of(src, a) {
                        report(&mut unchecked, &p, n, c, out);
                    }
                }
            }
            "subscript_expression" | "pointer_expression" | "field_expression" => {
                if n.kind_name() == "pointer_expression"
                    && n.child(0).is_some_and(|o| o.kind_name() == "&")
                {
                    continue;
                }
                if n.kind_name() == "field_expression"
                    && n.field("operator").is_some_and(|o| text(src, o) != "->")
                {
                    continue;
                }
                let Some(a) = n.field("argument") else {
                    continue;
                };
                if let Some(p) = path_of(src, a) {
                    // `calloc(1, sizeof *u)` reads no memory: sizeof's operand is not run.
                    // (Asked only of a pointer still unchecked: it walks up the tree.)
                    if unchecked.iter().any(|(q, _, _)| *q == p) && !unevaluated(n) {
                        report(&mut unchecked, &p, n, "dereference", out);
                    }
                } else if let Some((c, _)) = call(src, strip(a)) {
                    // `*find(...)`: the result of a function that can return NULL.
                    if f.file.returns_null.contains(c) {
                        out.push(Finding {
                            check: "null-deref",
                            line: line(n),
                            label: format!("{c}() can return NULL and is dereferenced directly"),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether `n` is inside an operand the compiler does not run (`sizeof`, `alignof`,
/// `decltype`), up to the enclosing statement.
fn unevaluated(n: Node) -> bool {
    let mut at = n.parent();
    while let Some(p) = at {
        match p.kind_name() {
            "sizeof_expression" | "alignof_expression" | "decltype" => return true,
            k if k.ends_with("statement") || k == "declaration" => return false,
            _ => at = p.parent(),
        }
    }
    false
}

fn report(
    unchecked: &mut Vec<(String, String, u32)>,
    p: &str,
    n: Node,
    how: &str,
    out: &mut Vec<Finding>,
) {
    if let Some(i) = unchecked.iter().position(|(q, _, _)| q == p) {
        let (_, c, at) = unchecked.remove(i);
        out.push(Finding {
            check: "null-deref",
            line: line(n),
            label: format!("`{p}` from {c}() (line {at}) may be NULL at this {how}"),
        });
    }
}

/// A comparison of a pointer that signals failure with NULL against something that is
/// not NULL (`p < 0`, `fp == -1`), if the condition makes one.
fn wrong_check(f: &Func, cond: Node, p: &str) -> Option<String> {
    let src = f.src;
    for x in super::syntax::descendants(cond) {
        if x.kind_name() != "binary_expression" {
            continue;
        }
        let op = x.field("operator").map(|o| text(src, o))?;
        let (Some(l), Some(r)) = (x.field("left"), x.field("right")) else {
            continue;
        };
        let other = if path_of(src, l).is_some_and(|q| q == p) {
            r
        } else if path_of(src, r).is_some_and(|q| q == p) {
            l
        } else {
            continue;
        };
        let negative =
            f.fold(other).is_some_and(|v| v < 0) || text(src, other).trim().starts_with('-');
        if matches!(op, "<" | ">" | "<=" | ">=") || negative {
            return Some(text(src, x).to_string());
        }
    }
    None
}
