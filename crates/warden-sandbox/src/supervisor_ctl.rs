//! The supervisor's control requests (`ctl.sock`), one at a time: each is short, and a
//! command's life is followed by its own task ([`crate::command_runner`]).

use super::{CtlReply, CtlRequest, Started};
use crate::error::{IoContext, Result, SandboxError};
use crate::spec::NetworkPolicy;
use crate::state::{now_ms, Status};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

impl Started {
    /// Handles one control request; true when the sandbox ended (destroyed or stopped)
    /// and the supervisor should exit.
    pub(super) async fn handle_ctl(&mut self, conn: tokio::net::UnixStream) -> bool {
        let (read, mut write) = conn.into_split();
        let mut line = String::new();
        if tokio::io::BufReader::new(read)
            .read_line(&mut line)
            .await
            .is_err()
        {
            return false;
        }
        let request: std::result::Result<CtlRequest, _> = serde_json::from_str(&line);
        let (reply, ended): (Result<Option<serde_json::Value>>, bool) = match request {
            Ok(CtlRequest::Ping) => (Ok(None), false),
            Ok(CtlRequest::Policy {
                policy,
                deny,
                transforms,
            }) => (
                self.set_policy(policy, deny, transforms).map(|()| None),
                false,
            ),
            Ok(CtlRequest::Destroy) => {
                self.kill().await;
                let r = std::fs::remove_dir_all(self.sandbox.path())
                    .context(|| format!("removing {}", self.sandbox.path().display()));
                (r.map(|()| None), true)
            }
            Ok(CtlRequest::Stop) => {
                self.stop(
                    Status::Stopped,
                    "stopped on request: every process was killed, its files are kept",
                )
                .await;
                (Ok(None), true)
            }
            Ok(CtlRequest::ExtendTimeout { by_ms }) => (self.extend(by_ms), false),
            Ok(CtlRequest::Spawn { request, stdin }) => {
                let started =
                    crate::command_runner::spawn(&self.sandbox, &self.running, request, stdin)
                        .await;
                let value = started.and_then(|info| {
                    serde_json::to_value(info)
                        .map(Some)
                        .map_err(|e| SandboxError::Invalid(format!("encoding the record: {e}")))
                });
                (value, false)
            }
            Ok(CtlRequest::Signal { command, signal }) => {
                (self.running.signal(&command, signal).map(|()| None), false)
            }
            // Position only: serde's message may quote a header value.
            Err(e) => (
                Err(SandboxError::Invalid(format!(
                    "bad control request ({:?} error at column {})",
                    e.classify(),
                    e.column()
                ))),
                false,
            ),
        };
        let reply = match reply {
            Ok(value) => CtlReply {
                ok: true,
                error: None,
                value,
            },
            Err(e) => CtlReply {
                ok: false,
                error: Some(e.to_string()),
                value: None,
            },
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_default();
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
        ended
    }

    /// Moves the deadline `by_ms` later (from now, if it already passed) and records it;
    /// a sandbox without a deadline keeps none. Answers the new deadline.
    fn extend(&mut self, by_ms: u64) -> Result<Option<serde_json::Value>> {
        let Some(current) = self.meta.deadline_ms else {
            return Ok(Some(serde_json::Value::Null));
        };
        let deadline = current.max(now_ms()).saturating_add(by_ms);
        self.sandbox.update(|m| m.deadline_ms = Some(deadline))?;
        self.meta.deadline_ms = Some(deadline);
        Ok(Some(deadline.into()))
    }

    /// Applies a policy change to the proxy, then records it (names only).
    fn set_policy(
        &mut self,
        policy: NetworkPolicy,
        deny: Option<Vec<String>>,
        transforms: Option<Vec<crate::rules::TransformWire>>,
    ) -> Result<()> {
        let current = self.sandbox.load()?;
        let deny = deny.unwrap_or(current.deny);
        let transforms = transforms.map(crate::rules::from_wire);
        if let Some(t) = &transforms {
            crate::rules::validate(&crate::rules::PolicyUpdate {
                policy: policy.clone(),
                deny: deny.clone(),
                transforms: t.clone(),
            })?;
        }
        // Checked whole before anything changes: the policy first (it may refuse a
        // deny entry covering a brokered host), then the headers, then both applied.
        self.net.check_policy(&policy, &deny)?;
        if let Some(t) = &transforms {
            self.net.set_transforms(t)?;
        }
        self.net.set_policy(&policy, &deny)?;
        self.sandbox
            .update(|m| {
                m.policy = policy;
                m.deny = deny;
                if let Some(t) = &transforms {
                    m.transforms = crate::rules::header_names(t);
                }
            })
            .map(drop)
    }
}
