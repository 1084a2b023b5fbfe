//! Whole client connections to the egress proxy (and to a front door) on arbitrary
//! bytes: requests, CONNECTs, pipelined garbage. Never a panic, never a hang; whatever
//! is answered is HTTP/1.1; the brokered secret never comes back to the client. Nothing
//! leaves loopback: the only names that resolve are pinned to a server in this process
//! (which answers a fixed response), every other name fails to resolve.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_egress::{
    Binding, FrontDoor, Policy, Proxy, ProxyConfig, Resolver, Secret, TestResolver,
};

const SECRET: &str = "FUZZ-SECRET-VALUE-0123456789";

struct World {
    proxy: Proxy,
    front: FrontDoor,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// A loopback server that reads a request head (or until EOF) and answers 200.
async fn upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while head.len() < 1 << 16 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        runtime().block_on(async {
            let up = upstream().await;
            let table = TestResolver::new()
                .pin("up.fuzz.test", up)
                .and_then(|t| t.pin("secret.fuzz.test", up))
                .expect("pins")
                .dns("inside.fuzz.test", "10.0.0.1".parse().expect("ip"));
            let mut config = ProxyConfig::new(
                Policy::allow_list([
                    "up.fuzz.test",
                    "*.wild.fuzz.test",
                    "secret.fuzz.test",
                    "inside.fuzz.test",
                ])
                .expect("policy"),
            );
            config.resolver = Resolver::test(table);
            config.bindings =
                vec![
                    Binding::new("secret.fuzz.test", "x-api-key", Secret::new(SECRET))
                        .expect("binding"),
                ];
            config.idle_timeout = Duration::from_secs(5);
            config.connect_timeout = Duration::from_secs(2);
            World {
                proxy: Proxy::new(config).expect("proxy"),
                front: FrontDoor::new("https://secret.fuzz.test").expect("front door"),
            }
        })
    })
}

fuzz_target!(|input: &[u8]| {
    let world = world();
    let (front, bytes) = match input.split_first() {
        Some((first, rest)) if first % 4 == 0 => (Some(&world.front), rest),
        _ => (None, input),
    };
    let answer = runtime().block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            warden_egress::fuzzing::serve_bytes(&world.proxy, front, bytes),
        )
        .await
    });
    let answer = answer.expect("the proxy did not finish a closed connection within 20 s");
    // An HTTP/1.0 client may be answered in its own version.
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
        "not an HTTP answer: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
    assert!(
        !answer.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the brokered secret came back to the client"
    );
});
