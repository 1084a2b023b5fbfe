//! Sandbox names, per tenant.
//!
//! A name is unique among its tenant's sandboxes only: two tenants may both have a
//! `web`, and a taken name never tells a tenant about another's sandboxes. The sandbox
//! layer's own names are global (the CLI looks sandboxes up by them), so the server
//! keeps a tenant's name in the label `name=<name>` beside `tenant=<tenant>` and gives
//! the sandbox layer none. A name being created is claimed in memory until its record
//! exists, so two requests at once cannot both take it.

use crate::auth::Caller;
use crate::problem::ApiError;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use warden_sandbox::SandboxMeta;

/// The label that holds the name a tenant gave its sandbox.
pub const NAME_LABEL: &str = "name";

/// The name a sandbox's tenant knows it by.
pub fn name_of(meta: &SandboxMeta) -> Option<String> {
    meta.labels
        .get(NAME_LABEL)
        .cloned()
        // A sandbox made before names were per tenant kept its name in the record.
        .or_else(|| meta.name.clone())
}

/// Names being created right now, per tenant.
#[derive(Debug, Clone, Default)]
pub struct NameClaims {
    claimed: Arc<Mutex<HashSet<(String, String)>>>,
}

/// A claimed name; dropping it releases the claim (once the sandbox's record exists,
/// or the create failed).
#[derive(Debug)]
pub struct Claim {
    claims: NameClaims,
    key: (String, String),
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut claimed) = self.claims.claimed.lock() {
            claimed.remove(&self.key);
        }
    }
}

impl NameClaims {
    /// Claims `name` for the caller, unless another create holds it (409). List the
    /// caller's sandboxes *after* this and check them with [`Claim::free_among`].
    pub fn claim(&self, caller: &Caller, name: &str) -> Result<Claim, ApiError> {
        let key = (caller.name().to_string(), name.to_string());
        let mut claimed = self
            .claimed
            .lock()
            .map_err(|_| ApiError::Internal("the name claims lock is poisoned".into()))?;
        if !claimed.insert(key.clone()) {
            return Err(taken(name));
        }
        Ok(Claim {
            claims: self.clone(),
            key,
        })
    }
}

impl Claim {
    /// 409 when one of `existing` (the caller's sandboxes) has the name already.
    pub fn free_among(self, existing: &[SandboxMeta]) -> Result<Claim, ApiError> {
        let name = self.key.1.as_str();
        if existing.iter().any(|m| name_of(m).as_deref() == Some(name)) {
            return Err(taken(name));
        }
        Ok(self)
    }
}

fn taken(name: &str) -> ApiError {
    ApiError::Conflict(format!("name: you have a sandbox named {name:?} already"))
}
