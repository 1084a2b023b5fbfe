//! Looking for a rule's matches only where they can start: just before its literals.
//!
//! A rule's regex, run over a whole file, costs time in proportion to the file. When
//! the prefilter knows where the rule's literals occur and the pattern says a match
//! starts at most so many bytes before its literal, or on the literal's line, only
//! those offsets need trying, each with an anchored search, which stops as soon as
//! the pattern cannot go on. For the common case, a literal or two in a file of
//! thousands of lines, that is a few dozen short tries instead of a full pass.

use crate::blank_lines::lines_back;
use crate::first_bytes::FirstBytes;
use regex_automata::util::iter::Searcher;
use regex_automata::{meta, Anchored, Input};

/// Costs in quarters of a byte searched by a rule's automaton. One anchored try costs
/// about as much as searching 16 bytes (instructions counted over ragflow: 16 and 32
/// cost 2% fewer than 64, 128 2% more); checking a byte against a rule's first bytes,
/// a quarter of one. Trying wins while the tries cost less than a search of the file.
const TRY: usize = 16 * 4;
const CHECK: usize = 1;
const BYTE: usize = 4;

/// How far before its literal a match of a rule may start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lead {
    /// At most this many bytes (`None`: unbounded).
    pub max: Option<usize>,
    /// Never before the start of the line this many non-blank lines above the
    /// literal's (`Some(0)`: the literal's own line; `None`: no such bound).
    pub blank_runs: Option<usize>,
    /// No match spans lines.
    pub single_line: bool,
    /// Matches start only at the start of a line.
    pub line_start: bool,
}

/// For each literal occurrence in `at` (ascending), the first and last offset at which
/// a match holding it may start; `None` when trying them one by one would cost more
/// than a search of the whole text, or they are unbounded. With `first` (the bytes a
/// match can start with), only offsets holding one of them are tried, and a window
/// costs little more than the check of its bytes. Both ends grow with the occurrence,
/// so the windows are in order.
pub(crate) fn start_windows(
    content: &[u8],
    at: &[usize],
    lead: Lead,
    first: Option<&FirstBytes>,
) -> Option<Vec<(usize, usize)>> {
    if lead.max.is_none() && lead.blank_runs.is_none() {
        return None;
    }
    let budget = content.len() * BYTE;
    // The least a byte of a window can cost.
    let per_byte = if first.is_some() || lead.line_start {
        CHECK
    } else {
        TRY
    };
    let mut spent = 0;
    let mut windows = Vec::with_capacity(at.len());
    for &literal in at {
        let remaining = budget.checked_sub(spent)? / per_byte;
        let mut start = lead.max.map_or(0, |l| literal.saturating_sub(l));
        // On the line of the previous literal, the same lines lie above it.
        let on_previous_line = windows
            .last()
            .filter(|&&(_, last)| memchr::memchr(b'\n', &content[last..literal]).is_none());
        if let (Some(&(previous, _)), Some(_)) = (on_previous_line, lead.blank_runs) {
            start = start.max(previous);
        } else if let Some(runs) = lead.blank_runs {
            // Look for the line's start only as far back as the budget reaches.
            let from = start.max(literal.saturating_sub(remaining));
            match lines_back(content, literal, runs, from) {
                Some(line) => start = start.max(line),
                None if from > start => return None,
                None => {}
            }
        }
        // Offsets an earlier window covers are tried once, with it: only the new
        // ones cost anything (literals a few bytes apart share nearly all of theirs).
        let fresh = windows
            .last()
            .map_or(start, |&(_, last): &(usize, usize)| start.max(last + 1));
        spent += match first {
            _ if fresh > literal => 0,
            // Only the starts of the window's lines can start a match.
            _ if lead.line_start => {
                let tries = 1 + memchr::memchr_iter(b'\n', &content[fresh..literal]).count();
                (literal - fresh + 1) * CHECK + tries * TRY
            }
            Some(f) => {
                let tries = content[fresh..=literal]
                    .iter()
                    .filter(|&&b| f.contains(b))
                    .count();
                (literal - fresh + 1) * CHECK + tries * TRY
            }
            None => (literal - fresh + 1) * TRY,
        };
        if spent > budget {
            return None;
        }
        windows.push((start, literal));
    }
    Some(windows)
}

/// The matches `find_iter` would give, found by trying only the offsets in `windows`
/// (from [`start_windows`]) that hold one of `first` (when known): no match can start
/// elsewhere. Offsets are tried in order and each at most once, so the first match
/// found is the leftmost, and a match ends the tries it overlaps, as in an ordinary
/// search.
pub(crate) fn near_literals<'a>(
    regex: &'a meta::Regex,
    cache: &'a mut meta::Cache,
    content: &'a [u8],
    windows: Vec<(usize, usize)>,
    first: Option<&'a FirstBytes>,
    line_start: bool,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut next = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(&(from, last)) = windows.get(i) {
            for start in from.max(next)..=last {
                next = start + 1;
                // Matches hold a literal, so are never empty: their first byte is one
                // of `first`.
                if first.is_some_and(|f| !f.contains(content[start])) {
                    continue;
                }
                if line_start && start > 0 && content[start - 1] != b'\n' {
                    continue;
                }
                let input = Input::new(content).range(start..).anchored(Anchored::Yes);
                if let Some(m) = regex.search_with(cache, &input) {
                    // Matches hold a literal, so are never empty.
                    next = m.end().max(start + 1);
                    return Some((start, m.end()));
                }
            }
            i += 1;
        }
        None
    })
}

/// The matches `find_iter` gives, searched with the caller's cache.
pub(crate) fn everywhere<'a>(
    regex: &'a meta::Regex,
    cache: &'a mut meta::Cache,
    content: &'a [u8],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut searcher = Searcher::new(Input::new(content));
    std::iter::from_fn(move || {
        searcher
            .advance(|input| Ok(regex.search_with(cache, input)))
            .map(|m| (m.start(), m.end()))
    })
}

/// The lines (start, end without the newline) holding the occurrences in `at`
/// (ascending), once each; `None` when together they are more than half the text,
/// and a search of the whole is as cheap.
pub(crate) fn literal_lines(content: &[u8], at: &[usize]) -> Option<Vec<(usize, usize)>> {
    let budget = content.len() / 2;
    let mut bytes = 0;
    let mut lines: Vec<(usize, usize)> = Vec::new();
    for &literal in at {
        if lines.last().is_some_and(|&(_, end)| literal <= end) {
            continue;
        }
        let start = memchr::memrchr(b'\n', &content[..literal]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &content[literal..]).map_or(content.len(), |i| literal + i);
        bytes += end - start;
        if bytes > budget {
            return None;
        }
        lines.push((start, end));
    }
    Some(lines)
}

/// The matches `find_iter` would give for a pattern that cannot match a newline,
/// found by searching only `lines` (from [`literal_lines`]): its matches lie within
/// one line, and only lines with a literal can hold one. The search sees the whole
/// text around each line, so `^`, `$` and `\b` judge the line's edges as before.
pub(crate) fn on_lines<'a>(
    regex: &'a meta::Regex,
    cache: &'a mut meta::Cache,
    content: &'a [u8],
    lines: Vec<(usize, usize)>,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut i = 0;
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(&(start, end)) = lines.get(i) {
            let from_here = from.max(start);
            if from_here <= end {
                let input = Input::new(content).range(from_here..end);
                if let Some(m) = regex.search_with(cache, &input) {
                    from = m.end().max(m.start() + 1);
                    return Some((m.start(), m.end()));
                }
            }
            i += 1;
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_windows_stop_at_the_line_start_and_the_budget() {
        let content = format!("ab\ncd password\n{}", " ".repeat(640));
        let at = content.find("password").expect("present");
        let same_line = Lead {
            max: None,
            blank_runs: Some(0),
            single_line: false,
            line_start: false,
        };
        assert_eq!(
            start_windows(content.as_bytes(), &[at], same_line, None),
            Some(vec![(3, at)])
        );
        let at_line_start = Lead {
            line_start: true,
            ..same_line
        };
        // The same window, at a fraction of the cost: only line starts are tried.
        assert_eq!(
            start_windows(content.as_bytes(), &[at], at_line_start, None),
            Some(vec![(3, at)])
        );
        let long_line = format!("{}password", "x".repeat(150));
        assert_eq!(
            start_windows(long_line.as_bytes(), &[150], same_line, None),
            None,
            "150 tries cost more than a search"
        );
        assert_eq!(
            start_windows(long_line.as_bytes(), &[150], at_line_start, None),
            Some(vec![(0, 150)])
        );
        let bounded = Lead {
            max: Some(2),
            blank_runs: None,
            single_line: false,
            line_start: false,
        };
        assert_eq!(
            start_windows(content.as_bytes(), &[at], bounded, None),
            Some(vec![(at - 2, at)])
        );
        let unbounded = Lead {
            max: None,
            blank_runs: None,
            single_line: false,
            line_start: false,
        };
        assert_eq!(
            start_windows(content.as_bytes(), &[at], unbounded, None),
            None
        );
        // A line longer than the budget allows is searched whole.
        let long = format!("{}password", "x".repeat(600));
        assert_eq!(
            start_windows(long.as_bytes(), &[600], same_line, None),
            None
        );
    }

    #[test]
    fn overlapping_windows_cost_their_shared_offsets_once() {
        // Twenty literals on one 260-byte line: each window reaches back to the line's
        // start, but the offsets are tried once, so together they cost one line's tries.
        let line = "x = a.get(1) ".repeat(20);
        let content = format!("{line}\n{}", "y = 2\n".repeat(1000));
        let at: Vec<usize> = content.match_indices(".get(").map(|(i, _)| i).collect();
        let same_line = Lead {
            max: None,
            blank_runs: Some(0),
            single_line: false,
            line_start: false,
        };
        let windows = start_windows(content.as_bytes(), &at, same_line, None)
            .expect("one line's tries cost less than a search of the file");
        assert_eq!(windows.len(), 20);
        assert!(windows.iter().all(|&(start, _)| start == 0));
        // Counted window by window, the same tries were over budget.
        let alone: usize = at.iter().map(|&a| (a + 1) * TRY).sum();
        assert!(alone > content.len() * BYTE);
    }
}
