//! The CLI output parsers on real outputs of Claude Code, Codex and OpenCode,
//! recorded against the mock LLM by `cli_claude.rs`, `cli_codex.rs` and
//! `cli_opencode.rs` (`WARDEN_RECORD_CLI_FIXTURES=1`); the versions are in the
//! file names. The scripted usage there is: calls of 1200/1500/1700/1800 input
//! tokens, 40/90/95/12 output tokens, a 300-token cache write on the first
//! (Anthropic) and 300-token cache reads on the others.

use std::path::PathBuf;

use warden_agent::cli_agent::CliKind;
use warden_agent::cli_output::{self, CliRun};
use warden_llm::{Api, CreditSource, LlmError, Provider, Route, Usage};

const ANTHROPIC: Provider = Provider::new(Api::Anthropic, Route::Direct);
const OPENAI: Provider = Provider::new(Api::OpenAi, Route::Direct);
const GATEWAY: Provider = Provider::new(Api::OpenAi, Route::Gateway);

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cli_output")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(prefix: &str) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cli_output");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

fn kind_of(name: &str) -> CliKind {
    CliKind::from_name(name.split('-').next().unwrap()).unwrap()
}

fn provider_of(name: &str) -> Provider {
    match kind_of(name) {
        CliKind::Claude => ANTHROPIC,
        _ if name.contains("anthropic") => ANTHROPIC,
        _ => OPENAI,
    }
}

fn parse(name: &str) -> CliRun {
    cli_output::parse(kind_of(name), &fixture(name), provider_of(name))
}

fn figures(run: &CliRun) -> Vec<(u64, u64, u64, u64)> {
    run.calls
        .iter()
        .map(|c| {
            (
                c.usage.input,
                c.usage.output,
                c.usage.cache_write,
                c.usage.cache_read,
            )
        })
        .collect()
}

const FINAL: &str = "Reported one SQL injection in src/app.py.";

#[test]
fn claude_success_runs_give_session_turns_exact_totals_and_the_answer() {
    for version in ["2.1.197", "2.1.332"] {
        let name = format!("claude-{version}-mcp-success.jsonl");
        let run = parse(&name);
        assert_eq!(run.error, None, "{name}");
        let sid = run.session_id.as_deref().unwrap();
        assert_eq!(sid.len(), 36, "{name}: a UUID session id, got {sid}");
        assert_eq!(run.turns, 4, "{name}");
        assert_eq!(run.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(run.final_text.as_deref(), Some(FINAL));
        // One call per model call; the stream shows each call's input and cache
        // figures, the result's totals supply the output.
        assert_eq!(
            figures(&run),
            [
                (1200, 1, 300, 0),
                (1500, 1, 0, 300),
                (1700, 1, 0, 300),
                (1800, 234, 0, 300)
            ],
            "{name}"
        );
        assert!(run
            .calls
            .iter()
            .all(|c| c.model.as_deref() == Some("claude-sonnet-4-5")));
        let total = run.total_usage();
        assert_eq!(
            (
                total.input,
                total.output,
                total.cache_write,
                total.cache_read
            ),
            (6200, 237, 300, 900)
        );
    }
}

#[test]
fn claude_api_errors_classify_like_the_native_agent() {
    for version in ["2.1.197", "2.1.332"] {
        let run = parse(&format!("claude-{version}-credit.jsonl"));
        let e = run.error.as_ref().unwrap();
        assert!(e.stops_run());
        assert!(
            matches!(
                e.llm,
                Some(LlmError::CreditsExhausted {
                    origin: CreditSource::Anthropic,
                    ..
                })
            ),
            "{e:?}"
        );
        assert_eq!(e.message, "Credit balance is too low");
        assert_eq!(run.final_text, None);
        assert_eq!(run.total_usage(), Usage::default());

        let e = parse(&format!("claude-{version}-invalid-key.jsonl"))
            .error
            .unwrap();
        assert!(
            matches!(e.llm, Some(LlmError::Auth { status: 401, .. })),
            "{e:?}"
        );
        assert!(e.stops_run());

        let e = parse(&format!("claude-{version}-rate-limit.jsonl"))
            .error
            .unwrap();
        assert!(matches!(e.llm, Some(LlmError::RateLimited { .. })), "{e:?}");
        assert!(!e.stops_run());

        let e = parse(&format!("claude-{version}-overloaded.jsonl"))
            .error
            .unwrap();
        assert!(matches!(e.llm, Some(LlmError::Overloaded { .. })), "{e:?}");
        assert!(!e.stops_run());
    }
}

#[test]
fn codex_success_runs_give_thread_turns_usage_and_the_answer() {
    for version in ["0.169.0", "0.171.0"] {
        let name = format!("codex-{version}-mcp-success.jsonl");
        let run = parse(&name);
        // The "Model metadata ... not found" warning item is not an error.
        assert_eq!(run.error, None, "{name}");
        assert!(run.session_id.as_deref().unwrap().len() >= 32);
        // Three tool calls (cat, two report_finding) and the final answer.
        assert_eq!(run.turns, 4);
        assert_eq!(run.final_text.as_deref(), Some(FINAL));
        // One call per turn: Codex reports cached tokens inside the input.
        assert_eq!(figures(&run), [(6200, 245, 0, 1200)], "{name}");
        assert_eq!(run.calls[0].usage.reasoning, 8);
        assert_eq!(run.calls[0].model, None);
    }
}

#[test]
fn codex_errors_classify_like_the_native_agent() {
    for version in ["0.169.0", "0.171.0"] {
        let f = |case: &str| fixture(&format!("codex-{version}-{case}.jsonl"));
        let quota = cli_output::codex::parse(&f("quota"), OPENAI).error.unwrap();
        assert!(
            matches!(
                quota.llm,
                Some(LlmError::CreditsExhausted {
                    origin: CreditSource::OpenAi,
                    ..
                })
            ),
            "{quota:?}"
        );
        let via_gateway = cli_output::codex::parse(&f("quota"), GATEWAY)
            .error
            .unwrap();
        assert!(matches!(
            via_gateway.llm,
            Some(LlmError::CreditsExhausted {
                origin: CreditSource::Gateway,
                ..
            })
        ));
        let key = cli_output::codex::parse(&f("invalid-key"), OPENAI)
            .error
            .unwrap();
        assert!(
            matches!(key.llm, Some(LlmError::Auth { status: 401, .. })),
            "{key:?}"
        );
        assert!(key.message.contains("Incorrect API key provided"));
        let funds = cli_output::codex::parse(&f("gateway-credits"), GATEWAY)
            .error
            .unwrap();
        assert!(
            matches!(
                funds.llm,
                Some(LlmError::CreditsExhausted {
                    origin: CreditSource::Gateway,
                    ..
                })
            ),
            "{funds:?}"
        );
        for case in ["quota", "invalid-key", "gateway-credits"] {
            let run = cli_output::codex::parse(&f(case), OPENAI);
            assert!(run.error.unwrap().stops_run(), "{version} {case}");
            assert_eq!(run.final_text, None);
        }
    }
    let f = |case: &str| fixture(&format!("codex-0.171.0-{case}.jsonl"));
    let rl = cli_output::codex::parse(&f("rate-limit"), OPENAI)
        .error
        .unwrap();
    assert!(
        matches!(rl.llm, Some(LlmError::RateLimited { .. })),
        "{rl:?}"
    );
    let busy = cli_output::codex::parse(&f("server-error"), OPENAI)
        .error
        .unwrap();
    assert!(
        matches!(busy.llm, Some(LlmError::Overloaded { .. })),
        "{busy:?}"
    );
    assert!(!rl.stops_run() && !busy.stops_run());
    for version in ["0.169.0", "0.171.0"] {
        let f = |case: &str| fixture(&format!("codex-{version}-{case}.jsonl"));
        let ctx = cli_output::codex::parse(&f("context"), OPENAI)
            .error
            .unwrap();
        assert!(
            matches!(ctx.llm, Some(LlmError::ContextTooLong { .. })),
            "{ctx:?}"
        );
        // A request the API refused for another reason is the file's failure only.
        let bad = cli_output::codex::parse(&f("bad-request"), OPENAI)
            .error
            .unwrap();
        assert_eq!(bad.message, "The model `x` does not exist");
        assert!(!bad.stops_run());
    }
}

#[test]
fn opencode_success_run_gives_one_call_per_step() {
    let run = parse("opencode-1.18.33-mcp-success.jsonl");
    assert_eq!(run.error, None);
    assert!(run.session_id.as_deref().unwrap().starts_with("ses_"));
    assert_eq!(run.turns, 4);
    assert_eq!(run.final_text.as_deref(), Some(FINAL));
    assert_eq!(
        figures(&run),
        [
            (1200, 40, 0, 300),
            (1500, 90, 0, 300),
            (1700, 95, 0, 300),
            (1800, 12, 0, 300)
        ]
    );
}

#[test]
fn opencode_errors_classify_like_the_native_agent() {
    let e = |name: &str| {
        parse(&format!("opencode-1.18.33-{name}.jsonl"))
            .error
            .unwrap()
    };
    assert!(matches!(
        e("quota").llm,
        Some(LlmError::CreditsExhausted {
            origin: CreditSource::OpenAi,
            ..
        })
    ));
    assert!(matches!(
        e("invalid-key").llm,
        Some(LlmError::Auth { status: 401, .. })
    ));
    assert!(matches!(
        e("gateway-credits").llm,
        Some(LlmError::CreditsExhausted { .. })
    ));
    assert!(matches!(
        e("anthropic-credit").llm,
        Some(LlmError::CreditsExhausted {
            origin: CreditSource::Anthropic,
            ..
        })
    ));
    assert!(matches!(
        e("anthropic-invalid-key").llm,
        Some(LlmError::Auth { status: 401, .. })
    ));
    for case in [
        "quota",
        "invalid-key",
        "gateway-credits",
        "anthropic-credit",
        "anthropic-invalid-key",
    ] {
        assert!(e(case).stops_run(), "{case}");
    }
    assert!(e("anthropic-credit")
        .message
        .starts_with("Your credit balance is too low"));
}

/// Garbage between the lines changes nothing; any prefix of a run (a CLI killed
/// mid-write) parses without panicking, and one cut before its end is never
/// taken for a clean success.
#[test]
fn garbage_and_truncation_never_panic_nor_pass_for_success() {
    let all = names("");
    assert!(all.len() >= 20, "{all:?}");
    for name in all {
        let bytes = fixture(&name);
        let (kind, provider) = (kind_of(&name), provider_of(&name));
        let clean = cli_output::parse(kind, &bytes, provider);

        let mut noisy = b"Reading additional input from stdin...\n\xff\xfe\x00garbage\n".to_vec();
        for line in bytes.split(|b| *b == b'\n') {
            noisy.extend_from_slice(line);
            noisy
                .extend_from_slice(b"\n{\"type\":\"unknown.event\",\"x\":[1,{}]}\n[\"array\"]\n\n");
        }
        assert_eq!(cli_output::parse(kind, &noisy, provider), clean, "{name}");

        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let step = (bytes.len() / 300).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let run = cli_output::parse(kind, &bytes[..cut], provider);
            let whole_lines = bytes[..cut].iter().filter(|b| **b == b'\n').count();
            if clean.error.is_none() && whole_lines < lines.len() - 1 {
                assert!(
                    run.error.is_some(),
                    "{name} cut at {cut} of {} parsed as a success",
                    bytes.len()
                );
            }
        }
    }
}
