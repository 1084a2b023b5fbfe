//! The per-proxy interception CA and the leaf certificates it signs, one per bound host.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::error::EgressError;
use crate::upstream::provider;

/// A CA generated in memory for one proxy; its key never touches disk, so trusting it
/// inside one sandbox grants nothing once the proxy is gone.
pub(crate) struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertificateAuthority(<key redacted>)")
    }
}

impl CertificateAuthority {
    pub fn generate() -> Result<CertificateAuthority, EgressError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Warden egress proxy CA (per sandbox)");
        dn.push(DnType::OrganizationName, "Warden");
        params.distinguished_name = dn;
        // Path length 0: the CA can only sign leaves, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        let issuer = CertifiedIssuer::self_signed(params, key)?;
        Ok(CertificateAuthority {
            issuer,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A TLS server config presenting a leaf for `host`, built once per host and cached.
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, EgressError> {
        if let Some(found) = self.leaves.lock().ok().and_then(|m| m.get(host).cloned()) {
            return Ok(found);
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(vec![host.to_string()])?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(7);
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key_der)?;
        // The decrypted side is served by an HTTP/1.1 server only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        if let Ok(mut m) = self.leaves.lock() {
            m.insert(host.to_string(), config.clone());
        }
        Ok(config)
    }
}
