//! `list_dir`: the entries of one directory inside the root.

use serde_json::{json, Value};
use warden_llm::Tool;

use super::{object_schema, opt_str, tool, LIST_DIR};
use crate::confine::Root;

/// Most entries listed.
pub const MAX_ENTRIES: usize = 500;

pub fn definition() -> Tool {
    tool(
        LIST_DIR,
        "List a directory of the project (default: the project root). Directories end with `/`; symlinks are marked and not followed.",
        object_schema(
            json!({"path": {"type": "string", "description": "Directory relative to the project root; default `.`"}}),
            &[],
        ),
    )
}

pub fn run(root: &Root, input: &Value) -> Result<String, String> {
    let rel = opt_str(input, "path")?.unwrap_or(".");
    let dir = root.resolve(rel)?;
    if !dir.is_dir() {
        return Err(format!("`{rel}` is not a directory"));
    }
    let mut entries: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list `{rel}`: {e}"))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != ".git")
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            match e.file_type() {
                Ok(t) if t.is_symlink() => format!("{name}@ (symlink)"),
                Ok(t) if t.is_dir() => format!("{name}/"),
                _ => name,
            }
        })
        .collect();
    entries.sort();
    let total = entries.len();
    let mut out = format!("{}/ ({total} entries)\n", root.relative(&dir));
    for e in entries.iter().take(MAX_ENTRIES) {
        out.push_str(e);
        out.push('\n');
    }
    if total > MAX_ENTRIES {
        out.push_str(&format!(
            "[{} more entries not shown; use find_files]\n",
            total - MAX_ENTRIES
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::project;

    #[test]
    fn lists_inside_and_refuses_outside() {
        let (_o, _d, r) = project();
        let out = run(&r, &json!({})).unwrap();
        assert!(
            out.contains("src/\n") && out.contains("README.md\n"),
            "{out}"
        );
        #[cfg(unix)]
        assert!(out.contains("linkdir@ (symlink)"));
        assert!(run(&r, &json!({"path": "src/db"}))
            .unwrap()
            .contains("query.py"));
        assert!(run(&r, &json!({"path": ".."}))
            .unwrap_err()
            .starts_with("refused"));
        assert!(run(&r, &json!({"path": "/etc"}))
            .unwrap_err()
            .starts_with("refused"));
        #[cfg(unix)]
        assert!(run(&r, &json!({"path": "linkdir"}))
            .unwrap_err()
            .contains("outside"));
    }
}
