//! How many lines a match can reach back from its literal, when the only newlines a
//! pattern can match before it are in runs of whitespace or single characters.
//!
//! `def \w+\(\s*request` can start on an earlier line than `request`, but only if
//! every line in between is blank, or holds what the pattern matches between two
//! whitespace runs. With `n` parts that may hold newlines (a run of whitespace, or one
//! character such as `[^\w]`), each non-blank line between a match's start and its
//! literal needs a part of its own to end it: a match starts no earlier than the start
//! of the `n`th non-blank line above its literal's, a window, not the whole file.

use regex_syntax::hir::{Class, Hir, HirKind};

/// The bytes of a blank line (the newline aside), and of the runs that may span lines:
/// `\s` without Unicode.
fn blank(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// How many parts holding newlines a match of `hir` can contain, each a run of
/// whitespace or a single character (0: it never holds a newline); `None` when a
/// newline can come some other way (`[^"]*`, `(?s:.*)`).
pub(crate) fn whitespace_runs(hir: &Hir) -> Option<usize> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(0),
        // Each newline is a part of one character, as a class's would be.
        HirKind::Literal(lit) => Some(lit.0.iter().filter(|&&b| b == b'\n').count()),
        // One character: at most one newline, and nothing else with it.
        HirKind::Class(class) => Some(usize::from(class_has_newline(class))),
        HirKind::Capture(cap) => whitespace_runs(&cap.sub),
        HirKind::Repetition(rep) => {
            let runs = whitespace_runs(&rep.sub)?;
            if runs == 0 {
                return Some(0);
            }
            // A repeated blank class is one run however long; anything else holding
            // runs repeats them.
            if matches!(rep.sub.kind(), HirKind::Class(c) if class_is_blank(c)) {
                return Some(1);
            }
            rep.max.and_then(|m| runs.checked_mul(m as usize))
        }
        HirKind::Concat(subs) => subs
            .iter()
            .try_fold(0usize, |acc, s| acc.checked_add(whitespace_runs(s)?)),
        HirKind::Alternation(subs) => subs
            .iter()
            .try_fold(0usize, |acc, s| Some(acc.max(whitespace_runs(s)?))),
    }
}

fn class_has_newline(class: &Class) -> bool {
    match class {
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= '\n' && '\n' <= r.end()),
    }
}

fn class_is_blank(class: &Class) -> bool {
    match class {
        Class::Bytes(c) => c.ranges().iter().all(|r| (r.start()..=r.end()).all(blank)),
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .all(|r| u32::from(r.end()) < 0x80 && (r.start() as u8..=r.end() as u8).all(blank)),
    }
}

/// The start of the line `runs` non-blank lines above the one holding `at` (blank
/// lines do not count; the file's start ends the count early), looking back no
/// further than `from`: `None` if the answer lies before `from` and `from` is not the
/// file's start.
pub(crate) fn lines_back(content: &[u8], at: usize, runs: usize, from: usize) -> Option<usize> {
    // Start of the line holding `pos - 1`'s line end... i.e. of the line `pos` is in.
    let line_start = |pos: usize| -> Option<usize> {
        match memchr::memrchr(b'\n', &content[from..pos]) {
            Some(i) => Some(from + i + 1),
            None if from == 0 => Some(0),
            None => None,
        }
    };
    let mut start = line_start(at)?;
    let mut left = runs;
    while left > 0 && start > 0 {
        if start - 1 < from {
            return None;
        }
        // The line above ends at `start - 1` (its newline).
        let above = line_start(start - 1)?;
        if !content[above..start - 1].iter().all(|&b| blank(b)) {
            left -= 1;
        }
        start = above;
    }
    Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(pattern: &str) -> Option<usize> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("parses");
        whitespace_runs(&hir)
    }

    #[test]
    fn whitespace_runs_of_common_shapes() {
        assert_eq!(runs(r"eval\("), Some(0));
        assert_eq!(runs(r"def \w+\(\s*request"), Some(1));
        assert_eq!(runs(r"\(\s*(?:self,\s*)?request"), Some(2));
        assert_eq!(runs(r"[ \t]*x"), Some(0));
        assert_eq!(runs(r"(?:\s+x){2}"), Some(2));
        assert_eq!(runs(r#"[^"]*x"#), None, "a class that is not blank");
        assert_eq!(runs(r"(?:^|[^.\w])urlopen"), Some(1), "one character");
        assert_eq!(runs(r"(?s:.){2}x"), Some(2));
        assert_eq!(runs(r"(?:\s+x)*"), None, "runs repeated without bound");
        assert_eq!(
            runs(r"def f\(\):\n(?:[^\n]*\n){0,3}x"),
            Some(4),
            "a line at a time"
        );
    }

    #[test]
    fn lines_back_skips_blank_lines_and_stops_at_the_budget() {
        let text = b"a\nb(\n\n  \n  self,\n  request";
        let at = text.len() - "request".len();
        let line = |n: &str| {
            text.windows(n.len())
                .position(|w| w == n.as_bytes())
                .expect("in text")
        };
        assert_eq!(lines_back(text, at, 0, 0), Some(line("  request")));
        assert_eq!(lines_back(text, at, 1, 0), Some(line("  self,")));
        assert_eq!(lines_back(text, at, 2, 0), Some(line("b(")));
        assert_eq!(
            lines_back(text, at, 9, 0),
            Some(0),
            "the file's start ends the count"
        );
        assert_eq!(
            lines_back(text, at, 2, line("  self,")),
            None,
            "past the budget"
        );
    }
}
