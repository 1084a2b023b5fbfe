//! The agent CLIs' output parsers on arbitrary bytes (Claude Code stream-json,
//! `codex exec --json`, `opencode run --format json`) and the fenced JSON
//! answer on arbitrary text.
//!
//! Never a panic, and:
//! - a run's error message is bounded (the CLI's words, clipped);
//! - a run without an error has a final text only if it is not blank;
//! - lines that are not JSON objects change nothing (the same run with a
//!   garbage line after every line parses the same);
//! - a fenced answer has at most `MAX_RECORDS` objects, each with a `file`
//!   when it had a `path`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_agent::cli_agent::CliKind;
use warden_agent::cli_output::{self, fenced_json_answer, MAX_MESSAGE_CHARS};
use warden_agent::mcp::MAX_RECORDS;
use warden_llm::{Api, Provider, Route};

fuzz_target!(|bytes: &[u8]| {
    let Some((&selector, rest)) = bytes.split_first() else {
        return;
    };
    let kind = CliKind::ALL[usize::from(selector) % 3];
    let provider = Provider::new(
        if selector & 4 == 0 {
            Api::Anthropic
        } else {
            Api::OpenAi
        },
        match (selector >> 3) % 3 {
            0 => Route::Direct,
            1 => Route::Gateway,
            _ => Route::Subscription,
        },
    );
    let run = cli_output::parse(kind, rest, provider);
    if let Some(e) = &run.error {
        assert!(e.message.chars().count() <= MAX_MESSAGE_CHARS + 1, "{e:?}");
    }
    if let Some(t) = &run.final_text {
        assert!(!t.trim().is_empty());
    }

    let mut noisy = Vec::with_capacity(rest.len() * 2);
    for line in rest.split(|b| *b == b'\n') {
        noisy.extend_from_slice(line);
        noisy.extend_from_slice(b"\n[\"not an object\"]\nnot json\n");
    }
    // A last line without a newline may be half an object that the added
    // newline completes or breaks; compare only inputs that end their lines.
    if rest.is_empty() || rest.ends_with(b"\n") {
        assert_eq!(cli_output::parse(kind, &noisy, provider), run);
    }

    let text = String::from_utf8_lossy(rest);
    if let Some(findings) = fenced_json_answer(&text) {
        assert!(findings.len() <= MAX_RECORDS);
        for f in &findings {
            assert!(f.is_object());
            if f.get("path").is_some() {
                assert!(f.get("file").is_some());
            }
        }
    }
});
