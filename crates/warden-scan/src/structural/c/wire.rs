//! Lengths and sizes read out of a byte buffer (a packet, a file header) and used
//! unchecked: `len = p[1]; memcpy(out, p + 2, len)`, `w * h * c` from a header
//! handed to malloc().
//!
//! A value is "from the wire" when it is read through a byte pointer (`p[i]`,
//! `p[2] << 8 | p[3]`, `ntohs(*(uint16_t *)(p + 2))`), copied out of one
//! (`memcpy(&hdr->width, data, 4)`), or computed from such values. A comparison of
//! the value before the use clears it.

use super::func::Func;
use super::syntax::{assignment_sides, call, descendants, line, path_of, strip, subscript, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

/// Element types of a raw byte buffer.
const BYTES: &[&str] = &[
    "uint8_t",
    "u_char",
    "u8",
    "unsigned char",
    "byte",
    "BYTE",
    "guint8",
    "u_int8_t",
];

/// Which uses of a value read from a byte buffer to report.
pub(crate) struct Wanted {
    pub copies: bool,
    pub allocs: bool,
    pub indexes: bool,
}

/// Copies, allocations and array indexes whose length, size or index was read from a
/// byte buffer.
pub(crate) fn wire_lengths(f: &Func, out: &mut Vec<Finding>, want: Wanted) {
    let Wanted {
        copies,
        allocs,
        indexes,
    } = want;
    let src = f.src;
    let byte_ptr = |name: &str| {
        f.type_of(name).is_some_and(|t| {
            t.contains('*') && {
                let base = t
                    .trim_end_matches('*')
                    .trim()
                    .trim_start_matches("const ")
                    .trim();
                BYTES.contains(&base)
            }
        })
    };
    if !f.types.keys().any(|k| byte_ptr(k)) {
        return;
    }
    let reads_bytes = |e: Node| {
        descendants(e).into_iter().any(|x| match x.kind_name() {
            "subscript_expression" => subscript(x)
                .and_then(|(a, _)| path_of(src, a))
                .is_some_and(|a| byte_ptr(&a)),
            "pointer_expression" if text(src, x).starts_with('*') => {
                x.field("argument").is_some_and(|a| {
                    descendants(a)
                        .into_iter()
                        .any(|i| is_byte_id(src, i, &byte_ptr))
                })
            }
            // `rd16(buf + 2)`, `get_be32(p)`, `ntohs(...)`: an integer decoded from
            // the bytes by a helper.
            "call_expression" => call(src, x).is_some_and(|(c, args)| {
                is_int_decoder(c)
                    && args.iter().any(|a| {
                        descendants(*a)
                            .into_iter()
                            .any(|i| is_byte_id(src, i, &byte_ptr))
                    })
            }),
            _ => false,
        })
    };
    let mut wire: HashSet<String> = HashSet::new();
    let mut products: HashSet<String> = HashSet::new();
    // What each value was computed from: a check of `w` covers `bytes = w * h`.
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    for _ in 0..2 {
        for &n in &f.nodes {
            match n.kind_name() {
                "init_declarator" | "assignment_expression" => {
                    let (l, r) = assignment_sides(n);
                    let (Some(l), Some(r)) = (l, r) else { continue };
                    let Some(t) = path_of(src, l) else { continue };
                    if byte_ptr(&t) || f.type_of(&t).is_some_and(|ty| ty.contains('*')) {
                        continue;
                    }
                    let from_wire = reads_bytes(r) || mentions_any(src, r, &wire);
                    if from_wire {
                        // `p[i + 2]`: the offset of a byte read is not what the value is.
                        let from: Vec<String> = descendants(r)
                            .into_iter()
                            .filter(|x| {
                                !under(*x, r, &["subscript_expression", "pointer_expression"])
                            })
                            .filter_map(|x| path_of(src, x))
                            .filter(|p| wire.contains(p) && *p != t)
                            .collect();
                        sources.entry(t.clone()).or_default().extend(from);
                        if has_product(src, r) {
                            products.insert(t.clone());
                        }
                        wire.insert(t);
                    }
                }
                "call_expression" => {
                    let Some((c, args)) = call(src, n) else {
                        continue;
                    };
                    if !matches!(c, "memcpy" | "std::memcpy" | "memmove") {
                        continue;
                    }
                    let (Some(d), Some(s)) = (args.first(), args.get(1)) else {
                        continue;
                    };
                    let d = strip(*d);
                    let from = descendants(*s)
                        .into_iter()
                        .any(|i| is_byte_id(src, i, &byte_ptr));
                    if from && text(src, d).starts_with('&') {
                        if let Some(p) = d.field("argument").and_then(|a| path_of(src, a)) {
                            wire.insert(p);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if wire.is_empty() {
        return;
    }
    if indexes {
        wire_indexes(f, &wire, out);
    }
    for &n in &f.nodes {
        let Some((c, args)) = call(src, n) else {
            continue;
        };
        let c = c.trim_start_matches("std::");
        let (size, check) = match c {
            "memcpy" | "memmove" if copies => (args.get(2), "unchecked-copy"),
            "malloc" | "alloca" if allocs => (args.first(), "alloc-overflow"),
            "realloc" if allocs => (args.get(1), "alloc-overflow"),
            _ => continue,
        };
        let Some(size) = size.copied() else { continue };
        let vars: Vec<String> = descendants(size)
            .into_iter()
            .filter(|x| matches!(x.kind_name(), "identifier" | "field_expression"))
            .filter(|x| !under(*x, size, &["sizeof_expression"]))
            .filter_map(|x| path_of(src, x))
            .filter(|p| wire.contains(p))
            .collect();
        if vars.is_empty() {
            continue;
        }
        let mut all = vars.clone();
        for v in &vars {
            all.extend(sources.get(v).into_iter().flatten().cloned());
        }
        // Into a struct member whose size this file does not know (its struct is
        // declared in a header), a length checked only against the input's own length
        // (`if (pos + n > len) return -1;`) is checked for the read, not the write.
        let input_len = (check == "unchecked-copy")
            .then(|| member_dest_input_len(f, &args))
            .flatten();
        let checked = all.iter().any(|v| {
            // A 32-bit product checked after it was computed: the check sees it wrapped.
            if let Some(factors) = f.narrow_product(v, n.start_byte()) {
                return factors.iter().all(|x| f.bounded_above(x, n));
            }
            let g = f.guard(v, n.start_byte());
            if let Some(len) = &input_len {
                if g.upper && !g.lower && !g.called {
                    let bounds = f.upper_bounds(v, n.start_byte());
                    return !bounds.iter().all(|b| only_input_len(src, *b, len, v));
                }
            }
            g.upper || g.lower || g.called
        });
        // `if (p + n > end) return;`: the length is checked against what is left of the
        // data it is read from (the read stays in bounds), never against the size of
        // the buffer it is copied into.
        let read_bound_only = check == "unchecked-copy"
            && all.iter().all(|v| {
                let before = n.start_byte();
                let cmps: Vec<Node> = f
                    .condition_nodes(v, before)
                    .filter(|(_, x)| f.comparison(*x, v).is_some())
                    .map(|(_, x)| x)
                    .collect();
                !cmps.is_empty()
                    && !f.guard(v, before).called
                    && cmps.iter().all(|x| {
                        [x.field("left"), x.field("right")].into_iter().all(|side| {
                            side.is_some_and(|e| {
                                descendants(e)
                                    .into_iter()
                                    .any(|i| is_byte_id(src, i, &byte_ptr))
                            })
                        })
                    })
            });
        // `if (off + n > len) return;` before `memcpy(frame.payload + frame.used, p + off,
        // n)`: into an array of known size, at its start or past what it holds, a length
        // compared only with the input's own length and offsets is checked for the read.
        let read_bound_only = read_bound_only
            || (check == "unchecked-copy" && checked && only_read_bounds(f, &args, &all, n));
        if checked && !read_bound_only {
            continue;
        }
        let st = text(src, size);
        let label = if checked {
            format!("{c}() copies `{st}` bytes, a length read from the data and checked only against the data's end, never against the destination's size")
        } else if check == "unchecked-copy" {
            format!("{c}() copies `{st}` bytes, a length read from the data, never checked")
        } else if has_product(src, size) || vars.iter().any(|v| products.contains(v)) {
            format!("{c}() size `{st}` is a product of header fields and can overflow")
        } else {
            continue;
        };
        out.push(Finding {
            check,
            line: line(n),
            label,
        });
    }
}

/// `handlers[opcode]` with `opcode = msg[0]`: a fixed-size table indexed by a value
/// read from the data, never compared with anything. A byte type indexing a table of
/// 256 entries or more cannot leave it; `i & MASK` and `i % N` stay in range.
fn wire_indexes(f: &Func, wire: &HashSet<String>, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((a, idx)) = subscript(n) else {
            continue;
        };
        let idx = strip(idx);
        if idx.kind_name() != "identifier" {
            continue;
        }
        let Some(v) = path_of(src, idx).filter(|v| wire.contains(v)) else {
            continue;
        };
        let Some(arr) = path_of(src, a) else { continue };
        let Some(len) = f.array_len(&arr) else {
            continue;
        };
        let t = f.type_of(&v).unwrap_or("");
        let range = if BYTES.iter().any(|b| t.ends_with(b)) {
            256
        } else if t.contains("uint16_t") || t.contains("unsigned short") {
            65536
        } else {
            i64::MAX
        };
        if len >= range {
            continue;
        }
        let g = f.guard(&v, n.start_byte());
        if g.upper || g.called {
            continue;
        }
        out.push(Finding {
            check: "index-from-input",
            line: line(n),
            label: format!(
                "`{}` indexes `{arr}` [{len}] with `{v}`, read from the data and never checked",
                text(src, n)
            ),
        });
    }
}

/// For `memcpy(x->name, buf + pos, n)`: when the destination is a member of a struct
/// this file does not declare (so its size is unknown here), is not set in the
/// function, and the source is a byte-pointer parameter followed by a length
/// parameter, that length parameter's name.
fn member_dest_input_len(f: &Func, args: &[Node]) -> Option<String> {
    let src = f.src;
    let dest = path_of(src, strip(*args.first()?))?;
    let (_, member) = dest.rsplit_once("->").or_else(|| dest.rsplit_once('.'))?;
    if f.array_bytes(&dest).is_some() || f.file.field_arrays.contains_key(member) {
        return None;
    }
    // `out->name = malloc(n)`: a buffer sized here, not a fixed member.
    let assigned = f.nodes.iter().any(|&x| {
        x.kind_name() == "assignment_expression"
            && assignment_sides(x)
                .0
                .and_then(|l| path_of(src, l))
                .is_some_and(|l| l == dest)
    });
    if assigned {
        return None;
    }
    let base = descendants(*args.get(1)?)
        .into_iter()
        .find(|x| x.kind_name() == "identifier")
        .map(|x| text(src, x))?;
    let i = f.params.iter().position(|(p, _)| p == base)?;
    let (len, ty) = f.params.get(i + 1)?;
    (!ty.contains('*') && !len.is_empty()).then(|| len.clone())
}

/// For a copy whose destination is a fixed-size array, or a position in one
/// (`buf + used`, `&buf[used]`): whether every comparison of the length's variables
/// before it is with the input's length and offsets, none with the destination (its
/// `sizeof`, a constant, a literal size, a name from the destination expression, or a
/// local computed from one of these: `room = sizeof buf - used`).
fn only_read_bounds(f: &Func, args: &[Node], vars: &[String], n: Node) -> bool {
    let src = f.src;
    let Some(d) = args.first().map(|d| strip(*d)) else {
        return false;
    };
    let base = match d.kind_name() {
        "binary_expression" if d.field("operator").is_some_and(|o| text(src, o) == "+") => {
            d.field("left")
        }
        "pointer_expression" if text(src, d).starts_with('&') => {
            d.field("argument").and_then(subscript).map(|(a, _)| a)
        }
        _ => Some(d),
    };
    let Some(base) = base.and_then(|b| path_of(src, b)) else {
        return false;
    };
    let Some(cap) = f.array_bytes(&base) else {
        return false;
    };
    // A size, not an offset: the fixed length of a header (`off = kHeaderLen`) is small
    // beside the buffer the data is copied into.
    let size_like = |k: i64| k > 16 || k.saturating_mul(2) >= cap;
    let dest_names: Vec<String> = descendants(d)
        .into_iter()
        .filter(|x| matches!(x.kind_name(), "identifier" | "field_identifier"))
        .map(|x| text(src, x).to_string())
        .collect();
    let before = n.start_byte();
    let about_dest = |e: Node| -> bool {
        let t = text(src, e);
        if t.contains("sizeof") {
            return true;
        }
        descendants(e).into_iter().any(|x| match x.kind_name() {
            "number_literal" => f.fold(x).is_some_and(size_like),
            "identifier" | "field_identifier" => {
                let name = text(src, x);
                f.constant(name).is_some_and(size_like)
                    || dest_names.iter().any(|dn| dn == name)
                    || sized_local(f, name, before, &dest_names, &size_like)
            }
            _ => false,
        })
    };
    let mut cmps = 0;
    for v in vars {
        if f.guard(v, before).called {
            return false;
        }
        for (_, x) in f.condition_nodes(v, before) {
            if f.comparison(x, v).is_none() {
                continue;
            }
            cmps += 1;
            let sides = [x.field("left"), x.field("right")];
            if sides.into_iter().flatten().any(&about_dest) {
                return false;
            }
        }
    }
    cmps > 0
}

/// Whether `name` is a local set before `before` from a size: a `sizeof`, a constant
/// that is `size_like`, or a name of the destination (`size_t room = sizeof(buf) -
/// used;`).
fn sized_local(
    f: &Func,
    name: &str,
    before: usize,
    dest_names: &[String],
    size_like: &dyn Fn(i64) -> bool,
) -> bool {
    let src = f.src;
    f.nodes
        .iter()
        .take_while(|x| x.start_byte() < before)
        .filter(|x| matches!(x.kind_name(), "init_declarator" | "assignment_expression"))
        .filter_map(|&x| {
            let (l, r) = assignment_sides(x);
            (path_of(src, l?).as_deref() == Some(name)).then_some(r?)
        })
        .any(|r| {
            text(src, r).contains("sizeof")
                || descendants(r).into_iter().any(|x| {
                    x.kind_name() == "identifier"
                        && (f.constant(text(src, x)).is_some_and(size_like)
                            || dest_names.iter().any(|dn| dn == text(src, x)))
                })
        })
}

/// Whether an upper bound of `v` names only the input's length and offsets into the
/// input (`len`, `len - pos`), nothing about a destination (`sizeof`, a constant).
fn only_input_len(src: &str, bound: Node, len: &str, v: &str) -> bool {
    let names: Vec<&str> = descendants(bound)
        .into_iter()
        .filter(|x| x.kind_name() == "identifier")
        .map(|x| text(src, x))
        .collect();
    !text(src, bound).contains("sizeof")
        && names.contains(&len)
        && names
            .iter()
            .all(|&x| x == len || x == v || x.chars().any(|c| c.is_ascii_lowercase()))
}

/// A function that decodes an integer of a fixed width from bytes: `rd16`, `read_u32`,
/// `get_be16`, `load_le32`, `ntohs`, `be32toh`, `GetUInt16`.
fn is_int_decoder(name: &str) -> bool {
    let n = name
        .rsplit("::")
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    if matches!(n.as_str(), "ntohs" | "ntohl" | "ntohll") {
        return true;
    }
    let width = ["16", "32", "64"].iter().any(|w| n.contains(w));
    let verb = [
        "rd", "read", "get", "load", "peek", "fetch", "be", "le", "unpack", "decode",
    ]
    .iter()
    .any(|v| n.starts_with(v) || n.contains(&format!("_{v}")));
    width && verb
}

fn is_byte_id(src: &str, n: Node, byte_ptr: &dyn Fn(&str) -> bool) -> bool {
    n.kind_name() == "identifier" && byte_ptr(text(src, n))
}

fn mentions_any(src: &str, e: Node, vars: &HashSet<String>) -> bool {
    descendants(e).into_iter().any(|x| {
        matches!(x.kind_name(), "identifier" | "field_expression")
            && path_of(src, x).is_some_and(|p| vars.contains(&p))
    })
}

/// `a * b`: a multiplication that can wrap.
fn has_product(src: &str, e: Node) -> bool {
    descendants(e).into_iter().any(|x| {
        x.kind_name() == "binary_expression"
            && x.field("operator").is_some_and(|o| text(src, o) == "*")
    })
}

/// Whether `x` sits inside a node of one of `kinds` within `top` (`sizeof(hdr)` reads
/// no value; `p[i]` reads a byte, not `i`).
fn under(x: Node, top: Node, kinds: &[&str]) -> bool {
    let mut n = x;
    loop {
        if kinds.contains(&n.kind_name()) {
            return true;
        }
        if n.id() == top.id() {
            return false;
        }
        match n.parent() {
            Some(p) => n = p,
            None => return false,
        }
    }
}
