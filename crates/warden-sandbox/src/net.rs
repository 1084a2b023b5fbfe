//! The sandbox's side of egress: the proxy a sandbox gets, the bindings of its
//! secrets, and the environment that points programs inside at them.
//!
//! Inside, `HTTP(S)_PROXY`/`ALL_PROXY` name `127.0.0.1:3128`, which the init bridges to
//! `sock/proxy.sock`, where [`warden_egress::Proxy`] listens on the host. A brokered
//! credential also gets a plain-HTTP front door (`ANTHROPIC_BASE_URL=http://127.0.0.1:3129`,
//! …) bridged to `sock/front-<port>.sock`; the key variables inside hold placeholders
//! only, and the proxy writes the real header on the way out (see [`crate::broker`]).
//! Hosts a secret is bound to stay reachable whatever policy is set later.

use crate::broker::BrokerPlan;
use crate::error::{IoContext, Result, SandboxError};
use crate::rules::HeaderTransform;
use crate::spec::NetworkPolicy;
use crate::state::{SandboxDir, SandboxMeta};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use warden_egress::{Binding, Policy, Proxy, ProxyConfig, Resolver};

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
    /// Hosts a secret is bound to: reachable whatever policy is set later.
    brokered_hosts: Vec<String>,
    /// The `--secret` and brokered bindings, kept under every change of transforms.
    fixed_bindings: Vec<Binding>,
    proxy: Option<Proxy>,
}

impl Net {
    pub fn none() -> Net {
        Net {
            init_egress: Vec::new(),
            env: Vec::new(),
            brokered: Vec::new(),
            brokered_hosts: Vec::new(),
            fixed_bindings: Vec::new(),
            proxy: None,
        }
    }

    /// Starts the proxy and front doors on unix sockets in the sandbox's `sock/` directory.
    /// `plans` are the brokered credentials (their values came from the host, never the
    /// record), `transforms` the headers written per domain (values from the host too).
    /// Must run inside a tokio runtime; the serving tasks live as long as it.
    pub async fn start(
        sandbox: &SandboxDir,
        meta: &SandboxMeta,
        plans: &[BrokerPlan],
        transforms: &[HeaderTransform],
    ) -> Result<Net> {
        let mut bindings = secret_bindings(&meta.secrets)?;
        let crate::broker::ProxySide { routed, doors } = crate::broker::proxy_side(plans)?;
        bindings.extend(routed);
        let mut brokered_hosts: Vec<String> = Vec::new();
        for b in &bindings {
            if !brokered_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(b.host()))
            {
                brokered_hosts.push(b.host().to_string());
            }
        }
        let policy = full_policy(&meta.policy, &meta.deny, &brokered_hosts)?;
        let mut config = ProxyConfig::new(policy);
        config.bindings = bindings.clone();
        config.bindings.extend(crate::rules::bindings(transforms)?);
        // Transforms can be given later: the CA every program inside trusts is made now.
        config.live_bindings = true;
        config.audit_log = Some(sandbox.audit_log());
        config.resolver = Resolver::from_env().map_err(|e| {
            SandboxError::Invalid(format!("{}: {e}", warden_egress::TEST_RESOLVE_ENV))
        })?;
        if let Ok(path) = std::env::var(TEST_ROOTS_ENV) {
            config.extra_roots = warden_egress::certificates_from_pem_file(Path::new(&path))
                .map_err(|e| SandboxError::Invalid(format!("{TEST_ROOTS_ENV}: {e}")))?;
        }
        let proxy = Proxy::new(config).map_err(|e| match e {
            warden_egress::EgressError::DuplicateBinding { host, header } => {
                SandboxError::Invalid(format!(
                    "transform for {host}: header {header} is already written by a brokered credential or --secret"
                ))
            }
            other => SandboxError::Start(format!("egress proxy: {other}")),
        })?;
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
        for ((port, door), plan) in doors.into_iter().zip(plans) {
            let name = format!("front-{port}.sock");
            let listener = listen(&name)?;
            let p = proxy.clone();
            tokio::spawn(async move {
                if let Err(e) = p.serve_front_door(listener, door).await {
                    tracing::error!("front door stopped: {e}");
                }
            });
            init_egress.push((port, inside(&name)));
            // The plan's own variables (base URL, placeholders) win over the generic ones.
            for (k, v) in plan.env() {
                env.retain(|(ek, _)| ek != k);
                env.push((k.clone(), v.clone()));
            }
        }
        let mut brokered: Vec<String> = secret_bindings_described(&meta.secrets, &bindings);
        for line in plans.iter().flat_map(|p| p.brokered()) {
            if !brokered.contains(&line) {
                brokered.push(line);
            }
        }
        Ok(Net {
            init_egress,
            env,
            brokered,
            brokered_hosts,
            fixed_bindings: bindings,
            proxy: Some(proxy),
        })
    }

    /// Applies a new policy to new connections at once; open ones to hosts it denies are
    /// closed. Hosts a secret is bound to stay allowed: a policy change never breaks
    /// brokering (destroy the sandbox to end it).
    pub fn set_policy(&self, policy: &NetworkPolicy, deny: &[String]) -> Result<()> {
        let proxy = self.proxy()?;
        proxy.set_policy(full_policy(policy, deny, &self.brokered_hosts)?);
        Ok(())
    }

    /// Checks what [`Net::set_policy`] would apply, changing nothing.
    pub fn check_policy(&self, policy: &NetworkPolicy, deny: &[String]) -> Result<()> {
        full_policy(policy, deny, &self.brokered_hosts).map(drop)
    }

    /// Replaces the headers written per domain; requests from now on see the new set
    /// (in open intercepted connections too). Nothing changes on an error.
    pub fn set_transforms(&self, transforms: &[HeaderTransform]) -> Result<()> {
        let mut all = self.fixed_bindings.clone();
        all.extend(crate::rules::bindings(transforms)?);
        self.proxy()?.set_bindings(all).map_err(|e| match e {
            warden_egress::EgressError::DuplicateBinding { host, header } => {
                SandboxError::Invalid(format!(
                    "transform for {host}: header {header} is already written by a brokered credential or --secret"
                ))
            }
            other => SandboxError::Invalid(format!("header transforms: {other}")),
        })
    }

    fn proxy(&self) -> Result<&Proxy> {
        self.proxy
            .as_ref()
            .ok_or_else(|| SandboxError::Invalid("this sandbox has no egress proxy".into()))
    }
}

/// The proxy's policy: `policy` with the brokered hosts allowed, minus `deny`. A deny
/// entry may not cover a brokered host (brokering outlives every policy change).
fn full_policy(policy: &NetworkPolicy, deny: &[String], brokered: &[String]) -> Result<Policy> {
    for entry in deny {
        let pattern = warden_egress::Pattern::parse(entry)
            .map_err(|e| SandboxError::Invalid(format!("deny: {e}")))?;
        if let Some(host) = brokered.iter().find(|h| pattern.matches_host(h)) {
            return Err(SandboxError::Invalid(format!(
                "deny {entry}: it covers {host}, whose credential this sandbox brokers"
            )));
        }
    }
    egress_policy(&with_brokered(policy, brokered))?
        .except(deny)
        .map_err(|e| SandboxError::Invalid(format!("deny: {e}")))
}

/// `policy` with `hosts` allowed too (deny-all becomes "these hosts only").
fn with_brokered(policy: &NetworkPolicy, hosts: &[String]) -> NetworkPolicy {
    if hosts.is_empty() {
        return policy.clone();
    }
    match policy {
        NetworkPolicy::AllowAll => NetworkPolicy::AllowAll,
        NetworkPolicy::DenyAll => NetworkPolicy::Allow(hosts.to_vec()),
        NetworkPolicy::Allow(domains) => {
            let mut all = domains.clone();
            for h in hosts {
                if !all.iter().any(|d| d.eq_ignore_ascii_case(h)) {
                    all.push(h.clone());
                }
            }
            NetworkPolicy::Allow(all)
        }
    }
}

/// The bindings of `--secret` specs, every value read now.
fn secret_bindings(secrets: &[String]) -> Result<Vec<Binding>> {
    secrets
        .iter()
        .map(|spec| {
            Binding::parse(spec).map_err(|e| SandboxError::Invalid(format!("--secret: {e}")))
        })
        .collect()
}

/// `host: header` of the `--secret` bindings (the first `secrets.len()` of `bindings`).
fn secret_bindings_described(secrets: &[String], bindings: &[Binding]) -> Vec<String> {
    bindings
        .iter()
        .take(secrets.len())
        .map(|b| format!("{}: {}", b.host(), b.header()))
        .collect()
}

/// Reads every `--secret` once (and drops it) and checks the brokered plans fit together,
/// so a bad spec, a missing variable or an unreadable file is a usage error at `create`,
/// before a supervisor starts, rather than "the sandbox failed to start".
pub fn validate_credentials(secrets: &[String], plans: &[BrokerPlan]) -> Result<()> {
    let mut bindings = secret_bindings(secrets)?;
    bindings.extend(crate::broker::proxy_side(plans)?.routed);
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

/// Checks that `update` fits the credentials the sandbox brokers: no deny entry covers
/// a brokered host, no transform writes a header a credential writes.
pub fn check_rules(
    secrets: &[String],
    plans: &[BrokerPlan],
    update: &crate::rules::PolicyUpdate,
) -> Result<()> {
    let mut fixed = secret_bindings(secrets)?;
    fixed.extend(crate::broker::proxy_side(plans)?.routed);
    let hosts: Vec<String> = fixed.iter().map(|b| b.host().to_string()).collect();
    full_policy(&update.policy, &update.deny, &hosts)?;
    for t in crate::rules::bindings(&update.transforms)? {
        if fixed
            .iter()
            .any(|b| b.host() == t.host() && b.header() == t.header())
        {
            return Err(SandboxError::Invalid(format!(
                "transform for {}: header {} is already written by a brokered credential or --secret",
                t.host(),
                t.header()
            )));
        }
    }
    Ok(())
}

/// Checks a policy the way the proxy will read it, for a clear error before anything starts.
pub fn validate_policy(policy: &NetworkPolicy) -> Result<()> {
    egress_policy(policy).map(|_| ())
}

pub(crate) fn egress_policy(policy: &NetworkPolicy) -> Result<Policy> {
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
