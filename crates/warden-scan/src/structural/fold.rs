//! Constants: literals as the analysis reads them, and operators folded over them
//! (so that `if ((7 * 42) - 86 > 200)` is known to take one way).

use super::flow::Lit;

pub(crate) fn literal_text(kind: &str, text: &str) -> Option<Lit> {
    let t = text.trim();
    if kind.contains("integer") || kind == "int_literal" || kind == "number" {
        let t = t.trim_end_matches(['l', 'L']).replace('_', "");
        return t.parse::<i64>().ok().map(Lit::Int);
    }
    match t {
        "true" | "True" => return Some(Lit::Bool(true)),
        "false" | "False" => return Some(Lit::Bool(false)),
        _ => {}
    }
    if kind == "character_literal" || kind.contains("string") {
        return Some(Lit::Str(unquote(t)));
    }
    None
}

/// Folds an operator over two constants.
pub(crate) fn fold(op: &str, l: Option<&Lit>, r: Option<&Lit>) -> Option<Lit> {
    use Lit::*;
    Some(match (l?, r?) {
        (Int(a), Int(b)) => match op {
            "+" => Int(a.checked_add(*b)?),
            "-" => Int(a.checked_sub(*b)?),
            "*" => Int(a.checked_mul(*b)?),
            "/" if *b != 0 => Int(a.checked_div(*b)?),
            "%" if *b != 0 => Int(a.checked_rem(*b)?),
            ">" => Bool(a > b),
            "<" => Bool(a < b),
            ">=" => Bool(a >= b),
            "<=" => Bool(a <= b),
            "==" | "===" => Bool(a == b),
            "!=" | "!==" => Bool(a != b),
            _ => return None,
        },
        (Str(a), Str(b)) => match op {
            "+" | "." => Str(format!("{a}{b}")),
            "in" => Bool(b.contains(a.as_str())),
            "not in" => Bool(!b.contains(a.as_str())),
            "==" | "===" => Bool(a == b),
            "!=" | "!==" => Bool(a != b),
            _ => return None,
        },
        (Bool(a), Bool(b)) => match op {
            "&&" | "and" => Bool(*a && *b),
            "||" | "or" => Bool(*a || *b),
            "==" | "===" => Bool(a == b),
            "!=" | "!==" => Bool(a != b),
            _ => return None,
        },
        _ => return None,
    })
}

/// A string literal's content, without quotes or prefixes (approximate: escapes kept).
pub(crate) fn unquote(t: &str) -> String {
    let t = t.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    t.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}
