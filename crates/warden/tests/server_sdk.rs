//! The TypeScript SDK's own tests (sdk/typescript, `npm test`: built with tsc, run with
//! `node --test`) against this build's real `warden server`. They start the server
//! themselves from `WARDEN_BIN`; this test installs the SDK's one dev dependency
//! (typescript, from the npm registry, pinned by its package-lock.json) and runs them.

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn the_typescript_sdk_passes_its_tests_against_a_real_server() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/typescript");
    let npm = |args: &[&str]| {
        Command::new("npm")
            .args(args)
            .current_dir(&sdk)
            .env("WARDEN_BIN", env!("CARGO_BIN_EXE_warden"))
            .env_remove("WARDEN_SERVER_URL")
            .env_remove("WARDEN_SERVER_TOKEN")
            .env_remove("WARDEN_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("npm (node and npm are needed for the SDK's tests; .ci/run installs them)")
    };
    let install = npm(&["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    assert!(
        install.status.success(),
        "npm ci in sdk/typescript: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    let test = npm(&["test"]);
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success(),
        "npm test in sdk/typescript failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&test.stderr)
    );
    // node --test's TAP summary: something ran, and nothing failed.
    let count = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    assert!(count("# pass").is_some_and(|n| n > 0), "{stdout}");
    assert_eq!(count("# fail"), Some(0), "{stdout}");
}
