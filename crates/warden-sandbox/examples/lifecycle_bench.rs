//! What one investigation's sandbox costs: `Sandbox::create` (a read-only workspace and
//! an agent image bound read-only over a fresh home) + `exec true` (output captured) +
//! `destroy`, against a bare `bwrap --unshare-all --ro-bind / / true`, interleaved.
//!
//! ```sh
//! cargo build --release -p warden --example lifecycle_bench -p warden-sandbox
//! target/release/examples/lifecycle_bench target/release/warden [RUNS] [IMAGE_LOCAL_DIR]
//! ```
//! Without `IMAGE_LOCAL_DIR` a 20,000-file stand-in image is generated.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use warden_sandbox::{
    ExecIo, ExecRequest, Sandbox, SandboxRoot, SandboxSpec, Sandboxes, WorkspaceSource,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn open_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let warden = args
        .get(1)
        .ok_or("usage: lifecycle_bench WARDEN_BINARY [RUNS] [IMAGE_LOCAL_DIR]")?;
    let runs: usize = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(40);
    let tmp = tempfile::tempdir()?;
    open_dir(tmp.path())?;
    let tree = tmp.path().join("tree");
    open_dir(&tree.join("src"))?;
    std::fs::write(tree.join("src/app.py"), "print('hi')\n")?;
    let image: PathBuf = match args.get(3) {
        Some(dir) => dir.into(),
        None => {
            let local = tmp.path().join("image/.local");
            let modules = local.join("lib/node_modules/pkg");
            open_dir(&modules)?;
            for i in 0..20_000 {
                std::fs::write(modules.join(format!("f{i}.js")), "x\n")?;
            }
            local
        }
    };
    let sandboxes =
        Sandboxes::new(SandboxRoot::new(tmp.path().join("data"))).with_executable(warden);
    let spec = SandboxSpec {
        workspace: WorkspaceSource::BindReadOnly(tree),
        read_only_binds: vec![(image, "/home/sandbox/.local".into())],
        ..SandboxSpec::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bare = || -> Result<Duration, Box<dyn std::error::Error>> {
        let t = Instant::now();
        let status = std::process::Command::new("bwrap")
            .args(["--unshare-all", "--ro-bind", "/", "/", "true"])
            .status()?;
        if !status.success() {
            return Err("bwrap failed".into());
        }
        Ok(t.elapsed())
    };
    let ours = || -> Result<[Duration; 4], Box<dyn std::error::Error>> {
        let t = Instant::now();
        let sandbox = Sandbox::create(&sandboxes, &spec)?;
        let created = t.elapsed();
        let out = rt.block_on(sandbox.exec(
            &ExecRequest::new(["true"]),
            ExecIo::default(),
            std::future::pending(),
        ))?;
        if !out.exit.success() {
            return Err(format!("true exited {:?}", out.exit).into());
        }
        let executed = t.elapsed();
        sandbox.destroy()?;
        let total = t.elapsed();
        Ok([created, executed - created, total - executed, total])
    };
    for _ in 0..3 {
        bare()?;
        ours()?;
    }
    let (mut b, mut parts) = (Vec::new(), [vec![], vec![], vec![], vec![]]);
    for _ in 0..runs {
        b.push(bare()?);
        for (slot, d) in parts.iter_mut().zip(ours()?) {
            slot.push(d);
        }
    }
    let [create, exec, destroy, total] = parts.map(median);
    let bare = median(b);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("median of {runs}, interleaved:");
    println!(
        "  bare bwrap --unshare-all --ro-bind / / true   {:7.2} ms",
        ms(bare)
    );
    println!(
        "  create + exec true + destroy                  {:7.2} ms  (create {:.2}, exec {:.2}, destroy {:.2})",
        ms(total),
        ms(create),
        ms(exec),
        ms(destroy)
    );
    println!(
        "  added over bare bubblewrap                    {:7.2} ms  (target well under 100 ms)",
        ms(total) - ms(bare)
    );
    Ok(())
}
