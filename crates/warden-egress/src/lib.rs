//! Warden's egress proxy: the only way out of a sandbox.
//!
//! The sandbox has a network namespace with only `lo`; an in-sandbox bridge forwards
//! `127.0.0.1:3128` to a unix socket that [`Proxy::serve_proxy`] listens on. Every
//! request is decided in this order, failing closed at each step:
//!
//! 1. **Policy on the name** ([`Policy::decide_host`]): exact names, `*.domain`
//!    wildcards (subdomains only), IP literals only when listed exactly. A denied name
//!    is never resolved.
//! 2. **Host-side DNS and the address filter** ([`addr::is_internal`]): loopback,
//!    private, CGNAT, link-local/metadata, multicast… are refused even for allowed
//!    names. The proxy connects to the address it checked, so there is no rebinding window.
//! 3. **Forwarding**: CONNECT tunnels (opaque), absolute-form `http://` requests
//!    (origin-form upstream, hop-by-hop headers removed), or, for hosts with a
//!    [`Binding`], TLS interception with a per-proxy CA.
//!
//! Denials are `403` with `x-warden-egress: denied; reason=<token>` ([`DenyReason::token`]).
//! Every connection or request is one JSON line in the audit log ([`AuditRecord`]).
//!
//! # Credential brokering
//! A [`Binding`] ties one secret to one exact host and one header. The sandbox only sees
//! [`Binding::placeholder`]. The proxy overwrites the header with the real value on
//! requests to that host, only over verified TLS, routed by the CONNECT target or the
//! front door's upstream and never by a `Host` header:
//! - **front door** ([`Proxy::serve_front_door`]): plain HTTP in, HTTPS out; the sandbox
//!   sets e.g. `ANTHROPIC_BASE_URL=http://127.0.0.1:<port>`. No CA needed. Its upstream
//!   may also be a server on the host's loopback that the user chose (a local model
//!   server): then that one address is reachable, through the door only, and the
//!   secret goes there in plaintext without leaving the machine. A door can carry its
//!   own bindings ([`FrontDoor::with_binding`]); a binding can also remove a header and
//!   add a token to a list header ([`Binding::removing`], [`Binding::with_list_token`]:
//!   a Claude subscription's `anthropic-beta: oauth-2025-04-20`).
//! - **interception**: `CONNECT api.anthropic.com:443` is terminated with a leaf signed
//!   by [`Proxy::ca_pem`], which the sandbox trusts through [`bound_env`]/[`ca_bundle`].
//!   Inside such a tunnel, a request whose `Host` names another host is refused with 421.
//!
//! Plain `http://` requests through the proxy are never injected; a placeholder sent
//! there, or to any unbound host, arrives unchanged. WebSocket/`Upgrade` requests through absolute-form
//! or interception are refused with 501 (use an opaque CONNECT instead).
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use warden_egress::{Binding, FrontDoor, Policy, Proxy, ProxyConfig};
//!
//! let mut config = ProxyConfig::new(Policy::allow_list(["api.anthropic.com", "*.github.com"])?);
//! config.bindings.push(Binding::parse("api.anthropic.com:x-api-key=env:ANTHROPIC_API_KEY")?);
//! config.audit_log = Some("/tmp/egress.jsonl".into());
//! let proxy = Proxy::new(config)?;
//! let sandbox_ca = proxy.ca_pem(); // write ca_bundle(&pem) where the sandbox reads it
//! let listener = tokio::net::UnixListener::bind("/tmp/egress.sock")?;
//! let front = tokio::net::UnixListener::bind("/tmp/anthropic.sock")?;
//! tokio::spawn({
//!     let proxy = proxy.clone();
//!     async move { proxy.serve_front_door(front, FrontDoor::new("https://api.anthropic.com")?).await }
//! });
//! proxy.serve_proxy(listener).await?;
//! # let _ = sandbox_ca; Ok(()) }
//! ```

#![deny(unsafe_code)]

mod absolute;
pub mod addr;
mod audit;
mod ca;
mod connect;
mod env;
mod error;
mod forward;
mod front_door;
#[doc(hidden)]
pub mod fuzzing;
mod io;
mod policy;
mod proxy;
mod resolve;
mod respond;
mod secret;
mod socket;
#[cfg(target_os = "linux")]
mod splice;
mod target;
mod upstream;

pub use audit::{AuditKind, AuditRecord};
pub use env::{
    bound_env, ca_bundle, certificates_from_pem_file, placeholder_env, CA_ENV_VARS,
    SYSTEM_CA_BUNDLE,
};
pub use error::EgressError;
pub use front_door::FrontDoor;
pub use policy::{Decision, DenyReason, Pattern, Policy, PolicyError};
pub use proxy::{Proxy, ProxyConfig};
pub use resolve::{Resolver, ResolverError, TestResolver, TEST_RESOLVE_ENV, TEST_RESOLVE_LOG_ENV};
pub use respond::MARKER_HEADER;
pub use rustls::pki_types::CertificateDer;
pub use secret::{placeholder_for, Binding, BindingError, Secret, SecretSource};
