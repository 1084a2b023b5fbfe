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
/// their function, when the file neither reads input nor declares a handler (there the
/// sources and entry points decide). Sorted.
pub(crate) fn fed_by_parameters(
    lang: Language,
    content: &[u8],
    rules: &[Rule],
    hits: &[RawHit],
) -> Vec<u32> {
    // A file that reads input, or declares a handler the framework calls with the
    // request, is read through its sources and entry points: its parameters are those.
    if hits
        .iter()
        .any(|h| matches!(rules[h.rule].role, Role::Source | Role::EntryPoint))
    {
        return Vec::new();
    }
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
    parameters::fed_lines(lang, content, &sinks)
}
