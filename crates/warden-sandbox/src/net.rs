//! The sandbox's side of egress: starting the proxy for a sandbox and the
//! environment that points programs inside at it. (Filled in with warden-egress.)

use crate::error::Result;
use crate::spec::NetworkPolicy;
use crate::state::{SandboxDir, SandboxMeta};

/// The port inside the sandbox where the proxy answers.
pub const PROXY_PORT: u16 = 3128;

pub struct Net {
    /// (port inside, unix socket inside) pairs for the init's bridges.
    pub init_egress: Vec<(u16, String)>,
    /// Variables every command in the sandbox gets (proxy, CA bundle, base URLs, placeholders).
    pub env: Vec<(String, String)>,
}

impl Net {
    pub fn none() -> Net {
        Net {
            init_egress: Vec::new(),
            env: Vec::new(),
        }
    }

    pub async fn start(_sandbox: &SandboxDir, _meta: &SandboxMeta) -> Result<Net> {
        Ok(Net::none())
    }

    pub fn set_policy(&self, _policy: &NetworkPolicy) -> Result<()> {
        Ok(())
    }
}
