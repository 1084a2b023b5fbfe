//! `warden server` over a sandbox's life and its tenant's view: stop (processes end,
//! files stay), extend-timeout, names that belong to one tenant, and directory sources
//! that only `--source-root` (or a single-tenant server) allows; a killed supervisor ends
//! its own sandbox and nothing else.

mod server_support;

use serde_json::{json, Value};
use server_support::{problem, Server, TOKEN_A, TOKEN_B};

async fn sandbox(server: &Server, token: &str, body: Value) -> String {
    server.create(token, body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get(server: &Server, token: &str, path: &str) -> (u16, Value) {
    let res = server.get(token, path).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_sandbox_keeps_its_files_for_reading_and_snapshots_and_refuses_commands() {
    let server = Server::start(&[]);
    let id = sandbox(&server, TOKEN_A, json!({})).await;
    let base = format!("/v1/sandboxes/{id}");
    server
        .sh(TOKEN_A, &id, "echo kept > /workspace/kept.txt")
        .await;
    // Another tenant cannot stop it.
    let (status, _) = problem(
        server
            .post(TOKEN_B, &format!("{base}/stop"), json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    let res = server
        .post(TOKEN_A, &format!("{base}/stop"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let stopped: Value = res.json().await.unwrap();
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    assert_eq!(get(&server, TOKEN_A, &base).await.1["status"], "stopped");

    // Its files are still there to read and to snapshot.
    let file = server
        .get(TOKEN_A, &format!("{base}/files?path=/workspace/kept.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status().as_u16(), 200);
    assert_eq!(file.text().await.unwrap(), "kept\n");
    let snap = server
        .post(TOKEN_A, &format!("{base}/snapshot"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(snap.status().as_u16(), 201);

    // Nothing runs in it any more, and its deadline no longer moves.
    for request in [
        server.post(TOKEN_A, &format!("{base}/commands"), json!({"cmd": "true"})),
        server.post(
            TOKEN_A,
            &format!("{base}/commands"),
            json!({"cmd": "true", "detached": true}),
        ),
        server.post(
            TOKEN_A,
            &format!("{base}/extend-timeout"),
            json!({"duration": 60000}),
        ),
        server.put(
            TOKEN_A,
            &format!("{base}/network-policy"),
            json!("allow-all"),
        ),
    ] {
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["type"], "https://warden.dev/problems/not-running");
    }
    // Stopping again answers the same.
    let again: Value = server
        .post(TOKEN_A, &format!("{base}/stop"), json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "stopped");
    let res = server.delete(TOKEN_A, &base).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_timeout_moves_timeout_at_and_checks_its_duration() {
    let server = Server::start(&[]);
    let created = server.create(TOKEN_A, json!({"timeout": 60000})).await;
    let id = created["id"].as_str().unwrap();
    let before = created["timeoutAt"].as_u64().unwrap();
    let path = format!("/v1/sandboxes/{id}/extend-timeout");
    let res = server
        .post(TOKEN_A, &path, json!({"duration": 600000}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let after = res.json::<Value>().await.unwrap()["timeoutAt"]
        .as_u64()
        .unwrap();
    assert!(
        after >= before + 600_000 && after < before + 660_000,
        "{before} -> {after}"
    );
    assert_eq!(
        get(&server, TOKEN_A, &format!("/v1/sandboxes/{id}"))
            .await
            .1["timeoutAt"],
        json!(after)
    );
    for (token, body, want) in [
        (TOKEN_A, json!({"duration": 10}), 400),
        (TOKEN_A, json!({}), 400),
        (TOKEN_B, json!({"duration": 600000}), 404),
    ] {
        let (status, body) = problem(server.post(token, &path, body).send().await.unwrap()).await;
        assert_eq!(status, want, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_belong_to_one_tenant_and_a_taken_name_tells_nothing_of_the_others() {
    let server = Server::start(&[]);
    let a = server.create(TOKEN_A, json!({"name": "web"})).await;
    assert_eq!(a["name"], "web", "{a}");
    let (status, body) = problem(
        server
            .post(TOKEN_A, "/v1/sandboxes", json!({"name": "web"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (409, Some("https://warden.dev/problems/conflict"))
    );
    assert!(
        !body.to_string().contains(a["id"].as_str().unwrap()),
        "{body}"
    );

    // Tenant b has its own "web", and sees only it.
    let b = server.create(TOKEN_B, json!({"name": "web"})).await;
    assert_eq!(b["name"], "web", "{b}");
    assert_ne!(a["id"], b["id"]);
    let (_, list) = get(&server, TOKEN_B, "/v1/sandboxes").await;
    let ids: Vec<&Value> = list["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(ids, [&b["id"]], "{list}");
    let (_, mine) = get(
        &server,
        TOKEN_A,
        &format!("/v1/sandboxes/{}", a["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(mine["name"], "web");

    // Once tenant a's "web" is gone, the name is free for a again.
    let res = server
        .delete(
            TOKEN_A,
            &format!("/v1/sandboxes/{}", a["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let again = server.create(TOKEN_A, json!({"name": "web"})).await;
    assert_eq!(again["name"], "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_server_copies_host_directories_only_from_under_a_source_root() {
    let create = |server: &Server, path: &std::path::Path| {
        server.post(
            TOKEN_A,
            "/v1/sandboxes",
            json!({"source": {"type": "directory", "path": path}}),
        )
    };
    // Two tenants and no --source-root: no host directory at all.
    let shared = Server::start(&[]);
    let tree = shared.dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let (status, body) = problem(create(&shared, &tree).send().await.unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "https://warden.dev/problems/forbidden");
    assert!(
        body["detail"].as_str().unwrap().contains("--source-root"),
        "{body}"
    );
    drop(shared);

    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "host secret\n").unwrap();
    let roots = tempfile::tempdir().unwrap();
    let root = roots.path().join("projects");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/main.py"), "print(1)\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
    let server = Server::start(&["--source-root", root.to_str().unwrap()]);
    let id = sandbox(
        &server,
        TOKEN_A,
        json!({"source": {"type": "directory", "path": root.join("app")}}),
    )
    .await;
    let (code, out, _) = server.sh(TOKEN_A, &id, "cat main.py").await;
    assert_eq!((code, out.as_str()), (0, "print(1)\n"));
    for path in [
        root.join("escape"),
        root.join("app/../escape"),
        root.join("../.."),
        outside.path().to_path_buf(),
        outside.path().join("missing"),
        root.join("missing"),
        "/etc".into(),
    ] {
        let (status, body) = problem(create(&server, &path).send().await.unwrap()).await;
        assert_eq!(status, 403, "{}: {body}", path.display());
        assert!(!body.to_string().contains("host secret"));
    }
    let (_, list) = get(&server, TOKEN_A, "/v1/sandboxes").await;
    assert_eq!(list["sandboxes"].as_array().unwrap().len(), 1, "{list}");

    // A root that is not a directory stops the server at start, as a usage error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--source-root",
            "/no/such/root",
        ])
        .env("WARDEN_SERVER_TOKEN", "a-token-of-16-chars-or-more")
        .arg("--sandbox-dir")
        .arg(roots.path().join("data"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--source-root /no/such/root"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_supervisor_ends_its_sandbox_only_and_the_server_carries_on() {
    let server = Server::start(&[]);
    let doomed = sandbox(&server, TOKEN_A, json!({})).await;
    let other = sandbox(&server, TOKEN_A, json!({})).await;
    let meta: Value = serde_json::from_slice(
        &std::fs::read(
            server
                .sandbox_dir()
                .join("sandboxes")
                .join(&doomed)
                .join("meta.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let pid = meta["supervisor_pid"].as_i64().expect("a supervisor pid") as i32;
    // SAFETY: plain kill(2) of the sandbox's supervisor, a process this test's server started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);

    let base = format!("/v1/sandboxes/{doomed}");
    let ended = server_support::eventually(std::time::Duration::from_secs(10), || async {
        get(&server, TOKEN_A, &base).await.1["status"] != "running"
    })
    .await;
    assert!(ended, "{}", get(&server, TOKEN_A, &base).await.1);
    let (status, body) = problem(
        server
            .post(TOKEN_A, &format!("{base}/commands"), json!({"cmd": "true"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    // The other sandbox and the server are untouched, and the dead one can be destroyed.
    let (code, out, _) = server.sh(TOKEN_A, &other, "echo alive").await;
    assert_eq!((code, out.as_str()), (0, "alive\n"));
    let gone = server.delete(TOKEN_A, &base).send().await.unwrap();
    assert_eq!(gone.status().as_u16(), 204);
    let (status, _) = get(&server, TOKEN_A, &base).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_racing_a_sandboxs_deadline_are_409_never_500() {
    // Found by schemathesis: a policy update that reached the supervisor as its deadline
    // stopped it came back as a 500 (connection reset).
    let server = Server::start(&[]);
    let id = sandbox(&server, TOKEN_A, json!({"timeout": 1000})).await;
    let path = format!("/v1/sandboxes/{id}/network-policy");
    let started = std::time::Instant::now();
    let mut statuses = std::collections::BTreeSet::new();
    while started.elapsed() < std::time::Duration::from_millis(2500) {
        let res = server
            .client
            .put(server.url(&path))
            .bearer_auth(TOKEN_A)
            .json(&json!({"allow": ["example.com"]}))
            .send()
            .await
            .unwrap();
        statuses.insert(res.status().as_u16());
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&409), "the deadline came: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_outlived_by_its_sandbox_answers_409_not_500() {
    let server = Server::start(&[]);
    let id = sandbox(&server, TOKEN_A, json!({"timeout": 1000})).await;
    let (status, body) = problem(
        server
            .post(
                TOKEN_A,
                &format!("/v1/sandboxes/{id}/commands"),
                json!({"cmd": "sleep", "args": ["10"]}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not running")),
        "{body}"
    );
}
