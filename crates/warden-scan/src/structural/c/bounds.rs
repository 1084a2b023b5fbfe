//! Copies that can overrun a fixed-size buffer: unbounded copies of input, sizes not
//! within the destination, formats whose output can exceed it, `%s` without a width.

use super::func::Func;
use super::syntax::{
    assignment_sides, call, descendants, line, literal_len, mentions, path_of, string_value, strip,
    subscript, text,
};
use super::Finding;
use crate::structural::fields::{Fields, Kinds};
use tree_sitter::Node;

fn finding(check: &'static str, n: Node, label: String) -> Finding {
    Finding {
        check,
        line: line(n),
        label,
    }
}

/// Calls bounded by a size argument: (name, destination, size argument, slack): the
/// call writes at most `size + slack` bytes (`strncat` adds its terminator after `n`).
const SIZED: &[(&str, usize, usize, i64)] = &[
    ("strncpy", 0, 2, 0),
    ("strncat", 0, 2, 1),
    ("memcpy", 0, 2, 0),
    ("memmove", 0, 2, 0),
    ("memset", 0, 2, 0),
    ("snprintf", 0, 1, 0),
    ("vsnprintf", 0, 1, 0),
    ("fgets", 0, 1, 0),
    ("read", 1, 2, 0),
    ("recv", 1, 2, 0),
    ("strlcpy", 0, 2, 0),
];

/// Unbounded and badly bounded copies into fixed-size arrays.
pub(crate) fn unchecked_copy(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((name, args)) = call(src, n) else {
            continue;
        };
        let dest = args.first().and_then(|d| path_of(src, *d));
        let cap = dest.as_deref().and_then(|d| f.array_bytes(d));
        // `sprintf(line, ...)` into a pointer parameter: the arrays the file's callers
        // pass for it (`char line[RECEIPT_WIDTH + 1]; format_item(it, line);`).
        let cap = match (cap, name) {
            (None, "sprintf" | "vsprintf" | "strcpy" | "strcat") => dest
                .as_deref()
                .and_then(|d| super::callers::passed_array_bytes(f, d)),
            _ => cap,
        };
        match name {
            "gets" => out.push(finding(
                "unchecked-copy",
                n,
                "gets() reads a line of any length".into(),
            )),
            "strcpy" | "strcat" | "wcscpy" | "wcscat" => {
                let (Some(d), Some(cap), Some(s)) = (&dest, cap, args.get(1)) else {
                    continue;
                };
                if let Some(need) = source_len(f, *s) {
                    // strcat appends after what is there: a literal is taken as fitting
                    // when it leaves room; anything longer than the buffer cannot fit.
                    if need > cap {
                        out.push(finding(
                            "unchecked-copy",
                            n,
                            format!("{name}() copies up to {need} bytes into `{d}` [{cap}]"),
                        ));
                    }
                    continue;
                }
                let sp = path_of(src, strip(*s));
                let guarded = sp
                    .as_deref()
                    .is_some_and(|p| f.guard(p, n.start_byte()).upper);
                if !guarded {
                    out.push(finding(
                        "unchecked-copy",
                        n,
                        format!(
                            "{name}() copies `{}` into `{d}` [{cap}] with no length check",
                            text(src, *s)
                        ),
                    ));
                }
            }
            "sprintf" | "vsprintf" => {
                let (Some(d), Some(cap)) = (&dest, cap) else {
                    continue;
                };
                let Some(fmt) = args.get(1).and_then(|a| string_value(src, *a)) else {
                    continue;
                };
                if let Some(why) = format_overflow(f, &fmt, &args[2..], cap, n.start_byte()) {
                    out.push(finding(
                        "unchecked-copy",
                        n,
                        format!("{name}() into `{d}` [{cap}]: {why}"),
                    ));
                }
            }
            "scanf" | "fscanf" | "sscanf" => {
                let first = if name == "scanf" { 0 } else { 1 };
                let Some(fmt) = args.get(first).and_then(|a| string_value(src, *a)) else {
                    continue;
                };
                let targets = &args[(first + 1).min(args.len())..];
                if let Some(why) = scanf_overflow(f, &fmt, targets) {
                    out.push(finding("unchecked-copy", n, format!("{name}(): {why}")));
                }
            }
            "copy" => {
                let cap = args
                    .get(2)
                    .and_then(|d| path_of(src, *d))
                    .and_then(|d| f.array_bytes(&d));
                container_copy(f, n, &args, cap, out);
            }
            _ => sized(f, n, name, &args, out),
        }
    }
}

fn sized(f: &Func, n: Node, name: &str, args: &[Node], out: &mut Vec<Finding>) {
    let src = f.src;
    let Some(&(_, d, s, slack)) = SIZED.iter().find(|(c, _, _, _)| *c == name) else {
        return;
    };
    let (Some(dn), Some(size)) = (args.get(d), args.get(s)) else {
        return;
    };
    let Some(dest) = path_of(src, *dn) else {
        return;
    };
    let Some(cap) = f.array_bytes(&dest) else {
        return;
    };
    if let Some(v) = f.fold(*size) {
        if v + slack > cap {
            out.push(finding(
                "unchecked-copy",
                n,
                format!(
                    "{name}() writes up to {} bytes into `{dest}` [{cap}]",
                    v + slack
                ),
            ));
        }
        return;
    }
    let st = text(src, *size);
    // Sizes computed from the destination itself (`sizeof buf - strlen(buf) - 1`).
    if mentions(st, &dest) {
        return;
    }
    if let Some((buf, bounded)) = length_field_copy(f, name, args, *size, n.start_byte()) {
        if !bounded {
            out.push(finding(
                "unchecked-copy",
                n,
                format!(
                    "{name}() into `{dest}` [{cap}] with a length `{st}` read from `{buf}` itself, never checked against `{dest}`"
                ),
            ));
        }
        return;
    }
    let vars: Vec<String> = descendants(*size)
        .into_iter()
        .filter(|x| x.kind_name() == "identifier")
        .map(|x| text(src, x).to_string())
        .filter(|v| !f.file.defines.contains_key(v))
        .collect();
    if vars.iter().any(|v| f.guard(v, n.start_byte()).upper) {
        return;
    }
    let from_source = st.contains("strlen") || st.contains("sizeof");
    // `eq - line`: the distance to a delimiter the source holds (`eq = strchr(line,
    // '=')`), as long as the source makes it.
    let distance = {
        let sz = strip(*size);
        sz.kind_name() == "binary_expression"
            && sz.field("operator").is_some_and(|o| text(src, o) == "-")
            && ["left", "right"].iter().all(|side| {
                sz.field(side)
                    .and_then(|x| path_of(src, x))
                    .is_some_and(|p| f.type_of(&p).is_some_and(|t| t.contains('*')))
            })
    };
    // `int len = std::stoi(header); read(fd, buf, len)`: a length the text chose.
    let parsed = vars
        .iter()
        .any(|v| super::signed::parsed_length(f, v, n.start_byte()));
    if f.is_input(*size) || from_source || distance || parsed {
        out.push(finding(
            "unchecked-copy",
            n,
            format!("{name}() into `{dest}` [{cap}] with size `{st}`, never checked against it"),
        ));
    }
}

/// `std::copy(v.begin(), v.end(), hdr.name)`: a whole container copied into a fixed
/// array, with no comparison of the container's size first.
fn container_copy(f: &Func, n: Node, args: &[Node], cap: Option<i64>, out: &mut Vec<Finding>) {
    let src = f.src;
    let ([first, last, dest], Some(cap)) = (args, cap) else {
        return;
    };
    let first = text(src, *first).trim();
    let Some(c) = first
        .strip_suffix(".begin()")
        .or_else(|| first.strip_suffix(".cbegin()"))
    else {
        return;
    };
    if !text(src, *last).trim().starts_with(c) {
        return;
    }
    let sized = [
        format!("{c}.size()"),
        format!("{c}.length()"),
        format!("size({c})"),
    ];
    let checked = f.conds.iter().any(|k| {
        k.start_byte() < n.start_byte() && sized.iter().any(|s| text(src, *k).contains(s.as_str()))
    });
    if !checked {
        out.push(finding(
            "unchecked-copy",
            n,
            format!(
                "std::copy of all of `{c}` into `{}` [{cap}], its size never compared with it",
                text(src, *dest)
            ),
        ));
    }
}

/// Bytes a copy source needs, terminator included, when known.
fn source_len(f: &Func, s: Node) -> Option<i64> {
    if let Some(v) = string_value(f.src, s) {
        return Some(literal_len(&v) + 1);
    }
    let p = path_of(f.src, s)?;
    f.array_bytes(&p)
}

/// Why a `sprintf` may overrun `cap`, if it may.
fn format_overflow(f: &Func, fmt: &str, args: &[Node], cap: i64, at: usize) -> Option<String> {
    let mut total = 1;
    let mut i = 0;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            total += 1;
            continue;
        }
        if c != '%' {
            total += 1;
            continue;
        }
        let mut spec = String::new();
        while let Some(&x) = chars.peek() {
            chars.next();
            spec.push(x);
            if x.is_ascii_alphabetic() && !matches!(x, 'l' | 'h' | 'z' | 'j' | 't' | 'L')
                || x == '%'
            {
                break;
            }
        }
        let conv = spec.chars().last().unwrap_or('%');
        if conv == '%' {
            total += 1;
            continue;
        }
        let width: i64 = spec
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0);
        let precision: Option<i64> = spec.split_once('.').and_then(|(_, p)| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        });
        let arg = args.get(i);
        i += 1;
        let len = match conv {
            's' => match (precision, arg) {
                (Some(p), _) => p,
                (None, Some(a)) => match source_len(f, *a) {
                    Some(l) => l - 1,
                    None => {
                        let guarded =
                            path_of(f.src, strip(*a)).is_some_and(|p| f.guard(&p, at).upper);
                        if guarded {
                            0
                        } else {
                            return Some(format!(
                                "`%s` of `{}` has no length bound",
                                text(f.src, *a)
                            ));
                        }
                    }
                },
                (None, None) => return None,
            },
            'c' => 1,
            'd' | 'i' | 'u' => {
                if spec.contains("ll") || spec.contains('l') {
                    20
                } else {
                    11
                }
            }
            'x' | 'X' | 'o' => {
                if spec.contains('l') {
                    22
                } else {
                    11
                }
            }
            'p' => 18,
            'f' | 'g' | 'e' => 24,
            _ => 0,
        };
        total += len.max(width);
    }
    (total > cap).then(|| format!("the output can take {total} bytes"))
}

/// Why a scanf format can overrun its targets: `%s` or `%[` without a width, or a
/// width not within the target array.
fn scanf_overflow(f: &Func, fmt: &str, targets: &[Node]) -> Option<String> {
    let mut i = 0;
    let bytes: Vec<char> = fmt.chars().collect();
    let mut k = 0;
    while k < bytes.len() {
        if bytes[k] != '%' {
            k += 1;
            continue;
        }
        k += 1;
        if bytes.get(k) == Some(&'%') {
            k += 1;
            continue;
        }
        let suppressed = bytes.get(k) == Some(&'*');
        if suppressed {
            k += 1;
        }
        let mut width = String::new();
        while let Some(c) = bytes.get(k).filter(|c| c.is_ascii_digit()) {
            width.push(*c);
            k += 1;
        }
        while bytes
            .get(k)
            .is_some_and(|c| matches!(c, 'l' | 'h' | 'z' | 'j' | 't' | 'L'))
        {
            k += 1;
        }
        let conv = bytes.get(k).copied().unwrap_or(' ');
        k += 1;
        if suppressed {
            continue;
        }
        let target = targets.get(i);
        i += 1;
        if conv != 's' && conv != '[' {
            continue;
        }
        let cap = target
            .and_then(|t| path_of(f.src, *t))
            .and_then(|p| f.array_bytes(&p));
        match (width.parse::<i64>().ok(), cap) {
            (None, _) => return Some(format!("`%{conv}` reads a word of any length")),
            (Some(w), Some(cap)) if w >= cap => {
                return Some(format!(
                    "`%{w}{conv}` reads up to {} bytes into {cap}",
                    w + 1
                ))
            }
            _ => {}
        }
    }
    None
}

/// For a `memcpy`/`memmove` whose `size` is a length field of the data it copies: the
/// source buffer, and whether the length is compared with something other than the
/// source's own length before the call at byte `at`.
fn length_field_copy(
    f: &Func,
    name: &str,
    args: &[Node],
    size: Node,
    at: usize,
) -> Option<(String, bool)> {
    if !matches!(name, "memcpy" | "memmove") {
        return None;
    }
    let buf = args.get(1).and_then(|a| source_buffer(f.src, *a))?;
    let bufs = with_origin(f, buf.clone(), at);
    if !bufs.iter().any(|b| length_from(f, size, b, at)) && !filled_together(f, &buf, size, at) {
        return None;
    }
    Some((buf, bounded_apart_from_source(f, size, &bufs, at)))
}

/// Whether the copy's source and size came from one call before `before`, the pointer
/// returned and the length written through an argument
/// (`v = find_header(req, "Host", &len)`): the size is that data's own length.
fn filled_together(f: &Func, buf: &str, size: Node, before: usize) -> bool {
    let Some(len) = path_of(f.src, strip(size)) else {
        return false;
    };
    assigned_values(f, buf, before).into_iter().any(|r| {
        call(f.src, strip(r)).is_some_and(|(_, args)| {
            args.iter().any(|a| {
                let a = strip(*a);
                a.kind_name() == "pointer_expression"
                    && a.child(0).is_some_and(|o| o.kind_name() == "&")
                    && a.field("argument")
                        .and_then(|x| path_of(f.src, x))
                        .is_some_and(|p| p == len)
            })
        })
    })
}

/// The values assigned or initialised to `path` before byte `before`.
fn assigned_values<'t>(f: &Func<'_, 't>, path: &str, before: usize) -> Vec<Node<'t>> {
    f.nodes
        .iter()
        .filter(|x| x.start_byte() < before)
        .filter(|x| matches!(x.kind_name(), "assignment_expression" | "init_declarator"))
        .filter_map(|&x| {
            let (Some(mut l), Some(r)) = assignment_sides(x) else {
                return None;
            };
            while let Some(d) = l.field("declarator") {
                l = d;
            }
            (path_of(f.src, l).as_deref() == Some(path)).then_some(r)
        })
        .collect()
}

/// The buffer a copy reads from: `buf` in `buf`, `buf + 2`, `&buf[2]`, `(char *)buf + off`,
/// and a C++ container's bytes (`buf.data() + 2`, `s.c_str()`, `&*buf.begin()`).
fn source_buffer(src: &str, n: Node) -> Option<String> {
    let n = strip(n);
    match n.kind_name() {
        "binary_expression" => source_buffer(src, n.field("left")?),
        "call_expression" => {
            let callee = n.field("function")?;
            let bytes = callee.kind_name() == "field_expression"
                && n.field("arguments")?.named_child_count() == 0
                && callee
                    .field("field")
                    .is_some_and(|m| matches!(text(src, m), "data" | "c_str" | "begin"));
            if !bytes {
                return path_of(src, n);
            }
            source_buffer(src, callee.field("argument")?)
        }
        "pointer_expression" => {
            let (arr, _) = subscript(strip(n.field("argument")?))?;
            path_of(src, arr)
        }
        _ => path_of(src, n),
    }
}

/// `buf` and the buffer it points into when it was set from one before `before`
/// (`const uint8_t *val = pkt + off + 3;` gives `val`, `pkt`).
fn with_origin(f: &Func, buf: String, before: usize) -> Vec<String> {
    let mut out = vec![buf];
    for r in assigned_values(f, &out[0], before) {
        if let Some(origin) = source_buffer(f.src, r).filter(|o| !out.contains(o)) {
            out.push(origin);
        }
    }
    out
}

/// Whether `n` reads bytes of `buf`: `buf[1]`, `*(buf + 2)`, `*(uint16_t *)buf`, or a
/// call handed a pointer into it (`rd16(buf + off)`, `ntohs(get16(buf))`).
fn reads_buffer(src: &str, n: Node, buf: &str) -> bool {
    descendants(n).into_iter().any(|x| {
        if let Some((arr, _)) = subscript(x) {
            return path_of(src, arr).as_deref() == Some(buf);
        }
        if let Some((_, args)) = call(src, x) {
            return args
                .iter()
                .any(|a| source_buffer(src, *a).is_some_and(|b| b == buf));
        }
        x.kind_name() == "pointer_expression"
            && x.child(0).is_some_and(|o| o.kind_name() == "*")
            && x.field("argument")
                .and_then(|a| source_buffer(src, a))
                .is_some_and(|b| b == buf)
    })
}

/// Whether a copy's `size` is a length field of the data being copied: read from `buf`
/// at the call, or assigned from it before (`out->len = buf[1]`, TLV and length-prefixed
/// records).
fn length_from(f: &Func, size: Node, buf: &str, before: usize) -> bool {
    if reads_buffer(f.src, size, buf) {
        return true;
    }
    path_of(f.src, strip(size)).is_some_and(|p| {
        assigned_values(f, &p, before).into_iter().any(|r| {
            // Also one step further: `ext_len = h->ext_words * 4` after
            // `h->ext_words = rd16(pkt + off + 2)`.
            reads_buffer(f.src, r, buf)
                || descendants(r).into_iter().any(|x| {
                    matches!(x.kind_name(), "identifier" | "field_expression")
                        && path_of(f.src, x).is_some_and(|q| {
                            q != p
                                && assigned_values(f, &q, before)
                                    .into_iter()
                                    .any(|r2| reads_buffer(f.src, r2, buf))
                        })
                })
        })
    })
}

/// Whether a length read from the source `bufs` is compared, before `before`, with
/// something other than the source's own length: checking the record fits the input
/// (`len + 2 > n`, with `n` the parameter after the buffer) does not make it fit the
/// destination.
fn bounded_apart_from_source(f: &Func, size: Node, bufs: &[String], before: usize) -> bool {
    let src = f.src;
    let source_len = f
        .params
        .iter()
        .position(|(p, _)| bufs.contains(p))
        .and_then(|i| f.params.get(i + 1))
        .map(|(p, _)| p.as_str());
    let keys: Vec<String> = match path_of(src, strip(size)) {
        Some(p) => vec![p],
        None => descendants(size)
            .into_iter()
            .filter(|x| x.kind_name() == "identifier")
            .map(|x| text(src, x).to_string())
            .collect(),
    };
    keys.iter().any(|k| {
        f.upper_bounds(k, before)
            .iter()
            .filter(|o| on_the_way(**o, before))
            .any(|o| Some(text(src, strip(*o)).trim()) != source_len)
    })
}

/// Whether the check holding `n` is on the way to byte `at`: `at` is inside its
/// statement, or after it in the block holding it. A check in another `case` of a
/// switch (`case TAG_ID: if (len >= sizeof id) return -1;`) bounds only its own case.
fn on_the_way(n: Node, at: usize) -> bool {
    let mut stmt = n;
    while let Some(p) = stmt.parent() {
        stmt = p;
        if p.kind_name().ends_with("_statement") || p.kind_name() == "conditional_expression" {
            break;
        }
    }
    let holds = |x: Node| x.start_byte() <= at && at < x.end_byte();
    holds(stmt) || stmt.parent().is_some_and(holds)
}
