//! C++ locals that die while something still refers to them: a `std::string_view` (or
//! a `c_str()` pointer) returned into a local string, and a lambda capturing a local
//! by reference handed to a timer, an executor or a callback slot that calls it after
//! the function returned.

use super::func::Func;
use super::syntax::{call, descendants, line, mentions, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// A local variable of the function: its name, its declared type, and whether it owns
/// its storage (not a reference, a pointer or a `static`).
pub(crate) struct Local {
    pub name: String,
    pub ty: String,
    pub owned: bool,
    pub at: usize,
}

/// Whether `n` lies inside a lambda of the function (its own returns and locals).
pub(crate) fn in_lambda(n: Node, body: Node) -> bool {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if p.id() == body.id() {
            return false;
        }
        if p.kind_name() == "lambda_expression" {
            return true;
        }
        cur = p;
    }
    false
}

/// The locals the function's body declares (not those of its lambdas).
pub(crate) fn locals(f: &Func) -> Vec<Local> {
    let src = f.src;
    let mut out = Vec::new();
    for &d in &f.nodes {
        if d.kind_name() != "declaration" || in_lambda(d, f.body) {
            continue;
        }
        let ty = d.field("type").map(|t| text(src, t)).unwrap_or("");
        let mut c = d.walk();
        let stat = d.children(&mut c).any(|x| {
            x.kind_name() == "storage_class_specifier"
                && matches!(text(src, x), "static" | "extern" | "thread_local")
        });
        let mut c = d.walk();
        for decl in d.children_by_field_name("declarator", &mut c) {
            let mut x = decl;
            if x.kind_name() == "init_declarator" {
                match x.field("declarator") {
                    Some(inner) => x = inner,
                    None => continue,
                }
            }
            let owned = x.kind_name() == "identifier";
            let name = match x.kind_name() {
                "identifier" => text(src, x),
                _ => descendants(x)
                    .into_iter()
                    .find(|i| i.kind_name() == "identifier")
                    .map_or("", |i| text(src, i)),
            };
            if name.is_empty() {
                continue;
            }
            out.push(Local {
                name: name.to_string(),
                ty: ty.to_string(),
                owned: owned && !stat,
                at: d.start_byte(),
            });
        }
    }
    out
}

/// Owning string and buffer types: a view into one dies with it.
fn owns_characters(ty: &str) -> bool {
    let ty = ty.trim_start_matches("const ").trim();
    (ty.contains("string") && !ty.contains("string_view"))
        || ty.contains("vector")
        || ty.contains("array<")
        || ty.contains("ostringstream")
}

/// The function's declared return type, as written (`std::string_view`, `const char`).
fn return_type<'s>(src: &'s str, body: Node) -> Option<(&'s str, bool)> {
    let def = body.parent()?;
    let ty = text(src, def.field("type")?);
    let pointer = def
        .field("declarator")
        .is_some_and(|d| d.kind_name() == "pointer_declarator");
    Some((ty, pointer))
}

/// A type without `const` and its template arguments: `const std::span<const T>` is a
/// `std::span`, `std::vector<std::string_view>` a `std::vector`.
fn outer_type(ty: &str) -> &str {
    ty.trim_start_matches("const ")
        .split('<')
        .next()
        .unwrap_or("")
        .trim()
}

/// `return label;` where `label` is a local `std::string` and the function returns a
/// `std::string_view` or `std::span` (or `return label.c_str();` from a `const char *`
/// function): the view points into storage the return destroys.
pub(crate) fn returned_views(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    let Some((ty, pointer)) = return_type(src, f.body) else {
        return;
    };
    // The type itself a view (`std::string_view`, `std::span<const T>`), not a
    // container of views (`std::vector<std::string_view>`) returned by value.
    let outer = outer_type(ty);
    let view = outer.ends_with("string_view") || outer.ends_with("span");
    let chars = pointer && ty.contains("char");
    if !view && !chars {
        return;
    }
    let locals = locals(f);
    for &r in &f.nodes {
        if r.kind_name() != "return_statement" || in_lambda(r, f.body) {
            continue;
        }
        let Some(value) = r.named_child(0).map(strip) else {
            continue;
        };
        // A view of a string built in the return itself (`return a + " / " + b;`,
        // `return std::to_string(n);`) dies at the end of the statement.
        if view && temporary_string(src, value) {
            out.push(Finding {
                check: "dangling-return",
                line: line(r),
                label: format!(
                    "`{}` returns a view of a temporary string destroyed by the return",
                    text(src, r).trim()
                ),
            });
            continue;
        }
        // `return s;` (a view only), `return s.c_str();`, `return s.data();`.
        let name = match value.kind_name() {
            "identifier" if view => text(src, value),
            "call_expression" => {
                let Some((m, args)) = call(src, value) else {
                    continue;
                };
                let fun = value.field("function");
                let recv = fun
                    .and_then(|fun| fun.field("argument"))
                    .filter(|a| a.kind_name() == "identifier");
                let m = fun
                    .and_then(|fun| fun.field("field"))
                    .map_or(m, |x| text(src, x));
                match recv {
                    Some(recv) if matches!(m, "c_str" | "data") && args.is_empty() => {
                        text(src, recv)
                    }
                    _ => continue,
                }
            }
            _ => continue,
        };
        // A local, or a parameter taken by value (`std::string_view f(std::string s)`).
        let ty = locals
            .iter()
            .find(|l| l.name == name && l.owned && l.at < r.start_byte())
            .map(|l| l.ty.as_str())
            .or_else(|| {
                f.params
                    .iter()
                    .find(|(p, t)| p == name && !t.ends_with('*'))
                    .map(|(_, t)| t.as_str())
            });
        let Some(ty) = ty.filter(|t| owns_characters(t)) else {
            continue;
        };
        out.push(Finding {
            check: "dangling-return",
            line: line(r),
            label: format!(
                "`{}` returns a view of `{name}`, a local `{}` destroyed by the return",
                text(src, r).trim(),
                ty.trim()
            ),
        });
    }
}

/// `std::string_view line = who + ": " + n;` (or a member view assigned so): the view
/// is bound to a string destroyed at the end of the statement, and every later read of
/// it reads freed memory.
pub(crate) fn views_of_temporaries(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains("string_view") {
        return;
    }
    for &n in &f.nodes {
        let (target, value, ty) = match n.kind_name() {
            "init_declarator" => {
                let Some(decl) = n.parent().filter(|d| d.kind_name() == "declaration") else {
                    continue;
                };
                let ty = decl.field("type").map_or("", |t| text(src, t));
                (n.field("declarator"), n.field("value"), ty)
            }
            "assignment_expression" => {
                let left = n.field("left");
                let name = left.map_or("", |l| text(src, l).trim().trim_start_matches("this->"));
                let ty = f.file.member_types.get(name).map_or("", String::as_str);
                (left, n.field("right"), ty)
            }
            _ => continue,
        };
        let (Some(target), Some(value)) = (target, value) else {
            continue;
        };
        if !outer_type(ty).ends_with("string_view") || !temporary_string(src, strip(value)) {
            continue;
        }
        out.push(Finding {
            check: "dangling-return",
            line: line(n),
            label: format!(
                "`{}` is a view of a temporary string destroyed at the end of the statement",
                text(src, target).trim()
            ),
        });
    }
}

/// A std::string made by the expression itself: a concatenation with a literal or a
/// `std::to_string`, or a `std::string(…)` construction.
fn temporary_string(src: &str, n: Node) -> bool {
    match n.kind_name() {
        "binary_expression" => {
            n.child(1).is_some_and(|o| o.kind_name() == "+")
                && descendants(n).iter().any(|&x| {
                    x.kind_name() == "string_literal"
                        || (x.kind_name() == "call_expression" && string_call(src, x))
                })
        }
        "call_expression" => string_call(src, n),
        _ => false,
    }
}

fn string_call(src: &str, n: Node) -> bool {
    n.field("function").is_some_and(|fun| {
        matches!(
            text(src, fun).trim(),
            "std::to_string" | "to_string" | "std::string" | "std::format" | "fmt::format"
        )
    })
}

/// Calls that keep a callable to run later: timers, executors, event loops, signal
/// connections, callback and listener slots.
const DEFERS: &[&str] = &[
    "after",
    "post",
    "defer",
    "dispatch",
    "enqueue",
    "submit",
    "schedule",
    "schedule_after",
    "scheduleAfter",
    "singleShot",
    "invokeLater",
    "runLater",
    "run_later",
    "call_later",
    "callLater",
    "setTimeout",
    "set_timeout",
    "add_timer",
    "addTimer",
    "start_timer",
    "startTimer",
    "connect",
    "subscribe",
    "then",
    "push_back",
    "emplace_back",
];

/// Whether a call named `name` keeps the callable it is given.
fn defers(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    DEFERS.contains(&name)
        || name.starts_with("async_")
        || ["callback", "handler", "listener"]
            .iter()
            .any(|w| lower.contains(w))
}

/// Whether a receiver is the object's state (`callbacks_`, `m_queue`, `this->x`, `a.b`)
/// rather than a local container that dies with the function too.
fn kept_by_object(recv: &str) -> bool {
    let last = recv.rsplit(['.', '>']).next().unwrap_or(recv);
    recv.contains('.') || recv.contains("->") || last.ends_with('_') || last.starts_with("m_")
}

/// Where a lambda goes: the call that keeps it (`timer_.after(d, [&]{…})`), or the
/// member it is stored in (`on_done_ = [&]{…}`).
fn kept_by<'s>(src: &'s str, lambda: Node) -> Option<&'s str> {
    let parent = lambda.parent()?;
    if parent.kind_name() == "assignment_expression" {
        let left = text(src, parent.field("left")?).trim();
        return kept_by_object(left).then_some(left);
    }
    if parent.kind_name() != "argument_list" {
        return None;
    }
    let callee = parent.parent()?;
    // `std::thread worker([&] {…}); worker.detach();`: the thread outlives the call.
    if callee.kind_name() == "init_declarator" {
        let decl = callee.parent()?;
        let ty = text(src, decl.field("type")?);
        let name = callee.field("declarator").map(|d| text(src, d))?;
        let detached = format!("{name}.detach()");
        let body = decl.parent().map_or("", |b| text(src, b));
        return (ty.contains("thread") && body.contains(&detached)).then_some(ty);
    }
    let (name, _) = call(src, callee)?;
    let name = name
        .rsplit_once("->")
        .or_else(|| name.rsplit_once('.'))
        .map_or(name, |(_, m)| m.trim());
    if !defers(name) {
        return None;
    }
    let fun = callee.field("function")?;
    // A local container (`std::vector<Task> tasks; tasks.push_back([&]{…})`) dies too.
    if matches!(name, "push_back" | "emplace_back") {
        let recv = text(src, fun.field("argument")?).trim();
        if !kept_by_object(recv) {
            return None;
        }
    }
    Some(text(src, fun))
}

/// Calls after which the function waits for what it handed out (`fut.get()`,
/// `worker.join()`, `io.run()`): the locals outlive the work.
const WAITS: &[&str] = &[
    "get", "wait", "wait_for", "join", "run", "exec", "sync", "drain", "flush",
];

/// A lambda capturing a local by reference (`[&count]`, or `[&]` reading one), handed
/// to a call that runs it later or stored in a member: when it runs, the function has
/// returned and the reference dangles.
pub(crate) fn escaping_captures(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    if !src.contains('&') {
        return;
    }
    let mut found: Option<Vec<Local>> = None;
    for &n in &f.nodes {
        if n.kind_name() != "lambda_expression" || in_lambda(n, f.body) {
            continue;
        }
        let Some(caps) = n.field("captures") else {
            continue;
        };
        if !text(src, caps).contains('&') {
            continue;
        }
        let Some(keeper) = kept_by(src, n) else {
            continue;
        };
        let locals = found.get_or_insert_with(|| locals(f));
        let items: Vec<&str> = text(src, caps)
            .trim_matches(['[', ']'])
            .split(',')
            .map(str::trim)
            .collect();
        let default_ref = items.contains(&"&");
        let body = n.field("body").map_or("", |b| text(src, b));
        let declared = |name: &str| {
            locals
                .iter()
                .any(|l| l.name == name && l.owned && l.at < n.start_byte())
                || f.params.iter().any(|(p, t)| p == name && !t.ends_with('*'))
        };
        let by_ref = items
            .iter()
            .filter_map(|i| i.strip_prefix('&'))
            .map(str::trim)
            .find(|name| !name.is_empty() && !name.contains('=') && declared(name))
            .map(str::to_string)
            .or_else(|| {
                default_ref
                    .then(|| {
                        locals
                            .iter()
                            .filter(|l| l.owned && l.at < n.start_byte())
                            .map(|l| l.name.as_str())
                            .chain(
                                f.params
                                    .iter()
                                    .filter(|(_, t)| !t.ends_with('*'))
                                    .map(|(p, _)| p.as_str()),
                            )
                            .find(|name| !name.is_empty() && mentions(body, name))
                            .map(str::to_string)
                    })
                    .flatten()
            });
        let Some(name) = by_ref else { continue };
        if waits_after(f, n) {
            continue;
        }
        out.push(Finding {
            check: "dangling-capture",
            line: line(n),
            label: format!(
                "the lambda given to `{keeper}` captures the local `{name}` by reference; it runs after the function returned"
            ),
        });
    }
}

/// Whether the function waits, after `n`, for the work it handed out.
fn waits_after(f: &Func, n: Node) -> bool {
    let src = f.src;
    f.nodes.iter().any(|&x| {
        x.start_byte() >= n.end_byte()
            && x.field("function")
                .filter(|fun| fun.kind_name() == "field_expression")
                .and_then(|fun| fun.field("field"))
                .is_some_and(|m| WAITS.contains(&text(src, m)))
    })
}
