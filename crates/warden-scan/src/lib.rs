//! Finds the files in a tree that deserve an AI agent's time, without AI.
//!
//! A scan walks the tree (gitignore-aware, in parallel), runs every rule pack
//! that covers each file's language (a literal prefilter picks which rules run
//! their regex), scores each file from its hits, and hands per-file results to
//! the caller (the store, a test).
//!
//! ```no_run
//! use warden_scan::{NoProgress, Prior, ScannerBuilder};
//!
//! let scanner = ScannerBuilder::new().max_file_size(1 << 20).build()?;
//! let outcome = scanner.scan(std::path::Path::new("."), &Prior::default(), &NoProgress)?;
//! let best = outcome
//!     .files
//!     .iter()
//!     .filter_map(|f| f.matched.as_ref().map(|m| (m.score, &f.path)))
//!     .fold(None, |best: Option<(f64, &String)>, x| match best {
//!         Some(b) if b.0 >= x.0 => Some(b),
//!         _ => Some(x),
//!     });
//! println!("{best:?}");
//! # Ok::<(), warden_scan::ScanError>(())
//! ```

mod blank_lines;
mod first_bytes;
mod language;
mod layout;
mod literals;
mod machine_made;
mod matcher;
mod near;
mod parameters;
mod prefilter;
pub mod ranking;
pub mod rules;
mod scanner;
mod score;
mod search_cache;
mod sibling_guard;
pub mod structural;
pub mod surface;
pub mod tech;
mod walk;
mod words;

pub use language::Language;
pub use matcher::snippet;
pub use matcher::{RawHit, RuleSet};
pub use ranking::is_test_path;
pub use rules::{Answered, Check, Pack, Role, Rule, RuleError};
pub use scanner::{
    check_root, NoProgress, Prior, Progress, ScanError, ScanOutcome, ScanStats, Scanner,
    ScannerBuilder, DEFAULT_MAX_FILE_SIZE, DEFAULT_MIN_SCORE,
};
pub use score::ScoreModel;
pub use walk::SkipReason;
