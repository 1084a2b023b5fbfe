//! `warden server`: the sandbox HTTP API (crates/warden-server) on a runtime of its own.

use crate::cli::{GlobalArgs, ServerArgs};
use crate::exit::UsageError;
use warden_server::{Server, ServerConfig, ServerError, TokenSource};

pub fn run(global: &GlobalArgs, args: &ServerArgs) -> anyhow::Result<u8> {
    let sandbox_dir = match &args.sandbox_dir {
        Some(dir) => dir.clone(),
        None => super::sandbox::root_dir(global)?,
    };
    let env_token = std::env::var("WARDEN_SERVER_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let tokens = match (&args.tokens, env_token) {
        (Some(_), Some(_)) => {
            return Err(UsageError("give --tokens or WARDEN_SERVER_TOKEN, not both".into()).into())
        }
        (Some(file), None) => TokenSource::File(file.clone()),
        (None, Some(token)) => TokenSource::Single(token),
        (None, None) => TokenSource::Generate,
    };
    let config = ServerConfig {
        listen: args.listen,
        tokens,
        sandbox_dir,
        max_body: args.max_body,
        executable: None,
        source_roots: args.source_roots.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = Server::bind(config).await.map_err(usage_if_config)?;
        if !global.quiet {
            eprintln!("warden server listening on http://{}", server.local_addr());
            if let Some(path) = server.token_file() {
                eprintln!("bearer token (tenant default) in {}", path.display());
            }
        }
        server.run(warden_server::shutdown_signal()).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// Bad tokens, a bad --source-root or an address that cannot be bound are the user's
/// to fix (exit 2).
fn usage_if_config(e: ServerError) -> anyhow::Error {
    match e {
        e @ (ServerError::Tokens(_) | ServerError::SourceRoot(_) | ServerError::Listen { .. }) => {
            UsageError(e.to_string()).into()
        }
        other => other.into(),
    }
}
