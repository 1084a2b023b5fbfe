//! A progress bar on a terminal (and a line per sandbox), nothing when piped or quiet.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use warden_pipeline::SlotState;

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

/// Shows `process` (and `revalidate`) progress on stderr when it is a terminal: files
/// done/total, findings, spend, rate; with sandboxes, a line per sandbox under it saying
/// what that sandbox does and for how long.
pub struct ProcessBar {
    bar: Option<ProgressBar>,
    /// Set when there are per-sandbox lines to draw.
    multi: Option<MultiProgress>,
    slots: Mutex<Vec<ProgressBar>>,
}

impl ProcessBar {
    /// `per_sandbox`: the run's slots are sandboxes, each worth a line.
    pub fn new(quiet: bool, total: usize, per_sandbox: bool) -> ProcessBar {
        let show = !quiet && std::io::stderr().is_terminal();
        let multi = (show && per_sandbox)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let bar = show.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let bar = match &multi {
                Some(m) => m.add(bar),
                None => bar,
            };
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
        ProcessBar {
            bar,
            multi,
            slots: Mutex::new(Vec::new()),
        }
    }

    /// One more file settled (investigated, failed, released or skipped).
    pub fn file_done(&self, findings: usize, spend_usd: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{findings} findings, ${spend_usd:.2}"));
        }
    }

    /// Sandbox `slot` now does `state`: `sandbox 2: investigating src/app.py for 12s`.
    pub fn slot(&self, slot: usize, state: SlotState<'_>) {
        let Some(multi) = &self.multi else { return };
        let Ok(mut lines) = self.slots.lock() else {
            return;
        };
        while lines.len() <= slot {
            let line = multi.add(ProgressBar::new_spinner());
            line.set_prefix(format!("sandbox {}", lines.len() + 1));
            line.enable_steady_tick(std::time::Duration::from_secs(1));
            lines.push(line);
        }
        let line = &lines[slot];
        let (template, message) = match state {
            SlotState::Preparing => ("  {prefix}: {msg} for {elapsed}", "creating".to_string()),
            SlotState::Investigating { path, more } => {
                let batch = if more > 0 {
                    format!(" (+{more})")
                } else {
                    String::new()
                };
                (
                    "  {prefix}: {msg} for {elapsed}",
                    format!("investigating {}{batch}", crate::commands::printable(path)),
                )
            }
            SlotState::Idle => ("  {prefix}: {msg}", "idle".to_string()),
        };
        line.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        line.reset_elapsed();
        line.set_message(message);
    }

    pub fn finish(&self) {
        if let Ok(lines) = self.slots.lock() {
            for line in lines.iter() {
                line.finish_and_clear();
            }
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
