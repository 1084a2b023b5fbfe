//! What the scoring reads of a file's code beyond its hits: which sinks take their
//! function's parameters, and where functions start.

use crate::matcher::RawHit;
use crate::parameters;
use crate::rules::{Role, Rule};
use crate::Language;

/// What the scoring reads of a file's code beyond its hits.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Layout {
    /// Lines (sorted) of the sinks fed by a parameter of their function.
    pub fed: Vec<u32>,
    /// Lines where functions start, when an owner check has to be told apart from the
    /// next function's (sorted; empty otherwise).
    pub functions: Vec<u32>,
}

/// The [`Layout`] of `content` given its hits.
pub fn layout(lang: Language, content: &[u8], rules: &[Rule], hits: &[RawHit]) -> Layout {
    let authz = |role: Role| {
        hits.iter()
            .any(|h| rules[h.rule].role == role && rules[h.rule].category == "authz")
    };
    Layout {
        fed: fed_by_parameters(lang, content, rules, hits),
        functions: if authz(Role::Sink) && authz(Role::Sanitizer) {
            parameters::function_starts(lang, content)
        } else {
            Vec::new()
        },
    }
}

/// The sink lines of `hits` whose weakness a caller's value decides (injections,
/// traversal, SSRF, redirects, object lookups) and whose statement names a parameter of
/// their function and no check of its kind can be about its value (see below), when
/// the file reads no input (there the sources decide). A file that declares handlers
/// counts (a message handler's message, a repository written beside the routes that
/// call it), but not through the framework's request object, whose reads the sources
/// and sanitizers speak for. Sorted.
pub(crate) fn fed_by_parameters(
    lang: Language,
    content: &[u8],
    rules: &[Rule],
    hits: &[RawHit],
) -> Vec<u32> {
    // A file that reads input is read through its sources: the flow from them decides.
    if hits.iter().any(|h| rules[h.rule].role == Role::Source) {
        return Vec::new();
    }
    let handlers = hits.iter().any(|h| rules[h.rule].role == Role::EntryPoint);
    let sinks: Vec<parameters::Sink> = hits
        .iter()
        .filter(|h| {
            rules[h.rule].role == Role::Sink && crate::score::handed_down(&rules[h.rule].category)
        })
        .map(|h| parameters::Sink {
            line: h.line,
            span: h.span.clone(),
        })
        .collect();
    let fed = parameters::fed_lines(lang, content, &sinks, handlers);
    // A check of the sink's kind withholds the boost where it can be about the sink's
    // value: in the sink's own function, in a function it calls (a store's `_locate()`
    // that keeps only the basename) or that calls it (an installer that checks each
    // entry's path, then hands it to `writeEntry`), or outside any function. The
    // basename the next method takes says nothing of this one's path.
    let checks: Vec<(u32, &str)> = hits
        .iter()
        .filter(|h| rules[h.rule].role == Role::Sanitizer)
        .map(|h| (h.line, rules[h.rule].category.as_str()))
        .collect();
    if fed.is_empty() || checks.is_empty() {
        return fed;
    }
    let functions = parameters::functions(lang, content);
    let text = String::from_utf8_lossy(content);
    let lines: Vec<&str> = text.lines().collect();
    // The function holding `line`: its index in `functions`.
    let around = |line: u32| {
        functions
            .partition_point(|(start, _)| *start <= line)
            .checked_sub(1)
    };
    fed.into_iter()
        .filter(|&line| {
            let kinds: Vec<&str> = hits
                .iter()
                .filter(|h| h.line == line && rules[h.rule].role == Role::Sink)
                .map(|h| rules[h.rule].category.as_str())
                .collect();
            let Some(own) = around(line) else {
                return false;
            };
            // A class whose header reads as a function (Kotlin's primary constructor):
            // its parameters configure the object its methods check.
            let header = lines
                .get(functions[own].0 as usize - 1)
                .copied()
                .unwrap_or("");
            if header.contains("class ") {
                return !checks
                    .iter()
                    .any(|&(_, kind)| kind == "input" || kinds.contains(&kind));
            }
            let body = |f: usize| {
                let end = functions
                    .get(f + 1)
                    .map_or(lines.len(), |(start, _)| *start as usize - 1);
                lines.get(functions[f].0 as usize..end).unwrap_or(&[])
            };
            let calls_into = |from: usize, to: usize| {
                let name = functions[to].1.as_str();
                !name.is_empty() && body(from).iter().any(|l| calls(l, name))
            };
            !checks.iter().any(|&(at, kind)| {
                if kind != "input" && !kinds.contains(&kind) {
                    return false;
                }
                match around(at) {
                    None => true,
                    Some(f) => f == own || calls_into(own, f) || calls_into(f, own),
                }
            })
        })
        .collect()
}

/// Whether `line` calls a function named `name` (`name(`, `self.name(`, `$this->name(`).
fn calls(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + name.len()..].trim_start();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && after.starts_with('(')
    })
}
