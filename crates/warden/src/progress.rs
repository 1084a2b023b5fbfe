//! A progress bar on a terminal, nothing when piped or quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Shows scan progress on stderr when it is a terminal.
pub struct ScanBar {
    bar: Option<ProgressBar>,
}

impl ScanBar {
    pub fn new(quiet: bool) -> ScanBar {
        let show = !quiet && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {wide_bar} {pos}/{len} files")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("walking");
            bar
        });
        ScanBar { bar }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl warden_scan::Progress for ScanBar {
    fn walked(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_message("scanning");
        }
    }

    fn file_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

/// Shows `process` progress on stderr when it is a terminal: files done/total, findings, spend, rate.
pub struct ProcessBar {
    bar: Option<ProgressBar>,
}

impl ProcessBar {
    pub fn new(quiet: bool, total: usize) -> ProcessBar {
        let show = !quiet && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {wide_bar} {pos}/{len} files ({per_sec}) {msg} [{elapsed_precise}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar.set_message("0 findings, $0.00");
            bar
        });
        ProcessBar { bar }
    }

    /// One more file settled (investigated, failed, released or skipped).
    pub fn file_done(&self, findings: usize, spend_usd: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{findings} findings, ${spend_usd:.2}"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
