//! The crate's error type.

use std::path::PathBuf;

/// What went wrong setting up or running the proxy. Request-level failures are answered
/// to the sandbox (403/400/502) and logged, not returned here.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("cannot generate the interception CA or a leaf certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("an extra root certificate was rejected: {0}")]
    ExtraRoot(String),
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("front door upstream {url:?}: {why}")]
    FrontDoor { url: String, why: &'static str },
    #[error("accepting connections: {0}")]
    Accept(std::io::Error),
    #[error("two bindings for {host} set the same header {header}")]
    DuplicateBinding { host: String, header: String },
    #[error("this proxy has no interception CA, so it cannot take bindings now (build it with live_bindings)")]
    NoInterceptionCa,
    #[error(transparent)]
    Binding(#[from] crate::secret::BindingError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Resolver(#[from] crate::resolve::ResolverError),
}
