//! An array allocated with `new T[n]` and released with plain `delete` (not
//! `delete[]`): undefined behaviour, which in practice frees with the wrong size or
//! corrupts the heap (`data_(new unsigned char[n])` … `~Frame() { delete data_; }`).

use super::file::FileFacts;
use super::syntax::{descendants, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use std::collections::HashSet;
use tree_sitter::Node;

/// The name a value is stored into: a declared local, an assigned path's last part, or
/// the member a constructor's initializer sets (`data_(new char[n])`).
fn stored_name(src: &str, value: Node) -> Option<(String, bool)> {
    let mut n = value;
    while let Some(p) = n.parent() {
        match p.kind_name() {
            "parenthesized_expression" | "cast_expression" | "argument_list" => n = p,
            "init_declarator" => {
                let mut d = p.field("declarator")?;
                while let Some(x) = d.field("declarator") {
                    d = x;
                }
                return Some((text(src, d).to_string(), true));
            }
            "assignment_expression" => {
                let l = path_of(src, p.field("left")?)?;
                let last = l.rsplit("->").next().unwrap_or(&l);
                let last = last.rsplit('.').next().unwrap_or(last);
                return Some((last.to_string(), false));
            }
            "field_initializer" => {
                let f = p.named_child(0)?;
                return Some((text(src, f).to_string(), false));
            }
            _ => return None,
        }
    }
    None
}

pub(crate) fn mismatched_deletes(facts: &FileFacts, out: &mut Vec<Finding>) {
    let src = facts.src;
    if !src.contains("delete") || !src.contains("new") {
        return;
    }
    // Members (and other non-local names) given `new T[n]` anywhere in the file.
    let mut members: HashSet<String> = HashSet::new();
    // Per function: locals given `new T[n]` there.
    let mut locals: Vec<HashSet<String>> = Vec::new();
    for &func in &facts.functions {
        let mut mine = HashSet::new();
        for &n in facts.body_nodes(func) {
            if n.kind_name() != "new_expression" || n.field("declarator").is_none() {
                continue;
            }
            if let Some((name, local)) = stored_name(src, n) {
                if local {
                    mine.insert(name);
                } else {
                    members.insert(name);
                }
            }
        }
        // Constructor initializers sit outside the body the facts walked.
        for n in descendants(func) {
            if n.kind_name() == "new_expression" && n.field("declarator").is_some() {
                if let Some((name, false)) = stored_name(src, n) {
                    members.insert(name);
                }
            }
        }
        locals.push(mine);
    }
    for (i, &func) in facts.functions.iter().enumerate() {
        for &n in facts.body_nodes(func) {
            if n.kind_name() != "delete_expression" {
                continue;
            }
            let t = text(src, n);
            let rest = t.trim_start_matches("delete").trim_start();
            if rest.starts_with('[') {
                continue;
            }
            let Some(arg) = n.named_child(0).map(strip) else {
                continue;
            };
            let Some(p) = path_of(src, arg) else { continue };
            let last = p.rsplit("->").next().unwrap_or(&p);
            let last = last.rsplit('.').next().unwrap_or(last).to_string();
            let plain = !p.contains("->") && !p.contains('.');
            let array = if plain && locals[i].contains(&last) {
                true
            } else {
                !declared_local(src, facts, func, &last) && members.contains(&last)
            };
            if array {
                out.push(Finding {
                    check: "mismatched-delete",
                    line: line(n),
                    label: format!(
                        "`{}` releases `{p}`, allocated with new[]: it needs delete[]",
                        t.trim_end_matches(';')
                    ),
                });
            }
        }
    }
}

/// Whether `name` is declared as a local (or parameter) of `func`.
fn declared_local(src: &str, facts: &FileFacts, func: Node, name: &str) -> bool {
    let (_, params, _) = super::file::signature(src, func);
    params.iter().any(|(p, _)| p == name)
        || facts.body_nodes(func).iter().any(|x| {
            x.kind_name() == "init_declarator"
                && x.field("declarator").is_some_and(|d| {
                    let mut d = d;
                    while let Some(y) = d.field("declarator") {
                        d = y;
                    }
                    text(src, d) == name
                })
        })
}
