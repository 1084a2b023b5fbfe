//! `warden server` network rules and git sources against upstreams on loopback, named
//! through the egress proxy's test resolver: header transforms given at create and by
//! PUT reach an HTTPS upstream while no answer, file or log holds their values; deny
//! lists refuse; a wildcard transform is a 400; a git source is cloned inside, and a
//! bad one is a 400 that leaves nothing.

mod server_support;

#[path = "sandbox_support/mod.rs"]
mod sandbox_support;

#[path = "git_support/mod.rs"]
mod git_support;

use sandbox_support::{test_pki, Upstream};
use serde_json::{json, Value};
use server_support::{problem, Server, TOKEN_A};

const FIRST: &str = "sk-server-transform-FIRST-0123456789";
const SECOND: &str = "sk-server-transform-SECOND-9876543210";

/// The loopback upstreams and the server variables that name them.
struct Net {
    api: Upstream,
    plain: Upstream,
    roots: tempfile::TempDir,
    resolve: String,
}

impl Net {
    fn start() -> Net {
        let (tls, ca_pem) = test_pki(&["api.test"]);
        let api = Upstream::start(Some(tls));
        let plain = Upstream::start(None);
        let roots = tempfile::tempdir().unwrap();
        std::fs::write(roots.path().join("roots.pem"), ca_pem).unwrap();
        let resolve = format!(
            "api.test=127.0.0.1:{},plain.test=127.0.0.1:{},denied.test=127.0.0.1:{},git.test=127.0.0.1:{}",
            api.port,
            plain.port,
            plain.port,
            git_support::server().port
        );
        Net {
            api,
            plain,
            roots,
            resolve,
        }
    }

    fn server(&self) -> Server {
        let pem = self.roots.path().join("roots.pem");
        Server::start_with(
            &[],
            &[
                ("WARDEN_EGRESS_TEST_RESOLVE", &self.resolve),
                ("WARDEN_EGRESS_TEST_ROOTS", pem.to_str().unwrap()),
            ],
        )
    }

    /// The `x-api-key` the HTTPS upstream saw on the request for `path`.
    fn key_seen(&self, path: &str) -> Option<String> {
        let heads = self.api.heads();
        let head = heads
            .split("\n---\n")
            .find(|h| h.starts_with(&format!("GET {path} ")))?;
        head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("x-api-key:")
                .then(|| l["x-api-key:".len()..].trim().to_string())
        })
    }
}

/// `curl` from inside: the status and the egress marker (when refused), or how it failed.
async fn status(server: &Server, id: &str, url: &str) -> String {
    let script = format!(
        "code=$(curl -s -o /dev/null -D /tmp/h -w '%{{http_code}}' -H 'x-api-key: from-sandbox' '{url}') \
           || {{ echo \"curl-exit $?\"; exit 0; }}; \
         echo \"$code $(tr -d '\\r' < /tmp/h | grep -i '^x-warden-egress:')\""
    );
    server.sh(TOKEN_A, id, &script).await.1.trim().to_string()
}

fn transform(value: &str) -> Value {
    json!({"api.test": [{"transform": [{"headers": {"X-Api-Key": value}}]}], "plain.test": []})
}

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let bytes = std::fs::read(entry.path()).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(entry.path());
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_at_create_and_by_put_reach_the_https_upstream_and_are_never_shown_or_kept() {
    let net = Net::start();
    let server = net.server();
    let created = server
        .create(
            TOKEN_A,
            json!({"networkPolicy": {"allow": transform(FIRST)}}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["networkPolicy"],
        json!({"mode": "allow-list", "allow": ["api.test", "plain.test"], "deny": [],
               "transforms": {"api.test": ["x-api-key"]}})
    );
    assert_eq!(status(&server, &id, "https://api.test/create").await, "200");
    assert_eq!(net.key_seen("/create").as_deref(), Some(FIRST));
    // Plain HTTP never gets the header: what the sandbox sent arrives as it was.
    assert_eq!(status(&server, &id, "http://plain.test/plain").await, "200");
    assert!(!net.plain.heads().contains(FIRST));

    let res = server
        .put(
            TOKEN_A,
            &format!("/v1/sandboxes/{id}/network-policy"),
            json!({"allow": transform(SECOND), "deny": ["denied.test"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["deny"], json!(["denied.test"]), "{view}");
    assert_eq!(view["transforms"], json!({"api.test": ["x-api-key"]}));
    assert_eq!(status(&server, &id, "https://api.test/put").await, "200");
    assert_eq!(net.key_seen("/put").as_deref(), Some(SECOND));

    let shown = server
        .get(TOKEN_A, &format!("/v1/sandboxes/{id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&shown).unwrap()["networkPolicy"],
        view
    );
    for secret in [FIRST, SECOND] {
        assert!(!shown.contains(secret) && !view.to_string().contains(secret));
        assert_eq!(
            files_holding(&server.sandbox_dir(), secret),
            Vec::<std::path::PathBuf>::new()
        );
        assert!(!server.log().contains(secret), "the server logged a value");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_list_refuses_and_a_wildcard_or_unallowed_transform_is_400_naming_its_domain() {
    let net = Net::start();
    let server = net.server();
    let id = server
        .create(
            TOKEN_A,
            json!({"networkPolicy": {"allow": ["api.test", "plain.test", "denied.test"],
                                     "deny": ["denied.test"]}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status(&server, &id, "http://plain.test/ok").await, "200");
    assert_eq!(
        status(&server, &id, "http://denied.test/x").await,
        "403 x-warden-egress: denied; reason=deny-list"
    );
    let policy = format!("/v1/sandboxes/{id}/network-policy");
    for (body, needle) in [
        (
            json!({"allow": {"*.api.test": [{"transform": [{"headers": {"x-api-key": FIRST}}]}]}}),
            "*.api.test",
        ),
        (
            json!({"allow": {"api.test": [{"transform": [{"headers": {"x-api-key": FIRST}}]}]},
                   "deny": ["api.test"]}),
            "api.test",
        ),
    ] {
        for request in [
            server.put(TOKEN_A, &policy, body.clone()),
            server.post(TOKEN_A, "/v1/sandboxes", json!({"networkPolicy": body})),
        ] {
            let (status, problem) = problem(request.send().await.unwrap()).await;
            assert_eq!(status, 400, "{problem}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(
                detail.contains(needle) && !detail.contains(FIRST),
                "{detail}"
            );
        }
    }
    // The refused PUT changed nothing.
    assert_eq!(
        status(&server, &id, "http://denied.test/still").await,
        "403 x-warden-egress: denied; reason=deny-list"
    );
    assert!(!server.log().contains(FIRST));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_source_is_cloned_inside_and_a_bad_one_is_400_leaving_no_sandbox() {
    let net = Net::start();
    let server = net.server();
    let created = server
        .create(
            TOKEN_A,
            json!({"source": {"type": "git", "url": "http://git.test/repo.git", "revision": "feature", "depth": 1}}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["source"], "git http://git.test/repo.git (feature)");
    assert_eq!(created["networkPolicy"]["mode"], "deny-all");
    let (code, out, _) = server
        .sh(
            TOKEN_A,
            id,
            "cat README feature.txt; git log --oneline | wc -l",
        )
        .await;
    assert_eq!((code, out.as_str()), (0, "second\nfeature\n1\n"));

    for (source, needle) in [
        (
            json!({"type": "git", "url": "http://git.test/missing.git"}),
            "missing.git",
        ),
        (
            json!({"type": "git", "url": "http://git.test/repo.git", "revision": "no-such-branch"}),
            "no-such-branch",
        ),
        (
            json!({"type": "git", "url": "ssh://git.test/repo.git"}),
            "http",
        ),
        (
            json!({"type": "git", "url": "https://me:tok@git.test/r.git"}),
            "credentials",
        ),
        (
            json!({"type": "git", "url": "http://git.test/repo.git", "depth": 0}),
            "depth",
        ),
    ] {
        let (status, body) = problem(
            server
                .post(TOKEN_A, "/v1/sandboxes", json!({"source": source}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{body}");
    }
    let list: Value = server.get_json(TOKEN_A, "/v1/sandboxes").await;
    assert_eq!(list["sandboxes"].as_array().unwrap().len(), 1, "{list}");
    let dirs = std::fs::read_dir(server.sandbox_dir().join("sandboxes"))
        .unwrap()
        .count();
    assert_eq!(dirs, 1, "a failed clone left its directory");
}
