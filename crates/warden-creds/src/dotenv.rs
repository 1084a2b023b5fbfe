//! A small `.env` parser: `KEY=VALUE` lines, optional `export `, `#` comments,
//! single quotes (literal), double quotes (with `\n`, `\"`, `\\` escapes).

/// One parsed file: the assignments in order, and the line numbers that did not parse.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DotEnv {
    /// `(key, value)` in file order; later duplicates are kept after earlier ones.
    pub vars: Vec<(String, String)>,
    /// 1-based numbers of lines that are neither blank, a comment, nor an assignment.
    pub bad_lines: Vec<usize>,
}

impl DotEnv {
    /// The last value given for `key`, as a shell sourcing the file would see it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `.env` text. Never fails: lines that do not parse are reported by number
/// (never by content, which may hold a secret).
pub fn parse(text: &str) -> DotEnv {
    parse_bytes(text.as_bytes())
}

/// Parses a `.env` file's bytes: as [`parse`], and a line that is not UTF-8 is a bad
/// line rather than a reason to drop the whole file. A leading byte-order mark (left by
/// some Windows editors) is ignored.
pub fn parse_bytes(bytes: &[u8]) -> DotEnv {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut out = DotEnv::default();
    // Split as `str::lines` does: on `\n`, with a `\r` before it dropped by the trim below.
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    }
    for (index, line) in lines.into_iter().enumerate() {
        let Ok(line) = std::str::from_utf8(line) else {
            // A comment may hold anything; anything else cannot be trusted to parse.
            if !line.trim_ascii_start().starts_with(b"#") {
                out.bad_lines.push(index + 1);
            }
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Some((key, value)) => out.vars.push((key, value)),
            None => out.bad_lines.push(index + 1),
        }
    }
    out
}

fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let (key, rest) = line.split_once('=')?;
    let key = key.trim();
    let valid_key = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_key {
        return None;
    }
    let rest = rest.trim_start();
    let value = if let Some(body) = rest.strip_prefix('\'') {
        let end = body.find('\'')?;
        trailing_ok(&body[end + 1..])?;
        body[..end].to_string()
    } else if let Some(body) = rest.strip_prefix('"') {
        let (value, after) = double_quoted(body)?;
        trailing_ok(after)?;
        value
    } else {
        // Unquoted: a `#` after whitespace starts a comment.
        let mut end = rest.len();
        let bytes = rest.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
                end = i;
                break;
            }
        }
        rest[..end].trim_end().to_string()
    };
    Some((key.to_string(), value))
}

/// After a closing quote only whitespace or a comment may follow.
fn trailing_ok(after: &str) -> Option<()> {
    let after = after.trim_start();
    (after.is_empty() || after.starts_with('#')).then_some(())
}

fn double_quoted(body: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &body[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other @ ('"' | '\\' | '$' | '`') => value.push(other),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_comments_and_export() {
        let env = parse(concat!(
            "# comment\n",
            "\n",
            "PLAIN=abc # trailing comment\n",
            "export EXPORTED=yes\n",
            "SINGLE='a $b \"c\" # not a comment'\n",
            "DOUBLE=\"line\\nnext \\\"q\\\" it's\"  # c\n",
            "HASH=a#b\n",
            "EMPTY=\n",
            "SPACED = spaced value \n",
            "PLAIN=override\n",
        ));
        assert_eq!(env.bad_lines, Vec::<usize>::new());
        assert_eq!(env.get("PLAIN"), Some("override"));
        assert_eq!(env.get("EXPORTED"), Some("yes"));
        assert_eq!(env.get("SINGLE"), Some("a $b \"c\" # not a comment"));
        assert_eq!(env.get("DOUBLE"), Some("line\nnext \"q\" it's"));
        assert_eq!(env.get("HASH"), Some("a#b"));
        assert_eq!(env.get("EMPTY"), Some(""));
        assert_eq!(env.get("SPACED"), Some("spaced value"));
    }

    #[test]
    fn bad_lines_are_reported_by_number() {
        let env = parse("OK=1\nno equals here\n1BAD=x\nOPEN='unterminated\nGOOD=2\n");
        assert_eq!(env.bad_lines, vec![2, 3, 4]);
        assert_eq!(env.get("GOOD"), Some("2"));
    }

    #[test]
    fn a_non_utf8_line_is_a_bad_line_and_the_rest_still_parses() {
        let env = parse_bytes(b"A=1\nB=caf\xe9\n# caf\xe9 in a comment\nC=3\r\n");
        assert_eq!(env.bad_lines, vec![2]);
        assert_eq!(env.get("A"), Some("1"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C"), Some("3"));
    }

    #[test]
    fn a_byte_order_mark_does_not_spoil_the_first_key() {
        let env = parse_bytes("\u{feff}FIRST=1\n".as_bytes());
        assert_eq!(env.bad_lines, Vec::<usize>::new());
        assert_eq!(env.get("FIRST"), Some("1"));
    }
}
