//! A member that caches a pointer to a container's element (`last_ = it->second;`),
//! left pointing at it when another method deletes the container's elements
//! (`delete it->second; index_.erase(it);`) without resetting the member: the next
//! read of the cache returns freed memory. Likewise a pointer stored in two member
//! containers (`lru_.push_front(t); index_[key] = t;`) and deleted through one
//! (`Tile* victim = lru_.back(); lru_.pop_back(); delete victim;`) while the other
//! keeps it, for its next lookup or the destructor to free again.

use super::file::{signature, FileFacts};
use super::invalidation::method_call;
use super::syntax::{line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

/// Container methods returning an iterator into it.
const ITERATORS: &[&str] = &["find", "begin", "rbegin", "lower_bound", "upper_bound"];
/// Container methods returning one of its elements.
const ELEMENTS: &[&str] = &["at", "front", "back"];

/// What one function does with containers' elements.
struct Uses<'t> {
    name: String,
    /// (member, container) for each `member = <element of container>`.
    caches: Vec<(String, String)>,
    /// (the delete, container) for each `delete <element of container>`.
    deletes: Vec<(Node<'t>, String)>,
    /// Names assigned anywhere in the function.
    assigned: HashSet<String>,
    /// Pairs of member containers given the same pointer (`by_player_[p] = s;
    /// by_token_[t] = s;`): deleting through one leaves the other holding it.
    shared: Vec<(String, String)>,
    /// Every name the function mentions (read only for functions that delete).
    names: HashSet<String>,
}

pub(crate) fn dangling_caches(facts: &FileFacts, out: &mut Vec<Finding>) {
    let src = facts.src;
    // Only a `delete` frees an element here: most files have none to read for.
    if !src.contains("delete") {
        return;
    }
    let uses: Vec<Uses> = facts
        .functions
        .iter()
        .map(|&func| uses_of(src, facts, func))
        .collect();
    for deleter in &uses {
        // A destructor deletes everything, cache and all.
        if deleter.name.starts_with('~') {
            continue;
        }
        for (del, container) in &deleter.deletes {
            let cache = uses
                .iter()
                .filter(|u| u.name != deleter.name)
                .find_map(|u| {
                    u.caches
                        .iter()
                        .find(|(m, c)| c == container && !deleter.assigned.contains(m))
                        .map(|(m, _)| (m, &u.name))
                });
            let deleted = text(src, *del).trim_end_matches(';');
            if let Some((member, setter)) = cache {
                out.push(Finding {
                    check: "use-after-free",
                    line: line(*del),
                    label: format!(
                        "`{deleted}` frees an element of `{container}` that `{member}` (set in {setter}()) may still point at, and nothing here resets `{member}`"
                    ),
                });
                continue;
            }
            // The same pointer stored in a second container this method never touches.
            let other = uses.iter().find_map(|u| {
                u.shared.iter().find_map(|(a, b)| {
                    let other = if a == container {
                        b
                    } else if b == container {
                        a
                    } else {
                        return None;
                    };
                    (!deleter.names.contains(other)).then_some((other, &u.name))
                })
            });
            if let Some((other, setter)) = other {
                out.push(Finding {
                    check: "use-after-free",
                    line: line(*del),
                    label: format!(
                        "`{deleted}` frees an element of `{container}` that `{other}` also holds (both set in {setter}()), and nothing here removes it from `{other}`"
                    ),
                });
            }
        }
    }
}

fn uses_of<'t>(src: &str, facts: &FileFacts<'t>, func: Node<'t>) -> Uses<'t> {
    let (name, params, _) = signature(src, func);
    let nodes = facts.body_nodes(func);
    let mut locals: HashSet<String> = params.into_iter().map(|(p, _)| p).collect();
    // Iterators into a container: `auto it = index_.find(id);`.
    let mut iterators: HashMap<String, String> = HashMap::new();
    for &n in nodes {
        if n.kind_name() != "init_declarator" {
            continue;
        }
        let Some(mut d) = n.field("declarator") else {
            continue;
        };
        while let Some(x) = d.field("declarator") {
            d = x;
        }
        let Some(local) = path_of(src, d) else {
            continue;
        };
        if let Some(c) = n
            .field("value")
            .and_then(|v| receiver_of(src, v, ITERATORS))
        {
            iterators.insert(local.clone(), c);
        }
        locals.insert(local);
    }
    let element_of = |n: Node| -> Option<String> {
        let n = strip(n);
        match n.kind_name() {
            // `it->second`, `it->second.get()` aside: the map's value.
            "field_expression" => {
                let arg = n.field("argument")?;
                let field = n.field("field").map(|f| text(src, f))?;
                let it = path_of(src, arg)?;
                (field == "second").then(|| iterators.get(&it).cloned())?
            }
            "subscript_expression" => {
                let arr = n.field("argument").and_then(|a| path_of(src, a))?;
                (!locals.contains(&arr)).then_some(arr)
            }
            "call_expression" => receiver_of(src, n, ELEMENTS),
            _ => None,
        }
    };
    let mut uses = Uses {
        name,
        caches: Vec::new(),
        deletes: Vec::new(),
        assigned: HashSet::new(),
        shared: Vec::new(),
        names: HashSet::new(),
    };
    // Locals taken out of a member container (`Tile* victim = lru_.back();`, the
    // variable of `for (Tile* t : lru_)`).
    let mut taken: HashMap<String, String> = HashMap::new();
    for &n in nodes {
        let (d, c) = match n.kind_name() {
            "init_declarator" => (n.field("declarator"), n.field("value").and_then(element_of)),
            "for_range_loop" => (
                n.field("declarator"),
                n.field("right")
                    .and_then(|r| path_of(src, r))
                    .filter(|r| !locals.contains(r)),
            ),
            _ => continue,
        };
        let (Some(mut d), Some(c)) = (d, c) else {
            continue;
        };
        while let Some(x) = d.field("declarator") {
            d = x;
        }
        if let Some(local) = path_of(src, d) {
            taken.insert(local, c);
        }
    }
    // Local pointer → the member containers it was stored in.
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    for &n in nodes {
        let into = stored_in(src, n, &locals).or_else(|| pushed_into(src, n, &locals));
        if let Some((value, container)) = into {
            let into = stored.entry(value).or_default();
            if !into.contains(&container) {
                into.push(container);
            }
        }
        match n.kind_name() {
            "assignment_expression" => {
                let Some(target) = n.field("left").and_then(|l| member_name(src, l)) else {
                    continue;
                };
                if let Some(c) = n.field("right").and_then(element_of) {
                    if !locals.contains(&target) {
                        uses.caches.push((target.clone(), c));
                    }
                }
                uses.assigned.insert(target);
            }
            "delete_expression" => {
                let target = n.named_child(0);
                let c = target.and_then(element_of).or_else(|| {
                    let t = path_of(src, target?)?;
                    taken.get(&t).cloned()
                });
                if let Some(c) = c {
                    uses.deletes.push((n, c));
                }
            }
            _ => {}
        }
    }
    // What a deleting method mentions decides whether it removes a second holder.
    if !uses.deletes.is_empty() {
        uses.names = nodes
            .iter()
            .filter(|n| matches!(n.kind_name(), "identifier" | "field_identifier"))
            .map(|n| text(src, *n).to_string())
            .collect();
    }
    for containers in stored.values() {
        for (i, a) in containers.iter().enumerate() {
            for b in &containers[i + 1..] {
                uses.shared.push((a.clone(), b.clone()));
            }
        }
    }
    uses
}

/// `by_token_[token] = s` with `s` a local and `by_token_` a member: (`s`, `by_token_`).
fn stored_in(src: &str, n: Node, locals: &HashSet<String>) -> Option<(String, String)> {
    if n.kind_name() != "assignment_expression" {
        return None;
    }
    let left = strip(n.field("left")?);
    if left.kind_name() != "subscript_expression" {
        return None;
    }
    let container = left.field("argument").and_then(|a| path_of(src, a))?;
    let value = n.field("right").and_then(|r| path_of(src, r))?;
    (locals.contains(&value) && !locals.contains(&container)).then_some((value, container))
}

/// Container methods that store their argument (`lru_.push_front(t)`,
/// `index_.emplace(key, t)`, `index_.insert({key, t})`).
const STORES: &[&str] = &[
    "push_back",
    "push_front",
    "emplace_back",
    "emplace_front",
    "push",
    "insert",
    "emplace",
    "insert_or_assign",
    "try_emplace",
];

/// `lru_.push_front(t)` with `t` a local and `lru_` a member: (`t`, `lru_`).
fn pushed_into(src: &str, n: Node, locals: &HashSet<String>) -> Option<(String, String)> {
    let (recv, method) = method_call(src, n)?;
    if !STORES.contains(&method) || locals.contains(recv) {
        return None;
    }
    let recv = recv.strip_prefix("this->").unwrap_or(recv);
    if !recv.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let args = n.field("arguments")?;
    let mut c = args.walk();
    let list: Vec<Node> = args.named_children(&mut c).map(strip).collect();
    // The value stored: the argument of a push, the last of `emplace(key, value)`, or
    // the last of an `insert({key, value})` pair.
    let stored =
        if method.starts_with("push") || method.ends_with("_back") || method.ends_with("_front") {
            list.first().copied()
        } else {
            list.last().copied()
        }?;
    let stored = if stored.kind_name() == "initializer_list" {
        let last = stored.named_child_count().checked_sub(1)?;
        stored.named_child(u32::try_from(last).ok()?)?
    } else {
        stored
    };
    let value = path_of(src, stored).filter(|v| locals.contains(v))?;
    Some((value, recv.to_string()))
}

/// `last_` of `last_` or `this->last_`.
fn member_name(src: &str, n: Node) -> Option<String> {
    let n = strip(n);
    match n.kind_name() {
        "identifier" | "field_identifier" => Some(text(src, n).to_string()),
        "field_expression" if n.field("argument").is_some_and(|a| text(src, a) == "this") => {
            n.field("field").map(|f| text(src, f).to_string())
        }
        _ => None,
    }
}

/// `index_` of `index_.find(id)` when the method is one of `methods`.
fn receiver_of(src: &str, n: Node, methods: &[&str]) -> Option<String> {
    method_call(src, strip(n))
        .filter(|(_, m)| methods.contains(m))
        .map(|(recv, _)| recv.to_string())
}
