//! What `warden server` is started with.

use crate::auth::TokenSource;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The default `--listen`: this machine only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";
/// The default `--max-body`: 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// The server's configuration; [`ServerConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (`--listen`); port 0 picks a free one.
    pub listen: SocketAddr,
    pub tokens: TokenSource,
    /// The directory of sandboxes and snapshots, shared with `warden sandbox`.
    pub sandbox_dir: PathBuf,
    /// The largest request body a handler reads (`--max-body`); proxied port traffic
    /// streams and is not limited.
    pub max_body: usize,
    /// The warden binary that supervises sandboxes and runs as their init (default:
    /// this process's own executable).
    pub executable: Option<PathBuf>,
    /// `--source-root`: the host directories under which a `directory` source may be
    /// copied. None: only a server with a single tenant copies directories (see
    /// [`crate::sources`]).
    pub source_roots: Vec<PathBuf>,
}

impl ServerConfig {
    /// Defaults: 127.0.0.1:7070, a generated token, 64 MiB bodies.
    pub fn new(sandbox_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            tokens: TokenSource::Generate,
            sandbox_dir: sandbox_dir.into(),
            max_body: DEFAULT_MAX_BODY,
            executable: None,
            source_roots: Vec::new(),
        }
    }
}
