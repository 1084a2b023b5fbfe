//! Rows for the commands that read findings: `report`, `status`, `triage`.

use crate::table::{case, Case, Fixture::*};

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "report: unknown format",
            Findings,
            &["report", "--format", "pdf"],
        )
        .says("pdf"),
        case(
            "report: unknown severity",
            Findings,
            &["report", "--min-severity", "bogus"],
        )
        .says("--min-severity"),
        case(
            "report: unknown --fail-on",
            Findings,
            &["report", "--fail-on", "urgent"],
        )
        .says("--fail-on"),
        case(
            "report: empty --fail-on",
            Findings,
            &["report", "--fail-on", ""],
        )
        .says("--fail-on"),
        case(
            "report: unknown project",
            Findings,
            &["report", "--project-id", "other"],
        )
        .says("other"),
        case(
            "report: --fail-on reached exits 1",
            Findings,
            &["report", "--fail-on", "high"],
        )
        .code(1),
        case(
            "report: --fail-on not reached exits 0",
            Findings,
            &["report", "--fail-on", "critical"],
        )
        .code(0),
        case(
            "report: from a directory without a store",
            Findings,
            &["report", "--data-dir", "{home}"],
        )
        .says("warden scan"),
        case(
            "status: unknown project",
            Findings,
            &["status", "--project-id", "other"],
        )
        .says("other"),
        case(
            "status: unexpected argument",
            Findings,
            &["status", "extra"],
        )
        .says("extra"),
        case(
            "triage: --ignore without --reason",
            Findings,
            &["triage", "--ignore", "abc"],
        )
        .says("--reason"),
        case(
            "triage: --reason without --ignore",
            Findings,
            &["triage", "--reason", "x"],
        )
        .says("--ignore"),
        case(
            "triage: --wont-fix alone",
            Findings,
            &["triage", "--wont-fix"],
        )
        .says("--ignore"),
        case(
            "triage: unknown finding id",
            Findings,
            &["triage", "--ignore", "zzzz", "--reason", "r"],
        )
        .says("zzzz"),
        case(
            "triage: empty finding id",
            Findings,
            &["triage", "--ignore", "", "--reason", "r"],
        )
        .says("--ignore"),
        case(
            "triage: empty reason",
            Findings,
            &["triage", "--ignore", "a", "--reason", " "],
        )
        .says("--reason"),
        case("rules: stray argument", Tree, &["rules", "python"]).says("python"),
    ]
}
