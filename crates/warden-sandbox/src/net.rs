//! The sandbox's side of egress: the proxy a sandbox gets, the bindings of its
//! secrets, and the environment that points programs inside at them.
//!
//! Inside, `HTTP(S)_PROXY`/`ALL_PROXY` name `127.0.0.1:3128`, which the init bridges to
//! `sock/proxy.sock`, where [`warden_egress::Proxy`] listens on the host. A brokered
//! provider also gets a plain-HTTP front door (`ANTHROPIC_BASE_URL=http://127.0.0.1:3129`,
//! …) bridged to `sock/front-<name>.sock`; the key variables inside hold placeholders
//! only, and the proxy writes the real header on the way out.

use crate::error::{IoContext, Result, SandboxError};
use crate::spec::NetworkPolicy;
use crate::state::{SandboxDir, SandboxMeta};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use warden_creds::{Kind, Provider};
use warden_egress::{Binding, FrontDoor, Policy, Proxy, ProxyConfig, Resolver, Secret};

/// The port inside the sandbox where the proxy answers.
pub const PROXY_PORT: u16 = 3128;

/// Test hook: a PEM file of extra roots the proxy trusts for upstream TLS (the e2e
/// tests' loopback TLS servers). Read from the host's environment only.
pub const TEST_ROOTS_ENV: &str = "WARDEN_EGRESS_TEST_ROOTS";

pub struct Net {
    /// (port inside, unix socket inside) pairs for the init's bridges.
    pub init_egress: Vec<(u16, String)>,
    /// Variables every command in the sandbox gets (proxy, CA bundle, base URLs, placeholders).
    pub env: Vec<(String, String)>,
    /// `host: header` of every secret the proxy injects (never a value).
    pub brokered: Vec<String>,
    proxy: Option<Proxy>,
}

/// One brokered provider: where its front door listens inside and what it forwards to.
struct Broker {
    name: &'static str,
    port: u16,
    upstream: String,
    bindings: Vec<Binding>,
    env: Vec<(String, String)>,
}

impl Net {
    pub fn none() -> Net {
        Net {
            init_egress: Vec::new(),
            env: Vec::new(),
            brokered: Vec::new(),
            proxy: None,
        }
    }

    /// Starts the proxy and front doors on unix sockets in the sandbox's `sock/` directory.
    /// Must run inside a tokio runtime; the serving tasks live as long as it.
    pub async fn start(sandbox: &SandboxDir, meta: &SandboxMeta) -> Result<Net> {
        let (bindings, brokers) = credentials(&meta.secrets, &meta.brokers)?;
        let mut policy = meta.policy.clone();
        // Hosts the user bound a secret to are reachable from the start.
        if let NetworkPolicy::Allow(domains) = &mut policy {
            for b in &bindings {
                if !domains.iter().any(|d| d.eq_ignore_ascii_case(b.host())) {
                    domains.push(b.host().to_string());
                }
            }
        } else if policy == NetworkPolicy::DenyAll && !bindings.is_empty() {
            policy = NetworkPolicy::Allow(bindings.iter().map(|b| b.host().to_string()).collect());
        }
        let mut config = ProxyConfig::new(egress_policy(&policy)?);
        config.bindings = bindings.clone();
        config.audit_log = Some(sandbox.audit_log());
        config.resolver = Resolver::from_env().map_err(|e| {
            SandboxError::Invalid(format!("{}: {e}", warden_egress::TEST_RESOLVE_ENV))
        })?;
        if let Ok(path) = std::env::var(TEST_ROOTS_ENV) {
            config.extra_roots = warden_egress::certificates_from_pem_file(Path::new(&path))
                .map_err(|e| SandboxError::Invalid(format!("{TEST_ROOTS_ENV}: {e}")))?;
        }
        let proxy =
            Proxy::new(config).map_err(|e| SandboxError::Start(format!("egress proxy: {e}")))?;
        let uid = meta.host_uid;
        let sock_dir = sandbox.sock_dir();
        let listen = |name: &str| -> Result<tokio::net::UnixListener> {
            let path = sock_dir.join(name);
            let _ = std::fs::remove_file(&path);
            let listener = tokio::net::UnixListener::bind(&path)
                .context(|| format!("listening on {}", path.display()))?;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            if crate::launch::as_root() {
                std::os::unix::fs::chown(&path, Some(uid), Some(uid))
                    .context(|| format!("chown {}", path.display()))?;
            }
            Ok(listener)
        };
        let inside = |name: &str| format!("{}/{name}", crate::launch::SOCK_DIR);
        let mut init_egress = vec![(PROXY_PORT, inside("proxy.sock"))];
        let listener = listen("proxy.sock")?;
        let p = proxy.clone();
        tokio::spawn(async move {
            if let Err(e) = p.serve_proxy(listener).await {
                tracing::error!("egress proxy stopped: {e}");
            }
        });
        let proxy_url = format!("http://127.0.0.1:{PROXY_PORT}");
        let mut env: Vec<(String, String)> = Vec::new();
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            env.push((var.into(), proxy_url.clone()));
        }
        for var in ["NO_PROXY", "no_proxy"] {
            env.push((var.into(), "localhost,127.0.0.1,::1".into()));
        }
        // Node ≥ 24 honours the variables above only when asked to.
        env.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
        // Programs inside trust what the host trusts (its system bundle, which may hold a
        // corporate CA), plus this sandbox's interception CA when it has one. Node reads
        // no system store on its own, hence NODE_EXTRA_CA_CERTS (set by bound_env).
        let bundle = match proxy.ca_pem() {
            Some(pem) => {
                let path = sandbox.ca_dir().join("bundle.pem");
                std::fs::write(&path, warden_egress::ca_bundle(&pem))
                    .context(|| format!("writing {}", path.display()))?;
                Some(Path::new(crate::launch::CA_DIR).join("bundle.pem"))
            }
            None => Some(Path::new(warden_egress::SYSTEM_CA_BUNDLE).to_path_buf())
                .filter(|p| p.exists()),
        };
        if let Some(bundle) = bundle {
            env.extend(warden_egress::bound_env(&bundle));
        }
        env.extend(warden_egress::placeholder_env(&bindings));
        for b in brokers {
            let name = format!("front-{}.sock", b.name);
            let listener = listen(&name)?;
            let door = FrontDoor::new(&b.upstream)
                .map_err(|e| SandboxError::Start(format!("front door {}: {e}", b.name)))?;
            let p = proxy.clone();
            tokio::spawn(async move {
                if let Err(e) = p.serve_front_door(listener, door).await {
                    tracing::error!("front door stopped: {e}");
                }
            });
            init_egress.push((b.port, inside(&name)));
            // The broker's own variables (base URL, placeholders) win over the generic ones.
            for (k, v) in b.env {
                env.retain(|(ek, _)| *ek != k);
                env.push((k, v));
            }
        }
        let brokered = bindings
            .iter()
            .map(|b| format!("{}: {}", b.host(), b.header()))
            .collect();
        Ok(Net {
            init_egress,
            env,
            brokered,
            proxy: Some(proxy),
        })
    }

    /// Applies a new policy to new connections at once; open ones to hosts it denies are closed.
    pub fn set_policy(&self, policy: &NetworkPolicy) -> Result<()> {
        let proxy = self
            .proxy
            .as_ref()
            .ok_or_else(|| SandboxError::Invalid("this sandbox has no egress proxy".into()))?;
        proxy.set_policy(egress_policy(policy)?);
        Ok(())
    }
}

/// The bindings of `--secret` specs and `--broker` names, every value read now.
fn credentials(secrets: &[String], brokers: &[String]) -> Result<(Vec<Binding>, Vec<Broker>)> {
    let mut bindings = Vec::new();
    for spec in secrets {
        bindings.push(
            Binding::parse(spec).map_err(|e| SandboxError::Invalid(format!("--secret: {e}")))?,
        );
    }
    let brokers = brokers
        .iter()
        .map(|b| broker(b))
        .collect::<Result<Vec<_>>>()?;
    for b in &brokers {
        bindings.extend(b.bindings.iter().cloned());
    }
    Ok((bindings, brokers))
}

/// Reads every `--secret` and `--broker` credential once (and drops it), so a bad spec,
/// a missing variable or an unreadable file is a usage error at `create`, before a
/// supervisor starts, rather than "the sandbox failed to start".
pub fn validate_credentials(secrets: &[String], brokers: &[String]) -> Result<()> {
    let (bindings, _) = credentials(secrets, brokers)?;
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for b in &bindings {
        let refused = warden_egress::Pattern::parse(b.host())
            .ok()
            .and_then(|p| p.never_reachable());
        if let Some(why) = refused {
            return Err(SandboxError::Invalid(format!(
                "--secret for {}: {why}",
                b.host()
            )));
        }
        let key = (b.host(), b.header().as_str());
        if seen.contains(&key) {
            return Err(SandboxError::Invalid(format!(
                "--secret: two secrets for {} set the same header {}",
                key.0, key.1
            )));
        }
        seen.push(key);
    }
    Ok(())
}

/// Checks a policy the way the proxy will read it, for a clear error before anything starts.
pub fn validate_policy(policy: &NetworkPolicy) -> Result<()> {
    egress_policy(policy).map(|_| ())
}

fn egress_policy(policy: &NetworkPolicy) -> Result<Policy> {
    match policy {
        NetworkPolicy::DenyAll => Ok(Policy::deny_all()),
        NetworkPolicy::AllowAll => Ok(Policy::allow_all()),
        NetworkPolicy::Allow(domains) if domains.is_empty() => Ok(Policy::deny_all()),
        NetworkPolicy::Allow(domains) => {
            for domain in domains {
                let refused = warden_egress::Pattern::parse(domain)
                    .ok()
                    .and_then(|p| p.never_reachable());
                if let Some(why) = refused {
                    return Err(SandboxError::Invalid(format!("--allow {domain}: {why}")));
                }
            }
            Policy::allow_list(domains).map_err(|e| SandboxError::Invalid(format!("--allow: {e}")))
        }
    }
}

/// The bindings and variables for `--broker NAME`, from the credentials found on this machine.
fn broker(name: &str) -> Result<Broker> {
    let found = warden_creds::discover_from_process();
    let missing = |what: &str| {
        SandboxError::Invalid(format!(
            "--broker {name}: no {what} credential found on this machine (see `warden credentials status`)"
        ))
    };
    match name {
        "anthropic" => {
            let cred = found
                .best(Provider::Anthropic, false)
                .ok_or_else(|| missing("Anthropic"))?;
            anthropic_broker("anthropic", 3129, cred)
        }
        "gateway" => {
            let cred = found
                .credentials
                .iter()
                .find(|c| c.kind == Kind::Gateway && c.provider == Provider::Anthropic)
                .ok_or_else(|| missing("AI Gateway"))?;
            anthropic_broker("gateway", 3131, cred)
        }
        "openai" => {
            let cred = found
                .best(Provider::OpenAi, false)
                .ok_or_else(|| missing("OpenAI"))?;
            let upstream = cred
                .base_url
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".into());
            let (origin, path) = split_url(&upstream);
            let binding = bind("openai", &origin, "authorization", "Bearer ", &cred.value)?;
            Ok(Broker {
                name: "openai",
                port: 3130,
                upstream: origin,
                env: vec![
                    (
                        "OPENAI_BASE_URL".into(),
                        format!("http://127.0.0.1:3130{path}"),
                    ),
                    ("OPENAI_API_KEY".into(), binding.placeholder().to_string()),
                ],
                bindings: vec![binding],
            })
        }
        _ => Err(SandboxError::Invalid(format!(
            "--broker {name:?}: expected anthropic, openai or gateway"
        ))),
    }
}

/// Anthropic's API, directly (API key or subscription token) or through the AI Gateway.
fn anthropic_broker(
    name: &'static str,
    port: u16,
    cred: &warden_creds::Credential,
) -> Result<Broker> {
    let upstream = cred
        .base_url
        .clone()
        .unwrap_or_else(|| "https://api.anthropic.com".into());
    let (origin, _) = split_url(&upstream);
    let mut env = vec![(
        "ANTHROPIC_BASE_URL".to_string(),
        format!("http://127.0.0.1:{port}"),
    )];
    let binding = if cred.kind == Kind::ApiKey {
        let b = bind(name, &origin, "x-api-key", "", &cred.value)?;
        env.push(("ANTHROPIC_API_KEY".into(), b.placeholder().to_string()));
        b
    } else {
        let b = bind(name, &origin, "authorization", "Bearer ", &cred.value)?;
        env.push(("ANTHROPIC_AUTH_TOKEN".into(), b.placeholder().to_string()));
        if cred.kind == Kind::Gateway {
            env.push(("AI_GATEWAY_API_KEY".into(), b.placeholder().to_string()));
        }
        b
    };
    Ok(Broker {
        name,
        port,
        upstream: origin,
        bindings: vec![binding],
        env,
    })
}

fn bind(
    name: &str,
    origin: &str,
    header: &str,
    prefix: &str,
    value: &warden_creds::Secret,
) -> Result<Binding> {
    let host = origin
        .trim_start_matches("https://")
        .split(':')
        .next()
        .unwrap_or_default();
    Binding::with_prefix(host, header, prefix, Secret::new(value.expose()))
        .map_err(|e| SandboxError::Invalid(format!("--broker {name}: {e}")))
}

/// `https://host[:port]/path` → (`https://host[:port]`, `/path`).
fn split_url(url: &str) -> (String, String) {
    let rest = url.trim_end_matches('/').trim_start_matches("https://");
    match rest.split_once('/') {
        Some((authority, path)) => (format!("https://{authority}"), format!("/{path}")),
        None => (format!("https://{rest}"), String::new()),
    }
}
