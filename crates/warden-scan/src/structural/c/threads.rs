//! C++ threads racing on shared state: workers started with `std::thread` (or
//! `std::jthread`, or pushed into a vector of threads) in a loop, whose body (a lambda or
//! a function of the file) writes a file-level variable or a local captured by
//! reference with no mutex held and no atomic type: `++served` from every worker loses
//! updates, and a `std::string` or container written so corrupts its memory.

use super::escapes::in_lambda;
use super::func::Func;
use super::syntax::{call, descendants, line, mentions, path_of, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Whether `n` (an argument) is handed to a new thread: `std::thread(…)`,
/// `std::thread t(…)`, `workers.emplace_back(…)` on a container of threads.
fn started_as_thread(f: &Func, arg: Node) -> bool {
    let src = f.src;
    let Some(list) = arg.parent().filter(|p| p.kind_name() == "argument_list") else {
        return false;
    };
    // Only the callable: the first argument.
    if list
        .named_child(0)
        .is_none_or(|first| first.id() != arg.id())
    {
        return false;
    }
    let Some(owner) = list.parent() else {
        return false;
    };
    match owner.kind_name() {
        "init_declarator" => owner
            .parent()
            .and_then(|d| d.field("type"))
            .is_some_and(|t| text(src, t).contains("thread")),
        "call_expression" => {
            let fun = owner.field("function").map_or("", |x| text(src, x));
            let tail = fun.rsplit("::").next().unwrap_or(fun);
            if matches!(tail, "thread" | "jthread") {
                return true;
            }
            fun.rsplit_once('.')
                .or_else(|| fun.rsplit_once("->"))
                .is_some_and(|(recv, m)| {
                    let recv = recv.trim();
                    let threads = recv.to_ascii_lowercase().contains("thread")
                        || f.type_of(recv)
                            .or_else(|| f.file.member_types.get(recv).map(String::as_str))
                            .is_some_and(|t| t.contains("thread"));
                    matches!(m, "emplace_back" | "push_back") && threads
                })
        }
        _ => false,
    }
}

fn in_loop(n: Node, body: Node) -> bool {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if p.id() == body.id() {
            return false;
        }
        if matches!(
            p.kind_name(),
            "for_statement" | "for_range_loop" | "while_statement" | "do_statement"
        ) {
            return true;
        }
        cur = p;
    }
    false
}

/// Whether a thread body takes a lock or uses atomics anywhere.
fn synchronised(src: &str, body: Node) -> bool {
    let t = text(src, body);
    [
        "lock_guard",
        "unique_lock",
        "scoped_lock",
        "atomic",
        "mutex",
    ]
    .iter()
    .any(|w| t.contains(w))
        || descendants(body).into_iter().any(|x| {
            call(src, x).is_some_and(|(c, _)| {
                c.ends_with(".lock") || c.ends_with("->lock") || c.starts_with("pthread_mutex")
            })
        })
}

/// What the body writes: targets of `++x`, `x += …`, `x = …`.
fn writes<'t>(src: &str, body: Node<'t>) -> Vec<(Node<'t>, String)> {
    descendants(body)
        .into_iter()
        .filter_map(|x| {
            let t = match x.kind_name() {
                "update_expression" => x.field("argument"),
                "assignment_expression" => x.field("left"),
                _ => None,
            }?;
            let p = path_of(src, t)?;
            Some((x, p.split(['.', '-', '[']).next().unwrap_or(&p).to_string()))
        })
        .collect()
}

/// Whether `name` is declared atomic (or as a mutex-guarded type) somewhere in the file.
fn atomic_decl(src: &str, name: &str) -> bool {
    src.lines()
        .any(|l| l.contains("atomic") && mentions(l, name))
}

/// Workers started in a loop that write shared state without a lock.
pub(crate) fn thread_races(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains("thread") {
        return;
    }
    for &list in &f.nodes {
        // The callable: the first argument of a call or a declaration's arguments.
        if list.kind_name() != "argument_list" {
            continue;
        }
        let Some(n) = list.named_child(0) else {
            continue;
        };
        if !matches!(n.kind_name(), "lambda_expression" | "identifier")
            || !started_as_thread(f, n)
            || in_lambda(n, f.body)
            || !in_loop(n, f.body)
        {
            continue;
        }
        // The thread's body, and the locals of the starting function it shares.
        let (body, shared): (Node, Vec<String>) = if n.kind_name() == "lambda_expression" {
            let Some(b) = n.field("body") else { continue };
            let caps = n.field("captures").map_or("", |c| text(src, c));
            let by_ref: Vec<String> = caps
                .trim_matches(['[', ']'])
                .split(',')
                .map(str::trim)
                .filter_map(|c| c.strip_prefix('&'))
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            let all = caps
                .trim_matches(['[', ']'])
                .split(',')
                .any(|c| c.trim() == "&");
            let locals: Vec<String> = super::escapes::locals(f)
                .into_iter()
                .filter(|l| l.at < n.start_byte() && (all || by_ref.contains(&l.name)))
                .map(|l| l.name)
                .collect();
            (b, locals)
        } else {
            let name = text(src, n);
            let Some(&g) = f
                .file
                .functions
                .iter()
                .find(|&&g| super::file::signature(src, g).0 == name)
            else {
                continue;
            };
            let Some(b) = g.field("body") else { continue };
            (b, Vec::new())
        };
        if synchronised(src, body) {
            continue;
        }
        let inner: Vec<String> = descendants(body)
            .into_iter()
            .filter(|d| d.kind_name() == "declaration")
            .flat_map(|d| {
                descendants(d)
                    .into_iter()
                    .filter(|x| x.kind_name() == "identifier")
                    .map(|x| text(src, x).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let racy = writes(src, body).into_iter().find(|(_, t)| {
            !inner.contains(t)
                && (f.file.globals.contains(t) || shared.contains(t))
                && !atomic_decl(src, t)
        });
        if let Some((w, t)) = racy {
            out.push(Finding {
                check: "race",
                line: line(w),
                label: format!(
                    "threads started in a loop at line {} all write `{t}` with no lock",
                    line(n)
                ),
            });
            return;
        }
    }
}
