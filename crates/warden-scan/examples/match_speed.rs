//! Times rule matching alone, per language, on one thread: where a scan's CPU goes
//! once files are read (no walk rules, scoring or store).
//!
//!   cargo run --release -p warden-scan --example match_speed -- <DIR> [ROUNDS]
//!
//! Every built-in rule runs on the languages its pack covers (framework-gated ones
//! too); files are read into memory first, so only matching is timed. Prints, per
//! language, files, MB, seconds, MB/s and hits, then the slowest files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use warden_scan::rules::builtin_packs;
use warden_scan::{Language, RuleSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: match_speed <DIR> [ROUNDS]")?);
    let rounds: u32 = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("ROUNDS `{n}`: {e}"))?,
        None => 3,
    };

    let packs = builtin_packs()?;
    let mut rules = Vec::new();
    let mut covers = Vec::new();
    for pack in &packs {
        for rule in &pack.rules {
            let langs: Vec<Language> = Language::ALL
                .into_iter()
                .filter(|&l| pack.covers(l) || rule.languages.contains(&l))
                .collect();
            rules.push(rule.clone());
            covers.push((rule.id.clone(), langs));
        }
    }
    let started = Instant::now();
    let set = RuleSet::compile(rules, Language::ALL, |rule, lang| {
        covers
            .iter()
            .any(|(id, langs)| *id == rule.id && langs.contains(&lang))
    })?;
    println!("compiled in {:.3} s", started.elapsed().as_secs_f64());

    let mut files: Vec<(PathBuf, Language, Vec<u8>)> = Vec::new();
    for entry in ignore::WalkBuilder::new(&dir).hidden(false).build() {
        let entry = entry?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(lang) = Language::detect(entry.path()) else {
            continue;
        };
        let content = std::fs::read(entry.path())?;
        if content.len() <= 1 << 20 {
            files.push((entry.path().to_path_buf(), lang, content));
        }
    }

    // Per language: (files, bytes, time, hits); per file: the best time of any round.
    let mut per_lang: BTreeMap<&str, (u64, u64, Duration, u64)> = BTreeMap::new();
    let mut per_file: Vec<(Duration, usize)> = vec![(Duration::MAX, 0); files.len()];
    for round in 0..rounds {
        for (i, (_, lang, content)) in files.iter().enumerate() {
            let t = Instant::now();
            let hits = set.find(*lang, content);
            let took = t.elapsed();
            per_file[i].0 = per_file[i].0.min(took);
            per_file[i].1 = content.len();
            if round == 0 {
                let e = per_lang.entry(lang.name()).or_default();
                e.0 += 1;
                e.1 += content.len() as u64;
                e.3 += hits.len() as u64;
            }
            per_lang.entry(lang.name()).or_default().2 += took;
        }
    }
    println!(
        "{:<12} {:>6} {:>8} {:>8} {:>8} {:>7}",
        "language", "files", "MB", "s", "MB/s", "hits"
    );
    let (mut all_bytes, mut all_time) = (0u64, Duration::ZERO);
    for (lang, (n, bytes, time, hits)) in &per_lang {
        let secs = time.as_secs_f64() / f64::from(rounds);
        let mb = *bytes as f64 / 1e6;
        println!(
            "{lang:<12} {n:>6} {mb:>8.1} {secs:>8.3} {:>8.0} {hits:>7}",
            mb / secs.max(1e-9)
        );
        all_bytes += bytes;
        all_time += *time;
    }
    let secs = all_time.as_secs_f64() / f64::from(rounds);
    println!(
        "{:<12} {:>6} {:>8.1} {secs:>8.3} {:>8.0}",
        "all",
        files.len(),
        all_bytes as f64 / 1e6,
        all_bytes as f64 / 1e6 / secs.max(1e-9)
    );
    let mut slowest: Vec<usize> = (0..files.len()).collect();
    slowest.sort_by_key(|&i| std::cmp::Reverse(per_file[i].0));
    println!("slowest files:");
    for &i in slowest.iter().take(5) {
        let (took, len) = per_file[i];
        println!(
            "  {:.4} s  {:>8} B  {}",
            took.as_secs_f64(),
            len,
            files[i].0.display()
        );
    }
    Ok(())
}
