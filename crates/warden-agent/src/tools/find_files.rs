//! `find_files`: files whose name (or path) matches a glob.

use globset::GlobBuilder;
use serde_json::{json, Value};
use warden_llm::Tool;

use super::{object_schema, opt_str, req_str, tool, walk_files, FIND_FILES};
use crate::confine::Root;

/// Most paths returned.
pub const MAX_RESULTS: usize = 200;

pub fn definition() -> Tool {
    tool(
        FIND_FILES,
        "Find project files by glob. A pattern without `/` matches file names (`*.py`, `settings*`); with `/` it matches paths relative to the project root (`src/**/*.ts`). Optionally restrict to a directory.",
        object_schema(
            json!({
                "pattern": {"type": "string", "description": "Glob, e.g. `*.py` or `src/**/auth*.ts`"},
                "path": {"type": "string", "description": "Directory to search in, relative to the project root; default `.`"}
            }),
            &["pattern"],
        ),
    )
}

pub fn run(root: &Root, input: &Value) -> Result<String, String> {
    let pattern = req_str(input, "pattern")?;
    let by_path = pattern.contains('/');
    let glob = GlobBuilder::new(pattern.trim_start_matches("./"))
        .literal_separator(by_path)
        .build()
        .map_err(|e| format!("invalid glob `{pattern}`: {e}"))?
        .compile_matcher();
    let rel = opt_str(input, "path")?.unwrap_or(".");
    let dir = root.resolve(rel)?;
    if !dir.is_dir() {
        return Err(format!("`{rel}` is not a directory"));
    }
    let mut found = Vec::new();
    let mut total = 0usize;
    for f in walk_files(&dir) {
        let relpath = root.relative(&f);
        let hit = if by_path {
            glob.is_match(&relpath)
        } else {
            f.file_name().is_some_and(|n| glob.is_match(n))
        };
        if hit {
            total += 1;
            if found.len() < MAX_RESULTS {
                found.push(relpath);
            }
        }
    }
    if total == 0 {
        return Ok(format!("no files match `{pattern}`"));
    }
    let mut out = found.join("\n");
    out.push('\n');
    if total > found.len() {
        out.push_str(&format!(
            "[{} more matches not shown; narrow the pattern]\n",
            total - found.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::project;

    #[test]
    fn finds_by_name_and_path_without_following_links() {
        let (_o, _d, r) = project();
        let out = run(&r, &json!({"pattern": "*.py"})).unwrap();
        assert_eq!(out, "src/app.py\nsrc/db/query.py\n");
        let out = run(&r, &json!({"pattern": "src/db/*.py"})).unwrap();
        assert_eq!(out, "src/db/query.py\n");
        assert!(run(&r, &json!({"pattern": "passwd"}))
            .unwrap()
            .starts_with("no files"));
        assert!(run(&r, &json!({"pattern": "*", "path": "../"}))
            .unwrap_err()
            .starts_with("refused"));
        #[cfg(unix)]
        assert!(run(&r, &json!({"pattern": "*", "path": "linkdir"}))
            .unwrap_err()
            .contains("outside"));
    }
}
