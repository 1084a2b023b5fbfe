//! The model behind the native agent, shared by `process` and `revalidate`: the
//! provider follows from the model name, the client from the best credential found.
//!
//! Everything about the endpoint is checked here, before a run claims any file: a
//! base URL that is not an `http(s)` URL and a bad `WARDEN_STALL_TIMEOUT` are
//! configuration errors (exit 2) naming the variable.

use crate::exit::UsageError;
use std::sync::Arc;
use std::time::Duration;
use warden_agent::{Limits, NativeAgent};
use warden_creds::{Credential, Kind, Provider};
use warden_llm::{
    AnthropicAuth, AnthropicClient, AnthropicConfig, ModelClient, OpenAiClient, OpenAiConfig,
    OpenAiWire, PriceTable, Route,
};

/// The provider a model name belongs to (a `vendor/` prefix, as gateways use, is ignored).
pub(crate) fn provider_for(model: &str) -> anyhow::Result<Provider> {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    if name.starts_with("claude") {
        Ok(Provider::Anthropic)
    } else if ["gpt", "o1", "o3", "o4", "codex"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        Ok(Provider::OpenAi)
    } else {
        Err(UsageError(format!(
            "--model {model}: unknown model family (expected claude-*, gpt-*, o1*, o3* or o4*)"
        ))
        .into())
    }
}

/// The native agent for `model` over `cred` (chosen by `Discovery::for_agent`, which
/// never hands it a subscription login).
pub(crate) fn native_agent(
    cred: &Credential,
    model: &str,
    limits: Limits,
) -> anyhow::Result<NativeAgent> {
    let provider = cred.provider;
    let client = client_for(provider, cred, stall_timeout()?)?;
    Ok(NativeAgent::new(
        client,
        model.to_string(),
        provider_name(provider, cred).to_string(),
        PriceTable::builtin(),
        limits,
    ))
}

/// The model used when none is named: one of the credential's provider.
pub(crate) fn default_model(provider: Provider) -> &'static str {
    match provider {
        Provider::Anthropic => "claude-sonnet-4-5",
        Provider::OpenAi => "gpt-5.1",
    }
}

pub(crate) fn route_for(cred: &Credential) -> Route {
    match cred.kind {
        Kind::ApiKey => Route::Direct,
        Kind::Gateway | Kind::AuthToken => Route::Gateway,
        Kind::OAuth => Route::Subscription,
    }
}

pub(crate) fn provider_name(provider: Provider, cred: &Credential) -> &'static str {
    match (provider, cred.kind) {
        (_, Kind::Gateway) => "gateway",
        (Provider::Anthropic, _) => "anthropic",
        (Provider::OpenAi, _) => "openai",
    }
}

/// Seconds a streamed model answer may go without content before the call fails.
pub(crate) const STALL_VAR: &str = "WARDEN_STALL_TIMEOUT";
/// The accepted range of [`STALL_VAR`], in seconds.
const STALL_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

/// [`STALL_VAR`] (whole seconds, 1 to 3600), or the default of two minutes when unset or empty.
fn stall_timeout() -> anyhow::Result<Duration> {
    let Some(raw) = std::env::var_os(STALL_VAR).filter(|v| !v.is_empty()) else {
        return Ok(warden_llm::DEFAULT_STALL_TIMEOUT);
    };
    let Some(text) = raw.to_str() else {
        return Err(UsageError(format!("{STALL_VAR} is not valid UTF-8")).into());
    };
    match text.trim().parse::<u64>() {
        Ok(secs) if STALL_RANGE.contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(UsageError(format!(
            "{STALL_VAR}={}: must be a whole number of seconds from {} to {}",
            text.escape_debug(),
            STALL_RANGE.start(),
            STALL_RANGE.end()
        ))
        .into()),
    }
}

/// The base URL the credential comes with, if it is an endpoint; otherwise a usage
/// error naming the variable it was read from (never quoting the value, which may
/// be a key set in the wrong variable).
fn base_url(provider: Provider, cred: &Credential) -> anyhow::Result<Option<String>> {
    let Some(url) = &cred.base_url else {
        return Ok(None);
    };
    if let Err(why) = warden_llm::check_base_url(url) {
        let (var, example) = match provider {
            Provider::Anthropic => ("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            Provider::OpenAi => ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        };
        return Err(UsageError(format!(
            "{var} {why}; set it to the API's http(s) address (e.g. {example}) or unset it"
        ))
        .into());
    }
    Ok(Some(url.clone()))
}

fn client_for(
    provider: Provider,
    cred: &Credential,
    stall: Duration,
) -> anyhow::Result<Arc<dyn ModelClient>> {
    let route = route_for(cred);
    let base_url = base_url(provider, cred)?;
    Ok(match provider {
        Provider::Anthropic => {
            let auth = match cred.kind {
                Kind::ApiKey => AnthropicAuth::ApiKey(cred.value.clone()),
                Kind::OAuth | Kind::Gateway | Kind::AuthToken => {
                    AnthropicAuth::Bearer(cred.value.clone())
                }
            };
            let mut cfg = AnthropicConfig::new(auth);
            cfg.route = route;
            cfg.stall_timeout = stall;
            if let Some(url) = base_url {
                cfg.base_url = url;
            }
            Arc::new(AnthropicClient::new(cfg).map_err(|e| UsageError(e.to_string()))?)
        }
        Provider::OpenAi => {
            let mut cfg = OpenAiConfig::new(Some(cred.value.clone()), OpenAiWire::Responses);
            cfg.route = route;
            cfg.stall_timeout = stall;
            if let Some(url) = base_url {
                cfg.base_url = url;
            }
            Arc::new(OpenAiClient::new(cfg).map_err(|e| UsageError(e.to_string()))?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_follows_the_model_name() {
        assert_eq!(
            provider_for("claude-sonnet-4-5").unwrap(),
            Provider::Anthropic
        );
        assert_eq!(
            provider_for("anthropic/claude-opus-4").unwrap(),
            Provider::Anthropic
        );
        assert_eq!(provider_for("gpt-5").unwrap(), Provider::OpenAi);
        assert_eq!(provider_for("o3-mini").unwrap(), Provider::OpenAi);
        assert_eq!(provider_for("o4-mini").unwrap(), Provider::OpenAi);
        assert!(provider_for("llama-3").is_err());
    }
}
