//! C++ references, pointers and iterators into a container, used after a call that
//! may reallocate or shift its elements: `Track& first = v.front(); v.push_back(t);
//! first.plays++;`, a range-for whose body grows the vector it walks, an iterator
//! loop that erases without taking `erase`'s result.

use super::func::Func;
use super::syntax::{call, descendants, line, mentions, path_of, strip, subscript, text};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use tree_sitter::Node;

/// Calls after which references and iterators into a vector-like container may dangle.
const INVALIDATES: &[&str] = &[
    "push_back",
    "emplace_back",
    "insert",
    "emplace",
    "resize",
    "reserve",
    "clear",
    "assign",
    "shrink_to_fit",
    "erase",
    "append",
];

/// Accessors returning an element (a reference to it).
const ELEMENT: &[&str] = &["front", "back", "at"];
/// Accessors returning an address or iterator into the storage.
const ADDRESS: &[&str] = &["data", "c_str", "begin", "end", "rbegin", "rend", "find"];

/// Containers that move their elements when they grow (vector, string, deque, Qt's).
fn moves_elements(ty: &str) -> bool {
    [
        "vector",
        "string",
        "deque",
        "QVector",
        "QList",
        "QString",
        "SmallVector",
    ]
    .iter()
    .any(|t| ty.contains(t))
}

/// `v.push_back(x)` → (`v`, `push_back`).
pub(crate) fn method_call<'s>(src: &'s str, n: Node) -> Option<(&'s str, &'s str)> {
    let (name, _) = call(src, n)?;
    let (recv, method) = name.rsplit_once("->").or_else(|| name.rsplit_once('.'))?;
    Some((recv.trim(), method.trim()))
}

/// How a value refers into a container.
#[derive(Clone, Copy, PartialEq)]
enum Into {
    /// An element (`v.front()`, `v[i]`): only a reference bound to it points into `v`.
    Element,
    /// An address or iterator (`&v[i]`, `v.data()`, `v.begin()`, `std::find(...)`).
    Address,
    /// The raw pointer a stored smart pointer owns (`m[id].get()`): any erase or clear of
    /// the container, here or in a function of the file it calls, may free it.
    Held,
    /// The raw pointer a smart pointer owns (`Conn* c = conn_.get();`): its `reset()` or
    /// a new value assigned to it frees the object.
    Owned,
}

/// The container of `m[id]` or `m.at(id)` written as text (a receiver), when its type is
/// not a plain array or pointer.
fn strip_element(f: &Func, recv: &str) -> Option<String> {
    let base = recv
        .split_once('[')
        .map(|(b, _)| b)
        .or_else(|| {
            recv.strip_suffix(')')
                .and_then(|r| r.split_once(".at(").map(|(b, _)| b))
        })
        .or_else(|| {
            // `segments_.back().get()`: the last element, freed by `pop_back()` too.
            recv.strip_suffix(".back()")
                .or_else(|| recv.strip_suffix(".front()"))
        })?
        .trim();
    let plain = base
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '>' || c == '-');
    let pointer = f
        .type_of(base)
        .is_some_and(|t| t.contains('*') || t.contains('['));
    (plain && !base.is_empty() && !pointer).then(|| base.to_string())
}

/// Functions of the file whose body erases from or clears `container` (`void evict(id)
/// { panels_.erase(id); }`): a call to one changes it too.
fn clearing_functions(f: &Func, container: &str) -> Vec<String> {
    let src = f.src;
    f.file
        .functions
        .iter()
        .filter(|&&func| {
            f.file.body_nodes(func).iter().any(|&x| {
                method_call(src, x)
                    .is_some_and(|(r, m)| r == container && matches!(m, "erase" | "clear"))
            })
        })
        .map(|&func| super::file::signature(src, func).0)
        .filter(|name| !name.is_empty())
        .collect()
}

/// The container a value refers into, and how: `v` of `v.front()`, `v[i]`, `&v[0]`,
/// `v.data()`, `v.begin()`, `std::find(v.begin(), v.end(), x)`.
fn container_of(f: &Func, n: Node) -> Option<(String, Into)> {
    let src = f.src;
    let n = strip(n);
    match n.kind_name() {
        "pointer_expression" => {
            let address = n.child(0).is_some_and(|o| o.kind_name() == "&");
            let (c, how) = container_of(f, n.field("argument")?)?;
            (address && how == Into::Element).then_some((c, Into::Address))
        }
        "subscript_expression" => {
            let (arr, _) = subscript(n)?;
            let name = path_of(src, arr)?;
            // A plain array or pointer does not reallocate.
            declared_type(f, &name)
                .is_some_and(moves_elements)
                .then_some((name, Into::Element))
        }
        // `m.count(id) ? m[id].get() : nullptr`: whichever arm points into a container.
        "conditional_expression" => ["consequence", "alternative"]
            .iter()
            .filter_map(|k| n.field(k))
            .find_map(|arm| container_of(f, arm)),
        "call_expression" => {
            if let Some((recv, method)) = method_call(src, n) {
                // `m[id].get()`, `m.at(id).get()`: the raw pointer of the smart pointer an
                // element holds; erasing the element frees what it points at.
                if method == "get" {
                    let held = strip_element(f, recv);
                    if held.is_some() {
                        return held.map(|c| (c, Into::Held));
                    }
                    let owner = recv.trim_start_matches("this->");
                    let smart = f
                        .type_of(owner)
                        .or_else(|| f.file.member_types.get(owner).map(String::as_str))
                        .is_some_and(|t| t.contains("unique_ptr") || t.contains("shared_ptr"));
                    if smart {
                        return Some((owner.to_string(), Into::Owned));
                    }
                }
                if ELEMENT.contains(&method) {
                    return Some((recv.to_string(), Into::Element));
                }
                // `names_[0].c_str()`, `rows_.back().data()`: the characters of an
                // element of a vector of strings, which move when the vector grows.
                if matches!(method, "c_str" | "data") {
                    let element = strip_element(f, recv).filter(|c| vector_like(f, c));
                    if let Some(c) = element {
                        return Some((c, Into::Element));
                    }
                }
                return ADDRESS
                    .contains(&method)
                    .then(|| (recv.to_string(), Into::Address));
            }
            let (name, args) = call(src, n)?;
            if matches!(name, "find" | "find_if" | "lower_bound" | "upper_bound") {
                return args
                    .first()
                    .and_then(|a| container_of(f, *a))
                    .filter(|(_, how)| *how == Into::Address);
            }
            None
        }
        _ => None,
    }
}

/// The name an `init_declarator` declares (`first` of `Track& first = …`), and whether
/// it is a reference.
fn declared_name<'s>(src: &'s str, d: Node) -> Option<(&'s str, bool)> {
    let mut d = d.field("declarator")?;
    let mut reference = false;
    loop {
        match d.kind_name() {
            "identifier" => return Some((text(src, d), reference)),
            "reference_declarator" | "pointer_declarator" => {
                reference |= d.kind_name() == "reference_declarator";
                let last = u32::try_from(d.named_child_count().checked_sub(1)?).ok()?;
                d = d.named_child(last)?;
            }
            _ => return None,
        }
    }
}

fn vector_like(f: &Func, container: &str) -> bool {
    // A member or parameter whose type the file does not spell out is taken to be a
    // vector: a `std::list` declared in another file would be flagged.
    // (A member's declared type is not asked: a map member is then still searched for
    // a helper erasing the element a reference was taken from.)
    f.type_of(container).is_none_or(moves_elements)
}

/// The declared type of a local or parameter, else of a member of a class of the file
/// or of its headers (`cues_` of `std::vector<Cue> cues_;` in the class's header).
fn declared_type<'a>(f: &'a Func, name: &str) -> Option<&'a str> {
    f.type_of(name).or_else(|| {
        let member = name.trim_start_matches("this->");
        f.file.member_types.get(member).map(String::as_str)
    })
}

/// References, pointers and iterators used after their container was changed.
pub(crate) fn invalidated(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        match n.kind_name() {
            "init_declarator" => held_across_growth(f, n, out),
            "for_range_loop" => {
                let (Some(range), Some(body)) = (n.field("right"), n.field("body")) else {
                    continue;
                };
                let container = text(src, range).trim();
                if !vector_like(f, container) {
                    continue;
                }
                if let Some(grow) = descendants(body).into_iter().find(|&x| {
                    method_call(src, x).is_some_and(|(r, m)| {
                        r == container && INVALIDATES.contains(&m) && m != "reserve"
                    })
                }) {
                    out.push(Finding {
                        check: "invalidated-reference",
                        line: line(grow),
                        label: format!(
                            "`{}` changes `{container}` while a range-for walks it: its iterators dangle",
                            text(src, grow)
                        ),
                    });
                } else if let Some(call) = reentrant_dispatch(f, n, container, body) {
                    out.push(Finding {
                        check: "invalidated-reference",
                        line: line(call),
                        label: format!(
                            "`{}` runs a callback while a range-for walks `{container}`, and the file erases from `{container}` elsewhere (a callback that unsubscribes itself): its iterators dangle",
                            text(src, call)
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}

/// `for (auto& cb : listeners_) cb(ev);` in a file with a function erasing from
/// `listeners_` (`unsubscribe(id)`): a callback that unsubscribes during the dispatch
/// erases from the vector the loop walks. The call of the element, when so.
fn reentrant_dispatch<'t>(
    f: &Func<'_, 't>,
    each: Node<'t>,
    container: &str,
    body: Node<'t>,
) -> Option<Node<'t>> {
    let src = f.src;
    let var = each.field("declarator").map(|d| {
        text(src, d)
            .trim_start_matches(['&', '*', ' '])
            .trim()
            .to_string()
    })?;
    if var.is_empty() || !var.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    // The element itself called (`listener(event)`): a callable someone registered.
    let called = descendants(body).into_iter().find(|&x| {
        x.kind_name() == "call_expression"
            && x.field("function")
                .is_some_and(|fun| text(src, fun).trim() == var)
    })?;
    // A function of the file erasing one element (`unsubscribe(id)`), not a `clear()`
    // at shutdown.
    let own = f.name.rsplit("::").next().unwrap_or(&f.name);
    let member = container.trim_start_matches("this->");
    let erasing = f.file.functions.iter().any(|&g| {
        let name = super::file::signature(src, g).0;
        name != own
            && f.file.body_nodes(g).iter().any(|&x| {
                method_call(src, x)
                    .is_some_and(|(r, m)| r.trim_start_matches("this->") == member && m == "erase")
            })
    });
    erasing.then_some(called)
}

/// `T& r = v.front(); … v.push_back(x); … r` (or a pointer or iterator likewise). For
/// a map, set or list, whose other elements stay put, only `erase(it)` of the iterator
/// itself: it frees the element, and what was taken out of it by reference (`auto& s =
/// it->second;`, `T* p = it->second.get();`) dangles with it.
fn held_across_growth(f: &Func, n: Node, out: &mut Vec<Finding>) {
    let src = f.src;
    let (Some((name, reference)), Some(value)) = (declared_name(src, n), n.field("value")) else {
        return;
    };
    let Some((container, how)) = container_of(f, value) else {
        return;
    };
    // A view (`std::string_view v = names_[0];`, `const char *p = names_[0].c_str();`)
    // points into the element as a reference does.
    // (Not a copy of an element that is itself a view: `std::vector<std::string_view>`.)
    let of_views = declared_type(f, &container)
        .is_some_and(|t| t.contains("string_view") || t.contains("span<"));
    let reference = reference || (viewing(src, n, value) && !of_views);
    // `State *s = q.front();` copies the element out: nothing points into `q`.
    if how == Into::Element && !reference {
        return;
    }
    let node_based = !vector_like(f, &container);
    if node_based && how == Into::Element {
        return;
    }
    // Functions of the file that erase from or clear the container: calling one changes
    // it as `erase` here would (`remove(id)` erasing `passes_[id]`).
    // Not the function itself (a recursive call is not what a caller sees change).
    let own = f.name.rsplit("::").next().unwrap_or(&f.name).to_string();
    let clearing: Vec<String> = clearing_functions(f, &container)
        .into_iter()
        .filter(|g| g.rsplit("::").next().unwrap_or(g) != own)
        .collect();
    // Only the declaration's own block: a later `it` in a sibling block is another one.
    let scope = enclosing_block(n);
    let inside = |x: Node| {
        scope.is_none_or(|b| b.start_byte() <= x.start_byte() && x.end_byte() <= b.end_byte())
    };
    let after = n.end_byte();
    // A call of one of them; `::close(fd)` names the global function, not a method.
    let clears = |x: Node| {
        let global = x
            .field("function")
            .is_some_and(|c| text(src, c).trim_start().starts_with("::"));
        !global
            && call(src, x).is_some_and(|(c, _)| {
                let c = c.trim_start_matches("this->");
                clearing.iter().any(|g| g == c)
            })
    };
    let changes = |x: Node| {
        if how == Into::Owned {
            let reset = method_call(src, x)
                .is_some_and(|(r, m)| r.trim_start_matches("this->") == container && m == "reset");
            let replaced = x.kind_name() == "assignment_expression"
                && x.field("left")
                    .is_some_and(|l| text(src, l).trim().trim_start_matches("this->") == container);
            return reset || replaced;
        }
        if how == Into::Held {
            let direct = method_call(src, x).is_some_and(|(r, m)| {
                r == container && matches!(m, "erase" | "clear" | "pop_back" | "pop_front")
            });
            return direct || clears(x);
        }
        clears(x)
            || method_call(src, x).is_some_and(|(r, m)| {
                r == container
                    && if node_based {
                        m == "erase"
                            && call(src, x).is_some_and(|(_, args)| {
                                args.len() == 1 && text(src, args[0]).trim() == name
                            })
                    } else {
                        INVALIDATES.contains(&m)
                    }
            })
    };
    let Some(grow) = f
        .nodes
        .iter()
        .copied()
        .find(|&x| x.start_byte() >= after && inside(x) && changes(x))
    else {
        return;
    };
    let handles = element_handles(f, name, after, grow.start_byte());
    let dangling = std::iter::once(name)
        .chain(handles.iter().map(String::as_str))
        .find(|h| used_after(f, grow, h, &inside));
    if let Some(h) = dangling {
        let how = if how == Into::Owned {
            "frees what it owns"
        } else if node_based || how == Into::Held {
            "frees the element"
        } else {
            "may move its elements"
        };
        out.push(Finding {
            check: "invalidated-reference",
            line: line(grow),
            label: format!(
                "`{h}` points into `{container}`, and `{}` {how} before `{h}` is used again",
                text(src, grow)
            ),
        });
    }
}

/// Whether the declaration `n` makes a view of what `value` names: a string_view or
/// span, or the characters of an element (`.c_str()`, `.data()`).
fn viewing(src: &str, n: Node, value: Node) -> bool {
    let ty = n
        .parent()
        .and_then(|d| d.field("type"))
        .map_or("", |t| text(src, t));
    let v = text(src, value).trim_end();
    ty.contains("string_view")
        || ty.contains("span<")
        || v.ends_with(".c_str()")
        || v.ends_with(".data()")
}

/// Locals declared between bytes `from` and `to` that refer into the element the
/// iterator `it` designates: a reference bound through it (`auto& s = it->second;`), an
/// address taken through it (`&it->second`), or the raw pointer of the smart pointer it
/// holds (`it->second.get()`). A pointer copied out of it (`T* p = it->second;`) is not:
/// the element only held it.
fn element_handles(f: &Func, it: &str, from: usize, to: usize) -> Vec<String> {
    let src = f.src;
    let through = [format!("{it}->"), format!("*{it}"), format!("{it}.")];
    f.nodes
        .iter()
        .filter(|d| {
            d.kind_name() == "init_declarator" && d.start_byte() >= from && d.end_byte() <= to
        })
        .filter_map(|&d| {
            let (name, reference) = declared_name(src, d)?;
            let v = text(src, d.field("value")?).trim();
            let into = reference || v.starts_with('&') || v.ends_with(".get()");
            (into && through.iter().any(|t| v.contains(t.as_str()))).then(|| name.to_string())
        })
        .collect()
}

/// Whether `name` is read after `grow` before it is set again (`it = v.erase(it)`,
/// `p = v.data()`); a log line reading `it->host` first reads freed memory. With no
/// read after, whether a loop around `grow` reads it on its next turn.
fn used_after(f: &Func, grow: Node, name: &str, inside: &dyn Fn(Node) -> bool) -> bool {
    let src = f.src;
    let reset = f
        .nodes
        .iter()
        .filter(|x| {
            x.kind_name() == "assignment_expression"
                && x.end_byte() >= grow.end_byte()
                && x.field("left").is_some_and(|l| text(src, l).trim() == name)
        })
        .map(|x| x.start_byte())
        .min();
    let first_use = f
        .nodes
        .iter()
        .filter(|&&x| {
            x.kind_name() == "identifier"
                && x.start_byte() >= grow.end_byte()
                && inside(x)
                && text(src, x) == name
                && !assigned_to(x)
        })
        .map(|x| x.start_byte())
        .min();
    match (first_use, reset) {
        (Some(used), Some(reset)) => used < reset,
        (Some(_), None) => true,
        (None, None) => next_turn_uses(src, grow, name),
        (None, Some(_)) => false,
    }
}

/// Whether `x` is the target of an assignment (`it = …`), which writes it, not reads.
fn assigned_to(x: Node) -> bool {
    x.parent().is_some_and(|p| {
        p.kind_name() == "assignment_expression"
            && p.field("left").is_some_and(|l| l.id() == x.id())
    })
}

/// Whether a loop around `n` reads `name` in its condition or update, which run again
/// after `n` (`for (auto it = v.begin(); it != v.end(); ++it) v.erase(it);`).
fn next_turn_uses(src: &str, n: Node, name: &str) -> bool {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if matches!(
            p.kind_name(),
            "for_statement" | "while_statement" | "do_statement"
        ) {
            let reads = ["condition", "update"]
                .iter()
                .filter_map(|k| p.field(k))
                .any(|c| mentions(text(src, c), name));
            if reads {
                return true;
            }
        }
        if p.kind_name() == "function_definition" {
            return false;
        }
        cur = p;
    }
    false
}

/// The block a declaration belongs to: its compound statement, or the loop whose
/// header declares it.
fn enclosing_block(n: Node) -> Option<Node> {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if matches!(
            p.kind_name(),
            "compound_statement" | "for_statement" | "for_range_loop"
        ) {
            return Some(p);
        }
        cur = p;
    }
    None
}
