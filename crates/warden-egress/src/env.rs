//! What a sandbox needs in its environment: CA trust variables and placeholder values.

use std::path::Path;

use crate::secret::{Binding, SecretSource};

/// Variables that point common runtimes at a CA bundle (OpenSSL/Go/Python ssl, Node,
/// requests, curl, git, cargo, pip, AWS SDKs, Deno).
pub const CA_ENV_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "CARGO_HTTP_CAINFO",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
    "DENO_CERT",
];

/// The system bundle read by [`ca_bundle`], when present.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `(VAR, path)` for every [`CA_ENV_VARS`] entry, given where the sandbox sees the bundle.
pub fn bound_env(ca_bundle_path: &Path) -> Vec<(String, String)> {
    let path = ca_bundle_path.display().to_string();
    CA_ENV_VARS
        .iter()
        .map(|var| (var.to_string(), path.clone()))
        .collect()
}

/// `(VAR, placeholder)` for every binding read from `env:VAR`: what the sandbox gets
/// in place of the real key. Bindings built from a given value have no variable.
pub fn placeholder_env(bindings: &[Binding]) -> Vec<(String, String)> {
    bindings
        .iter()
        .filter_map(|b| match b.source() {
            SecretSource::Env(var) => Some((var.clone(), b.placeholder().to_string())),
            _ => None,
        })
        .collect()
}

/// The system bundle (if [`SYSTEM_CA_BUNDLE`] exists) followed by `ca_pem`, so one
/// `SSL_CERT_FILE` trusts both the public roots and the proxy's interception CA.
pub fn ca_bundle(ca_pem: &str) -> String {
    let mut bundle = std::fs::read_to_string(SYSTEM_CA_BUNDLE).unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(ca_pem);
    bundle
}

/// Every certificate in a PEM file: extra roots the proxy trusts for upstream TLS.
pub fn certificates_from_pem_file(
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, std::io::Error> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(std::io::Error::other(format!(
            "{}: no certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_ends_with_our_ca_and_every_variable_points_at_it() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let bundle = ca_bundle(pem);
        assert!(bundle.ends_with(pem));
        if Path::new(SYSTEM_CA_BUNDLE).exists() {
            assert!(
                bundle.len() > pem.len(),
                "the system roots were not included"
            );
        }
        let vars = bound_env(Path::new("/run/warden/ca.pem"));
        assert_eq!(vars.len(), CA_ENV_VARS.len());
        assert!(vars
            .iter()
            .any(|(k, v)| k == "NODE_EXTRA_CA_CERTS" && v == "/run/warden/ca.pem"));
    }

    #[test]
    fn placeholders_replace_env_sourced_keys() {
        std::env::set_var(
            "WARDEN_EGRESS_ENV_TEST_KEY",
            "sk-ant-abcdefghijklmnopqrstuvwxyz",
        );
        let b = Binding::parse("api.anthropic.com:x-api-key=env:WARDEN_EGRESS_ENV_TEST_KEY");
        let given = Binding::new("api.test", "x-api-key", crate::Secret::new("v"));
        let (b, given) = match (b, given) {
            (Ok(b), Ok(g)) => (b, g),
            _ => panic!("bindings did not parse"),
        };
        let env = placeholder_env(&[b.clone(), given]);
        assert_eq!(
            env,
            vec![(
                "WARDEN_EGRESS_ENV_TEST_KEY".to_string(),
                b.placeholder().to_string()
            )]
        );
    }
}
