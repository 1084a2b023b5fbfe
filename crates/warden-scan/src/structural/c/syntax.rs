//! Reading C/C++ syntax trees: calls, names, literals, constant sizes.

use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

pub(crate) fn text<'a>(src: &'a str, n: Node) -> &'a str {
    src.get(n.byte_range()).unwrap_or("")
}

pub(crate) fn line(n: Node) -> u32 {
    u32::try_from(n.start_position().row + 1).unwrap_or(u32::MAX)
}

/// Every node under `n` (itself included), in source order: the named ones, and `n`
/// whatever it is. One cursor walks the tree; the analyses call this on every function
/// body several times, so it allocates nothing but the answer.
pub(crate) fn descendants(n: Node) -> Vec<Node> {
    let mut out = vec![n];
    let mut cursor = n.walk();
    if !cursor.goto_first_child() {
        return out;
    }
    // How far below `n` the cursor is: counted rather than asked of the cursor's node,
    // which tree-sitter would build on every step back up.
    let mut depth = 1usize;
    loop {
        let x = cursor.node();
        if x.is_named() {
            out.push(x);
        }
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        // Up until a node has a next sibling; back at `n`, the walk is over.
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            depth -= 1;
            if depth == 0 || !cursor.goto_parent() {
                return out;
            }
        }
    }
}

/// A call's callee name (`free`, `std::free` read as `free`) and its arguments.
pub(crate) fn call<'s, 't>(src: &'s str, n: Node<'t>) -> Option<(&'s str, Vec<Node<'t>>)> {
    if n.kind_name() != "call_expression" {
        return None;
    }
    let f = n.field("function")?;
    let name = text(src, f);
    let tail = name.rsplit("::").next().unwrap_or(name);
    // `static_cast<std::size_t>`: the last `::` is inside the template arguments, so
    // the callee is what comes before them.
    let name = if tail.contains('>') && !tail.contains('<') {
        let head = name.split('<').next().unwrap_or(name);
        &name[head.rfind("::").map_or(0, |i| i + 2)..]
    } else {
        tail
    }
    .trim();
    let args = n.field("arguments")?;
    let mut c = args.walk();
    let list = args
        .named_children(&mut c)
        .filter(|a| a.kind_name() != "comment")
        .collect();
    Some((name, list))
}

/// The expression inside parentheses and casts: `(char *)p` is `p`.
pub(crate) fn strip(n: Node) -> Node {
    let mut n = n;
    loop {
        match n.kind_name() {
            "parenthesized_expression" | "condition_clause" => match n.named_child(0) {
                Some(x) => n = x,
                None => return n,
            },
            "cast_expression" => match n.field("value") {
                Some(x) => n = x,
                None => return n,
            },
            _ => return n,
        }
    }
}

/// Whether a call's name is a C++ cast (`static_cast<size_t>`), which converts its
/// argument and checks nothing about it.
pub(crate) fn is_cast(name: &str) -> bool {
    [
        "static_cast",
        "reinterpret_cast",
        "const_cast",
        "dynamic_cast",
    ]
    .iter()
    .any(|c| name.trim_start_matches("std::").starts_with(c))
}

/// As [`strip`], through C++ casts too: `static_cast<std::size_t>(n)` is `n`.
pub(crate) fn strip_casts<'t>(src: &str, n: Node<'t>) -> Node<'t> {
    let mut n = strip(n);
    while let Some((name, args)) = call(src, n) {
        match args.as_slice() {
            [only] if is_cast(name) => n = strip(*only),
            _ => break,
        }
    }
    n
}

/// The target and the value of an assignment (`a = b`) or an initialised declarator
/// (`int *a = b`); either may be missing in a tree with errors.
pub(crate) fn assignment_sides(n: Node) -> (Option<Node>, Option<Node>) {
    if n.kind_name() == "init_declarator" {
        (n.field("declarator"), n.field("value"))
    } else {
        (n.field("left"), n.field("right"))
    }
}

/// A variable or member path the checks track (`p`, `s->buf`, `a.b`), if `n` is one.
pub(crate) fn path_of(src: &str, n: Node) -> Option<String> {
    let n = strip(n);
    match n.kind_name() {
        "identifier" => Some(text(src, n).to_string()),
        "field_expression" => {
            let t: String = text(src, n)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            (t.len() < 120).then_some(t)
        }
        _ => None,
    }
}

/// The value of a string literal (escapes left as written), or of adjacent literals.
pub(crate) fn string_value(src: &str, n: Node) -> Option<String> {
    let n = strip(n);
    match n.kind_name() {
        "string_literal" | "raw_string_literal" => {
            let t = text(src, n);
            let start = t.find('"')? + 1;
            let end = t.rfind('"')?;
            Some(t.get(start..end.max(start))?.to_string())
        }
        "concatenated_string" => {
            let mut out = String::new();
            let mut c = n.walk();
            for part in n.named_children(&mut c) {
                if let Some(s) = string_value(src, part) {
                    out.push_str(&s);
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Bytes a string literal's value takes, escapes counted once.
pub(crate) fn literal_len(raw: &str) -> i64 {
    let mut n = 0;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        }
        n += 1;
    }
    n
}

/// Folds an integer constant expression: literals, names `constant` knows (`#define`d
/// names, enumerators, constant locals), `sizeof` of a known array or of a scalar
/// type, `+ - * /`.
pub(crate) fn fold(
    src: &str,
    n: Node,
    constant: &dyn Fn(&str) -> Option<i64>,
    arrays: &dyn Fn(&str) -> Option<i64>,
) -> Option<i64> {
    let n = strip(n);
    match n.kind_name() {
        "number_literal" => parse_int(text(src, n)),
        "char_literal" => Some(1),
        "identifier" => constant(text(src, n)),
        "sizeof_expression" => {
            if let Some(v) = n.field("value") {
                let v = strip(v);
                if let Some(p) = path_of(src, v) {
                    return arrays(&p);
                }
                return string_value(src, v).map(|s| literal_len(&s) + 1);
            }
            let t = n.field("type").map(|t| text(src, t))?;
            match t.trim() {
                "char" | "unsigned char" | "signed char" | "uint8_t" | "int8_t" => Some(1),
                "short" | "uint16_t" | "int16_t" => Some(2),
                "int" | "unsigned" | "unsigned int" | "float" | "uint32_t" | "int32_t" => Some(4),
                _ => None,
            }
        }
        // `static_cast<int>(kSlots)`: a C++ cast of a constant is the constant.
        "call_expression" => match call(src, n)? {
            (name, args) if is_cast(name) && args.len() == 1 => {
                fold(src, args[0], constant, arrays)
            }
            _ => None,
        },
        "binary_expression" => {
            let l = fold(src, n.field("left")?, constant, arrays)?;
            let r = fold(src, n.field("right")?, constant, arrays)?;
            let op = n.field("operator").map(|o| text(src, o))?;
            match op {
                "+" => l.checked_add(r),
                "-" => l.checked_sub(r),
                "*" => l.checked_mul(r),
                "/" if r != 0 => Some(l / r),
                _ => None,
            }
        }
        _ => None,
    }
}

pub(crate) fn parse_int(t: &str) -> Option<i64> {
    let t = t.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    t.parse().ok()
}

/// Whether `t` names `word` as a whole identifier.
pub(crate) fn mentions(t: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    t.match_indices(word).any(|(i, _)| {
        let before = t[..i].chars().next_back();
        let after = t[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Calls after which control does not come back.
const NORETURN: &[&str] = &["exit", "_exit", "abort", "err", "errx", "longjmp", "_Exit"];

/// Whether the statement always leaves the enclosing block (return, break, continue,
/// goto, exit), or is a block whose last statement does.
pub(crate) fn ends_in_jump(src: &str, n: Node) -> bool {
    match n.kind_name() {
        "return_statement" | "break_statement" | "continue_statement" | "goto_statement"
        | "throw_statement" => true,
        "compound_statement" => {
            let mut c = n.walk();
            let last = n
                .named_children(&mut c)
                .filter(|x| x.kind_name() != "comment")
                .last();
            last.is_some_and(|l| ends_in_jump(src, l))
        }
        "expression_statement" => n
            .named_child(0)
            .and_then(|e| call(src, e))
            .is_some_and(|(name, _)| NORETURN.contains(&name)),
        "if_statement" => {
            let cons = n.field("consequence");
            let alt = n.field("alternative").and_then(|a| a.named_child(0));
            cons.is_some_and(|c| ends_in_jump(src, c)) && alt.is_some_and(|a| ends_in_jump(src, a))
        }
        _ => false,
    }
}

/// A subscript's array and index (`a[i]`; C++ wraps the index in a list).
pub(crate) fn subscript(n: Node) -> Option<(Node, Node)> {
    if n.kind_name() != "subscript_expression" {
        return None;
    }
    let a = n.field("argument")?;
    let i = n
        .field("index")
        .or_else(|| n.field("indices").and_then(|l| l.named_child(0)))?;
    Some((a, i))
}

/// Whether `n` sits inside the condition of an `if`/`while` (before any statement).
pub(crate) fn in_condition(n: Node) -> bool {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if p.kind_name().ends_with("statement") || p.kind_name() == "declaration" {
            return p.field("condition").is_some_and(|c| c.id() == cur.id());
        }
        cur = p;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::descendants;
    use tree_sitter::Node;

    /// The plain definition: a node, then its named children's descendants in order.
    fn by_recursion<'t>(n: Node<'t>, out: &mut Vec<Node<'t>>) {
        out.push(n);
        let mut c = n.walk();
        for kid in n.named_children(&mut c) {
            by_recursion(kid, out);
        }
    }

    #[test]
    fn the_cursor_walk_visits_what_recursion_does_in_the_same_order() {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_cpp::LANGUAGE.into())
            .expect("C++ grammar");
        let src = "#include <x.h>\nint f(char *p, int n) {\n  if (n > 0) { memcpy(p, \"ab\", n); }\n  for (int i = 0; i < n; i++) p[i] = (char) g(i, p);\n  return n ? 1 : 0; /* done */\n}\nstruct S { int a; } s = {1};\n";
        let tree = parser.parse(src, None).expect("parse");
        let mut stack = vec![tree.root_node()];
        let mut checked = 0;
        while let Some(n) = stack.pop() {
            let mut expected = Vec::new();
            by_recursion(n, &mut expected);
            assert_eq!(descendants(n), expected, "under {}", n.kind());
            checked += 1;
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        assert!(checked > 50, "{checked}");
    }
}
