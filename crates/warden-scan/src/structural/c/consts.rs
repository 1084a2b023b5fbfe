//! Constant arithmetic: values the code computes from literals, followed through
//! local variables, so an `int` that overflows or a divisor that is zero is decided,
//! not guessed. A variable assigned inside a branch or a loop is unknown afterwards.

use super::func::Func;
use super::syntax::{call, line, parse_int, string_value, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use std::collections::HashMap;
use tree_sitter::Node;

/// A known value and the width of its type: (value, bits, signed).
#[derive(Clone, Copy)]
struct Num {
    v: i128,
    bits: u32,
    signed: bool,
}

impl Num {
    fn fits(self) -> bool {
        let (lo, hi) = if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        };
        (lo..=hi).contains(&self.v)
    }
}

/// Width of an integer type, or `None` for anything else (floats, pointers, structs).
fn width(ty: &str) -> Option<(u32, bool)> {
    let t = ty.replace("const ", "").replace("static ", "");
    let t = t.trim();
    if t.contains('*') || t.contains("float") || t.contains("double") {
        return None;
    }
    let unsigned = t.contains("unsigned") || t.starts_with("uint") || t == "size_t";
    let bits = if t.contains("long long") || t.contains("64") || t == "size_t" || t.contains("long")
    {
        64
    } else if t.contains("short") || t.contains("16") {
        16
    } else if t.contains("char") || t.contains("8_t") {
        8
    } else if t.contains("int") || t == "unsigned" || t == "signed" {
        32
    } else {
        return None;
    };
    Some((bits, !unsigned))
}

/// Integer overflows and zero divisors among constant computations of one function.
pub(crate) fn constants(f: &Func, out: &mut Vec<Finding>) {
    let mut env: HashMap<String, Num> = HashMap::new();
    walk(f, f.body, &mut env, false, out);
    zero_loop_divisors(f, out);
}

fn walk(f: &Func, n: Node, env: &mut HashMap<String, Num>, unsure: bool, out: &mut Vec<Finding>) {
    let src = f.src;
    match n.kind() {
        "init_declarator" | "assignment_expression" => {
            let (l, r) = if n.kind() == "init_declarator" {
                (n.field("declarator"), n.field("value"))
            } else {
                (n.field("left"), n.field("right"))
            };
            let (Some(l), Some(r)) = (l, r) else { return };
            walk(f, r, env, unsure, out);
            if l.kind() != "identifier" {
                walk(f, l, env, unsure, out);
                return;
            }
            let name = text(src, l).to_string();
            let op = n.field("operator").map(|o| text(src, o)).unwrap_or("=");
            let ty = f.type_of(&name).and_then(width);
            let value = match op {
                "=" => eval(f, r, env, out),
                _ => {
                    let cur = env.get(&name).copied();
                    let rv = eval(f, r, env, out);
                    match (cur, rv) {
                        (Some(a), Some(b)) => arith(&op[..op.len() - 1], a, b),
                        _ => None,
                    }
                }
            };
            env.remove(&name);
            let (Some(v), Some((bits, signed))) = (value, ty) else {
                return;
            };
            let stored = Num {
                v: v.v,
                bits,
                signed,
            };
            // `unsigned x = -1` is the idiom for "all bits set", not an accident.
            if !stored.fits() && (v.v >= 0 || signed) {
                out.push(Finding {
                    check: "int-overflow",
                    line: line(n),
                    label: format!("`{name}` gets {}, past the range of its type", v.v),
                });
                return;
            }
            if !unsure {
                env.insert(name, stored);
            }
        }
        "if_statement"
        | "for_statement"
        | "while_statement"
        | "do_statement"
        | "switch_statement"
        | "conditional_expression" => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            for k in kids {
                walk(f, k, env, true, out);
            }
            forget_assigned(f, n, env);
        }
        "binary_expression" | "call_expression" => {
            eval(f, n, env, out);
        }
        "function_definition" => {}
        _ => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            for k in kids {
                walk(f, k, env, unsure, out);
            }
        }
    }
}

/// Variables assigned anywhere under `n` are unknown after it.
fn forget_assigned(f: &Func, n: Node, env: &mut HashMap<String, Num>) {
    for x in super::syntax::descendants(n) {
        let target = match x.kind() {
            "assignment_expression" => x.field("left"),
            "update_expression" => x.field("argument"),
            "pointer_expression" if x.child(0).is_some_and(|o| o.kind() == "&") => {
                x.field("argument")
            }
            _ => None,
        };
        if let Some(t) = target {
            env.remove(text(f.src, t));
        }
    }
}

fn arith(op: &str, a: Num, b: Num) -> Option<Num> {
    let bits = a.bits.max(b.bits);
    let signed = if a.bits == b.bits {
        a.signed && b.signed
    } else if a.bits > b.bits {
        a.signed
    } else {
        b.signed
    };
    let v = match op {
        "+" => a.v + b.v,
        "-" => a.v - b.v,
        "*" => a.v.checked_mul(b.v)?,
        "/" if b.v != 0 => a.v / b.v,
        "%" if b.v != 0 => a.v % b.v,
        "<<" if (0..64).contains(&b.v) => a.v.checked_mul(1i128 << b.v)?,
        ">>" if (0..64).contains(&b.v) => a.v >> b.v,
        "^" => a.v ^ b.v,
        "|" => a.v | b.v,
        "&" => a.v & b.v,
        _ => return None,
    };
    Some(Num { v, bits, signed })
}

/// The value of a constant expression, reporting overflows and zero divisors on the way.
fn eval(f: &Func, n: Node, env: &HashMap<String, Num>, out: &mut Vec<Finding>) -> Option<Num> {
    let src = f.src;
    let n = strip(n);
    match n.kind() {
        "number_literal" => {
            let t = text(src, n);
            if t.contains(['.', 'e', 'E']) && !t.starts_with("0x") {
                return None;
            }
            let lower = t.to_ascii_lowercase();
            let bits = if lower.ends_with('l') { 64 } else { 32 };
            let v = i128::from(parse_int(t)?);
            // A decimal literal too big for int is long: it has the type that holds it.
            let bits = if v > i128::from(i32::MAX) { 64 } else { bits };
            Some(Num {
                v,
                bits,
                signed: !lower.contains('u'),
            })
        }
        "true" | "false" => Some(Num {
            v: match f.file.defines.get(text(src, n)) {
                Some(&v) => v.into(),
                None => i128::from(n.kind() == "true"),
            },
            bits: 32,
            signed: true,
        }),
        "identifier" => env.get(text(src, n)).copied().or_else(|| {
            f.file.defines.get(text(src, n)).map(|&v| Num {
                v: v.into(),
                bits: 32,
                signed: true,
            })
        }),
        "unary_expression" => {
            let op = n.field("operator").map(|o| text(src, o))?;
            let a = eval(f, n.field("argument")?, env, out)?;
            match op {
                "-" => Some(Num { v: -a.v, ..a }),
                "+" => Some(a),
                _ => None,
            }
        }
        "call_expression" => {
            let (name, args) = call(src, n)?;
            for a in &args {
                eval(f, *a, env, out);
            }
            // `#define NDEBUG` compiles assertions out.
            if name == "assert"
                && !f.file.defines.contains_key("NDEBUG")
                && !f.src.contains("define NDEBUG")
            {
                assertion(f, n, args.first().copied(), env, out);
                return None;
            }
            if matches!(name.as_str(), "atoi" | "atol" | "atoll") {
                let s = string_value(src, *args.first()?)?;
                let v: i128 = s.trim().parse().ok()?;
                let bits = if name == "atoi" { 32 } else { 64 };
                let num = Num {
                    v,
                    bits,
                    signed: true,
                };
                if !num.fits() {
                    out.push(Finding {
                        check: "int-overflow",
                        line: line(n),
                        label: format!("{name}(\"{s}\") does not fit its result type"),
                    });
                    return None;
                }
                return Some(num);
            }
            None
        }
        "binary_expression" => {
            let op = n.field("operator").map(|o| text(src, o))?;
            let l = eval(f, n.field("left")?, env, out);
            let r = eval(f, n.field("right")?, env, out);
            if matches!(op, "/" | "%") && r.is_some_and(|r| r.v == 0) {
                out.push(Finding {
                    check: "divide-by-zero",
                    line: line(n),
                    label: format!("`{}` divides by a value that is 0", short(text(src, n))),
                });
                return None;
            }
            let v = arith(op, l?, r?)?;
            if matches!(op, "+" | "-" | "*" | "<<") && !v.fits() {
                out.push(Finding {
                    check: "int-overflow",
                    line: line(n),
                    label: format!(
                        "`{}` is {}, past its {}-bit type",
                        short(text(src, n)),
                        v.v,
                        v.bits
                    ),
                });
                return None;
            }
            Some(v)
        }
        _ => None,
    }
}

/// `for (i = 9; i >= 0; --i) x / i`: a loop whose counter passes through zero used as
/// a divisor.
fn zero_loop_divisors(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        if n.kind() != "for_statement" {
            continue;
        }
        let Some(cond) = n.field("condition").map(strip) else {
            continue;
        };
        let op = cond.field("operator").map(|o| text(src, o)).unwrap_or("");
        let (Some(l), Some(r)) = (cond.field("left"), cond.field("right")) else {
            continue;
        };
        let var = text(src, l);
        let Some(bound) = f.fold(r) else { continue };
        let init = n.field("initializer").map(|i| text(src, i)).unwrap_or("");
        let start = init
            .rsplit('=')
            .next()
            .and_then(|v| parse_int(v.trim().trim_end_matches(';')));
        let reaches_zero = match op {
            ">=" => bound <= 0,
            ">" => bound < 0,
            "<" | "<=" | "!=" => start == Some(0),
            _ => false,
        };
        if !reaches_zero {
            continue;
        }
        let Some(body) = n.field("body") else {
            continue;
        };
        for x in super::syntax::descendants(body) {
            if x.kind() != "binary_expression" {
                continue;
            }
            let xop = x.field("operator").map(|o| text(src, o));
            let divisor = x.field("right").map(|d| text(src, strip(d)));
            if matches!(xop, Some("/" | "%")) && divisor == Some(var) {
                out.push(Finding {
                    check: "divide-by-zero",
                    line: line(x),
                    label: format!(
                        "`{}` divides by the loop counter, which reaches 0",
                        text(src, x)
                    ),
                });
            }
        }
    }
}

fn short(t: &str) -> String {
    let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    t.chars().take(60).collect()
}

/// `assert(0)`, or an assertion on a value from input: an attacker can stop the program.
fn assertion(
    f: &Func,
    n: Node,
    arg: Option<Node>,
    env: &HashMap<String, Num>,
    out: &mut Vec<Finding>,
) {
    let Some(arg) = arg else { return };
    let mut ignored = Vec::new();
    if eval(f, arg, env, &mut ignored).is_some_and(|v| v.v == 0) {
        out.push(Finding {
            check: "reachable-assert",
            line: line(n),
            label: format!("assert({}) always fails", short(text(f.src, arg))),
        });
    } else if f.is_input(arg) && !tautology(f, arg) {
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

/// `n >= 0` for an unsigned `n`: an assertion that cannot fail.
fn tautology(f: &Func, arg: Node) -> bool {
    let arg = strip(arg);
    let src = f.src;
    arg.kind() == "binary_expression"
        && arg.field("operator").is_some_and(|o| text(src, o) == ">=")
        && arg
            .field("right")
            .is_some_and(|r| text(src, r).trim() == "0")
        && arg
            .field("left")
            .is_some_and(|l| l.kind() == "identifier" && f.unsigned(text(src, l)))
}
