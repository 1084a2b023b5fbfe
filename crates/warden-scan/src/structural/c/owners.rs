//! Raw pointer members that only point at objects the class owns elsewhere (in a
//! container of pointers it deletes), typed from the class declaration, often in the
//! header:
//! - a destructor that deletes every element of the container and then the member
//!   too (`for (auto& kv : stations_) delete kv.second; delete selected_;`): when the
//!   member was set to one of them (`selected_ = find(id)`), that object is freed twice;
//! - a method that deletes one such object (`Car* c = it->second; ... delete c;`)
//!   without resetting a member of the same type that another method set to an
//!   existing object (`lastAssigned_ = best;`): the member is left dangling.

use super::file::{signature, FileFacts};
use super::syntax::{descendants, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use std::collections::HashMap;
use tree_sitter::Node;

/// `Car` of `Car *` (a raw pointer type), else `None`.
fn pointee(ty: &str) -> Option<&str> {
    let t = ty.trim();
    let base = t.strip_suffix('*')?.trim();
    let base = base.trim_start_matches("const ").trim();
    let plain = !base.is_empty()
        && !base.contains(['<', '*', '(', '&'])
        && !matches!(base, "char" | "void" | "int" | "unsigned char" | "uint8_t");
    plain.then_some(base.rsplit("::").next().unwrap_or(base))
}

/// `Station` of `std::map<std::string, Station*>`: a container's pointer elements.
fn element_pointee(ty: &str) -> Option<&str> {
    let open = ty.find('<')?;
    let inner = ty[open + 1..].trim_end().strip_suffix('>')?;
    let last = inner.rsplit(',').next()?;
    pointee(last)
}

/// What one function does with the class's pointer members.
struct Method<'t> {
    name: String,
    /// `Pool` of `Pool::retire`; `None` for a function defined in its class or free.
    class: Option<String>,
    /// `member = value` for members of the class.
    sets: Vec<(String, Node<'t>)>,
    /// `delete x`: (the delete, what it deletes, the pointee type when known).
    deletes: Vec<(Node<'t>, String, Option<String>)>,
    /// Containers whose elements a range-for over them deletes.
    deletes_elements_of: Vec<String>,
    /// Every identifier the function mentions.
    names: Vec<String>,
}

pub(crate) fn member_aliases(facts: &FileFacts, uaf: bool, df: bool, out: &mut Vec<Finding>) {
    let src = facts.src;
    if !src.contains("delete") || facts.member_types.is_empty() {
        return;
    }
    let members: HashMap<&str, &str> = facts
        .member_types
        .iter()
        .filter_map(|(m, t)| Some((m.as_str(), pointee(t)?)))
        .collect();
    let containers: HashMap<&str, &str> = facts
        .member_types
        .iter()
        .filter_map(|(m, t)| Some((m.as_str(), element_pointee(t)?)))
        .collect();
    if members.is_empty() || containers.is_empty() {
        return;
    }
    let methods: Vec<Method> = facts
        .functions
        .iter()
        .map(|&f| method(facts, f, &members, &containers))
        .collect();
    // A member given a fresh allocation somewhere owns it.
    let allocated = |m: &str| {
        methods
            .iter()
            .flat_map(|x| &x.sets)
            .any(|(s, v)| s == m && strip(*v).kind_name() == "new_expression")
            || src.contains(&format!("{m}(new "))
            || src.contains(&format!("{m}{{new "))
    };
    // Set only to existing objects, by the methods of `class`.
    let borrowed = |m: &str, class: &Option<String>| {
        let sets: Vec<&Node> = methods
            .iter()
            .filter(|x| x.class == *class)
            .flat_map(|x| &x.sets)
            .filter(|(s, _)| s == m)
            .map(|(_, v)| v)
            .collect();
        !sets.is_empty()
            && !allocated(m)
            && sets
                .iter()
                .any(|v| !matches!(text(src, strip(**v)), "nullptr" | "NULL" | "0"))
    };
    for d in &methods {
        if df && d.name.starts_with('~') {
            for (del, what, _) in &d.deletes {
                let Some(ty) = members.get(what.as_str()) else {
                    continue;
                };
                let owner = d
                    .deletes_elements_of
                    .iter()
                    .find(|c| containers.get(c.as_str()) == Some(ty));
                if let (Some(c), true) = (owner, borrowed(what, &d.class)) {
                    out.push(Finding {
                        check: "double-free",
                        line: line(*del),
                        label: format!(
                            "the destructor deletes every element of `{c}` and then `{what}`, which is only ever set to an existing {ty}: the one it points at is freed twice"
                        ),
                    });
                }
            }
            continue;
        }
        if !uaf || d.name.starts_with('~') {
            continue;
        }
        for (del, what, ty) in &d.deletes {
            let Some(ty) = ty else { continue };
            let stale = members.iter().find(|(m, t)| {
                **t == ty.as_str()
                    && **m != what.as_str()
                    && !d.names.iter().any(|n| n == **m)
                    && !methods
                        .iter()
                        .any(|x| x.deletes.iter().any(|(_, w, _)| w == **m))
                    && methods.iter().any(|x| {
                        x.name != d.name
                            && x.class == d.class
                            && x.sets.iter().any(|(s, _)| s == **m)
                    })
                    && borrowed(m, &d.class)
            });
            if let Some((m, _)) = stale {
                out.push(Finding {
                    check: "use-after-free",
                    line: line(*del),
                    label: format!(
                        "`delete {what}` frees a {ty} that the member `{m}` (set to existing {ty}s elsewhere) may still point at, and nothing here resets it"
                    ),
                });
            }
        }
    }
}

/// The class a method is defined for outside its body (`Pool` of `Pool::retire`).
fn class_of(src: &str, func: Node) -> Option<String> {
    let fd = descendants(func)
        .into_iter()
        .find(|x| x.kind_name() == "function_declarator")?;
    let name = text(src, fd.field("declarator")?);
    let (class, _) = name.rsplit_once("::")?;
    Some(class.rsplit("::").next().unwrap_or(class).to_string())
}

fn method<'t>(
    facts: &FileFacts<'t>,
    func: Node<'t>,
    members: &HashMap<&str, &str>,
    containers: &HashMap<&str, &str>,
) -> Method<'t> {
    let src = facts.src;
    let (name, params, _) = signature(src, func);
    let nodes = facts.body_nodes(func);
    let mut m = Method {
        name,
        class: class_of(src, func),
        sets: Vec::new(),
        deletes: Vec::new(),
        deletes_elements_of: Vec::new(),
        names: Vec::new(),
    };
    // Locals and parameters declared as `T *x`: their pointee.
    let mut local_types: HashMap<String, String> = HashMap::new();
    for (p, t) in &params {
        if let Some(b) = pointee(t) {
            local_types.insert(p.clone(), b.to_string());
        }
    }
    for &n in nodes {
        match n.kind_name() {
            "declaration" => {
                let ty = n.field("type").map(|t| text(src, t)).unwrap_or("");
                let mut c = n.walk();
                for d in n.children_by_field_name("declarator", &mut c) {
                    let d = if d.kind_name() == "init_declarator" {
                        d.field("declarator").unwrap_or(d)
                    } else {
                        d
                    };
                    if d.kind_name() != "pointer_declarator" {
                        continue;
                    }
                    let id = descendants(d)
                        .into_iter()
                        .find(|x| x.kind_name() == "identifier");
                    if let Some(id) = id {
                        local_types.insert(text(src, id).to_string(), ty.trim().to_string());
                    }
                }
            }
            "assignment_expression" => {
                let target = n
                    .field("left")
                    .map(strip)
                    .and_then(|l| match l.kind_name() {
                        "identifier" => Some(text(src, l).to_string()),
                        "field_expression"
                            if l.field("argument").is_some_and(|a| text(src, a) == "this") =>
                        {
                            l.field("field").map(|f| text(src, f).to_string())
                        }
                        _ => None,
                    });
                if let (Some(t), Some(v)) = (target, n.field("right")) {
                    if members.contains_key(t.as_str()) && !local_types.contains_key(&t) {
                        m.sets.push((t, v));
                    }
                }
            }
            "delete_expression" => {
                let Some(what) = n.named_child(0).and_then(|x| path_of(src, strip(x))) else {
                    continue;
                };
                let what = what.strip_prefix("this->").unwrap_or(&what).to_string();
                let ty = local_types
                    .get(&what)
                    .cloned()
                    .or_else(|| members.get(what.as_str()).map(|t| t.to_string()));
                m.deletes.push((n, what, ty));
            }
            "for_range_loop" => {
                let over = n.field("right").and_then(|r| path_of(src, strip(r)));
                let body_deletes = n.field("body").is_some_and(|b| {
                    descendants(b)
                        .into_iter()
                        .any(|x| x.kind_name() == "delete_expression")
                });
                if let Some(c) =
                    over.filter(|c| body_deletes && containers.contains_key(c.as_str()))
                {
                    m.deletes_elements_of.push(c);
                }
            }
            "identifier" | "field_identifier" => m.names.push(text(src, n).to_string()),
            _ => {}
        }
    }
    m
}
