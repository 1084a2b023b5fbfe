//! `warden server` end to end: tokens and tenants, the sandbox lifecycle, problem JSON
//! for every kind of bad request, the OpenAPI document, and a restart that finds the
//! sandboxes again. The real binary, real sandboxes, real HTTP on loopback.

mod server_support;

use serde_json::{json, Value};
use server_support::{problem, Server, TOKEN_A, TOKEN_B};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_valid_token_is_401_and_open_routes_need_none() {
    let server = Server::start(&[]);
    let res = server
        .client
        .get(server.url("/v1/sandboxes"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"warden\""
    );
    let (status, body) = problem(res).await;
    assert_eq!(status, 401);
    assert_eq!(body["type"], "https://warden.dev/problems/unauthorized");
    for token in ["wrong-token-0123456789", "", &TOKEN_A[..TOKEN_A.len() - 1]] {
        let res = server.get(token, "/v1/sandboxes").send().await.unwrap();
        assert_eq!(problem(res).await.0, 401, "token {token:?}");
    }
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let doc: Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/v1/sandboxes",
        "/v1/sandboxes/{id}/commands",
        "/v1/sandboxes/{id}/files",
        "/v1/snapshots/{id}",
        "/v1/sandboxes/{id}/network-policy",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "no {path} in the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["Sandbox"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let log = std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default();
    assert!(
        !log.contains(TOKEN_A) && !log.contains("wrong-token"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_is_created_used_and_destroyed_and_another_tenant_never_sees_it() {
    let server = Server::start(&[]);
    let sb = server
        .create(
            TOKEN_A,
            json!({"name": "alpha", "ports": [8000], "resources": {"vcpus": 1, "memory": 512, "pids": 256},
                   "env": {"GREETING": "hello"}, "timeout": 600000,
                   "networkPolicy": {"allow": ["example.com", "*.example.org"]}}),
        )
        .await;
    let id = sb["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sb-"), "{sb}");
    assert_eq!(sb["status"], "running");
    assert_eq!(sb["name"], "alpha");
    assert_eq!(
        sb["resources"],
        json!({"vcpus": 1.0, "memory": 512, "pids": 256})
    );
    let port = server.addr.port();
    assert_eq!(
        sb["ports"],
        json!([{"port": 8000, "url": format!("http://8000-{id}.localhost:{port}"),
                "pathUrl": format!("http://127.0.0.1:{port}/v1/ports/{id}/8000/")}])
    );
    assert_eq!(
        sb["networkPolicy"],
        json!({"mode": "allow-list", "allow": ["example.com", "*.example.org"], "deny": [], "transforms": {}})
    );
    let timeout = sb["timeoutAt"].as_u64().unwrap() - sb["createdAt"].as_u64().unwrap();
    assert!((599_000..=601_000).contains(&timeout), "{timeout}");

    let (code, out, _) = server.sh(TOKEN_A, &id, "echo $GREETING; pwd; exit 7").await;
    assert_eq!((code, out.as_str()), (7, "hello\n/workspace\n"));

    // Tenant B: not in its list, 404 on every route, exactly as an id that does not exist.
    let list: Value = server.get_json(TOKEN_B, "/v1/sandboxes").await;
    assert_eq!(list["sandboxes"], json!([]));
    let list: Value = server.get_json(TOKEN_A, "/v1/sandboxes").await;
    assert_eq!(list["sandboxes"].as_array().unwrap().len(), 1);
    let routes = [
        server.get(TOKEN_B, &format!("/v1/sandboxes/{id}")),
        server.post(
            TOKEN_B,
            &format!("/v1/sandboxes/{id}/commands"),
            json!({"cmd": "true"}),
        ),
        server.get(
            TOKEN_B,
            &format!("/v1/sandboxes/{id}/files?path=/workspace"),
        ),
        server.get(
            TOKEN_B,
            &format!("/v1/sandboxes/{id}/directories?path=/workspace"),
        ),
        server.post(TOKEN_B, &format!("/v1/sandboxes/{id}/snapshot"), json!({})),
        server
            .client
            .put(server.url(&format!("/v1/sandboxes/{id}/network-policy")))
            .bearer_auth(TOKEN_B)
            .json(&json!("allow-all")),
        server.delete(TOKEN_B, &format!("/v1/sandboxes/{id}")),
    ];
    for request in routes {
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["detail"], format!("no sandbox {id:?}"));
    }
    let (status, _) = problem(
        server
            .get(TOKEN_A, "/v1/sandboxes/sb-0000000000")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    // The policy changes live, and the view shows it.
    let view: Value = server
        .client
        .put(server.url(&format!("/v1/sandboxes/{id}/network-policy")))
        .bearer_auth(TOKEN_A)
        .json(&json!("deny-all"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["mode"], "deny-all");
    let sb: Value = server
        .get_json(TOKEN_A, &format!("/v1/sandboxes/{id}"))
        .await;
    assert_eq!(sb["networkPolicy"]["mode"], "deny-all");

    let res = server
        .delete(TOKEN_A, &format!("/v1/sandboxes/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert!(!server.sandbox_dir().join("sandboxes").join(&id).exists());
    let (status, _) = problem(
        server
            .get(TOKEN_A, &format!("/v1/sandboxes/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_problem_json_with_the_right_status() {
    let server = Server::start(&["--max-body", "64K"]);
    let raw = |body: &'static str, content_type: &'static str| {
        server
            .client
            .post(server.url("/v1/sandboxes"))
            .bearer_auth(TOKEN_A)
            .header("content-type", content_type)
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            raw("{\"ports\": [", "application/json"),
            400,
            "invalid-request",
            "",
        ),
        (
            raw("{\"ports\": \"x\"}", "application/json"),
            400,
            "invalid-request",
            "ports",
        ),
        (
            raw("{\"bogus\": 1}", "application/json"),
            400,
            "invalid-request",
            "bogus",
        ),
        (
            raw("{}", "text/plain"),
            415,
            "unsupported-media-type",
            "application/json",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"networkPolicy": {"allow": ["exa mple.com"]}}),
            ),
            400,
            "invalid-request",
            "networkPolicy",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"networkPolicy": "allow-some"}),
            ),
            400,
            "invalid-request",
            "networkPolicy",
        ),
        (
            server.post(TOKEN_A, "/v1/sandboxes", json!({"ports": [0]})),
            400,
            "invalid-request",
            "ports[0]",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"resources": {"memory": 0}}),
            ),
            400,
            "invalid-request",
            "resources.memory",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"resources": {"memory": 16}}),
            ),
            400,
            "invalid-request",
            "32 MiB",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"resources": {"vcpus": 0.001}}),
            ),
            400,
            "invalid-request",
            "resources.vcpus",
        ),
        (
            server.post(TOKEN_A, "/v1/sandboxes", json!({"resources": {"pids": 8}})),
            400,
            "invalid-request",
            "resources.pids",
        ),
        (
            server.post(TOKEN_A, "/v1/sandboxes", json!({"timeout": 10})),
            400,
            "invalid-request",
            "timeout",
        ),
        (
            server.post(TOKEN_A, "/v1/sandboxes", json!({"ports": [70000]})),
            400,
            "invalid-request",
            "ports",
        ),
        (
            server.post(TOKEN_A, "/v1/sandboxes", json!({"name": "../x"})),
            400,
            "invalid-request",
            "name",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"source": {"type": "snapshot", "snapshotId": "snap-00000000"}}),
            ),
            404,
            "not-found",
            "snap-00000000",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"source": {"type": "git", "url": "git@example.com:r.git"}}),
            ),
            400,
            "invalid-request",
            "git URL",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"networkPolicy": {"allow": {"*.a.com": [{"transform": [{"headers": {"x-k": "sk-never-shown"}}]}]}}}),
            ),
            400,
            "invalid-request",
            "*.a.com",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes",
                json!({"env": {"A": "x".repeat(70_000)}}),
            ),
            413,
            "payload-too-large",
            "--max-body",
        ),
        (
            server.get(TOKEN_A, "/v1/nothing-here"),
            404,
            "not-found",
            "no route",
        ),
        (
            server.delete(TOKEN_A, "/v1/sandboxes"),
            405,
            "method-not-allowed",
            "DELETE",
        ),
        (
            server.get(TOKEN_A, "/v1/snapshots/snap-00000000"),
            404,
            "not-found",
            "",
        ),
        (
            server.get(TOKEN_A, "/v1/snapshots/../../etc"),
            404,
            "not-found",
            "",
        ),
        (
            server.post(
                TOKEN_A,
                "/v1/sandboxes/sb-0000000000/commands",
                json!({"cmd": "true"}),
            ),
            404,
            "not-found",
            "",
        ),
    ];
    for (request, want, slug, mentions) in cases {
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, want, "{body}");
        assert_eq!(
            body["type"],
            format!("https://warden.dev/problems/{slug}"),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(mentions),
            "{body}"
        );
    }
    assert_eq!(
        server
            .get(TOKEN_A, "/v1/sandboxes")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["sandboxes"],
        json!([]),
        "a refused request left a sandbox"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sandbox_route_checks_the_sandbox_first_and_another_tenant_changes_nothing() {
    let server = Server::start(&[]);
    let created = server.create(TOKEN_A, json!({})).await;
    let id = created["id"].as_str().unwrap().to_string();
    let base = format!("/v1/sandboxes/{id}");
    let requests = |token: &str| {
        [
            server.post(token, &format!("{base}/stop"), json!({})),
            server.post(token, &format!("{base}/extend-timeout"), json!({"duration": 60000})),
            server.post(token, &format!("{base}/commands"), json!({"cmd": "touch", "args": ["/workspace/ran"], "detached": true})),
            server.get(token, &format!("{base}/commands")),
            server.get(token, &format!("{base}/commands/cmd-0000000000?wait=true")),
            server.get(token, &format!("{base}/commands/cmd-0000000000/logs")),
            server.post(token, &format!("{base}/commands/cmd-0000000000/kill"), json!({"signal": "SIGTERM"})),
            server.put(token, &format!("{base}/network-policy"), json!({"allow": {"api.anthropic.com": [{"transform": [{"headers": {"x-api-key": "sk-never-shown"}}]}]}})),
        ]
    };
    // Another tenant: 404 for every route, before anything is done.
    for request in requests(TOKEN_B) {
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{body}");
        assert!(!body.to_string().contains("sk-never-shown"));
    }
    let sb: Value = server
        .get(TOKEN_A, &base)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sb["status"], "running");
    assert_eq!(sb["timeoutAt"], created["timeoutAt"]);
    assert_eq!(sb["networkPolicy"]["mode"], "deny-all");
    let (_, out, _) = server.sh(TOKEN_A, &id, "ls /workspace").await;
    assert_eq!(out, "", "tenant b's command ran");
    // A bad signal is a 400 before the command is looked up.
    let (status, _) = problem(
        server
            .post(
                TOKEN_A,
                &format!("{base}/commands/cmd-0000000000/kill"),
                json!({"signal": "SIGBOGUS"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    // No route of the contract answers 501 any more.
    let doc: Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !doc.to_string().contains("\"501\""),
        "a 501 is still documented"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_finds_its_sandboxes_still_running() {
    let mut server = Server::start(&[]);
    let id = server.create(TOKEN_A, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.sh(TOKEN_A, &id, "echo kept > /workspace/note").await;
    let status = server.stop();
    assert!(
        status.success(),
        "the server exited with {status} on SIGTERM"
    );
    server.restart();
    let sb: Value = server
        .get_json(TOKEN_A, &format!("/v1/sandboxes/{id}"))
        .await;
    assert_eq!(sb["status"], "running", "{sb}");
    let (code, out, _) = server.sh(TOKEN_A, &id, "cat /workspace/note").await;
    assert_eq!((code, out.as_str()), (0, "kept\n"));
}
