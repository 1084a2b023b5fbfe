//! `warden-mock-llm [--host 127.0.0.1] [--port N] [--latency-ms MS] SCRIPT.json`
//!
//! Serves a mock LLM script (see `warden_testkit::mock_llm::Script`, e.g.
//! `{"turns": [{"text": "hi"}, {"tool_calls": [{"name": "Read", "input": {"file_path": "/etc/hostname"}}]}]}`)
//! on loopback until killed, printing one line per request to stderr. `--latency-ms`
//! adds a fixed latency to every reply (the script's `latency_ms`), as `bench/scale` uses.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use warden_testkit::mock_llm::{MockLlm, Script};

const USAGE: &str =
    "usage: warden-mock-llm [--host 127.0.0.1] [--port N] [--latency-ms MS] SCRIPT.json";

struct Args {
    host: IpAddr,
    port: u16,
    latency_ms: Option<u64>,
    script: String,
}

fn parse_args() -> Result<Args, String> {
    let mut host: IpAddr = [127, 0, 0, 1].into();
    let mut port = 0u16;
    let mut latency_ms = None;
    let mut script = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = v.parse().map_err(|_| format!("--port: not a port: {v}"))?;
            }
            "--latency-ms" => {
                let v = args.next().ok_or("--latency-ms needs a value")?;
                let ms = v
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| *ms <= 600_000)
                    .ok_or_else(|| {
                        format!("--latency-ms: give 0 to 600000 milliseconds, not {v}")
                    })?;
                latency_ms = Some(ms);
            }
            "--host" => {
                let v = args.next().ok_or("--host needs a value")?;
                host = v
                    .parse()
                    .map_err(|_| format!("--host: not an IP address: {v}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}\n{USAGE}")),
            _ if script.is_none() => script = Some(arg),
            _ => return Err(format!("unexpected argument {arg}\n{USAGE}")),
        }
    }
    let script = script.ok_or_else(|| format!("missing SCRIPT.json\n{USAGE}"))?;
    Ok(Args {
        host,
        port,
        latency_ms,
        script,
    })
}

fn main() -> ExitCode {
    let Args {
        host,
        port,
        latency_ms,
        script: path,
    } = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warden-mock-llm: {e}");
            return ExitCode::from(2);
        }
    };
    let script = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| Script::from_json(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => match latency_ms {
            Some(ms) => s.with_latency(std::time::Duration::from_millis(ms)),
            None => s,
        },
        Err(e) => {
            eprintln!("warden-mock-llm: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        match MockLlm::serve(script, SocketAddr::new(host, port), true).await {
            Ok(mock) => {
                println!("{}", mock.url());
                std::future::pending::<()>().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warden-mock-llm: cannot listen on {host}:{port}: {e}");
                ExitCode::from(1)
            }
        }
    })
}
