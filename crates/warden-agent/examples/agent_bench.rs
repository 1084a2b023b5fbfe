//! `bench/agents`' measuring program: for each agent CLI, the time from the start of an
//! investigation to the CLI's first model request, inside a sandbox from the agent image
//! (Warden's whole path: sandbox created, config written, CLI started) against the same
//! CLI started bare on the host with the same configuration, interleaved, against the
//! testkit's mock LLM answering at once; and the CPU the orchestrating process spends per
//! sandboxed investigation.
//!
//! `agent_bench WARDEN_BINARY MOCK_BINARY SANDBOX_DIR [RUNS]` (the sandbox dir must hold
//! an agent image; the mock runs as its own process, so this process's CPU is Warden's).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_agent::cli_agent::image::AgentImage;
use warden_agent::cli_agent::sandboxed::{CliAgentConfig, SandboxedCli};
use warden_agent::cli_agent::setup::{self, Target, Task};
use warden_agent::cli_agent::CliKind;
use warden_agent::{Agent, FileTask};
use warden_llm::{Api, CancellationToken, PriceTable, Route};
use warden_sandbox::{BrokerPlan, SandboxRoot, Sandboxes};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: agent_bench WARDEN_BINARY MOCK_BINARY SANDBOX_DIR [RUNS]".into());
    }
    let warden = PathBuf::from(&args[1]).canonicalize()?;
    let mock_bin = PathBuf::from(&args[2]).canonicalize()?;
    let sandboxes = Sandboxes::new(SandboxRoot::new(&args[3])).with_executable(&warden);
    let runs: usize = args.get(4).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let image =
        AgentImage::load(&sandboxes)?.ok_or("no agent image: run `warden agents install`")?;
    let tree = tempfile::tempdir()?;
    std::fs::write(
        tree.path().join("app.py"),
        "import os\nos.system(input())\n",
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    println!(
        "{:<9} {:>16} {:>16} {:>14} {:>12} {:>14}",
        "agent", "sandboxed (ms)", "bare (ms)", "added (ms)", "ratio", "cpu/inv (ms)"
    );
    for kind in CliKind::ALL {
        if !image.agents.contains_key(&kind) {
            println!("{kind:<9} not in the image");
            continue;
        }
        let mock = Mock::start(&mock_bin)?;
        let api = match kind {
            CliKind::Codex => Api::OpenAi,
            _ => Api::Anthropic,
        };
        let agent = sandboxed_agent(&sandboxes, &image, kind, tree.path(), &mock, api)?;
        let task = FileTask {
            root: tree.path().to_path_buf(),
            path: "app.py".into(),
            language: Some("python".into()),
            hits: Vec::new(),
            tech: Vec::new(),
        };
        let (mut inside, mut bare, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        // One warm-up of each (page cache, the CLI's first-run work), then interleaved.
        for i in 0..=runs {
            // As the pipeline does: the sandbox is created before the claim, off the
            // path measured here.
            rt.block_on(agent.prepare());
            mock.drain();
            let cpu0 = self_cpu();
            let t0 = Instant::now();
            rt.block_on(async {
                let cancel = CancellationToken::new();
                let _ = agent
                    .investigate(std::slice::from_ref(&task), &cancel)
                    .await;
            });
            let spent = self_cpu() - cpu0;
            let first = mock.first_since(t0);
            let t_bare = run_bare(&image, &sandboxes, kind, tree.path(), &mock, api, &warden)?;
            if i > 0 {
                inside.push(first.ok_or("the sandboxed CLI never asked the model")?);
                cpu.push(spent);
                bare.push(t_bare);
            }
        }
        let (s, b) = (median(&mut inside), median(&mut bare));
        println!(
            "{:<9} {:>16.1} {:>16.1} {:>14.1} {:>11.3}x {:>14.2}",
            kind.name(),
            ms(s),
            ms(b),
            ms(s) - ms(b),
            s.as_secs_f64() / b.as_secs_f64(),
            ms(median(&mut cpu))
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time (user + system) this process has used.
fn self_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The mock LLM in its own process; its log line per request is timestamped here.
struct Mock {
    child: std::process::Child,
    url: String,
    requests: mpsc::Receiver<Instant>,
}

impl Mock {
    fn start(bin: &Path) -> Result<Mock, Error> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("script.json");
        std::fs::write(&script, r#"{"turns": [], "final_text": "No findings."}"#)?;
        let mut child = Command::new(bin)
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut url = String::new();
        std::io::BufReader::new(child.stdout.take().ok_or("stdout")?).read_line(&mut url)?;
        let (tx, requests) = mpsc::channel();
        let stderr = child.stderr.take().ok_or("stderr")?;
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                // Generation requests consume a turn (`-> turn N` or the final text).
                if line.contains("POST /v1/") && !line.contains("count_tokens") {
                    let _ = tx.send(Instant::now());
                }
            }
        });
        std::mem::forget(dir);
        Ok(Mock {
            child,
            url: url.trim().to_string(),
            requests,
        })
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url)
    }

    fn drain(&self) {
        while self.requests.try_recv().is_ok() {}
    }

    /// When the first request after `t0` arrived.
    fn first_since(&self, t0: Instant) -> Option<Duration> {
        let mut first = None;
        while let Ok(at) = self.requests.recv_timeout(Duration::from_millis(200)) {
            if at >= t0 && first.is_none() {
                first = Some(at - t0);
            }
        }
        first
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sandboxed_agent(
    sandboxes: &Sandboxes,
    image: &AgentImage,
    kind: CliKind,
    tree: &Path,
    mock: &Mock,
    api: Api,
) -> Result<Arc<dyn Agent>, Error> {
    let (key_var, base_var, base) = match api {
        Api::Anthropic => (
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            mock.url().to_string(),
        ),
        Api::OpenAi => ("OPENAI_API_KEY", "OPENAI_BASE_URL", mock.openai_base_url()),
    };
    // The credential as a user would have it: a key and the base URL they set.
    std::env::set_var(key_var, "sk-bench-0123456789abcdefghijklmnopqrstuvwxyz0123");
    std::env::set_var(base_var, &base);
    let found = warden_creds::discover_from_process();
    let agent = warden_creds::Agent::parse(kind.name()).ok_or("agent")?;
    let choice = found.for_agent(agent, None)?;
    let config = CliAgentConfig {
        kind,
        sandboxes: sandboxes.clone(),
        image_local: image.local_dir(sandboxes),
        tree: tree.to_path_buf(),
        plan: BrokerPlan::for_credential(&choice.credential)?,
        billing: "bench".into(),
        route: Route::Direct,
        model: match api {
            Api::Anthropic => "claude-sonnet-4-5".into(),
            Api::OpenAi => "gpt-5.1".into(),
        },
        prices: PriceTable::builtin(),
        timeout: Duration::from_secs(120),
        max_turns: 5,
        limits: Default::default(),
    };
    std::env::remove_var(key_var);
    std::env::remove_var(base_var);
    Ok(Arc::new(SandboxedCli::new(config)?))
}

/// The same CLI with the same configuration, started bare on the host; the time to its
/// first model request.
fn run_bare(
    image: &AgentImage,
    sandboxes: &Sandboxes,
    kind: CliKind,
    tree: &Path,
    mock: &Mock,
    api: Api,
    warden: &Path,
) -> Result<Duration, Error> {
    let home = tempfile::tempdir()?;
    let local = image.local_dir(sandboxes);
    let (key_var, base) = match api {
        Api::Anthropic => ("ANTHROPIC_API_KEY", mock.url().to_string()),
        Api::OpenAi => ("OPENAI_API_KEY", mock.openai_base_url()),
    };
    let target = Target {
        provider: api,
        model: match api {
            Api::Anthropic => "claude-sonnet-4-5".into(),
            Api::OpenAi => "gpt-5.1".into(),
        },
        base_url: base.clone(),
        key_var: key_var.into(),
        max_turns: 5,
    };
    let inv = setup::invocation(kind, &target, Task::Investigate, "Investigate app.py.");
    // The sandbox's paths, mapped to the host's.
    let home_s = home.path().display().to_string();
    let map = |s: &str| {
        s.replace(setup::WARDEN_INSIDE, &warden.display().to_string())
            .replace(setup::HOME, &home_s)
            .replace(setup::WORKSPACE, &tree.display().to_string())
    };
    for (rel, content) in &inv.files {
        let path = home.path().join(rel);
        std::fs::create_dir_all(path.parent().ok_or("parent")?)?;
        std::fs::write(path, map(content))?;
    }
    std::fs::create_dir_all(home.path().join(".warden"))?;
    let bin = local.join("bin").join(&inv.argv[0]);
    let mut cmd = Command::new(bin);
    cmd.args(inv.argv[1..].iter().map(|a| map(a)))
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", local.join("bin").display()),
        )
        .env(key_var, "sk-bench-0123456789abcdefghijklmnopqrstuvwxyz0123")
        .current_dir(tree)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in &inv.env {
        cmd.env(k, map(v));
    }
    if api == Api::Anthropic {
        cmd.env("ANTHROPIC_BASE_URL", &base);
    }
    mock.drain();
    let t0 = Instant::now();
    let mut child = cmd.spawn()?;
    let _ = child.wait();
    mock.first_since(t0)
        .ok_or_else(|| format!("{kind} run bare never asked the model").into())
}
