//! Prints one JSON line per scanned file: path, score and fired rule ids.
//! For tuning rule packs: `cargo run --release -p warden-scan --example scan_scores -- DIR`.

use warden_scan::{NoProgress, Prior, ScannerBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let scanner = ScannerBuilder::new().build()?;
    let outcome = scanner.scan(std::path::Path::new(&root), &Prior::default(), &NoProgress)?;
    for f in &outcome.files {
        let Some(m) = &f.matched else { continue };
        let rules: Vec<&str> = m.hits.iter().map(|h| h.rule_id.as_str()).collect();
        println!(
            "{}",
            serde_json::json!({"path": f.path, "score": m.score, "rules": rules})
        );
    }
    eprintln!("{}", serde_json::to_string(&outcome.stats)?);
    Ok(())
}
