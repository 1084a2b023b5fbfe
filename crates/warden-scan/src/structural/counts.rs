//! Counts, and the placeholder lists made from them.
//!
//! `count($ids)`, `len(ids)`, `ids.size()` are numbers whatever the collection holds.
//! A list of placeholders made from one (`str_repeat('?,', count($ids))`,
//! `",".join(["?"] * len(ids))`, `String.join(",", Collections.nCopies(ids.size(), "?"))`,
//! `strings.Repeat("?,", len(ids))`) is constant text repeated a counted number of
//! times: pasted into a statement it builds nothing an attacker writes, and the values
//! go to the driver beside it. Without this such a query read as one built from data.

use super::calls::Arg;
use super::flow::Val;

/// Calls that say how many items a collection (or characters a text) holds.
const COUNTS: &[&str] = &[
    "count",
    "len",
    "sizeof",
    "size",
    "length",
    "Count",
    "LongCount",
    "strlen",
    "mb_strlen",
];

/// Calls that repeat, fill, join or trim: what they return is made of their receiver's
/// and arguments' text only.
const SHAPERS: &[&str] = &[
    "str_repeat",
    "repeat",
    "Repeat",
    "nCopies",
    "array_fill",
    "fill",
    "implode",
    "join",
    "Join",
    "rtrim",
    "trim",
    "TrimSuffix",
    "TrimRight",
    "rstrip",
    "strip",
    "chomp",
    "chop",
    "substr",
    "substring",
    "Substring",
    "slice",
];

/// What a call of `method` yields when it is a count (`len(xs)`, `xs.size()`), or
/// shapes constants and counts only (`str_repeat('?,', count($ids))`): a number
/// computed here, or constant text around such numbers (see [`Val::is_local_number`]).
/// `receiver` is the value of the object it is called on, when the analysis knows it.
pub(super) fn counted(
    method: &str,
    has_receiver: bool,
    receiver: Option<&Val>,
    args: &[Arg],
) -> Option<Val> {
    let positional = args.iter().all(|a| a.keyword.is_none());
    if COUNTS.contains(&method) && positional && args.len() == usize::from(!has_receiver) {
        return Some(Val::count());
    }
    if !SHAPERS.contains(&method) {
        return None;
    }
    let parts: Vec<&Val> = receiver
        .into_iter()
        .chain(args.iter().map(|a| &a.val))
        .collect();
    let clean =
        |v: &Val| v.is_local_number() || (!v.nonconst && v.taint.is_none() && v.params == 0);
    (parts.iter().all(|v| clean(v)) && parts.iter().any(|v| v.is_local_number())).then(|| Val {
        stringy: true,
        ..Val::count()
    })
}
