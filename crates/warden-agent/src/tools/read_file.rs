//! `read_file`: a whole file or a 1-based line range, numbered, capped.

use serde_json::{json, Value};
use warden_llm::Tool;

use super::{clip_line, object_schema, opt_u64, read_text, req_str, tool, READ_FILE};
use crate::confine::Root;

/// Most lines returned by one call.
pub const MAX_LINES: usize = 800;
/// Most characters returned by one call.
pub const MAX_CHARS: usize = 60_000;

pub fn definition() -> Tool {
    tool(
        READ_FILE,
        "Read a text file of the project, with line numbers. Give `path` relative to the project root; optionally `start_line` and `end_line` (1-based, inclusive) to read a range. Long output is cut; read further with a range.",
        object_schema(
            json!({
                "path": {"type": "string", "description": "File path relative to the project root"},
                "start_line": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer", "minimum": 1}
            }),
            &["path"],
        ),
    )
}

pub fn run(root: &Root, input: &Value) -> Result<String, String> {
    let rel = req_str(input, "path")?;
    let path = root.resolve(rel)?;
    if !path.is_file() {
        return Err(format!(
            "`{rel}` is not a regular file (use list_dir for directories)"
        ));
    }
    let text = read_text(&path)?.ok_or_else(|| {
        format!("`{rel}` is a binary file or larger than 2 MiB; it cannot be read as text")
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    if total == 0 {
        return Ok(format!("{}: empty file", root.relative(&path)));
    }
    let start = opt_u64(input, "start_line")?.unwrap_or(1).max(1) as usize;
    let end = opt_u64(input, "end_line")?
        .map(|e| e as usize)
        .unwrap_or(total)
        .min(total);
    if start > total {
        return Err(format!(
            "start_line {start} is past the end of the file ({total} lines)"
        ));
    }
    if end < start {
        return Err(format!("end_line {end} is before start_line {start}"));
    }
    let mut out = format!("{} ({total} lines)\n", root.relative(&path));
    let mut last = start - 1;
    for (i, line) in lines[start - 1..end].iter().enumerate() {
        let n = start + i;
        if n - start >= MAX_LINES || out.len() >= MAX_CHARS {
            break;
        }
        out.push_str(&format!("{n:>6}\t{}\n", clip_line(line)));
        last = n;
    }
    if last < end {
        out.push_str(&format!(
            "[output cut at line {last}; read lines {}-{end} with start_line/end_line]\n",
            last + 1
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::project;

    #[test]
    fn whole_file_and_range() {
        let (_o, _d, r) = project();
        let all = run(&r, &json!({"path": "src/app.py"})).unwrap();
        assert!(all.starts_with("src/app.py (5 lines)"));
        assert!(all.contains("     4\t    q = req.args['q']"));
        let range = run(
            &r,
            &json!({"path": "./src/app.py", "start_line": 3, "end_line": 4}),
        )
        .unwrap();
        assert!(range.contains("     3\tdef handler"));
        assert!(!range.contains("import os"));
        assert!(run(&r, &json!({"path": "src/app.py", "start_line": 9})).is_err());
    }

    #[test]
    fn long_files_are_cut_with_a_note() {
        let (_o, d, r) = project();
        let big: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(d.path().join("big.txt"), big).unwrap();
        let out = run(&r, &json!({"path": "big.txt"})).unwrap();
        assert!(out.contains(&format!(
            "[output cut at line {MAX_LINES}; read lines {}-2000",
            MAX_LINES + 1
        )));
    }

    #[test]
    fn escapes_binaries_and_dirs_are_errors() {
        let (_o, _d, r) = project();
        for bad in ["../../etc/passwd", "/etc/passwd", "../x"] {
            let e = run(&r, &json!({"path": bad})).unwrap_err();
            assert!(e.starts_with("refused"), "{bad}: {e}");
        }
        #[cfg(unix)]
        for bad in ["linkfile", "linkdir/passwd"] {
            let e = run(&r, &json!({"path": bad})).unwrap_err();
            assert!(e.contains("outside the project root"), "{bad}: {e}");
            assert!(!e.contains("SECRET"));
        }
        assert!(run(&r, &json!({"path": "blob.bin"}))
            .unwrap_err()
            .contains("binary"));
        assert!(run(&r, &json!({"path": "src"}))
            .unwrap_err()
            .contains("not a regular file"));
        assert!(run(&r, &json!({})).unwrap_err().contains("required"));
    }
}
