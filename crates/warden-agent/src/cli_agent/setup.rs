//! How each CLI is configured and invoked inside the sandbox: the files Warden writes
//! into its fresh home (never copied from the host), the variables it gets, and its
//! command line. Pure: the adapter ([`super::sandboxed`]) creates the sandbox and runs
//! what this returns.
//!
//! Every CLI gets the same things: the code at `/workspace` (read-only), the model
//! behind the sandbox's front door (base URL and a placeholder key, from the broker
//! plan), its non-essential traffic switched off, and Warden's MCP server — the warden
//! binary inside the sandbox — with the `report_finding` (or `report_verdict`) tool.

use super::CliKind;
use serde_json::json;
use warden_llm::Api;

/// Inside the sandbox.
pub const HOME: &str = "/home/sandbox";
pub const WORKSPACE: &str = "/workspace";
/// The warden binary inside every sandbox (its init); it also serves MCP.
pub const WARDEN_INSIDE: &str = "/run/warden/init";
/// Warden's own directory in the agent's home: MCP config, the reports.
pub const WARDEN_DIR: &str = "/home/sandbox/.warden";
/// Where the MCP server appends what the agent reported.
pub const REPORTS: &str = "/home/sandbox/.warden/reports.jsonl";

/// What the answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Investigate,
    Verdict,
}

/// What the CLI is pointed at, decided on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The API the model speaks (decides the CLI's provider settings).
    pub provider: Api,
    /// The model id as the API knows it (`claude-sonnet-4-5`, `gpt-5.1`).
    pub model: String,
    /// The front door's base URL inside the sandbox (`http://127.0.0.1:3129`,
    /// `http://127.0.0.1:3130/v1`).
    pub base_url: String,
    /// The variable holding the placeholder key the CLI sends (the proxy swaps it).
    pub key_var: String,
    /// At most this many model turns (where the CLI takes a limit).
    pub max_turns: u32,
}

/// One invocation: files to write under the home, variables, argv.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// `(path relative to /home/sandbox, content)`.
    pub files: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub argv: Vec<String>,
}

/// The MCP server's command line.
pub fn mcp_command(task: Task) -> Vec<String> {
    let mut argv = vec![
        WARDEN_INSIDE.to_string(),
        "__mcp-report".to_string(),
        "--root".to_string(),
        WORKSPACE.to_string(),
        "--out".to_string(),
        REPORTS.to_string(),
    ];
    if task == Task::Verdict {
        argv.push("--verdict".to_string());
    }
    argv
}

fn tool(task: Task) -> &'static str {
    match task {
        Task::Investigate => "report_finding",
        Task::Verdict => "report_verdict",
    }
}

/// Variables every CLI gets besides its own.
fn common_env() -> Vec<(String, String)> {
    [
        ("HOME", HOME),
        ("XDG_CONFIG_HOME", "/home/sandbox/.config"),
        // ~/.local is the image, bound read-only: state goes elsewhere.
        ("XDG_DATA_HOME", "/home/sandbox/.xdg/data"),
        ("XDG_STATE_HOME", "/home/sandbox/.xdg/state"),
        ("XDG_CACHE_HOME", "/home/sandbox/.xdg/cache"),
        ("NO_COLOR", "1"),
        ("CI", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = common_env();
    out.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

/// The first run of a task.
pub fn invocation(kind: CliKind, target: &Target, task: Task, prompt: &str) -> Invocation {
    match kind {
        CliKind::Claude => claude(target, task, prompt, None),
        CliKind::Codex => codex(target, task, prompt, None),
        CliKind::OpenCode => opencode(target, task, prompt, None),
    }
}

/// A follow-up turn in the same session (the repair turn).
pub fn resume(
    kind: CliKind,
    target: &Target,
    task: Task,
    session: &str,
    prompt: &str,
) -> Invocation {
    match kind {
        CliKind::Claude => claude(target, task, prompt, Some(session)),
        CliKind::Codex => codex(target, task, prompt, Some(session)),
        CliKind::OpenCode => opencode(target, task, prompt, Some(session)),
    }
}

fn claude(target: &Target, task: Task, prompt: &str, session: Option<&str>) -> Invocation {
    let mcp = mcp_command(task);
    let config = json!({"mcpServers": {"warden": {
        "type": "stdio", "command": mcp[0], "args": &mcp[1..]
    }}});
    let mut argv: Vec<String> = ["claude", "-p", prompt]
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(id) = session {
        argv.extend(["--resume".to_string(), id.to_string()]);
    }
    argv.extend(
        [
            "--output-format",
            "stream-json",
            "--verbose",
            "--mcp-config",
            "/home/sandbox/.warden/mcp.json",
            "--strict-mcp-config",
            "--allowedTools",
            &format!("Read,Grep,Glob,LS,mcp__warden__{}", tool(task)),
            "--disallowedTools",
            "Bash,Edit,MultiEdit,Write,NotebookEdit,WebFetch,WebSearch,Task",
            "--model",
            &target.model,
            "--max-turns",
            &target.max_turns.to_string(),
        ]
        .into_iter()
        .map(String::from),
    );
    Invocation {
        files: vec![(".warden/mcp.json".to_string(), config.to_string())],
        env: env(&[
            (target_base_var(target), &target.base_url),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            // Newer releases defer MCP tools behind a search tool; offer them up front.
            ("ENABLE_TOOL_SEARCH", "false"),
        ]),
        argv,
    }
}

/// `ANTHROPIC_BASE_URL` or `OPENAI_BASE_URL`.
fn target_base_var(target: &Target) -> &'static str {
    match target.provider {
        Api::Anthropic => "ANTHROPIC_BASE_URL",
        Api::OpenAi => "OPENAI_BASE_URL",
    }
}

fn toml_str(s: &str) -> String {
    // A JSON string is a valid TOML basic string.
    serde_json::Value::from(s).to_string()
}

fn codex(target: &Target, task: Task, prompt: &str, session: Option<&str>) -> Invocation {
    let mcp = mcp_command(task);
    let args: Vec<String> = mcp[1..].iter().map(|a| toml_str(a)).collect();
    // Codex ignores OPENAI_BASE_URL: the front door is a custom provider. Its own
    // sandbox cannot nest inside ours (and ours confines it already).
    let config = format!(
        "model_provider = \"warden\"
model = {model}
approval_policy = \"never\"
sandbox_mode = \"danger-full-access\"

[model_providers.warden]
name = \"Warden\"
base_url = {base}
env_key = {key}
wire_api = \"responses\"
request_max_retries = 2
stream_max_retries = 2

[mcp_servers.warden]
command = {command}
args = [{args}]
default_tools_approval_mode = \"approve\"
",
        model = toml_str(&target.model),
        base = toml_str(&target.base_url),
        key = toml_str(&target.key_var),
        command = toml_str(&mcp[0]),
        args = args.join(", "),
    );
    let mut argv: Vec<String> = vec!["codex".into(), "exec".into()];
    if let Some(id) = session {
        argv.extend(["resume".to_string(), id.to_string()]);
    }
    argv.extend(
        [
            "--json",
            "--skip-git-repo-check",
            "--disable",
            "plugins",
            prompt,
        ]
        .into_iter()
        .map(String::from),
    );
    Invocation {
        files: vec![(".codex/config.toml".to_string(), config)],
        env: env(&[("CODEX_HOME", "/home/sandbox/.codex")]),
        argv,
    }
}

fn opencode(target: &Target, task: Task, prompt: &str, session: Option<&str>) -> Invocation {
    let command = mcp_command(task);
    let key = format!("{{env:{}}}", target.key_var);
    let (provider, model) = match target.provider {
        Api::Anthropic => (
            json!({"anthropic": {"options": {
                "baseURL": format!("{}/v1", target.base_url.trim_end_matches('/')),
                "apiKey": key
            }}}),
            format!("anthropic/{}", target.model),
        ),
        Api::OpenAi => (
            json!({"warden": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Warden",
                "options": {"baseURL": target.base_url, "apiKey": key},
                "models": {target.model.as_str(): {"name": target.model}}
            }}),
            format!("warden/{}", target.model),
        ),
    };
    let config = json!({
        "$schema": "https://opencode.ai/config.json",
        "model": model,
        "small_model": model,
        "autoupdate": false,
        "share": "disabled",
        "provider": provider,
        "mcp": {"warden": {"type": "local", "command": command, "enabled": true}},
        "permission": {"edit": "deny", "bash": "deny", "webfetch": "deny", "external_directory": "deny"}
    });
    let mut argv: Vec<String> = ["opencode", "run", "--format", "json", "--model", &model]
        .into_iter()
        .map(String::from)
        .collect();
    match session {
        Some(id) => argv.extend(["--session".to_string(), id.to_string()]),
        None => argv.extend(["--title".to_string(), "warden".to_string()]),
    }
    argv.push(prompt.to_string());
    Invocation {
        files: vec![(
            ".config/opencode/opencode.json".to_string(),
            config.to_string(),
        )],
        env: env(&[
            ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
            ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
            ("OPENCODE_DISABLE_SHARE", "1"),
            ("OPENCODE_DISABLE_FFF", "1"),
            // Its background plugin install fails at once instead of reaching out.
            ("npm_config_registry", "http://127.0.0.1:9/"),
        ]),
        argv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(provider: Api) -> Target {
        Target {
            provider,
            model: "m-1".into(),
            base_url: "http://127.0.0.1:3129".into(),
            key_var: "ANTHROPIC_API_KEY".into(),
            max_turns: 40,
        }
    }

    #[test]
    fn every_cli_gets_warden_s_mcp_server_and_a_home_of_its_own() {
        for kind in CliKind::ALL {
            let inv = invocation(kind, &target(Api::Anthropic), Task::Investigate, "go");
            assert_eq!(inv.argv[0], kind.bin());
            let all_files: String = inv.files.iter().map(|(_, c)| c.as_str()).collect();
            assert!(all_files.contains("__mcp-report"), "{kind}: {all_files}");
            assert!(all_files.contains(REPORTS), "{kind}");
            assert!(inv.env.iter().any(|(k, v)| k == "HOME" && v == HOME));
            // State never goes to ~/.local, which is the read-only image.
            assert!(inv
                .env
                .iter()
                .any(|(k, v)| k == "XDG_DATA_HOME" && !v.contains(".local")));
            assert!(inv.argv.last().is_some_and(|a| a == "go") || inv.argv.contains(&"go".into()));
        }
    }

    #[test]
    fn codex_points_a_custom_provider_at_the_front_door() {
        let mut t = target(Api::OpenAi);
        t.base_url = "http://127.0.0.1:3130/v1".into();
        t.key_var = "OPENAI_API_KEY".into();
        let inv = invocation(CliKind::Codex, &t, Task::Verdict, "judge");
        let config = &inv.files[0].1;
        assert!(
            config.contains("base_url = \"http://127.0.0.1:3130/v1\""),
            "{config}"
        );
        assert!(config.contains("env_key = \"OPENAI_API_KEY\""), "{config}");
        assert!(config.contains("\"--verdict\""), "{config}");
        let resumed = resume(CliKind::Codex, &t, Task::Verdict, "th_1", "again");
        assert_eq!(&resumed.argv[..4], ["codex", "exec", "resume", "th_1"]);
    }

    #[test]
    fn claude_allows_only_reading_and_the_report_tool() {
        let inv = invocation(
            CliKind::Claude,
            &target(Api::Anthropic),
            Task::Investigate,
            "p",
        );
        let allowed = inv.argv.iter().position(|a| a == "--allowedTools").unwrap();
        assert_eq!(
            inv.argv[allowed + 1],
            "Read,Grep,Glob,LS,mcp__warden__report_finding"
        );
        assert!(inv.argv.contains(&"--strict-mcp-config".to_string()));
        let resumed = resume(
            CliKind::Claude,
            &target(Api::Anthropic),
            Task::Investigate,
            "s-1",
            "p",
        );
        let at = resumed.argv.iter().position(|a| a == "--resume").unwrap();
        assert_eq!(resumed.argv[at + 1], "s-1");
    }
}
