//! The prompts. The system prompt and the tool definitions are the same for
//! every file (a stable, cacheable prefix); everything about the file goes
//! in the first user message.

use std::fmt::Write as _;

use crate::confine::Root;
use crate::FileTask;

/// The system prompt, identical for every investigation so the provider can cache it.
pub const SYSTEM: &str = "\
You are a senior application-security engineer auditing one file of a code base for real, exploitable vulnerabilities.

How to work:
- Start from the candidate lines and rule hits you are given; they are hints from a pattern scan, often false alarms.
- Use the tools to read the file and follow the data: where does input come from (HTTP handlers, CLI, files, queues), which checks does it pass, where does it end up. Read callers, callees, middleware and configuration as needed. Paths are relative to the project root; you cannot leave the project.
- Report only issues an attacker can actually reach and exploit, with a concrete attack path. Do not report style problems, missing hardening without impact, test code, dead code, or issues that need an already-compromised host. When in doubt, investigate further or do not report.
- Report each distinct issue once with `report_finding`, citing the file and the exact lines (they are checked). If a report is rejected, fix it and report again.
- Severity: critical = remote compromise or mass data exposure without auth; high = serious impact with a realistic path; medium = real but constrained; low = minor; info = noteworthy, not a vulnerability.
- When done, call `finish` (also when you found nothing). Be economical: read ranges rather than whole large files.";

/// Files up to this size are inlined in the first message (saving a turn).
pub const INLINE_MAX_BYTES: usize = 24 * 1024;
/// Most rule hits listed in the prompt.
pub const MAX_HITS: usize = 40;

/// The first user message for `task`.
pub fn user_prompt(task: &FileTask, root: &Root) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Investigate the file `{}`.", task.path);
    if let Some(lang) = &task.language {
        let _ = writeln!(s, "Language: {lang}.");
    }
    if !task.tech.is_empty() {
        let _ = writeln!(s, "Project technologies: {}.", task.tech.join(", "));
    }
    if task.hits.is_empty() {
        let _ = writeln!(
            s,
            "\nNo rule hits were recorded; review the file as a whole."
        );
    } else {
        let _ = writeln!(s, "\nCandidate lines (rule hits from the pattern scan):");
        for h in task.hits.iter().take(MAX_HITS) {
            let _ = writeln!(s, "- line {} [{}]: {}", h.line, h.rule_id, h.snippet.trim());
        }
        if task.hits.len() > MAX_HITS {
            let _ = writeln!(s, "- … and {} more hits", task.hits.len() - MAX_HITS);
        }
    }
    match inline_content(task, root) {
        Some(numbered) => {
            let _ = write!(s, "\nThe file, with line numbers:\n```\n{numbered}```\n");
        }
        None => {
            let _ = writeln!(
                s,
                "\nThe file is large or unreadable here: use read_file with line ranges."
            );
        }
    }
    s.push_str(
        "\nFind the real, exploitable issues, report each with report_finding, then call finish.",
    );
    s
}

fn inline_content(task: &FileTask, root: &Root) -> Option<String> {
    let path = root.resolve(&task.path).ok()?;
    if std::fs::metadata(&path).ok()?.len() as usize > INLINE_MAX_BYTES {
        return None;
    }
    let text = crate::tools::read_text(&path).ok()??;
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for (i, line) in text.lines().enumerate() {
        let _ = writeln!(out, "{:>5}\t{}", i + 1, crate::tools::clip_line(line));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::project;
    use warden_store::Hit;

    #[test]
    fn prompt_names_file_hits_tech_and_inlines_small_files() {
        let (_o, d, r) = project();
        let task = FileTask {
            root: d.path().to_path_buf(),
            path: "src/app.py".into(),
            language: Some("python".into()),
            hits: vec![Hit {
                rule_id: "py.sqli.concat".into(),
                line: 5,
                snippet: "return db.execute(...)".into(),
            }],
            tech: vec!["flask".into(), "python".into()],
        };
        let p = user_prompt(&task, &r);
        assert!(p.contains("`src/app.py`"));
        assert!(p.contains("Language: python."));
        assert!(p.contains("flask, python"));
        assert!(p.contains("- line 5 [py.sqli.concat]"));
        assert!(p.contains("    4\t    q = req.args['q']"));
        assert!(SYSTEM.contains("exploitable"));
    }
}
