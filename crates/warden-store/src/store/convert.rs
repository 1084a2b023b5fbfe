//! Conversions between stored column values and model values.
//!
//! Rows are read as raw columns first and converted here, so a bad stored
//! value becomes `Corrupt` naming the column, and a bad input `InvalidInput`.

use crate::error::StoreError;
use crate::location::StoreName;
use crate::model::*;

pub(crate) fn corrupt(store: &StoreName, detail: String) -> StoreError {
    StoreError::Corrupt {
        store: store.clone(),
        detail,
    }
}

pub(crate) fn invalid(store: &StoreName, detail: String) -> StoreError {
    StoreError::InvalidInput {
        store: store.clone(),
        detail,
    }
}

/// An unsigned input as a BIGINT column value.
pub(crate) fn to_i64(store: &StoreName, what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| invalid(store, format!("{what} {v} is too large to store")))
}

/// A BIGINT column as an unsigned value.
pub(crate) fn to_u64(store: &StoreName, what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(store, format!("stored {what} {v} is negative")))
}

/// A BIGINT column as a line number.
pub(crate) fn to_u32(store: &StoreName, what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(store, format!("stored {what} {v} is out of range")))
}

/// A float input that must be finite (NaN cannot be stored or ranked).
pub(crate) fn finite(store: &StoreName, what: &str, v: f64) -> Result<f64, StoreError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid(
            store,
            format!("{what} must be a finite number, got {v}"),
        ))
    }
}

fn parse<T: Copy>(
    store: &StoreName,
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
) -> Result<T, StoreError> {
    all.iter().copied().find(|v| name(*v) == s).ok_or_else(|| {
        corrupt(
            store,
            format!("stored {what} `{s}` is not one this warden knows"),
        )
    })
}

pub(crate) fn file_status(store: &StoreName, s: &str) -> Result<FileStatus, StoreError> {
    use FileStatus::*;
    parse(
        store,
        "file status",
        &[Pending, Processing, Analyzed, Failed, Gone],
        FileStatus::as_str,
        s,
    )
}

pub(crate) fn severity(store: &StoreName, s: &str) -> Result<Severity, StoreError> {
    parse(store, "severity", &Severity::ALL, Severity::as_str, s)
}

pub(crate) fn confidence(store: &StoreName, s: &str) -> Result<Confidence, StoreError> {
    use Confidence::*;
    parse(
        store,
        "confidence",
        &[Low, Medium, High],
        Confidence::as_str,
        s,
    )
}

pub(crate) fn verdict(store: &StoreName, s: &str) -> Result<Verdict, StoreError> {
    use Verdict::*;
    parse(
        store,
        "verdict",
        &[TruePositive, FalsePositive, Uncertain],
        Verdict::as_str,
        s,
    )
}

pub(crate) fn disposition(store: &StoreName, s: &str) -> Result<Disposition, StoreError> {
    use Disposition::*;
    parse(
        store,
        "disposition",
        &[Open, AcceptedRisk, WontFix],
        Disposition::as_str,
        s,
    )
}

pub(crate) fn run_kind(store: &StoreName, s: &str) -> Result<RunKind, StoreError> {
    use RunKind::*;
    parse(
        store,
        "run kind",
        &[Scan, Process, Revalidate, Triage],
        RunKind::as_str,
        s,
    )
}

pub(crate) fn run_status(store: &StoreName, s: &str) -> Result<RunStatus, StoreError> {
    use RunStatus::*;
    parse(
        store,
        "run status",
        &[Running, Done, Stopped, Failed],
        RunStatus::as_str,
        s,
    )
}

pub(crate) fn session_outcome(store: &StoreName, s: &str) -> Result<SessionOutcome, StoreError> {
    use SessionOutcome::*;
    parse(
        store,
        "session outcome",
        &[Complete, Incomplete, Failed, Cancelled],
        SessionOutcome::as_str,
        s,
    )
}

/// The stored `tech` JSON array.
pub(crate) fn tech(store: &StoreName, s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| {
        corrupt(
            store,
            format!("stored project tech is not a JSON list: {e}"),
        )
    })
}
