//! `memset(r, 0, sizeof(r))` with `r` a pointer: the size is the pointer's (4 or 8
//! bytes), not the object's, so the call clears or copies too little (or, for a small
//! object, too much) (CWE-467).

use super::func::Func;
use super::syntax::{call, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;

/// Calls taking a buffer and its size: (name, buffer argument, size argument).
const SIZED: &[(&str, usize, usize)] = &[
    ("memset", 0, 2),
    ("memcpy", 0, 2),
    ("memmove", 0, 2),
    ("memcmp", 0, 2),
    ("bzero", 0, 1),
    ("explicit_bzero", 0, 1),
    ("fread", 0, 1),
    ("fwrite", 0, 1),
    ("read", 1, 2),
    ("write", 1, 2),
    ("recv", 1, 2),
    ("send", 1, 2),
    ("snprintf", 0, 1),
    ("fgets", 0, 1),
    ("strncpy", 0, 2),
];

pub(crate) fn pointer_sizes(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains("sizeof") {
        return;
    }
    for &n in &f.nodes {
        // Only calls with a `sizeof` among their arguments.
        if n.kind_name() != "call_expression"
            || !n
                .field("arguments")
                .is_some_and(|a| text(src, a).contains("sizeof"))
        {
            continue;
        }
        let Some((name, args)) = call(src, n) else {
            continue;
        };
        let Some(&(_, b, s)) = SIZED.iter().find(|(c, _, _)| *c == name) else {
            continue;
        };
        let (Some(buf), Some(size)) = (args.get(b), args.get(s)) else {
            continue;
        };
        let size = strip(*size);
        if size.kind_name() != "sizeof_expression" {
            continue;
        }
        // `sizeof(p)` or `sizeof p` (not `sizeof(*p)`, not `sizeof(struct rec)`).
        let Some(of) = size.field("value").map(strip) else {
            continue;
        };
        let (Some(p), Some(q)) = (path_of(src, of), path_of(src, *buf)) else {
            continue;
        };
        if of.kind_name() != "identifier" || p != q {
            continue;
        }
        if !declared_pointer(f, &p) {
            continue;
        }
        out.push(Finding {
            check: "unchecked-copy",
            line: line(n),
            label: format!(
                "{name}() is given `{}`, the size of the pointer `{p}`, not of what it points to",
                text(src, size)
            ),
        });
    }
}

/// Whether `name` is a parameter declared as a pointer (or as an array, which a
/// parameter only looks like), or a local declared `T *name` (not an array of pointers).
fn declared_pointer(f: &Func, name: &str) -> bool {
    let src = f.src;
    let def = f.body.parent();
    let params = def
        .and_then(|d| d.field("declarator"))
        .into_iter()
        .flat_map(super::syntax::descendants)
        .filter(|x| x.kind_name() == "parameter_declaration");
    let locals = f
        .nodes
        .iter()
        .copied()
        .filter(|x| x.kind_name() == "declaration");
    for d in params.chain(locals) {
        let mut c = d.walk();
        for decl in d.children_by_field_name("declarator", &mut c) {
            let mut t = decl;
            let (mut pointer, mut array, mut reference) = (false, false, false);
            loop {
                match t.kind_name() {
                    "pointer_declarator" => pointer = true,
                    "array_declarator" => array = true,
                    "reference_declarator" => reference = true,
                    _ => {}
                }
                // A reference declarator holds its name as a child, not a field.
                let next = t.field("declarator").or_else(|| {
                    (t.kind_name() == "reference_declarator")
                        .then(|| t.named_child(0))
                        .flatten()
                });
                match next {
                    Some(x) => t = x,
                    None => break,
                }
            }
            if t.kind_name() != "identifier" || text(src, t) != name {
                continue;
            }
            let param = d.kind_name() == "parameter_declaration";
            return !reference && ((pointer && !array) || (param && array));
        }
    }
    false
}
