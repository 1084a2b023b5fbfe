//! Rows for `warden process` and `warden revalidate`: flag values, change sets, model
//! endpoints. Every refusal happens before a file is claimed, so the store is untouched.

use crate::table::{absent, case, Case, Fixture::*};

const ANTHROPIC: &str = "sk-ant-api03-bad-input-table-not-a-real-key-0123456789";
const OPENAI: &str = "sk-proj-bad-input-table-not-a-real-key-0123456789abcdefghij";

fn with_key(c: Case) -> Case {
    c.env("ANTHROPIC_API_KEY", ANTHROPIC)
}

pub fn cases() -> Vec<Case> {
    let mut rows = Vec::new();
    for cmd in ["process", "revalidate"] {
        let fixture = if cmd == "process" { Scanned } else { Findings };
        let c = |name: &str, args: &[&str]| {
            with_key(case(
                &format!("{cmd}: {name}"),
                fixture,
                &[&[cmd][..], args].concat(),
            ))
        };
        rows.extend([
            c("--concurrency 0", &["--concurrency", "0"]).says("--concurrency"),
            c("--concurrency 65", &["--concurrency", "65"]).says("1 to 64"),
            c("--concurrency word", &["--concurrency", "all"]).says("--concurrency"),
            c("--sandboxes 0", &["--agent", "claude", "--sandboxes", "0"]).says("--sandboxes"),
            c(
                "--sandboxes 65",
                &["--agent", "claude", "--sandboxes", "65"],
            )
            .says("1 to 64"),
            c("--cpus 0", &["--agent", "claude", "--cpus", "0"]).says("--cpus"),
            c("--cpus NaN", &["--agent", "claude", "--cpus", "NaN"]).says("--cpus"),
            c("--cpus negative", &["--agent", "claude", "--cpus", "-2"]).says("--cpus"),
            c(
                "--memory too small",
                &["--agent", "claude", "--memory", "1K"],
            )
            .says("--memory"),
            c("--memory word", &["--agent", "claude", "--memory", "lots"]).says("--memory"),
            c(
                "--sandboxes and --concurrency disagree",
                &[
                    "--agent",
                    "claude",
                    "--sandboxes",
                    "4",
                    "--concurrency",
                    "2",
                ],
            )
            .says("--sandboxes 4 and --concurrency 2"),
            c(
                "--sandboxes for the native agent",
                &["--agent", "native", "--sandboxes", "2"],
            )
            .says("native agent")
            .says("--concurrency"),
            c(
                "--cpus for the native agent",
                &["--agent", "native", "--cpus", "1"],
            )
            .says("--cpus")
            .says("native agent"),
            c("--memory for the native agent", &["--memory", "1G"]).says("--memory"),
            c("--limit 0", &["--limit", "0"]).says("--limit"),
            c("--limit negative", &["--limit", "-3"]).says("--limit"),
            c("unknown flag", &["--fast"]).says("--fast"),
            c("empty --model", &["--model", ""]).says("--model"),
            c("base URL not a URL", &[])
                .env("ANTHROPIC_BASE_URL", "not a url")
                .says("ANTHROPIC_BASE_URL"),
            c("base URL ftp", &[])
                .env("ANTHROPIC_BASE_URL", "ftp://models.example/")
                .says("ANTHROPIC_BASE_URL"),
            c("base URL javascript", &[])
                .env("ANTHROPIC_BASE_URL", "javascript:alert(1)")
                .says("ANTHROPIC_BASE_URL"),
            c("base URL unclosed IPv6", &[])
                .env("ANTHROPIC_BASE_URL", "http://[::1")
                .says("ANTHROPIC_BASE_URL"),
            c("OpenAI base URL not a URL", &["--model", "gpt-4o"])
                .env("OPENAI_API_KEY", OPENAI)
                .env("OPENAI_BASE_URL", "file:///etc/passwd")
                .says("OPENAI_BASE_URL"),
            case(&format!("{cmd}: no credentials at all"), fixture, &[cmd])
                .says("no usable")
                .says("AI_GATEWAY_API_KEY"),
        ]);
    }
    let p = |name: &str, args: &[&str]| {
        with_key(case(
            &format!("process: {name}"),
            Scanned,
            &[&["process"][..], args].concat(),
        ))
    };
    rows.extend([
        p("--max-cost 0", &["--max-cost", "0"]).says("--max-cost"),
        p("--max-cost negative", &["--max-cost", "-1"]).says("--max-cost"),
        p("--max-cost NaN", &["--max-cost", "NaN"]).says("--max-cost"),
        p("--max-cost huge", &["--max-cost", "1e12"]).says("--max-cost"),
        p("--lease-secs 0", &["--lease-secs", "0"]).says("--lease-secs"),
        p("unknown agent", &["--agent", "skynet"]).says("skynet"),
        p(
            "--diff as an option to git",
            &["--diff=--output={tmp}/git-wrote-this"],
        )
        .says("--diff")
        .check("git wrote nothing", absent("git-wrote-this")),
        p("--diff with an empty ref", &["--diff", ""]).says("--diff"),
        p("--diff outside a git repository", &["--diff", "main"]).says("git"),
        p("--diff with --staged", &["--diff", "main", "--staged"]).says("--staged"),
        p("--files outside the root", &["--files", "/etc/passwd"]).says("/etc/passwd"),
        p("--files escaping with ..", &["--files", "../home/x.py"]).says("x.py"),
        p("--files that do not exist", &["--files", "nope.py"]).says("nope.py"),
        p("--files-from missing", &["--files-from", "{tmp}/list.txt"]).says("list.txt"),
        p("--files-from a directory", &["--files-from", "{tmp}/home"]).says("home"),
        p(
            "--files-from a FIFO does not block",
            &["--files-from", "{tmp}/fifo"],
        )
        .prep(|ctx| {
            let c = std::ffi::CString::new(ctx.path("fifo").into_os_string().into_encoded_bytes())
                .unwrap();
            // SAFETY: a valid C string; mkfifo only creates a node.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        })
        .says("fifo")
        .timeout(30),
        p(
            "--comment-out without a change set",
            &["--comment-out", "{tmp}/c.md"],
        )
        .says("--comment-out"),
    ]);
    rows.push(
        with_key(case(
            "revalidate: unknown severity",
            Findings,
            &["revalidate", "--min-severity", "dire"],
        ))
        .says("dire"),
    );
    rows
}
