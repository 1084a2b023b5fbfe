//! Walking a tree: which files are worth reading, and why the others are not.
//!
//! The walk is `ignore`'s parallel, gitignore-aware walker. It honours
//! `.gitignore` (with or without a git repository), `.ignore` and `.wardenignore`,
//! prunes VCS, vendored and build-output directories, and never follows a
//! symlink: a link to a file inside the root is skipped because the target is
//! walked on its own, a link leading outside is skipped as such. Reading the
//! files is the scanner's job; the walk only looks at names and metadata.

use crate::Language;
use ignore::{WalkBuilder, WalkState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// Why a file was not scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// No rule pack covers this kind of file (docs, images, data).
    UnsupportedType,
    /// Larger than `--max-file-size`.
    TooLarge,
    /// Contains NUL bytes.
    Binary,
    /// Minified or bundled JavaScript/CSS.
    Minified,
    /// Generated code (`DO NOT EDIT` headers, protobuf output).
    Generated,
    /// Package-manager lockfile.
    Lockfile,
    /// A symlink whose target is inside the root (scanned under its real path).
    SymlinkInside,
    /// A symlink leading outside the scanned root, or nowhere.
    SymlinkOutside,
    /// Could not be read (permissions, vanished during the scan).
    Unreadable,
    /// A FIFO, socket or device: never read, it could block or never end.
    NotAFile,
    /// A name that is not valid UTF-8: the store, reports and agents name files by text.
    NonUtf8Name,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnsupportedType => "unsupported type",
            SkipReason::TooLarge => "too large",
            SkipReason::Binary => "binary",
            SkipReason::Minified => "minified or bundled",
            SkipReason::Generated => "generated",
            SkipReason::Lockfile => "lockfile",
            SkipReason::SymlinkInside => "symlink (target scanned)",
            SkipReason::SymlinkOutside => "symlink out of root",
            SkipReason::Unreadable => "unreadable",
            SkipReason::NotAFile => "not a regular file",
            SkipReason::NonUtf8Name => "name not UTF-8",
        }
    }
}

/// Directories never descended into: VCS metadata, dependencies, build output, caches.
const PRUNED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".warden",
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "third_party",
    "dist",
    "build",
    "out",
    "target",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".turbo",
    ".cache",
    "coverage",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "site-packages",
    ".gradle",
    ".idea",
    ".vscode",
    "Pods",
    ".terraform",
    ".bundle",
];

const LOCKFILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "cargo.lock",
    "poetry.lock",
    "pipfile.lock",
    "uv.lock",
    "gemfile.lock",
    "composer.lock",
    "go.sum",
    "packages.lock.json",
    "gradle.lockfile",
];

/// Manifest files that tell which frameworks a project uses.
pub(crate) const MANIFESTS: &[&str] = &[
    "package.json",
    "requirements.txt",
    "requirements-dev.txt",
    "pyproject.toml",
    "pipfile",
    "setup.py",
    "setup.cfg",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "gemfile",
    "composer.json",
    "cargo.toml",
    "packages.config",
];

/// A file the walk accepted for reading.
#[derive(Debug, Clone)]
pub struct WalkedFile {
    pub abs: PathBuf,
    /// Relative to the root, `/`-separated.
    pub rel: String,
    pub language: Language,
    pub size: u64,
    pub mtime_ns: i64,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Accepted files, sorted by relative path.
    pub files: Vec<WalkedFile>,
    /// Manifests found anywhere in the tree (a monorepo's `web/package.json` counts).
    pub manifests: Vec<PathBuf>,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Directories pruned as VCS, vendored or build output.
    pub pruned_dirs: u64,
    /// Entries that could not be read (a directory without permission, a file that
    /// vanished), each named with its error.
    pub errors: Vec<String>,
    /// Relative paths of directories and files that exist but could not be read, and of
    /// entries skipped for their name: nothing known to be under them may be called gone.
    /// `""` is the whole tree (an error that names no path).
    pub unvisited: Vec<String>,
}

/// Options of a walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    pub max_file_size: u64,
    pub threads: usize,
    /// Absolute paths never walked (a data dir inside the root, the scan's own output file).
    pub exclude: Vec<PathBuf>,
}

enum Item {
    File(WalkedFile),
    Manifest(PathBuf),
    Skip(SkipReason),
    /// Exists but was not walked (e.g. a non-UTF-8 name): counted, and never called gone.
    Unvisited(SkipReason, String),
    /// Could not be read: its message, and the relative path when one is known.
    Error(String, Option<String>),
}

/// Files the walker reads itself, in every directory it enters (`.git` only when it is
/// a file, as in a worktree or submodule).
const IGNORE_FILES: &[&str] = &[
    ".gitignore",
    ".ignore",
    ".wardenignore",
    ".git",
    ".git/info/exclude",
];

/// The first file among `dir`'s ignore files that exists but is not a regular file (nor
/// a link to one), with what it is: reading it could block forever (a FIFO) or never end.
pub fn special_ignore_file(dir: &Path) -> Option<(PathBuf, &'static str)> {
    IGNORE_FILES.iter().find_map(|name| {
        let path = dir.join(name);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            // Missing, or a dangling link: nothing the walker can block on.
            Err(_) => return None,
        };
        let ft = meta.file_type();
        if ft.is_file() || (ft.is_dir() && *name == ".git") {
            return None;
        }
        Some((path, file_kind(&ft)))
    })
}

fn file_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Walks `root` (which must be a canonical directory path).
pub fn walk(root: &Path, opts: &WalkOptions) -> Walk {
    let pruned = Arc::new(AtomicU64::new(0));
    let pruned_in_filter = Arc::clone(&pruned);
    // Directories left out because an ignore file in them could not be read safely.
    let refused = Arc::new(std::sync::Mutex::new(Vec::<(PathBuf, String)>::new()));
    let refused_in_filter = Arc::clone(&refused);
    let exclude = opts.exclude.clone();
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .git_global(false)
        .add_custom_ignore_filename(".wardenignore")
        .threads(opts.threads)
        .filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            // Warden's own store and output files are never scanned.
            if exclude.iter().any(|e| e == entry.path()) {
                return false;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if is_dir && PRUNED_DIRS.contains(&entry.file_name().to_string_lossy().as_ref()) {
                pruned_in_filter.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            if is_dir {
                if let Some((file, kind)) = special_ignore_file(entry.path()) {
                    let why = format!(
                        "{}: {kind}, not a regular file; its directory was not scanned",
                        file.display()
                    );
                    if let Ok(mut refused) = refused_in_filter.lock() {
                        refused.push((entry.path().to_path_buf(), why));
                    }
                    return false;
                }
            }
            true
        });

    let (tx, rx) = mpsc::channel::<Item>();
    let canonical_root = root.to_path_buf();
    builder.build_parallel().run(|| {
        let tx = tx.clone();
        let root = canonical_root.clone();
        let max = opts.max_file_size;
        Box::new(move |result| {
            let item = match result {
                Ok(entry) => {
                    // A manifest may also be scanned (package.json is config): report both.
                    if is_manifest(&entry) {
                        let _ = tx.send(Item::Manifest(entry.path().to_path_buf()));
                    }
                    classify(&root, &entry, max)
                }
                Err(err) => {
                    let rel = error_path(&err).map(|p| relative_lossy(&root, p));
                    Some(Item::Error(err.to_string(), rel))
                }
            };
            if let Some(item) = item {
                let _ = tx.send(item);
            }
            WalkState::Continue
        })
    });
    drop(tx);

    let mut walk = Walk::default();
    for item in rx {
        walk.add(item);
    }
    let refused = refused.lock().map(|r| r.clone()).unwrap_or_default();
    for (dir, why) in refused {
        walk.add(Item::Error(why, Some(relative_lossy(root, &dir))));
    }
    walk.finish();
    walk.manifests.sort();
    walk.pruned_dirs = pruned.load(Ordering::Relaxed);
    walk
}

fn classify(root: &Path, entry: &ignore::DirEntry, max_size: u64) -> Option<Item> {
    let ft = entry.file_type()?;
    classify_file(
        root,
        entry.path(),
        ft,
        || entry.metadata().map_err(|e| e.to_string()),
        max_size,
    )
}

/// The same decision for one path, whether a walk found it or a caller named it.
fn classify_file(
    root: &Path,
    path: &Path,
    ft: std::fs::FileType,
    metadata: impl FnOnce() -> Result<std::fs::Metadata, String>,
    max_size: u64,
) -> Option<Item> {
    if ft.is_symlink() {
        return Some(Item::Skip(classify_symlink(root, path)));
    }
    if ft.is_dir() {
        return None;
    }
    if !ft.is_file() {
        return Some(Item::Skip(SkipReason::NotAFile));
    }
    let Some(rel) = relative(root, path) else {
        return Some(Item::Unvisited(
            SkipReason::NonUtf8Name,
            relative_lossy(root, path),
        ));
    };
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if LOCKFILES.contains(&name.as_str()) {
        return Some(Item::Skip(SkipReason::Lockfile));
    }
    if is_generated_name(&name) {
        return Some(Item::Skip(SkipReason::Generated));
    }
    if name.contains(".min.") || name.contains(".bundle.") || name.ends_with(".map") {
        return Some(Item::Skip(SkipReason::Minified));
    }
    let Some(language) = Language::detect(path) else {
        return Some(Item::Skip(SkipReason::UnsupportedType));
    };
    let meta = match metadata() {
        Ok(m) => m,
        Err(err) => return Some(Item::Error(format!("{}: {err}", path.display()), Some(rel))),
    };
    if meta.len() > max_size {
        return Some(Item::Skip(SkipReason::TooLarge));
    }
    let file = WalkedFile {
        abs: path.to_path_buf(),
        rel,
        language,
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
    };
    Some(Item::File(file))
}

/// Takes exactly the files named by `rels` (relative to `root`, a canonical directory),
/// deciding on each as a walk would; manifests are not looked for.
pub fn walk_paths(root: &Path, rels: &[String], max_file_size: u64) -> Walk {
    let mut walk = Walk::default();
    for rel in rels {
        let path = root.join(rel);
        let item = match std::fs::symlink_metadata(&path) {
            Ok(meta) => classify_file(
                root,
                &path,
                meta.file_type(),
                || Ok(meta.clone()),
                max_file_size,
            ),
            Err(err) => Some(Item::Error(
                format!("{}: {err}", path.display()),
                Some(rel.clone()),
            )),
        };
        if let Some(item) = item {
            walk.add(item);
        }
    }
    walk.finish();
    walk
}

impl Walk {
    fn add(&mut self, item: Item) {
        match item {
            Item::File(f) => self.files.push(f),
            Item::Manifest(p) => self.manifests.push(p),
            Item::Skip(reason) => *self.skipped.entry(reason).or_default() += 1,
            Item::Unvisited(reason, rel) => {
                *self.skipped.entry(reason).or_default() += 1;
                self.errors.push(format!("{rel}: {}", reason.as_str()));
                self.unvisited.push(rel);
            }
            Item::Error(message, rel) => {
                *self.skipped.entry(SkipReason::Unreadable).or_default() += 1;
                self.errors.push(message);
                // An error that names no path could hide anything: keep the whole tree.
                self.unvisited.push(rel.unwrap_or_default());
            }
        }
    }

    fn finish(&mut self) {
        self.files.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.errors.sort();
        self.unvisited.sort();
        self.unvisited.dedup();
    }
}

/// The path an error of the walker is about, through the wrappers it adds. An error
/// reading an ignore file (`Partial`) hides no file, so it names none.
fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

fn is_manifest(entry: &ignore::DirEntry) -> bool {
    entry.file_type().is_some_and(|t| t.is_file())
        && crate::tech::manifest_kind(&entry.file_name().to_string_lossy()).is_some()
}

fn classify_symlink(root: &Path, path: &Path) -> SkipReason {
    match std::fs::canonicalize(path) {
        Ok(target) if target.starts_with(root) => SkipReason::SymlinkInside,
        _ => SkipReason::SymlinkOutside,
    }
}

fn is_generated_name(name: &str) -> bool {
    name.ends_with("_pb2.py")
        || name.ends_with("_pb2_grpc.py")
        || name.ends_with(".pb.go")
        || name.ends_with(".pb.cc")
        || name.ends_with(".pb.h")
        || name.contains(".generated.")
        || name.ends_with(".g.cs")
        || name.ends_with(".designer.cs")
}

/// Relative `/`-separated path; `None` for a path not under root (cannot happen without
/// links) or one that is not valid UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// The same, for naming a path in a message or keeping what is under it: never `None`.
fn relative_lossy(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}
