//! Assignments and imports: where values are bound to names, aliases are made
//! (`run = subprocess.run`, `const { exec } = require(...)`, `$db = $this->db`)
//! and imports rename (`from os import system as s`).

use super::analyze::{short, Walker};
use super::flow::{Env, Val};
use super::syntax::Assign;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

impl<'a> Walker<'a> {
    /// An assignment: the target gets the value (or keeps what it had and adds it).
    pub fn assign(&mut self, n: Node<'a>, a: &Assign, env: &mut Env, br: bool) -> Val {
        let (Some(left), Some(right)) = (n.field(a.left), n.field(a.right)) else {
            // `var sb strings.Builder`, `StringBuilder sb;`: a variable declared empty,
            // which builder calls then fill.
            if let (Some(left), true) = (n.field(a.left), a.kind == "var_spec") {
                if let Some(k) = self.path_key(left) {
                    let var = env.local(&k);
                    var.decl_br = br;
                }
            }
            return self.children_join(n, env, br);
        };
        let augmented = match a.augmented {
            Some(x) => x,
            None => n
                .field("operator")
                .is_some_and(|o| self.text(o) != "=" && self.text(o) != ":="),
        };
        // Parallel assignment of as many values: each target its own.
        let lists = ["expression_list", "pattern_list", "tuple", "tuple_pattern"];
        if lists.contains(&left.kind_name())
            && lists.contains(&right.kind_name())
            && left.named_child_count() == right.named_child_count()
        {
            let mut c1 = left.walk();
            let mut c2 = right.walk();
            let pairs: Vec<(Node, Node)> = left
                .named_children(&mut c1)
                .zip(right.named_children(&mut c2))
                .collect();
            for (l, r) in pairs {
                let v = self.eval(r, env, br).at(Self::line(n));
                let alias = self.alias_of(r, env);
                self.bind(l, v, alias, env, br, augmented);
            }
            return Val::default();
        }
        let v = self.eval(right, env, br).at(Self::line(n));
        let alias = self.alias_of(right, env);
        // `int count = unpack(upload)`: whatever the call read, the variable holds a
        // number, no text an attacker writes (a constant stays one, to be folded).
        let mut v2 = match v.nonconst && self.declared_number(n, a) {
            true => Val::count().at(Self::line(n)),
            false => v.clone(),
        };
        if augmented {
            if let Some(k) = self.path_key(left) {
                let old = env.get(&k).map(|x| x.val.clone()).unwrap_or_default();
                let stringy = old.stringy || v2.stringy;
                v2 = old.join(v2);
                if v2.nonconst && stringy && v2.built.is_none() {
                    v2.built = Some((Self::line(n), short(self.text(right))));
                }
                let var = env.local(&k);
                var.val = v2;
                return v;
            }
        }
        // A declaration makes a new variable even inside a branch: it holds exactly
        // this value (and a list or map declared there is followed exactly there).
        // So does a name's first binding (Python has no declarations).
        let declares = matches!(
            a.kind,
            "variable_declarator" | "short_var_declaration" | "var_spec" | "const_spec"
        ) || self.path_key(left).is_some_and(|k| env.get(&k).is_none());
        let wrapped = alias.is_some() && self.syn.is(self.syn.calls, right.kind_name());
        self.bind(left, v2, alias, env, br && !declares, false);
        if let Some(k) = self.path_key(left).filter(|_| wrapped && (declares || !br)) {
            env.local(&k).fixed = Some(self.call_text(right));
        }
        if let Some(k) = self.path_key(left).filter(|_| declares || !br) {
            let var = env.local(&k);
            var.decl_br = br;
            if self.fresh_list(right) {
                var.elems = Some(Vec::new());
            }
        }
        v
    }

    /// Whether the assignment declares its target with a number or boolean type: Java's
    /// and C#'s `int n = …` (the type is the declaration's around the declarator),
    /// TypeScript's `const n: number = …`, Python's `n: int = …`, Go's `var n int = …`.
    fn declared_number(&self, n: Node<'a>, a: &Assign) -> bool {
        let ty = n.field("type").or_else(|| {
            (a.kind == "variable_declarator")
                .then(|| n.parent())
                .flatten()
                .and_then(|p| p.field("type"))
        });
        ty.is_some_and(|t| {
            let t = self.text(t).trim_start_matches(':').trim();
            NUMBER_TYPES.contains(&t)
        })
    }

    /// `new ArrayList<>()`, `[]`: an empty list whose elements can be followed.
    pub(crate) fn fresh_list(&self, right: Node<'a>) -> bool {
        match right.kind_name() {
            "list" | "array" | "array_creation_expression" => right.named_child_count() == 0,
            "object_creation_expression" => {
                let t = self.text(right);
                let t = t.split('<').next().unwrap_or(t);
                t.trim_end().ends_with("List") && self.text(right).trim_end().ends_with("()")
            }
            _ => false,
        }
    }

    /// The callee a right-hand side stands for: a path (`subprocess.run`, `$this->db`),
    /// `require('x')`, or a wrapper of one (`promisify(exec)`).
    pub(crate) fn alias_of(&self, right: Node<'a>, env: &Env) -> Option<String> {
        let kind = right.kind_name();
        if self.path_key(right).is_some() {
            return self.norm(right).map(|t| env.resolve(&t));
        }
        if self.syn.is(self.syn.calls, kind) {
            let (callee, args) = self.callee(right)?;
            let first = args.and_then(|a| a.named_child(0))?;
            if callee == "require" {
                return self
                    .norm(first)
                    .map(|t| t.trim_matches(['\'', '"', '`']).to_string());
            }
            if self
                .syn
                .wrappers
                .iter()
                .any(|w| *w == callee || env.resolve(&callee).ends_with(w))
            {
                return self.norm(first).map(|t| env.resolve(&t));
            }
        }
        None
    }

    /// Binds a target (a name, a field, an element, a pattern) to a value.
    pub fn bind(
        &mut self,
        left: Node<'a>,
        v: Val,
        alias: Option<String>,
        env: &mut Env,
        br: bool,
        augmented: bool,
    ) {
        let kind = left.kind_name();
        if let Some(key) = self.path_key(left) {
            let var = env.local(&key);
            var.val = if augmented || br {
                std::mem::take(&mut var.val).either(v)
            } else {
                v
            };
            if !br {
                var.alias = alias;
                var.fixed = None;
                var.keys.clear();
                var.elems = None;
            }
            return;
        }
        if kind.contains("subscript") || kind.contains("index") || kind == "array_access" {
            // `a[k] = v`: a constant key is remembered, any other key taints the container.
            let base = left.named_child(0).and_then(|b| self.path_key(b));
            let index = left
                .field("index")
                .or_else(|| left.field("subscript"))
                .or_else(|| left.named_child(1));
            let k = index.and_then(|i| literal_key(self.text(i)));
            if let Some(base) = base {
                let var = env.local(&base);
                match k {
                    Some(k) if !br => {
                        var.keys.retain(|(kk, _)| *kk != k);
                        var.keys.push((k, v));
                    }
                    _ => var.val = std::mem::take(&mut var.val).join(v),
                }
            }
            return;
        }
        // Patterns: `{ exec } = require(...)`, `a, b = ...`, `[x, y] = ...`.
        let mut c = left.walk();
        let children: Vec<Node> = left.named_children(&mut c).collect();
        for child in children {
            let ck = child.kind_name();
            if ck == "pair_pattern" {
                if let (Some(k), Some(val)) = (child.field("key"), child.field("value")) {
                    let a = alias.as_ref().map(|a| format!("{a}.{}", self.text(k)));
                    self.bind(val, v.clone(), a, env, br, false);
                }
                continue;
            }
            let a = if ck.starts_with("shorthand_property") {
                alias.as_ref().map(|a| format!("{a}.{}", self.text(child)))
            } else {
                None
            };
            if self.syn.is(self.syn.idents, ck) {
                let var = env.local(self.text(child));
                var.val = v.clone();
                var.alias = a;
            } else {
                self.bind(child, v.clone(), a, env, br, false);
            }
        }
    }

    /// Imports that rename: `import subprocess as sp`, `from os import system as s`,
    /// `import { exec as run } from 'child_process'`, `import cp from 'child_process'`.
    pub fn import(&mut self, n: Node<'a>, env: &mut Env) {
        let module = n
            .field("module_name")
            .or_else(|| n.field("source"))
            .map(|m| self.text(m).trim_matches(['\'', '"']).to_string());
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            let mut c = x.walk();
            for child in x.named_children(&mut c) {
                stack.push(child);
            }
            let (name, local) = match x.kind_name() {
                "aliased_import" => (x.field("name"), x.field("alias")),
                "import_specifier" => {
                    let name = x.field("name");
                    (name, x.field("alias").or(name))
                }
                "dotted_name"
                    if x.parent()
                        .is_some_and(|p| p.kind_name() == "import_from_statement")
                        && n.field("module_name").map(|m| m.id()) != Some(x.id()) =>
                {
                    (Some(x), Some(x))
                }
                "namespace_import" => (None, x.named_child(0)),
                "import_clause" => (
                    None,
                    x.named_child(0).filter(|i| i.kind_name() == "identifier"),
                ),
                _ => continue,
            };
            let Some(local) = local else { continue };
            let full = match (&module, name) {
                (Some(m), Some(nm)) => format!("{m}.{}", self.text(nm)),
                (Some(m), None) => m.clone(),
                (None, Some(nm)) => self.text(nm).to_string(),
                (None, None) => continue,
            };
            let key = self.text(local).to_string();
            if key != full {
                env.local(&key).alias = Some(full);
            }
        }
    }
}

fn literal_key(t: &str) -> Option<String> {
    let t = t.trim();
    let q = t.starts_with(['"', '\'']) && t.ends_with(['"', '\'']) && t.len() >= 2;
    q.then(|| t[1..t.len() - 1].to_string())
}

/// Types whose values are numbers or booleans, in the languages analysed.
const NUMBER_TYPES: &[&str] = &[
    "int", "long", "short", "byte", "double", "float", "boolean", "bool", "Integer", "Long",
    "Short", "Double", "Float", "Boolean", "decimal", "uint", "ulong", "ushort", "sbyte", "number",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
    "Int", "Int32", "Int64", "Decimal",
];
