//! Git sources: a repository served over smart HTTP by `git http-backend` behind a tiny
//! server on loopback, cloned inside the sandbox through its egress proxy.

use crate::fixture::{library, run};
pub use crate::git_support::server;
use std::process::{Command, Stdio};
use warden_sandbox::{NetworkPolicy, PolicyMode, SandboxError, SandboxSpec, WorkspaceSource};

fn git_spec(url: &str, revision: Option<&str>, depth: Option<u32>) -> SandboxSpec {
    SandboxSpec {
        workspace: WorkspaceSource::Git {
            url: url.into(),
            revision: revision.map(str::to_string),
            depth,
        },
        ..SandboxSpec::default()
    }
}

#[test]
fn a_repository_is_cloned_inside_through_the_proxy_its_host_allowed_for_the_clone_only() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let meta = lib
        .create(&git_spec("http://git.test/repo.git", None, Some(1)))
        .unwrap();
    let id = meta.id.clone();
    assert_eq!(meta.source.as_deref(), Some("git http://git.test/repo.git"));
    assert_eq!(meta.policy_view().mode, PolicyMode::DenyAll);
    let (out, _) = run(
        &lib,
        &id,
        "cat README; git log --oneline | wc -l; git status --porcelain | wc -l; \
         curl -s -o /dev/null -w '%{http_code}' http://git.test/repo.git/info/refs",
    );
    assert_eq!(out, "second\n1\n0\n403");
    let seen = server().seen.lock().unwrap().join("\n");
    assert!(seen.contains("POST /repo.git/git-upload-pack"), "{seen}");

    // A branch the shallow clone left out is fetched on its own; the spec's own policy
    // (here an allow list without the git host) applies afterwards.
    let spec = SandboxSpec {
        policy: NetworkPolicy::Allow(vec!["plain.test".into()]),
        ..git_spec("http://git.test/repo.git", Some("feature"), Some(1))
    };
    let meta = lib.create(&spec).unwrap();
    let (out, _) = run(
        &lib,
        &meta.id,
        "cat README feature.txt; git log --oneline | wc -l",
    );
    assert_eq!(out, "second\nfeature\n1\n");
    assert_eq!(lib.policy(&meta.id).unwrap().allow, ["plain.test"]);
    for id in [id, meta.id] {
        lib.destroy(&id).unwrap();
    }
}

#[test]
fn a_failed_clone_is_one_clear_error_and_leaves_no_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let err = lib
        .create(&git_spec("http://git.test/missing.git", None, None))
        .unwrap_err();
    assert!(matches!(err, SandboxError::GitClone { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("missing.git") && text.contains("not found"),
        "{text}"
    );
    let err = lib
        .create(&git_spec(
            "http://git.test/repo.git",
            Some("no-such-branch"),
            None,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
    for (url, needle) in [
        ("ssh://git.test/repo.git", "http"),
        ("https://me:token@git.test/repo.git", "credentials"),
    ] {
        let err = lib.create(&git_spec(url, None, None)).unwrap_err();
        assert!(err.is_usage() && err.to_string().contains(needle), "{err}");
    }
    assert!(lib.list().unwrap().is_empty(), "{:?}", lib.list());
}

#[test]
fn the_cli_clones_with_git_flags() {
    let tmp = tempfile::tempdir().unwrap();
    library(tmp.path()); // the servers and the resolver variables, inherited below
    let warden = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("sandbox")
            .args(args)
            .env("WARDEN_DATA_DIR", tmp.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = warden(&[
        "create",
        "--git",
        "http://git.test/repo.git",
        "--git-revision",
        "feature",
        "--deny",
        "denied.test",
        "--allow-all",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = warden(&["exec", &id, "--", "cat", "feature.txt"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "feature\n");
    let out = warden(&["create", "--git-depth", "1"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(warden(&["destroy", &id]).status.success());
}
