//! What the checks know about a whole file: constants, file-level arrays and
//! literals, its functions, and what each function does to the pointers it is given.

use super::func::Func;
use super::summary::{ownership, param_aliases, read_as, stepped_param, swap_pair, written_params};
use super::syntax::{call, descendants, fold, path_of, string_value, text};
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;
/// Facts about the whole file.
pub(crate) struct FileFacts<'t> {
    pub src: &'t str,
    /// `#define NAME 42` and `enum { NAME = 42 }`.
    pub defines: HashMap<String, i64>,
    /// File-level arrays with a constant length: (elements, bytes of one if known).
    pub arrays: HashMap<String, (i64, Option<i64>)>,
    /// Struct members that are arrays of a constant length, by member name (`None`
    /// when structs of the file give one name different lengths).
    pub field_arrays: HashMap<String, Option<(i64, Option<i64>)>>,
    /// File-level variables initialised with a string literal (constant formats).
    pub literals: HashSet<String>,
    pub functions: Vec<Node<'t>>,
    /// Per function (by node id): every node of its body, walked once for all the
    /// summaries and checks that read it.
    body_nodes: HashMap<usize, Vec<Node<'t>>>,
    /// Each function of the file by name (names defined once only).
    pub by_name: HashMap<String, Node<'t>>,
    /// Functions of the file that free their parameter i.
    pub frees_param: HashMap<String, Vec<usize>>,
    /// Functions of the file that exchange what two pointer-to-pointer parameters
    /// point at (`*a = *b; *b = tmp;`).
    pub swaps: HashMap<String, (usize, usize)>,
    /// Functions of the file that keep a pointer parameter (free it, store it, return
    /// it): bit i for parameter i.
    pub keeps_param: HashMap<String, u64>,
    /// Functions of the file that return a new allocation.
    pub allocates: HashSet<String>,
    /// Functions of the file returning a pointer that may be NULL.
    pub returns_null: HashSet<String>,
    /// What each pointer parameter of a function of the file is read as: its pointee
    /// type, or for `void *` the type it is cast to (`(Person *)data`).
    pub pointee: HashMap<String, Vec<Option<String>>>,
    /// Pointer parameters a function writes through (`*dest = c`, `dest[i] = c`): bit i.
    pub writes_param: HashMap<String, u64>,
    /// Parameter names of each function of the file.
    pub param_names: HashMap<String, Vec<String>>,
    /// Parameter types of each function of the file.
    pub param_types: HashMap<String, Vec<String>>,
    /// Functions started as threads (`pthread_create(&t, NULL, worker, arg)`).
    pub threads: HashSet<String>,
    /// Union types (`typedef union {...} Value;`, `union value`).
    pub unions: HashSet<String>,
    /// File-level variables (shared by every thread).
    pub globals: HashSet<String>,
    /// Function-like macros that step a parameter (`#define NEXT(p) (p++)`).
    pub moving_macros: HashMap<String, usize>,
    /// Function-like macros that only call a function: `CHECK(p)` → `check`.
    macros: Vec<(String, String)>,
    /// Functions of the file called somewhere with input in parameter i (bit i).
    pub tainted_params: HashMap<String, u64>,
    /// Variadic functions of the file that pass their parameter i on to a printf-family
    /// call as its format (`log_event(int prio, const char *fmt, ...)`).
    pub format_wrappers: HashMap<String, usize>,
    /// Functions of the file that read input (`fread`, `recv`, ...) and hand it back
    /// through pointer parameters (`read_u32(FILE *f, uint32_t *out)`): bit i.
    pub fills_param: HashMap<String, u64>,
    /// Whether the file reads input anywhere (`argv`, `fgets`, `recv`, ...): asked of
    /// every function, answered once (a search of the whole source per function made
    /// large files quadratic).
    pub reads_input: bool,
    /// C++ classes owning a raw pointer with no copy constructor: class → member.
    pub shallow: HashMap<String, String>,
    /// Struct and class members by name, with their declared types (`Car *`,
    /// `std::map<std::string, Station*>`), the file's own and its headers'.
    pub member_types: HashMap<String, String>,
}

impl<'t> FileFacts<'t> {
    /// `included`: what the file's own headers declare (the file's declarations win).
    pub fn collect(
        src: &'t str,
        root: Node<'t>,
        included: Option<&super::headers::Included>,
    ) -> FileFacts<'t> {
        let mut f = FileFacts {
            src,
            defines: HashMap::new(),
            arrays: HashMap::new(),
            field_arrays: HashMap::new(),
            literals: HashSet::new(),
            functions: Vec::new(),
            body_nodes: HashMap::new(),
            by_name: HashMap::new(),
            frees_param: HashMap::new(),
            swaps: HashMap::new(),
            keeps_param: HashMap::new(),
            allocates: HashSet::new(),
            returns_null: HashSet::new(),
            macros: Vec::new(),
            moving_macros: HashMap::new(),
            pointee: HashMap::new(),
            param_names: HashMap::new(),
            writes_param: HashMap::new(),
            param_types: HashMap::new(),
            threads: HashSet::new(),
            unions: HashSet::new(),
            globals: HashSet::new(),
            tainted_params: HashMap::new(),
            format_wrappers: HashMap::new(),
            fills_param: HashMap::new(),
            reads_input: super::func::reads_input(src),
            shallow: HashMap::new(),
            member_types: HashMap::new(),
        };
        let mut classes = Vec::new();
        let mut globals = Vec::new();
        let mut members = Vec::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            match n.kind_name() {
                "function_definition" => {
                    f.functions.push(n);
                    continue;
                }
                "preproc_def" => {
                    let name = n.field("name").map(|x| text(src, x));
                    let value = n.field("value").map(|x| text(src, x).trim());
                    if let (Some(name), Some(v)) = (name, value) {
                        let v = v.trim_start_matches('(').trim_end_matches(')');
                        if let Some(i) = super::syntax::parse_int(v) {
                            f.defines.insert(name.to_string(), i);
                        }
                    }
                }
                "enumerator" => {
                    let name = n.field("name").map(|x| text(src, x));
                    let value = n.field("value");
                    if let (Some(name), Some(v)) = (name, value) {
                        if let Some(i) = super::syntax::parse_int(text(src, v)) {
                            f.defines.insert(name.to_string(), i);
                        }
                    }
                }
                "declaration" => {
                    super::members::constant_declared(src, n, &mut f.defines);
                    globals.push(n)
                }
                "field_declaration" => {
                    super::members::constant_declared(src, n, &mut f.defines);
                    members.push(n)
                }
                "class_specifier" | "struct_specifier" if n.field("body").is_some() => {
                    classes.push(n)
                }
                "type_definition" => {
                    let union = n
                        .field("type")
                        .is_some_and(|t| t.kind_name() == "union_specifier");
                    if let (true, Some(d)) = (union, n.field("declarator")) {
                        f.unions.insert(text(src, d).to_string());
                    }
                }
                "preproc_function_def" => {
                    let name = n.field("name").map(|x| text(src, x));
                    let value = n.field("value").map(|x| text(src, x).trim());
                    if let (Some(name), Some(v)) = (name, value) {
                        if let Some(i) = stepped_param(src, n, v) {
                            f.moving_macros.insert(name.to_string(), i);
                        }
                    }
                    let callee = value.and_then(|v| v.split_once('(')).map(|(c, _)| c.trim());
                    if let (Some(name), Some(callee)) = (name, callee) {
                        let plain = callee.chars().all(|c| c.is_alphanumeric() || c == '_');
                        if plain && !callee.is_empty() {
                            f.macros.push((name.to_string(), callee.to_string()));
                        }
                    }
                }
                _ => {}
            }
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            stack.extend(kids.into_iter().rev());
        }
        if let Some(inc) = included {
            inc.add_constants(&mut f.defines);
        }
        f.functions.sort_by_key(|n| n.start_byte());
        for func in &f.functions {
            let body = func.field("body").unwrap_or(*func);
            f.body_nodes.insert(func.id(), descendants(body));
        }
        f.shallow = super::copies::shallow_classes(src, &classes, &f.functions, &f.body_nodes);
        let (mut arrays, mut literals) = (HashMap::new(), HashSet::new());
        for d in members {
            let mut one = HashMap::new();
            let (mut l, mut t) = (HashSet::new(), HashMap::new());
            declared(src, d, &f.defines, &mut one, &mut l, &mut t);
            f.member_types.extend(t);
            for (name, len) in one {
                let slot = f.field_arrays.entry(name).or_insert(Some(len));
                if *slot != Some(len) {
                    *slot = None;
                }
            }
        }
        if let Some(inc) = included {
            inc.add_members(
                &mut f.field_arrays,
                &mut f.format_wrappers,
                &mut f.member_types,
            );
        }
        let globals_kept = globals.clone();
        for d in globals {
            declared(
                src,
                d,
                &f.defines,
                &mut arrays,
                &mut literals,
                &mut HashMap::new(),
            );
        }
        let mut types = HashMap::new();
        for d in &globals_kept {
            declared(
                src,
                *d,
                &f.defines,
                &mut HashMap::new(),
                &mut HashSet::new(),
                &mut types,
            );
        }
        f.globals = types.into_keys().collect();
        f.arrays = arrays;
        f.literals = literals;
        for func in &f.functions {
            let (name, params, variadic) = signature(src, *func);
            let Some(body) = func.field("body") else {
                continue;
            };
            // The field, not the method: the loop below writes other fields of `f`.
            let nodes = f.body_nodes.get(&func.id()).map_or(&[][..], Vec::as_slice);
            let pointee = params
                .iter()
                .map(|(p, ty)| read_as(src, nodes, p, ty))
                .collect();
            let written = written_params(src, nodes, &params);
            f.pointee.insert(name.clone(), pointee);
            f.writes_param.insert(name.clone(), written);
            f.param_names.insert(
                name.clone(),
                params.iter().map(|(p, _)| p.clone()).collect(),
            );
            f.param_types.insert(
                name.clone(),
                params.iter().map(|(_, t)| t.clone()).collect(),
            );
            let mut freed = Vec::new();
            // Whether the body reads input, and the parameters input is read straight into
            // (or through a local pointing at one: `uint8_t *p = buf; read(fd, p, n)`).
            let (mut reads, mut filled) = (false, 0u64);
            let aliases = param_aliases(src, nodes, &params);
            for &n in nodes {
                let called = call(src, n);
                if let Some((c, args)) = &called {
                    if let Some(at) = super::func::input_fill_index(c) {
                        reads = true;
                        let target = args.get(at).and_then(|a| path_of(src, *a));
                        let param = target.and_then(|t| {
                            params
                                .iter()
                                .position(|(q, _)| *q == t)
                                .or_else(|| aliases.get(&t).copied())
                        });
                        if let Some(i) = param {
                            filled |= 1 << i.min(63);
                        }
                    }
                }
                if let Some((c, args)) = called.as_ref().filter(|_| variadic) {
                    let fmt = super::inject::format_index(c).and_then(|at| args.get(at));
                    let p = fmt.and_then(|a| path_of(src, *a));
                    if let Some(i) = p.and_then(|p| params.iter().position(|(q, _)| *q == p)) {
                        f.format_wrappers.insert(name.clone(), i);
                    }
                }
                if let Some((c, args)) = &called {
                    let at = match *c {
                        "pthread_create" => 2,
                        "thrd_create" | "CreateThread" => 1,
                        _ => usize::MAX,
                    };
                    if let Some(a) = args.get(at).and_then(|a| path_of(src, *a)) {
                        f.threads.insert(a);
                    }
                }
                let arg = match called {
                    Some(("free", args)) => args.first().copied(),
                    _ if n.kind_name() == "delete_expression" => n.named_child(0),
                    _ => None,
                };
                let Some(p) = arg.and_then(|a| path_of(src, a)) else {
                    continue;
                };
                if let Some(i) = params.iter().position(|(pn, _)| *pn == p) {
                    freed.push(i);
                }
            }
            if reads && (written | filled) != 0 {
                f.fills_param.insert(name.clone(), written | filled);
            }
            let (keeps, allocates, null) = ownership(src, *func, nodes, &params);
            let mut kept = keeps;
            for &i in &freed {
                kept |= 1 << i.min(63);
            }
            f.keeps_param.insert(name.clone(), kept);
            if allocates {
                f.allocates.insert(name.clone());
            }
            if null {
                f.returns_null.insert(name.clone());
            }
            if let Some(pair) = swap_pair(src, body, &params) {
                f.swaps.insert(name.clone(), pair);
            }
            if !freed.is_empty() {
                f.frees_param.insert(name, freed);
            }
        }
        // A parameter handed to code that writes through it is written too
        // (`sprintf(out + 2 * i, ...)`, `to_hex(hash, out)`).
        for _ in 0..3 {
            let mut changed = false;
            for func in &f.functions {
                let (name, params, _) = signature(src, *func);
                if func.field("body").is_none() {
                    continue;
                }
                let mut bits = f.writes_param.get(&name).copied().unwrap_or(0);
                for &n in f.body_nodes(*func) {
                    let Some((c, args)) = call(src, n) else {
                        continue;
                    };
                    let writes = match LIBRARY_WRITES.iter().find(|(w, _)| *w == c) {
                        Some(&(_, i)) => 1u64 << i,
                        None => f.writes_param.get(c).copied().unwrap_or(0),
                    };
                    for (k, a) in args.iter().enumerate().take(64) {
                        if writes & (1 << k) == 0 {
                            continue;
                        }
                        let root = descendants(*a)
                            .into_iter()
                            .find(|x| x.kind_name() == "identifier")
                            .map(|x| text(src, x));
                        if let Some(i) = root.and_then(|r| params.iter().position(|(p, _)| p == r))
                        {
                            bits |= 1 << i.min(63);
                        }
                    }
                }
                if f.writes_param.get(&name) != Some(&bits) {
                    f.writes_param.insert(name, bits);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // An overloaded name is several functions: what one does says nothing of a call.
        let mut count: HashMap<String, usize> = HashMap::new();
        for func in &f.functions {
            *count.entry(signature(src, *func).0).or_default() += 1;
        }
        for func in &f.functions {
            let name = signature(src, *func).0;
            if count.get(&name) == Some(&1) {
                f.by_name.insert(name, *func);
            }
        }
        for (name, n) in count {
            if n > 1 {
                f.pointee.remove(&name);
                f.param_names.remove(&name);
                f.param_types.remove(&name);
                f.swaps.remove(&name);
                f.frees_param.remove(&name);
                f.returns_null.remove(&name);
            }
        }
        for (m, callee) in &f.macros {
            if let Some(v) = f.frees_param.get(callee).cloned() {
                f.frees_param.insert(m.clone(), v);
            }
        }
        // Input handed to a function of the file taints its parameter; two rounds
        // follow it two calls deep.
        // A file that reads no input has no taint to follow from call to call.
        let rounds = if f.reads_input { 2 } else { 0 };
        for _ in 0..rounds {
            let mut next = f.tainted_params.clone();
            for func in &f.functions {
                let fx = Func::new(&f, *func);
                for &n in &fx.nodes {
                    let Some((callee, args)) = call(src, n) else {
                        continue;
                    };
                    for (i, a) in args.iter().enumerate().take(64) {
                        if fx.is_input(*a) {
                            *next.entry(callee.to_string()).or_default() |= 1 << i;
                        }
                    }
                }
            }
            if next == f.tainted_params {
                break;
            }
            f.tainted_params = next;
        }
        f
    }

    /// Every node of a function's body (the body first), in source order.
    pub fn body_nodes(&self, func: Node<'t>) -> &[Node<'t>] {
        self.body_nodes.get(&func.id()).map_or(&[], Vec::as_slice)
    }
}

/// Library calls that write through one argument: (name, argument).
const LIBRARY_WRITES: &[(&str, usize)] = &[
    ("strcpy", 0),
    ("strncpy", 0),
    ("strcat", 0),
    ("strncat", 0),
    ("sprintf", 0),
    ("snprintf", 0),
    ("vsprintf", 0),
    ("vsnprintf", 0),
    ("memcpy", 0),
    ("memmove", 0),
    ("memset", 0),
    ("fgets", 0),
    ("fread", 0),
    ("read", 1),
    ("recv", 1),
    ("strlcpy", 0),
    ("strlcat", 0),
];

/// A function's name, its parameters (name, type text) and whether it is variadic.
pub(crate) fn signature(src: &str, func: Node) -> (String, Vec<(String, String)>, bool) {
    let mut d = func.field("declarator");
    while let Some(x) = d {
        if x.kind_name() == "function_declarator" {
            break;
        }
        d = x.field("declarator");
    }
    let Some(fd) = d else {
        return (String::new(), Vec::new(), false);
    };
    let name = fd.field("declarator").map(|n| text(src, n)).unwrap_or("");
    let name = name.rsplit("::").next().unwrap_or(name).to_string();
    let mut params = Vec::new();
    let mut variadic = false;
    if let Some(list) = fd.field("parameters") {
        let mut c = list.walk();
        for p in list.named_children(&mut c) {
            if p.kind_name() == "variadic_parameter" {
                variadic = true;
                continue;
            }
            let ty = p.field("type").map(|t| text(src, t)).unwrap_or("");
            let mut decl = p.field("declarator");
            let mut pointer = false;
            while let Some(x) = decl {
                if x.kind_name() == "identifier" {
                    break;
                }
                pointer |= x.kind_name() != "identifier";
                decl = x.field("declarator");
            }
            // `void (*cb)(int)`: the name sits inside a parenthesised declarator.
            let decl = decl.or_else(|| {
                let d = p.field("declarator")?;
                descendants(d)
                    .into_iter()
                    .find(|x| x.kind_name() == "identifier")
            });
            let pname = decl.map(|x| text(src, x)).unwrap_or("").to_string();
            let ty = if pointer {
                format!("{ty} *")
            } else {
                ty.to_string()
            };
            params.push((pname, ty));
        }
        variadic |= text(src, list).contains("...");
    }
    (name, params, variadic)
}

/// Records what a declaration declares: arrays with a constant length, variables
/// initialised with a string literal, and each variable's type.
pub(crate) fn declared(
    src: &str,
    d: Node,
    defines: &HashMap<String, i64>,
    arrays: &mut HashMap<String, (i64, Option<i64>)>,
    literals: &mut HashSet<String>,
    types: &mut HashMap<String, String>,
) {
    let ty = d.field("type").map(|t| text(src, t)).unwrap_or("");
    let mut c = d.walk();
    for decl in d.children_by_field_name("declarator", &mut c) {
        let (target, value) = if decl.kind_name() == "init_declarator" {
            (decl.field("declarator"), decl.field("value"))
        } else {
            (Some(decl), None)
        };
        let Some(mut t) = target else { continue };
        let mut pointer = false;
        // `char *names[8]`: an array (of pointers), its elements' size not the type's.
        let mut of_pointers = false;
        let mut size = None;
        let mut is_array = false;
        // `x[]`: the length comes from the initializer, if anywhere.
        let mut no_size = false;
        loop {
            match t.kind_name() {
                "array_declarator" => {
                    of_pointers |= pointer && !is_array;
                    is_array = true;
                    no_size |= t.field("size").is_none();
                    if size.is_none() {
                        size = t
                            .field("size")
                            .and_then(|s| fold(src, s, &|k| defines.get(k).copied(), &|_| None));
                    }
                }
                "pointer_declarator" | "reference_declarator" => pointer = true,
                _ => {}
            }
            match t.field("declarator") {
                Some(x) => t = x,
                None => break,
            }
        }
        let name = text(src, t).to_string();
        let lit = value.and_then(|v| string_value(src, v));
        if is_array && size.is_none() {
            size = lit.as_ref().map(|s| super::syntax::literal_len(s) + 1);
        }
        // `handlers[] = { a, b, c }`: as many elements as the initializer lists (not
        // `buf[N]{}`, whose length is N even when N cannot be folded).
        if let (true, true, None, Some(v)) = (is_array, no_size, size, value) {
            if v.kind_name() == "initializer_list" {
                size = Some(v.named_child_count() as i64);
            }
        }
        if let (true, Some(s)) = (is_array && !pointer, size) {
            arrays.insert(name.clone(), (s, elem_size(ty)));
        } else if let (true, Some(s)) = (of_pointers, size) {
            arrays.insert(name.clone(), (s, None));
        }
        if lit.is_some() {
            literals.insert(name.clone());
        }
        let full = if pointer || is_array {
            format!("{ty} *")
        } else {
            ty.to_string()
        };
        types.insert(name, full);
    }
}

/// Bytes of one element of a scalar type, if it is one.
pub(crate) fn elem_size(ty: &str) -> Option<i64> {
    let t = ty
        .trim()
        .trim_start_matches("const ")
        .trim_start_matches("static ")
        .trim();
    Some(match t {
        "char" | "unsigned char" | "signed char" | "uint8_t" | "int8_t" | "u_char" | "bool" => 1,
        "short" | "unsigned short" | "uint16_t" | "int16_t" | "wchar_t" => 2,
        "int" | "unsigned" | "unsigned int" | "float" | "uint32_t" | "int32_t" => 4,
        "long" | "unsigned long" | "double" | "size_t" | "uint64_t" | "int64_t" | "long long"
        | "ssize_t" => 8,
        _ => return None,
    })
}
