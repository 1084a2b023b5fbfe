//! What the checks know about one function: its arrays and types, which variables
//! hold input, and which are bounds-checked.

use super::file::{declared, signature, FileFacts};
use super::members::is_member_function;
use super::syntax::{assignment_sides, call, descendants, fold, mentions, path_of, strip, text};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

/// Calls whose result is input (environment, standard input).
const INPUT_RESULTS: &[&str] = &[
    "getenv",
    "secure_getenv",
    "getchar",
    "fgetc",
    "getc",
    "getpass",
];
/// Calls that fill an argument with input: (name, first filled argument, every later one too).
const INPUT_FILLS: &[(&str, usize, bool)] = &[
    ("gets", 0, false),
    ("fgets", 0, false),
    ("getline", 0, false),
    ("getdelim", 0, false),
    ("read", 1, false),
    ("recv", 1, false),
    ("recvfrom", 1, false),
    ("fread", 0, false),
    ("scanf", 1, true),
    ("fscanf", 2, true),
    ("wscanf", 1, true),
];
/// The index of the buffer an input call fills (`fread(buf, ...)` → 0).
pub(crate) fn input_fill_index(name: &str) -> Option<usize> {
    INPUT_FILLS
        .iter()
        .find(|(c, _, _)| *c == name)
        .map(|&(_, at, _)| at)
}

/// Whether the text names any input call or `argv` (a cheap test before following taint).
pub(crate) fn reads_input(src: &str) -> bool {
    src.contains("argv")
        || INPUT_RESULTS.iter().any(|c| src.contains(c))
        || INPUT_FILLS.iter().any(|(c, _, _)| src.contains(c))
}

/// Calls whose result is (a conversion of) their first argument.
const PASS_THROUGH: &[&str] = &[
    "atoi",
    "atol",
    "atoll",
    "atof",
    "strtol",
    "strtoul",
    "strtoll",
    "strtoull",
    "strtod",
    "strtof",
    "strtoimax",
    "strtoumax",
    "ntohl",
    "ntohs",
    "abs",
    "labs",
    "strdup",
    "strndup",
];
/// Calls copying their other arguments into the first.
const COPIES: &[&str] = &[
    "strcpy",
    "strncpy",
    "strcat",
    "strncat",
    "memcpy",
    "memmove",
    "sprintf",
    "snprintf",
    "vsprintf",
    "vsnprintf",
    "strlcpy",
    "strlcat",
    "sscanf",
];

/// One function of the file.
pub(crate) struct Func<'f, 't> {
    pub file: &'f FileFacts<'t>,
    pub src: &'t str,
    pub body: Node<'t>,
    pub name: String,
    pub params: Vec<(String, String)>,
    pub variadic: bool,
    arrays: HashMap<String, (i64, Option<i64>)>,
    literals: HashSet<String>,
    pub types: HashMap<String, String>,
    /// Every node of the body, in source order (walked once, read by every check).
    pub nodes: Vec<Node<'t>>,
    /// Variables (and member paths) that hold input.
    pub tainted: HashSet<String>,
    /// Buffers formatted or concatenated from input (`snprintf(cmd, "ls %s", arg)`).
    pub built: HashSet<String>,
    /// Locals set once to a constant (`int last = LEN - 1;`); the file's `#define`s and
    /// enumerators are looked up behind them, not copied into every function.
    consts: HashMap<String, i64>,
    /// Conditions of `if`/`while`/`?:`, `assert` and `min` calls, by start byte.
    pub conds: Vec<Node<'t>>,
    /// A C++ member function (`bool Frame::decode(…)`, or defined in its class body):
    /// a bare name may be one of its class's fields (`station_[n]`, `this` implied).
    member: bool,
}

impl<'f, 't> Func<'f, 't> {
    pub fn new(file: &'f FileFacts<'t>, node: Node<'t>) -> Func<'f, 't> {
        let src = file.src;
        let (name, params, variadic) = signature(src, node);
        let body = node.field("body").unwrap_or(node);
        let mut f = Func {
            file,
            src,
            body,
            name: name.clone(),
            params,
            variadic,
            arrays: HashMap::new(),
            literals: HashSet::new(),
            types: HashMap::new(),
            tainted: HashSet::new(),
            built: HashSet::new(),
            conds: Vec::new(),
            nodes: Vec::new(),
            consts: HashMap::new(),
            member: is_member_function(src, node),
        };
        for (p, ty) in &f.params {
            f.types.insert(p.clone(), ty.clone());
        }
        param_arrays(src, node, &file.defines, &mut f.arrays);
        let mask = file.tainted_params.get(&name).copied().unwrap_or(0);
        let exported = !is_static(src, node);
        for (i, (p, ty)) in f.params.iter().enumerate().take(64) {
            let argv = name == "main" && i == 1;
            // A request's text handed in by another file's handler
            // (`serve_static(conn, uri_path)`): only its callers could say otherwise.
            let request = exported && ty.contains("char") && ty.contains('*') && names_request(p);
            if argv || request || mask & (1 << i) != 0 {
                f.tainted.insert(p.clone());
            }
        }
        let nodes = match file.body_nodes(node) {
            [] => descendants(body),
            known => known.to_vec(),
        };
        for n in &nodes {
            match n.kind_name() {
                "declaration" => declared(
                    src,
                    *n,
                    &file.defines,
                    &mut f.arrays,
                    &mut f.literals,
                    &mut f.types,
                ),
                "if_statement" | "while_statement" | "do_statement" | "conditional_expression" => {
                    if let Some(c) = n.field("condition") {
                        f.conds.push(c);
                    }
                }
                "call_expression" => {
                    if let Some((c, _)) = call(src, *n) {
                        let lc = c.to_ascii_lowercase();
                        if matches!(lc.as_str(), "assert" | "min" | "fmin" | "std::min")
                            || lc.ends_with("_min")
                        {
                            f.conds.push(*n);
                        }
                    }
                }
                _ => {}
            }
        }
        if !f.tainted.is_empty() || file.reads_input {
            f.taint(&nodes);
        }
        f.local_consts(&nodes);
        f.nodes = nodes;
        f
    }

    /// Locals initialised with a constant and never assigned again.
    fn local_consts(&mut self, nodes: &[Node<'t>]) {
        let src = self.src;
        let mut assigned: HashSet<&str> = HashSet::new();
        for n in nodes {
            let t = match n.kind_name() {
                "assignment_expression" => n.field("left"),
                "update_expression" => n.field("argument"),
                "pointer_expression" if n.child(0).is_some_and(|o| o.kind_name() == "&") => {
                    n.field("argument")
                }
                _ => None,
            };
            if let Some(t) = t {
                assigned.insert(text(src, t));
            }
        }
        for n in nodes {
            if n.kind_name() != "init_declarator" {
                continue;
            }
            let (Some(d), Some(v)) = (n.field("declarator"), n.field("value")) else {
                continue;
            };
            if d.kind_name() != "identifier" || assigned.contains(text(src, d)) {
                continue;
            }
            // Only integer-typed locals: a pointer or float is not an index.
            let integer = self
                .type_of(text(src, d))
                .is_some_and(|t| !t.contains('*') && !t.contains("float") && !t.contains("double"));
            if let (true, Some(k)) = (integer, fold(src, v, &|k| self.constant(k), &|_| None)) {
                self.consts.insert(text(src, d).to_string(), k);
            }
        }
    }

    /// Follows input through assignments and copies until nothing changes.
    fn taint(&mut self, nodes: &[Node<'t>]) {
        let src = self.src;
        for _ in 0..4 {
            let before = self.tainted.len();
            for &n in nodes {
                match n.kind_name() {
                    "init_declarator" | "assignment_expression" => {
                        let (l, r) = assignment_sides(n);
                        let (Some(l), Some(r)) = (l, r) else { continue };
                        let mut l = l;
                        while let Some(x) = l.field("declarator") {
                            l = x;
                        }
                        let target = match l.kind_name() {
                            "subscript_expression" | "pointer_expression" => {
                                l.field("argument").and_then(|a| path_of(src, a))
                            }
                            _ => path_of(src, l),
                        };
                        if let Some(t) = target {
                            if self.is_input(r) {
                                self.tainted.insert(t);
                            }
                        }
                    }
                    "call_expression" => {
                        let Some((c, args)) = call(src, n) else {
                            continue;
                        };
                        if stream_read(c) {
                            // `in.read(reinterpret_cast<char *>(&n), 4)`: a C++ stream fills
                            // its first argument.
                            let first = args.first().map(|a| {
                                // Through `reinterpret_cast<char *>(&n)`.
                                call(src, strip(*a))
                                    .filter(|(c, _)| c.ends_with('>') && c.contains("_cast<"))
                                    .and_then(|(_, inner)| inner.first().copied())
                                    .unwrap_or(*a)
                            });
                            if let Some(a) = first {
                                self.taint_target(a);
                            }
                        } else if let Some((_, first, rest)) =
                            INPUT_FILLS.iter().find(|(name, _, _)| *name == c)
                        {
                            let last = if *rest { args.len() } else { first + 1 };
                            for a in args.iter().take(last).skip(*first) {
                                self.taint_target(*a);
                            }
                        } else if let Some(&bits) = self.file.fills_param.get(c) {
                            // A reader of the file (`read_u32(f, &w)`) fills these.
                            for (i, a) in args.iter().enumerate().take(64) {
                                if bits & (1 << i) != 0 {
                                    self.taint_target(*a);
                                }
                            }
                        } else if c == "sscanf" && args.first().is_some_and(|a| self.is_input(*a)) {
                            for a in args.iter().skip(2) {
                                self.taint_target(*a);
                            }
                        } else if COPIES.contains(&c)
                            && args.iter().skip(1).any(|a| self.is_input(*a))
                        {
                            if let Some(d) = args.first() {
                                self.taint_target(*d);
                                let formats = matches!(
                                    c,
                                    "sprintf"
                                        | "snprintf"
                                        | "vsprintf"
                                        | "vsnprintf"
                                        | "strcat"
                                        | "strncat"
                                        | "strlcat"
                                );
                                if let Some(p) = path_of(src, *d).filter(|_| formats) {
                                    self.built.insert(p);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            if self.tainted.len() == before {
                break;
            }
        }
    }

    fn taint_target(&mut self, a: Node) {
        let a = strip(a);
        let a = if a.kind_name() == "pointer_expression" {
            a.field("argument").unwrap_or(a)
        } else {
            a
        };
        // `scanf("%d", &slots[i])`: the array holds input.
        let a = match super::syntax::subscript(a) {
            Some((arr, _)) => arr,
            None => a,
        };
        if let Some(p) = path_of(self.src, a) {
            self.tainted.insert(p);
        }
    }

    /// Whether an expression's value comes from input: a tainted variable, `argv`,
    /// or an input call, anywhere in it (`atoi(argv[1]) * 4`).
    pub fn is_input(&self, n: Node) -> bool {
        let n = strip(n);
        match n.kind_name() {
            "identifier" | "field_expression"
                if path_of(self.src, n).is_some_and(|p| self.tainted.contains(&p)) =>
            {
                return true;
            }
            "sizeof_expression" | "string_literal" | "number_literal" => return false,
            // `end - start` of two pointers into one input buffer is a distance in it.
            "binary_expression"
                if n.field("operator")
                    .is_some_and(|o| text(self.src, o) == "-") =>
            {
                let both = ["left", "right"].iter().all(|side| {
                    n.field(side)
                        .and_then(|x| path_of(self.src, x))
                        .is_some_and(|p| {
                            self.tainted.contains(&p)
                                && self.type_of(&p).is_some_and(|t| t.contains('*'))
                        })
                });
                if both {
                    return false;
                }
            }
            "call_expression" => {
                let Some((c, args)) = call(self.src, n) else {
                    return false;
                };
                if INPUT_RESULTS.contains(&c) {
                    return true;
                }
                // Other calls return their own result (`read()` a count bounded by its
                // size, `strcspn()` an offset); only conversions carry input through.
                return PASS_THROUGH.contains(&c)
                    && args.first().is_some_and(|a| self.is_input(*a));
            }
            // `n > MAX ? MAX : n`: a value clamped by a comparison.
            "conditional_expression" => {
                let cond = n.field("condition").map(|c| text(self.src, c));
                if cond.is_some_and(|c| c.contains('<') || c.contains('>')) {
                    return false;
                }
            }
            _ => {}
        }
        let mut c = n.walk();
        let kids: Vec<Node> = n.named_children(&mut c).collect();
        kids.into_iter().any(|k| self.is_input(k))
    }

    /// Elements of a fixed-size array (local, else file-level), or `None`.
    pub fn array_len(&self, name: &str) -> Option<i64> {
        self.array(name).map(|a| a.0)
    }

    fn array(&self, name: &str) -> Option<(i64, Option<i64>)> {
        self.arrays
            .get(name)
            .or_else(|| self.file.arrays.get(name))
            .copied()
            .or_else(|| {
                // `cl->argv`, `hdr.name`: a member array of a struct of the file.
                let (_, member) = name.rsplit_once("->").or_else(|| name.rsplit_once('.'))?;
                self.file.field_arrays.get(member).copied().flatten()
            })
            .or_else(|| {
                // `station_` in a member function: its class's array, `this->` implied.
                let bare = name.chars().all(|c| c.is_alphanumeric() || c == '_');
                (self.member && bare)
                    .then(|| self.file.field_arrays.get(name).copied().flatten())
                    .flatten()
            })
    }

    /// Bytes of a fixed-size array whose element size is known.
    pub fn array_bytes(&self, name: &str) -> Option<i64> {
        let (n, elem) = self.array(name)?;
        n.checked_mul(elem?)
    }

    /// A constant integer expression's value.
    pub fn fold(&self, n: Node) -> Option<i64> {
        fold(self.src, n, &|k| self.constant(k), &|p| self.array_bytes(p))
    }

    /// The value of a name that stands for a constant: a local set once, else a
    /// `#define` or enumerator of the file.
    pub(crate) fn constant(&self, name: &str) -> Option<i64> {
        self.consts
            .get(name)
            .or_else(|| self.file.defines.get(name))
            .copied()
    }

    /// Whether a variable was initialised with a string literal (a constant format).
    pub fn is_literal_var(&self, name: &str) -> bool {
        self.literals.contains(name) || self.file.literals.contains(name)
    }

    pub fn type_of(&self, name: &str) -> Option<&str> {
        self.types.get(name).map(String::as_str)
    }

    /// Whether the declared type cannot hold a negative value.
    pub fn unsigned(&self, name: &str) -> bool {
        self.type_of(name)
            .is_some_and(|t| t.contains("unsigned") || t.contains("size_t") || t.contains("uint"))
            && !self.type_of(name).is_some_and(|t| t.contains("ssize_t"))
    }

    /// Conditions starting before byte `before` that mention `var`, and the nodes inside
    /// each: (the condition, a node of it).
    pub(crate) fn condition_nodes<'a>(
        &'a self,
        var: &'a str,
        before: usize,
    ) -> impl Iterator<Item = (Node<'t>, Node<'t>)> + 'a {
        self.conds
            .iter()
            .filter(move |c| c.start_byte() < before && mentions(text(self.src, **c), var))
            .flat_map(|&c| descendants(c).into_iter().map(move |x| (c, x)))
    }

    /// `x` as a comparison of `var` (`<`, `<=`, `>`, `>=`, `==`, `!=`): the operator and
    /// the other side.
    pub(crate) fn comparison(&self, x: Node<'t>, var: &str) -> Option<(&'t str, Node<'t>)> {
        if x.kind_name() != "binary_expression" {
            return None;
        }
        let op = x.field("operator").map(|o| text(self.src, o))?;
        if !matches!(op, "<" | "<=" | ">" | ">=" | "==" | "!=") {
            return None;
        }
        let (l, r) = (x.field("left")?, x.field("right")?);
        if mentions(text(self.src, l), var) {
            Some((op, r))
        } else if mentions(text(self.src, r), var) {
            Some((op, l))
        } else {
            None
        }
    }

    /// What `var` is compared from above with in conditions before `before`: the other
    /// side of each `<`, `<=`, `>`, `>=` that is not zero or negative (`len > max` gives
    /// `max`).
    pub fn upper_bounds(&self, var: &str, before: usize) -> Vec<Node<'t>> {
        self.condition_nodes(var, before)
            .filter_map(|(_, x)| self.comparison(x, var))
            .filter(|&(op, other)| {
                let ot = text(self.src, strip(other)).trim();
                !matches!(op, "==" | "!=") && ot != "0" && !ot.starts_with('-')
            })
            .map(|(_, other)| other)
            .collect()
    }
}

/// `void f(char dst[32])`: a parameter declared with a length holds that many elements
/// (its element size is not known: `sizeof dst` is a pointer's).
fn param_arrays(
    src: &str,
    func: Node,
    defines: &HashMap<String, i64>,
    arrays: &mut HashMap<String, (i64, Option<i64>)>,
) {
    let mut d = func.field("declarator");
    while let Some(x) = d {
        if x.kind_name() == "function_declarator" {
            break;
        }
        d = x.field("declarator");
    }
    let Some(list) = d.and_then(|fd| fd.field("parameters")) else {
        return;
    };
    let mut c = list.walk();
    for p in list.named_children(&mut c) {
        if p.kind_name() != "parameter_declaration"
            || p.field("declarator")
                .is_none_or(|x| x.kind_name() != "array_declarator")
        {
            continue;
        }
        let mut found = HashMap::new();
        declared(
            src,
            p,
            defines,
            &mut found,
            &mut HashSet::new(),
            &mut HashMap::new(),
        );
        for (name, (n, _)) in found {
            arrays.insert(name, (n, None));
        }
    }
}

/// `in.read`, `file->read`, `is.readsome`: a stream's read member, which fills its first
/// argument (the POSIX `read(fd, buf, n)` fills its second).
fn stream_read(callee: &str) -> bool {
    let Some((obj, m)) = callee.rsplit_once('.').or_else(|| callee.rsplit_once("->")) else {
        return false;
    };
    !obj.is_empty() && matches!(m.trim(), "read" | "readsome")
}

/// Whether a function is `static` (called only from its own file).
fn is_static(src: &str, func: Node) -> bool {
    let mut c = func.walk();
    let found = func
        .children(&mut c)
        .any(|x| x.kind_name() == "storage_class_specifier" && text(src, x) == "static");
    found
}

/// Parameter names that say the string came in with a request: its URI, path,
/// query, header, body or a client-chosen name.
fn names_request(param: &str) -> bool {
    const WORDS: &[&str] = &[
        "uri",
        "url",
        "req",
        "request",
        "query",
        "querystr",
        "header",
        "cookie",
        "payload",
        "body",
        "form",
        "client",
        "remote",
        "peer",
        "untrusted",
        "input",
    ];
    // `uri_path`, `uriPath`, `reqBody`: each word on its own.
    crate::words::words(param)
        .iter()
        .any(|w| WORDS.contains(&w.as_str()))
}
