//! The read-only tools the model may call, all confined to the scanned root
//! through [`Root`]. A failing call (bad arguments, a refused path) is an
//! error tool result the model can read and act on, never a crash.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use warden_llm::Tool;

use crate::confine::Root;

pub mod find_files;
pub mod list_dir;
pub mod read_file;
pub mod search;

/// Files larger than this are not searched or read in full.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Longest line shown by any tool; longer lines are cut with a marker.
pub const MAX_LINE_CHARS: usize = 400;

/// The answer to one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
        }
    }

    pub fn err(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
        }
    }
}

impl From<Result<String, String>> for ToolOutput {
    fn from(r: Result<String, String>) -> Self {
        match r {
            Ok(s) => Self::ok(s),
            Err(e) => Self::err(e),
        }
    }
}

/// Names of the exploration tools.
pub const READ_FILE: &str = "read_file";
pub const SEARCH: &str = "search";
pub const LIST_DIR: &str = "list_dir";
pub const FIND_FILES: &str = "find_files";

/// The exploration tools' definitions, in a fixed order (stable prompt prefix for caching).
pub fn definitions() -> Vec<Tool> {
    vec![
        read_file::definition(),
        search::definition(),
        list_dir::definition(),
        find_files::definition(),
    ]
}

/// Whether `name` is one of the exploration tools.
pub fn is_exploration(name: &str) -> bool {
    matches!(name, READ_FILE | SEARCH | LIST_DIR | FIND_FILES)
}

/// Runs one exploration tool (blocking file-system work).
pub fn run(root: &Root, name: &str, input: &Value) -> ToolOutput {
    if !input.is_object() {
        return ToolOutput::err("invalid arguments: expected a JSON object");
    }
    let r = match name {
        READ_FILE => read_file::run(root, input),
        SEARCH => search::run(root, input),
        LIST_DIR => list_dir::run(root, input),
        FIND_FILES => find_files::run(root, input),
        other => Err(format!("unknown tool `{other}`")),
    };
    r.into()
}

pub(crate) fn tool(name: &str, description: &str, schema: Value) -> Tool {
    Tool {
        name: name.into(),
        description: description.into(),
        input_schema: schema,
    }
}

/// A required string argument.
pub(crate) fn req_str<'a>(input: &'a Value, key: &str) -> Result<&'a str, String> {
    match input.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("invalid arguments: `{key}` must be a string")),
        None => Err(format!("invalid arguments: `{key}` is required")),
    }
}

/// An optional string argument.
pub(crate) fn opt_str<'a>(input: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("invalid arguments: `{key}` must be a string")),
    }
}

/// An optional positive integer argument (accepts integral numbers and numeric strings).
pub(crate) fn opt_u64(input: &Value, key: &str) -> Result<Option<u64>, String> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_u64(v)
            .map(Some)
            .ok_or_else(|| format!("invalid arguments: `{key}` must be a positive integer")),
    }
}

pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Cuts a line to [`MAX_LINE_CHARS`] characters.
pub(crate) fn clip_line(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((i, _)) => format!("{}… [line cut]", &line[..i]),
        None => line.to_string(),
    }
}

/// Reads a text file inside the root; `None` for binary or oversized files.
pub(crate) fn read_text(path: &Path) -> Result<Option<String>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Regular files under `dir` (inside the root), not following symlinks,
/// honouring `.gitignore`, skipping `.git`. Sorted for stable output.
pub(crate) fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

/// A JSON-schema object with the given properties and required keys.
pub(crate) fn object_schema(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::fs;

    /// A project with a few files, and an outside directory linked into it.
    pub fn project() -> (tempfile::TempDir, tempfile::TempDir, Root) {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("passwd"), "root:x:0:0:SECRET\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        fs::create_dir_all(p.join("src/db")).unwrap();
        fs::write(
            p.join("src/app.py"),
            "import os\n\ndef handler(req):\n    q = req.args['q']\n    return db.execute(\"SELECT * FROM t WHERE x = '\" + q + \"'\")\n",
        )
        .unwrap();
        fs::write(p.join("src/db/query.py"), "def execute(sql):\n    pass\n").unwrap();
        fs::write(p.join("README.md"), "hello\n").unwrap();
        fs::write(p.join("blob.bin"), [0u8, 1, 2, 3]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(outside.path(), p.join("linkdir")).unwrap();
            symlink(outside.path().join("passwd"), p.join("linkfile")).unwrap();
        }
        let r = Root::new(p).unwrap();
        (outside, root, r)
    }
}
