//! How many investigations of a `process` or `revalidate` run at once and, for an agent
//! CLI, the size of each one's sandbox: `--sandboxes`, `--concurrency`, `--cpus`,
//! `--memory`, and what this host really enforces of them (for the run header).
//!
//! With an agent CLI every investigation has a sandbox of its own, so `--sandboxes` and
//! `--concurrency` are one number under two names; the native agent runs in this
//! process, without sandboxes, and takes `--concurrency` only.

use crate::cli::{AgentKind, SandboxSlots};
use crate::exit::UsageError;
use serde_json::{json, Value};
use warden_sandbox::limits::{format_size, Cgroup, Enforcement, Limits, LimitsReport};

/// Investigations at once when neither flag says.
const DEFAULT: usize = 4;

/// The run's slots: how many, and each sandbox's limits.
#[derive(Debug)]
pub(crate) struct Slots {
    pub count: usize,
    /// Empty for the native agent.
    pub limits: Limits,
    /// What the limits get on this host; `None` when none were asked for.
    pub report: Option<LimitsReport>,
}

/// The slots the flags ask for with agent `kind`, or a usage error naming the flag.
pub(crate) fn resolve(
    kind: AgentKind,
    concurrency: Option<usize>,
    flags: &SandboxSlots,
) -> anyhow::Result<Slots> {
    if kind == AgentKind::Native {
        let sandbox_flag = [
            ("--sandboxes", flags.sandboxes.is_some()),
            ("--cpus", flags.cpus.is_some()),
            ("--memory", flags.memory.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag));
        if let Some(flag) = sandbox_flag {
            let what = if flag == "--sandboxes" {
                "use --concurrency N for how many investigations run at once"
            } else {
                "only an agent CLI (--agent claude|codex|opencode) runs in sandboxes"
            };
            return Err(UsageError(format!(
                "{flag}: the native agent runs in this process, without sandboxes; {what}"
            ))
            .into());
        }
        return Ok(Slots {
            count: concurrency.unwrap_or(DEFAULT),
            limits: Limits::default(),
            report: None,
        });
    }
    if let (Some(s), Some(c)) = (flags.sandboxes, concurrency) {
        if s != c {
            return Err(UsageError(format!(
                "--sandboxes {s} and --concurrency {c} disagree: with an agent CLI each investigation has its own sandbox, so give one of them"
            ))
            .into());
        }
    }
    let limits = Limits {
        cpus: flags.cpus,
        memory_bytes: flags.memory,
        pids: None,
    };
    let report = if limits == Limits::default() {
        None
    } else {
        Some(Cgroup::probe(&limits).map_err(|e| {
            anyhow::anyhow!("checking how this host can enforce --cpus/--memory: {e}")
        })?)
    };
    Ok(Slots {
        count: flags.sandboxes.or(concurrency).unwrap_or(DEFAULT),
        limits,
        report,
    })
}

impl Slots {
    /// `4 sandboxes (claude) at once, each 1 CPU / 2 GiB; enforced: memory (cgroup v1), cpus (cgroup v1)`.
    pub fn describe(&self, agent: &str) -> String {
        let plural = if self.count == 1 { "" } else { "es" };
        let mut out = format!("{} sandbox{plural} ({agent}) at once", self.count);
        let Some(report) = &self.report else {
            out.push_str(", no CPU or memory limit");
            return out;
        };
        let mut size = Vec::new();
        let mut enforced = Vec::new();
        let mut not = Vec::new();
        if let Some(c) = &report.cpus {
            size.push(format!(
                "{} CPU{}",
                c.value,
                if c.value > 1.0 { "s" } else { "" }
            ));
            sort("cpus", &c.enforcement, &mut enforced, &mut not);
        }
        if let Some(m) = &report.memory {
            size.push(format_size(m.value));
            match &m.enforcement {
                // An rlimit binds each process, not the sandbox as a whole: said so.
                Enforcement::Rlimit => enforced.push("memory (rlimit, per process)".to_string()),
                how => sort("memory", how, &mut enforced, &mut not),
            }
        }
        out.push_str(&format!(", each {}", size.join(" / ")));
        if !enforced.is_empty() {
            out.push_str(&format!("; enforced: {}", enforced.join(", ")));
        }
        if !not.is_empty() {
            out.push_str(&format!("; NOT enforced on this host: {}", not.join(", ")));
        }
        out
    }

    /// The same for the JSON summary.
    pub fn json(&self) -> Value {
        let limit = |value: Option<Value>, how: Option<&Enforcement>| match (value, how) {
            (Some(v), Some(how)) => json!({"value": v, "enforced": how.to_string()}),
            _ => Value::Null,
        };
        let report = self.report.as_ref();
        json!({
            "count": self.count,
            "cpus": limit(
                report.and_then(|r| r.cpus.as_ref()).map(|c| json!(c.value)),
                report.and_then(|r| r.cpus.as_ref()).map(|c| &c.enforcement),
            ),
            "memory_bytes": limit(
                report.and_then(|r| r.memory.as_ref()).map(|m| json!(m.value)),
                report.and_then(|r| r.memory.as_ref()).map(|m| &m.enforcement),
            ),
        })
    }
}

/// Files a limit's enforcement under "enforced" or "not enforced".
fn sort(name: &str, how: &Enforcement, enforced: &mut Vec<String>, not: &mut Vec<String>) {
    match how {
        Enforcement::NotEnforced(why) => not.push(format!("{name} ({why})")),
        other => enforced.push(format!("{name} ({other})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_sandbox::limits::Enforced;

    fn slots(count: usize, cpus: Option<Enforcement>, memory: Option<Enforcement>) -> Slots {
        Slots {
            count,
            limits: Limits::default(),
            report: Some(LimitsReport {
                cpus: cpus.map(|enforcement| Enforced {
                    value: 1.0,
                    enforcement,
                    note: None,
                }),
                memory: memory.map(|enforcement| Enforced {
                    value: 2 << 30,
                    enforcement,
                    note: None,
                }),
                pids: None,
            }),
        }
    }

    #[test]
    fn the_header_says_what_is_enforced_and_what_is_not() {
        let both = slots(4, Some(Enforcement::CgroupV2), Some(Enforcement::CgroupV1));
        assert_eq!(
            both.describe("claude"),
            "4 sandboxes (claude) at once, each 1 CPU / 2 GiB; enforced: cpus (cgroup v2), memory (cgroup v1)"
        );
        let weak = slots(
            1,
            Some(Enforcement::NotEnforced("no cpu controller".into())),
            Some(Enforcement::Rlimit),
        );
        assert_eq!(
            weak.describe("codex"),
            "1 sandbox (codex) at once, each 1 CPU / 2 GiB; enforced: memory (rlimit, per process); NOT enforced on this host: cpus (no cpu controller)"
        );
        let none = Slots {
            count: 2,
            limits: Limits::default(),
            report: None,
        };
        assert_eq!(
            none.describe("opencode"),
            "2 sandboxes (opencode) at once, no CPU or memory limit"
        );
        assert_eq!(both.json()["memory_bytes"]["enforced"], "cgroup v1");
        assert_eq!(none.json()["cpus"], Value::Null);
    }
}
