//! `warden server` files and snapshots: a round trip of bytes, modes and directories;
//! every way out of the sandbox refused with 400 (`..`, a symlink planted inside that
//! points out, places other than /workspace and /home/sandbox); snapshots taken while the
//! sandbox runs, restored into a new sandbox, and kept from other tenants.

mod server_support;

use base64::Engine;
use serde_json::{json, Value};
use server_support::{problem, Server, TOKEN_A, TOKEN_B};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn sandbox(server: &Server, body: Value) -> String {
    server.create(TOKEN_A, body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_written_through_the_api_are_seen_inside_and_read_back_byte_for_byte() {
    let server = Server::start(&[]);
    let id = sandbox(&server, json!({})).await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let res = server
        .post(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/files"),
            json!({"files": [
                {"path": "/workspace/deep/er/run.sh", "content": b64(b"#!/bin/sh\necho ran\n"), "mode": 0o755},
                {"path": "/workspace/blob.bin", "content": b64(&binary)},
                {"path": "/home/sandbox/.config/x", "content": b64(b"home")},
            ]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (code, out, err) = server
        .sh(
            TOKEN_A,
            &id,
            "./deep/er/run.sh && stat -c %a blob.bin && cat ~/.config/x && touch made-inside",
        )
        .await;
    assert_eq!((code, out.as_str()), (0, "ran\n644\nhome"), "{err}");

    let res = server
        .get(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/files?path=/workspace/blob.bin"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.bytes().await.unwrap().as_ref(), binary.as_slice());

    let res = server
        .post(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/directories"),
            json!({"path": "/workspace/a/b/c", "parents": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let (status, body) = problem(
        server
            .post(
                TOKEN_A,
                &format!("/v1/sandboxes/{id}/directories"),
                json!({"path": "/workspace/x/y"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let listing: Value = server
        .get_json(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/directories?path=/workspace"),
        )
        .await;
    assert_eq!(
        listing["entries"],
        json!([
            {"name": "a", "type": "directory", "size": listing["entries"][0]["size"]},
            {"name": "blob.bin", "type": "file", "size": 300_000},
            {"name": "deep", "type": "directory", "size": listing["entries"][2]["size"]},
            {"name": "made-inside", "type": "file", "size": 0},
        ])
    );
    let (status, _) = problem(
        server
            .get(
                TOKEN_A,
                &format!("/v1/sandboxes/{id}/files?path=/workspace/missing"),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_out_of_the_sandbox_is_refused_with_400() {
    let server = Server::start(&[]);
    let id = sandbox(&server, json!({})).await;
    // A process inside plants symlinks to host places.
    let (code, _, err) = server
        .sh(TOKEN_A, &id, "ln -s /etc /workspace/etc-link && ln -s /etc/passwd /workspace/pw && mkdir -p /workspace/d && ln -s / /workspace/d/root")
        .await;
    assert_eq!(code, 0, "{err}");
    let escapes = [
        "/workspace/../etc/passwd",
        "/workspace/pw",
        "/workspace/etc-link/passwd",
        "/workspace/d/root/etc/passwd",
        "/etc/passwd",
        "/home/sandbox/../../etc/passwd",
        "/tmp/x",
        "workspace/relative",
        "/run/warden/sock/exec.sock",
    ];
    for path in escapes {
        let (status, body) = problem(
            server
                .get(TOKEN_A, &format!("/v1/sandboxes/{id}/files"))
                .query(&[("path", path)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "reading {path}: {body}");
        let (status, body) = problem(
            server
                .post(
                    TOKEN_A,
                    &format!("/v1/sandboxes/{id}/files"),
                    json!({"files": [{"path": path, "content": b64(b"pwned")}]}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "writing {path}: {body}");
    }
    for path in ["/workspace/etc-link", "/workspace/d/root", "/etc"] {
        let (status, body) = problem(
            server
                .get(TOKEN_A, &format!("/v1/sandboxes/{id}/directories"))
                .query(&[("path", path)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "listing {path}: {body}");
        let (status, body) = problem(
            server
                .post(
                    TOKEN_A,
                    &format!("/v1/sandboxes/{id}/directories"),
                    json!({"path": format!("{path}/new"), "parents": true}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "mkdir in {path}: {body}");
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!passwd.contains("pwned"));
    assert!(!std::path::Path::new("/etc/new").exists());
    let (status, body) = problem(
        server
            .post(
                TOKEN_A,
                &format!("/v1/sandboxes/{id}/files"),
                json!({"files": [{"path": "/workspace/ok", "content": "not base64!"}]}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("files[0].content"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_into_a_new_sandbox_and_belongs_to_its_tenant_only() {
    let server = Server::start(&[]);
    let id = sandbox(&server, json!({})).await;
    server
        .sh(
            TOKEN_A,
            &id,
            "echo saved > /workspace/state && echo h > ~/hfile",
        )
        .await;
    let res = server
        .post(TOKEN_A, &format!("/v1/sandboxes/{id}/snapshot"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let snap: Value = res.json().await.unwrap();
    let snap_id = snap["snapshotId"].as_str().unwrap().to_string();
    assert!(snap_id.starts_with("snap-"), "{snap}");
    assert_eq!(snap["sourceSandboxId"], id);
    assert!(snap["files"].as_u64().unwrap() >= 2, "{snap}");
    // The sandbox keeps running.
    let (code, out, _) = server.sh(TOKEN_A, &id, "cat /workspace/state").await;
    assert_eq!((code, out.as_str()), (0, "saved\n"));

    let restored = sandbox(
        &server,
        json!({"source": {"type": "snapshot", "snapshotId": snap_id}}),
    )
    .await;
    let (code, out, _) = server
        .sh(TOKEN_A, &restored, "cat /workspace/state ~/hfile")
        .await;
    assert_eq!((code, out.as_str()), (0, "saved\nh\n"));
    let got: Value = server
        .get_json(TOKEN_A, &format!("/v1/sandboxes/{restored}"))
        .await;
    assert_eq!(got["source"], format!("snapshot {snap_id}"));

    // Tenant B: not listed, 404 to read, delete or restore.
    let list: Value = server.get_json(TOKEN_B, "/v1/snapshots").await;
    assert_eq!(list["snapshots"], json!([]));
    let list: Value = server.get_json(TOKEN_A, "/v1/snapshots").await;
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1);
    for request in [
        server.get(TOKEN_B, &format!("/v1/snapshots/{snap_id}")),
        server.delete(TOKEN_B, &format!("/v1/snapshots/{snap_id}")),
        server.post(
            TOKEN_B,
            "/v1/sandboxes",
            json!({"source": {"type": "snapshot", "snapshotId": snap_id}}),
        ),
    ] {
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{body}");
    }
    let got: Value = server
        .get_json(TOKEN_A, &format!("/v1/snapshots/{snap_id}"))
        .await;
    assert_eq!(got, snap);
    let res = server
        .delete(TOKEN_A, &format!("/v1/snapshots/{snap_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (status, _) = problem(
        server
            .get(TOKEN_A, &format!("/v1/snapshots/{snap_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_source_is_copied_without_secrets_and_never_from_the_servers_state() {
    // A root (the temporary directory) that holds the server's own state too: that part
    // stays refused.
    let root = std::env::temp_dir();
    let server = Server::start(&["--source-root", root.to_str().unwrap()]);
    let tree = server.dir.path().join("tree");
    std::fs::create_dir_all(tree.join("src")).unwrap();
    std::fs::write(tree.join("src/app.py"), "print('hi')\n").unwrap();
    std::fs::write(tree.join(".env"), "API_KEY=sk-host-secret\n").unwrap();
    let id = sandbox(
        &server,
        json!({"source": {"type": "directory", "path": tree}}),
    )
    .await;
    let (code, out, _) = server.sh(TOKEN_A, &id, "cat src/app.py; ls -A").await;
    assert_eq!((code, out.as_str()), (0, "print('hi')\nsrc\n"));

    // Another tenant's files, the generated token, the tokens file: all in the server's state.
    let data = server.sandbox_dir();
    let theirs = data.join("sandboxes").join(&id).join("workspace");
    for path in [
        theirs.clone(),
        data.clone(),
        data.join("sandboxes"),
        server.dir.path().to_path_buf(),
    ] {
        let (status, body) = problem(
            server
                .post(
                    TOKEN_B,
                    "/v1/sandboxes",
                    json!({"source": {"type": "directory", "path": path}}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{}: {body}", path.display());
    }
    for (path, want) in [("relative/dir", 400), ("/no/such/dir", 403), ("/", 403)] {
        let (status, _) = problem(
            server
                .post(
                    TOKEN_B,
                    "/v1/sandboxes",
                    json!({"source": {"type": "directory", "path": path}}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, want, "{path}");
    }
}
