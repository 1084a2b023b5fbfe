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

/// Reads `<data_dir>/config.toml`; a missing file is the defaults, a bad one a usage
/// error naming the file and the field.
pub(crate) fn load(data_dir: &Path) -> anyhow::Result<ProjectConfig> {
    // A data dir that is not a directory is the store's error to report, naming it.
    if !data_dir.is_dir() {
        return Ok(ProjectConfig::default());
    }
    let path = data_dir.join("config.toml");
    let Some(text) = warden_creds::read_config_file(&path)? else {
        return Ok(ProjectConfig::default());
    };
    toml::from_str(&text).map_err(|e| {
        UsageError(format!(
            "{}: {}",
            path.display(),
            e.message().replace('\n', " ")
        ))
        .into()
    })
}
