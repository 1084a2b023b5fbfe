//! `warden server` commands: waited for, streamed as NDJSON and SSE with the exit event
//! last, heartbeats through silence, stdin and timeouts, a client that goes away
//! mid-stream (its command is killed, the server carries on), and 100 MB of output
//! streamed with bounded memory.

mod server_support;

use futures_util::StreamExt;
use serde_json::{json, Value};
use server_support::{eventually, Server, TOKEN_A};
use std::time::Duration;

async fn sandbox(server: &Server) -> String {
    server.create(TOKEN_A, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn run(server: &Server, id: &str, accept: &str, body: Value) -> reqwest::RequestBuilder {
    server
        .post(TOKEN_A, &format!("/v1/sandboxes/{id}/commands"), body)
        .header("accept", accept)
}

/// NDJSON events, read as they come.
fn ndjson_events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waited_command_answers_its_output_exit_code_stdin_and_timeout() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let res: Value = run(
        &server,
        &id,
        "application/json",
        json!({"cmd": "sh", "args": ["-c", "cat; echo \" $K\" in $(pwd); echo oops >&2; exit 3"],
               "stdin": "from stdin", "env": {"K": "V"}, "cwd": "/home/sandbox"}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(res["cmdId"].as_str().unwrap().starts_with("cmd-"), "{res}");
    assert_eq!(res["exitCode"], 3);
    assert_eq!(res["stdout"], "from stdin V in /home/sandbox\n");
    assert_eq!(res["stderr"], "oops\n");
    assert_eq!(res["truncated"], false);
    let timed: Value = run(
        &server,
        &id,
        "application/json",
        json!({"cmd": "sleep", "args": ["30"], "timeout": 300}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(timed["exitCode"], 124, "{timed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_and_sse_stream_the_same_events_with_the_exit_last() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let script = "echo one; echo two >&2; printf '\\377\\376'; sleep 0.2; echo three; exit 5";
    let res = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", script]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let events = ndjson_events(&res.text().await.unwrap());
    assert_eq!(events.first().unwrap()["type"], "start");
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "exit", "exitCode": 5})
    );
    let text = |kind: &str| -> String {
        events
            .iter()
            .filter(|e| e["type"] == kind)
            .filter_map(|e| e["data"].as_str())
            .collect()
    };
    assert_eq!(text("stdout"), "one\nthree\n");
    assert_eq!(text("stderr"), "two\n");
    let binary: Vec<&str> = events
        .iter()
        .filter_map(|e| e["dataBase64"].as_str())
        .collect();
    assert_eq!(binary, ["//4="], "{events:?}");

    let res = run(
        &server,
        &id,
        "text/event-stream",
        json!({"cmd": "sh", "args": ["-c", "echo sse; exit 2"]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let body = res.text().await.unwrap();
    let blocks: Vec<&str> = body.split("\n\n").filter(|b| !b.is_empty()).collect();
    let names: Vec<&str> = blocks
        .iter()
        .map(|b| b.lines().next().unwrap().strip_prefix("event: ").unwrap())
        .collect();
    assert_eq!(names, ["start", "stdout", "exit"], "{body}");
    let exit: Value = serde_json::from_str(
        blocks[2]
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(exit, json!({"type": "exit", "exitCode": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_streams_as_it_happens_not_when_the_command_ends() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    // No newline before the pause: chunks, not lines.
    let res = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", "printf early; sleep 5; echo late"]}),
    )
    .send()
    .await
    .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let first = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("\"data\":\"early\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(first, Ok(true), "no early output within 3 s: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_mid_stream_kills_its_command() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    // Silent after its first line, and deaf to SIGPIPE: only the server can end it.
    let script = "trap '' PIPE; echo $$ > /workspace/pid; echo tick; exec sleep 1000";
    let res = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", script]}),
    )
    .send()
    .await
    .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("tick") {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    let (_, pid, _) = server.sh(TOKEN_A, &id, "cat /workspace/pid").await;
    let pid = pid.trim().to_string();
    // Each command is its own Landlock domain (no signals across): look in /proc instead.
    let (alive, _, _) = server
        .sh(TOKEN_A, &id, &format!("test -d /proc/{pid}"))
        .await;
    assert_eq!(alive, 0, "the command is not running while streamed");
    drop(body);
    let gone = eventually(Duration::from_secs(10), || async {
        server
            .sh(TOKEN_A, &id, &format!("test -d /proc/{pid}"))
            .await
            .0
            != 0
    })
    .await;
    assert!(gone, "the command outlived its client");
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (code, out, _) = server.sh(TOKEN_A, &id, "echo still-fine").await;
    assert_eq!((code, out.as_str()), (0, "still-fine\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_megabytes_of_output_stream_whole_in_bounded_memory() {
    const SIZE: u64 = 100_000_000;
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let before = server.peak_rss_kib();
    let res = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", format!("head -c {SIZE} /dev/zero | tr '\\0' a")]}),
    )
    .send()
    .await
    .unwrap();
    let mut body = res.bytes_stream();
    let (mut total, mut pending, mut last) = (0u64, Vec::new(), String::new());
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.unwrap());
        let end = pending
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        for line in pending[..end]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            // {"type":"stdout","data":"aaaa…"}: only `a`s between the quotes.
            if let Some(data) = line
                .strip_prefix(br#"{"type":"stdout","data":""#.as_slice())
                .and_then(|rest| rest.strip_suffix(br#""}"#.as_slice()))
            {
                assert!(data.iter().all(|b| *b == b'a'));
                total += data.len() as u64;
            }
            last = String::from_utf8_lossy(line).into_owned();
        }
        pending.drain(..end);
    }
    assert_eq!(last, r#"{"type":"exit","exitCode":0}"#);
    assert_eq!(total, SIZE);
    let grown = server.peak_rss_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "the server's peak memory grew by {grown} KiB for a stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_still_gets_every_byte_of_a_command_that_already_ended() {
    // More than the socket buffers hold, read slowly: the command ends long before its
    // last output reaches the client.
    const SIZE: usize = 12_000_000;
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let res = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", format!("head -c {SIZE} /dev/zero | tr '\\0' b; echo done >&2")]}),
    )
    .send()
    .await
    .unwrap();
    let mut body = res.bytes_stream();
    let mut text = Vec::new();
    while let Some(chunk) = body.next().await {
        text.extend_from_slice(&chunk.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let events = ndjson_events(&String::from_utf8(text).unwrap());
    let stdout: usize = events
        .iter()
        .filter(|e| e["type"] == "stdout")
        .map(|e| e["data"].as_str().unwrap().len())
        .sum();
    assert_eq!(stdout, SIZE);
    assert!(events
        .iter()
        .any(|e| e["type"] == "stderr" && e["data"] == "done\n"));
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "exit", "exitCode": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_left_holding_the_output_does_not_keep_the_stream_open() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let started = std::time::Instant::now();
    let res = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", "sleep 60 & echo left-behind"]}),
    )
    .send()
    .await
    .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), res.text())
        .await
        .expect("the stream stayed open for the leftover process")
        .unwrap();
    let events = ndjson_events(&body);
    assert!(
        events.iter().any(|e| e["data"] == "left-behind\n"),
        "{body}"
    );
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "exit", "exitCode": 0})
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_command_keeps_its_stream_alive_with_heartbeats() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    // Quiet for longer than the server's heartbeat interval (20 s), then one line.
    let text = run(
        &server,
        &id,
        "application/x-ndjson",
        json!({"cmd": "sh", "args": ["-c", "sleep 23; echo awake"]}),
    )
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let events = ndjson_events(&text);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let beat = kinds.iter().position(|k| *k == "heartbeat");
    let out = kinds.iter().position(|k| *k == "stdout");
    assert!(
        beat.is_some() && beat < out,
        "a heartbeat before the output: {kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"exit"), "{kinds:?}");
    assert_eq!(events.last().unwrap()["exitCode"], 0);
}
