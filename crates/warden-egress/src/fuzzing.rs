//! Entry points for the fuzz targets (`fuzz/fuzz_targets/egress_*.rs`): what the proxy
//! does with bytes a sandbox controls, without DNS and without reaching past loopback.
//! Not an API: hidden from the docs, subject to change.

use std::sync::Arc;

use http::uri::{Authority, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::front_door::FrontDoor;
use crate::proxy::{Mode, Proxy};

/// The request-target of `CONNECT <target> HTTP/1.1`, as the proxy reads it: `None`
/// when it is no authority at all (hyper answers 400 before the proxy sees it).
pub fn parse_connect_target(target: &[u8]) -> Option<Result<(String, u16), &'static str>> {
    let auth = Authority::try_from(target).ok()?;
    Some(crate::target::parse_authority(&auth, None))
}

/// An absolute-form request-target (`GET http://host[:port]/path`): the host and port the
/// proxy would check, or why it refuses.
pub fn parse_absolute_target(target: &[u8]) -> Option<Result<(String, u16), &'static str>> {
    let uri = Uri::try_from(target).ok()?;
    let auth = uri.authority()?;
    Some(crate::target::parse_authority(auth, Some(80)))
}

/// The canonical form hosts are compared and logged in (`None`: not a host).
pub fn canonical_host(host: &str) -> Option<String> {
    crate::policy::canonical_host(host)
}

/// Serves `input` as one client connection on the proxy port (or, with `front`, on a
/// front door) and returns everything the proxy answered, once it closed the connection.
pub async fn serve_bytes(proxy: &Proxy, front: Option<&FrontDoor>, input: &[u8]) -> Vec<u8> {
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let mode = match front {
        Some(door) => Mode::FrontDoor(Arc::new(door.clone())),
        None => Mode::Proxy,
    };
    let task = tokio::spawn(proxy.inner.clone().serve_connection(server, mode));
    let (mut read, mut write) = tokio::io::split(&mut client);
    let writing = async {
        let _ = write.write_all(input).await;
        let _ = write.shutdown().await;
    };
    let mut answer = Vec::new();
    let reading = read.read_to_end(&mut answer);
    let _ = tokio::join!(writing, reading);
    let _ = task.await;
    answer
}
