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

/// For a printf-style format (`"id = %d and name = '%s'"`), whether each argument it
/// consumes is printed as a number (`%d %x %f %t`…: digits, signs and dots, nothing
/// that can end a quote or start a path). `None` when the format cannot be read
/// argument by argument (explicit indexes such as `%[2]d` or `%1$s`).
pub(crate) fn numeric_verbs(format: &str) -> Option<Vec<bool>> {
    let mut out = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            continue;
        }
        // Flags, width and precision; a `*` takes an argument of its own, a number.
        while let Some(&f) = chars.peek() {
            match f {
                '-' | '+' | ' ' | '#' | '0'..='9' | '.' => {
                    chars.next();
                }
                '*' => {
                    out.push(true);
                    chars.next();
                }
                '[' | '$' => return None,
                _ => break,
            }
        }
        // C and PHP length modifiers (`%ld`, `%zu`, `%td`); Go's `%t` alone is a verb.
        while let Some(&m) = chars.peek() {
            let then_integer = || {
                let mut ahead = chars.clone();
                ahead.next();
                ahead
                    .next()
                    .is_some_and(|v| matches!(v, 'd' | 'i' | 'u' | 'o' | 'x' | 'X'))
            };
            if !(matches!(m, 'h' | 'l' | 'L' | 'j' | 'z') || m == 't' && then_integer()) {
                break;
            }
            chars.next();
        }
        let Some(verb) = chars.next() else { break };
        if verb == '%' {
            continue;
        }
        out.push(matches!(
            verb,
            'd' | 'i' | 'o' | 'u' | 'x' | 'X' | 'b' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 't'
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::numeric_verbs;

    #[test]
    fn printf_verbs_say_which_arguments_print_as_numbers() {
        assert_eq!(
            numeric_verbs("SELECT * FROM t WHERE id = %d AND name = '%s'"),
            Some(vec![true, false])
        );
        assert_eq!(numeric_verbs("$%d"), Some(vec![true]));
        assert_eq!(
            numeric_verbs("%5.2f%% of %v, %ld, %t"),
            Some(vec![true, false, true, true])
        );
        assert_eq!(numeric_verbs("%*s"), Some(vec![true, false]));
        assert_eq!(numeric_verbs("%t%s %d"), Some(vec![true, false, true]));
        assert_eq!(numeric_verbs("%td of %s"), Some(vec![true, false]));
        assert_eq!(numeric_verbs("%q"), Some(vec![false]));
        assert_eq!(numeric_verbs("%[2]d %[1]s"), None);
        assert_eq!(numeric_verbs("%1$s"), None);
        assert_eq!(numeric_verbs("no verbs"), Some(vec![]));
    }
}
