//! `warden rules`: the built-in rules, for choosing `--rules`.

use crate::cli::RulesArgs;
use warden_scan::ScannerBuilder;

pub fn run(args: &RulesArgs) -> anyhow::Result<u8> {
    let scanner = ScannerBuilder::new().build()?;
    if args.patterns {
        let patterns: Vec<&str> = scanner
            .packs()
            .iter()
            .flat_map(|p| &p.rules)
            .map(|r| r.pattern.as_str())
            .collect();
        super::emit(None, &patterns.join("\n"))?;
        return Ok(0);
    }
    if args.json {
        let rules: Vec<serde_json::Value> = scanner
            .packs()
            .iter()
            .flat_map(|p| &p.rules)
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "pack": r.pack, "title": r.title, "cwe": r.cwe,
                    "category": r.category, "role": r.role.as_str(), "weight": r.weight,
                    "frameworks": r.frameworks, "help": r.help,
                })
            })
            .collect();
        super::emit(None, &serde_json::to_string_pretty(&rules)?)?;
        return Ok(0);
    }
    let mut out = String::new();
    for pack in scanner.packs() {
        out.push_str(&format!(
            "{} ({}, {} rules)\n",
            pack.id,
            pack.name,
            pack.rules.len()
        ));
        for r in &pack.rules {
            let gate = if r.frameworks.is_empty() {
                String::new()
            } else {
                format!(" [{}]", r.frameworks.join(","))
            };
            out.push_str(&format!(
                "  {:<48} {:<11} {:<18} {:<9} w{:<3} {}{}\n",
                r.id,
                r.role.as_str(),
                r.category,
                r.cwe.as_deref().unwrap_or("-"),
                r.weight,
                r.title,
                gate
            ));
        }
    }
    super::emit(None, &out)?;
    Ok(0)
}
