//! The manifests under `deploy/` stay true: every `warden` command line in them parses
//! with this build's flags (`--help` appended, so nothing runs; an unknown flag or a bad
//! value fails before clap reaches it).

mod common;

use common::*;
use std::path::Path;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");

/// The `args:` lists of the containers whose image is warden: a flow list on one line
/// (`args: ["scan", "/src/app"]`) or a block of `- item` lines.
fn container_args(yaml: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    let mut warden_image = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if let Some(image) = trimmed.strip_prefix("image:") {
            warden_image = image.contains("warden");
        }
        let Some(rest) = trimmed.strip_prefix("args:") else {
            continue;
        };
        if !warden_image {
            continue;
        }
        let rest = rest.trim();
        if let Some(flow) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            out.push(flow.split(',').map(|a| unquote(a.trim())).collect());
            continue;
        }
        let indent = line.len() - trimmed.len();
        let items = lines[i + 1..]
            .iter()
            .take_while(|l| {
                let t = l.trim_start();
                t.starts_with("- ") && l.len() - t.len() >= indent
            })
            .map(|l| unquote(l.trim_start()[2..].trim()))
            .collect();
        out.push(items);
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim_matches('"').to_string()
}

/// `warden …` command lines of a workflow's `run:` steps, folded `>` blocks joined.
fn workflow_commands(yaml: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = yaml.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        let inline = t
            .strip_prefix("- run: ")
            .or_else(|| t.strip_prefix("run: "));
        let mut command = match inline {
            Some(">") | Some("|") | None if !t.starts_with("warden ") => {
                i += 1;
                continue;
            }
            Some(cmd) if cmd != ">" && cmd != "|" => cmd.to_string(),
            _ => t.to_string(),
        };
        // A folded command goes on over the following lines of the same block.
        let indent = lines[i].len() - t.len();
        while i + 1 < lines.len() && t.starts_with("warden ") {
            let next = lines[i + 1];
            let nt = next.trim_start();
            if nt.is_empty() || next.len() - nt.len() != indent || nt.starts_with("warden ") {
                break;
            }
            command.push(' ');
            command.push_str(nt);
            i += 1;
        }
        if let Some(args) = command.strip_prefix("warden ") {
            out.push(
                expand_expressions(args)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            );
        }
        i += 1;
    }
    out
}

/// `${{ … }}` expressions as the runner substitutes them: one word each.
fn expand_expressions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push('1');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parses(args: &[String], file: &str) {
    let out = run(warden().args(args).arg("--help"));
    assert_eq!(
        out.code,
        0,
        "{file}: `warden {}` does not parse: {}",
        args.join(" "),
        out.stderr
    );
}

#[test]
fn every_warden_command_in_the_kubernetes_manifests_parses() {
    let mut seen = Vec::new();
    for name in ["scan-job.yaml", "worker-job.yaml"] {
        let yaml = std::fs::read_to_string(Path::new(DEPLOY).join("kubernetes").join(name))
            .expect("manifest");
        for args in container_args(&yaml) {
            parses(&args, name);
            seen.push(args[0].clone());
        }
    }
    seen.sort();
    assert_eq!(seen, ["agents", "scan", "worker"], "the commands found");
}

#[test]
fn every_warden_command_in_the_github_actions_example_parses() {
    let yaml = std::fs::read_to_string(Path::new(DEPLOY).join("github-actions/warden-scale.yml"))
        .expect("workflow");
    let commands = workflow_commands(&yaml);
    let names: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    assert!(names.contains(&"worker"), "{commands:?}");
    assert!(
        names.contains(&"scan") && names.contains(&"report"),
        "{commands:?}"
    );
    for args in &commands {
        parses(args, "warden-scale.yml");
    }
}
