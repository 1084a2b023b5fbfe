//! C and C++: checks decided on the code's structure, one function at a time.
//!
//! The taint engine of the other languages asks "does request data reach this call";
//! C's flaws are mostly about what the code does with memory, so each check here
//! decides the flaw itself: a freed pointer used again, a copy whose size is not
//! within its fixed-size destination, a format argument that is not a literal. A
//! bounds check or a reassignment on the way clears a finding. Each `kind = "memory"`
//! rule names one check (`check = "use-after-free"`); the file is parsed once.
mod adopted;
mod asserts;
mod bounds;
mod cached;
mod callers;
mod consts;
mod copies;
mod counted;
mod dangling;
mod escapes;
mod file;
mod func;
mod gotos;
mod guards;
mod headers;
mod indexes;
mod inject;
mod inputs;
mod invalidation;
mod leaks;
mod lifetime;
mod loops;
mod members;
mod mismatch;
mod moved;
mod nulls;
mod owners;
mod realloced;
mod released;
mod signed;
mod sizes;
mod stored;
mod summary;
mod syntax;
mod threads;
mod types;
mod uninit;
mod var_guard;
mod wire;

use crate::matcher::RawHit;
use crate::rules::Rule;
use crate::Language;
use file::FileFacts;
use func::Func;
pub use headers::Headers;

/// The checks a memory rule may name.
pub const CHECKS: &[&str] = &[
    "use-after-free",
    "double-free",
    "free-offset",
    "null-deref",
    "format-string",
    "unchecked-copy",
    "off-by-one",
    "index-from-input",
    "alloc-overflow",
    "divide-by-zero",
    "int-overflow",
    "leak",
    "wrong-check",
    "infinite-loop",
    "endless-recursion",
    "type-confusion",
    "race",
    "unbounded-fork",
    "untrusted-pointer",
    "literal-write",
    "reachable-assert",
    "command-built",
    "path-built",
    "sql-built",
    "invalidated-reference",
    "mismatched-delete",
    "dangling-return",
    "dangling-capture",
    "use-after-move",
    "self-release",
    "double-owner",
    "uninitialized-read",
];

/// A finding of one check: the line it is on and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub check: &'static str,
    pub line: u32,
    pub label: String,
}

/// The grammar for `lang`, when it is C or C++.
pub(crate) fn grammar(lang: Language) -> Option<fn() -> tree_sitter::Language> {
    match lang {
        Language::C => Some(|| tree_sitter_c::LANGUAGE.into()),
        Language::Cpp => Some(|| tree_sitter_cpp::LANGUAGE.into()),
        _ => None,
    }
}

thread_local! {
    static PARSERS: std::cell::RefCell<Vec<(Language, tree_sitter::Parser)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn parse(
    lang: Language,
    grammar: fn() -> tree_sitter::Language,
    text: &[u8],
) -> Option<tree_sitter::Tree> {
    PARSERS.with(|cell| {
        let mut parsers = cell.borrow_mut();
        let i = match parsers.iter().position(|(l, _)| *l == lang) {
            Some(i) => i,
            None => {
                let mut p = tree_sitter::Parser::new();
                p.set_language(&grammar()).ok()?;
                parsers.push((lang, p));
                parsers.len() - 1
            }
        };
        parsers[i].1.parse(text, None)
    })
}

/// Runs the checks named by the memory rules `in_play` over one C/C++ file.
pub(crate) fn analyze(
    lang: Language,
    grammar: fn() -> tree_sitter::Language,
    content: &[u8],
    rules: &[Rule],
    in_play: &[usize],
    headers: super::HeaderContext,
) -> Vec<RawHit> {
    let wanted: Vec<(usize, &str, &str)> = in_play
        .iter()
        .filter_map(|&i| {
            let spec = rules.get(i)?.structural.as_deref()?;
            let check = spec.check.as_deref()?;
            Some((i, check, spec.label.as_str()))
        })
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(content);
    let Some(tree) = parse(lang, grammar, text.as_bytes()) else {
        return Vec::new();
    };
    let included = headers.and_then(|(h, path)| h.included(path, &text, lang));
    let facts = FileFacts::collect(&text, tree.root_node(), included.as_ref());
    let on = |c: &str| wanted.iter().any(|(_, w, _)| *w == c);
    let mut found = Vec::new();
    let movers = if on("use-after-free") {
        realloced::movers(&facts)
    } else {
        Vec::new()
    };
    for f in &facts.functions {
        let func = Func::new(&facts, *f);
        if on("use-after-free") || on("double-free") || on("free-offset") {
            lifetime::freed_uses(&func, &mut found);
        }
        if on("use-after-free") {
            realloced::kept_across_realloc(&func, &movers, &mut found);
        }
        if on("double-free") {
            copies::shallow_copies(&func, &mut found);
            dangling::dangling_members(&func, &mut found);
            dangling::deleted_members(&func, &mut found);
            stored::freed_while_stored(&func, &mut found);
            gotos::freed_before_cleanup(&func, &mut found);
        }
        if on("unbounded-fork") {
            loops::unbounded_fork(&func, &mut found);
        }
        if on("type-confusion") || on("untrusted-pointer") || on("literal-write") {
            types::type_confusion(&func, &mut found);
        }
        if on("race") {
            types::races(&func, &mut found);
            threads::thread_races(&func, &mut found);
        }
        if on("endless-recursion") {
            loops::endless_recursion(&func, &mut found);
        }
        if on("infinite-loop") {
            loops::infinite_loops(&func, &mut found);
        }
        if on("null-deref") || on("wrong-check") {
            nulls::null_deref(&func, &mut found);
        }
        if on("format-string") {
            inject::format_string(&func, &mut found);
        }
        if on("command-built") || on("path-built") || on("sql-built") {
            inject::built_sinks(&func, &mut found);
        }
        if on("unchecked-copy") {
            bounds::unchecked_copy(&func, &mut found);
            signed::signed_lengths(&func, &mut found);
            sizes::pointer_sizes(&func, &mut found);
        }
        if on("int-overflow") || on("divide-by-zero") || on("reachable-assert") {
            consts::constants(&func, &mut found);
        }
        if on("leak") {
            leaks::leaks(&func, &mut found);
            leaks::handed_leaks(&func, &mut found);
        }
        if on("unchecked-copy") || on("alloc-overflow") || on("index-from-input") {
            wire::wire_lengths(
                &func,
                &mut found,
                wire::Wanted {
                    copies: on("unchecked-copy"),
                    allocs: on("alloc-overflow"),
                    indexes: on("index-from-input"),
                },
            );
        }
        if on("off-by-one") {
            indexes::off_by_one(&func, &mut found);
        }
        if on("invalidated-reference") {
            invalidation::invalidated(&func, &mut found);
        }
        if on("dangling-return") {
            escapes::returned_views(&func, &mut found);
            escapes::views_of_temporaries(&func, &mut found);
        }
        if on("dangling-capture") {
            escapes::escaping_captures(&func, &mut found);
        }
        if on("use-after-move") {
            moved::used_after_move(&func, &mut found);
        }
        if on("self-release") {
            released::self_release(&func, &mut found);
        }
        if on("double-owner") {
            adopted::double_owners(&func, &mut found);
        }
        if on("uninitialized-read") {
            uninit::uninitialized_reads(&func, &mut found);
        }
        if on("index-from-input") || on("alloc-overflow") || on("divide-by-zero") {
            inputs::input_arithmetic(&func, &mut found);
        }
        if on("index-from-input") {
            signed::signed_indexes(&func, &mut found);
            signed::parsed_container_indexes(&func, &mut found);
        }
        if on("divide-by-zero") {
            inputs::zero_prone_divisors(&func, &mut found);
        }
    }
    if on("use-after-free") {
        cached::dangling_caches(&facts, &mut found);
    }
    if on("mismatched-delete") {
        mismatch::mismatched_deletes(&facts, &mut found);
    }
    if on("use-after-free") || on("double-free") {
        owners::member_aliases(&facts, on("use-after-free"), on("double-free"), &mut found);
    }
    let mut hits = Vec::new();
    for f in found {
        for (rule, check, label) in &wanted {
            if *check == f.check {
                hits.push(RawHit {
                    rule: *rule,
                    line: f.line,
                    snippet: label
                        .replace("{sink}", &f.label)
                        .replace("{to}", &f.line.to_string()),
                    span: None,
                });
            }
        }
    }
    hits.sort_by_key(|h| (h.line, h.rule));
    hits.dedup_by_key(|h| (h.line, h.rule));
    hits
}
