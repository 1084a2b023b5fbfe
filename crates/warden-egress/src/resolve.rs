//! Host-side name resolution, and the test override that keeps tests on loopback.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::addr::is_internal;
use crate::policy::{normalise_host, parse_ip_literal, DenyReason};

/// A bad [`TestResolver`] entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolverError {
    #[error("test resolver entry {entry:?}: {why}")]
    InvalidEntry { entry: String, why: &'static str },
}

/// Where the proxy connects for a name that the policy allowed and the filter passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Checked addresses, tried in order; the proxy connects to these and never re-resolves.
    pub addrs: Vec<SocketAddr>,
    /// The name was a test pin: trusted, filter bypassed.
    pub pinned: bool,
}

/// How the proxy turns names into addresses.
#[derive(Clone, Default)]
pub struct Resolver {
    test: Option<TestResolver>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.test {
            None => f.write_str("Resolver::System"),
            Some(t) => f.debug_tuple("Resolver::Test").field(t).finish(),
        }
    }
}

/// The variable [`Resolver::from_env`] reads, in the [`TestResolver`] string format.
pub const TEST_RESOLVE_ENV: &str = "WARDEN_EGRESS_TEST_RESOLVE";
/// With [`TEST_RESOLVE_ENV`]: a file every name asked is appended to, one per line, so an
/// end-to-end test can assert from outside the proxy's process what was never resolved.
pub const TEST_RESOLVE_LOG_ENV: &str = "WARDEN_EGRESS_TEST_RESOLVE_LOG";

const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_RECORDED_QUERIES: usize = 100_000;

impl Resolver {
    /// The host's resolver (`getaddrinfo` through `tokio::net::lookup_host`).
    pub fn system() -> Resolver {
        Resolver { test: None }
    }

    /// A fixed table for tests; names not in it fail to resolve (never fall back to real DNS).
    pub fn test(table: TestResolver) -> Resolver {
        Resolver { test: Some(table) }
    }

    /// The test table from [`TEST_RESOLVE_ENV`] when that variable is set (end-to-end
    /// tests of the `warden` binary), else the system resolver. Read from the host's
    /// environment, never the sandbox's; pins can only name loopback addresses.
    pub fn from_env() -> Result<Resolver, ResolverError> {
        match std::env::var(TEST_RESOLVE_ENV) {
            Ok(spec) => {
                let mut table: TestResolver = spec.parse()?;
                table.log = std::env::var_os(TEST_RESOLVE_LOG_ENV).map(Into::into);
                Ok(Resolver::test(table))
            }
            Err(_) => Ok(Resolver::system()),
        }
    }

    /// Resolves an already allowed host and applies the address filter.
    /// IP literals skip DNS but not the filter.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> Result<Resolved, DenyReason> {
        if let Some(ip) = parse_ip_literal(host) {
            return checked(vec![SocketAddr::new(ip, port)]);
        }
        let addrs = match &self.test {
            Some(table) => match table.lookup(host) {
                Some(Answer::Pin(addr)) => {
                    return Ok(Resolved {
                        addrs: vec![addr],
                        pinned: true,
                    })
                }
                Some(Answer::Dns(ips)) => ips
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect(),
                None => return Err(DenyReason::ResolveFailed),
            },
            None => {
                let lookup = tokio::net::lookup_host((host, port));
                match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                    Ok(Ok(found)) => found.collect(),
                    Ok(Err(e)) => {
                        tracing::debug!(%host, error = %e, "resolution failed");
                        return Err(DenyReason::ResolveFailed);
                    }
                    Err(_) => return Err(DenyReason::ResolveFailed),
                }
            }
        };
        checked(addrs)
    }
}

/// Refuses the whole answer if any address is internal: a name that mixes public and
/// internal answers is the shape of a rebinding attack, not of a real service.
fn checked(addrs: Vec<SocketAddr>) -> Result<Resolved, DenyReason> {
    if addrs.is_empty() {
        return Err(DenyReason::ResolveFailed);
    }
    if addrs.iter().any(|a| is_internal(a.ip())) {
        return Err(DenyReason::PrivateAddress);
    }
    Ok(Resolved {
        addrs,
        pinned: false,
    })
}

#[derive(Debug, Clone)]
enum Answer {
    Pin(SocketAddr),
    Dns(Vec<IpAddr>),
}

/// Test-only name table. `pin` maps a name to a loopback server the test runs (trusted:
/// bypasses the address filter, and its port replaces the requested one); `dns` behaves
/// like a DNS answer and is filtered. Every name asked is recorded, so a test can
/// assert a denied name was never resolved. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct TestResolver {
    table: HashMap<String, Answer>,
    queries: Arc<Mutex<Vec<String>>>,
    log: Option<std::path::PathBuf>,
}

impl TestResolver {
    pub fn new() -> TestResolver {
        TestResolver::default()
    }

    /// Pins `name` to a loopback address; anything else is refused so a test table
    /// cannot be used to reach the network past the filter.
    pub fn pin(mut self, name: &str, addr: SocketAddr) -> Result<TestResolver, ResolverError> {
        if !addr.ip().is_loopback() && !addr.ip().to_canonical().is_loopback() {
            return Err(ResolverError::InvalidEntry {
                entry: format!("{name}={addr}"),
                why: "pins must point at a loopback address",
            });
        }
        self.table.insert(normalise_host(name), Answer::Pin(addr));
        Ok(self)
    }

    /// Adds `ip` to the DNS answer for `name`.
    pub fn dns(mut self, name: &str, ip: IpAddr) -> TestResolver {
        let entry = self
            .table
            .entry(normalise_host(name))
            .or_insert_with(|| Answer::Dns(Vec::new()));
        match entry {
            Answer::Dns(ips) => ips.push(ip),
            Answer::Pin(_) => *entry = Answer::Dns(vec![ip]),
        }
        self
    }

    /// Every name the proxy asked for, in order (normalised).
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().map(|q| q.clone()).unwrap_or_default()
    }

    fn lookup(&self, host: &str) -> Option<Answer> {
        let host = normalise_host(host);
        if let Ok(mut q) = self.queries.lock() {
            // Bounded: a long fuzzing run asks millions of times.
            if q.len() < MAX_RECORDED_QUERIES {
                q.push(host.clone());
            }
        }
        if let Some(path) = &self.log {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{host}");
            }
        }
        self.table.get(&host).cloned()
    }
}

/// `"api.test=127.0.0.1:4443,meta.test~169.254.169.254"`: `=` pins, `~` is a DNS answer.
/// This is the format of `WARDEN_EGRESS_TEST_RESOLVE` for end-to-end tests.
impl FromStr for TestResolver {
    type Err = ResolverError;

    fn from_str(s: &str) -> Result<TestResolver, ResolverError> {
        let mut table = TestResolver::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why| ResolverError::InvalidEntry {
                entry: entry.to_string(),
                why,
            };
            if let Some((name, addr)) = entry.split_once('=') {
                let addr = addr
                    .trim()
                    .parse()
                    .map_err(|_| bad("after `=` write a socket address like 127.0.0.1:4443"))?;
                table = table.pin(name.trim(), addr)?;
            } else if let Some((name, ip)) = entry.split_once('~') {
                let ip = parse_ip_literal(ip.trim())
                    .ok_or_else(|| bad("after `~` write an IP address"))?;
                table = table.dns(name.trim(), ip);
            } else {
                return Err(bad(
                    "write name=127.0.0.1:port (pin) or name~ip (DNS answer)",
                ));
            }
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_env_format_and_refuses_non_loopback_pins() {
        let t: TestResolver = "api.test=127.0.0.1:4443, meta.test~169.254.169.254,v6.test~::1"
            .parse()
            .unwrap_or_default();
        assert!(matches!(t.lookup("API.test."), Some(Answer::Pin(a)) if a.port() == 4443));
        assert!(matches!(t.lookup("meta.test"), Some(Answer::Dns(ips)) if ips.len() == 1));
        assert_eq!(t.queries(), ["api.test", "meta.test"]);
        assert!("x.test=10.0.0.1:80".parse::<TestResolver>().is_err());
        assert!("x.test=[::ffff:10.0.0.1]:80"
            .parse::<TestResolver>()
            .is_err());
        assert!("x.test:80".parse::<TestResolver>().is_err());
    }

    #[tokio::test]
    async fn dns_answers_are_filtered_but_pins_are_not() {
        let r = Resolver::test(
            TestResolver::new()
                .dns(
                    "meta.test",
                    "169.254.169.254"
                        .parse()
                        .unwrap_or(IpAddr::from([0, 0, 0, 0])),
                )
                .pin("api.test", SocketAddr::from(([127, 0, 0, 1], 4443)))
                .unwrap_or_default(),
        );
        assert_eq!(
            r.resolve("meta.test", 80).await,
            Err(DenyReason::PrivateAddress)
        );
        assert_eq!(
            r.resolve("nothing.test", 80).await,
            Err(DenyReason::ResolveFailed)
        );
        let pinned = r.resolve("api.test", 443).await;
        assert_eq!(
            pinned.map(|p| (p.pinned, p.addrs[0].port())),
            Ok((true, 4443))
        );
        assert_eq!(
            r.resolve("10.0.0.1", 80).await,
            Err(DenyReason::PrivateAddress)
        );
    }
}
