//! Loops and recursions that cannot end: nothing in the body changes what the
//! condition reads, the body undoes the loop's own step, the condition holds for every
//! value the counter can take (`unsigned i >= 0`, `i = (i + 1) % 256` with `i >= 0`),
//! or a function calls itself with no base case its arguments are sure to reach.

use super::func::Func;
use super::syntax::{call, descendants, line, mentions, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// Calls after which a loop may stop (or the process with it).
const LEAVES: &[&str] = &[
    "exit",
    "_exit",
    "abort",
    "longjmp",
    "pthread_exit",
    "err",
    "errx",
];

pub(crate) fn infinite_loops(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        if !matches!(
            n.kind_name(),
            "while_statement" | "for_statement" | "do_statement"
        ) {
            continue;
        }
        let (Some(cond), Some(body)) = (n.field("condition"), n.field("body")) else {
            continue;
        };
        let cond = strip(cond);
        if leaves(src, body) {
            continue;
        }
        let vars: Vec<&str> = descendants(cond)
            .into_iter()
            .filter(|x| x.kind_name() == "identifier")
            .map(|x| text(src, x))
            .filter(|v| !f.file.defines.contains_key(*v))
            .collect();
        // A condition that calls or reads memory may change by itself.
        let opaque = descendants(cond).into_iter().any(|x| {
            matches!(
                x.kind_name(),
                "call_expression"
                    | "field_expression"
                    | "pointer_expression"
                    | "subscript_expression"
                    | "assignment_expression"
                    | "update_expression"
            )
        });
        if vars.is_empty() && !opaque && n.kind_name() != "do_statement" {
            let forever = f.fold(cond).is_some_and(|v| v != 0) || text(src, cond).trim() == "true";
            if forever && !waits(src, body) {
                out.push(Finding {
                    check: "infinite-loop",
                    line: line(n),
                    label:
                        "a loop on a constant condition with no way out and nothing it waits for"
                            .into(),
                });
            }
            continue;
        }
        if n.kind_name() != "do_statement" && !waits(src, body) {
            if let Some(name) = pure_call_condition(f, cond, body) {
                out.push(Finding {
                    check: "infinite-loop",
                    line: line(n),
                    label: format!(
                        "`{}` calls {name}, which only reads its arguments, with values the loop never changes: it never becomes false",
                        text(src, cond)
                    ),
                });
                continue;
            }
        }
        // C++ `while (in >> word)`: the stream extraction is the step.
        let opaque = opaque || text(src, cond).contains(">>") || text(src, cond).contains("<<");
        if vars.is_empty() || opaque {
            continue;
        }
        let update = n.field("update");
        let changed: Vec<&str> = vars
            .iter()
            .copied()
            .filter(|v| changes(src, body, v) || update.is_some_and(|u| changes(src, u, v)))
            .collect();
        let label = if changed.is_empty() {
            Some(format!(
                "nothing in the loop changes `{}`, and nothing leaves it",
                text(src, cond)
            ))
        } else if let Some(v) = undone(src, update, body) {
            Some(format!("the body undoes the loop's step on `{v}`"))
        } else if let Some(v) = away(f, n, cond, update) {
            Some(format!(
                "`{v}` starts inside `{}` and steps away from its end",
                text(src, cond)
            ))
        } else {
            always_true(f, cond).then(|| {
                format!(
                    "`{}` holds for every value the counter takes",
                    text(src, cond)
                )
            })
        };
        if let Some(label) = label {
            out.push(Finding {
                check: "infinite-loop",
                line: line(n),
                label,
            });
        }
    }
}

/// Calls a server or worker loop blocks in: such a loop is meant to run forever.
const WAITS: &[&str] = &[
    "accept",
    "read",
    "recv",
    "recvfrom",
    "select",
    "poll",
    "epoll_wait",
    "sleep",
    "usleep",
    "nanosleep",
    "wait",
    "waitpid",
    "pthread_cond_wait",
    "sem_wait",
    "fgets",
    "getchar",
    "scanf",
    "getline",
    "pause",
    "sigwait",
    "msgrcv",
    "pthread_join",
    "kevent",
];

/// `while (check(1, 1))`, `while (!done(limit))`: a condition that calls a function of
/// the file computing only from its arguments (no memory, globals or other calls), with
/// arguments that are constants or locals the loop body never changes.
fn pure_call_condition(f: &Func, cond: Node, body: Node) -> Option<String> {
    let src = f.src;
    let mut c = strip(cond);
    while c.kind_name() == "unary_expression"
        && c.field("operator").is_some_and(|o| text(src, o) == "!")
    {
        c = strip(c.field("argument")?);
    }
    let (name, args) = call(src, c)?;
    if name == f.name || !f.file.param_names.contains_key(name) {
        return None;
    }
    let steady = args.iter().all(|a| {
        let a = strip(*a);
        match a.kind_name() {
            "number_literal" | "char_literal" | "true" | "false" => true,
            "identifier" => {
                let v = text(src, a);
                f.file.defines.contains_key(v)
                    || (!f.file.globals.contains(v)
                        && f.type_of(v).is_some_and(|t| !t.contains('*'))
                        && !changes(src, body, v)
                        && !f.nodes.iter().any(|x| {
                            x.kind_name() == "pointer_expression"
                                && x.child(0).is_some_and(|o| o.kind_name() == "&")
                                && x.field("argument")
                                    .is_some_and(|t| text(src, strip(t)) == v)
                        }))
            }
            _ => false,
        }
    });
    if !steady {
        return None;
    }
    let callee = *f.file.by_name.get(name)?;
    let cbody = callee.field("body")?;
    let pure = descendants(cbody).into_iter().all(|x| match x.kind_name() {
        "call_expression"
        | "pointer_expression"
        | "field_expression"
        | "subscript_expression"
        | "storage_class_specifier"
        | "asm_statement" => false,
        "identifier" => !f.file.globals.contains(text(src, x)),
        _ => true,
    });
    pure.then_some(name.to_string())
}

fn waits(src: &str, body: Node) -> bool {
    descendants(body)
        .into_iter()
        .any(|x| call(src, x).is_some_and(|(c, _)| WAITS.contains(&c)))
}

/// A function that calls itself where no base case is sure to stop it: no condition
/// at all, or stop tests that are only equalities on a parameter the call steps past
/// (`if (n == 1) return 1; ... f(n - 2)`) or wraps (`f((i + 1) % size)`).
pub(crate) fn endless_recursion(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let name = f.name.as_str();
    if name.is_empty() {
        return;
    }
    let nodes = f.nodes.clone();
    let calls: Vec<(Node, Vec<Node>)> = nodes
        .iter()
        .filter_map(|n| {
            call(src, *n)
                .filter(|(c, _)| *c == name)
                .map(|(_, a)| (*n, a))
        })
        // Only a plain call with as many arguments as parameters is the function itself
        // (`obj.clear()`, `ns::f()` and overloads are others).
        .filter(|(n, a)| {
            a.len() == f.params.len()
                && n.field("function")
                    .is_some_and(|c| c.kind_name() == "identifier")
        })
        .collect();
    let Some((first, _)) = calls.first() else {
        return;
    };
    let conds: Vec<Node> = nodes
        .iter()
        .filter(|n| {
            matches!(
                n.kind_name(),
                "if_statement" | "conditional_expression" | "switch_statement" | "while_statement"
            )
        })
        .filter_map(|n| n.field("condition"))
        .collect();
    // `f(i--)` passes `i` unchanged: the call repeats itself.
    let same = calls.iter().find_map(|(_, args)| {
        args.iter().find(|a| {
            a.kind_name() == "update_expression"
                && a.child(0).is_some_and(|c| c.kind_name() == "identifier")
        })
    });
    // Every `return` recurses: no path gives a result without calling itself.
    let returns: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.kind_name() == "return_statement")
        .collect();
    let no_exit = !returns.is_empty()
        && returns.iter().all(|r| {
            descendants(**r)
                .into_iter()
                .any(|x| call(src, x).is_some_and(|(c, _)| c == name))
        });
    let label = if let Some(a) = same {
        Some(format!(
            "{name}() passes `{}` to itself: the value before the step, so the call repeats",
            text(src, *a)
        ))
    } else if no_exit {
        Some(format!(
            "every return of {name}() calls it again: no base case"
        ))
    } else if conds.is_empty() && !leaves(src, f.body) {
        Some(format!("{name}() calls itself with no base case"))
    } else if conds.is_empty() {
        None
    } else {
        let params: Vec<&str> = f.params.iter().map(|(p, _)| p.as_str()).collect();
        // Every stop test is `param == K` (or `!=`)...
        let equalities: Vec<&str> = conds
            .iter()
            .flat_map(|c| descendants(*c))
            .filter(|x| x.kind_name() == "binary_expression")
            .filter_map(|x| {
                let op = text(src, x.field("operator")?);
                let l = text(src, x.field("left")?);
                matches!(op, "==" | "!=").then_some(l)
            })
            .filter(|l| params.contains(l))
            .collect();
        let ordered = conds.iter().any(|c| {
            let t = text(src, *c);
            t.contains('<') || t.contains('>')
        });
        // ...and some recursive call steps that parameter by more than one, or wraps it.
        let skips = calls.iter().any(|(_, args)| {
            args.iter().any(|a| {
                let t: String = text(src, *a)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                equalities.iter().any(|p| {
                    let stepped =
                        t.starts_with(&format!("{p}-")) || t.starts_with(&format!("{p}+"));
                    let big = t
                        .rsplit(['-', '+'])
                        .next()
                        .and_then(|k| k.parse::<i64>().ok())
                        .is_some_and(|k| k >= 2);
                    (stepped && big) || (t.contains(p) && t.contains('%'))
                })
            })
        });
        (!equalities.is_empty() && !ordered && skips)
            .then(|| format!("{name}() recurses with a step its `==` base case can miss"))
    };
    if let Some(label) = label {
        out.push(Finding {
            check: "endless-recursion",
            line: line(*first),
            label,
        });
    }
}

/// Whether the body has a way out: break, return, goto, or a call that ends the process.
fn leaves(src: &str, body: Node) -> bool {
    descendants(body).into_iter().any(|x| {
        matches!(
            x.kind_name(),
            "break_statement" | "return_statement" | "goto_statement" | "throw_statement"
        ) || call(src, x).is_some_and(|(c, _)| LEAVES.contains(&c))
    })
}

/// Whether `v` is assigned, stepped or has its address taken under `n`.
fn changes(src: &str, n: Node, v: &str) -> bool {
    descendants(n).into_iter().any(|x| {
        let target = match x.kind_name() {
            "assignment_expression" => x.field("left"),
            "update_expression" => x.field("argument"),
            "pointer_expression" if x.child(0).is_some_and(|o| o.kind_name() == "&") => {
                x.field("argument")
            }
            "call_expression" => {
                // `scanf("%d", &v)` is caught above; a macro may assign its argument.
                return false;
            }
            _ => None,
        };
        target.is_some_and(|t| mentions(text(src, t), v))
    })
}

/// `for (...; ...; i++) { ...; i--; }`: the body steps the counter back.
fn undone<'s>(src: &'s str, update: Option<Node>, body: Node) -> Option<&'s str> {
    let u = strip(update?);
    if u.kind_name() != "update_expression" {
        return None;
    }
    let var = text(src, u.field("argument")?);
    let up = text(src, u).contains("++");
    let mut c = body.walk();
    let stmts: Vec<Node> = body.named_children(&mut c).collect();
    stmts.into_iter().find_map(|s| {
        let e = s.named_child(0)?;
        (e.kind_name() == "update_expression"
            && text(src, e.field("argument")?) == var
            && text(src, e).contains("--") == up)
            .then_some(var)
    })
}

/// `v >= 0` where `v` is unsigned or only ever gets `x % N` or a non-negative literal.
fn always_true(f: &Func, cond: Node) -> bool {
    let src = f.src;
    if cond.kind_name() != "binary_expression" {
        return false;
    }
    let op = cond.field("operator").map(|o| text(src, o));
    let (Some(l), Some(r)) = (cond.field("left"), cond.field("right")) else {
        return false;
    };
    let zero = matches!(
        (op, text(src, r).trim()),
        (Some(">="), "0") | (Some(">"), "-1")
    );
    if !zero || l.kind_name() != "identifier" {
        return false;
    }
    let v = text(src, l);
    if f.unsigned(v) {
        return true;
    }
    let mut any = false;
    for &x in &f.nodes {
        let (target, value) = match x.kind_name() {
            "assignment_expression" => (x.field("left"), x.field("right")),
            "init_declarator" => (x.field("declarator"), x.field("value")),
            "update_expression" => {
                if x.field("argument").is_some_and(|a| text(src, a) == v) {
                    return false;
                }
                continue;
            }
            _ => continue,
        };
        if target.is_none_or(|t| text(src, t) != v) {
            continue;
        }
        let Some(value) = value.map(strip) else {
            return false;
        };
        let modulo = value.kind_name() == "binary_expression"
            && value.field("operator").is_some_and(|o| text(src, o) == "%")
            && value
                .field("right")
                .and_then(|r| f.fold(r))
                .is_some_and(|k| k > 0);
        let literal = f.fold(value).is_some_and(|k| k >= 0);
        if !(modulo || literal) {
            return false;
        }
        any |= modulo;
    }
    any
}

/// `for (i = 0; i > -1; i++)`: the counter starts where the condition holds and each
/// step moves it further in.
fn away<'s>(f: &Func<'_, 's>, n: Node, cond: Node, update: Option<Node>) -> Option<&'s str> {
    let src = f.src;
    let u = strip(update?);
    if u.kind_name() != "update_expression" || cond.kind_name() != "binary_expression" {
        return None;
    }
    let var = text(src, u.field("argument")?);
    let up = text(src, u).contains("++");
    if text(src, cond.field("left")?) != var {
        return None;
    }
    let bound = f.fold(cond.field("right")?)?;
    let op = text(src, cond.field("operator")?);
    let init = text(src, n.field("initializer")?);
    let start = super::syntax::parse_int(init.rsplit('=').next()?.trim().trim_end_matches(';'))?;
    let holds = match op {
        ">" => start > bound,
        ">=" => start >= bound,
        "<" => start < bound,
        "<=" => start <= bound,
        _ => false,
    };
    let inward = (matches!(op, ">" | ">=") && up) || (matches!(op, "<" | "<=") && !up);
    (holds && inward).then_some(var)
}

/// `fork()` in a loop with no comparison limiting how many run (a fork bomb for
/// whoever drives the loop, e.g. by connecting).
pub(crate) fn unbounded_fork(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        if !matches!(
            n.kind_name(),
            "while_statement" | "for_statement" | "do_statement"
        ) {
            continue;
        }
        let Some(body) = n.field("body") else {
            continue;
        };
        let nodes = descendants(body);
        let Some(fork) = nodes
            .iter()
            .find(|x| call(src, **x).is_some_and(|(c, _)| c == "fork"))
        else {
            continue;
        };
        // A limit: some relational comparison against a named bound before the fork.
        let limited = nodes.iter().chain(n.field("condition").iter()).any(|x| {
            x.kind_name() == "binary_expression"
                && x.start_byte() < fork.start_byte()
                && x.field("operator")
                    .is_some_and(|o| matches!(text(src, o), "<" | "<=" | ">" | ">="))
                && x.field("right").is_some_and(|r| {
                    let t = text(src, r).trim();
                    !(t == "0" || t == "-1" || t.starts_with('-'))
                })
        });
        if !limited {
            out.push(Finding {
                check: "unbounded-fork",
                line: line(*fork),
                label: "fork() in a loop with no limit on how many children run".into(),
            });
        }
    }
}
