//! What the file's callers pass to a function: a helper that formats into a pointer
//! parameter (`static void format_item(const struct item *it, char *line)`) writes
//! into whichever buffer each call hands it (`char line[43]; format_item(it, line);`).

use super::func::Func;
use super::syntax::{call, path_of};
use crate::structural::fields::Fields;

/// Bytes of the smallest fixed-size array the file's callers pass as the pointer
/// parameter `param` of `f`, when every call of `f` in the file passes one (and there is
/// at least one); `None` when a caller passes anything else or `f` is not called here.
pub(crate) fn passed_array_bytes(f: &Func, param: &str) -> Option<i64> {
    let at = f
        .params
        .iter()
        .position(|(p, t)| p == param && t.contains('*'))?;
    if f.name.is_empty() {
        return None;
    }
    let src = f.src;
    let mut smallest: Option<i64> = None;
    for &g in &f.file.functions {
        let calls: Vec<_> = f
            .file
            .body_nodes(g)
            .iter()
            .copied()
            .filter(|&n| call(src, n).is_some_and(|(c, _)| c == f.name))
            .collect();
        if calls.is_empty() {
            continue;
        }
        // The caller's own arrays: built only for a function that calls `f`.
        let caller = Func::new(f.file, g);
        if caller.name == f.name {
            return None;
        }
        for n in calls {
            let arg = n
                .field("arguments")
                .and_then(|a| a.named_child(u32::try_from(at).ok()?))?;
            let bytes = path_of(src, arg).and_then(|p| caller.array_bytes(&p))?;
            smallest = Some(smallest.map_or(bytes, |s: i64| s.min(bytes)));
        }
    }
    smallest
}
