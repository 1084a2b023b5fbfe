//! What every handler shares, and the tenant-scoped lookups they all go through.

use crate::auth::{Caller, Tenants};
use crate::problem::{blocking, ApiError};
use crate::reaper::Reaper;
use std::sync::Arc;
use warden_sandbox::state::is_valid_id;
use warden_sandbox::{SandboxMeta, Sandboxes, SnapshotMeta};

/// The handlers' state.
#[derive(Debug, Clone)]
pub struct AppState {
    pub sandboxes: Sandboxes,
    pub tenants: Arc<Tenants>,
    pub urls: Arc<PublicUrls>,
    pub reaper: Reaper,
    /// Which host directories a `directory` source may copy.
    pub sources: Arc<crate::sources::SourcePolicy>,
    /// Sandbox names being created, per tenant.
    pub names: crate::names::NameClaims,
}

/// How clients reach this server, for the URLs of published ports.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    /// The host of path-routed URLs: the listen address (127.0.0.1 when it is unspecified).
    pub host: String,
    pub port: u16,
}

impl PublicUrls {
    pub fn new(addr: std::net::SocketAddr) -> PublicUrls {
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        PublicUrls {
            host,
            port: addr.port(),
        }
    }

    /// `http://<port>-<id>.localhost:<listen-port>`.
    pub fn by_host(&self, id: &str, port: u16) -> String {
        format!("http://{port}-{id}.localhost:{}", self.port)
    }

    /// `http://<listen>/v1/ports/<id>/<port>/`.
    pub fn by_path(&self, id: &str, port: u16) -> String {
        format!("http://{}:{}/v1/ports/{id}/{port}/", self.host, self.port)
    }
}

impl AppState {
    /// The caller's sandbox `id` (exactly: no names or prefixes over the wire). Another
    /// tenant's sandbox is answered as one that does not exist.
    pub async fn sandbox(&self, caller: &Caller, id: &str) -> Result<SandboxMeta, ApiError> {
        let meta = self.any_sandbox(id).await?;
        if !caller.owns(&meta.labels) {
            return Err(ApiError::SandboxNotFound(id.to_string()));
        }
        Ok(meta)
    }

    /// A sandbox made through this API (any tenant's), by exact id: for port routing,
    /// where the id in the URL is the only credential. Its record is read directly (no
    /// scan of every sandbox): port traffic comes here on every request.
    pub async fn any_sandbox(&self, id: &str) -> Result<SandboxMeta, ApiError> {
        let missing = || ApiError::SandboxNotFound(id.to_string());
        if !is_valid_id("sb", id) {
            return Err(missing());
        }
        let dir = self.sandboxes.root().sandbox_dir(id);
        let loaded = tokio::task::spawn_blocking(move || dir.load()).await?;
        match loaded {
            Ok(meta) if meta.labels.contains_key(crate::auth::TENANT_LABEL) => Ok(meta),
            Ok(_) => Err(missing()),
            Err(e) => {
                tracing::debug!(sandbox = id, error = %e, "no readable record");
                Err(missing())
            }
        }
    }

    /// The caller's running sandbox `id`, or 409 `not-running`.
    pub async fn running_sandbox(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<SandboxMeta, ApiError> {
        let meta = self.sandbox(caller, id).await?;
        let status = meta.effective_status();
        if status != warden_sandbox::Status::Running {
            return Err(ApiError::NotRunning(format!(
                "sandbox {id} is {status}, not running"
            )));
        }
        Ok(meta)
    }

    /// Every sandbox of the caller, oldest first.
    pub async fn sandboxes_of(&self, caller: &Caller) -> Result<Vec<SandboxMeta>, ApiError> {
        let sandboxes = self.sandboxes.clone();
        let all = blocking(move || sandboxes.list()).await?;
        Ok(all.into_iter().filter(|m| caller.owns(&m.labels)).collect())
    }

    /// The caller's snapshot `id` (exactly), else 404.
    pub async fn snapshot(&self, caller: &Caller, id: &str) -> Result<SnapshotMeta, ApiError> {
        if !is_valid_id("snap", id) {
            return Err(ApiError::SnapshotNotFound(id.to_string()));
        }
        self.snapshots_of(caller)
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::SnapshotNotFound(id.to_string()))
    }

    /// Every snapshot of the caller, oldest first.
    pub async fn snapshots_of(&self, caller: &Caller) -> Result<Vec<SnapshotMeta>, ApiError> {
        let sandboxes = self.sandboxes.clone();
        let all = blocking(move || sandboxes.snapshots()).await?;
        Ok(all.into_iter().filter(|s| caller.owns(&s.labels)).collect())
    }
}
