//! Prints the structural findings of each file given, with their labels: what a
//! structural rule confirmed and why (for writing and checking rules).
//!
//!     cargo run --release -p warden-scan --example structural_hits -- FILE...
use warden_scan::structural::{analyze, builtin_packs};
use warden_scan::Language;

fn main() {
    let packs = match builtin_packs() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("structural_hits: {e}");
            std::process::exit(2);
        }
    };
    for path in std::env::args().skip(1) {
        let Some(lang) = Language::detect(std::path::Path::new(&path)) else {
            eprintln!("structural_hits: {path}: no language");
            continue;
        };
        let content = match std::fs::read(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("structural_hits: {path}: {e}");
                continue;
            }
        };
        for pack in packs.iter().filter(|p| p.languages.contains(&lang)) {
            let all: Vec<usize> = (0..pack.rules.len()).collect();
            for h in analyze(lang, &content, &pack.rules, &all).hits {
                println!("{path}:{} {} {}", h.line, pack.rules[h.rule].id, h.snippet);
            }
        }
    }
}
