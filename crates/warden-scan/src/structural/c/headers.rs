//! What a C/C++ file's own headers declare: the constants, struct members' array
//! lengths and printf-like prototypes of the files it names with `#include "..."`.
//!
//! A `.c` file rarely declares the buffers it writes: `struct frame` and `AUX_MAX` sit in
//! `frame.h`. The scan keeps one [`Headers`] cache for the whole tree; each header is read
//! and parsed once (whichever thread asks first), and a file's checks see the merged facts
//! of the headers it includes, a few levels deep. Only quoted includes are followed
//! (`<...>` names the system's headers), resolved next to the including file, then in the
//! `include/` and `src/` directories of its ancestors up to the scan root.

use super::file::{declared, elem_size};
use super::syntax::{descendants, fold, parse_int, text};
use crate::structural::fields::{Fields, Kinds};
use crate::Language;
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tree_sitter::Node;

/// Headers larger than this are not read (generated tables, amalgamations).
const MAX_HEADER_SIZE: u64 = 256 * 1024;
/// Include levels followed from the file (its headers are level 1).
const MAX_DEPTH: usize = 3;
/// Headers merged for one file at most.
const MAX_HEADERS: usize = 24;
/// Ancestor directories searched for `include/` and `src/` roots.
const MAX_ANCESTORS: usize = 4;

/// A member array's length: known, or a constant (`± k`) declared in another header.
#[derive(Debug, Clone, PartialEq)]
enum Len {
    Known(i64),
    Named(String, i64),
}

/// What one header declares (its own text only; its includes are followed separately).
#[derive(Debug, Default)]
struct HeaderFacts {
    defines: HashMap<String, i64>,
    /// Struct and class members that are arrays: (member, length, bytes of one element).
    fields: Vec<(String, Len, Option<i64>)>,
    /// Variadic prototypes taking a printf format: (function, format parameter).
    formats: Vec<(String, usize)>,
    /// Struct and class members with their declared types.
    member_types: Vec<(String, String)>,
    /// The quoted names it includes.
    includes: Vec<String>,
}

/// The merged facts of the headers one file includes.
#[derive(Debug, Default)]
pub(crate) struct Included {
    pub defines: HashMap<String, i64>,
    /// As `FileFacts::field_arrays`: `None` when two structs give one name two lengths.
    pub field_arrays: HashMap<String, Option<(i64, Option<i64>)>>,
    pub format_wrappers: HashMap<String, usize>,
    /// Members' declared types (`Car *`); the first header declaring a name wins.
    pub member_types: HashMap<String, String>,
}

impl Included {
    /// Adds the headers' constants to a file's; the file's own win.
    pub fn add_constants(&self, defines: &mut HashMap<String, i64>) {
        for (k, v) in &self.defines {
            defines.entry(k.clone()).or_insert(*v);
        }
    }

    /// Adds the headers' member arrays (a name the file gives another length has
    /// none), printf-like prototypes and member types to a file's.
    pub fn add_members(
        &self,
        field_arrays: &mut HashMap<String, Option<(i64, Option<i64>)>>,
        format_wrappers: &mut HashMap<String, usize>,
        member_types: &mut HashMap<String, String>,
    ) {
        for (name, len) in &self.field_arrays {
            let slot = field_arrays.entry(name.clone()).or_insert(*len);
            if slot != len {
                *slot = None;
            }
        }
        for (name, i) in &self.format_wrappers {
            format_wrappers.entry(name.clone()).or_insert(*i);
        }
        for (name, ty) in &self.member_types {
            member_types
                .entry(name.clone())
                .or_insert_with(|| ty.clone());
        }
    }
}

type Slot = Arc<OnceLock<Arc<HeaderFacts>>>;

/// The scan's cache of parsed headers, shared by the threads scanning files.
#[derive(Debug)]
pub struct Headers {
    root: PathBuf,
    cache: Mutex<HashMap<(PathBuf, Language), Slot>>,
}

impl Headers {
    /// A cache for a scan of `root` (canonical): includes never resolve outside it.
    pub fn new(root: &Path) -> Headers {
        Headers {
            root: root.to_path_buf(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The facts of the headers `file` (absolute, under the root) includes, transitively,
    /// or `None` when it includes none that can be found.
    pub(crate) fn included(&self, file: &Path, text: &str, lang: Language) -> Option<Included> {
        let first = quoted_includes(text);
        if first.is_empty() {
            return None;
        }
        let dir = file.parent()?;
        let mut queue: Vec<(PathBuf, usize)> = first
            .iter()
            .filter_map(|name| self.resolve(dir, name))
            .map(|p| (p, 1))
            .collect();
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut found = Vec::new();
        let mut i = 0;
        while i < queue.len() && found.len() < MAX_HEADERS {
            let (path, depth) = queue[i].clone();
            i += 1;
            if !seen.insert(path.clone()) {
                continue;
            }
            let facts = self.facts(&path, lang);
            if depth < MAX_DEPTH {
                if let Some(hdir) = path.parent() {
                    for name in &facts.includes {
                        if let Some(p) = self.resolve(hdir, name) {
                            queue.push((p, depth + 1));
                        }
                    }
                }
            }
            found.push(facts);
        }
        (!found.is_empty()).then(|| merge(&found))
    }

    /// One header's facts, parsed the first time any thread asks.
    fn facts(&self, path: &Path, lang: Language) -> Arc<HeaderFacts> {
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(cache.entry((path.to_path_buf(), lang)).or_default())
        };
        Arc::clone(slot.get_or_init(|| Arc::new(read_header(path, lang))))
    }

    /// Where `#include "name"` from a file in `dir` points: next to it, else under an
    /// `include/` or `src/` directory of `dir` or one of its ancestors in the root.
    fn resolve(&self, dir: &Path, name: &str) -> Option<PathBuf> {
        let rel = Path::new(name);
        if rel.is_absolute() {
            return None;
        }
        let mut tried = vec![dir.join(rel)];
        for anc in dir.ancestors().take(MAX_ANCESTORS + 1) {
            if !anc.starts_with(&self.root) {
                break;
            }
            tried.push(anc.join("include").join(rel));
            tried.push(anc.join("src").join(rel));
        }
        // A regular file (never a FIFO or a device, which would block or never end) whose
        // real path is in the root: a symlinked header or `include/` pointing outside it
        // is not read, as the walk does not read such files either.
        tried
            .into_iter()
            .map(|p| normalize(&p))
            .filter(|p| p.starts_with(&self.root) && p.is_file())
            .find_map(|p| std::fs::canonicalize(p).ok())
            .filter(|real| real.starts_with(&self.root))
    }
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The names of `#include "name"` lines.
fn quoted_includes(text: &str) -> Vec<String> {
    if !text.contains("include") {
        return Vec::new();
    }
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start().strip_prefix('#')?.trim_start();
            let rest = l.strip_prefix("include")?.trim_start();
            let rest = rest.strip_prefix('"')?;
            let name = &rest[..rest.find('"')?];
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// The header's bytes, or `None` if unreadable or over [`MAX_HEADER_SIZE`] (read with
/// that bound, so a file that grows after its size was looked at is refused all the same).
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_HEADER_SIZE + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_HEADER_SIZE).then_some(bytes)
}

fn read_header(path: &Path, lang: Language) -> HeaderFacts {
    let Some(bytes) = read_bounded(path) else {
        return HeaderFacts::default();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut facts = HeaderFacts {
        includes: quoted_includes(&text),
        ..HeaderFacts::default()
    };
    let Some(grammar) = super::grammar(lang) else {
        return facts;
    };
    let Some(tree) = super::parse(lang, grammar, text.as_bytes()) else {
        return facts;
    };
    collect(&text, tree.root_node(), &mut facts);
    facts
}

/// Walks a header's tree for constants, member arrays and printf-like prototypes.
fn collect(src: &str, root: Node, facts: &mut HeaderFacts) {
    let mut members = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match n.kind_name() {
            // Inline bodies declare no buffers of the header's structs.
            "function_definition" | "compound_statement" => continue,
            "preproc_def" => {
                let name = n.field("name").map(|x| text(src, x));
                let value = n.field("value").map(|x| text(src, x).trim());
                if let (Some(name), Some(v)) = (name, value) {
                    let v = v.trim_start_matches('(').trim_end_matches(')');
                    if let Some(i) = parse_int(v) {
                        facts.defines.insert(name.to_string(), i);
                    }
                }
            }
            "enumerator" => {
                let name = n.field("name").map(|x| text(src, x));
                if let (Some(name), Some(v)) = (name, n.field("value")) {
                    if let Some(i) = parse_int(text(src, v)) {
                        facts.defines.insert(name.to_string(), i);
                    }
                }
            }
            "declaration" => {
                super::members::constant_declared(src, n, &mut facts.defines);
                if let Some(f) = format_prototype(src, n) {
                    facts.formats.push(f);
                }
            }
            "field_declaration" => {
                super::members::constant_declared(src, n, &mut facts.defines);
                members.push(n);
            }
            _ => {}
        }
        let mut c = n.walk();
        let kids: Vec<Node> = n.named_children(&mut c).collect();
        stack.extend(kids.into_iter().rev());
    }
    for d in members {
        let mut known = HashMap::new();
        let mut types = HashMap::new();
        declared(
            src,
            d,
            &facts.defines,
            &mut known,
            &mut HashSet::new(),
            &mut types,
        );
        facts.member_types.extend(types);
        for (name, (len, elem)) in known {
            facts.fields.push((name, Len::Known(len), elem));
        }
        facts.fields.extend(named_lengths(src, d, &facts.defines));
    }
}

/// Member arrays whose length is a constant this header does not define
/// (`char label[LABEL_LEN];` with `LABEL_LEN` in `limits.h`).
fn named_lengths(
    src: &str,
    d: Node,
    defines: &HashMap<String, i64>,
) -> Vec<(String, Len, Option<i64>)> {
    let ty = d.field("type").map(|t| text(src, t)).unwrap_or("");
    let elem = elem_size(ty);
    let mut out = Vec::new();
    let mut c = d.walk();
    for decl in d.children_by_field_name("declarator", &mut c) {
        if decl.kind_name() != "array_declarator" {
            continue;
        }
        let (Some(size), Some(name)) = (decl.field("size"), decl.field("declarator")) else {
            continue;
        };
        if fold(src, size, &|k| defines.get(k).copied(), &|_| None).is_some()
            || !matches!(name.kind_name(), "field_identifier" | "identifier")
        {
            continue;
        }
        if let Some(len) = named_len(text(src, size)) {
            out.push((text(src, name).to_string(), len, elem));
        }
    }
    out
}

/// `NAME`, `NAME + 1`, `NAME - 1`.
fn named_len(t: &str) -> Option<Len> {
    let ident = |s: &str| {
        let s = s.trim();
        (!s.is_empty()
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| s.to_string())
    };
    if let Some(name) = ident(t) {
        return Some(Len::Named(name, 0));
    }
    let (l, r, sign) = match t.split_once('+') {
        Some((l, r)) => (l, r, 1),
        None => {
            let (l, r) = t.split_once('-')?;
            (l, r, -1)
        }
    };
    Some(Len::Named(ident(l)?, sign * parse_int(r.trim())?))
}

/// `void log_msg(const char *fmt, ...);`, or one marked
/// `__attribute__((format(printf, 1, 2)))`: (name, format parameter).
fn format_prototype(src: &str, d: Node) -> Option<(String, usize)> {
    let fd = descendants(d)
        .into_iter()
        .find(|x| x.kind_name() == "function_declarator")?;
    let params = fd.field("parameters")?;
    let list = text(src, params);
    if !list.contains("...") {
        return None;
    }
    let name = text(src, fd.field("declarator")?);
    let name = name.rsplit("::").next().unwrap_or(name).to_string();
    let mut c = params.walk();
    let ps: Vec<Node> = params
        .named_children(&mut c)
        .filter(|p| p.kind_name() == "parameter_declaration")
        .collect();
    let attr = text(src, d);
    if let Some(at) = attr
        .find("format(printf")
        .or_else(|| attr.find("format (printf"))
    {
        let nums: Vec<usize> = attr[at..]
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        if let Some(&k) = nums.first().filter(|&&k| k >= 1 && k <= ps.len()) {
            return Some((name, k - 1));
        }
    }
    // The last named parameter before `...`, a `char *` called fmt or format.
    let last = ps.last()?;
    let ty = text(src, *last);
    let pname = descendants(*last)
        .into_iter()
        .rfind(|x| x.kind_name() == "identifier")
        .map(|x| text(src, x).to_ascii_lowercase())?;
    let named = pname == "fmt" || pname.ends_with("fmt") || pname.contains("format");
    (ty.contains("char") && ty.contains('*') && named).then(|| (name, ps.len() - 1))
}

/// Merges the headers' facts, nearer headers first: a constant keeps its first value; a
/// member array two structs declare with two lengths has none.
fn merge(found: &[Arc<HeaderFacts>]) -> Included {
    let mut out = Included::default();
    for h in found {
        for (k, v) in &h.defines {
            out.defines.entry(k.clone()).or_insert(*v);
        }
        for (f, i) in &h.formats {
            out.format_wrappers.entry(f.clone()).or_insert(*i);
        }
        for (m, ty) in &h.member_types {
            out.member_types
                .entry(m.clone())
                .or_insert_with(|| ty.clone());
        }
    }
    for h in found {
        for (name, len, elem) in &h.fields {
            let n = match len {
                Len::Known(n) => Some(*n),
                Len::Named(c, k) => out.defines.get(c).map(|v| v + k),
            };
            let Some(n) = n else { continue };
            let slot = out
                .field_arrays
                .entry(name.clone())
                .or_insert(Some((n, *elem)));
            if *slot != Some((n, *elem)) {
                *slot = None;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_includes_only() {
        let t = "#include <stdio.h>\n#include \"frame.h\"\n  # include \"net/io.h\"\n";
        assert_eq!(quoted_includes(t), vec!["frame.h", "net/io.h"]);
    }

    #[test]
    fn named_lengths_parse() {
        assert_eq!(named_len("LEN"), Some(Len::Named("LEN".into(), 0)));
        assert_eq!(named_len("LEN + 1"), Some(Len::Named("LEN".into(), 1)));
        assert_eq!(named_len("a * 2"), None);
    }

    #[test]
    fn resolves_through_include_roots_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("app/include")).unwrap();
        std::fs::create_dir_all(root.join("app/src")).unwrap();
        std::fs::write(root.join("app/include/limits.h"), "#define NAME_LEN 12\n").unwrap();
        std::fs::write(
            root.join("app/include/rec.h"),
            "#include \"limits.h\"\n#define SLOTS 4\nstruct rec { char name[NAME_LEN + 1]; int v[SLOTS]; };\nvoid logf_(const char *fmt, ...);\n",
        )
        .unwrap();
        let file = root.join("app/src/rec.c");
        let h = Headers::new(&root);
        let inc = h
            .included(&file, "#include \"rec.h\"\n", Language::C)
            .unwrap();
        assert_eq!(inc.defines.get("SLOTS"), Some(&4));
        assert_eq!(inc.field_arrays.get("name"), Some(&Some((13, Some(1)))));
        assert_eq!(inc.field_arrays.get("v"), Some(&Some((4, Some(4)))));
        assert_eq!(inc.format_wrappers.get("logf_"), Some(&0));
        assert_eq!(h.cache.lock().unwrap().len(), 2);
        assert!(h
            .included(&file, "#include \"../../../etc/passwd\"\n", Language::C)
            .is_none());
    }

    #[cfg(unix)]
    #[test]
    fn headers_outside_the_root_or_not_regular_files_are_not_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("far.h"), "#define FAR 7\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("far.h"), root.join("src/far.h")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("include")).unwrap();
        let fifo = root.join("src/pipe.h");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        std::fs::write(root.join("src/big.h"), "#define BIG 1\n".repeat(20_000)).unwrap();
        std::fs::write(root.join("src/near.h"), "#define NEAR 3\n").unwrap();
        let h = Headers::new(&root);
        let file = root.join("src/main.c");
        let inc = |name: &str| h.included(&file, &format!("#include \"{name}\"\n"), Language::C);
        assert!(inc("far.h").is_none(), "a symlink out of the root");
        assert!(
            inc("../include/far.h").is_none(),
            "a directory symlinked out of the root"
        );
        if made.is_ok_and(|s| s.success()) {
            assert!(inc("pipe.h").is_none(), "a FIFO");
        }
        let big = inc("big.h").expect("found");
        assert!(big.defines.is_empty(), "over the size bound: not read");
        let near = inc("near.h").expect("found");
        assert_eq!(near.defines.get("NEAR"), Some(&3));
    }
}
