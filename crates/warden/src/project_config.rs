//! `.warden/config.toml`: a project's defaults for the flags it names.
//!
//! ```toml
//! agent = "claude"          # process / revalidate: --agent
//! model = "claude-sonnet-4-5"
//!
//! [scan]
//! include_tests = true      # scan: --include-tests
//! ```

use crate::exit::UsageError;
use std::path::Path;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectConfig {
    pub agent: Option<String>,
    pub model: Option<String>,
    #[serde(default)]
    pub scan: ScanConfig,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanConfig {
    pub include_tests: Option<bool>,
}

/// Reads `<data_dir>/config.toml`; a missing file is the defaults. A file that cannot be
/// read (a FIFO, not UTF-8) or parsed is a configuration error naming the file, and for a
/// bad value the line it is on.
pub(crate) fn load(data_dir: &Path) -> anyhow::Result<ProjectConfig> {
    // A data dir that is not a directory is the store's error to report, naming it.
    if !data_dir.is_dir() {
        return Ok(ProjectConfig::default());
    }
    let path = data_dir.join("config.toml");
    let text = warden_creds::read_config_file(&path).map_err(|e| UsageError(e.to_string()))?;
    let Some(text) = text else {
        return Ok(ProjectConfig::default());
    };
    toml::from_str(&text).map_err(|e| {
        let message = e.message().replace('\n', " ");
        let at = e.span().map(|span| {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!(" at line {line_no} (`{line}`)")
        });
        UsageError(format!(
            "{}: {message}{}",
            path.display(),
            at.unwrap_or_default()
        ))
        .into()
    })
}
