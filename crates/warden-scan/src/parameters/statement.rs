//! The text of statements around a sink: their brackets, and the keys they index with.

/// `text` without the keys it indexes with: what `FEEDS[name]` or `$this->feeds[$m->partner]`
/// yields is an entry of the table, not the key a caller chose. Brackets that open a
/// list (`= [a, b]`, `f([x])`) are kept.
pub(super) fn without_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut prev = ' ';
    for c in text.chars() {
        match c {
            '[' if depth > 0 => depth += 1,
            '[' if prev.is_ascii_alphanumeric() || matches!(prev, '_' | ')' | ']') => depth = 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
        if depth == 0 {
            prev = c;
        }
    }
    out
}

/// Whether a match goes past its call's `(` into the arguments.
pub(super) fn reaches_arguments(matched: &str) -> bool {
    matched
        .split_once('(')
        .is_some_and(|(_, args)| args.chars().any(|c| c.is_alphanumeric() || c == '_'))
}

/// Lines of a local's value read after its first, while its brackets stay open.
pub(super) const MAX_VALUE_LINES: usize = 12;

/// Whether every `(`, `[` and `{` opened in `s` is closed.
pub(super) fn brackets_closed(s: &str) -> bool {
    let mut depth = 0i32;
    for b in s.bytes() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
    }
    depth <= 0
}

/// Whether the parentheses opened in `s` are all closed.
pub(super) fn sink_closed(s: &str) -> bool {
    let open = s.bytes().filter(|&b| b == b'(').count();
    let close = s.bytes().filter(|&b| b == b')').count();
    close >= open
}
