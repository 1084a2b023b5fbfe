//! A workspace cloned from a git repository, inside the sandbox.
//!
//! `git` is the host's, seen read-only under /usr, run as the sandbox's user in the
//! sandbox's own network: the clone goes out through the egress proxy like any other
//! request. The repository's host is allowed while it runs (on top of the spec's
//! policy), then the spec's policy is set exactly. A failed clone removes the sandbox.

use crate::error::{Result, SandboxError};
use crate::lifecycle::Sandboxes;
use crate::proto::{ExecEvent, ExecRequest};
use crate::spec::{NetworkPolicy, SandboxSpec, WorkspaceSource};
use crate::state::SandboxMeta;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// The longest a clone may take (less when the sandbox's own timeout is shorter).
const CLONE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The longest revision name accepted.
const MAX_REVISION: usize = 256;

/// Clones into /workspace, then checks out the revision when one was given (a branch,
/// tag or commit; fetched on its own when a shallow clone left it out).
const CLONE_SCRIPT: &str = r#"d=""; [ -n "$3" ] && d="--depth=$3"
if [ -z "$2" ]; then exec git clone -q $d -- "$1" /workspace; fi
git clone -q --no-checkout $d -- "$1" /workspace && cd /workspace || exit 1
git checkout -q -f "$2" 2>/dev/null && exit 0
git fetch -q $d origin "$2" && git checkout -q -f FETCH_HEAD"#;

/// The host name of a git URL, after checking the URL can be handed to `git` as is:
/// `http(s)://host[:port]/path`, without credentials (they would be stored in
/// /workspace/.git/config, where the sandbox reads them).
pub fn url_host(url: &str) -> Result<String> {
    let bad = |why: &str| SandboxError::Invalid(format!("git URL {url:?}: {why}"));
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it holds spaces or control characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("use an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad(
            "credentials in the URL would be stored in the clone where the sandbox reads them; leave them out",
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
        None => authority.split(':').next().unwrap_or_default().to_string(),
    };
    if host.is_empty() {
        return Err(bad("the URL has no host"));
    }
    let pattern =
        warden_egress::Pattern::parse(&host).map_err(|e| bad(&format!("its host: {e}")))?;
    if let Some(why) = pattern.never_reachable() {
        return Err(bad(why));
    }
    Ok(String::from(pattern))
}

/// Checks a git source's fields; the errors name the field.
pub fn check(url: &str, revision: Option<&str>, depth: Option<u32>) -> Result<String> {
    let host = url_host(url)?;
    if let Some(rev) = revision {
        let ok = !rev.is_empty()
            && rev.len() <= MAX_REVISION
            && !rev.starts_with('-')
            && !rev.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(SandboxError::Invalid(format!(
                "git revision {rev:?}: give a branch, tag or commit (no spaces, not starting with '-')"
            )));
        }
    }
    if depth == Some(0) {
        return Err(SandboxError::Invalid(
            "git depth 0: give at least 1 (or none for the whole history)".into(),
        ));
    }
    Ok(host)
}

/// `policy` with `host` allowed too.
fn with_host(policy: &NetworkPolicy, host: &str) -> NetworkPolicy {
    match policy {
        NetworkPolicy::AllowAll => NetworkPolicy::AllowAll,
        NetworkPolicy::DenyAll => NetworkPolicy::Allow(vec![host.to_string()]),
        NetworkPolicy::Allow(domains) => {
            let mut all = domains.clone();
            if !all.iter().any(|d| d.eq_ignore_ascii_case(host)) {
                all.push(host.to_string());
            }
            NetworkPolicy::Allow(all)
        }
    }
}

impl Sandboxes {
    /// [`Sandboxes::create`] for a [`WorkspaceSource::Git`] spec: start with the
    /// repository's host allowed, clone, then apply the spec's own policy.
    pub(crate) fn create_from_git(&self, spec: &SandboxSpec) -> Result<SandboxMeta> {
        let WorkspaceSource::Git {
            url,
            revision,
            depth,
        } = &spec.workspace
        else {
            return self.create_started(spec);
        };
        let host = check(url, revision.as_deref(), *depth)?;
        let cloning = SandboxSpec {
            policy: with_host(&spec.policy, &host),
            ..spec.clone()
        };
        let meta = self.create_started(&cloning)?;
        let cloned = self.clone_into(&meta, spec, url, revision.as_deref(), *depth);
        let result = cloned.and_then(|()| {
            if cloning.policy != spec.policy {
                self.update_policy(&meta.id, &spec.policy_update())?;
            }
            self.find(&meta.id).map(|(_, m)| m)
        });
        if result.is_err() {
            let _ = self.destroy(&meta.id);
        }
        result
    }

    fn clone_into(
        &self,
        meta: &SandboxMeta,
        spec: &SandboxSpec,
        url: &str,
        revision: Option<&str>,
        depth: Option<u32>,
    ) -> Result<()> {
        let (sandbox, _) = self.find(&meta.id)?;
        let log_path = sandbox.logs_dir().join("git-clone.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| SandboxError::io(format!("creating {}", log_path.display()), e))?;
        let null = std::fs::File::open("/dev/null")
            .map_err(|e| SandboxError::io("opening /dev/null", e))?;
        let limit = spec.timeout.map_or(CLONE_TIMEOUT, |t| t.min(CLONE_TIMEOUT));
        let request = ExecRequest::new([
            "sh",
            "-c",
            CLONE_SCRIPT,
            "sh",
            url,
            revision.unwrap_or(""),
            &depth.map(|d| d.to_string()).unwrap_or_default(),
        ])
        .env("GIT_TERMINAL_PROMPT", "0")
        .timeout(limit);
        let ended = self.exec(
            &meta.id,
            &request,
            [null.as_raw_fd(), log.as_raw_fd(), log.as_raw_fd()],
        )?;
        let failed = |why: String| SandboxError::GitClone {
            url: url.to_string(),
            message: why,
        };
        match ended {
            ExecEvent::Exited { code: 0, .. } => Ok(()),
            ExecEvent::Exited {
                timed_out: true, ..
            } => Err(failed(format!("it took longer than {}s", limit.as_secs()))),
            _ => {
                let text = crate::files::read_small(&log_path).unwrap_or_default();
                let last: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let tail = last[last.len().saturating_sub(3)..].join("; ");
                Err(failed(if tail.is_empty() {
                    format!("git exited with {}", ended.exit_code())
                } else {
                    tail
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_git_sees_them() {
        assert_eq!(
            url_host("https://GitHub.com/a/b.git").unwrap(),
            "github.com"
        );
        assert_eq!(url_host("http://git.test:8080/r.git").unwrap(), "git.test");
        for (bad, needle) in [
            ("git@github.com:a/b.git", "http"),
            ("ssh://github.com/a/b", "http"),
            ("file:///etc", "http"),
            ("https://user:tok@github.com/a", "credentials"),
            ("https://localhost/a", "loopback"),
            ("https://127.0.0.1/a", "internal"),
            ("https:///a", "no host"),
            ("https://a b/c", "spaces"),
            ("--upload-pack=x", "http"),
        ] {
            let err = url_host(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
        assert!(check("https://h.test/r", Some("-x"), None).is_err());
        assert!(check("https://h.test/r", Some("main"), Some(0)).is_err());
        assert!(check("https://h.test/r", Some("v1.2"), Some(1)).is_ok());
    }
}
