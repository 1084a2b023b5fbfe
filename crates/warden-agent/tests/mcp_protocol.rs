//! The MCP report server's protocol, driven in memory through `mcp::serve`:
//! every answer is parsed back, every record read from the real output file.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use warden_agent::confine::Root;
use warden_agent::finding;
use warden_agent::mcp::{self, McpError, Mode};
use warden_store::{Severity, Verdict};

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
}

fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/app.py"),
        "import os\n\ndef handler(req):\n    q = req.args['q']\n    return db.execute(\"SELECT * FROM t WHERE x = '\" + q + \"'\")\n",
    )
    .unwrap();
    let out = dir.path().join("findings.jsonl");
    Project {
        root: root.canonicalize().unwrap(),
        out,
        _dir: dir,
    }
}

/// Serves `input` and returns the replies, one JSON value per line.
fn run(mode: Mode, p: &Project, input: &[u8]) -> Vec<Value> {
    let mut output = Vec::new();
    mcp::serve(
        mode,
        &p.root,
        &p.out,
        Cursor::new(input.to_vec()),
        &mut output,
    )
    .unwrap();
    let text = String::from_utf8(output).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn lines(msgs: &[Value]) -> Vec<u8> {
    let mut s = String::new();
    for m in msgs {
        s.push_str(&m.to_string());
        s.push('\n');
    }
    s.into_bytes()
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn call(id: i64, name: &str, args: Value) -> Value {
    request(id, "tools/call", json!({"name": name, "arguments": args}))
}

fn report(file: &str, start: u64, end: u64) -> Value {
    json!({
        "title": "SQL injection in handler", "severity": "high", "confidence": "high", "cwe": "89",
        "file": file, "start_line": start, "end_line": end,
        "description": "q reaches the query", "attack_path": "GET /?q=' OR 1=1--",
        "recommendation": "bind parameters"
    })
}

fn records(p: &Project) -> Vec<Value> {
    match std::fs::read_to_string(&p.out) {
        Ok(t) => t
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn text_of(reply: &Value) -> &str {
    reply["result"]["content"][0]["text"].as_str().unwrap()
}

#[test]
fn initialize_echoes_a_supported_version_and_otherwise_offers_the_latest() {
    let p = project();
    for (asked, answered) in [
        (json!("2024-11-05"), "2024-11-05"),
        (json!("2025-03-26"), "2025-03-26"),
        (json!("2025-06-18"), "2025-06-18"),
        (json!("2031-01-01"), "2025-06-18"),
        (json!(42), "2025-06-18"),
        (Value::Null, "2025-06-18"),
    ] {
        let init = request(
            1,
            "initialize",
            json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
        );
        let replies = run(Mode::Investigate, &p, &lines(&[init]));
        assert_eq!(replies.len(), 1);
        let r = &replies[0];
        assert_eq!(r["jsonrpc"], "2.0");
        assert_eq!(r["id"], 1);
        assert_eq!(r["result"]["protocolVersion"], answered, "asked {asked}");
        assert_eq!(r["result"]["serverInfo"]["name"], "warden");
        assert_eq!(
            r["result"]["serverInfo"]["version"],
            env!("CARGO_PKG_VERSION")
        );
        assert!(r["result"]["capabilities"]["tools"].is_object());
    }
}

#[test]
fn a_whole_session_lists_and_calls_the_tool_and_notifications_get_no_reply() {
    let p = project();
    let input = lines(&[
        request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}}),
        ),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {}}),
        json!({"jsonrpc": "2.0", "id": "p", "method": "ping"}),
        request(2, "tools/list", json!({})),
        call(3, "report_finding", report("./src/app.py", 4, 5)),
    ]);
    let replies = run(Mode::Investigate, &p, &input);
    let ids: Vec<&Value> = replies.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!(0), &json!("p"), &json!(2), &json!(3)]);
    assert_eq!(replies[1]["result"], json!({}));

    let tools = replies[2]["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    let def = finding::report_definition();
    assert_eq!(tools[0]["name"], "report_finding");
    assert_eq!(tools[0]["description"], def.description.as_str());
    assert_eq!(tools[0]["inputSchema"], def.input_schema);

    let done = &replies[3]["result"];
    assert_eq!(done["isError"], false);
    assert_eq!(
        text_of(&replies[3]),
        "Recorded finding 1: SQL injection in handler (src/app.py:4-5)."
    );
    let recs = records(&p);
    assert_eq!(recs.len(), 1);
    // The record is exactly the native validation's finding.
    let expected =
        finding::validate(&Root::new(&p.root).unwrap(), &report("./src/app.py", 4, 5)).unwrap();
    let got: warden_store::NewFinding = serde_json::from_value(recs[0].clone()).unwrap();
    assert_eq!(got, expected);
    assert_eq!(got.cwe.as_deref(), Some("CWE-89"));
}

#[test]
fn an_invalid_report_is_a_tool_error_with_the_reason_and_records_nothing() {
    let p = project();
    let cases = [
        (
            report("src/app.py", 4, 99),
            "do not exist: `src/app.py` has 5 lines",
        ),
        (report("../../etc/passwd", 1, 1), "refused"),
        (report("src/nope.py", 1, 1), "not found"),
        (json!({"title": "x"}), "`severity` is required"),
        (json!("not an object"), "must be a JSON object"),
    ];
    for (i, (args, want)) in cases.iter().enumerate() {
        let replies = run(
            Mode::Investigate,
            &p,
            &lines(&[call(i as i64, "report_finding", args.clone())]),
        );
        let r = &replies[0];
        assert_eq!(r["result"]["isError"], true, "{r}");
        assert_eq!(r["result"]["content"][0]["type"], "text");
        let text = text_of(r);
        assert!(text.starts_with("Finding rejected: "), "{text}");
        assert!(text.contains(want), "{args}: {text}");
    }
    // Missing arguments are an empty object, refused the same way.
    let replies = run(
        Mode::Investigate,
        &p,
        &lines(&[request(9, "tools/call", json!({"name": "report_finding"}))]),
    );
    assert!(text_of(&replies[0]).contains("`title` is required"));
    assert!(records(&p).is_empty());
}

#[test]
fn a_duplicate_is_refused_and_a_fixed_retry_is_accepted() {
    let p = project();
    let replies = run(
        Mode::Investigate,
        &p,
        &lines(&[
            call(1, "report_finding", report("src/app.py", 4, 50)),
            call(2, "report_finding", report("src/app.py", 4, 5)),
            call(3, "report_finding", report("src/app.py", 4, 5)),
        ]),
    );
    assert_eq!(replies[0]["result"]["isError"], true);
    assert_eq!(replies[1]["result"]["isError"], false);
    assert_eq!(replies[2]["result"]["isError"], true);
    assert!(text_of(&replies[2]).contains("duplicate"));
    assert_eq!(records(&p).len(), 1);
}

#[test]
fn protocol_errors_have_their_codes_and_the_server_keeps_serving() {
    let p = project();
    let mut input = Vec::new();
    input.extend_from_slice(b"{not json\n");
    input.extend_from_slice(b"\n   \n");
    input.extend_from_slice(b"[1,2]\n");
    input.extend_from_slice(b"17\n");
    input.extend_from_slice(&lines(&[
        request(1, "resources/list", json!({})),
        json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}),
        json!({"jsonrpc": "1.0", "id": 2, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": 5}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": [1]}),
        call(5, "read_file", json!({})),
        request(6, "tools/call", json!({"arguments": {}})),
        // A response to a request the server never sent: ignored.
        json!({"jsonrpc": "2.0", "id": 99, "result": {}}),
    ]));
    input.extend_from_slice(b"\xff\xfe garbage \x00\n");
    // The last line has no newline and is still served.
    input.extend_from_slice(
        json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})
            .to_string()
            .as_bytes(),
    );
    let replies = run(Mode::Investigate, &p, &input);
    let got: Vec<(Value, i64)> = replies
        .iter()
        .map(|r| (r["id"].clone(), r["error"]["code"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(
        got,
        vec![
            (Value::Null, mcp::PARSE_ERROR),
            (Value::Null, mcp::INVALID_REQUEST),
            (Value::Null, mcp::INVALID_REQUEST),
            (json!(1), mcp::METHOD_NOT_FOUND),
            (Value::Null, mcp::INVALID_REQUEST),
            (json!(2), mcp::INVALID_REQUEST),
            (json!(3), mcp::INVALID_REQUEST),
            (json!(4), mcp::INVALID_PARAMS),
            (json!(5), mcp::INVALID_PARAMS),
            (json!(6), mcp::INVALID_PARAMS),
            (Value::Null, mcp::PARSE_ERROR),
            (json!(7), 0),
        ]
    );
    assert!(replies[3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("resources/list"));
    assert!(replies[8]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown tool `read_file`"));
    assert_eq!(replies[11]["result"], json!({}));
}

#[test]
fn an_overlong_line_is_refused_without_being_kept_and_the_next_one_is_served() {
    let p = project();
    let mut input = vec![b'x'; mcp::MAX_LINE_BYTES + 10];
    input.push(b'\n');
    input.extend_from_slice(&lines(&[
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    ]));
    // An overlong line at the very end, without a newline.
    input.extend(std::iter::repeat_n(b'{', mcp::MAX_LINE_BYTES + 1));
    let replies = run(Mode::Investigate, &p, &input);
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0]["error"]["code"], mcp::INVALID_REQUEST);
    assert!(replies[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("longer than"));
    assert_eq!(replies[1]["id"], 1);
    assert_eq!(replies[2]["error"]["code"], mcp::INVALID_REQUEST);

    // Exactly the limit is fine (a parse error, not a length error).
    let mut input = vec![b' '; mcp::MAX_LINE_BYTES - 1];
    input.push(b'x');
    input.push(b'\n');
    let replies = run(Mode::Investigate, &p, &input);
    assert_eq!(replies[0]["error"]["code"], mcp::PARSE_ERROR);
}

#[test]
fn arbitrary_bytes_never_panic_and_every_reply_is_one_json_line() {
    let p = project();
    // A small xorshift generator: reproducible, no dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: [&[u8]; 12] = [
        b"{",
        b"}",
        b"\"jsonrpc\":\"2.0\"",
        b"\"id\":",
        b"1",
        b",",
        b"\"method\":",
        b"\"tools/call\"",
        b"\n",
        b"\"params\":{\"name\":\"report_finding\",\"arguments\":",
        b"\xc3\x28",
        b"null",
    ];
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..(next() % 40) {
            input.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let _ = run(Mode::Investigate, &p, &input);
        let _ = run(Mode::Verdict, &p, &input);
    }
}

#[test]
fn verdict_mode_offers_report_verdict_and_records_the_answer() {
    let p = project();
    let replies = run(
        Mode::Verdict,
        &p,
        &lines(&[
            request(1, "tools/list", json!({})),
            call(2, "report_finding", report("src/app.py", 4, 5)),
            call(
                3,
                "report_verdict",
                json!({"verdict": "maybe", "reasoning": "x"}),
            ),
            call(
                4,
                "report_verdict",
                json!({"verdict": "false_positive", "reasoning": "q is escaped at src/app.py:3", "corrected_severity": "low"}),
            ),
        ]),
    );
    let tools = replies[0]["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "report_verdict");
    assert_eq!(
        tools[0]["inputSchema"],
        warden_agent::revalidate::verdict_definition().input_schema
    );
    assert_eq!(replies[1]["error"]["code"], mcp::INVALID_PARAMS);
    assert_eq!(replies[2]["result"]["isError"], true);
    assert!(text_of(&replies[2]).contains("`maybe`"));
    assert_eq!(replies[3]["result"]["isError"], false);
    assert_eq!(text_of(&replies[3]), "Verdict recorded.");

    let text = std::fs::read_to_string(&p.out).unwrap();
    assert_eq!(text.lines().count(), 1);
    let v = mcp::read_verdict(&text).unwrap();
    assert_eq!(v.verdict, Verdict::FalsePositive);
    assert_eq!(v.corrected_severity, Some(Severity::Low));
    assert_eq!(v.reasoning, "q is escaped at src/app.py:3");
    assert_eq!(mcp::read_verdict("garbage\n{\"verdict\":\"x\"}\n"), None);
    // The reviewer's last word counts; a broken last line does not.
    let two = format!(
        "{text}{}\n{{\"verdict\": \"uncer",
        json!({"verdict": "true_positive", "reasoning": "reachable from /search"})
    );
    assert_eq!(
        mcp::read_verdict(&two).unwrap().verdict,
        Verdict::TruePositive
    );
}

#[test]
fn the_host_reads_findings_back_and_validates_them_again() {
    let p = project();
    run(
        Mode::Investigate,
        &p,
        &lines(&[
            call(1, "report_finding", report("src/app.py", 4, 5)),
            call(2, "report_finding", report("src/app.py", 1, 1)),
        ]),
    );
    let mut text = std::fs::read_to_string(&p.out).unwrap();
    let root = Root::new(&p.root).unwrap();
    let back = mcp::read_findings(&root, &text);
    assert_eq!(back.findings.len(), 2);
    assert!(back.rejected.is_empty());

    // A forged record pointing outside the tree, a duplicate, garbage, and a
    // half-written last line: each rejected (or dropped), never fatal.
    let mut forged: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    forged["path"] = json!("../../etc/passwd");
    forged["title"] = json!("forged");
    text.push_str(&format!("{forged}\n"));
    text.push_str(text.clone().lines().next().unwrap());
    text.push('\n');
    text.push_str("not json\n{\"title\": \"half");
    let back = mcp::read_findings(&root, &text);
    assert_eq!(back.findings.len(), 2);
    let reasons: Vec<&str> = back.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(back.rejected.len(), 3, "{reasons:?}");
    assert_eq!(back.rejected[0].title, "forged");
    assert!(reasons[0].starts_with("record 3: file:"), "{reasons:?}");
    assert!(reasons[1].starts_with("record 5: not a finding"));
    assert!(reasons[2].starts_with("record 6: not a finding"));

    // The tree changed on the host: the lines are gone.
    std::fs::write(p.root.join("src/app.py"), "x = 1\n").unwrap();
    let back = mcp::read_findings(&root, &std::fs::read_to_string(&p.out).unwrap());
    assert_eq!(back.findings.len(), 1);
    assert!(back.rejected[0].reason.contains("do not exist"));
}

#[test]
fn bad_root_or_output_paths_fail_before_serving() {
    let p = project();
    let missing: &Path = &p.root.join("nope");
    let e = mcp::serve(
        Mode::Investigate,
        missing,
        &p.out,
        Cursor::new(Vec::new()),
        Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(e, McpError::Root { .. }), "{e}");
    assert!(e.to_string().starts_with("--root "), "{e}");

    let out = p.root.join("no/such/dir/out.jsonl");
    let e = mcp::serve(
        Mode::Investigate,
        &p.root,
        &out,
        Cursor::new(Vec::new()),
        Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(e, McpError::Out { .. }), "{e}");
    assert!(e.to_string().contains("no/such/dir/out.jsonl"), "{e}");
}

#[test]
fn a_closed_client_ends_serving_with_a_write_error_not_a_panic() {
    struct Closed;
    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let p = project();
    let input = lines(&[json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})]);
    let e = mcp::serve(
        Mode::Investigate,
        &p.root,
        &p.out,
        Cursor::new(input),
        Closed,
    )
    .unwrap_err();
    assert!(matches!(e, McpError::Write(_)), "{e}");
}

#[test]
fn subcommand_arguments_parse_in_any_order_and_bad_ones_are_named() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
    let a = mcp::parse_args(&os(&["--out", "/o/f.jsonl", "--verdict", "--root", "/w"])).unwrap();
    assert_eq!(a.mode, Mode::Verdict);
    assert_eq!(a.root, Path::new("/w"));
    assert_eq!(a.out, Path::new("/o/f.jsonl"));
    let a = mcp::parse_args(&os(&["--root", "/w", "--out", "o"])).unwrap();
    assert_eq!(a.mode, Mode::Investigate);
    // Paths are bytes: a non-UTF-8 root is kept as it is.
    let raw = OsString::from_vec(b"/w/\xff".to_vec());
    let a = mcp::parse_args(&[
        OsString::from("--root"),
        raw.clone(),
        "--out".into(),
        "o".into(),
    ])
    .unwrap();
    assert_eq!(a.root.as_os_str(), raw.as_os_str());
    for (args, want) in [
        (os(&["--out", "o"]), "--root DIR is required"),
        (os(&["--root", "/w"]), "--out FILE is required"),
        (os(&["--root"]), "--root needs a path"),
        (os(&["--root", "", "--out", "o"]), "--root needs a path"),
        (
            os(&["--root", "/w", "--out", "o", "--bogus"]),
            "unexpected argument `--bogus`",
        ),
    ] {
        assert_eq!(mcp::parse_args(&args).unwrap_err(), want, "{args:?}");
    }
}
