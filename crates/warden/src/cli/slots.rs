//! `--sandboxes`, `--cpus` and `--memory` of `process` and `revalidate`: how many
//! sandboxes an agent CLI runs at once, and the size of each.

use crate::ranges;
use clap::Args;

/// Sandboxes of an agent CLI run (`--agent claude|codex|opencode`).
#[derive(Debug, Args)]
pub struct SandboxSlots {
    /// With an agent CLI: how many sandboxes run at once (1 to 64; default: --concurrency,
    /// else 4). Each investigates one file (or batch) at a time and takes the next best one
    /// as it frees up, its next sandbox created while it works. It is the number of
    /// investigations at once, so it is --concurrency by another name: give either (both
    /// only with the same value). The native agent runs without sandboxes: use
    /// --concurrency.
    #[arg(
        long,
        value_name = "N",
        value_parser = ranges::concurrency,
        allow_negative_numbers = true
    )]
    pub sandboxes: Option<usize>,
    /// With an agent CLI: CPU limit of each sandbox in cores: 0.01 to 1024 (e.g. 0.5, 2);
    /// enforced by cgroups where the host allows, as the run header says.
    #[arg(long, value_name = "N", value_parser = warden_sandbox::flags::parse_cpus, allow_negative_numbers = true)]
    pub cpus: Option<f64>,
    /// With an agent CLI: memory limit of each sandbox: 32M to 1024G (e.g. 512M, 2G);
    /// enforced by cgroups (else an rlimit per process) where the host allows, as the run
    /// header says.
    #[arg(long, value_name = "SIZE", value_parser = warden_sandbox::flags::parse_memory, allow_negative_numbers = true)]
    pub memory: Option<u64>,
}
