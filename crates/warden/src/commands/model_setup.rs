//! The model behind the native agent, shared by `process` and `revalidate`: the
//! provider follows from the model name, the client from the best credential found.

use crate::exit::UsageError;
use std::sync::Arc;
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

/// The native agent for `model` of `provider`, over the best credential this
/// process can find (a usage error naming where it looked when there is none).
pub(crate) fn native_agent(
    provider: Provider,
    model: &str,
    limits: Limits,
) -> anyhow::Result<NativeAgent> {
    let found = warden_creds::discover_from_process();
    // The error names every file passed over and why (expired, malformed, a FIFO, …).
    let cred = found.require_best(provider, false)?.clone();
    let client = client_for(provider, &cred)?;
    Ok(NativeAgent::new(
        client,
        model.to_string(),
        provider_name(provider, &cred).to_string(),
        PriceTable::builtin(),
        limits,
    ))
}

fn route_for(cred: &Credential) -> Route {
    match cred.kind {
        Kind::ApiKey => Route::Direct,
        Kind::Gateway => Route::Gateway,
        Kind::OAuth => Route::Subscription,
    }
}

fn provider_name(provider: Provider, cred: &Credential) -> &'static str {
    match (provider, cred.kind) {
        (_, Kind::Gateway) => "gateway",
        (Provider::Anthropic, _) => "anthropic",
        (Provider::OpenAi, _) => "openai",
    }
}

fn client_for(provider: Provider, cred: &Credential) -> anyhow::Result<Arc<dyn ModelClient>> {
    let route = route_for(cred);
    Ok(match provider {
        Provider::Anthropic => {
            let auth = match cred.kind {
                Kind::ApiKey => AnthropicAuth::ApiKey(cred.value.clone()),
                Kind::OAuth | Kind::Gateway => AnthropicAuth::Bearer(cred.value.clone()),
            };
            let mut cfg = AnthropicConfig::new(auth);
            cfg.route = route;
            if let Some(url) = &cred.base_url {
                cfg.base_url = url.clone();
            }
            Arc::new(AnthropicClient::new(cfg).map_err(|e| UsageError(e.to_string()))?)
        }
        Provider::OpenAi => {
            let mut cfg = OpenAiConfig::new(Some(cred.value.clone()), OpenAiWire::Responses);
            cfg.route = route;
            if let Some(url) = &cred.base_url {
                cfg.base_url = url.clone();
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
