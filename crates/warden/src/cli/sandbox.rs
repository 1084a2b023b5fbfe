//! The flags of `warden sandbox` and `warden agents`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AgentsArgs {
    #[command(subcommand)]
    pub command: AgentsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Install agent CLIs from npm (inside a sandbox that reaches only the npm registry)
    /// into the agent image every investigation starts from; prints the image id.
    #[command(disable_version_flag = true)]
    Install {
        /// claude, codex, opencode, optionally `@VERSION`; none: all three.
        #[arg(value_name = "AGENT")]
        agents: Vec<String>,
        /// Install this release instead of the pinned one (with exactly one agent).
        #[arg(long, value_name = "VERSION")]
        version: Option<String>,
    },
    /// Each agent: the version in the image, the pinned version, and the image.
    Ls {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Create a sandbox and print its id; it runs until destroyed or timed out.
    Create {
        #[command(flatten)]
        create: SandboxCreateArgs,
        /// Print the sandbox's record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a command in a sandbox; its output streams and its exit code is ours.
    Exec(SandboxExecArgs),
    /// Copy files host→sandbox (`cp FILE ID:PATH`) or sandbox→host (`cp ID:PATH FILE`).
    Cp {
        /// A host path, or ID:PATH in a sandbox (paths are bytes: any name works).
        source: std::ffi::OsString,
        /// A host path, or ID:PATH in a sandbox.
        destination: std::ffi::OsString,
    },
    /// Capture a sandbox's /workspace and /home/sandbox; prints a snapshot id.
    Snapshot {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List snapshots, or delete one with --rm.
    Snapshots {
        #[arg(long, value_name = "SNAPSHOT")]
        rm: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Change a running sandbox's network policy (new connections see it at once).
    Policy {
        id: String,
        /// Allow these domains only (`example.com`, `*.example.com`); repeatable.
        #[arg(long, value_name = "DOMAIN", conflicts_with_all = ["deny_all", "allow_all"])]
        allow: Vec<String>,
        /// No connection leaves the sandbox.
        #[arg(long, conflicts_with = "allow_all")]
        deny_all: bool,
        /// Any public host (private, loopback and metadata addresses stay denied).
        #[arg(long)]
        allow_all: bool,
    },
    /// List sandboxes with their status, deadline, policy, ports and enforced limits.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// End every process in a sandbox and keep its files (copy them out, snapshot, then destroy).
    Stop {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Move a running sandbox's deadline later (e.g. 30m, 2h).
    Extend { id: String, duration: String },
    /// Kill every process in a sandbox and remove its state.
    Destroy {
        /// Ids, unique id prefixes or names; a sandbox whose record is corrupt by its directory name.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Create a sandbox, run one command in it, destroy it.
    Run {
        #[command(flatten)]
        create: SandboxCreateArgs,
        /// The command and its arguments (after `--`), passed byte for byte.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, Args)]
pub struct SandboxCreateArgs {
    /// A name to refer to the sandbox by: 1-64 letters, digits, '-', '_' or '.'.
    #[arg(long)]
    pub name: Option<String>,
    /// Start /workspace as a copy of this directory (`.env*` files left out).
    #[arg(long, value_name = "DIR", conflicts_with = "snapshot")]
    pub workspace: Option<PathBuf>,
    /// Start from a snapshot's /workspace and /home/sandbox.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Clone this repository (http:// or https://) into /workspace, inside the sandbox,
    /// with its host allowed for the clone only.
    #[arg(long, value_name = "URL", conflicts_with_all = ["workspace", "snapshot"])]
    pub git: Option<String>,
    /// With --git: the branch, tag or commit to check out.
    #[arg(long, value_name = "REV", requires = "git")]
    pub git_revision: Option<String>,
    /// With --git: a shallow clone of this many commits.
    #[arg(long, value_name = "N", requires = "git")]
    pub git_depth: Option<u32>,
    /// Allow connections to this domain (`example.com`, `*.example.com`); repeatable. Default: none.
    #[arg(long, value_name = "DOMAIN")]
    pub allow: Vec<String>,
    /// Allow any public host.
    #[arg(long, conflicts_with = "allow")]
    pub allow_all: bool,
    /// Refuse this domain even where --allow or --allow-all would let it through; repeatable.
    #[arg(long, value_name = "DOMAIN")]
    pub deny: Vec<String>,
    /// Kill every process after this long: 1s to 30d (e.g. 90s, 30m, 1h, 2h30m), or none.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = warden_sandbox::flags::parse_sandbox_timeout)]
    pub timeout: warden_sandbox::flags::Deadline,
    /// Publish a port (1-65535) a process inside listens on to the host's 127.0.0.1; repeatable.
    #[arg(long, value_name = "PORT", value_parser = warden_sandbox::flags::parse_port)]
    pub port: Vec<u16>,
    /// CPU limit in cores: 0.01 to 1024 (e.g. 0.5, 2).
    #[arg(long, value_name = "N", value_parser = warden_sandbox::flags::parse_cpus)]
    pub cpus: Option<f64>,
    /// Memory limit: 32M to 1024G (e.g. 512M, 2G; units K, M, G).
    #[arg(long, value_name = "SIZE", value_parser = warden_sandbox::flags::parse_memory)]
    pub memory: Option<u64>,
    /// Process count limit: 16 to 4194304 (threads count; the sandbox itself uses about ten).
    #[arg(long, value_name = "N", value_parser = warden_sandbox::flags::parse_pids)]
    pub pids: Option<u64>,
    /// Inject a secret into requests to one host: `HOST:HEADER=env:VAR` or `=file:PATH`; repeatable.
    #[arg(long, value_name = "SPEC")]
    pub secret: Vec<String>,
    /// Broker the credentials Warden finds on this machine: anthropic, openai or gateway; repeatable.
    #[arg(long, value_name = "PROVIDER")]
    pub broker: Vec<String>,
    /// Set a variable for every command in the sandbox (`K=V`; kept in its record, so not for secrets: see --secret); repeatable.
    #[arg(long, short, value_name = "K=V")]
    pub env: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct SandboxExecArgs {
    pub id: String,
    /// Set a variable for the command (`K=V`; the value may be any bytes); repeatable.
    #[arg(long, short, value_name = "K=V")]
    pub env: Vec<std::ffi::OsString>,
    /// Working directory inside the sandbox (default /workspace).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Kill the command after this long (exit code 124): 100ms to 30d, or none.
    #[arg(long, value_name = "DURATION", value_parser = warden_sandbox::flags::parse_exec_timeout)]
    pub timeout: Option<warden_sandbox::flags::Deadline>,
    /// Start the command in the background and return; it lives until the sandbox ends.
    #[arg(long)]
    pub detach: bool,
    /// The command and its arguments (after `--`), passed byte for byte.
    #[arg(last = true, required = true)]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Where to listen. Any address but loopback exposes every published port to whoever
    /// reaches it and knows a sandbox id.
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// A JSON file of tokens: {"tokens": [{"tenant": "acme", "token": "..."}]}, mode 0600.
    /// Without it: WARDEN_SERVER_TOKEN (tenant `default`), else a generated token kept
    /// in <sandbox-dir>/server/token.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Where sandboxes and snapshots live (default: --data-dir, else the user's state
    /// directory: the same sandboxes `warden sandbox` sees).
    #[arg(long, value_name = "DIR")]
    pub sandbox_dir: Option<PathBuf>,
    /// The largest request body (64M, 1G, bytes): a base64 file upload counts a third more.
    #[arg(long, default_value = "64M", value_name = "SIZE", value_parser = parse_body_size)]
    pub max_body: usize,
    /// A host directory under which `directory` sources may be copied (repeatable). None:
    /// only a server with a single tenant copies host directories.
    #[arg(long = "source-root", value_name = "DIR")]
    pub source_roots: Vec<PathBuf>,
}

fn parse_body_size(s: &str) -> Result<usize, String> {
    let bytes = warden_sandbox::limits::parse_size(s).map_err(|e| e.to_string())?;
    match usize::try_from(bytes) {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err("give at least 1K".into()),
    }
}
