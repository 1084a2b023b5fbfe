//! The attack surface of a tree: the files that hold an entry point (a route handler, a
//! CLI main, a message consumer), and the project files those import. `scan --coverage`
//! makes the ones no rule selected candidates of a low tier, and `status` says how much
//! of the surface an agent has reviewed.
//!
//! Imports are resolved one hop, within the tree, from the import statements the
//! languages share most: relative JS/TS `import`/`require`, Python `from . import` and
//! dotted modules that exist as files, Go packages of this module, Ruby
//! `require_relative`, PHP `require`/`include` of a literal path.

use crate::Language;
use rayon::prelude::*;
use regex::Regex;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

// Word boundaries are ASCII (`(?-u:\b)`): a Unicode one cannot be decided by the
// lazy DFA on non-ASCII text, so comments and strings in Chinese, say, sent every
// search to the slow engines. Import keywords are ASCII words either way.

/// Largest file whose imports are read.
const MAX_BYTES: u64 = 2 << 20;

static JS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)(?:(?-u:\b)from\s+|(?-u:\b)require\s*\(\s*|(?-u:\b)import\s*\(\s*|^\s*import\s+)["'](\.{1,2}/[^"']+)["']"#)
        .expect("JS import pattern")
});
static PY_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*from\s+(\.*[A-Za-z_][\w.]*|\.+)\s+import\s+([\w, ()*]+)")
        .expect("Python from-import pattern")
});
static PY_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*import\s+([A-Za-z_][\w.]*)").expect("Python import pattern")
});
static GO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([\w.\-]+(?:/[\w.\-]+)+)""#).expect("Go import pattern"));
static RUBY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?-u:\b)require_relative\s*\(?\s*["']([^"']+)["']"#).expect("Ruby pattern")
});
static PHP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?-u:\b)(?:require|include)(?:_once)?\s*\(?\s*(?:__DIR__\s*\.\s*)?["']([^"']+\.php)["']"#,
    )
    .expect("PHP pattern")
});

/// The surface: `entry` files (relative paths holding an entry point) and the files of
/// `known` (every file of the tree the store knows) that they import.
pub fn surface(root: &Path, entry: &[String], known: &HashSet<String>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = entry.iter().cloned().collect();
    let go_packages = GoPackages::new(known);
    // Each entry file is read and resolved on its own; the scan's summary waits on this,
    // so it runs on every core rather than one.
    let imported: Vec<Vec<String>> = entry
        .par_iter()
        .map(|rel| {
            let Some(language) = Language::detect(Path::new(rel)) else {
                return Vec::new();
            };
            let Some(text) = read(root, rel) else {
                return Vec::new();
            };
            resolve(rel, language, &text, known, &go_packages)
        })
        .collect();
    out.extend(imported.into_iter().flatten());
    out
}

fn read(root: &Path, rel: &str) -> Option<String> {
    let path = root.join(rel);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    // Valid UTF-8 (nearly every file) is kept as read, without a copy.
    Some(
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// The files of `known` that `rel` (in `language`, with `text`) imports.
pub fn imports(rel: &str, language: Language, text: &str, known: &HashSet<String>) -> Vec<String> {
    resolve(rel, language, text, known, &GoPackages::new(known))
}

/// Go files by their directory's last two components (`internal/store`), sorted: an
/// import path resolves by its tail, and looking each one up in every known file made
/// the surface quadratic in the size of a Go tree.
struct GoPackages<'k> {
    by_tail: HashMap<&'k str, Vec<&'k String>>,
}

impl<'k> GoPackages<'k> {
    fn new(known: &'k HashSet<String>) -> GoPackages<'k> {
        let mut by_tail: HashMap<&str, Vec<&String>> = HashMap::new();
        for file in known.iter().filter(|k| k.ends_with(".go")) {
            let Some((dir, _)) = file.rsplit_once('/') else {
                continue;
            };
            let tail = match dir.rmatch_indices('/').nth(1) {
                Some((i, _)) => &dir[i + 1..],
                None => dir,
            };
            by_tail.entry(tail).or_default().push(file);
        }
        for files in by_tail.values_mut() {
            files.sort();
        }
        GoPackages { by_tail }
    }

    /// The files of the package whose directory ends with `suffix` (two components).
    fn files(&self, suffix: &str) -> &[&'k String] {
        self.by_tail.get(suffix).map_or(&[], Vec::as_slice)
    }
}

fn resolve(
    rel: &str,
    language: Language,
    text: &str,
    known: &HashSet<String>,
    go_packages: &GoPackages,
) -> Vec<String> {
    let dir = match rel.rfind('/') {
        Some(i) => &rel[..i],
        None => "",
    };
    let mut found = Vec::new();
    let mut add = |candidates: Vec<String>| {
        if let Some(hit) = candidates.into_iter().find(|c| known.contains(c)) {
            found.push(hit);
        }
    };
    match language {
        Language::JavaScript | Language::TypeScript => {
            for c in JS.captures_iter(text) {
                let base = join(dir, &c[1]);
                let mut candidates = vec![base.clone()];
                for ext in ["ts", "tsx", "js", "jsx", "mjs", "cjs"] {
                    candidates.push(format!("{base}.{ext}"));
                    candidates.push(format!("{base}/index.{ext}"));
                }
                add(candidates);
            }
        }
        Language::Python => {
            for c in PY_FROM.captures_iter(text) {
                let module = &c[1];
                let names: Vec<&str> = c[2]
                    .split([',', '(', ')', ' '])
                    .map(str::trim)
                    .filter(|n| !n.is_empty() && *n != "*")
                    .collect();
                let base = python_module(dir, module);
                add(vec![format!("{base}.py"), format!("{base}/__init__.py")]);
                for name in names {
                    add(vec![format!("{base}/{name}.py")]);
                }
            }
            for c in PY_IMPORT.captures_iter(text) {
                let path = c[1].replace('.', "/");
                add(vec![format!("{path}.py"), format!("{path}/__init__.py")]);
            }
        }
        Language::Go => {
            // A package of this module: any known .go file whose directory ends with the
            // import path's tail.
            // The match less its quotes is the import path: no capture groups to resolve.
            for m in GO.find_iter(text) {
                let import = &m.as_str()[1..m.len() - 1];
                let tail: Vec<&str> = import.rsplit('/').take(2).collect();
                let suffix = tail.into_iter().rev().collect::<Vec<_>>().join("/");
                let hits = go_packages.files(&suffix);
                found.extend(hits.iter().take(50).map(|h| (*h).clone()));
            }
        }
        Language::Ruby => {
            for c in RUBY.captures_iter(text) {
                let base = join(dir, &c[1]);
                add(vec![base.clone(), format!("{base}.rb")]);
            }
        }
        Language::Php => {
            for c in PHP.captures_iter(text) {
                let target = c[1].trim_start_matches('/');
                add(vec![join(dir, target), target.to_string()]);
            }
        }
        _ => {}
    }
    found.sort();
    found.dedup();
    found.retain(|f| f != rel);
    found
}

/// `from ..models import x` in `app/views/a.py` → `app/models`; `from pkg.mod import x` →
/// `pkg/mod` (from the root).
fn python_module(dir: &str, module: &str) -> String {
    let dots = module.chars().take_while(|c| *c == '.').count();
    let rest = module[dots..].replace('.', "/");
    if dots == 0 {
        return rest;
    }
    let mut base: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for _ in 1..dots {
        base.pop();
    }
    if !rest.is_empty() {
        base.push(&rest);
    }
    base.join("/")
}

/// `dir` joined with a relative path, `.` and `..` resolved (never above the root).
fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if rel.starts_with('/') || dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(paths: &[&str]) -> HashSet<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn js_relative_imports_resolve_with_extensions_and_index_files() {
        let k = known(&[
            "src/routes/users.ts",
            "src/db/index.ts",
            "src/util.js",
            "lib/x.js",
        ]);
        let text =
            "import { db } from '../db';\nconst u = require('../util')\nimport x from 'express';\n";
        assert_eq!(
            imports("src/routes/api.ts", Language::TypeScript, text, &k),
            ["src/db/index.ts", "src/util.js"]
        );
    }

    #[test]
    fn python_relative_and_absolute_imports_resolve() {
        let k = known(&[
            "app/models.py",
            "app/services/__init__.py",
            "app/services/mail.py",
            "shared/auth.py",
        ]);
        let text =
            "from .models import User\nfrom .services import mail\nimport shared.auth\nimport os\n";
        assert_eq!(
            imports("app/views.py", Language::Python, text, &k),
            [
                "app/models.py",
                "app/services/__init__.py",
                "app/services/mail.py",
                "shared/auth.py"
            ]
        );
        assert_eq!(python_module("a/b/c", "..x.y"), "a/b/x/y");
    }

    #[test]
    fn go_imports_resolve_by_the_last_two_directories_only() {
        let k = known(&[
            "svc/internal/store/b.go",
            "svc/internal/store/a.go",
            "other/store/y.go",
            "internal/storex/z.go",
            "store.go",
        ]);
        let go = "import \"example.com/app/internal/store\"\n";
        assert_eq!(
            imports("cmd/main.go", Language::Go, go, &k),
            ["svc/internal/store/a.go", "svc/internal/store/b.go"]
        );
    }

    #[test]
    fn go_packages_of_the_module_and_php_ruby_requires_resolve() {
        let k = known(&[
            "internal/store/db.go",
            "internal/store/q.go",
            "lib/helpers.rb",
            "inc/db.php",
        ]);
        let go = "import (\n  \"fmt\"\n  \"example.com/app/internal/store\"\n)\n";
        assert_eq!(
            imports("cmd/main.go", Language::Go, go, &k),
            ["internal/store/db.go", "internal/store/q.go"]
        );
        assert_eq!(
            imports(
                "app/main.rb",
                Language::Ruby,
                "require_relative '../lib/helpers'\n",
                &k
            ),
            ["lib/helpers.rb"]
        );
        assert_eq!(
            imports(
                "index.php",
                Language::Php,
                "require_once __DIR__ . '/inc/db.php';\n",
                &k
            ),
            ["inc/db.php"]
        );
    }
}
