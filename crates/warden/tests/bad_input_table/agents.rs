//! Rows for `warden agents` and for choosing an agent: unknown names, versions that are
//! not versions, an agent that is not installed. Nothing is installed by a refusal.

use crate::table::{absent, case, Case, Fixture::*};

const KEY: &str = "sk-ant-api03-bad-input-table-not-a-real-key-0123456789";

pub fn cases() -> Vec<Case> {
    let agents = |name: &str, args: &[&str]| {
        case(
            &format!("agents: {name}"),
            Tree,
            &[&["agents"][..], args].concat(),
        )
        .env("WARDEN_SANDBOX_DIR", "{tmp}/sandboxes")
    };
    let process = |name: &str, args: &[&str]| {
        case(
            &format!("process: {name}"),
            Scanned,
            &[&["process"][..], args].concat(),
        )
        .env("ANTHROPIC_API_KEY", KEY)
        .env("WARDEN_SANDBOX_DIR", "{tmp}/sandboxes")
    };
    vec![
        agents("install an unknown agent", &["install", "amp"])
            .says("unknown agent `amp`")
            .check("nothing installed", absent("sandboxes")),
        agents("install a version that is not one", &["install", "claude@1;rm -rf /"])
            .says("expected an npm version"),
        agents("install with an empty version", &["install", "claude@"])
            .says("expected an npm version"),
        agents("--version with two agents", &["install", "claude", "codex", "--version", "1.0.0"])
            .says("--version pins one agent"),
        agents("--version and @", &["install", "claude@1.0.0", "--version", "1.0.0"])
            .says("not both"),
        agents("an agent named twice", &["install", "codex", "codex@0.1.0"])
            .says("named twice"),
        agents("ls with a stray argument", &["ls", "claude"]).says("claude"),
        agents("ls with no image", &["ls"])
            .code(0)
            .prints("no agent image yet"),
        agents("unknown subcommand", &["remove", "claude"]).says("remove"),
        process("--agent that is not installed", &["--agent", "claude"])
            .says("warden agents install claude"),
        process("--agent unknown", &["--agent", "amp"]).says("amp"),
        process("--batch-size 0", &["--batch-size", "0"]).says("--batch-size"),
        process("--batch-size 9", &["--batch-size", "9"]).says("1 to 8"),
        process("--agent codex with a Claude model", &["--agent", "codex", "--model", "claude-sonnet-4-5"])
            .says("codex"),
        process("WARDEN_AGENT unknown", &[])
            .env("WARDEN_AGENT", "skynet")
            .says("WARDEN_AGENT"),
        process("config.toml naming an unknown agent", &[])
            .prep(|ctx| std::fs::write(ctx.data().join("config.toml"), "agent = \"skynet\"\n").unwrap())
            .says("config.toml"),
        process("config.toml that is not TOML", &[])
            .prep(|ctx| std::fs::write(ctx.data().join("config.toml"), "agent = [\n").unwrap())
            .says("config.toml"),
        process("config.toml with an unknown key", &[])
            .prep(|ctx| std::fs::write(ctx.data().join("config.toml"), "agnet = \"claude\"\n").unwrap())
            .says("agnet"),
        process("only a subscription for the native agent", &[])
            .env("ANTHROPIC_API_KEY", "")
            .prep(|ctx| {
                let dir = ctx.home().join(".claude");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(
                    dir.join(".credentials.json"),
                    r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-table-token-aaaaaaaaaaaaaaaaaaaa","expiresAt":4102444800000}}"#,
                )
                .unwrap();
            })
            .says("--agent claude"),
    ]
}
