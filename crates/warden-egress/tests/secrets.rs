//! The secret never leaves through a side door: not in TRACE logs (ours, hyper's,
//! rustls'), not in Debug output, not in the audit log (nor the placeholder).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use warden_egress::{Binding, FrontDoor, Policy, ProxyConfig, Resolver, Secret, TestResolver};

const REAL_KEY: &str = "sk-proj-TOP-SECRET-never-log-me-4242424242";

/// A tracing writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One test in this binary owns the global subscriber, so spawned tasks on every worker
// thread are captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_is_absent_from_trace_logs_debug_output_and_the_audit_log() -> TestResult {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()?;

    let dir = tempfile::tempdir()?;
    let log = dir.path().join("audit.jsonl");
    let pki = TestPki::new()?;
    let api = Upstream::start(Some(pki.server_config(&["api.test"])?)).await?;
    let binding = Binding::with_prefix(
        "api.test",
        "authorization",
        "Bearer ",
        Secret::new(REAL_KEY),
    )?;
    let placeholder = binding.placeholder().to_string();
    let mut config = ProxyConfig::new(Policy::allow_list(["api.test"])?);
    config.bindings = vec![binding.clone()];
    config.extra_roots = vec![pki.ca_der()];
    config.audit_log = Some(log.clone());
    config.resolver = Resolver::test(TestResolver::new().pin("api.test", api.addr)?);
    let debug_config = format!("{config:?} {binding:?}");
    let (proxy, addr) = start_proxy(config).await?;

    // Injected through interception…
    let ca = proxy.ca_pem().ok_or("no CA")?;
    let (_, _, tunnel) = open_connect(addr, "api.test:443").await?;
    let mut sender =
        client(tls_in_tunnel(&tls_client_trusting(&ca)?, "api.test", tunnel).await?).await?;
    let req = http::Request::get("/v1/models")
        .header("host", "api.test")
        .header("authorization", format!("Bearer {placeholder}"))
        .body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    drop(sender);
    // …and through the front door.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let door = listener.local_addr()?;
    let serving = proxy.clone();
    let front = FrontDoor::new("https://api.test")?;
    tokio::spawn(async move { serving.serve_front_door_tcp(listener, front).await });
    let mut sender = client(tokio::net::TcpStream::connect(door).await?).await?;
    let req = http::Request::get("/v1/models")
        .header("authorization", format!("Bearer {placeholder}"))
        .body(Full::new(Bytes::new()))?;
    assert_eq!(send(&mut sender, req).await?.status, 200);
    drop(sender);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let seen = api.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        let auth = s.headers.get("authorization").and_then(|v| v.to_str().ok());
        assert_eq!(auth, Some(format!("Bearer {REAL_KEY}").as_str()));
    }

    let logs = String::from_utf8_lossy(&capture.0.lock().map(|v| v.clone()).unwrap_or_default())
        .into_owned();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "nothing was captured; the test would prove nothing"
    );
    assert!(!logs.contains(REAL_KEY), "the secret appeared in the logs");
    assert!(
        !logs.contains("TOP-SECRET"),
        "part of the secret appeared in the logs"
    );

    let debug_all = format!("{debug_config} {proxy:?}");
    assert!(
        !debug_all.contains("TOP-SECRET") && !debug_all.contains(&placeholder),
        "{debug_all}"
    );
    assert!(!format!("{:?}", Secret::new(REAL_KEY)).contains("TOP-SECRET"));

    let audit = std::fs::read_to_string(&log)?;
    let lines = audit_lines(&log);
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(lines.iter().all(|l| l["injected"] == true), "{audit}");
    assert!(lines.iter().any(|l| l["kind"] == "front-door"), "{audit}");
    assert!(
        !audit.contains("TOP-SECRET") && !audit.contains(&placeholder),
        "{audit}"
    );
    Ok(())
}
