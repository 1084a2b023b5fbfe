//! The seed's OpenCode guide, for real: `examples/opencode-in-sandbox.ts` (built with the
//! TypeScript SDK) runs against this build's `warden server`, installs the real
//! `opencode-ai` from the npm registry inside a sandbox, serves it behind a password on a
//! published port, locks egress to the model host with the key injected by a header
//! transform, snapshots, restores with the policy applied from the start, and talks to
//! OpenCode over REST through the routed URL.
//!
//! The model host is `api.anthropic.com` as OpenCode knows it; the server's egress proxy
//! is pointed by its test-only hooks at a TLS front on loopback (a certificate from a
//! throwaway CA in `WARDEN_EGRESS_TEST_ROOTS`) that passes the bytes to warden-testkit's
//! mock LLM. With a test resolver nothing falls back to real DNS, so the npm registry's
//! addresses, as this machine resolves them, are listed too.

mod sandbox_support;
mod server_support;

use serde_json::Value;
use server_support::{Server, TOKEN_A};
use std::io::{BufRead, BufReader};
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use warden_testkit::mock_llm::{MockLlm, Script};

/// The version research/opencode.md was checked with.
const OPENCODE: &str = "1.18.33";
const REAL_KEY: &str = "sk-ant-api03-REAL-key-only-the-proxy-holds-0123456789";
const ANSWER: &str = "Hello from the mock model, through Warden.";
/// The example's token: tenant `a`'s, from the test server's tokens file.
const TOKEN: &str = TOKEN_A;

/// Accepts TLS for `api.anthropic.com` on loopback and passes each connection's bytes to
/// `to` (the mock LLM, plain HTTP). Returns the port.
fn tls_front(config: Arc<rustls::ServerConfig>, to: std::net::SocketAddr) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(conn).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    port
}

fn npm(sdk: &Path, args: &[&str]) {
    let out = Command::new("npm")
        .args(args)
        .current_dir(sdk)
        .stdin(Stdio::null())
        .output()
        .expect("npm (node and npm are needed; .ci/run installs them)");
    assert!(
        out.status.success(),
        "npm {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_opencode_guide_runs_end_to_end_with_the_key_only_outside_the_sandbox() {
    let mock = MockLlm::start_blocking(Script::new(Vec::new()).with_final_text(ANSWER));
    let (tls, ca_pem) = sandbox_support::test_pki(&["api.anthropic.com"]);
    let front = tls_front(tls, mock.addr());
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, ca_pem).unwrap();
    let mut resolve = format!("api.anthropic.com=127.0.0.1:{front}");
    for addr in ("registry.npmjs.org", 443)
        .to_socket_addrs()
        .expect("this machine resolves the npm registry (the test installs OpenCode from it)")
    {
        resolve.push_str(&format!(",registry.npmjs.org~{}", addr.ip()));
    }

    // The SDK and the example, built with tsc.
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/typescript");
    npm(&sdk, &["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    npm(&sdk, &["run", "build"]);
    npm(&sdk, &["exec", "--", "tsc", "-p", "tsconfig.examples.json"]);

    let roots = roots.to_str().expect("utf-8 temp path");
    let mut server = Server::start_with(
        &[],
        &[
            ("WARDEN_EGRESS_TEST_RESOLVE", &resolve),
            ("WARDEN_EGRESS_TEST_ROOTS", roots),
        ],
    );

    let started = std::time::Instant::now();
    let mut node = Command::new("node")
        .arg(sdk.join("build/examples/opencode-in-sandbox.js"))
        .current_dir(&sdk)
        .env("WARDEN_SERVER_URL", &server.base)
        .env("WARDEN_SERVER_TOKEN", TOKEN)
        .env("MODEL_API_KEY", REAL_KEY)
        .env("OPENCODE_VERSION", OPENCODE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let node_err = node.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(node_err), &mut text);
        text
    });
    // Each step as it comes, with the time it took: the guide's slow parts show here.
    let mut stdout = String::new();
    for line in BufReader::new(node.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        eprintln!("[{:6.1} s] {line}", started.elapsed().as_secs_f64());
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = node.wait().expect("node ran");
    let stderr = err_reader.join().unwrap_or_default();
    server.stop();
    let steps: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let result = steps
        .iter()
        .find_map(|s| s.get("result"))
        .unwrap_or_else(|| panic!("no result line:\n{stdout}\n{stderr}"))
        .clone();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no {name} step: {result}\n{stderr}"))
            .clone()
    };
    assert_eq!(result["ok"], true, "{result}\n{stderr}");
    assert!(status.success(), "{result}");

    // The guide's checks, each from its own step.
    assert_eq!(result["opencodeVersion"], OPENCODE, "{result}");
    assert_eq!(step("serve")["unauthorizedStatus"], 401);
    assert_eq!(step("config")["keyInConfig"], false);
    let egress = step("egress");
    assert_ne!(egress["blockedExitCode"], 0, "another host was reachable");
    assert_eq!(egress["keyInSandboxEnv"], false);
    let lock = step("lock");
    assert_eq!(
        lock["policy"]["transforms"]["api.anthropic.com"],
        serde_json::json!(["x-api-key"]),
        "{lock}"
    );
    assert!(!lock.to_string().contains(REAL_KEY));
    let restored = step("create-from-snapshot");
    assert_eq!(
        restored["policy"]["allow"],
        serde_json::json!(["api.anthropic.com"]),
        "the snapshot's sandbox starts locked: {restored}"
    );
    assert!(
        result["answer"]
            .as_str()
            .is_some_and(|a| a.contains(ANSWER)),
        "{result}"
    );
    assert!(
        result["cleanup"]
            .as_array()
            .is_some_and(|c| c.len() == 3 && c.iter().all(|l| !l.to_string().contains("failed"))),
        "{result}"
    );

    // The model saw the real key, added outside the sandbox; nothing inside held it.
    let generations = mock.generation_requests();
    assert!(!generations.is_empty(), "OpenCode never reached the model");
    for r in &generations {
        assert_eq!(r.header("x-api-key"), Some(REAL_KEY));
        assert!(!r.body_contains(REAL_KEY));
    }
    let log = server.log();
    assert!(!log.contains(REAL_KEY), "the key is in the server log");
    assert!(!log.contains(TOKEN), "the token is in the server log");
    // Wait briefly for the server's sandboxes to be gone (the example destroyed them).
    std::thread::sleep(Duration::from_millis(100));
    let left = std::fs::read_dir(server.sandbox_dir().join("sandboxes"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "sandboxes left behind");
}
