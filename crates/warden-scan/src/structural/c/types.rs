//! Memory read as a type it does not hold, and shared state written by threads with
//! no lock.

use super::func::Func;
use super::syntax::{call, line, path_of, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// The base type of a declared type (`const struct point *` → `point`).
fn base(ty: &str) -> String {
    ty.replace("const ", "")
        .replace("struct ", "")
        .replace("volatile ", "")
        .trim_end_matches('*')
        .trim()
        .to_string()
}

/// `f(&b)` where `f` reads its parameter as another type; `*(long *)&y` for a `float
/// y`; a union written through one member and read through another.
pub(crate) fn type_confusion(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let mut written: Vec<(String, String)> = Vec::new();
    for &n in &f.nodes {
        match n.kind_name() {
            "call_expression" => {
                let Some((name, args)) = call(src, n) else {
                    continue;
                };
                swapped(f, n, name, &args, out);
                literal_write(f, n, name, &args, out);
                scanf_by_value(f, n, name, &args, out);
                let Some(expect) = f.file.pointee.get(name) else {
                    continue;
                };
                for (a, want) in args.iter().zip(expect) {
                    let (Some(have), Some(want)) = (address_of(f, *a), want) else {
                        continue;
                    };
                    // `struct point *` and a `struct point` variable name one type.
                    if have != base(want) && have != "void" {
                        out.push(Finding {
                            check: "type-confusion",
                            line: line(n),
                            label: format!("{name}() reads `{}` ({have}) as {want}", text(src, *a)),
                        });
                    }
                }
            }
            "pointer_expression" if text(src, n).starts_with('*') => {
                let Some(cast) = n.field("argument").map(strip_parens) else {
                    continue;
                };
                if cast.kind_name() != "cast_expression" {
                    continue;
                }
                let to = cast.field("type").map(|t| base(text(src, t)));
                let from = cast.field("value").and_then(|v| address_of(f, v));
                if let (Some(to), Some(from)) = (to, from) {
                    if to != from && scalar(&to) && scalar(&from) {
                        out.push(Finding {
                            check: "type-confusion",
                            line: line(n),
                            label: format!("`{}` reads a {from} as {to}", text(src, n)),
                        });
                    }
                }
            }
            "field_expression" => union_access(f, n, &mut written, out),
            "assignment_expression" | "init_declarator" => integer_to_pointer(f, n, out),
            "cast_expression" => {
                char_array_cast(f, n, out);
                // `(int *)strtoul(buf, ...)`: a pointer made from a number the input chose.
                let to_pointer = n.field("type").is_some_and(|t| text(src, t).contains('*'));
                let from_input = n.field("value").is_some_and(|v| {
                    let v = strip(v);
                    f.is_input(v)
                        && (v.kind_name() == "call_expression"
                            || !f.type_of(text(src, v)).is_some_and(|t| t.contains('*')))
                        && !text(src, v).contains("argv")
                });
                if to_pointer && from_input {
                    out.push(Finding {
                        check: "untrusted-pointer",
                        line: line(n),
                        label: format!("`{}` makes a pointer from input", text(src, n)),
                    });
                }
            }
            _ => {}
        }
    }
}

/// `ptr = arr[1]` for an `int arr[]` and an `int *ptr`, with no cast: an integer
/// (often one the input chose) used as an address. C compilers only warn.
fn integer_to_pointer(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    let (l, r) = if n.kind_name() == "init_declarator" {
        (n.field("declarator"), n.field("value"))
    } else {
        if n.field("operator").map(|o| text(src, o)) != Some("=") {
            return;
        }
        (n.field("left"), n.field("right"))
    };
    let (Some(mut l), Some(r)) = (l, r) else {
        return;
    };
    while let Some(x) = l.field("declarator") {
        l = x;
    }
    if l.kind_name() != "identifier" || !f.type_of(text(src, l)).is_some_and(|t| t.contains('*')) {
        return;
    }
    let r = strip_parens(r);
    // The integer's variable: `arr` of `arr[i]` for a non-pointer element type, or an
    // integer variable itself.
    let var = match r.kind_name() {
        "subscript_expression" => r.field("argument").filter(|a| {
            let name = text(src, *a);
            // `int grid[3][3]`: `grid[1]` is a row, an array that decays to a pointer.
            let rows = format!("{name}[");
            let nested = src.match_indices(&rows).any(|(i, _)| {
                let rest = &src[i + rows.len()..];
                rest.find(']')
                    .is_some_and(|k| rest[k + 1..].trim_start().starts_with('['))
            });
            // `int *ptrs[4]`: an array of pointers.
            let of_pointers = src
                .match_indices(&rows)
                .any(|(i, _)| src[..i].trim_end().ends_with('*'));
            a.kind_name() == "identifier" && f.array_len(name).is_some() && !nested && !of_pointers
        }),
        "identifier" if f.array_len(text(src, r)).is_none() => Some(r),
        _ => None,
    };
    let Some(var) = var else { return };
    let ty = f.type_of(text(src, var)).unwrap_or("");
    // Arrays are recorded as `T *`: the element type is `T`.
    let ty = if r.kind_name() == "subscript_expression" {
        ty.strip_suffix('*').unwrap_or(ty).trim_end()
    } else {
        ty
    };
    let integer = !ty.contains('*')
        && !ty.contains('[')
        && !ty.contains("float")
        && !ty.contains("double")
        && (scalar(&base(ty))
            || ty.contains("int")
            || ty.contains("long")
            || ty.contains("size_t"));
    if !integer {
        return;
    }
    let (check, how) = if f.is_input(r) {
        ("untrusted-pointer", "an integer read from input")
    } else {
        ("type-confusion", "an integer")
    };
    out.push(Finding {
        check,
        line: line(n),
        label: format!(
            "`{}` stores {how} in the pointer `{}`",
            text(src, n),
            text(src, l)
        ),
    });
}

fn strip_parens(n: Node) -> Node {
    let mut n = n;
    while n.kind_name() == "parenthesized_expression" {
        match n.named_child(0) {
            Some(x) => n = x,
            None => break,
        }
    }
    n
}

fn scalar(t: &str) -> bool {
    matches!(
        t,
        "int"
            | "long"
            | "short"
            | "char"
            | "float"
            | "double"
            | "unsigned"
            | "unsigned int"
            | "long long"
            | "unsigned long"
            | "int32_t"
            | "int64_t"
            | "uint32_t"
            | "uint64_t"
    )
}

/// The type of `x` in `&x`, when `x` is a plain variable of known non-pointer type.
fn address_of(f: &Func, a: Node) -> Option<String> {
    let a = strip(a);
    if a.kind_name() != "pointer_expression" || !text(f.src, a).starts_with('&') {
        return None;
    }
    let v = a.field("argument")?;
    if v.kind_name() != "identifier" {
        return None;
    }
    let ty = f.type_of(text(f.src, v))?;
    (!ty.contains('*')).then(|| base(ty))
}

fn union_access(f: &Func, n: Node, written: &mut Vec<(String, String)>, out: &mut Vec<Finding>) {
    let src = f.src;
    let (Some(obj), Some(field)) = (n.field("argument"), n.field("field")) else {
        return;
    };
    let Some(var) = path_of(src, obj) else { return };
    let is_union = f.type_of(&var).is_some_and(|t| {
        let b = base(t);
        t.contains("union ") || f.file.unions.contains(&b)
    });
    if !is_union {
        return;
    }
    let field = text(src, field).to_string();
    let assigned = n.parent().is_some_and(|p| {
        p.kind_name() == "assignment_expression"
            && p.field("left").is_some_and(|l| l.id() == n.id())
    });
    if assigned {
        written.retain(|(v, _)| *v != var);
        written.push((var, field));
        return;
    }
    if let Some((_, last)) = written.iter().find(|(v, _)| *v == var) {
        if *last != field {
            out.push(Finding {
                check: "type-confusion",
                line: line(n),
                label: format!("`{var}.{field}` is read after `{var}.{last}` was written"),
            });
        }
    }
}

/// Calls that take a lock (or make the section exclusive).
const LOCKS: &[&str] = &[
    "pthread_mutex_lock",
    "pthread_mutex_trylock",
    "pthread_spin_lock",
    "pthread_rwlock_wrlock",
    "mtx_lock",
    "sem_wait",
    "flock",
    "lockf",
    "EnterCriticalSection",
    "lock",
];

/// A thread's start routine that writes a global, or appends to a shared file, with no lock.
pub(crate) fn races(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !f.file.threads.contains(&f.name) {
        return;
    }
    let nodes = f.nodes.clone();
    let locked = nodes.iter().any(|n| {
        call(src, *n).is_some_and(|(c, _)| LOCKS.contains(&c) || c.starts_with("atomic_"))
    });
    if locked {
        return;
    }
    for n in nodes {
        let target = match n.kind_name() {
            "assignment_expression" => n.field("left"),
            "update_expression" => n.field("argument"),
            "call_expression" => {
                let Some((c, args)) = call(src, n) else {
                    continue;
                };
                let shared_file = c == "fopen"
                    && args
                        .first()
                        .is_some_and(|a| a.kind_name() == "string_literal")
                    && args
                        .get(1)
                        .is_some_and(|m| text(src, *m).contains(['a', 'w']));
                if shared_file {
                    out.push(Finding {
                        check: "race",
                        line: line(n),
                        label: format!("thread {}() writes a shared file with no lock", f.name),
                    });
                    return;
                }
                continue;
            }
            _ => None,
        };
        let Some(t) = target.and_then(|t| path_of(src, t)) else {
            continue;
        };
        let local = f.type_of(&t).is_some();
        if !local && f.file.globals.contains(&t) {
            out.push(Finding {
                check: "race",
                line: line(n),
                label: format!("thread {}() writes shared `{t}` with no lock", f.name),
            });
            return;
        }
    }
}

/// `write_file(text, filename)` for `write_file(const char *filename, const char *text)`:
/// two arguments named like each other's parameters.
fn swapped(f: &Func, n: Node, name: &str, args: &[Node], out: &mut Vec<Finding>) {
    let Some(params) = f.file.param_names.get(name) else {
        return;
    };
    let types = f.file.param_types.get(name);
    if params.len() != args.len() {
        return;
    }
    let names: Vec<Option<String>> = args
        .iter()
        .map(|a| (a.kind_name() == "identifier").then(|| text(f.src, *a).to_ascii_lowercase()))
        .collect();
    let like = |arg: &str, param: &str| {
        let param = param.to_ascii_lowercase();
        arg == param || (param.len() >= 3 && arg.ends_with(&format!("_{param}")))
    };
    for i in 0..args.len() {
        for j in i + 1..args.len() {
            let (Some(ai), Some(aj)) = (&names[i], &names[j]) else {
                continue;
            };
            // Swapped arguments of different types would not compile (or convert): only
            // parameters of one type are confused silently.
            let same_type = types.is_some_and(|t| t.get(i) == t.get(j));
            if same_type && like(ai, &params[j]) && like(aj, &params[i]) && !like(ai, &params[i]) {
                out.push(Finding {
                    check: "type-confusion",
                    line: line(n),
                    label: format!(
                        "{name}() gets `{ai}` and `{aj}` in each other's places ({}, {})",
                        params[i], params[j]
                    ),
                });
                return;
            }
        }
    }
}

/// A string literal (or a pointer to one) passed where the callee writes through the
/// pointer: the literal lives in read-only memory.
fn literal_write(f: &Func, n: Node, name: &str, args: &[Node], out: &mut Vec<Finding>) {
    let Some(&bits) = f.file.writes_param.get(name) else {
        return;
    };
    for (i, a) in args.iter().enumerate().take(64) {
        if bits & (1 << i) == 0 {
            continue;
        }
        let a = strip(*a);
        // `hash(digest, argv[1])` for `hash(const char *in, char out[65])`: the output
        // goes into a command-line string, sized by what the user typed.
        let command_line = a.kind_name() == "subscript_expression"
            && a.field("argument").is_some_and(|x| {
                let v = text(f.src, x);
                v == "argv" || (f.name == "main" && f.params.get(1).is_some_and(|(p, _)| p == v))
            });
        if command_line {
            out.push(Finding {
                check: "type-confusion",
                line: line(n),
                label: format!(
                    "{name}() writes its output through `{}`, a command-line string sized by the user (arguments in each other's places?)",
                    text(f.src, a)
                ),
            });
            return;
        }
        let literal = a.kind_name() == "string_literal"
            || (a.kind_name() == "identifier"
                && f.is_literal_var(text(f.src, a))
                && f.array_len(text(f.src, a)).is_none());
        if literal {
            out.push(Finding {
                check: "literal-write",
                line: line(n),
                label: format!(
                    "{name}() writes through `{}`, which points at a string literal",
                    text(f.src, a)
                ),
            });
            return;
        }
    }
}

/// `scanf("%d", n)`: a value where the call needs an address to store into.
fn scanf_by_value(f: &Func, n: Node, name: &str, args: &[Node], out: &mut Vec<Finding>) {
    let first = match name {
        "scanf" => 1,
        "fscanf" | "sscanf" => 2,
        _ => return,
    };
    for a in args.iter().skip(first) {
        let a = strip(*a);
        if a.kind_name() != "identifier" {
            continue;
        }
        let v = text(f.src, a);
        let by_value = f
            .type_of(v)
            .is_some_and(|t| !t.contains('*') && !t.contains('['));
        if by_value && f.array_len(v).is_none() {
            out.push(Finding {
                check: "untrusted-pointer",
                line: line(n),
                label: format!(
                    "{name}() stores through `{v}`, a value passed where its address belongs"
                ),
            });
            return;
        }
    }
}

/// `(int *)buf` for a `char buf[8]`: bytes read as a wider type (alignment, aliasing,
/// and whatever the bytes happen to hold).
fn char_array_cast(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some(ty) = n.field("type").map(|t| text(src, t)) else {
        return;
    };
    if !ty.contains('*') {
        return;
    }
    let to = base(ty);
    if !scalar(&to) || to == "char" {
        return;
    }
    let Some(v) = n.field("value").map(strip) else {
        return;
    };
    if v.kind_name() != "identifier" {
        return;
    }
    let name = text(src, v);
    let char_array = f.array_len(name).is_some()
        && f.array_bytes(name)
            .zip(f.array_len(name))
            .is_some_and(|(b, l)| b == l);
    if char_array {
        out.push(Finding {
            check: "type-confusion",
            line: line(n),
            label: format!("`{}` reads the char array `{name}` as {to}", text(src, n)),
        });
    }
}
