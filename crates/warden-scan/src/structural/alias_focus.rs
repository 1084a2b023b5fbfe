//! Focus lines for calls through an alias made at the top of a file.
//!
//! The walk enters only functions that hold a focus line (a line some rule matched).
//! When that line sits at the top level and binds a name (`from os import system as
//! run_cmd`, `sh = functools.partial(subprocess.run, shell=True)`), the sink is called
//! through that name inside some function the match never touched: the lines calling
//! the name become focus lines too, so those functions are walked (and parsed).

use crate::words::ident_prefix;

impl<'a> super::analyze::Walker<'a> {
    /// A call's text for a sink's `when`/`unless`, with what the wrapper that made its
    /// callee's alias fixed (`functools.partial(subprocess.run, shell=True)`): those
    /// arguments are every call's through the alias.
    pub(crate) fn sink_text(&self, n: tree_sitter::Node<'a>, fixed: Option<&str>) -> String {
        let own = self.call_text(n);
        match fixed {
            Some(f) => format!("{own} {f}"),
            None => own,
        }
    }
}

/// Names a top-level line binds: what follows ` as ` (imports), or the target of an
/// assignment or declaration (`sh = …`, `const run = …`).
fn bound_names(line: &str) -> Vec<&str> {
    if line.starts_with([' ', '\t']) {
        return Vec::new();
    }
    let mut names: Vec<&str> = Vec::new();
    if line.starts_with("from ") || line.starts_with("import ") {
        let mut rest = line;
        while let Some(at) = rest.find(" as ") {
            rest = &rest[at + 4..];
            let name = ident_prefix(rest.trim_start());
            if !name.is_empty() {
                names.push(name);
            }
        }
        return names;
    }
    let decl = ["const ", "let ", "var "]
        .iter()
        .find_map(|k| line.strip_prefix(k))
        .unwrap_or(line);
    let name = ident_prefix(decl);
    let after = decl[name.len()..].trim_start();
    if !name.is_empty() && after.starts_with('=') && !after.starts_with("==") {
        names.push(name);
    }
    names
}

/// Lines (1-based) that call a name bound on one of the top-level `lines`.
pub(crate) fn alias_call_lines(text: &str, lines: &[u32]) -> Vec<u32> {
    let Some(&last) = lines.iter().max() else {
        return Vec::new();
    };
    let mut names: Vec<&str> = text
        .lines()
        .take(last as usize)
        .enumerate()
        .filter(|(i, _)| lines.contains(&u32::try_from(i + 1).unwrap_or(u32::MAX)))
        .flat_map(|(_, line)| bound_names(line))
        .filter(|n| n.len() >= 2)
        .collect();
    names.sort_unstable();
    names.dedup();
    // Only names the file calls somewhere: one search of the text each, not one per line.
    names.retain(|name| text.contains(&format!("{name}(")));
    if names.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let calls = names.iter().any(|name| {
            line.match_indices(name).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let called = line[at + name.len()..].starts_with('(');
                called && !before.is_some_and(|c| c == '_' || c == '.' || c.is_ascii_alphanumeric())
            })
        });
        if calls {
            out.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_through_top_level_aliases_are_found() {
        let text = "from os import system as run_cmd\n\n\ndef f(q):\n    run_cmd(\"lpr \" + q)\n    my_run_cmd(q)\n";
        assert_eq!(alias_call_lines(text, &[1]), vec![5]);
        let text = "import functools\nsh = functools.partial(subprocess.run, shell=True)\ndef g(d):\n    return sh(f\"x {d}\")\n";
        assert_eq!(alias_call_lines(text, &[2]), vec![4]);
    }

    #[test]
    fn indented_lines_and_comparisons_bind_nothing() {
        assert!(bound_names("    sh = partial(run, shell=True)").is_empty());
        assert!(bound_names("x == y").is_empty());
        assert_eq!(bound_names("const run = promisify(exec)"), vec!["run"]);
        assert_eq!(
            bound_names("import subprocess as sp, os as o"),
            vec!["sp", "o"]
        );
    }
}
