//! Connections from the proxy to the real destination: TCP to the checked address only,
//! TLS verified against webpki roots plus the configured extra roots.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::EgressError;
use crate::io::{Meter, Tracked};

/// The crypto provider used everywhere, named explicitly so the process-wide default
/// (which other crates in the binary may set differently) never matters.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The verifying client config: webpki roots + `extra_roots`, HTTP/1.1 only.
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, EgressError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        roots
            .add(root.clone())
            .map_err(|e| EgressError::ExtraRoot(e.to_string()))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why an upstream connection failed; answered to the sandbox as 502.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    #[error("connect timed out")]
    Timeout,
    #[error("TLS to the upstream failed: {0}")]
    Tls(std::io::Error),
    #[error("upstream host is not a valid TLS server name")]
    ServerName,
    #[error("HTTP exchange with the upstream failed: {0}")]
    Http(#[from] hyper::Error),
}

/// Connects to the first reachable address among the ones the policy checked.
pub(crate) async fn connect_tcp(
    addrs: &[SocketAddr],
    timeout: Duration,
    meter: Arc<Meter>,
) -> Result<Tracked<TcpStream>, UpstreamError> {
    let mut last = UpstreamError::Timeout;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // Small request/response exchanges dominate agent traffic; don't let Nagle delay them.
                let _ = stream.set_nodelay(true);
                return Ok(Tracked::new(stream, meter));
            }
            Ok(Err(e)) => last = UpstreamError::Connect(e),
            Err(_) => last = UpstreamError::Timeout,
        }
    }
    Err(last)
}

/// TCP to a checked address, then TLS verified for `host` (the CONNECT target or
/// front-door upstream, never a Host header).
pub(crate) async fn connect_tls(
    host: &str,
    addrs: &[SocketAddr],
    timeout: Duration,
    tls: &Arc<ClientConfig>,
    meter: Arc<Meter>,
) -> Result<TlsStream<Tracked<TcpStream>>, UpstreamError> {
    let tcp = connect_tcp(addrs, timeout, meter).await?;
    let name = ServerName::try_from(host.to_string()).map_err(|_| UpstreamError::ServerName)?;
    let handshake = TlsConnector::from(tls.clone()).connect(name, tcp);
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(UpstreamError::Tls(e)),
        Err(_) => Err(UpstreamError::Timeout),
    }
}
