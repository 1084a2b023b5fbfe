//! Assertions an attacker can trip: `assert(0)` or an assertion on input, a call
//! that hands a function's own assertion a value that fails it, and an assertion after
//! a loop that repeats the loop's condition once its variable has stepped past it.
//! The values come from the constant arithmetic of [`super::consts`].

use super::consts::{eval, floating, short, width, Num};
use super::file::signature;
use super::func::Func;
use super::syntax::{call, descendants, line, parse_int, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::HashMap;
use tree_sitter::Node;

/// `assert(0)`, or an assertion on a value from input: an attacker can stop the program.
pub(super) fn assertion(
    f: &Func,
    n: Node,
    arg: Option<Node>,
    env: &HashMap<String, Num>,
    out: &mut Vec<Finding>,
) {
    let Some(arg) = arg else { return };
    let mut ignored = Vec::new();
    if eval(f, arg, env, &mut ignored).is_some_and(|v| v.zero()) {
        out.push(Finding {
            check: "reachable-assert",
            line: line(n),
            label: format!("assert({}) always fails", short(text(f.src, arg))),
        });
    } else if f.is_input(arg) && !tautology(f, arg) && !null_test(f, arg) {
        out.push(Finding {
            check: "reachable-assert",
            line: line(n),
            label: format!(
                "assert({}) checks input: bad input aborts the program",
                short(text(f.src, arg))
            ),
        });
    }
}

/// `p != NULL`, `p`, `!p` for a pointer `p`: the pointer's value is not the input
/// it points at (`fread(&buf[n], ...)` fills `buf`, it does not choose it).
fn null_test(f: &Func, arg: Node) -> bool {
    let src = f.src;
    let mut a = strip(arg);
    if a.kind_name() == "unary_expression" && a.child(0).is_some_and(|o| text(src, o) == "!") {
        a = match a.field("argument") {
            Some(x) => strip(x),
            None => return false,
        };
    }
    let pointer = |n: Node| {
        n.kind_name() == "identifier" && f.type_of(text(src, n)).is_some_and(|t| t.contains('*'))
    };
    if pointer(a) {
        return true;
    }
    a.kind_name() == "binary_expression"
        && a.field("operator")
            .is_some_and(|o| matches!(text(src, o), "==" | "!="))
        && a.field("left").is_some_and(|l| pointer(strip(l)))
        && a.field("right")
            .is_some_and(|r| matches!(text(src, strip(r)).trim(), "NULL" | "nullptr" | "0"))
}

/// `n >= 0` for an unsigned `n`: an assertion that cannot fail.
fn tautology(f: &Func, arg: Node) -> bool {
    let arg = strip(arg);
    let src = f.src;
    arg.kind_name() == "binary_expression"
        && arg.field("operator").is_some_and(|o| text(src, o) == ">=")
        && arg
            .field("right")
            .is_some_and(|r| text(src, r).trim() == "0")
        && arg
            .field("left")
            .is_some_and(|l| l.kind_name() == "identifier" && f.unsigned(text(src, l)))
}

/// `assert(a >= 0)` at the top of a function of the file, and a call passing a value
/// that fails it (`safe_sqrt(-2.7)`, or a local holding one): the call aborts.
pub(super) fn param_asserts(
    f: &Func,
    call_node: Node,
    env: &HashMap<String, Num>,
    out: &mut Vec<Finding>,
) {
    let src = f.src;
    let Some((name, args)) = call(src, call_node) else {
        return;
    };
    if name == f.name || !f.file.param_names.contains_key(name) || asserts_off(f) {
        return;
    }
    let Some(&callee) = f.file.by_name.get(name) else {
        return;
    };
    let (_, params, _) = signature(src, callee);
    let mut ignored = Vec::new();
    let mut penv: HashMap<String, Num> = HashMap::new();
    for ((p, ty), a) in params.iter().zip(&args) {
        let Some(v) = eval(f, *a, env, &mut ignored) else {
            continue;
        };
        if floating(ty) {
            penv.insert(p.clone(), Num::real(v.as_f64()));
        } else if let (None, Some((bits, signed))) = (v.f, width(ty)) {
            penv.insert(p.clone(), Num::int(v.v, bits, signed));
        }
    }
    if penv.is_empty() {
        return;
    }
    let Some(body) = callee.field("body") else {
        return;
    };
    let mut c = body.walk();
    for stmt in body.named_children(&mut c) {
        let kinds: Vec<&str> = descendants(stmt).iter().map(|x| x.kind_name()).collect();
        if kinds.contains(&"return_statement") {
            return;
        }
        let assert_arg = stmt
            .named_child(0)
            .filter(|_| stmt.kind_name() == "expression_statement")
            .and_then(|e| call(src, e))
            .filter(|(c, _)| *c == "assert")
            .and_then(|(_, a)| a.first().copied());
        let Some(cond) = assert_arg else {
            // A parameter changed before the assertion is no longer the argument.
            for x in descendants(stmt) {
                let target = match x.kind_name() {
                    "assignment_expression" => x.field("left"),
                    "update_expression" => x.field("argument"),
                    _ => None,
                };
                if let Some(t) = target {
                    penv.remove(text(src, strip(t)));
                }
            }
            continue;
        };
        if descendants(cond)
            .iter()
            .any(|x| x.kind_name() == "call_expression")
        {
            continue;
        }
        if eval(f, cond, &penv, &mut ignored).is_some_and(|v| v.zero()) {
            out.push(Finding {
                check: "reachable-assert",
                line: line(call_node),
                label: format!(
                    "`{}` fails assert({}) in {name}",
                    short(text(src, call_node)),
                    short(text(src, cond))
                ),
            });
            return;
        }
    }
}

/// `#define NDEBUG` compiles assertions out.
fn asserts_off(f: &Func) -> bool {
    f.file.defines.contains_key("NDEBUG") || f.src.contains("define NDEBUG")
}

/// `while (i >= 0) { ...; --i; assert(i >= 0); }`: the assertion repeats the loop's
/// condition after the body stepped its variable past it, so the last pass fails it.
pub(super) fn loop_exit_asserts(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if asserts_off(f) {
        return;
    }
    for &n in &f.nodes {
        if !matches!(
            n.kind_name(),
            "while_statement" | "do_statement" | "for_statement"
        ) {
            continue;
        }
        let (Some(cond), Some(body)) = (n.field("condition").map(strip), n.field("body")) else {
            continue;
        };
        if cond.kind_name() != "binary_expression" {
            continue;
        }
        let op = cond.field("operator").map(|o| text(src, o)).unwrap_or("");
        let Some(var) = cond
            .field("left")
            .filter(|l| l.kind_name() == "identifier")
            .map(|l| text(src, l))
        else {
            continue;
        };
        // The direction that leaves the loop: down for `>=`/`>`, up for `<=`/`<`.
        let leaving = match op {
            ">=" | ">" => -1,
            "<=" | "<" => 1,
            _ => continue,
        };
        let norm = |t: &str| t.split_whitespace().collect::<String>();
        let want = norm(text(src, cond));
        let mut stepped = false;
        let mut c = body.walk();
        for stmt in body.named_children(&mut c) {
            let all = descendants(stmt);
            if stepped {
                let is_assert = stmt.kind_name() == "expression_statement"
                    && stmt
                        .named_child(0)
                        .and_then(|e| call(src, e))
                        .is_some_and(|(c, a)| {
                            c == "assert"
                                && a.first()
                                    .is_some_and(|a| norm(text(src, strip(*a))) == want)
                        });
                if is_assert {
                    out.push(Finding {
                        check: "reachable-assert",
                        line: line(stmt),
                        label: format!(
                            "assert({}) repeats the loop condition after `{var}` moved: the last pass fails it",
                            short(text(src, cond))
                        ),
                    });
                    break;
                }
            }
            if all.iter().any(|x| {
                matches!(
                    x.kind_name(),
                    "break_statement"
                        | "return_statement"
                        | "goto_statement"
                        | "continue_statement"
                )
            }) {
                break;
            }
            if stmt.kind_name() != "expression_statement" {
                if all.iter().any(|x| writes(src, *x, var)) {
                    break;
                }
                continue;
            }
            let Some(e) = stmt.named_child(0) else {
                continue;
            };
            match step_of(src, e, var) {
                Some(d) if d == leaving => stepped = true,
                Some(_) => break,
                None if all.iter().any(|x| writes(src, *x, var)) => break,
                None => {}
            }
        }
    }
}

/// Whether `x` assigns or steps `var`.
fn writes(src: &str, x: Node, var: &str) -> bool {
    let t = match x.kind_name() {
        "assignment_expression" => x.field("left"),
        "update_expression" => x.field("argument"),
        _ => None,
    };
    t.is_some_and(|t| text(src, strip(t)) == var)
}

/// `--i`, `i++`, `i -= 2`, `i = i + 1`: the direction the statement moves `var` in.
fn step_of(src: &str, e: Node, var: &str) -> Option<i32> {
    match e.kind_name() {
        "update_expression" => {
            let a = e.field("argument")?;
            if text(src, strip(a)) != var {
                return None;
            }
            Some(if text(src, e).contains("++") { 1 } else { -1 })
        }
        "assignment_expression" => {
            let l = e.field("left")?;
            if text(src, strip(l)) != var {
                return None;
            }
            let op = e.field("operator").map(|o| text(src, o))?;
            let r = e.field("right")?;
            let positive = |n: Node| parse_int(text(src, strip(n))).is_some_and(|k| k > 0);
            match op {
                "+=" if positive(r) => Some(1),
                "-=" if positive(r) => Some(-1),
                "=" => {
                    let r = strip(r);
                    let rop = r.field("operator").map(|o| text(src, o))?;
                    let rl = r.field("left")?;
                    let rr = r.field("right")?;
                    if text(src, strip(rl)) != var || !positive(rr) {
                        return None;
                    }
                    match rop {
                        "+" => Some(1),
                        "-" => Some(-1),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}
