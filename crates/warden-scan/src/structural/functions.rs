//! Functions: each is analysed on its own, its parameters tagged so that a summary
//! records what reaches its return value and its sinks; route handlers' parameters
//! are request values.

use super::analyze::Walker;
use super::flow::{normalize, Env, Flow, Val};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

impl<'a> Walker<'a> {
    /// Whether the walk should enter function `n`: always when summarising, otherwise
    /// when it spans a line of interest.
    pub(crate) fn in_focus(&self, n: Node<'a>) -> bool {
        let Some(focus) = self.focus.filter(|_| self.record) else {
            return true;
        };
        let (from, to) = (Self::line(n), Self::end_line(n));
        let i = focus.partition_point(|&l| l < from);
        focus.get(i).is_some_and(|&l| l <= to)
    }

    /// Every named function of the tree, by name.
    ///
    /// One cursor walks the tree (a cursor per node was most of the cost). Functions
    /// of one name are kept in the order a walk from the root that enters the last
    /// child first meets them, which is the reverse of a post-order walk in source
    /// order: enclosing before enclosed, later before earlier.
    pub fn collect_functions(&mut self, root: Node<'a>) {
        let mut post_order = Vec::new();
        let mut cursor = root.walk();
        'walk: loop {
            if cursor.goto_first_child() {
                continue;
            }
            // A leaf: it and every ancestor whose last child is done are finished.
            loop {
                let n = cursor.node();
                if n.is_named() && self.syn.is(self.syn.functions, n.kind_name()) {
                    post_order.push(n);
                }
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        for n in post_order.into_iter().rev() {
            if let Some(name) = n.field("name") {
                let name = self.text(name).to_string();
                self.fn_nodes.entry(name).or_default().push(n);
            }
        }
    }

    /// Makes sure the summary of the file's function `name` exists, analysing it now
    /// (without recording findings) if the walk has not reached it yet.
    pub fn ensure_summary(&mut self, name: &str) {
        if self.summaries.contains_key(name) || self.in_progress.iter().any(|p| p == name) {
            return;
        }
        let Some(nodes) = self.fn_nodes.get(name).cloned() else {
            return;
        };
        self.in_progress.push(name.to_string());
        let record = std::mem::replace(&mut self.record, false);
        for node in nodes {
            self.function(node, &Env::default());
        }
        self.record = record;
        self.in_progress.pop();
    }

    /// Analyses a function on a copy of the enclosing scope, then records its summary.
    pub fn function(&mut self, n: Node<'a>, outer: &Env) {
        let mut env = outer.clone();
        let Some(body) = n.field("body") else {
            return;
        };
        let header = self.header(n, body);
        let handler = self
            .pack
            .handlers
            .iter()
            .find(|(_, re)| re.is_match(&header))
            .map(|(g, _)| *g);
        let mut skips_self = false;
        let params = n.field("parameters").or_else(|| n.field("parameter"));
        if let Some(params) = params {
            let list: Vec<Node> = if self.syn.is(self.syn.idents, params.kind_name()) {
                vec![params]
            } else {
                let mut c = params.walk();
                params
                    .named_children(&mut c)
                    .filter(|p| !self.syn.is(self.syn.comments, p.kind_name()))
                    .collect()
            };
            let mut index = 0u32;
            for (i, p) in list.into_iter().enumerate() {
                let Some(name_node) = self.param_name(p) else {
                    continue;
                };
                let name = self.text(name_node).to_string();
                if i == 0 && (name == "self" || name == "cls") {
                    skips_self = true;
                    continue;
                }
                let mut v = Val::unknown();
                if index < 64 {
                    v.params = 1 << index;
                }
                index += 1;
                let by_param = self.norm(p).and_then(|t| {
                    self.pack
                        .params
                        .iter()
                        .find(|(_, re)| re.is_match(&t))
                        .map(|(g, _)| *g)
                });
                let group = by_param.or(handler.filter(|_| {
                    !self.pack.params_except.contains(&name)
                        && handler_param(&header, &name, self.text(p))
                }));
                if let Some(g) = group {
                    v.taint = Some(Flow {
                        groups: 1 << g,
                        clean: 0,
                        line: Self::line(p),
                        via: Some(name.clone()),
                    });
                    v.stringy = true;
                }
                let var = env.local(&name);
                var.val = v;
                var.alias = None;
            }
        }
        let saved_ret = self.ret.take();
        let saved_sinks = std::mem::take(&mut self.param_sinks);
        let saved_handler = std::mem::replace(&mut self.in_handler, handler.is_some());
        if self.syn.is(self.syn.functions, body.kind_name())
            || !body.kind_name().contains("block")
                && body.kind_name() != "compound_statement"
                && body.kind_name() != "statement_block"
        {
            // An expression body (`x => x + 1`, `lambda: ...`) is the return value.
            let v = self.eval(body, &mut env, false);
            self.ret = Some(v);
        } else {
            self.eval(body, &mut env, false);
        }
        self.in_handler = saved_handler;
        let ret = std::mem::replace(&mut self.ret, saved_ret);
        let sinks = std::mem::replace(&mut self.param_sinks, saved_sinks);
        let name = n.field("name").map(|x| self.text(x).to_string());
        // Computed on demand (not recording), or met first in the walk.
        if let Some(name) = name.filter(|k| !self.record || !self.summaries.contains_key(k)) {
            {
                let s = self.summaries.entry(name).or_default();
                // Overloads and redefinitions: what any of them does.
                s.ret = match (s.ret.take(), ret) {
                    (Some(a), Some(b)) => Some(a.either(b)),
                    (a, b) => a.or(b),
                };
                s.sinks.extend(sinks);
                s.skips_self = skips_self;
            }
        }
    }

    pub(crate) fn param_name(&self, p: Node<'a>) -> Option<Node<'a>> {
        if self.syn.is(self.syn.idents, p.kind_name()) {
            return Some(p);
        }
        for field in ["name", "pattern", "left"] {
            if let Some(x) = p.field(field) {
                return self.param_name(x).or(Some(x));
            }
        }
        let mut c = p.walk();
        let found = p
            .named_children(&mut c)
            .find(|x| self.syn.is(self.syn.idents, x.kind_name()));
        found
    }

    /// What says a function is a handler: its decorators or annotations, its signature,
    /// and the call it is passed to (`app.get('/x', (req, res) => ...)`).
    pub(crate) fn header(&self, n: Node<'a>, body: Node<'a>) -> String {
        let start = match n.parent() {
            Some(p) if p.kind_name() == "decorated_definition" => p.start_byte(),
            _ => n.start_byte(),
        };
        let end = body.start_byte().min(start + 2000);
        let mut h = normalize(self.src.get(start..end).unwrap_or(""));
        if self.is_exported(n) {
            // Library code: a module's callers choose these arguments (`handlers` can
            // match this marker).
            h.insert_str(0, "export ");
        }
        if let Some(call) = n
            .parent()
            .filter(|p| p.kind_name() == "arguments")
            .and_then(|p| p.parent())
        {
            if let Some(f) = call.field("function") {
                if let Some(t) = self.norm(f) {
                    h.push(' ');
                    h.push_str(&t);
                    h.push('(');
                }
            }
        }
        h
    }

    /// Whether a JavaScript/TypeScript function is part of its module's interface:
    /// declared in an `export` statement, or assigned (directly or as a property of an
    /// object) to `module.exports` / `exports.x`, or a public method of an exported class
    /// (a service's callers choose its arguments as a module's do).
    fn is_exported(&self, n: Node<'a>) -> bool {
        if n.kind_name() == "method_definition" && self.is_private_member(n) {
            return false;
        }
        let mut at = n;
        for _ in 0..4 {
            let Some(p) = at.parent() else {
                return false;
            };
            match p.kind_name() {
                "export_statement" => return true,
                "assignment_expression" => {
                    let left = p.field("left").map(|l| self.text(l)).unwrap_or("");
                    return left.starts_with("module.exports") || left.starts_with("exports.");
                }
                "variable_declarator"
                | "lexical_declaration"
                | "pair"
                | "object"
                | "class_body"
                | "class_declaration"
                | "class" => at = p,
                _ => return false,
            }
        }
        false
    }

    /// Whether a class member is `private`/`protected` (TypeScript) or `#named`: its
    /// arguments come from the class itself.
    fn is_private_member(&self, n: Node<'a>) -> bool {
        if n.field("name")
            .is_some_and(|x| x.kind_name() == "private_property_identifier")
        {
            return true;
        }
        let mut c = n.walk();
        let private = n
            .children(&mut c)
            .any(|x| x.kind_name() == "accessibility_modifier" && self.text(x) != "public");
        private
    }
}

/// Whether a handler's parameter carries request data: not an injected dependency
/// (`Depends(...)`), and, when the route declares path placeholders (`<name>`,
/// `<int:name>`), one of them; other parameters of such a route come from decorators.
pub(crate) fn handler_param(header: &str, name: &str, param: &str) -> bool {
    if param.contains("Depends(") || param.contains("Security(") {
        return false;
    }
    let placeholders = header.contains('<') && header.contains('>');
    if !placeholders || header.contains(&format!("<{name}>")) {
        return true;
    }
    // `<int:page>`, `<float:x>`, `<uuid:id>`: the router only passes a number or a UUID.
    let typed = format!(":{name}>");
    header.match_indices(&typed).any(|(at, _)| {
        let converter = header[..at].rsplit('<').next().unwrap_or("");
        !["int", "float", "uuid"]
            .iter()
            .any(|t| converter.starts_with(t))
    })
}
