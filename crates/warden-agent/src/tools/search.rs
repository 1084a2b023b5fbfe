//! `search`: a regex over the project's text files, optionally filtered by a path glob.

use globset::GlobBuilder;
use regex::RegexBuilder;
use serde_json::{json, Value};
use warden_llm::Tool;

use super::{
    clip_line, object_schema, opt_str, opt_u64, read_text, req_str, tool, walk_files, SEARCH,
};
use crate::confine::Root;

/// Default and largest number of matching lines returned.
pub const DEFAULT_RESULTS: usize = 50;
pub const MAX_RESULTS: usize = 200;

pub fn definition() -> Tool {
    tool(
        SEARCH,
        "Search the project's text files for a regular expression (Rust regex syntax), line by line. Optionally filter files with a glob (`*.py`, `src/**/*.ts`) and a directory. Returns `path:line: text` lines.",
        object_schema(
            json!({
                "pattern": {"type": "string", "description": "Regular expression"},
                "glob": {"type": "string", "description": "Only files whose name (pattern without `/`) or relative path matches this glob"},
                "path": {"type": "string", "description": "Directory to search in, relative to the project root; default `.`"},
                "case_insensitive": {"type": "boolean"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS}
            }),
            &["pattern"],
        ),
    )
}

pub fn run(root: &Root, input: &Value) -> Result<String, String> {
    let pattern = req_str(input, "pattern")?;
    let re = RegexBuilder::new(pattern)
        .case_insensitive(input.get("case_insensitive").and_then(Value::as_bool) == Some(true))
        .size_limit(1 << 22)
        .build()
        .map_err(|e| format!("invalid regex: {e}"))?;
    let glob = match opt_str(input, "glob")? {
        Some(g) => {
            let by_path = g.contains('/');
            let m = GlobBuilder::new(g.trim_start_matches("./"))
                .literal_separator(by_path)
                .build()
                .map_err(|e| format!("invalid glob `{g}`: {e}"))?
                .compile_matcher();
            Some((m, by_path))
        }
        None => None,
    };
    let max = opt_u64(input, "max_results")?
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_RESULTS)
        .clamp(1, MAX_RESULTS);
    let rel = opt_str(input, "path")?.unwrap_or(".");
    let dir = root.resolve(rel)?;
    let files = if dir.is_file() {
        vec![dir]
    } else {
        walk_files(&dir)
    };
    let mut out = String::new();
    let mut shown = 0usize;
    let mut more = false;
    'files: for f in files {
        let relpath = root.relative(&f);
        if let Some((m, by_path)) = &glob {
            let ok = if *by_path {
                m.is_match(&relpath)
            } else {
                f.file_name().is_some_and(|n| m.is_match(n))
            };
            if !ok {
                continue;
            }
        }
        let Ok(Some(text)) = read_text(&f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if re.is_match(line) {
                if shown == max {
                    more = true;
                    break 'files;
                }
                out.push_str(&format!(
                    "{relpath}:{}: {}\n",
                    i + 1,
                    clip_line(line.trim_end())
                ));
                shown += 1;
            }
        }
    }
    if shown == 0 {
        return Ok(format!("no matches for `{pattern}`"));
    }
    if more {
        out.push_str(&format!(
            "[stopped after {max} matches; narrow the pattern, glob or path]\n"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::project;

    #[test]
    fn regex_with_glob_and_cap() {
        let (_o, _d, r) = project();
        let out = run(&r, &json!({"pattern": r"def \w+", "glob": "*.py"})).unwrap();
        assert_eq!(
            out,
            "src/app.py:3: def handler(req):\nsrc/db/query.py:1: def execute(sql):\n"
        );
        let out = run(&r, &json!({"pattern": "def", "max_results": 1})).unwrap();
        assert!(out.contains("[stopped after 1 matches"));
        assert!(run(&r, &json!({"pattern": "SECRET"}))
            .unwrap()
            .starts_with("no matches"));
        assert!(run(&r, &json!({"pattern": "("}))
            .unwrap_err()
            .contains("invalid regex"));
        assert!(run(&r, &json!({"pattern": "x", "path": "../.."}))
            .unwrap_err()
            .starts_with("refused"));
        let one = run(
            &r,
            &json!({"pattern": "execute", "path": "src/db/query.py"}),
        )
        .unwrap();
        assert_eq!(one, "src/db/query.py:1: def execute(sql):\n");
    }
}
