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
/// their function, when the file reads no input (there the sources decide). In a file
/// that declares handlers, only sinks above the first of them count: a repository or
/// helper written before the routes that call it, in the same file. A handler's own
/// parameter is most often the framework's request object, whose reads the sources
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
    let first_entry = hits
        .iter()
        .filter(|h| rules[h.rule].role == Role::EntryPoint)
        .map(|h| h.line)
        .min();
    let sinks: Vec<parameters::Sink> = hits
        .iter()
        .filter(|h| {
            rules[h.rule].role == Role::Sink
                && crate::score::handed_down(&rules[h.rule].category)
                && first_entry.is_none_or(|entry| h.line < entry)
        })
        .map(|h| parameters::Sink {
            line: h.line,
            span: h.span.clone(),
        })
        .collect();
    parameters::fed_lines(lang, content, &sinks)
}
