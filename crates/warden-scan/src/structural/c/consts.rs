//! Constant arithmetic: values the code computes from literals, followed through
//! local variables, so an `int` that overflows, a divisor that is zero or an assertion
//! that fails is decided, not guessed. A variable assigned inside a branch or a loop
//! is unknown afterwards; one whose address is taken is never known. Floating-point
//! values are followed too, for comparisons (`assert(d < 0)` with `d = 3.14`).

use super::asserts::{assertion, loop_exit_asserts, param_asserts};
use super::func::Func;
use super::syntax::{
    assignment_sides, call, descendants, line, parse_int, string_value, strip, text,
};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

/// A known value and the width of its type: (value, bits, signed); `f` holds the
/// value of a floating-point number (`v` is then its integer part).
#[derive(Clone, Copy)]
pub(super) struct Num {
    pub(super) v: i128,
    bits: u32,
    signed: bool,
    pub(super) f: Option<f64>,
}

impl Num {
    pub(super) fn int(v: i128, bits: u32, signed: bool) -> Num {
        Num {
            v,
            bits,
            signed,
            f: None,
        }
    }

    pub(super) fn real(x: f64) -> Num {
        Num {
            // Saturating: only the comparison with zero and the sign matter here.
            v: x as i128,
            bits: 64,
            signed: true,
            f: Some(x),
        }
    }

    fn truth(b: bool) -> Num {
        Num::int(i128::from(b), 32, true)
    }

    pub(super) fn zero(self) -> bool {
        match self.f {
            Some(x) => x == 0.0,
            None => self.v == 0,
        }
    }

    pub(super) fn as_f64(self) -> f64 {
        self.f.unwrap_or(self.v as f64)
    }

    fn fits(self) -> bool {
        if self.f.is_some() {
            return true;
        }
        let (lo, hi) = if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        };
        (lo..=hi).contains(&self.v)
    }
}

/// Width of an integer type, or `None` for anything else (floats, pointers, structs).
pub(super) fn width(ty: &str) -> Option<(u32, bool)> {
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

/// Whether a declared type is `float`/`double` (not a pointer to one).
pub(super) fn floating(ty: &str) -> bool {
    !ty.contains('*') && (ty.contains("float") || ty.contains("double"))
}

/// Integer overflows, zero divisors and failing assertions among constant
/// computations of one function.
pub(crate) fn constants(f: &Func, out: &mut Vec<Finding>) {
    let mut env: HashMap<String, Num> = HashMap::new();
    let escaped = escaped(f);
    let cx = Cx { f, escaped };
    walk(&cx, f.body, &mut env, false, out);
    zero_loop_divisors(f, out);
    loop_exit_asserts(f, out);
}

/// What a walk over one function carries along.
struct Cx<'a, 'f, 't> {
    f: &'a Func<'f, 't>,
    /// Locals whose address is taken: anything may change them.
    escaped: HashSet<String>,
}

/// Variables whose address is taken anywhere in the function (`scanf("%d", &n)`).
fn escaped(f: &Func) -> HashSet<String> {
    f.nodes
        .iter()
        .filter(|n| {
            n.kind_name() == "pointer_expression"
                && n.child(0).is_some_and(|o| o.kind_name() == "&")
        })
        .filter_map(|n| n.field("argument"))
        .map(|a| text(f.src, strip(a)).to_string())
        .collect()
}

fn walk(cx: &Cx, n: Node, env: &mut HashMap<String, Num>, unsure: bool, out: &mut Vec<Finding>) {
    let f = cx.f;
    let src = f.src;
    match n.kind_name() {
        "init_declarator" | "assignment_expression" => {
            let (l, r) = assignment_sides(n);
            let (Some(l), Some(r)) = (l, r) else { return };
            walk(cx, r, env, unsure, out);
            if l.kind_name() != "identifier" {
                walk(cx, l, env, unsure, out);
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
            if cx.escaped.contains(&name) {
                return;
            }
            let declared = f.type_of(&name).unwrap_or("");
            if floating(declared) {
                let Some(v) = value else { return };
                let x = v.as_f64();
                // A constant that leaves the type's range becomes infinity, or a
                // non-zero one flushes to zero (then a later divisor or comparison fails).
                let double = declared.contains("double");
                let lost = if double {
                    x.is_infinite()
                } else {
                    let narrow = x as f32;
                    x.is_finite() && x != 0.0 && (narrow == 0.0 || narrow.is_infinite())
                };
                if lost {
                    out.push(Finding {
                        check: "int-overflow",
                        line: line(n),
                        label: format!(
                            "`{name}` gets {x:e}, outside the range of its {} type",
                            if double { "double" } else { "float" }
                        ),
                    });
                    return;
                }
                if !unsure {
                    env.insert(name, Num::real(x));
                }
                return;
            }
            let (Some(v), Some((bits, signed))) = (value, ty) else {
                return;
            };
            // A float stored in an integer is truncated (or out of range): not followed.
            if v.f.is_some() {
                return;
            }
            let stored = Num::int(v.v, bits, signed);
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
            // A branch the known values rule out is not walked: `while (d < 0)` with
            // `d = 3.14` never runs its body, and nothing in it is reached.
            let cond = n.field("condition");
            let known = match n.kind_name() {
                "if_statement" | "while_statement" => cond.and_then(|c| {
                    let mut ignored = Vec::new();
                    eval(f, c, env, &mut ignored).map(|v| !v.zero())
                }),
                _ => None,
            };
            let dead = |k: Node| match known {
                Some(false) => n
                    .field(if n.kind_name() == "if_statement" {
                        "consequence"
                    } else {
                        "body"
                    })
                    .is_some_and(|b| b.id() == k.id()),
                Some(true) => n.field("alternative").is_some_and(|b| b.id() == k.id()),
                None => false,
            };
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            for k in kids {
                if !dead(k) {
                    walk(cx, k, env, true, out);
                }
            }
            forget_assigned(f, n, env);
        }
        "update_expression" => {
            if let Some(a) = n.field("argument") {
                let name = text(src, strip(a)).to_string();
                let step = if text(src, n).contains("++") { 1 } else { -1 };
                let next = env
                    .get(&name)
                    .copied()
                    .filter(|_| !unsure)
                    .map(|v| match v.f {
                        Some(x) => Num::real(x + f64::from(step)),
                        None => Num {
                            v: v.v + i128::from(step),
                            ..v
                        },
                    });
                env.remove(&name);
                if let Some(v) = next.filter(|v| v.fits()) {
                    env.insert(name, v);
                }
            }
        }
        "binary_expression" | "call_expression" => {
            eval(f, n, env, out);
            for x in descendants(n) {
                if x.kind_name() == "call_expression" {
                    param_asserts(f, x, env, out);
                }
            }
        }
        "function_definition" => {}
        _ => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            for k in kids {
                walk(cx, k, env, unsure, out);
            }
        }
    }
}

/// Variables assigned anywhere under `n` are unknown after it.
fn forget_assigned(f: &Func, n: Node, env: &mut HashMap<String, Num>) {
    // Nothing known, nothing to forget: nested loops would otherwise walk their
    // bodies once per level.
    if env.is_empty() {
        return;
    }
    for x in super::syntax::descendants(n) {
        let target = match x.kind_name() {
            "assignment_expression" => x.field("left"),
            "update_expression" => x.field("argument"),
            "pointer_expression" if x.child(0).is_some_and(|o| o.kind_name() == "&") => {
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
    if let Some(c) = compare(op, a, b) {
        return Some(c);
    }
    if a.f.is_some() || b.f.is_some() {
        let (x, y) = (a.as_f64(), b.as_f64());
        let r = match op {
            "+" => x + y,
            "-" => x - y,
            "*" => x * y,
            "/" if y != 0.0 => x / y,
            _ => return None,
        };
        return Some(Num::real(r));
    }
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
    Some(Num::int(v, bits, signed))
}

/// Comparisons and logical operators: 1 or 0.
fn compare(op: &str, a: Num, b: Num) -> Option<Num> {
    let (x, y) = (a.as_f64(), b.as_f64());
    let exact = a.f.is_none() && b.f.is_none();
    let r = match op {
        "<" => x < y,
        ">" => x > y,
        "<=" => x <= y,
        ">=" => x >= y,
        "==" if exact => a.v == b.v,
        "!=" if exact => a.v != b.v,
        "==" => x == y,
        "!=" => x != y,
        "&&" => !a.zero() && !b.zero(),
        "||" => !a.zero() || !b.zero(),
        _ => return None,
    };
    // An unsigned comparison with a negative value converts it: not decided here.
    if exact && a.signed != b.signed && (a.v < 0 || b.v < 0) {
        return None;
    }
    Some(Num::truth(r))
}

/// The value of a constant expression, reporting overflows and zero divisors on the way.
pub(super) fn eval(
    f: &Func,
    n: Node,
    env: &HashMap<String, Num>,
    out: &mut Vec<Finding>,
) -> Option<Num> {
    let src = f.src;
    let n = strip(n);
    match n.kind_name() {
        "number_literal" => {
            let t = text(src, n);
            if t.contains(['.', 'e', 'E']) && !t.starts_with("0x") && !t.starts_with("0X") {
                let x: f64 = t.trim_end_matches(['f', 'F', 'l', 'L']).parse().ok()?;
                return Some(Num::real(x));
            }
            let lower = t.to_ascii_lowercase();
            let bits = if lower.ends_with('l') { 64 } else { 32 };
            let v = i128::from(parse_int(t)?);
            // A decimal literal too big for int is long: it has the type that holds it.
            let bits = if v > i128::from(i32::MAX) { 64 } else { bits };
            Some(Num::int(v, bits, !lower.contains('u')))
        }
        "true" | "false" => Some(Num::int(
            match f.file.defines.get(text(src, n)) {
                Some(&v) => v.into(),
                None => i128::from(n.kind_name() == "true"),
            },
            32,
            true,
        )),
        "identifier" => env.get(text(src, n)).copied().or_else(|| {
            f.file
                .defines
                .get(text(src, n))
                .map(|&v| Num::int(v.into(), 32, true))
        }),
        "unary_expression" => {
            let op = n.field("operator").map(|o| text(src, o))?;
            let a = eval(f, n.field("argument")?, env, out)?;
            match op {
                "-" => Some(Num {
                    v: -a.v,
                    f: a.f.map(|x| -x),
                    ..a
                }),
                "+" => Some(a),
                "!" => Some(Num::truth(a.zero())),
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
            if matches!(name, "atoi" | "atol" | "atoll") {
                let s = string_value(src, *args.first()?)?;
                let v: i128 = s.trim().parse().ok()?;
                let bits = if name == "atoi" { 32 } else { 64 };
                let num = Num::int(v, bits, true);
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
            if matches!(op, "/" | "%") && r.is_some_and(|r| r.zero()) {
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
        if n.kind_name() != "for_statement" {
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
            if x.kind_name() != "binary_expression" {
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

pub(super) fn short(t: &str) -> String {
    let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    t.chars().take(60).collect()
}
