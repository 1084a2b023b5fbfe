//! The sandbox as a library, the way the agent adapter drives it: create from a spec
//! (a read-only workspace, the agent image bound read-only over a fresh home), run
//! commands with captured output, a timeout and a cancellation, copy out, destroy.
//! Real sandboxes: the `warden` binary supervises them and is their init.

mod sandbox_support;

use sandbox_support::{is_root, secret_places, wait_until, Upstream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warden_sandbox::{
    BrokerPlan, Capture, ExecIo, ExecRequest, Exit, Sandbox, SandboxRoot, SandboxSpec, Sandboxes,
    WorkspaceSource,
};

fn library(tmp: &Path) -> Sandboxes {
    Sandboxes::new(SandboxRoot::new(tmp.join("data"))).with_executable(env!("CARGO_BIN_EXE_warden"))
}

/// A directory the sandbox's user can read (as root it runs as uid 64000).
fn open_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sh(script: &str) -> ExecRequest {
    ExecRequest::new(["sh", "-c", script])
}

/// Runs `script`; returns (exit, stdout, stderr).
fn run(rt: &tokio::runtime::Runtime, sandbox: &Sandbox, script: &str) -> (Exit, String, String) {
    let out = rt
        .block_on(sandbox.exec(&sh(script), ExecIo::default(), std::future::pending()))
        .unwrap();
    (
        out.exit,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fake agent image: a `~/.local` with an executable CLI and many files.
fn image(dir: &Path, files: usize) -> PathBuf {
    let local = open_dir(&dir.join("image/home/.local"));
    let bin = open_dir(&local.join("bin"));
    std::fs::write(
        bin.join("agent-cli"),
        "#!/bin/sh\necho agent-cli-ran \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("agent-cli"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let modules = open_dir(&local.join("lib/node_modules/pkg"));
    for i in 0..files {
        std::fs::write(modules.join(format!("f{i}.js")), format!("module {i}\n")).unwrap();
    }
    local
}

#[test]
fn a_read_only_workspace_is_bound_not_copied_and_hides_secrets_and_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = open_dir(&tmp.path().join("tree"));
    open_dir(&tree.join("src"));
    std::fs::write(tree.join("src/app.py"), "print('hi')\n").unwrap();
    std::fs::write(tree.join(".env"), "API_KEY=sk-top-level-secret\n").unwrap();
    open_dir(&tree.join(".warden"));
    std::fs::write(tree.join(".warden/warden.db"), "findings").unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(
        &lib,
        &SandboxSpec {
            workspace: WorkspaceSource::BindReadOnly(tree.clone()),
            ..SandboxSpec::default()
        },
    )
    .unwrap();
    let rt = runtime();
    let (exit, out, err) = run(
        &rt,
        &sandbox,
        "cat /workspace/src/app.py; cat /workspace/.env; ls -A /workspace/.warden; \
         echo x > /workspace/src/app.py || echo write-refused; \
         touch /workspace/new || echo create-refused",
    );
    assert_eq!(exit, Exit::Code(0), "{err}");
    assert_eq!(out, "print('hi')\nwrite-refused\ncreate-refused\n", "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    // Bound, not copied: a change on the host shows inside at once, and the sandbox's
    // own workspace directory stays empty.
    std::fs::write(tree.join("src/late.py"), "late\n").unwrap();
    assert_eq!(run(&rt, &sandbox, "cat /workspace/src/late.py").1, "late\n");
    let own = lib.root().sandbox_dir(sandbox.id()).workspace();
    assert_eq!(std::fs::read_dir(&own).unwrap().count(), 0);
    // Copies out of the bound workspace never carry what the sandbox cannot see.
    let out_dir = tmp.path().join("out");
    let copied = sandbox.copy_out(Path::new("/workspace"), &out_dir).unwrap();
    assert!(out_dir.join("src/app.py").exists() && !out_dir.join(".env").exists());
    assert!(
        !out_dir.join(".warden").exists() && copied.skipped >= 2,
        "{copied:?}"
    );
    let err = sandbox
        .copy_out(Path::new("/workspace/.env"), &tmp.path().join("env"))
        .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    let err = sandbox
        .copy_in(&tree.join("src/app.py"), Path::new("/workspace/x.py"))
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let dir = lib.root().sandbox_dir(sandbox.id());
    sandbox.destroy().unwrap();
    assert!(!dir.path().exists());
    assert!(tree.join(".env").exists() && tree.join("src/app.py").exists());
}

#[test]
fn the_agent_image_is_bound_read_only_over_a_fresh_writable_home() {
    let tmp = tempfile::tempdir().unwrap();
    let local = image(tmp.path(), 20_000);
    let tools = open_dir(&tmp.path().join("tools"));
    std::fs::write(tools.join("mcp.txt"), "warden tool\n").unwrap();
    let lib = library(tmp.path());
    let spec = SandboxSpec {
        read_only_binds: vec![
            (local.clone(), PathBuf::from("/home/sandbox/.local")),
            (tools.clone(), PathBuf::from("/opt/warden/tools")),
        ],
        ..SandboxSpec::default()
    };
    let started = std::time::Instant::now();
    let sandbox = Sandbox::create(&lib, &spec).unwrap();
    let created = started.elapsed();
    let rt = runtime();
    let (exit, out, err) = run(
        &rt,
        &sandbox,
        "agent-cli --version; ls ~/.local/lib/node_modules/pkg | wc -l; cat /opt/warden/tools/mcp.txt; ls /opt | grep -c warden; \
         touch ~/.local/x 2>/dev/null || echo local-refused; \
         rm ~/.local/bin/agent-cli 2>/dev/null || echo rm-refused; \
         chmod 777 ~/.local/bin/agent-cli 2>/dev/null || echo chmod-refused; \
         touch /opt/warden/x 2>/dev/null || echo opt-refused; \
         mkdir -p ~/.claude && echo '{}' > ~/.claude/settings.json && cat ~/.claude/settings.json",
    );
    assert_eq!(exit, Exit::Code(0), "{err}");
    assert_eq!(
        out,
        "agent-cli-ran --version\n20000\nwarden tool\n1\nlocal-refused\nrm-refused\nchmod-refused\nopt-refused\n{}\n",
        "{err}"
    );
    // Nothing of the image was copied: the sandbox's directory holds the fresh home only.
    let dir = lib.root().sandbox_dir(sandbox.id());
    let (files, bytes) = warden_sandbox::files::tree_size(dir.path());
    assert!(
        files < 50 && bytes < 1 << 20,
        "{files} files, {bytes} bytes"
    );
    assert_eq!(
        std::fs::read_dir(local.join("bin")).unwrap().count(),
        1,
        "the image changed"
    );
    sandbox.destroy().unwrap();
    // Not a timed assertion: printed so a slow bind shows up in the log.
    eprintln!("create with a 20,000-file image bound: {created:?}");
}

#[test]
fn captured_exec_returns_output_exit_and_honours_limits_files_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(&lib, &SandboxSpec::default()).unwrap();
    let rt = runtime();
    let out = rt
        .block_on(sandbox.exec(
            &sh("printf out; printf err >&2; exit 3"),
            ExecIo::default(),
            std::future::pending(),
        ))
        .unwrap();
    assert_eq!(
        (out.exit, out.stdout.as_slice(), out.stderr.as_slice()),
        (Exit::Code(3), &b"out"[..], &b"err"[..])
    );
    // A memory limit keeps the head and says so; the command is never blocked by it.
    let io = ExecIo {
        stdout: Capture::Memory { limit: 1000 },
        ..ExecIo::default()
    };
    let out = rt
        .block_on(sandbox.exec(&sh("head -c 5000000 /dev/zero"), io, std::future::pending()))
        .unwrap();
    assert_eq!(
        (out.exit, out.stdout.len(), out.stdout_truncated),
        (Exit::Code(0), 1000, true)
    );
    // Into a host file, written by the command itself; stdin from bytes; env and cwd.
    let file = tmp.path().join("stdout.txt");
    let io = ExecIo {
        stdin: Some(b"from-stdin\n".to_vec()),
        stdout: Capture::File(file.clone()),
        stderr: Capture::Null,
    };
    let request = sh("cat; echo \"$GREETING\"; pwd; echo gone >&2")
        .env("GREETING", "hello")
        .cwd("/tmp");
    let out = rt
        .block_on(sandbox.exec(&request, io, std::future::pending()))
        .unwrap();
    assert_eq!(out.exit, Exit::Code(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "from-stdin\nhello\n/tmp\n"
    );
    // Arbitrary bytes survive.
    let out = rt
        .block_on(sandbox.exec(
            &sh("printf '\\377\\000\\001'"),
            ExecIo::default(),
            std::future::pending(),
        ))
        .unwrap();
    assert_eq!(out.stdout, vec![0xff, 0, 1]);
    // A detached command cannot be captured.
    let mut detached = sh("true");
    detached.detach = true;
    let err = rt
        .block_on(sandbox.exec(&detached, ExecIo::default(), std::future::pending()))
        .unwrap_err();
    assert!(err.to_string().contains("detached"), "{err}");
}

#[test]
fn timeout_and_cancellation_kill_the_command_and_what_it_started() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(&lib, &SandboxSpec::default()).unwrap();
    let rt = runtime();
    let ticker = "(while true; do echo tick >> /workspace/ticks; sleep 0.05; done) & \
                  echo started; wait";
    let out = rt
        .block_on(sandbox.exec(
            &sh(ticker).timeout(Duration::from_millis(400)),
            ExecIo::default(),
            std::future::pending(),
        ))
        .unwrap();
    assert_eq!(out.exit, Exit::TimedOut);
    assert_eq!(out.stdout, b"started\n", "output before the kill is kept");
    let ticks = || run(&rt, &sandbox, "wc -l < /workspace/ticks").1;
    let after = ticks();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ticks(), after, "the background child outlived the timeout");

    run(&rt, &sandbox, "rm -f /workspace/ticks");
    let out = rt
        .block_on(sandbox.exec(&sh(ticker), ExecIo::default(), async {
            tokio::time::sleep(Duration::from_millis(400)).await
        }))
        .unwrap();
    assert_eq!(out.exit, Exit::Cancelled);
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    let after = ticks();
    assert!(after.trim().parse::<u32>().unwrap_or(0) > 0, "{after}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ticks(), after, "the cancelled command kept running");
}

#[test]
fn dropping_the_handle_destroys_the_sandbox_and_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let sandbox = Sandbox::create(&lib, &SandboxSpec::default()).unwrap();
    let id = sandbox.id().to_string();
    let dir = lib.root().sandbox_dir(&id);
    let rt = runtime();
    // A command started detached would be the sandbox's last process.
    let mut bg = sh("sleep 600");
    bg.detach = true;
    lib.exec(&id, &bg, [0, 1, 2]).unwrap();
    let supervisor = sandbox.meta().supervisor_pid.unwrap();
    drop(sandbox);
    assert!(
        !dir.path().exists(),
        "the state directory survived the drop"
    );
    assert!(wait_until(Duration::from_secs(5), || !Path::new(&format!(
        "/proc/{supervisor}"
    ))
    .exists()
        || std::fs::read_to_string(format!("/proc/{supervisor}/stat"))
            .is_ok_and(|s| s.contains(") Z"))));
    let err = rt
        .block_on(lib.exec_captured(&id, &sh("true"), ExecIo::default(), std::future::pending()))
        .unwrap_err();
    assert!(err.to_string().contains("no sandbox"), "{err}");
    // Bad specs are refused before anything exists.
    for (spec, want) in [
        (
            SandboxSpec {
                read_only_binds: vec![(tmp.path().join("nope"), "/home/sandbox/.local".into())],
                ..SandboxSpec::default()
            },
            "no such directory",
        ),
        (
            SandboxSpec {
                read_only_binds: vec![(tmp.path().to_path_buf(), "/etc/x".into())],
                ..SandboxSpec::default()
            },
            "binds go below",
        ),
        (
            SandboxSpec {
                workspace: WorkspaceSource::BindReadOnly(tmp.path().join("missing")),
                ..SandboxSpec::default()
            },
            "no such directory",
        ),
    ] {
        let err = Sandbox::create(&lib, &spec).unwrap_err();
        assert!(err.is_usage() && err.to_string().contains(want), "{err}");
    }
    if is_root() {
        let private = tmp.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        let spec = SandboxSpec {
            workspace: WorkspaceSource::BindReadOnly(private),
            ..SandboxSpec::default()
        };
        let err = Sandbox::create(&lib, &spec).unwrap_err();
        assert!(err.to_string().contains("cannot read it"), "{err}");
    }
    assert_eq!(lib.list().unwrap().len(), 0);
}

#[test]
fn a_program_brokers_the_credential_it_chose_and_the_secret_goes_through_a_pipe() {
    const TOKEN: &str = "sk-ant-oat01-LIBRARY-CHOSEN-TOKEN-0123456789";
    // The CLI's view of the same data directory, to search the sandbox from outside.
    let cli = sandbox_support::Sandboxes::new();
    let lib = Sandboxes::new(SandboxRoot::new(cli.data_dir()))
        .with_executable(env!("CARGO_BIN_EXE_warden"));
    let model = Upstream::start(None);
    // The caller decided on the host: this login, sent to this local model server.
    let credential = warden_creds::Credential {
        provider: warden_creds::Provider::Anthropic,
        kind: warden_creds::Kind::OAuth,
        source: warden_creds::Source::ConfigFile("/nowhere/.credentials.json".into()),
        value: warden_creds::Secret::new(TOKEN),
        expires_at: None,
        base_url: Some(format!("http://127.0.0.1:{}", model.port)),
        account_id: None,
    };
    let plan = BrokerPlan::for_credential(&credential).unwrap();
    assert_eq!(plan.door().base_url, "http://127.0.0.1:3129");
    assert_eq!(plan.allowed_host(), None);
    let placeholder = plan.placeholder().to_string();
    let sandbox = Sandbox::create(
        &lib,
        &SandboxSpec {
            broker_plans: vec![plan],
            ..SandboxSpec::default()
        },
    )
    .unwrap();
    assert_eq!(
        sandbox.meta().brokers,
        ["anthropic (Claude subscription login)"]
    );
    let rt = runtime();
    let (exit, out, err) = run(
        &rt,
        &sandbox,
        "printf '%s ' \"$CLAUDE_CODE_OAUTH_TOKEN\"; curl -s -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -d '{}'",
    );
    assert_eq!(exit, Exit::Code(0), "{err}");
    assert_eq!(out, format!("{placeholder} upstream-ok"));
    let heads = model.heads();
    assert!(
        heads.contains(&format!("authorization: Bearer {TOKEN}")),
        "{heads}"
    );
    assert!(
        heads.contains("anthropic-beta: oauth-2025-04-20"),
        "{heads}"
    );
    // Never in the sandbox, its record, or the supervisor's argv or environment on the host.
    let places = secret_places(&cli, sandbox.id(), TOKEN);
    assert!(places.is_empty(), "{places:?}");
    let supervisor = sandbox.meta().supervisor_pid.unwrap();
    for what in ["cmdline", "environ"] {
        let bytes = std::fs::read(format!("/proc/{supervisor}/{what}")).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the supervisor's {what} holds the token"
        );
    }
    let record = std::fs::read_to_string(lib.root().sandbox_dir(sandbox.id()).meta_path()).unwrap();
    assert!(!record.contains(TOKEN) && !record.contains(&placeholder));
    sandbox.destroy().unwrap();
}
