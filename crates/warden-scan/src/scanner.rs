//! The scan itself: walk, detect tech, read and match each file, score.

use crate::matcher::{RawHit, RuleSet};
use crate::rules::{builtin_fingerprint, builtin_packs, Pack, Rule, RuleError};
use crate::score::ScoreModel;
use crate::walk::{walk, walk_paths, SkipReason, WalkOptions, WalkedFile};
use crate::{tech, Language};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use warden_store::{Hit, KnownFile, MatchedFile, ScannedFile};

/// Default `--max-file-size`: 1 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 20;
/// Default score a file needs to be a candidate.
pub const DEFAULT_MIN_SCORE: f64 = 3.0;

/// A scan that could not run at all (single files that fail are counted, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: no such directory")]
    NoSuchRoot { path: PathBuf },
    #[error("{path}: not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path}: {source}")]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error("compiling rules: {0}")]
    Compile(#[from] regex::Error),
    #[error("building the worker pool: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
}

/// Receives progress as the scan goes; the CLI draws a bar with it, tests ignore it.
pub trait Progress: Sync {
    /// The walk is done and `total` files will be looked at.
    fn walked(&self, _total: u64) {}
    /// One more file was handled (read and matched, or found unchanged).
    fn file_done(&self) {}
}

/// A progress sink that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What the store knew before this scan, so unchanged files can be skipped.
#[derive(Debug, Default, Clone)]
pub struct Prior {
    pub files: HashMap<String, KnownFile>,
    /// The fingerprint the previous scan recorded; a different one re-matches everything.
    pub fingerprint: Option<String>,
}

/// Builds a [`Scanner`], checking options once.
#[derive(Debug, Clone)]
pub struct ScannerBuilder {
    max_file_size: u64,
    threads: usize,
    rules: Option<Vec<String>>,
    exclude: Vec<PathBuf>,
    model: ScoreModel,
}

impl Default for ScannerBuilder {
    fn default() -> Self {
        ScannerBuilder {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            threads: 0,
            rules: None,
            exclude: Vec::new(),
            model: ScoreModel::default(),
        }
    }
}

impl ScannerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Files larger than this many bytes are skipped.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Worker threads; 0 picks the number of CPUs.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Runs only these rules or packs (by id). Naming a framework-gated rule runs it regardless.
    pub fn rules(mut self, ids: Vec<String>) -> Self {
        self.rules = Some(ids);
        self
    }

    /// Ranks tests, fixtures, examples, docs and rule definitions like application code
    /// (by default they rank below it).
    pub fn include_tests(mut self, yes: bool) -> Self {
        self.model.include_tests = yes;
        self
    }

    /// Never descends into this directory (e.g. the store's data dir).
    pub fn exclude(mut self, dir: PathBuf) -> Self {
        self.exclude.push(dir);
        self
    }

    /// Loads the packs and checks the rule selection.
    pub fn build(self) -> Result<Scanner, ScanError> {
        let packs = builtin_packs()?;
        if let Some(ids) = &self.rules {
            for id in ids {
                let known = packs
                    .iter()
                    .any(|p| p.id == *id || p.rules.iter().any(|r| r.id == *id));
                if !known {
                    return Err(RuleError::UnknownRule { id: id.clone() }.into());
                }
            }
        }
        Ok(Scanner { packs, opts: self })
    }
}

/// A configured scanner; [`Scanner::scan`] may be called many times.
#[derive(Debug)]
pub struct Scanner {
    packs: Vec<Pack>,
    opts: ScannerBuilder,
}

/// Counts and timings of one scan, for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanStats {
    /// Files the walk accepted (by type and size) and the scan looked at.
    pub files_walked: u64,
    /// Files read and matched in this scan.
    pub files_matched: u64,
    /// Files skipped because the store already knew them unchanged.
    pub files_unchanged: u64,
    pub bytes_read: u64,
    /// Files that are not valid UTF-8 (still scanned; snippets decoded lossily).
    pub non_utf8: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    pub pruned_dirs: u64,
    pub languages: BTreeMap<String, u64>,
    /// Paths that could not be read, each with its error (never their content).
    pub walk_errors: Vec<String>,
    /// Relative paths of directories and files that exist but were not read; what the
    /// store knows under them is kept as it was, never marked gone.
    pub unvisited: Vec<String>,
    #[serde(serialize_with = "as_secs")]
    pub elapsed: Duration,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Everything a scan produces: per-file results for the store, tech tags and stats.
#[derive(Debug)]
pub struct ScanOutcome {
    pub files: Vec<ScannedFile>,
    pub tech: Vec<String>,
    /// Rules, selection and tech in force: stored so the next scan knows whether stored hits still hold.
    pub fingerprint: String,
    pub stats: ScanStats,
}

enum FileResult {
    Scanned(ScannedFile, bool),
    Skipped(SkipReason),
    /// Walked, then could not be read: the message names the path.
    Unreadable(String),
}

impl Scanner {
    /// All loaded packs.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Never descends into `dir` (an absolute path), e.g. a data dir created after building.
    pub fn exclude_dir(&mut self, dir: PathBuf) {
        self.opts.exclude.push(dir);
    }

    /// Looks a rule up by id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.packs
            .iter()
            .flat_map(|p| &p.rules)
            .find(|r| r.id == id)
    }

    /// Scans `root`, reusing what `prior` says about unchanged files.
    pub fn scan(
        &self,
        root: &Path,
        prior: &Prior,
        progress: &dyn Progress,
    ) -> Result<ScanOutcome, ScanError> {
        let started = Instant::now();
        let root = canonical_root(root)?;
        check_root(&root)?;
        let walked = walk(
            &root,
            &WalkOptions {
                max_file_size: self.opts.max_file_size,
                threads: self.opts.threads,
                exclude: self.opts.exclude.clone(),
            },
        );
        let tech = tech::detect(&walked.manifests);
        self.scan_walked(&root, walked, tech, prior, progress, started)
    }

    /// Scans exactly `paths` (relative to `root`), e.g. the files a change touched, with
    /// `tech` (the project's, from its last full scan) turning on framework rules. Files a
    /// walk would skip are skipped here too, and counted the same way.
    pub fn scan_paths(
        &self,
        root: &Path,
        paths: &[String],
        tech: &[String],
        progress: &dyn Progress,
    ) -> Result<ScanOutcome, ScanError> {
        let started = Instant::now();
        let root = canonical_root(root)?;
        let walked = walk_paths(&root, paths, self.opts.max_file_size);
        let tech = tech.iter().cloned().collect();
        self.scan_walked(&root, walked, tech, &Prior::default(), progress, started)
    }

    /// Detects languages, then reads, matches and scores every walked file.
    fn scan_walked(
        &self,
        root: &Path,
        walked: crate::walk::Walk,
        mut tech: BTreeSet<String>,
        prior: &Prior,
        progress: &dyn Progress,
        started: Instant,
    ) -> Result<ScanOutcome, ScanError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.opts.threads)
            .build()?;
        progress.walked(walked.files.len() as u64);
        let mut languages: BTreeMap<String, u64> = BTreeMap::new();
        for f in &walked.files {
            *languages.entry(f.language.name().to_string()).or_default() += 1;
        }
        tech.extend(
            languages
                .keys()
                .filter(|l| Language::from_name(l).is_some_and(Language::is_code))
                .cloned(),
        );
        let fingerprint = self.fingerprint(&tech);
        let reuse = prior.fingerprint.as_deref() == Some(fingerprint.as_str());
        let prior_files = if reuse { Some(&prior.files) } else { None };
        // Compile rules only for languages with files that may need matching.
        let to_match: BTreeSet<Language> = walked
            .files
            .iter()
            .filter(|f| !same_metadata(f, prior_files.and_then(|p| p.get(&f.rel))))
            .map(|f| f.language)
            .collect();
        let ruleset = pool.install(|| self.compile(&tech, to_match))?;

        let bytes = AtomicU64::new(0);
        // C and C++ files see what their own headers declare; each header is parsed once.
        let headers = walked
            .files
            .iter()
            .any(|f| matches!(f.language, Language::C | Language::Cpp))
            .then(|| crate::structural::Headers::new(root));
        let results: Vec<(&str, FileResult)> = pool.install(|| {
            walked
                .files
                .par_iter()
                .map(|f| {
                    let known = prior_files.and_then(|p| p.get(&f.rel));
                    let r = self.scan_file(f, known, &ruleset, &bytes, headers.as_ref());
                    progress.file_done();
                    (f.rel.as_str(), r)
                })
                .collect()
        });

        let mut stats = ScanStats {
            skipped: walked.skipped,
            pruned_dirs: walked.pruned_dirs,
            languages,
            walk_errors: walked.errors,
            unvisited: walked.unvisited,
            ..ScanStats::default()
        };
        let mut files = Vec::with_capacity(results.len());
        for (rel, r) in results {
            match r {
                FileResult::Scanned(file, lossy) => {
                    stats.files_walked += 1;
                    if file.matched.is_some() {
                        stats.files_matched += 1;
                    } else {
                        stats.files_unchanged += 1;
                    }
                    stats.non_utf8 += u64::from(lossy);
                    files.push(file);
                }
                FileResult::Skipped(reason) => *stats.skipped.entry(reason).or_default() += 1,
                FileResult::Unreadable(message) => {
                    *stats.skipped.entry(SkipReason::Unreadable).or_default() += 1;
                    stats.walk_errors.push(message);
                    stats.unvisited.push(rel.to_string());
                }
            }
        }
        stats.walk_errors.sort();
        stats.unvisited.sort();
        stats.bytes_read = bytes.load(Ordering::Relaxed);
        stats.elapsed = started.elapsed();
        Ok(ScanOutcome {
            files,
            tech: tech.into_iter().collect(),
            fingerprint,
            stats,
        })
    }

    fn selected(&self, rule: &Rule, pack: &Pack) -> Option<bool> {
        match &self.opts.rules {
            None => Some(false),
            Some(ids) if ids.contains(&rule.id) => Some(true),
            Some(ids) if ids.contains(&pack.id) => Some(false),
            Some(_) => None,
        }
    }

    /// Compiles the rules that run: selected, and framework-gated ones only where the framework is present.
    fn compile(
        &self,
        tech: &BTreeSet<String>,
        languages: BTreeSet<Language>,
    ) -> Result<RuleSet, ScanError> {
        let mut rules = Vec::new();
        let mut covers: Vec<Vec<Language>> = Vec::new();
        for pack in &self.packs {
            for rule in &pack.rules {
                let Some(named) = self.selected(rule, pack) else {
                    continue;
                };
                let gated_out = !rule.frameworks.is_empty()
                    && !rule.frameworks.iter().any(|f| tech.contains(f));
                if gated_out && !named {
                    continue;
                }
                let langs: Vec<Language> = Language::ALL
                    .into_iter()
                    .filter(|&l| pack.covers(l) || rule.languages.contains(&l))
                    .collect();
                rules.push(rule.for_matching());
                covers.push(langs);
            }
        }
        let covers_by_id: HashMap<String, Vec<Language>> = rules
            .iter()
            .zip(covers)
            .map(|(r, c)| (r.id.clone(), c))
            .collect();
        Ok(RuleSet::compile(rules, languages, |rule, lang| {
            covers_by_id
                .get(&rule.id)
                .is_some_and(|c| c.contains(&lang))
        })?)
    }

    fn fingerprint(&self, tech: &BTreeSet<String>) -> String {
        let mut h = blake3::Hasher::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(builtin_fingerprint().as_bytes());
        h.update(format!("{:?}|{:?}|{:?}", self.opts.rules, tech, self.opts.model).as_bytes());
        h.finalize().to_hex().to_string()
    }

    fn scan_file(
        &self,
        f: &WalkedFile,
        known: Option<&KnownFile>,
        ruleset: &RuleSet,
        bytes_read: &AtomicU64,
        headers: Option<&crate::structural::Headers>,
    ) -> FileResult {
        // Same size and mtime as last time: trust the stored hash, as git does.
        if let Some(k) = known.filter(|k| same_metadata(f, Some(k))) {
            return FileResult::Scanned(unchanged(f, k.hash.clone()), false);
        }
        let content = match read_regular(&f.abs) {
            Ok(Some(c)) => c,
            // Swapped for a FIFO or device since the walk: never read, it could block.
            Ok(None) => return FileResult::Skipped(SkipReason::NotAFile),
            Err(err) => return FileResult::Unreadable(format!("{}: {err}", f.rel)),
        };
        bytes_read.fetch_add(content.len() as u64, Ordering::Relaxed);
        let head = &content[..content.len().min(8192)];
        if head.contains(&0) {
            return FileResult::Skipped(SkipReason::Binary);
        }
        if crate::machine_made::is_generated(head) {
            return FileResult::Skipped(SkipReason::Generated);
        }
        if matches!(f.language, Language::JavaScript | Language::TypeScript)
            && crate::machine_made::is_minified(&content)
        {
            return FileResult::Skipped(SkipReason::Minified);
        }
        let hash = blake3::hash(&content).to_hex().to_string();
        if known.is_some_and(|k| k.hash == hash) {
            return FileResult::Scanned(unchanged(f, hash), false);
        }
        let lossy = std::str::from_utf8(&content).is_err();
        let mut raw = crate::structural::confirm(
            ruleset,
            f.language,
            &content,
            ruleset.find(f.language, &content),
            headers.map(|h| (h, f.abs.as_path())),
        );
        crate::sibling_guard::apply(ruleset.rules(), &mut raw, &content);
        let layout = crate::layout::layout(f.language, &content, ruleset.rules(), &raw);
        let matched = self.to_matched(&f.rel, ruleset, &raw, &layout);
        let file = ScannedFile {
            path: f.rel.clone(),
            language: Some(f.language.name().to_string()),
            size: f.size,
            mtime_ns: f.mtime_ns,
            hash,
            matched: Some(matched),
        };
        FileResult::Scanned(file, lossy)
    }

    fn to_matched(
        &self,
        path: &str,
        ruleset: &RuleSet,
        raw: &[RawHit],
        layout: &crate::layout::Layout,
    ) -> MatchedFile {
        let score = self.opts.model.score_in(path, ruleset.rules(), raw, layout);
        let hits = raw
            .iter()
            .map(|h| Hit {
                rule_id: ruleset.rules()[h.rule].id.clone(),
                line: h.line,
                snippet: h.snippet.clone(),
            })
            .collect();
        MatchedFile { score, hits }
    }
}

/// Refuses a root the walk cannot be trusted with: one that cannot be listed (it would
/// look like a tree whose files were all deleted), or whose ignore files, or those of
/// its parents, which the walker reads first, are FIFOs or devices that would block it.
pub fn check_root(root: &Path) -> Result<(), ScanError> {
    std::fs::read_dir(root).map_err(|source| ScanError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    for dir in root.ancestors() {
        if let Some((file, kind)) = crate::walk::special_ignore_file(dir) {
            return Err(ScanError::Root {
                path: file,
                source: std::io::Error::other(format!(
                    "{kind}, not a regular file: refusing to read it as an ignore file"
                )),
            });
        }
    }
    Ok(())
}

/// Reads a file only if it is still a regular file once opened: the open does not wait
/// on a FIFO (`O_NONBLOCK`), and the check is on the descriptor, not the name.
fn read_regular(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut content = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut content)?;
    Ok(Some(content))
}

fn same_metadata(f: &WalkedFile, known: Option<&KnownFile>) -> bool {
    known.is_some_and(|k| k.size == f.size && k.mtime_ns == f.mtime_ns)
}

fn unchanged(f: &WalkedFile, hash: String) -> ScannedFile {
    ScannedFile {
        path: f.rel.clone(),
        language: Some(f.language.name().to_string()),
        size: f.size,
        mtime_ns: f.mtime_ns,
        hash,
        matched: None,
    }
}

fn canonical_root(root: &Path) -> Result<PathBuf, ScanError> {
    let canonical = std::fs::canonicalize(root).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ScanError::NoSuchRoot {
                path: root.to_path_buf(),
            }
        } else {
            ScanError::Root {
                path: root.to_path_buf(),
                source,
            }
        }
    })?;
    if !canonical.is_dir() {
        return Err(ScanError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    Ok(canonical)
}
