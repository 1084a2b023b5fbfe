//! The range of every numeric flag outside `sandbox`, checked while the command line is
//! parsed, so a value out of range is a usage error naming the flag (clap adds the flag)
//! before anything runs. The `--help` text of each flag states its range; the README's
//! "Numeric flags" table lists them all.

use std::ops::RangeInclusive;

/// `scan --threads`: 0 means one per CPU.
pub const THREADS: RangeInclusive<u64> = 0..=256;
/// `scan --limit`, `process --limit`, `revalidate --limit`.
pub const LIMIT: RangeInclusive<u64> = 1..=10_000_000;
/// `scan --top`.
pub const TOP: RangeInclusive<u64> = 0..=10_000;
/// `--concurrency` and `--sandboxes` of `process` and `revalidate`.
pub const CONCURRENCY: RangeInclusive<u64> = 1..=64;
/// `process --batch-size`.
pub const BATCH_SIZE: RangeInclusive<u64> = 1..=8;
/// `process --lease-secs`.
pub const LEASE_SECS: RangeInclusive<u64> = 1..=604_800;
/// `scan --max-file-size`, in bytes (a file is read whole into memory).
pub const MAX_FILE_SIZE: RangeInclusive<u64> = 1..=1 << 30;
/// `scan --min-score`.
pub const MIN_SCORE: RangeInclusive<f64> = 0.0..=1_000_000.0;
/// `worker --poll`, in seconds.
pub const POLL_SECS: RangeInclusive<u64> = 1..=3600;
/// `scan --upload-max`, in bytes: the most a tree may weigh to travel as blobs in the store.
pub const UPLOAD_MAX: RangeInclusive<u64> = 1..=16 << 30;
/// `process --max-cost`, in USD; zero would stop before the first file.
pub const MAX_COST: RangeInclusive<f64> = 0.000_001..=1_000_000.0;

/// Every numeric flag: (subcommand, flag, range as its help states it, default). Those of
/// `sandbox` are checked by `warden_sandbox::flags`. The README's "Numeric flags" table
/// lists the same rows; a test checks both.
pub const FLAGS: &[(&str, &str, &str, &str)] = &[
    ("scan", "--threads", "0 to 256", "0 (one per CPU)"),
    ("scan", "--limit", "1 to 10000000", "none"),
    ("scan", "--top", "0 to 10000", "10"),
    ("scan", "--max-file-size", "1 byte to 1G", "1M"),
    ("scan", "--min-score", "0 to 1000000", "3"),
    ("scan", "--upload-max", "1 byte to 16G", "256M"),
    ("process", "--limit", "1 to 10000000", "none"),
    ("process", "--concurrency", "1 to 64", "4"),
    ("process", "--sandboxes", "1 to 64", "--concurrency, else 4"),
    ("process", "--cpus", "0.01 to 1024", "no limit"),
    ("process", "--memory", "32M to 1024G", "no limit"),
    (
        "process",
        "--max-cost",
        "more than 0, at most 1000000",
        "none",
    ),
    ("process", "--batch-size", "1 to 8", "1"),
    ("revalidate", "--limit", "1 to 10000000", "none"),
    ("revalidate", "--concurrency", "1 to 64", "4"),
    (
        "revalidate",
        "--sandboxes",
        "1 to 64",
        "--concurrency, else 4",
    ),
    ("revalidate", "--cpus", "0.01 to 1024", "no limit"),
    ("revalidate", "--memory", "32M to 1024G", "no limit"),
    ("worker", "--concurrency", "1 to 64", "4"),
    ("worker", "--sandboxes", "1 to 64", "--concurrency, else 4"),
    ("worker", "--cpus", "0.01 to 1024", "no limit"),
    ("worker", "--memory", "32M to 1024G", "no limit"),
    (
        "worker",
        "--max-cost",
        "more than 0, at most 1000000",
        "none",
    ),
    ("worker", "--poll", "1 to 3600", "10"),
    ("sandbox create", "--timeout", "1s to 30d", "1h"),
    ("sandbox create", "--port", "1-65535", "none"),
    ("sandbox create", "--cpus", "0.01 to 1024", "no limit"),
    ("sandbox create", "--memory", "32M to 1024G", "no limit"),
    ("sandbox create", "--pids", "16 to 4194304", "no limit"),
    ("sandbox run", "--timeout", "1s to 30d", "1h"),
    ("sandbox exec", "--timeout", "100ms to 30d", "none"),
];

fn integer(s: &str, range: &RangeInclusive<u64>) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} is out of range (allowed: {} to {})",
            range.start(),
            range.end()
        ))
    }
}

fn to_usize(n: u64) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("{n} is too large"))
}

fn number(s: &str, range: &RangeInclusive<f64>) -> Result<f64, String> {
    let n: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if n.is_finite() && range.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "`{s}` is out of range (allowed: {} to {})",
            range.start(),
            range.end()
        ))
    }
}

pub fn threads(s: &str) -> Result<usize, String> {
    integer(s, &THREADS).and_then(to_usize)
}

pub fn limit(s: &str) -> Result<usize, String> {
    integer(s, &LIMIT).and_then(to_usize)
}

pub fn top(s: &str) -> Result<usize, String> {
    integer(s, &TOP).and_then(to_usize)
}

pub fn concurrency(s: &str) -> Result<usize, String> {
    integer(s, &CONCURRENCY).and_then(to_usize)
}

pub fn batch_size(s: &str) -> Result<usize, String> {
    integer(s, &BATCH_SIZE).and_then(to_usize)
}

pub fn lease_secs(s: &str) -> Result<u64, String> {
    integer(s, &LEASE_SECS)
}

pub fn poll_secs(s: &str) -> Result<u64, String> {
    integer(s, &POLL_SECS)
}

pub fn min_score(s: &str) -> Result<f64, String> {
    number(s, &MIN_SCORE)
}

pub fn max_cost(s: &str) -> Result<f64, String> {
    number(s, &MAX_COST)
}

/// `1048576`, `512K`, `1M`, `2G` (binary units), within [`MAX_FILE_SIZE`].
pub fn upload_max(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if UPLOAD_MAX.contains(&n) {
        Ok(n)
    } else {
        Err(format!("`{s}` is out of range (allowed: 1 byte to 16G)"))
    }
}

pub fn max_file_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if MAX_FILE_SIZE.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "`{s}` is out of range (allowed: 1 byte to {} bytes, 1G)",
            MAX_FILE_SIZE.end()
        ))
    }
}

/// Parses `1048576`, `512K`, `1M`, `2G` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        // A unit after a number; `lots` is no number with unit `s`.
        Some((i, c)) if c.is_ascii_alphabetic() && t[..i].trim().parse::<u64>().is_ok() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("`{s}`: unknown unit `{c}` (use K, M or G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 1048576, 512K, 1M)"))?;
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("`{s}` must be a positive size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("1T").unwrap_err().contains("unit `T`"));
        assert!(max_file_size("2G").unwrap_err().contains("out of range"));
        assert_eq!(max_file_size("1G"), Ok(1 << 30));
    }

    #[test]
    fn bounds_are_inclusive_and_named() {
        assert_eq!(threads("0"), Ok(0));
        assert_eq!(threads("256"), Ok(256));
        assert!(threads("257").unwrap_err().contains("0 to 256"));
        assert!(threads("100000").unwrap_err().contains("out of range"));
        assert!(threads("-1").unwrap_err().contains("not a whole number"));
        assert!(concurrency("0").is_err());
        assert!(limit("0").is_err());
        assert_eq!(limit("1"), Ok(1));
        assert!(min_score("NaN").is_err());
        assert!(min_score("inf").is_err());
        assert!(min_score("-1").is_err());
        assert_eq!(min_score("2.5"), Ok(2.5));
        assert!(max_cost("0").is_err());
        assert_eq!(max_cost("0.5"), Ok(0.5));
        assert!(lease_secs("0").is_err());
    }
}
