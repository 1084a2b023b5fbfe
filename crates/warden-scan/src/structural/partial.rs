//! Parsing only what the analysis of a file will walk.
//!
//! The walk enters the functions that hold a focus line (a line where some rule
//! matched) and summarises those they call by name; every other function of the file
//! was parsed for nothing, and parsing is most of the cost of the analysis. Where
//! definitions start at the left margin as formatters write them (Go; Python, whose
//! methods sit one level in), the definitions are found from the text, and those
//! with no focus line that no kept text names are left out of the parse
//! (tree-sitter's included ranges: positions stay those of the file). Everything
//! else (imports, module-level assignments and statements, class attributes) is
//! kept, so the scope each function sees is unchanged. The caller parses the whole
//! file again if the parse of the ranges has an error: a cut in the wrong place
//! costs a second parse, never a finding.

use crate::Language;
use std::collections::HashSet;
use std::ops::Range;

/// Below this share of the file left out, the whole file is parsed: a range-limited
/// parse gains too little for the risk of a second one.
const MIN_LEFT_OUT: f64 = 0.2;

/// A definition the parse may leave out: its lines and its name.
struct Definition {
    lines: Range<usize>,
    name: String,
}

/// A class: its header lines and its body's.
struct Shell {
    header: Range<usize>,
    body: Range<usize>,
}

/// One line of the file: where it starts and ends (without its newline).
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

/// The ranges of `text` to parse for the `focus` lines (1-based, sorted), as
/// tree-sitter ranges; `None` when the whole file should be parsed.
pub(crate) fn ranges(lang: Language, text: &str, focus: &[u32]) -> Option<Vec<tree_sitter::Range>> {
    let lines = split_lines(text);
    let (definitions, shells) = match lang {
        Language::Go => (go_definitions(text, &lines), Vec::new()),
        Language::Python => python_definitions(text, &lines),
        _ => return None,
    };
    if definitions.is_empty() {
        return None;
    }
    let focused = |d: &Definition| {
        let i = focus.partition_point(|&l| (l as usize) < d.lines.start + 1);
        focus.get(i).is_some_and(|&l| (l as usize) <= d.lines.end)
    };
    // Lines left out, per definition; kept lines are those of no left-out definition.
    let mut out: Vec<bool> = definitions.iter().map(|d| !focused(d)).collect();
    let mut kept_lines = vec![true; lines.len()];
    for (d, _) in definitions.iter().zip(&out).filter(|(_, o)| **o) {
        kept_lines[d.lines.clone()]
            .iter_mut()
            .for_each(|k| *k = false);
    }
    // Names the kept text calls: a left-out definition they name is put back, and
    // what it calls counts in turn.
    let mut named = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        if kept_lines[i] {
            called(&text[l.start..l.end], &mut named);
        }
    }
    loop {
        let mut changed = false;
        for (d, o) in definitions.iter().zip(out.iter_mut()) {
            if *o && named.contains(d.name.as_str()) {
                *o = false;
                changed = true;
                for l in &lines[d.lines.clone()] {
                    called(&text[l.start..l.end], &mut named);
                }
                kept_lines[d.lines.clone()]
                    .iter_mut()
                    .for_each(|k| *k = true);
            }
        }
        if !changed {
            break;
        }
    }
    // A class all of whose body is left out goes too: a header alone does not parse.
    for shell in &shells {
        let body_kept = (shell.body.clone()).any(|i| kept_lines[i] && !is_blank(text, lines[i]));
        if !body_kept {
            kept_lines[shell.header.clone()]
                .iter_mut()
                .for_each(|k| *k = false);
        }
    }
    let left_out: usize = definitions
        .iter()
        .zip(&out)
        .filter(|(_, o)| **o)
        .map(|(d, _)| lines[d.lines.end - 1].end - lines[d.lines.start].start)
        .sum();
    if (left_out as f64) < MIN_LEFT_OUT * text.len() as f64 {
        return None;
    }
    Some(to_ranges(&lines, &kept_lines, text.len()))
}

fn split_lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push(Line { start, end: nl });
        start = nl + 1;
    }
    if start < text.len() {
        lines.push(Line {
            start,
            end: text.len(),
        });
    }
    lines
}

/// Runs of kept lines as tree-sitter ranges, each from the start of its first line to
/// the start of the line after its last (or the end of the text).
fn to_ranges(lines: &[Line], kept: &[bool], len: usize) -> Vec<tree_sitter::Range> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !kept[i] {
            i += 1;
            continue;
        }
        let first = i;
        while i < lines.len() && kept[i] {
            i += 1;
        }
        let (end_byte, end_point) = match lines.get(i) {
            Some(next) => (next.start, tree_sitter::Point::new(i, 0)),
            None => {
                let last = &lines[i - 1];
                (len, tree_sitter::Point::new(i - 1, len - last.start))
            }
        };
        out.push(tree_sitter::Range {
            start_byte: lines[first].start,
            end_byte,
            start_point: tree_sitter::Point::new(first, 0),
            end_point,
        });
    }
    out
}

/// Adds to `out` every name `s` calls (an identifier followed by `(`): the walk
/// summarises a function of the file only where a call names it.
fn called<'t>(s: &'t str, out: &mut HashSet<&'t str>) {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        let mut j = i;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if bytes.get(j) == Some(&b'(') {
            out.insert(&s[start..i]);
        }
    }
}

fn indent(text: &str, l: Line) -> usize {
    text[l.start..l.end]
        .bytes()
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count()
}

fn is_blank(text: &str, l: Line) -> bool {
    text[l.start..l.end].trim().is_empty()
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> Option<&str> {
    Some(crate::words::ident_prefix(s)).filter(|name| !name.is_empty())
}

/// Go: `func name(` and `func (r *T) name(` at the left margin, up to the `}` that
/// closes them there (gofmt's layout; a `}` at the margin inside a raw string ends
/// the cut early, and the parse error that follows falls back to the whole file).
fn go_definitions(text: &str, lines: &[Line]) -> Vec<Definition> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &text[lines[i].start..lines[i].end];
        let Some(rest) = line.strip_prefix("func ") else {
            i += 1;
            continue;
        };
        let rest = match rest.strip_prefix('(') {
            // A method: the name follows the receiver.
            Some(r) => r.find(')').map(|p| r[p + 1..].trim_start()),
            None => Some(rest),
        };
        let name = rest.and_then(ident).map(str::to_string);
        let one_line = line.trim_end().ends_with('}');
        let mut end = i + 1;
        if !one_line {
            while end < lines.len() && !text[lines[end].start..lines[end].end].starts_with('}') {
                end += 1;
            }
            end = (end + 1).min(lines.len());
        }
        // Doc comments directly above belong to the function; keeping them is harmless.
        if let Some(name) = name {
            out.push(Definition {
                lines: i..end,
                name,
            });
        }
        i = end;
    }
    out
}

/// Python: `def`/`async def` at the left margin or one level into a class at the
/// margin, with their decorators, up to the next line indented no deeper than the
/// `def` that is not a continuation (a closing bracket) and not inside a
/// triple-quoted string (tracked roughly: an odd count of `"""` or `'''` on a line
/// toggles it).
fn python_definitions(text: &str, lines: &[Line]) -> (Vec<Definition>, Vec<Shell>) {
    let mut out = Vec::new();
    let mut shells: Vec<Shell> = Vec::new();
    // Whether each line starts inside a triple-quoted string.
    let mut in_string = vec![false; lines.len()];
    let mut open: Option<&str> = None;
    for (i, l) in lines.iter().enumerate() {
        in_string[i] = open.is_some();
        let s = &text[l.start..l.end];
        for q in ["\"\"\"", "'''"] {
            if open.is_none_or(|o| o == q) && s.matches(q).count() % 2 == 1 {
                open = if open.is_some() { None } else { Some(q) };
            }
        }
    }
    let mut class_indent: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if in_string[i] || is_blank(text, l) {
            i += 1;
            continue;
        }
        let ind = indent(text, l);
        let s = text[l.start..l.end].trim_start();
        if ind == 0 {
            class_indent = None;
            if s.starts_with("class ") {
                // Methods are the defs at the class body's first indentation.
                let first = (i + 1..lines.len())
                    .find(|&n| !in_string[n] && !is_blank(text, lines[n]))
                    .filter(|&n| indent(text, lines[n]) > 0);
                if let Some(first) = first {
                    class_indent = Some(indent(text, lines[first]));
                    let end = (first..lines.len())
                        .find(|&n| {
                            !in_string[n]
                                && !is_blank(text, lines[n])
                                && indent(text, lines[n]) == 0
                        })
                        .unwrap_or(lines.len());
                    shells.push(Shell {
                        header: i..first,
                        body: first..end,
                    });
                }
                i += 1;
                continue;
            }
        } else if Some(ind) != class_indent {
            i += 1;
            continue;
        }
        // A definition, possibly after decorators, at this indentation.
        let start = i;
        let mut j = i;
        while j < lines.len()
            && text[lines[j].start..lines[j].end]
                .trim_start()
                .starts_with('@')
        {
            j += 1;
            while j < lines.len() && (is_blank(text, lines[j]) || indent(text, lines[j]) > ind) {
                j += 1;
            }
        }
        let Some(def) = lines.get(j).map(|d| text[d.start..d.end].trim_start()) else {
            break;
        };
        let name = def
            .strip_prefix("async ")
            .unwrap_or(def)
            .strip_prefix("def ")
            .and_then(ident);
        let Some(name) = name.filter(|_| indent(text, lines[j]) == ind) else {
            i = j.max(i + 1);
            continue;
        };
        let mut end = j + 1;
        while end < lines.len() {
            let n = lines[end];
            let closes = text[n.start..n.end]
                .trim_start()
                .starts_with([')', ']', '}']);
            if !in_string[end] && !is_blank(text, n) && indent(text, n) <= ind && !closes {
                break;
            }
            end += 1;
        }
        // Trailing blank lines stay with what follows.
        let mut last = end;
        while last > j + 1 && is_blank(text, lines[last - 1]) {
            last -= 1;
        }
        out.push(Definition {
            lines: start..last,
            name: name.to_string(),
        });
        i = end;
    }
    (out, shells)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept text of `text` for `focus`, or `None` for the whole file.
    fn kept(lang: Language, text: &str, focus: &[u32]) -> Option<String> {
        let ranges = ranges(lang, text, focus)?;
        Some(
            ranges
                .iter()
                .map(|r| &text[r.start_byte..r.end_byte])
                .collect(),
        )
    }

    const GO: &str = "package api

import \"net/http\"

var base = \"http://internal/\"

func helper(u string) string {
\treturn base + u
}

func unrelated() int {
\tx := 1
\tfor i := 0; i < 10; i++ {
\t\tx += i
\t}
\treturn x
}

func (s *Server) Other() {
\ts.count++
\ts.count++
\ts.count++
}

func (s *Server) Fetch(w http.ResponseWriter, r *http.Request) {
\tu := helper(r.URL.Query().Get(\"u\"))
\thttp.Get(u)
}
";

    #[test]
    fn go_keeps_the_focused_function_what_it_calls_and_the_file_scope() {
        let line = GO.lines().position(|l| l.contains("http.Get(u)")).unwrap() as u32 + 1;
        let kept = kept(Language::Go, GO, &[line]).expect("ranges");
        assert!(kept.contains("func (s *Server) Fetch("));
        assert!(kept.contains("func helper(u string)"), "called by name");
        assert!(kept.contains("var base"), "file scope is kept");
        assert!(kept.contains("import \"net/http\""));
        assert!(!kept.contains("func unrelated()"));
        assert!(!kept.contains("func (s *Server) Other()"));
    }

    #[test]
    fn positions_stay_those_of_the_file() {
        let line = GO.lines().position(|l| l.contains("http.Get(u)")).unwrap();
        let ranges = ranges(Language::Go, GO, &[line as u32 + 1]).expect("ranges");
        for r in &ranges {
            let before = &GO[..r.start_byte];
            assert_eq!(r.start_point.row, before.matches('\n').count());
            assert_eq!(r.start_point.column, 0);
        }
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_go::LANGUAGE.into())
            .expect("grammar");
        parser
            .set_included_ranges(&ranges)
            .expect("ranges in order");
        let tree = parser.parse(GO, None).expect("parse");
        assert!(!tree.root_node().has_error());
        let text = tree.root_node().utf8_text(GO.as_bytes()).unwrap_or("");
        assert!(text.contains("http.Get(u)"));
    }

    const PY: &str = "import subprocess
from flask import request

TIMEOUT = 5


def unrelated(a, b):
    total = 0
    for x in range(a):
        total += x * b
    return total


class Runner:
    name = \"runner\"

    def __init__(self):
        self.count = 0
        self.count += 1
        self.count += 1

    def build(self, host):
        return \"ping -c 1 \" + host

    @staticmethod
    def report(x):
        q = \"\"\"
def not_a_function():
    pass
\"\"\"
        return q + str(x)

    def run(self):
        cmd = self.build(request.args[\"host\"])
        subprocess.call(cmd, shell=True)


def main():
    Runner().run()
";

    #[test]
    fn python_keeps_the_focused_method_its_callees_and_the_class_scope() {
        let line = PY
            .lines()
            .position(|l| l.contains("subprocess.call"))
            .unwrap() as u32
            + 1;
        let kept = kept(Language::Python, PY, &[line]).expect("ranges");
        assert!(kept.contains("    def run(self):"));
        assert!(
            kept.contains("    def build(self, host):"),
            "called by name"
        );
        assert!(kept.contains("class Runner:"));
        assert!(
            kept.contains("name = \"runner\""),
            "class attributes are kept"
        );
        assert!(kept.contains("TIMEOUT = 5"));
        assert!(!kept.contains("def unrelated("));
        assert!(!kept.contains("def __init__("));
        assert!(!kept.contains("def report("));
        assert!(!kept.contains("def main():"));
        let ranges = ranges(Language::Python, PY, &[line]).expect("ranges");
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .expect("grammar");
        parser
            .set_included_ranges(&ranges)
            .expect("ranges in order");
        let tree = parser.parse(PY, None).expect("parse");
        assert!(!tree.root_node().has_error(), "{kept}");
    }

    #[test]
    fn a_def_inside_a_string_is_not_a_definition() {
        let (defs, _) = python_definitions(PY, &split_lines(PY));
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["unrelated", "__init__", "build", "report", "run", "main"]
        );
    }

    #[test]
    fn a_class_with_nothing_kept_leaves_no_header_behind() {
        let text = format!(
            "{PY}\n\nclass Idle:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n"
        );
        let line = text
            .lines()
            .position(|l| l.contains("subprocess.call"))
            .unwrap() as u32
            + 1;
        let kept = kept(Language::Python, &text, &[line]).expect("ranges");
        assert!(!kept.contains("class Idle"), "{kept}");
    }

    #[test]
    fn a_file_mostly_in_focus_is_parsed_whole() {
        let all: Vec<u32> = (1..=PY.lines().count() as u32).collect();
        assert!(ranges(Language::Python, PY, &all).is_none());
        assert!(ranges(Language::Rust, "fn main() {}\n", &[1]).is_none());
    }
}
