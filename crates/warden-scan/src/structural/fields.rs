//! Field and kind lookups by id. `Node::child_by_field_name` finds the field's id by
//! comparing the name with every field of the grammar, on every call; the analyses ask
//! for the same few fields millions of times on a large tree, so each (grammar, name)
//! pair is looked up once per thread. `Node::kind` measures and checks the name's C
//! string on every call; [`Kinds::kind_name`] reads it from a table per grammar.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU16;
use tree_sitter::Node;

/// (the grammar, the field name's address) → the field's id, if the grammar has it.
type FieldIds = Vec<((u64, usize), Option<NonZeroU16>)>;
/// Per grammar (by address): the name of each node kind, by kind id, as found.
type KindNames = Vec<(u64, Vec<Option<&'static str>>)>;

thread_local! {
    /// A few dozen pairs at most: a linear search beats hashing them on every lookup.
    static FIELD_IDS: RefCell<FieldIds> = const { RefCell::new(Vec::new()) };
    static KIND_NAMES: RefCell<KindNames> = const { RefCell::new(Vec::new()) };
}

/// Keeps what a value hashes as: a `Language` hashes as the address of its grammar,
/// which identifies it without a cryptographic hash of it on every lookup.
#[derive(Default)]
struct Address(u64);

impl Hasher for Address {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(17) ^ n as u64;
    }
}

pub(crate) trait Kinds {
    /// The node's kind (as `Node::kind`).
    fn kind_name(&self) -> &'static str;
}

impl Kinds for Node<'_> {
    fn kind_name(&self) -> &'static str {
        let id = self.kind_id();
        let language = self.language();
        // ERROR nodes are kind 65535, past every grammar's own kinds: a table reaching
        // that far would be a megabyte per grammar and thread for one name.
        if usize::from(id) >= language.node_kind_count() {
            return self.kind();
        }
        let mut grammar = Address::default();
        (*language).hash(&mut grammar);
        let grammar = grammar.finish();
        KIND_NAMES.with(|names| {
            let mut names = names.borrow_mut();
            let i = match names.iter().position(|(g, _)| *g == grammar) {
                Some(i) => i,
                None => {
                    names.push((grammar, Vec::new()));
                    names.len() - 1
                }
            };
            let table = &mut names[i].1;
            let slot = usize::from(id);
            if table.len() <= slot {
                table.resize(slot + 1, None);
            }
            *table[slot].get_or_insert_with(|| self.kind())
        })
    }
}

pub(crate) trait Fields<'t> {
    /// The child in field `name` (as `child_by_field_name`).
    fn field(&self, name: &'static str) -> Option<Node<'t>>;
}

impl<'t> Fields<'t> for Node<'t> {
    fn field(&self, name: &'static str) -> Option<Node<'t>> {
        let language = self.language();
        // A `Language` hashes (and compares) as the address of its grammar.
        let mut grammar = Address::default();
        (*language).hash(&mut grammar);
        let key = (grammar.finish(), name.as_ptr() as usize);
        let id = FIELD_IDS.with(|ids| {
            let mut ids = ids.borrow_mut();
            match ids.iter().find(|(k, _)| *k == key) {
                Some((_, id)) => *id,
                None => {
                    let id = language.field_id_for_name(name);
                    ids.push((key, id));
                    id
                }
            }
        })?;
        self.child_by_field_id(id.get())
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn a_field_by_id_is_the_field_by_name() {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .expect("C grammar");
        let src = "int f(int a) { return g(a, 1); }";
        let tree = parser.parse(src, None).expect("parse");
        let mut stack = vec![tree.root_node()];
        let mut seen = 0;
        while let Some(n) = stack.pop() {
            for name in ["function", "arguments", "declarator", "body", "nope"] {
                assert_eq!(
                    n.field(name),
                    n.child_by_field_name(name),
                    "{name} of {}",
                    n.kind()
                );
                seen += usize::from(n.field(name).is_some());
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        assert!(seen >= 4, "only {seen} fields found");
    }

    #[test]
    fn a_kind_from_the_table_is_the_kind() {
        use super::Kinds;
        let mut errors = 0;
        for (language, src) in [
            (
                tree_sitter::Language::from(tree_sitter_c::LANGUAGE),
                "int f(int a) { return g(a, 1); }",
            ),
            (
                tree_sitter_python::LANGUAGE.into(),
                "def f(a):\n    return g(a, 'x')\n",
            ),
            // A syntax error: ERROR nodes have a kind id past the grammar's table.
            (
                tree_sitter::Language::from(tree_sitter_c::LANGUAGE),
                "int f(int a { return g(a, 1) ) }",
            ),
        ] {
            let mut parser = tree_sitter::Parser::new();
            parser.set_language(&language).expect("grammar");
            let tree = parser.parse(src, None).expect("parse");
            let mut stack = vec![tree.root_node()];
            while let Some(n) = stack.pop() {
                assert_eq!(n.kind_name(), n.kind());
                errors += usize::from(n.kind_name() == "ERROR");
                let mut c = n.walk();
                stack.extend(n.children(&mut c));
            }
        }
        assert!(errors > 0, "the broken source parsed without an ERROR node");
    }
}
