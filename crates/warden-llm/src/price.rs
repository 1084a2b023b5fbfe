//! Per-model prices and the cost of a call.
//!
//! Built-in USD prices per million tokens for current Claude and GPT models,
//! overridable from a TOML or JSON file. A model with no price is
//! [`Cost::Unknown`], never a silent zero.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::types::Usage;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Writing the prompt cache (Anthropic: 1.25× input for 5-minute caching;
    /// OpenAI caches for free, so it equals `input`).
    pub cache_write: f64,
    pub cache_read: f64,
}

const fn p(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price {
        input,
        output,
        cache_write,
        cache_read,
    }
}

/// Built-in prices (list prices, standard tier).
const BUILTIN: &[(&str, Price)] = &[
    // Anthropic
    ("claude-opus-4-8", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-7", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-6", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-5", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-1", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet-4-6", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4-5", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", p(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", p(0.80, 4.0, 1.0, 0.08)),
    // OpenAI
    ("gpt-5.5", p(5.0, 30.0, 5.0, 0.50)),
    ("gpt-5.2", p(1.75, 14.0, 1.75, 0.175)),
    ("gpt-5.1", p(1.25, 10.0, 1.25, 0.125)),
    ("gpt-5.1-codex", p(1.25, 10.0, 1.25, 0.125)),
    ("gpt-5", p(1.25, 10.0, 1.25, 0.125)),
    ("gpt-5-codex", p(1.25, 10.0, 1.25, 0.125)),
    ("gpt-5-mini", p(0.25, 2.0, 0.25, 0.025)),
    ("gpt-5-nano", p(0.05, 0.40, 0.05, 0.005)),
    ("gpt-4.1", p(2.0, 8.0, 2.0, 0.50)),
    ("gpt-4.1-mini", p(0.40, 1.60, 0.40, 0.10)),
    ("gpt-4.1-nano", p(0.10, 0.40, 0.10, 0.025)),
    ("gpt-4o", p(2.50, 10.0, 2.50, 1.25)),
    ("gpt-4o-mini", p(0.15, 0.60, 0.15, 0.075)),
    ("o3", p(2.0, 8.0, 2.0, 0.50)),
    ("o3-mini", p(1.10, 4.40, 1.10, 0.55)),
    ("o4-mini", p(1.10, 4.40, 1.10, 0.275)),
    ("o1", p(15.0, 60.0, 15.0, 7.50)),
];

/// The cost of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Cost {
    /// USD.
    Known(f64),
    /// No price for this model; the spend is not zero, it is unknown.
    Unknown { model: String },
}

impl Cost {
    /// The amount, if known.
    pub fn usd(&self) -> Option<f64> {
        match self {
            Self::Known(x) => Some(*x),
            Self::Unknown { .. } => None,
        }
    }
}

/// Why a price file could not be used.
#[derive(Debug, Error)]
pub enum PriceError {
    #[error("cannot read price file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("price file {path} is invalid: {message}")]
    Parse { path: String, message: String },
    #[error("price file {path}: model {model}: prices must be finite and not negative")]
    Negative { path: String, model: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    models: BTreeMap<String, FilePrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePrice {
    input: f64,
    output: f64,
    cache_write: Option<f64>,
    cache_read: Option<f64>,
}

/// Model id → price.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PriceTable {
    /// The built-in table.
    pub fn builtin() -> Self {
        Self {
            prices: BUILTIN.iter().map(|(m, p)| (m.to_string(), *p)).collect(),
        }
    }

    /// Sets or replaces one model's price.
    pub fn set(&mut self, model: impl Into<String>, price: Price) {
        self.prices.insert(model.into(), price);
    }

    /// Overrides prices from a file (`.json`, else TOML):
    /// `[models."my-model"] input = 1.0, output = 2.0, cache_write = 1.25, cache_read = 0.1`.
    /// Cache prices default to the input price when left out.
    pub fn with_overrides(mut self, path: &Path) -> Result<Self, PriceError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: PriceFile = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        }
        .map_err(|message| PriceError::Parse {
            path: shown.clone(),
            message,
        })?;
        for (model, fp) in file.models {
            let price = p(
                fp.input,
                fp.output,
                fp.cache_write.unwrap_or(fp.input),
                fp.cache_read.unwrap_or(fp.input),
            );
            let all = [
                price.input,
                price.output,
                price.cache_write,
                price.cache_read,
            ];
            if all.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return Err(PriceError::Negative { path: shown, model });
            }
            self.prices.insert(model, price);
        }
        Ok(self)
    }

    /// The price of a model. Accepts the ids providers and gateways report:
    /// exact ids, dated snapshots (`claude-sonnet-4-5-20250929`,
    /// `gpt-4.1-2025-04-14`), gateway prefixes (`anthropic/claude-sonnet-4.5`).
    /// Never guesses across model sizes: `gpt-5.5-pro` is not `gpt-5.5`.
    pub fn price(&self, model: &str) -> Option<Price> {
        candidates(model).find_map(|m| self.prices.get(&m).copied())
    }

    /// The cost of a call.
    pub fn cost(&self, model: &str, usage: &Usage) -> Cost {
        match self.price(model) {
            Some(p) => Cost::Known(
                (usage.input as f64 * p.input
                    + usage.output as f64 * p.output
                    + usage.cache_write as f64 * p.cache_write
                    + usage.cache_read as f64 * p.cache_read)
                    / 1_000_000.0,
            ),
            None => {
                tracing::warn!(model, "no price for model; its cost is unknown");
                Cost::Unknown {
                    model: model.to_string(),
                }
            }
        }
    }
}

/// Names to look a model up under, most specific first.
fn candidates(model: &str) -> impl Iterator<Item = String> {
    let m = model.trim().to_ascii_lowercase();
    let m = match m.split_once('/') {
        Some((_, rest)) => rest.to_string(),
        None => m,
    };
    let undated = strip_date(&m).to_string();
    let mut out = vec![m.clone(), undated.clone()];
    // Gateways spell Claude versions with dots: claude-sonnet-4.5.
    if m.starts_with("claude-") {
        out.push(m.replace('.', "-"));
        out.push(undated.replace('.', "-"));
    }
    out.into_iter()
}

/// Removes a trailing `-YYYYMMDD` or `-YYYY-MM-DD` snapshot date.
fn strip_date(m: &str) -> &str {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, tail)) = m.rsplit_once('-') {
        if tail.len() == 8 && digits(tail) {
            return head;
        }
    }
    if m.len() > 11 {
        let (head, tail) = m.split_at(m.len() - 11);
        let t = tail.as_bytes();
        if t[0] == b'-'
            && digits(&tail[1..5])
            && t[5] == b'-'
            && digits(&tail[6..8])
            && t[8] == b'-'
            && digits(&tail[9..11])
        {
            return head;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, cw: u64, cr: u64) -> Usage {
        Usage {
            input,
            output,
            cache_write: cw,
            cache_read: cr,
            reasoning: 0,
        }
    }

    #[test]
    fn cost_of_known_models() {
        let t = PriceTable::builtin();
        let c = t.cost(
            "claude-sonnet-4-5",
            &usage(1_000_000, 1_000_000, 1_000_000, 1_000_000),
        );
        assert_eq!(c, Cost::Known(3.0 + 15.0 + 3.75 + 0.30));
        // Claude Code's own figure: 10 input + 7 output on sonnet-4-5 = $0.000135.
        let c = t.cost("claude-sonnet-4-5-20250929", &usage(10, 7, 0, 0));
        assert!((c.usd().unwrap() - 0.000135).abs() < 1e-12);
        let c = t.cost("gpt-5.5", &usage(1_000_000, 0, 0, 1_000_000));
        assert_eq!(c, Cost::Known(5.5));
    }

    #[test]
    fn model_ids_as_providers_and_gateways_spell_them() {
        let t = PriceTable::builtin();
        for id in [
            "claude-opus-4-5-20251101",
            "anthropic/claude-opus-4.5",
            "Claude-Opus-4-5",
        ] {
            assert_eq!(t.price(id), t.price("claude-opus-4-5"), "{id}");
        }
        assert_eq!(t.price("gpt-4.1-2025-04-14"), t.price("gpt-4.1"));
        assert_eq!(t.price("openai/gpt-5-mini"), t.price("gpt-5-mini"));
        assert_ne!(t.price("gpt-5-mini"), t.price("gpt-5"));
    }

    #[test]
    fn unknown_models_are_unknown_not_zero() {
        let t = PriceTable::builtin();
        for id in ["gpt-5.5-pro", "mock-model", "llama3:8b", ""] {
            assert_eq!(
                t.cost(id, &usage(5, 5, 0, 0)),
                Cost::Unknown { model: id.into() }
            );
        }
    }

    #[test]
    fn overrides_from_toml_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("prices.toml");
        std::fs::write(
            &toml_path,
            "[models.\"mock-model\"]\ninput = 1.0\noutput = 2.0\n\n[models.\"gpt-5\"]\ninput = 9.0\noutput = 9.0\ncache_read = 0.5\n",
        )
        .unwrap();
        let t = PriceTable::builtin().with_overrides(&toml_path).unwrap();
        assert_eq!(
            t.cost("mock-model", &usage(1_000_000, 1_000_000, 0, 0)),
            Cost::Known(3.0)
        );
        assert_eq!(t.price("gpt-5"), Some(p(9.0, 9.0, 9.0, 0.5)));
        assert_eq!(t.price("o3"), PriceTable::builtin().price("o3"));

        let json_path = dir.path().join("prices.json");
        std::fs::write(&json_path, r#"{"models":{"local":{"input":0,"output":0}}}"#).unwrap();
        let t = PriceTable::builtin().with_overrides(&json_path).unwrap();
        assert_eq!(t.cost("local", &usage(9, 9, 9, 9)), Cost::Known(0.0));

        std::fs::write(&json_path, r#"{"models":{"x":{"input":-1,"output":0}}}"#).unwrap();
        let e = PriceTable::builtin()
            .with_overrides(&json_path)
            .unwrap_err();
        assert!(e.to_string().contains("model x"), "{e}");
        std::fs::write(&toml_path, "[models.x]\ninptu = 1\n").unwrap();
        let e = PriceTable::builtin()
            .with_overrides(&toml_path)
            .unwrap_err();
        assert!(e.to_string().contains("prices.toml"), "{e}");
        let e = PriceTable::builtin()
            .with_overrides(&dir.path().join("missing.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("missing.toml"), "{e}");
    }
}
