//! C++ classes that own a raw pointer (their destructor deletes a member) but have no
//! copy constructor: a copy (`Buffer copy = *b;`) shares the pointer, and the two
//! destructors delete it twice.

use super::func::Func;
use super::syntax::{call, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::HashMap;
use tree_sitter::Node;

/// Classes whose destructor deletes or frees a member and that declare no copy
/// constructor: class name → the member.
pub(crate) fn shallow_classes<'t>(
    src: &str,
    classes: &[Node<'t>],
    functions: &[Node<'t>],
    body_nodes: &HashMap<usize, Vec<Node<'t>>>,
) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if classes.is_empty() && !src.contains("::~") {
        return out;
    }
    let by_name: HashMap<&str, Node> = classes
        .iter()
        .filter_map(|c| Some((text(src, c.field("name")?), *c)))
        .collect();
    // The file's own text, for a class declared in a header: its out-of-line members.
    let mut whole: Option<String> = None;
    for func in functions {
        let Some(fd) = func
            .field("declarator")
            .filter(|d| d.kind_name() == "function_declarator")
        else {
            continue;
        };
        let Some(d) = fd.field("declarator") else {
            continue;
        };
        // `~Buffer()` in the class, or `Buffer::~Buffer()` outside it.
        let dname = text(src, d);
        let Some((_, class)) = dname.rsplit_once('~') else {
            continue;
        };
        let declared = by_name.get(class).and_then(|c| c.field("body"));
        // A class declared in a header and destroyed here (`Order::~Order()`): its copy
        // constructor, if it has one, is defined here too (`Order::Order(const Order&`).
        let out_of_line = declared.is_none() && dname.contains("::~");
        if declared.is_none() && !out_of_line {
            continue;
        }
        let flat: String = match declared {
            Some(body) => text(src, body)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
            None => whole
                .get_or_insert_with(|| src.chars().filter(|c| !c.is_whitespace()).collect())
                .clone(),
        };
        // `Buffer(const Buffer&` also covers the move form `Buffer(const Buffer&&`.
        let copyable = [
            format!("{class}(const{class}&"),
            format!("{class}({class}&"),
            "operator=".to_string(),
        ];
        if copyable.iter().any(|c| flat.contains(c.as_str())) {
            continue;
        }
        let nodes = body_nodes.get(&func.id()).map_or(&[][..], Vec::as_slice);
        let member = nodes.iter().find_map(|&n| {
            let arg = match n.kind_name() {
                "delete_expression" => n.named_child(0),
                _ => call(src, n)
                    .filter(|(c, _)| *c == "free")?
                    .1
                    .first()
                    .copied(),
            }?;
            let p = path_of(src, strip(arg))?;
            let p = p.trim_start_matches("this->");
            (!p.contains("->") && !p.contains('.') && (out_of_line || mentions_field(&flat, p)))
                .then(|| p.to_string())
        });
        if let Some(m) = member {
            out.insert(class.to_string(), m);
        }
    }
    out
}

/// Whether the class body declares `name` (as a member, not only in the destructor).
fn mentions_field(flat: &str, name: &str) -> bool {
    [";", "=", "{", "[", ","]
        .iter()
        .any(|end| flat.contains(&format!("{name}{end}")))
}

/// `Buffer copy = *b;`, `Buffer copy(other);`, and `return it->second;` from a function
/// returning a `Buffer` by value: a copy of a class that owns a raw pointer and has no
/// copy constructor.
pub(crate) fn shallow_copies(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if f.file.shallow.is_empty() {
        return;
    }
    returned_copies(f, out);
    for &n in &f.nodes {
        stored_copy(f, n, out);
        if n.kind_name() != "declaration" {
            continue;
        }
        let Some(ty) = n.field("type").map(|t| text(src, t)) else {
            continue;
        };
        let Some(member) = f.file.shallow.get(ty) else {
            continue;
        };
        let mut c = n.walk();
        for d in n.children_by_field_name("declarator", &mut c) {
            if d.kind_name() != "init_declarator" {
                continue;
            }
            let Some(v) = d.field("value") else { continue };
            let v = if v.kind_name() == "argument_list" && v.named_child_count() == 1 {
                v.named_child(0).map(strip)
            } else {
                Some(strip(v))
            };
            let copied = v.is_some_and(|v| match v.kind_name() {
                "identifier" | "field_expression" | "subscript_expression" => true,
                "pointer_expression" => text(src, v).starts_with('*'),
                _ => false,
            });
            if !copied
                || d.field("declarator")
                    .is_some_and(|x| x.kind_name() != "identifier")
            {
                continue;
            }
            out.push(Finding {
                check: "double-free",
                line: line(d),
                label: format!(
                    "`{}` copies a `{ty}`, which has no copy constructor: both destructors delete `{member}`",
                    text(src, d)
                ),
            });
        }
    }
}

/// `return cache_[key];`, `return it->second;`, `return *slot;` in a function that returns
/// a shallow class by value: the caller gets a copy sharing the stored object's pointer,
/// and the copy's destructor deletes it under the original. A local returned by name is
/// left out (the copy is elided); so are constructor calls and function results.
fn returned_copies(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some(ty) = f
        .body
        .parent()
        .and_then(|d| d.field("type"))
        .map(|t| text(src, t))
    else {
        return;
    };
    let Some(member) = f.file.shallow.get(ty) else {
        return;
    };
    for &n in &f.nodes {
        if n.kind_name() != "return_statement" {
            continue;
        }
        let Some(v) = n.named_child(0).map(strip) else {
            continue;
        };
        let stored = match v.kind_name() {
            "field_expression" | "subscript_expression" => true,
            "pointer_expression" => text(src, v).starts_with('*'),
            _ => false,
        };
        if stored {
            out.push(Finding {
                check: "double-free",
                line: line(n),
                label: format!(
                    "`{}` is returned as a copy of a `{ty}`, which has no copy constructor: both destructors delete `{member}`",
                    text(src, v)
                ),
            });
        }
    }
}

/// `items.push_back(s)`, `queue.push(std::move(s))`, `v.insert(it, Session(…))`: a
/// container keeps its own copy of a class that owns a raw pointer and has no copy (or
/// move) constructor; the original's destructor deletes what the stored copy holds.
fn stored_copy(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some((name, args)) = call(src, n) else {
        return;
    };
    let Some((_, method)) = name.rsplit_once('.').or_else(|| name.rsplit_once("->")) else {
        return;
    };
    if !matches!(
        method,
        "push_back" | "emplace_back" | "push_front" | "push" | "insert"
    ) {
        return;
    }
    for arg in args {
        let mut a = strip(arg);
        if let Some((_, inner)) = call(src, a).filter(|(c, _)| *c == "move") {
            match inner.first() {
                Some(&x) => a = strip(x),
                None => continue,
            }
        }
        let ty = match a.kind_name() {
            "identifier" => f.types.get(text(src, a)).map(|t| {
                t.trim_start_matches("const ")
                    .trim_end_matches('&')
                    .trim()
                    .to_string()
            }),
            // `Session(name, 30)`: a temporary, copied in and then destroyed.
            "call_expression" => call(src, a).map(|(c, _)| c.to_string()),
            _ => None,
        };
        let Some(ty) = ty else { continue };
        let Some(member) = f.file.shallow.get(&ty) else {
            continue;
        };
        out.push(Finding {
            check: "double-free",
            line: line(n),
            label: format!(
                "`{}` stores a copy of a `{ty}`, which has no copy constructor: both destructors delete `{member}`",
                text(src, n)
            ),
        });
    }
}
