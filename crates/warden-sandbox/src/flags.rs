//! The bounds of `warden sandbox`'s numeric flags, checked while the command line is
//! parsed (clap `value_parser`s), so a bad value is refused naming its flag before
//! anything starts. Each range is also stated in the flag's `--help`.

use crate::limits::parse_size;
use crate::spec::parse_duration;
use std::time::Duration;

/// A parsed `--timeout`: `None` is `none` (no deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Option<Duration>);

const DAY: Duration = Duration::from_secs(86_400);

/// `create`/`run --timeout`: 1s to 30d, or none.
pub fn parse_sandbox_timeout(text: &str) -> Result<Deadline, String> {
    bounded_duration(text, Duration::from_secs(1), "1s", 30 * DAY, "30d")
}

/// `exec --timeout`: 100ms to 30d, or none.
pub fn parse_exec_timeout(text: &str) -> Result<Deadline, String> {
    bounded_duration(text, Duration::from_millis(100), "100ms", 30 * DAY, "30d")
}

fn bounded_duration(
    text: &str,
    min: Duration,
    min_text: &str,
    max: Duration,
    max_text: &str,
) -> Result<Deadline, String> {
    match parse_duration(text).map_err(|e| e.to_string())? {
        Some(d) if d < min => Err(format!(
            "{text:?} is too short: give {min_text} to {max_text}, or none"
        )),
        Some(d) if d > max => Err(format!(
            "{text:?} is too long: give {min_text} to {max_text}, or none"
        )),
        // Only the word means no deadline: `0s` is a typo for a deadline, not "never".
        None if !text.trim().eq_ignore_ascii_case("none") => Err(format!(
            "{text:?} is too short: give {min_text} to {max_text}, or none"
        )),
        d => Ok(Deadline(d)),
    }
}

/// `--port`: 1-65535 (0 would be "any port", which no process inside can be listening on).
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u64>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(format!(
            "{text:?}: give the port (1-65535) a process in the sandbox listens on"
        )),
    }
}

/// Bounds of `--cpus`: a cgroup quota below 1% of a core is refused by the kernel.
pub const CPUS_RANGE: (f64, f64) = (0.01, 1024.0);

pub fn parse_cpus(text: &str) -> Result<f64, String> {
    let (min, max) = CPUS_RANGE;
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|c| c.is_finite() && (min..=max).contains(c))
        .ok_or_else(|| {
            format!("{text:?}: give a number of cores from {min} to {max}, e.g. 0.5 or 2")
        })
}

/// Bounds of `--memory`: below the minimum the sandbox's own init cannot start, so
/// every `create` would fail with nothing but "the sandbox failed to start".
pub const MEMORY_RANGE: (u64, u64) = (32 << 20, 1024 << 30);

pub fn parse_memory(text: &str) -> Result<u64, String> {
    let (min, max) = MEMORY_RANGE;
    let bytes = parse_size(text).map_err(|e| e.to_string())?;
    if !(min..=max).contains(&bytes) {
        return Err(format!(
            "{text:?}: give 32M to 1024G (a sandbox needs at least 32M to start)"
        ));
    }
    Ok(bytes)
}

/// Bounds of `--pids`: the sandbox's own init, its threads and an exec take about ten; the maximum is the
/// kernel's own limit.
pub const PIDS_RANGE: (u64, u64) = (16, 4_194_304);

pub fn parse_pids(text: &str) -> Result<u64, String> {
    let (min, max) = PIDS_RANGE;
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{text:?}: give a process count from {min} to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_flags_have_ranges() {
        assert_eq!(parse_port("8080"), Ok(8080));
        for bad in ["0", "65536", "-1", "http", ""] {
            assert!(parse_port(bad).unwrap_err().contains("1-65535"), "{bad}");
        }
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        for bad in ["0", "0.001", "1025", "NaN", "inf", "-1", "two"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_memory("512M"), Ok(512 << 20));
        for bad in ["1K", "31M", "1025G", "0", "lots"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pids("64"), Ok(64));
        for bad in ["0", "15", "4194305", "18446744073709551616", "-3"] {
            assert!(parse_pids(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_sandbox_timeout("none"), Ok(Deadline(None)));
        assert_eq!(
            parse_exec_timeout("500ms"),
            Ok(Deadline(Some(Duration::from_millis(500))))
        );
        for bad in ["500ms", "31d", "18446744073709551615s", "soon"] {
            assert!(parse_sandbox_timeout(bad).is_err(), "{bad}");
        }
        assert!(parse_exec_timeout("10ms").is_err());
    }
}
