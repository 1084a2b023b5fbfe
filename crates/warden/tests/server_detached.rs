//! `warden server` detached commands: started at once, listed, waited for, their logs
//! followed while they write, killed, and still there with their exit after the server
//! restarts.

mod server_support;

use futures_util::StreamExt;
use serde_json::{json, Value};
use server_support::{problem, Server, TOKEN_A, TOKEN_B};

async fn sandbox(server: &Server) -> String {
    server.create(TOKEN_A, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Starts `sh -c script` detached; returns its `Command`.
async fn detach(server: &Server, id: &str, script: &str) -> Value {
    let res = server
        .post(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/commands"),
            json!({"cmd": "sh", "args": ["-c", script], "detached": true}),
        )
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

async fn command(server: &Server, id: &str, cmd: &str, query: &str) -> Value {
    let res = server
        .get(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/commands/{cmd}{query}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// Everything a stream's `kind` events carried, joined.
fn output(events: &[Value], kind: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["data"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_command_is_listed_waited_for_and_its_logs_followed_as_it_writes() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let started = detach(
        &server,
        &id,
        "echo first; sleep 1.5; echo second; echo oops >&2; exit 3",
    )
    .await;
    assert_eq!(started["status"], "running", "{started}");
    assert_eq!(started["cmd"], "sh");
    assert_eq!(started["exitCode"], Value::Null);
    let cmd = started["cmdId"].as_str().unwrap().to_string();

    // Following: "first" arrives while it still runs, then the rest, then its exit.
    let res = server
        .get(TOKEN_A, &format!("/v1/sandboxes/{id}/commands/{cmd}/logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let mut body = res.bytes_stream();
    let mut text = String::new();
    while !text.contains("first") {
        let chunk = body.next().await.expect("the stream ended early").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let now = command(&server, &id, &cmd, "").await;
    assert_eq!(
        now["status"], "running",
        "first came only at the end: {now}"
    );
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let all = events(&text);
    assert_eq!(all[0], json!({"type": "start", "cmdId": cmd}));
    assert_eq!(output(&all, "stdout"), "first\nsecond\n");
    assert_eq!(output(&all, "stderr"), "oops\n");
    assert_eq!(all.last().unwrap(), &json!({"type": "exit", "exitCode": 3}));

    let done = command(&server, &id, &cmd, "?wait=true").await;
    assert_eq!(
        (done["status"].as_str(), done["exitCode"].as_i64()),
        (Some("exited"), Some(3))
    );
    let list: Value = server
        .get_json(TOKEN_A, &format!("/v1/sandboxes/{id}/commands"))
        .await;
    assert_eq!(list["commands"][0]["cmdId"], cmd.as_str(), "{list}");
    assert_eq!(list["commands"][0]["exitCode"], 3);

    // The same logs as SSE, and without following: all of it, the exit last.
    let sse = server
        .get(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/commands/{cmd}/logs?follow=false"),
        )
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sse.starts_with("event: start\n"), "{sse}");
    assert!(
        sse.ends_with("event: exit\ndata: {\"type\":\"exit\",\"exitCode\":3}\n\n"),
        "{sse}"
    );

    // ?wait=true waits; ?follow=false of a running command has no exit event.
    let slow = detach(&server, &id, "echo begun; sleep 1; echo end").await;
    let slow_id = slow["cmdId"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let now = server
        .get(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/commands/{slow_id}/logs?follow=false"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let now = events(&now);
    assert_eq!(output(&now, "stdout"), "begun\n");
    assert!(now.iter().all(|e| e["type"] != "exit"), "{now:?}");
    let waited = command(&server, &id, slow_id, "?wait=true").await;
    assert_eq!(
        (waited["status"].as_str(), waited["exitCode"].as_i64()),
        (Some("exited"), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_a_running_command_and_is_409_once_it_ended_and_404_for_unknown_ones() {
    let server = Server::start(&[]);
    let id = sandbox(&server).await;
    let sleeper = detach(&server, &id, "exec sleep 300").await;
    let cmd = sleeper["cmdId"].as_str().unwrap();
    let kill = format!("/v1/sandboxes/{id}/commands/{cmd}/kill");
    let (status, _) = problem(
        server
            .post(TOKEN_A, &kill, json!({"signal": "SIGBOGUS"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let res = server
        .post(TOKEN_A, &kill, json!({"signal": "SIGTERM"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    let done = command(&server, &id, cmd, "?wait=true").await;
    assert_eq!(
        (done["status"].as_str(), done["exitCode"].as_i64()),
        (Some("killed"), Some(128 + 15)),
        "{done}"
    );
    let (status, body) =
        problem(server.post(TOKEN_A, &kill, json!({})).send().await.unwrap()).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (409, Some("https://warden.dev/problems/conflict"))
    );

    // An unknown command, or another tenant's, is not found.
    let unknown = format!("/v1/sandboxes/{id}/commands/cmd-0000000000");
    for request in [
        server.get(TOKEN_A, &unknown),
        server.get(TOKEN_A, &format!("{unknown}/logs")),
        server.post(TOKEN_A, &format!("{unknown}/kill"), json!({})),
        server.get(TOKEN_B, &format!("/v1/sandboxes/{id}/commands/{cmd}")),
        server.get(TOKEN_B, &format!("/v1/sandboxes/{id}/commands")),
        server.post(TOKEN_B, &kill, json!({})),
    ] {
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_command_outlives_a_server_restart_and_is_listed_with_its_exit() {
    let mut server = Server::start(&[]);
    let id = sandbox(&server).await;
    let started = detach(&server, &id, "sleep 2; echo outlived; exit 4").await;
    let cmd = started["cmdId"].as_str().unwrap().to_string();
    assert!(server.stop().success());
    server.restart();
    let done = command(&server, &id, &cmd, "?wait=true").await;
    assert_eq!(
        (done["status"].as_str(), done["exitCode"].as_i64()),
        (Some("exited"), Some(4)),
        "{done}"
    );
    let list: Value = server
        .get_json(TOKEN_A, &format!("/v1/sandboxes/{id}/commands"))
        .await;
    assert_eq!(list["commands"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["commands"][0]["status"], "exited");
    let logs = server
        .get(TOKEN_A, &format!("/v1/sandboxes/{id}/commands/{cmd}/logs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logs = events(&logs);
    assert_eq!(output(&logs, "stdout"), "outlived\n");
    assert_eq!(
        logs.last().unwrap(),
        &json!({"type": "exit", "exitCode": 4})
    );
}
