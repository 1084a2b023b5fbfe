//! A member freed on the way out of a function and left pointing at the freed memory
//! (`if (!valid(out)) { free(out->body); return -1; }`): the object outlives the call,
//! and the file's destructor (`msg_free()` freeing `m->body`) frees it a second time.

use super::func::Func;
use super::syntax::{call, ends_in_jump, line, path_of, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Calls that release the memory their first argument points at.
const FREES: &[&str] = &["free", "g_free", "kfree", "xfree", "av_free"];

pub(crate) fn dangling_members(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((name, path)) = released(src, n) else {
            continue;
        };
        // `out->body` of a parameter `out`: the caller still holds `out`. C++'s
        // `rec.samples` of a reference parameter `Recording& rec` too.
        let (owner, member, dot) = match path.split_once("->") {
            Some((o, m)) => (o, m, false),
            None => match path.split_once('.') {
                Some((o, m)) => (o, m, true),
                None => continue,
            },
        };
        if member.contains("->") || member.contains('.') {
            continue;
        }
        // The caller still holds a parameter; a local is released by the cleanup its
        // error path jumps to (`goto fail;` … `fail: conn_release(c);`).
        let param = f.params.iter().find(|(p, _)| p == owner);
        let held = match param {
            // An error path only: a C++ release function deleting members of the
            // object it is handed is its job, not a dangling member.
            Some(_) if dot => leaves(src, n) && !in_body(n),
            Some(_) => !frees(f, owner) && leaves(src, n),
            None if dot => false,
            None => jumps_to_release(f, n, owner),
        };
        if !held || set_again(f.src, n, &path) {
            continue;
        }
        if !freed_elsewhere(f, member) && !object_member_deleted_elsewhere(f, member) {
            continue;
        }
        out.push(Finding {
            check: "double-free",
            line: line(n),
            label: format!(
                "`{name} {path}` on the way out leaves it pointing at freed memory, and the file frees `{member}` again"
            ),
        });
    }
}

/// What `n` releases: `free(p->m)` and the other C frees, or C++ `delete p->m` /
/// `delete[] r.m`: (what releases it, the path).
fn released(src: &str, n: Node) -> Option<(String, String)> {
    if n.kind_name() == "delete_expression" {
        let arg = n.named_child(0)?;
        let word = if text(src, n).contains("[]") {
            "delete[]"
        } else {
            "delete"
        };
        return Some((word.to_string(), path_of(src, arg)?));
    }
    let (name, args) = call(src, n)?;
    if !FREES.contains(&name) {
        return None;
    }
    Some((name.to_string(), path_of(src, *args.first()?)?))
}

/// Whether another function of the file deletes `->member` or `.member` of some object
/// (`delete[] rec.samples;` in a release function).
fn object_member_deleted_elsewhere(f: &Func, member: &str) -> bool {
    let tails = [format!("->{member}"), format!(".{member}")];
    deleted_elsewhere(f, |arg| tails.iter().any(|t| arg.ends_with(t.as_str())))
}

/// Whether a `delete` or `delete[]` statement outside `f`'s body deletes an expression
/// (its text up to the `;`, trimmed) that `is_it` accepts.
fn deleted_elsewhere(f: &Func, is_it: impl Fn(&str) -> bool) -> bool {
    let src = f.src;
    let own = f.body.start_byte()..f.body.end_byte();
    src.match_indices("delete").any(|(at, _)| {
        let after = at + "delete".len();
        if own.contains(&at)
            || (at > 0 && is_word(src.as_bytes()[at - 1]))
            || src.as_bytes().get(after).is_some_and(|&b| is_word(b))
        {
            return false;
        }
        let rest = src[after..].trim_start();
        let rest = rest.strip_prefix("[]").unwrap_or(rest);
        rest.split_once(';')
            .is_some_and(|(arg, _)| is_it(arg.trim()))
    })
}

/// Whether the function releases `owner` itself (a destructor freeing its members).
fn frees(f: &Func, owner: &str) -> bool {
    f.nodes.iter().any(|&x| {
        call(f.src, x).is_some_and(|(c, args)| {
            (FREES.contains(&c) || f.file.frees_param.contains_key(c))
                && args
                    .first()
                    .and_then(|a| path_of(f.src, *a))
                    .is_some_and(|p| p == owner)
        })
    })
}

/// Whether a statement of the free's own block, after it, sets `path` again on every
/// path (`out->body = NULL;`, `rolls_ = new int[n];`, or an if/else setting it in both
/// branches): a set inside a lone `if` leaves the other path dangling.
fn set_again(src: &str, n: Node, path: &str) -> bool {
    let mut stmt = n;
    while let Some(p) = stmt.parent() {
        if p.kind_name() == "compound_statement" {
            break;
        }
        stmt = p;
    }
    let Some(block) = stmt.parent() else {
        return false;
    };
    let mut c = block.walk();
    let after: Vec<Node> = block
        .named_children(&mut c)
        .filter(|s| s.start_byte() > stmt.start_byte())
        .collect();
    after.into_iter().any(|s| sets(src, s, path))
}

/// Whether statement `s` sets `path` on every way through it.
fn sets(src: &str, s: Node, path: &str) -> bool {
    let bare = |p: &str| p.strip_prefix("this->").unwrap_or(p).to_string();
    match s.kind_name() {
        "expression_statement" => s.named_child(0).is_some_and(|e| {
            e.kind_name() == "assignment_expression"
                && e.field("left")
                    .and_then(|l| path_of(src, l))
                    .is_some_and(|p| bare(&p) == bare(path))
        }),
        "compound_statement" => {
            let mut c = s.walk();
            let kids: Vec<Node> = s.named_children(&mut c).collect();
            kids.into_iter().any(|k| sets(src, k, path))
        }
        "if_statement" => {
            let then = s.field("consequence");
            let alt = s.field("alternative");
            match (then, alt) {
                (Some(t), Some(a)) => sets(src, t, path) && sets(src, a, path),
                _ => false,
            }
        }
        "else_clause" => s.named_child(0).is_some_and(|k| sets(src, k, path)),
        _ => false,
    }
}

/// Whether the statement of `n` sits directly in its function's body.
fn in_body(n: Node) -> bool {
    n.parent()
        .and_then(|s| s.parent())
        .and_then(|b| b.parent())
        .is_some_and(|p| p.kind_name() == "function_definition")
}

/// Whether the free's block leaves the function after it (an error path), or is the
/// function's body itself.
fn leaves(src: &str, n: Node) -> bool {
    let Some(stmt) = n
        .parent()
        .filter(|p| p.kind_name() == "expression_statement")
    else {
        return false;
    };
    let Some(block) = stmt
        .parent()
        .filter(|p| p.kind_name() == "compound_statement")
    else {
        return false;
    };
    let body = block
        .parent()
        .is_some_and(|p| p.kind_name() == "function_definition");
    body || ends_in_jump(src, block)
}

/// Whether the free's block ends in `goto label`, and the code at that label hands
/// `owner` to a function of the file that frees it (with its members).
fn jumps_to_release(f: &Func, n: Node, owner: &str) -> bool {
    let src = f.src;
    let Some(block) = n
        .parent()
        .filter(|p| p.kind_name() == "expression_statement")
        .and_then(|s| s.parent())
        .filter(|b| b.kind_name() == "compound_statement")
    else {
        return false;
    };
    let mut c = block.walk();
    let last = block
        .named_children(&mut c)
        .filter(|x| x.kind_name() != "comment")
        .last();
    let Some(label) = last
        .filter(|l| l.kind_name() == "goto_statement")
        .and_then(|g| g.field("label"))
        .map(|l| text(src, l))
    else {
        return false;
    };
    let Some(at) = f
        .nodes
        .iter()
        .find(|x| {
            x.kind_name() == "labeled_statement"
                && x.field("label").is_some_and(|l| text(src, l) == label)
        })
        .map(|x| x.start_byte())
    else {
        return false;
    };
    f.nodes.iter().any(|&x| {
        x.start_byte() >= at
            && call(src, x).is_some_and(|(c, args)| {
                f.file.frees_param.contains_key(c)
                    && args
                        .iter()
                        .any(|a| path_of(src, *a).is_some_and(|p| p == owner))
            })
    })
}

/// Whether another function of the file frees `->member` of some object.
fn freed_elsewhere(f: &Func, member: &str) -> bool {
    let src = f.src;
    let own = f.body.start_byte()..f.body.end_byte();
    let tail = format!("->{member}");
    FREES.iter().any(|free| {
        let call = format!("{free}(");
        src.match_indices(&call).any(|(at, _)| {
            if own.contains(&at) || (at > 0 && is_word(src.as_bytes()[at - 1])) {
                return false;
            }
            let rest = &src[at + call.len()..];
            rest.split_once(')')
                .is_some_and(|(arg, _)| arg.trim().ends_with(&tail))
        })
    })
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A C++ method that deletes a member of its object and leaves it pointing at the freed
/// memory on some path (`void Board::reset() { delete[] rolls_; if (n_ > 0) rolls_ = new
/// int[21]; }`), in a file whose destructor (or another method) deletes the same member:
/// the object lives on, and the next reset or the destructor deletes it a second time.
/// Setting the member again right after the delete, in the same block, answers it.
pub(crate) fn deleted_members(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if f.name.starts_with('~') || !is_method(src, f.body) {
        return;
    }
    for &n in &f.nodes {
        if n.kind_name() != "delete_expression" {
            continue;
        }
        let Some(member) = deleted_member(f, n) else {
            continue;
        };
        if set_again(src, n, &member) || !own_member_deleted_elsewhere(f, &member) {
            continue;
        }
        out.push(Finding {
            check: "double-free",
            line: line(n),
            label: format!(
                "`{}` leaves the member `{member}` pointing at freed memory on some path, and the file deletes `{member}` again",
                text(src, n).trim_end_matches(';')
            ),
        });
    }
}

/// Whether the function is a method: defined as `Class::name` or inside its class.
fn is_method(src: &str, body: Node) -> bool {
    let Some(def) = body.parent() else {
        return false;
    };
    let qualified = def
        .field("declarator")
        .is_some_and(|d| text(src, d).split('(').next().unwrap_or("").contains("::"));
    qualified
        || def
            .parent()
            .is_some_and(|p| p.kind_name() == "field_declaration_list")
}

/// The member a `delete`/`delete[]` releases: `rolls_` or `this->rolls_`, when it is no
/// local or parameter of the function.
fn deleted_member(f: &Func, n: Node) -> Option<String> {
    let mut c = n.walk();
    let arg = n.named_children(&mut c).last()?;
    let path = path_of(f.src, arg)?;
    let name = path.strip_prefix("this->").unwrap_or(&path);
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let local = f.type_of(name).is_some() || f.params.iter().any(|(p, _)| p == name);
    (plain && !name.is_empty() && !local).then(|| name.to_string())
}

/// Whether another function of the file deletes `member` (`delete[] rolls_;`,
/// `delete this->rolls_;`).
fn own_member_deleted_elsewhere(f: &Func, member: &str) -> bool {
    deleted_elsewhere(f, |arg| arg.strip_prefix("this->").unwrap_or(arg) == member)
}
