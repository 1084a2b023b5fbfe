// Temporary: prints tree-sitter S-expressions (not committed).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lang: tree_sitter::Language = match args[1].as_str() {
        "python" => tree_sitter_python::LANGUAGE.into(),
        "js" => tree_sitter_javascript::LANGUAGE.into(),
        "ts" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        "go" => tree_sitter_go::LANGUAGE.into(),
        "java" => tree_sitter_java::LANGUAGE.into(),
        "php" => tree_sitter_php::LANGUAGE_PHP.into(),
        _ => panic!(),
    };
    let src = std::fs::read_to_string(&args[2]).unwrap();
    let mut p = tree_sitter::Parser::new();
    p.set_language(&lang).unwrap();
    let t = p.parse(&src, None).unwrap();
    let mut c = t.walk();
    fn rec(c: &mut tree_sitter::TreeCursor, src: &str, d: usize) {
        let n = c.node();
        if n.is_named() {
            let f = c.field_name().map(|f| format!("{f}: ")).unwrap_or_default();
            let txt = if n.child_count() == 0 { format!(" {:?}", &src[n.byte_range()]) } else { String::new() };
            println!("{}{}{}{}", "  ".repeat(d), f, n.kind(), txt);
        } else if c.field_name().is_some() {
            println!("{}{}: {:?}", "  ".repeat(d), c.field_name().unwrap(), n.kind());
        }
        if c.goto_first_child() {
            loop { rec(c, src, d + 1); if !c.goto_next_sibling() { break; } }
            c.goto_parent();
        }
    }
    rec(&mut c, &src, 0);
}
