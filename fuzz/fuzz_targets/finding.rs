//! What a model streams back, on arbitrary input: tool calls assembled by the
//! stream accumulator from arbitrary event sequences, and `report_finding`
//! arguments checked by the finding validator against a small project (with
//! symlinks out of it, an empty file, a binary file and a directory).
//!
//! Never a panic, and:
//! - an accumulated response's tool inputs are JSON objects and its usage fits;
//! - a report streamed in arbitrary fragments parses to the report itself;
//! - a finding that passes validation names a regular file inside the root, by a
//!   relative path without `..`, on lines that exist, under `title_of`'s title.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use warden_agent::confine::Root;
use warden_agent::finding::{title_of, validate};
use warden_llm::{Accumulator, ContentBlock, Event, StopReason, Usage, MAX_CALL_TOKENS};

const APP: &str = "import os\n\ndef run(p):\n    os.system('ls ' + p)\n    return 1\n";

/// The project every report is checked against, made once per fuzzing process.
fn project() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("warden-fuzz-finding-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).expect("project dir");
        std::fs::write(dir.join("src/app.py"), APP).expect("app.py");
        std::fs::write(dir.join("empty.txt"), "").expect("empty.txt");
        std::fs::write(dir.join("bin.dat"), b"\x00\x01\x02binary\x00").expect("bin.dat");
        let _ = std::os::unix::fs::symlink("/etc", dir.join("out"));
        let _ = std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd"));
        let _ = std::os::unix::fs::symlink("src/app.py", dir.join("inside.py"));
        Root::new(&dir).expect("root")
    })
}

/// Reads the fuzzer's bytes as choices.
struct Choices<'a> {
    bytes: std::slice::Iter<'a, u8>,
    pool: &'a [String],
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        self.bytes.next().copied().unwrap_or(0)
    }

    fn text(&mut self) -> String {
        let i = usize::from(self.byte());
        if self.pool.is_empty() {
            String::new()
        } else {
            self.pool[i % self.pool.len()].clone()
        }
    }

    /// Mostly one of `usual`, sometimes anything from the pool.
    fn one_of(&mut self, usual: &[&str]) -> Value {
        let b = usize::from(self.byte());
        match usual.get(b % (usual.len() + 1)) {
            Some(s) => Value::String((*s).to_string()),
            None => Value::String(self.text()),
        }
    }

    fn number(&mut self) -> Value {
        match self.byte() % 8 {
            0 => json!(u64::from(self.byte())),
            1 => json!(-i64::from(self.byte())),
            2 => json!(f64::from(self.byte()) / 2.0),
            3 => json!(u64::MAX),
            4 => json!(u64::from(u32::MAX) + 1),
            5 => Value::String(format!(" {} ", self.byte())),
            6 => Value::Null,
            _ => json!(1 + u64::from(self.byte() % 6)),
        }
    }

    fn count(&mut self) -> u64 {
        match self.byte() % 4 {
            0 => u64::MAX,
            1 => MAX_CALL_TOKENS + u64::from(self.byte()),
            _ => u64::from(self.byte()) * 1000,
        }
    }
}

fn arbitrary_events(c: &mut Choices) -> Vec<Event> {
    let mut out = Vec::new();
    while c.bytes.len() > 0 && out.len() < 64 {
        let op = c.byte();
        let index = usize::from(c.byte() % 4);
        out.push(match op % 8 {
            0 => Event::MessageStart {
                id: c.text(),
                model: c.text(),
            },
            1 => Event::TextStart { index },
            2 => Event::TextDelta {
                index,
                text: c.text(),
            },
            3 => Event::ToolUseStart {
                index,
                id: c.text(),
                name: c.text(),
            },
            4 => Event::ToolInputDelta {
                index,
                partial_json: c.text(),
            },
            5 => Event::BlockStop { index },
            6 => Event::Usage(Usage {
                input: c.count(),
                output: c.count(),
                cache_write: c.count(),
                cache_read: c.count(),
                reasoning: c.count(),
            }),
            _ => Event::MessageStop {
                stop_reason: StopReason::ToolUse,
            },
        });
    }
    out
}

fn report(c: &mut Choices) -> Value {
    let mut r = json!({
        "title": c.one_of(&["SQL injection", "  padded title  ", "", "(untitled)"]),
        "severity": c.one_of(&["critical", "High", "medium", "low", "info", "severe"]),
        "confidence": c.one_of(&["high", "Moderate", "low", "sure"]),
        "file": c.one_of(&[
            "src/app.py", "./src/app.py", "inside.py", "passwd", "out/passwd", "../x",
            "/etc/passwd", "src", "empty.txt", "bin.dat", "src/../src/app.py", "src/app.py\u{0}",
        ]),
        "start_line": c.number(),
        "end_line": c.number(),
        "description": c.one_of(&["d", " "]),
        "attack_path": c.one_of(&["GET /?q="]),
        "recommendation": c.one_of(&["bind parameters"]),
    });
    for key in ["cwe", "category", "rule_id", "patch"] {
        if c.byte() % 2 == 0 {
            r[key] = c.one_of(&["89", "cwe 79", "CWE_22", ""]);
        }
    }
    if c.byte() % 16 == 0 {
        let key = ["title", "file", "start_line", "severity"][usize::from(c.byte() % 4)];
        r[key] = json!([1, {"x": null}]);
    }
    r
}

fn check_report(input: &Value) {
    let title = title_of(input);
    assert!(!title.is_empty());
    assert_eq!(title, title.trim());
    let root = project();
    let Ok(f) = validate(root, input) else { return };
    assert_eq!(f.title, title, "validated title and title_of agree");
    assert!(1 <= f.start_line && f.start_line <= f.end_line, "{f:?}");
    assert!(
        !f.path.starts_with('/') && !f.path.split('/').any(|c| c == ".." || c.is_empty()),
        "{:?}",
        f.path
    );
    let full = root.path().join(&f.path);
    let real = full.canonicalize().expect("the finding's file exists");
    assert!(
        real.starts_with(root.path()),
        "{real:?} is outside the root"
    );
    assert!(real.is_file(), "{real:?}");
    let lines = std::fs::read_to_string(&real)
        .expect("text")
        .lines()
        .count();
    assert!(f.end_line as usize <= lines, "{f:?} past {lines} lines");
}

/// Cuts `text` at the given fractions, on character boundaries.
fn fragments<'t>(text: &'t str, cuts: &[u8]) -> Vec<&'t str> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| usize::from(*c) * text.len() / 255)
        .map(|mut i| {
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        })
        .collect();
    at.sort_unstable();
    at.push(text.len());
    let mut out = Vec::new();
    let mut start = 0;
    for end in at {
        out.push(&text[start..end]);
        start = end;
    }
    out
}

fuzz_target!(|input: (Vec<u8>, Vec<String>, Vec<u8>)| {
    let (bytes, pool, cuts) = input;
    let mut c = Choices {
        bytes: bytes.iter(),
        pool: &pool,
    };

    // Arbitrary event sequences: finish() never panics, and what it accepts is sound.
    let mut acc = Accumulator::new();
    for ev in arbitrary_events(&mut c) {
        acc.push(ev);
    }
    if let Ok(resp) = acc.finish() {
        let u = resp.usage;
        for n in [u.input, u.output, u.cache_write, u.cache_read, u.reasoning] {
            assert!(n <= MAX_CALL_TOKENS);
        }
        for block in &resp.content {
            if let ContentBlock::ToolUse { input, .. } = block {
                assert!(input.is_object(), "{input}");
                check_report(input);
            }
        }
    }

    // A report streamed in pieces is the report; the validator's verdict on it is sound.
    let mut c = Choices {
        bytes: bytes.iter(),
        pool: &pool,
    };
    let report = report(&mut c);
    let text = report.to_string();
    let mut acc = Accumulator::new();
    acc.push(Event::ToolUseStart {
        index: 0,
        id: "toolu_1".into(),
        name: "report_finding".into(),
    });
    for piece in fragments(&text, &cuts) {
        acc.push(Event::ToolInputDelta {
            index: 0,
            partial_json: piece.to_string(),
        });
    }
    acc.push(Event::BlockStop { index: 0 });
    acc.push(Event::MessageStop {
        stop_reason: StopReason::ToolUse,
    });
    let resp = acc
        .finish()
        .expect("a JSON object streamed in pieces parses");
    match resp.content.as_slice() {
        [ContentBlock::ToolUse { input, .. }] => assert_eq!(input, &report),
        other => panic!("{other:?}"),
    }
    check_report(&report);
});
