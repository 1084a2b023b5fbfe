//! What an agent CLI is asked: one prompt (the CLIs take a single message), built from
//! the same instructions as the native agent's, for a batch of files, with the answer
//! going through Warden's `report_finding` tool and a fenced JSON answer as fallback.

use std::fmt::Write as _;

use crate::prompt::MAX_HITS;
use crate::revalidate::FindingTask;
use crate::FileTask;

/// The MCP server name the CLIs know Warden's tools under.
pub const MCP_SERVER: &str = "warden";

/// The instructions of an investigation, for every CLI.
pub const INVESTIGATE: &str = "\
You are a senior application-security engineer auditing files of a code base for real, exploitable vulnerabilities. The code is in the current directory (read-only); read it with your file tools (read, grep, glob). Do not try to run, build or modify anything, and do not use the network.

How to work:
- Start from the candidate lines and rule hits below; they are hints from a pattern scan, often false alarms.
- Read the files and follow the data: where does input come from (HTTP handlers, CLI, files, queues), which checks does it pass, where does it end up. Read callers, callees, middleware and configuration as needed.
- Report only issues an attacker can actually reach and exploit, with a concrete attack path. Do not report style problems, missing hardening without impact, test code, dead code, or issues that need an already-compromised host.
- Severity: critical = remote compromise or mass data exposure without auth; high = serious impact with a realistic path; medium = real but constrained; low = minor; info = noteworthy, not a vulnerability.";

/// How to answer, with the tool available.
const ANSWER: &str = "\
Report each distinct issue once with the `report_finding` tool of the `warden` MCP server, citing the file (relative path) and the exact lines: they are checked, and a rejected report says why; fix it and report again. When you are done (also when you found nothing), reply with a one-line summary.

Only if the `report_finding` tool is not available to you: end your reply with a fenced ```json block holding an array of findings, each an object with the fields path, start_line, end_line, title, severity (critical|high|medium|low|info), confidence (high|medium|low), cwe (e.g. CWE-89), description, attack_path, recommendation and optionally patch (a unified diff); an empty array when you found nothing.";

/// The prompt for investigating `batch` (one file, or a few from one directory).
pub fn investigation(batch: &[FileTask]) -> String {
    let mut s = String::from(INVESTIGATE);
    s.push_str("\n\n");
    match batch {
        [one] => {
            let _ = writeln!(s, "Investigate the file `{}`.", one.path);
        }
        many => {
            let _ = writeln!(s, "Investigate these {} files:", many.len());
            for t in many {
                let _ = writeln!(s, "- `{}`", t.path);
            }
        }
    }
    if let Some(first) = batch.first() {
        if !first.tech.is_empty() {
            let _ = writeln!(s, "Project technologies: {}.", first.tech.join(", "));
        }
    }
    for task in batch {
        if task.hits.is_empty() {
            let _ = writeln!(s, "\n`{}`: no rule hits; review it as a whole.", task.path);
            continue;
        }
        let _ = writeln!(s, "\nCandidate lines in `{}`:", task.path);
        for h in task.hits.iter().take(MAX_HITS) {
            let _ = writeln!(s, "- line {} [{}]: {}", h.line, h.rule_id, h.snippet.trim());
        }
        if task.hits.len() > MAX_HITS {
            let _ = writeln!(s, "- … and {} more hits", task.hits.len() - MAX_HITS);
        }
    }
    s.push('\n');
    s.push_str(ANSWER);
    s
}

/// The prompt for judging one stored finding.
pub fn revalidation(task: &FindingTask) -> String {
    let f = &task.finding.reported;
    let mut s = String::from(crate::revalidate::SYSTEM);
    let _ = write!(
        s,
        "\n\nThe code is in the current directory (read-only); read it with your file tools.\n\nThe reported finding:\n- file: `{}`, lines {}-{}\n- title: {}\n- severity: {}, confidence: {}\n",
        f.path,
        f.start_line,
        f.end_line,
        f.title,
        f.severity.as_str(),
        f.confidence.as_str()
    );
    if let Some(cwe) = &f.cwe {
        let _ = writeln!(s, "- CWE: {cwe}");
    }
    let _ = write!(
        s,
        "- description: {}\n- attack path: {}\n\nAnswer exactly once with the `report_verdict` tool of the `warden` MCP server. Only if that tool is not available to you: end your reply with a fenced ```json block holding one object with the fields verdict (true_positive|false_positive|uncertain), reasoning and optionally corrected_severity.",
        f.description, f.attack_path
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn task(path: &str) -> FileTask {
        FileTask {
            root: PathBuf::from("/workspace"),
            path: path.to_string(),
            language: Some("python".into()),
            hits: vec![warden_store::Hit {
                rule_id: "python.os-system".into(),
                line: 8,
                snippet: "os.system(cmd)".into(),
            }],
            tech: vec!["flask".into()],
        }
    }

    #[test]
    fn a_batch_names_every_file_and_its_hits() {
        let p = investigation(&[task("app/a.py"), task("app/b.py")]);
        assert!(p.contains("these 2 files"), "{p}");
        assert!(p.contains("`app/a.py`") && p.contains("`app/b.py`"));
        assert!(p.contains("line 8 [python.os-system]"));
        assert!(p.contains("report_finding") && p.contains("```json"));
        let one = investigation(&[task("app/a.py")]);
        assert!(one.contains("Investigate the file `app/a.py`."));
    }
}
