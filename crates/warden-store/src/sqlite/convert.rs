//! Conversions between stored column values and model values.
//!
//! Rows are read as raw columns first and converted here, so a bad stored
//! value becomes `Corrupt` naming the column, and a bad input `InvalidInput`.

use crate::error::StoreError;
use crate::model::*;
use std::path::Path;

pub(crate) fn corrupt(path: &Path, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    }
}

pub(crate) fn invalid(path: &Path, detail: String) -> StoreError {
    StoreError::InvalidInput {
        path: path.to_path_buf(),
        detail,
    }
}

/// An unsigned input as a BIGINT column value.
pub(crate) fn to_i64(path: &Path, what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| invalid(path, format!("{what} {v} is too large to store")))
}

/// A BIGINT column as an unsigned value.
pub(crate) fn to_u64(path: &Path, what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(path, format!("stored {what} {v} is negative")))
}

/// A BIGINT column as a line number.
pub(crate) fn to_u32(path: &Path, what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(path, format!("stored {what} {v} is out of range")))
}

/// A float input that must be finite (NaN cannot be stored or ranked).
pub(crate) fn finite(path: &Path, what: &str, v: f64) -> Result<f64, StoreError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid(
            path,
            format!("{what} must be a finite number, got {v}"),
        ))
    }
}

fn parse<T: Copy>(
    path: &Path,
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
) -> Result<T, StoreError> {
    all.iter().copied().find(|v| name(*v) == s).ok_or_else(|| {
        corrupt(
            path,
            format!("stored {what} `{s}` is not one this warden knows"),
        )
    })
}

pub(crate) fn file_status(path: &Path, s: &str) -> Result<FileStatus, StoreError> {
    use FileStatus::*;
    parse(
        path,
        "file status",
        &[Pending, Processing, Analyzed, Failed, Gone],
        FileStatus::as_str,
        s,
    )
}

pub(crate) fn severity(path: &Path, s: &str) -> Result<Severity, StoreError> {
    parse(path, "severity", &Severity::ALL, Severity::as_str, s)
}

pub(crate) fn confidence(path: &Path, s: &str) -> Result<Confidence, StoreError> {
    use Confidence::*;
    parse(
        path,
        "confidence",
        &[Low, Medium, High],
        Confidence::as_str,
        s,
    )
}

pub(crate) fn verdict(path: &Path, s: &str) -> Result<Verdict, StoreError> {
    use Verdict::*;
    parse(
        path,
        "verdict",
        &[TruePositive, FalsePositive, Uncertain],
        Verdict::as_str,
        s,
    )
}

pub(crate) fn disposition(path: &Path, s: &str) -> Result<Disposition, StoreError> {
    use Disposition::*;
    parse(
        path,
        "disposition",
        &[Open, AcceptedRisk, WontFix],
        Disposition::as_str,
        s,
    )
}

pub(crate) fn session_outcome(path: &Path, s: &str) -> Result<SessionOutcome, StoreError> {
    use SessionOutcome::*;
    parse(
        path,
        "session outcome",
        &[Complete, Incomplete, Failed, Cancelled],
        SessionOutcome::as_str,
        s,
    )
}

/// The stored `tech` JSON array.
pub(crate) fn tech(path: &Path, s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| corrupt(path, format!("stored project tech is not a JSON list: {e}")))
}
