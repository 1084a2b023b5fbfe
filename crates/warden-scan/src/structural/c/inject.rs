//! Strings that reach an interpreter: a format argument that is not a literal, and
//! commands, paths and SQL formatted from input with no check of the input first.

use super::func::Func;
use super::syntax::{call, descendants, line, path_of, string_value, strip, text};
use super::Finding;
use crate::structural::fields::Fields;
use crate::structural::fields::Kinds;
use tree_sitter::Node;

/// printf-family calls and the index of their format argument.
const FORMATS: &[(&str, usize)] = &[
    ("printf", 0),
    ("vprintf", 0),
    ("wprintf", 0),
    ("fprintf", 1),
    ("vfprintf", 1),
    ("fwprintf", 1),
    ("dprintf", 1),
    ("vdprintf", 1),
    ("sprintf", 1),
    ("vsprintf", 1),
    ("snprintf", 2),
    ("vsnprintf", 2),
    ("swprintf", 2),
    ("syslog", 1),
    ("vsyslog", 1),
    ("err", 1),
    ("errx", 1),
    ("warn", 0),
    ("warnx", 0),
    ("printw", 0),
];

/// The index of the format argument of printf-family call `name`.
pub(crate) fn format_index(name: &str) -> Option<usize> {
    FORMATS.iter().find(|(c, _)| *c == name).map(|&(_, at)| at)
}

/// Calls returning a translation of a literal: still a constant format.
const TRANSLATIONS: &[&str] = &["_", "gettext", "N_", "dgettext", "ngettext"];

/// A printf-family call whose format is not a constant.
pub(crate) fn format_string(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((name, args)) = call(src, n) else {
            continue;
        };
        // printf itself, or a variadic wrapper of the file that hands its format on.
        // `log.write(msg)`, `logger_->emit(msg)`: a variadic method of a class of the file.
        let method = name
            .rsplit_once("->")
            .or_else(|| name.rsplit_once('.'))
            .map(|(_, m)| m.trim());
        let Some(at) = format_index(name)
            .or_else(|| f.file.format_wrappers.get(name).copied())
            .or_else(|| method.and_then(|m| f.file.format_wrappers.get(m).copied()))
        else {
            continue;
        };
        let Some(fmt) = args.get(at) else { continue };
        if constant_format(f, *fmt) {
            continue;
        }
        // A variadic wrapper (`log_msg(const char *fmt, ...)`) passes its own caller's
        // format on; the caller is where a literal is checked.
        let param = path_of(src, *fmt).filter(|p| f.params.iter().any(|(q, _)| q == p));
        let forwards = f.variadic || f.params.iter().any(|(_, t)| t.contains("va_list"));
        if param.is_some() && forwards {
            continue;
        }
        let input = f.is_input(*fmt);
        // Input that passed a validation call first (`if (!is_plain_text(s)) return`).
        if input && checked_input(f, n.start_byte(), NOT_FORMAT_CHECKS) {
            continue;
        }
        let input = if input { " (input)" } else { "" };
        out.push(Finding {
            check: "format-string",
            line: line(n),
            label: format!(
                "{name}() gets a non-literal format `{}`{input}",
                short(text(src, *fmt))
            ),
        });
    }
}

fn constant_format(f: &Func, n: Node) -> bool {
    let n = strip(n);
    if string_value(f.src, n).is_some() {
        return true;
    }
    match n.kind_name() {
        "identifier" => {
            let t = text(f.src, n);
            // A macro (`FMT`, `LOG_FORMAT`) is a literal by convention.
            f.is_literal_var(t)
                || (t.len() > 1
                    && t.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        }
        "conditional_expression" => {
            let c = n.field("consequence");
            let a = n.field("alternative");
            c.is_some_and(|c| constant_format(f, c)) && a.is_some_and(|a| constant_format(f, a))
        }
        "call_expression" => call(f.src, n).is_some_and(|(c, args)| {
            TRANSLATIONS.contains(&c) && args.first().is_some_and(|a| constant_format(f, *a))
        }),
        "subscript_expression" => {
            // A table of literal formats indexed by a number.
            n.field("argument")
                .is_some_and(|a| f.is_literal_var(text(f.src, a)))
        }
        _ => false,
    }
}

fn short(t: &str) -> String {
    let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.len() > 40 {
        format!(
            "{}…",
            &t[..t.char_indices().nth(39).map_or(t.len(), |(i, _)| i)]
        )
    } else {
        t
    }
}

/// (call, argument index, check).
const BUILT_SINKS: &[(&str, usize, &str)] = &[
    ("system", 0, "command-built"),
    ("popen", 0, "command-built"),
    ("execl", 3, "command-built"),
    ("execlp", 3, "command-built"),
    ("fopen", 0, "path-built"),
    ("freopen", 0, "path-built"),
    ("open", 0, "path-built"),
    ("openat", 1, "path-built"),
    ("creat", 0, "path-built"),
    ("opendir", 0, "path-built"),
    ("unlink", 0, "path-built"),
    ("remove", 0, "path-built"),
    ("rmdir", 0, "path-built"),
    ("stat", 0, "path-built"),
    ("sqlite3_exec", 1, "sql-built"),
    ("sqlite3_prepare", 1, "sql-built"),
    ("sqlite3_prepare_v2", 1, "sql-built"),
    ("sqlite3_prepare_v3", 1, "sql-built"),
    ("mysql_query", 1, "sql-built"),
    ("mysql_real_query", 1, "sql-built"),
    ("PQexec", 1, "sql-built"),
];

/// Calls in a condition that read input rather than check it.
const NOT_CHECKS: &[&str] = &[
    "fgets", "gets", "scanf", "fscanf", "sscanf", "read", "recv", "recvfrom", "getline", "fread",
    "strlen", "strnlen", "snprintf", "sprintf", "strcpy", "strncpy",
];

/// Calls that, before a format, only pick a branch: a look at a prefix
/// (`strncmp(line, "LOG ", 4) == 0`) leaves the rest, `%n` and all, as it was sent.
const NOT_FORMAT_CHECKS: &[&str] = &["strncmp", "strncasecmp", "memcmp"];

/// A command, path or query formatted from input, where no check of the input (a
/// validation call, a comparison with an allowed value) comes first.
pub(crate) fn built_sinks(f: &Func, out: &mut Vec<Finding>) {
    let src = f.src;
    for &n in &f.nodes {
        let Some((name, args)) = call(src, n) else {
            continue;
        };
        let Some(&(_, at, check)) = BUILT_SINKS.iter().find(|(c, _, _)| *c == name) else {
            continue;
        };
        let Some(arg) = args.get(at) else { continue };
        let Some(p) = path_of(src, *arg) else {
            continue;
        };
        if !f.built.contains(&p) {
            continue;
        }
        if checked_input(f, n.start_byte(), &[]) {
            continue;
        }
        let what = match check {
            "command-built" => "command",
            "path-built" => "path",
            _ => "query",
        };
        out.push(Finding {
            check,
            line: line(n),
            label: format!(
                "{name}() runs `{p}`, a {what} formatted from input with no check of it"
            ),
        });
    }
}

/// Whether some condition before `before` passes an input variable to a checking call
/// or compares it with a value (`if (!is_safe(name))`, `strcmp(op, "list") == 0`).
fn checked_input(f: &Func, before: usize, not_checks: &[&str]) -> bool {
    f.tainted.iter().any(|v| {
        let g = f.guard(v, before);
        g.called && !only_reads(f, v, before, not_checks)
    })
}

/// Whether every call naming `v` in a condition is a read (`fgets(v, ...) == NULL`).
fn only_reads(f: &Func, v: &str, before: usize, not_checks: &[&str]) -> bool {
    let src = f.src;
    let mut any_check = false;
    for &n in &f.nodes {
        if n.start_byte() >= before {
            break;
        }
        if !matches!(
            n.kind_name(),
            "if_statement" | "while_statement" | "conditional_expression"
        ) {
            continue;
        }
        let Some(c) = n.field("condition") else {
            continue;
        };
        for x in descendants(c) {
            if let Some((name, cargs)) = call(src, x) {
                let names_v = cargs
                    .iter()
                    .any(|a| super::syntax::mentions(text(src, *a), v));
                if names_v
                    && !NOT_CHECKS.contains(&name)
                    && !not_checks.contains(&name)
                    // The file's own readers (`while (read_line(c) > 0)`) read too.
                    && !f.file.fills_param.contains_key(name)
                {
                    any_check = true;
                }
            }
            if x.kind_name() == "binary_expression" {
                let op = x.field("operator").map(|o| text(src, o));
                let sides = [x.field("left"), x.field("right")];
                let names_v = sides
                    .iter()
                    .flatten()
                    .any(|s| path_of(src, *s).is_some_and(|p| p == v));
                if matches!(op, Some("==" | "!=")) && names_v {
                    any_check = true;
                }
            }
        }
    }
    !any_check
}
