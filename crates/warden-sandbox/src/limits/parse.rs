//! Parsing and checking what the user asks for: sizes, CPU counts and group names.
//!
//! Kept apart from the cgroup code because it is pure (no filesystem, no kernel) and is what the
//! CLI calls before anything is created.

use super::LimitsError;

/// Parse a size: plain bytes (`1048576`), or a number with `K`, `M`, `G` or `T`, optionally
/// followed by `i` and/or `B` (`512M`, `1G`, `1.5GiB`, `64kb`). Units are binary (1K = 1024):
/// memory limits are page-based and this matches docker's and cgroup's own notation.
pub fn parse_size(s: &str) -> Result<u64, LimitsError> {
    let bad = || LimitsError::InvalidSize(s.to_string());
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 10,
        "m" | "mb" | "mi" | "mib" => 20,
        "g" | "gb" | "gi" | "gib" => 30,
        "t" | "tb" | "ti" | "tib" => 40,
        _ => return Err(bad()),
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1
    {
        return Err(bad());
    }
    let bytes = if num.contains('.') {
        let value: f64 = num.parse().map_err(|_| bad())?;
        let bytes = value * (1u64 << shift) as f64;
        // u64::MAX as f64 rounds up to 2^64, so `<` keeps the cast below in range.
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(bad());
        }
        bytes.floor() as u64
    } else {
        let value: u64 = num.parse().map_err(|_| bad())?;
        value.checked_mul(1u64 << shift).ok_or_else(bad)?
    };
    if bytes == 0 {
        return Err(LimitsError::Zero("memory"));
    }
    Ok(bytes)
}

/// Parse a CPU count: `0.5`, `2`, `1.25`. At least 0.01 (the kernel's 1 ms quota per 100 ms).
pub fn parse_cpus(s: &str) -> Result<f64, LimitsError> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| LimitsError::InvalidCpus(s.to_string()))?;
    validate_cpus(v).map_err(|_| LimitsError::InvalidCpus(s.to_string()))
}

pub(super) fn validate_cpus(v: f64) -> Result<f64, LimitsError> {
    if !v.is_finite() || !(0.01..=65_536.0).contains(&v) {
        return Err(LimitsError::InvalidCpus(v.to_string()));
    }
    Ok(v)
}

/// `1073741824` → `1 GiB`, `1610612736` → `1.5 GiB`, `1000` → `1000 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        let unit = 1u64 << shift;
        if bytes >= unit {
            // unit is a power of two: a mask test is the remainder test.
            if bytes & (unit - 1) == 0 {
                return format!("{} {name}", bytes >> shift);
            }
            let v = bytes as f64 / unit as f64;
            return format!("{v:.1} {name}");
        }
    }
    format!("{bytes} B")
}

pub(super) fn validate_name(name: &str) -> Result<(), LimitsError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(LimitsError::InvalidName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("sb-1.2_x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ä"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
