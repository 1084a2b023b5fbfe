//! C++ classes as the C checks see them: a member function reads its class's fields
//! by bare name (`station_[n]`, `this` implied), and class or file constants
//! (`static constexpr std::size_t kMax = 24;`) bound arrays like a `#define`.

use super::syntax::text;
use crate::structural::fields::{Fields, Kinds};
use std::collections::HashMap;
use tree_sitter::Node;

/// Whether a function definition is a C++ member function: defined in its class's
/// body, or out of it under a qualified name (`Frame::decode`).
pub(crate) fn is_member_function(src: &str, func: Node) -> bool {
    if func
        .parent()
        .is_some_and(|p| p.kind_name() == "field_declaration_list")
    {
        return true;
    }
    let mut d = func.field("declarator");
    while let Some(x) = d {
        if x.kind_name() == "function_declarator" {
            return x.field("declarator").is_some_and(|n| {
                n.kind_name() == "qualified_identifier" && text(src, n).contains("::")
            });
        }
        d = x.field("declarator");
    }
    false
}

/// `static constexpr std::size_t kMax = 24;`, `const int LEN = 16;` at file or class
/// level: a named constant, read like a `#define` (array lengths, bounds).
pub(crate) fn constant_declared(src: &str, d: Node, defines: &mut HashMap<String, i64>) {
    let mut c = d.walk();
    let constant = d.children(&mut c).any(|k| {
        k.kind_name() == "type_qualifier" && matches!(text(src, k), "const" | "constexpr")
    });
    if !constant {
        return;
    }
    let mut c = d.walk();
    for decl in d.children_by_field_name("declarator", &mut c) {
        let (name, value) = match decl.kind_name() {
            "init_declarator" => (decl.field("declarator"), decl.field("value")),
            _ => (Some(decl), d.field("default_value")),
        };
        let (Some(name), Some(value)) = (name, value) else {
            continue;
        };
        if !matches!(name.kind_name(), "identifier" | "field_identifier") {
            continue;
        }
        if let Some(i) = super::syntax::parse_int(text(src, value).trim()) {
            defines.entry(text(src, name).to_string()).or_insert(i);
        }
    }
}
