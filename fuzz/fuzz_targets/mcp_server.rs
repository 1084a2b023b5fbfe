//! Warden's MCP report server on arbitrary client input, against a small project.
//!
//! Never a panic, serving ends only at the end of the input, and:
//! - every reply is one line of JSON-RPC 2.0 with an `id` and either a
//!   `result` or an `error`;
//! - every record appended to the findings file is a finding that the host's
//!   `read_findings` accepts again (a regular file inside the root, on lines
//!   that exist).
#![no_main]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use warden_agent::confine::Root;
use warden_agent::mcp::{self, Mode};

const APP: &str = "import os\n\ndef run(p):\n    os.system('ls ' + p)\n    return 1\n";

fn project() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("warden-fuzz-mcp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tree/src")).expect("project dir");
        std::fs::write(dir.join("tree/src/app.py"), APP).expect("app.py");
        let _ = std::os::unix::fs::symlink("/etc/passwd", dir.join("tree/passwd"));
        dir
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&selector, input)) = bytes.split_first() else {
        return;
    };
    let mode = if selector & 1 == 0 {
        Mode::Investigate
    } else {
        Mode::Verdict
    };
    let dir = project();
    let root = dir.join("tree");
    let out = dir.join("out.jsonl");
    let _ = std::fs::remove_file(&out);
    let mut replies = Vec::new();
    mcp::serve(mode, &root, &out, Cursor::new(input), &mut replies).expect("serving in memory");

    let replies = String::from_utf8(replies).expect("replies are UTF-8");
    for line in replies.lines() {
        let v: Value = serde_json::from_str(line).expect("each reply is JSON");
        assert_eq!(v["jsonrpc"], "2.0");
        assert!(v.get("id").is_some());
        assert!(
            v.get("result").is_some() != v.get("error").is_some(),
            "{line}"
        );
    }

    let written = std::fs::read_to_string(&out).unwrap_or_default();
    match mode {
        Mode::Investigate => {
            let back = mcp::read_findings(&Root::new(&root).expect("root"), &written);
            assert!(back.rejected.is_empty(), "{:?}", back.rejected);
            assert_eq!(back.findings.len(), written.lines().count());
        }
        Mode::Verdict => {
            if !written.is_empty() {
                assert!(mcp::read_verdict(&written).is_some());
            }
        }
    }
});
