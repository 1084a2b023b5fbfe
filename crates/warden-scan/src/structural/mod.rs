//! Structural matching: a real parser per language, and data flow within a function.
//!
//! A structural rule's regex `pattern` is only its prefilter: when it matches a file,
//! the file is parsed (tree-sitter) and walked function by function; the rule fires
//! where the analysis confirms it (a source reaching a sink, a query built from a
//! non-constant, a parser used without its secure setting). The tree lives only for
//! the duration of one [`analyze`] call.
mod alias_focus;
mod analyze;
mod assign;
mod builders;
mod c;
mod calls;
mod control;
mod counts;
mod fields;
mod flow;
mod fold;
mod functions;
mod pack_file;
mod partial;
mod spec;
mod syntax;

pub use c::Headers;
pub(crate) use pack_file::builtin_packs_as;
pub use pack_file::{builtin_packs, parse_pack, BUILTIN_SOURCES};
pub use spec::{FlowPack, Kind, SanitizerGroup, Sink, SourceGroup, Spec};

use crate::matcher::RawHit;
use crate::rules::{Role, Rule};
use crate::{Language, RuleSet};
use analyze::{Active, Checked, Walker};
use std::collections::HashMap;
use std::sync::Arc;

/// Whether structural analysis covers files of `lang`.
pub fn supports(lang: Language) -> bool {
    syntax::syntax(lang).is_some() || c::grammar(lang).is_some()
}

/// Files larger than this are not parsed (bundles, generated code, vendored modules).
const MAX_PARSED_SIZE: usize = 256 * 1024;

/// What the analysis of one file found.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Confirmed hits of structural rules, each labelled with why.
    pub hits: Vec<RawHit>,
    /// (line, category): a sink call on this line whose arguments are all constants or
    /// sanitised, and no other sink call of the category there is in doubt.
    pub refuted: Vec<(u32, String)>,
}

/// Analyses `content` for the structural rules `in_play` (indexes into `rules`).
pub fn analyze(lang: Language, content: &[u8], rules: &[Rule], in_play: &[usize]) -> Analysis {
    analyze_focused(lang, content, rules, in_play, None, None)
}

/// A C/C++ file's place in the scan: the headers cache and the file's absolute path.
pub type HeaderContext<'a> = Option<(&'a Headers, &'a std::path::Path)>;

/// As [`analyze`], walking only the functions that span one of the `focus` lines
/// (sorted; the lines where some rule matched): a function without any cannot hold a
/// finding, and one that is called is still summarised when first called.
pub fn analyze_focused(
    lang: Language,
    content: &[u8],
    rules: &[Rule],
    in_play: &[usize],
    focus: Option<&[u32]>,
    headers: HeaderContext,
) -> Analysis {
    let mut out = Analysis::default();
    // Parsing costs far more than matching: very large files keep their regex hits only.
    if content.len() > MAX_PARSED_SIZE {
        return out;
    }
    if let Some(grammar) = c::grammar(lang) {
        out.hits = c::analyze(lang, grammar, content, rules, in_play, headers);
        return out;
    }
    let Some(syn) = syntax::syntax(lang) else {
        return out;
    };
    // Rules grouped by pack: source and sanitizer groups are numbered per pack.
    let mut by_pack: Vec<(Arc<FlowPack>, Vec<usize>)> = Vec::new();
    // Whether the file holds a source of the pack, asked once per pack.
    let mut has_source: Vec<(*const FlowPack, bool)> = Vec::new();
    for &i in in_play {
        let Some(spec) = rules.get(i).and_then(|r| r.structural.as_ref()) else {
            continue;
        };
        let pack = &spec.pack;
        // A taint rule needs a source somewhere in the file.
        if spec.kind == Kind::Taint {
            let key = Arc::as_ptr(pack);
            let found = match has_source.iter().find(|(p, _)| *p == key) {
                Some((_, f)) => *f,
                None => {
                    let any = &pack.compiled().any_source;
                    let f = any.as_ref().is_some_and(|re| re.is_match(content));
                    has_source.push((key, f));
                    f
                }
            };
            if !found {
                continue;
            }
        }
        match by_pack.iter_mut().find(|(p, _)| Arc::ptr_eq(p, pack)) {
            Some((_, list)) => list.push(i),
            None => by_pack.push((Arc::clone(pack), vec![i])),
        }
    }
    if by_pack.is_empty() {
        return out;
    }
    let text = String::from_utf8_lossy(content);
    let ranges = focus.and_then(|f| partial::ranges(lang, &text, f));
    let Some(tree) = parse(lang, syn, text.as_bytes(), ranges.as_deref()) else {
        return out;
    };
    let mut checked: Vec<Checked> = Vec::new();
    for (pack, list) in &by_pack {
        let active: Vec<Active> = list
            .iter()
            .filter_map(|&i| {
                let spec = rules[i].structural.as_deref()?;
                Some(Active {
                    rule: i,
                    category: rules[i].category.as_str(),
                    spec,
                    compiled: spec.compiled(),
                })
            })
            .collect();
        let mut w = Walker {
            src: &text,
            syn,
            pack: pack.compiled(),
            group_labels: pack.sources.iter().map(|(_, g)| g.label.as_str()).collect(),
            active,
            summaries: HashMap::new(),
            record: true,
            found: Vec::new(),
            checked: Vec::new(),
            ret: None,
            param_sinks: Vec::new(),
            depth: 0,
            fn_nodes: HashMap::new(),
            in_progress: Vec::new(),
            focus,
            in_handler: false,
        };
        w.collect_functions(tree.root_node());
        // One walk; a function called before the walk reaches it is summarised then.
        w.eval(tree.root_node(), &mut flow::Env::default(), false);
        for f in &w.found {
            out.hits.push(RawHit {
                rule: w.active[f.active].rule,
                line: f.line,
                snippet: f.label.clone(),
                span: None,
            });
        }
        checked.append(&mut w.checked);
    }
    let mut doubt: HashMap<(u32, &str), bool> = HashMap::new();
    for c in &checked {
        for line in c.from..=c.to.min(c.from + 50) {
            let e = doubt.entry((line, c.category.as_str())).or_insert(false);
            *e |= !c.safe;
        }
    }
    out.refuted = doubt
        .into_iter()
        .filter(|(_, unsafe_)| !unsafe_)
        .map(|((l, c), _)| (l, c.to_string()))
        .collect();
    out.refuted.sort();
    out.hits.sort_by_key(|h| (h.line, h.rule));
    out
}

thread_local! {
    /// One parser per thread and language, reused from file to file (its buffers are
    /// kept; trees are not).
    static PARSERS: std::cell::RefCell<Vec<(Language, tree_sitter::Parser)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Parses `text`, only its `ranges` when given; the whole text when that parse has
/// an error (a range cut in the wrong place; see [`partial`]).
fn parse(
    lang: Language,
    syn: &syntax::Syntax,
    text: &[u8],
    ranges: Option<&[tree_sitter::Range]>,
) -> Option<tree_sitter::Tree> {
    PARSERS.with(|cell| {
        let mut parsers = cell.borrow_mut();
        let i = match parsers.iter().position(|(l, _)| *l == lang) {
            Some(i) => i,
            None => {
                let mut p = tree_sitter::Parser::new();
                p.set_language(&(syn.grammar)()).ok()?;
                parsers.push((lang, p));
                parsers.len() - 1
            }
        };
        let parser = &mut parsers[i].1;
        if let Some(ranges) = ranges {
            let part = match parser.set_included_ranges(ranges) {
                Ok(()) => parser.parse(text, None),
                Err(_) => None,
            };
            // The parser keeps its ranges from file to file: back to whole texts.
            parser.set_included_ranges(&[]).ok()?;
            if let Some(tree) = part.filter(|t| !t.root_node().has_error()) {
                return Some(tree);
            }
        }
        parser.parse(text, None)
    })
}

/// Turns a file's regex hits into its final hits: prefilter hits of structural rules are
/// replaced by what the analysis confirms, and regex sink hits on a line where the
/// analysis proved every sink argument of that category constant or sanitised are dropped.
pub fn confirm(
    ruleset: &RuleSet,
    lang: Language,
    content: &[u8],
    raw: Vec<RawHit>,
    headers: HeaderContext,
) -> Vec<RawHit> {
    let rules = ruleset.rules();
    let mut in_play: Vec<usize> = raw
        .iter()
        .filter(|h| rules[h.rule].structural.is_some())
        .map(|h| h.rule)
        .collect();
    if in_play.is_empty() {
        return raw;
    }
    in_play.sort_unstable();
    in_play.dedup();
    let raw_lines: Vec<u32> = raw
        .iter()
        .filter(|h| rules[h.rule].structural.is_some())
        .map(|h| h.line)
        .collect();
    let mut hits: Vec<RawHit> = raw
        .into_iter()
        .filter(|h| rules[h.rule].structural.is_none())
        .collect();
    if !supports(lang) {
        return hits;
    }
    let mut focus: Vec<u32> = hits.iter().map(|h| h.line).collect();
    if let Ok(text) = std::str::from_utf8(content) {
        focus.extend(alias_focus::alias_call_lines(text, &raw_lines));
    }
    focus.extend(raw_lines);
    focus.sort_unstable();
    focus.dedup();
    let analysis = analyze_focused(lang, content, rules, &in_play, Some(&focus), headers);
    if !analysis.refuted.is_empty() {
        hits.retain(|h| {
            let r = &rules[h.rule];
            r.role != Role::Sink
                || analysis
                    .refuted
                    .binary_search_by(|(l, c)| (*l, c.as_str()).cmp(&(h.line, r.category.as_str())))
                    .is_err()
        });
    }
    hits.extend(analysis.hits);
    hits.sort_by_key(|h| (h.line, h.rule));
    hits
}
