//! A C++ object that releases itself and keeps going: `delete this;` followed by a
//! member access, or a member function calling the owner's method that erases the
//! `unique_ptr` holding the object (`hub_.drop(id_); log_ += …;`), the callback that
//! frees the object it is called on.

use super::func::Func;
use super::syntax::{call, ends_in_jump, line, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Methods that destroy what a container or smart pointer holds.
const RELEASES: &[&str] = &["erase", "clear", "reset", "pop_back", "pop_front", "remove"];

/// The class a member function belongs to: `Session` of `void Session::onClose()`, or
/// of the class whose body defines it.
fn class_of<'s>(src: &'s str, def: Node) -> Option<&'s str> {
    if let Some(list) = def
        .parent()
        .filter(|p| p.kind_name() == "field_declaration_list")
    {
        return list.parent()?.field("name").map(|n| text(src, n));
    }
    let mut d = def.field("declarator");
    while let Some(x) = d {
        if x.kind_name() == "function_declarator" {
            let name = text(src, x.field("declarator")?);
            let (class, _) = name.rsplit_once("::")?;
            return Some(class.rsplit("::").next().unwrap_or(class).trim());
        }
        d = x.field("declarator");
    }
    None
}

/// Whether a member is declared as the owner of objects of `class` (`std::map<int,
/// std::unique_ptr<Session>>`, `std::vector<std::shared_ptr<Session>>`).
fn owns(ty: &str, class: &str) -> bool {
    ["unique_ptr<", "shared_ptr<"].iter().any(|w| {
        ty.match_indices(w).any(|(i, _)| {
            let rest = ty[i + w.len()..].trim_start();
            rest.strip_prefix(class)
                .is_some_and(|r| r.trim_start().starts_with('>'))
        })
    })
}

/// Functions of the file that destroy objects of `class` held by a member
/// (`void drop(int id) { sessions_.erase(id); }`).
fn releasing_functions(f: &Func, class: &str) -> Vec<String> {
    let src = f.src;
    let owners: Vec<&str> = f
        .file
        .member_types
        .iter()
        .filter(|(_, t)| owns(t, class))
        .map(|(m, _)| m.as_str())
        .collect();
    if owners.is_empty() {
        return Vec::new();
    }
    f.file
        .functions
        .iter()
        .filter(|&&g| {
            f.file.body_nodes(g).iter().any(|&x| {
                super::invalidation::method_call(src, x).is_some_and(|(r, m)| {
                    RELEASES.contains(&m) && owners.contains(&r.trim_start_matches("this->"))
                })
            })
        })
        .map(|&g| super::file::signature(src, g).0)
        .filter(|name| !name.is_empty())
        .collect()
}

/// Where the statements that may run after `n` end: its block, and the blocks around
/// it up to the first that leaves (`{ delete this; return; }` runs nothing after).
fn reachable_end(src: &str, n: Node, body: Node) -> usize {
    let mut end = n.end_byte();
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if p.kind_name() == "compound_statement" {
            end = p.end_byte();
            if ends_in_jump(src, p) || p.id() == body.id() {
                break;
            }
        }
        if p.kind_name() == "lambda_expression" {
            break;
        }
        cur = p;
    }
    end
}

/// Whether `name` names a member by the usual conventions (`log_`, `m_log`).
fn member_like(name: &str) -> bool {
    name.len() > 1 && (name.ends_with('_') || name.starts_with("m_"))
}

pub(crate) fn self_release(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some(def) = f.body.parent() else { return };
    let Some(class) = class_of(src, def) else {
        return;
    };
    // Nothing can release this object unless `delete this` is written, or some member
    // (of any class the file sees) owns objects of its class.
    let owned = f.file.member_types.values().any(|t| owns(t, class));
    if !owned && !text(src, f.body).contains("delete this") {
        return;
    }
    let own = f.name.rsplit("::").next().unwrap_or(&f.name);
    let mut releasing: Option<Vec<String>> = None;
    for &n in &f.nodes {
        let released = if n.kind_name() == "delete_expression" {
            text(src, n).trim_start_matches("delete").trim() == "this"
        } else if let Some((name, args)) = call(src, n) {
            // Another object's method (`hub_.drop(…)`, `owner_->remove(this)`) told which
            // object to drop: `this`, or a member of it (its id, its key).
            let Some((_, m)) = name.rsplit_once("->").or_else(|| name.rsplit_once('.')) else {
                continue;
            };
            let m = m.trim();
            let names_self = args.iter().any(|&a| {
                let t = text(src, a).trim();
                t == "this" || t.contains("shared_from_this") || member_like(t)
            });
            names_self
                && m != own
                && releasing
                    .get_or_insert_with(|| releasing_functions(f, class))
                    .iter()
                    .any(|g| g == m)
        } else {
            false
        };
        if !released {
            continue;
        }
        let reach = reachable_end(src, n, f.body);
        let after = f.nodes.iter().copied().find(|&x| {
            x.start_byte() >= n.end_byte()
                && x.end_byte() <= reach
                && match x.kind_name() {
                    "this" => true,
                    "identifier" | "field_identifier" => {
                        member_like(text(src, x))
                            && x.parent().is_none_or(|p| {
                                // `hub.x_` of another object is not this one's member.
                                p.kind_name() != "field_expression"
                                    || p.field("argument").is_some_and(|a| a.id() == x.id())
                                    || p.field("argument").is_some_and(|a| a.kind_name() == "this")
                            })
                    }
                    _ => false,
                }
        });
        if let Some(used) = after {
            out.push(Finding {
                check: "self-release",
                line: line(n),
                label: format!(
                    "`{}` destroys this `{class}`, and `{}` reads it at line {}",
                    text(src, n),
                    text(src, used),
                    line(used)
                ),
            });
            return;
        }
    }
}
