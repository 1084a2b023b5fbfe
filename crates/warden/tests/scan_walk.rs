//! `warden scan`: which files the walk reads, which it skips, and how it counts them.

mod common;

use common::*;
use std::os::unix::fs::symlink;

/// Every file an ignore file names holds a vulnerable call; only `keep.py` may be a candidate.
fn tree_with_ignore_files() -> Tree {
    let t = Tree::new();
    t.write(
        ".gitignore",
        "generated/\n*.local.py\n!important.local.py\n",
    );
    t.write(".ignore", "scratch/\n");
    t.write(".wardenignore", "legacy/\n");
    t.write("sub/.gitignore", "old.py\n");
    for rel in [
        "generated/a.py",
        "settings.local.py",
        "scratch/b.py",
        "legacy/c.py",
        "sub/old.py",
    ] {
        t.write(rel, ONE_CALL_PY);
    }
    t.write("important.local.py", ONE_CALL_PY);
    t.write("sub/new.py", ONE_CALL_PY);
    t.write("keep.py", VULN_PY);
    t
}

const NOT_IGNORED: [&str; 3] = ["important.local.py", "keep.py", "sub/new.py"];

fn sorted_candidates(scan: &serde_json::Value) -> Vec<String> {
    let mut paths = candidate_paths(scan);
    paths.sort();
    paths
}

#[test]
fn ignore_files_are_honoured_without_a_git_repository() {
    let t = tree_with_ignore_files();
    let scan = t.scan_json(&[]);
    assert_eq!(sorted_candidates(&scan), NOT_IGNORED);
    // Ignored files are not walked at all: only the three kept Python files are.
    assert_eq!(stat(&scan, "files_walked"), 3);
    assert_eq!(scan["stats"]["languages"]["python"], 3);
}

#[test]
fn ignore_files_are_honoured_inside_a_git_repository() {
    let t = tree_with_ignore_files();
    t.write(".git/HEAD", "ref: refs/heads/main\n");
    t.write(".git/hooks/pre-commit.py", ONE_CALL_PY);
    let scan = t.scan_json(&[]);
    assert_eq!(sorted_candidates(&scan), NOT_IGNORED);
    assert_eq!(stat(&scan, "files_walked"), 3);
}

#[test]
fn vcs_dependency_and_build_directories_are_pruned() {
    let t = Tree::new();
    let pruned = [
        ".git",
        "node_modules",
        "vendor",
        "dist",
        "build",
        "target",
        "web/node_modules",
    ];
    for dir in pruned {
        t.write(&format!("{dir}/x.py"), ONE_CALL_PY);
    }
    // Names that merely resemble pruned ones are ordinary directories and files.
    t.write("builder/a.py", ONE_CALL_PY);
    t.write("distribution/b.py", ONE_CALL_PY);
    t.write("build.py", ONE_CALL_PY);
    t.write("web/app.py", ONE_CALL_PY);
    let data = t.tmp.path().join("data");
    let scan = t.scan_json(&["--data-dir", data.to_str().unwrap()]);
    assert_eq!(
        sorted_candidates(&scan),
        [
            "build.py",
            "builder/a.py",
            "distribution/b.py",
            "web/app.py"
        ]
    );
    assert_eq!(stat(&scan, "pruned_dirs"), pruned.len() as u64);
}

#[test]
fn a_root_named_like_a_pruned_directory_is_still_scanned() {
    let t = Tree::new();
    let build = t
        .write("build/app.py", VULN_PY)
        .parent()
        .unwrap()
        .to_path_buf();
    let scan = run(warden().arg("scan").arg(&build).arg("--json"))
        .ok()
        .json();
    assert_eq!(candidate_paths(&scan), ["app.py"]);
    assert_eq!(scan["project"], "build");
}

#[test]
fn minified_lockfiles_binaries_and_large_files_are_skipped_with_their_reason() {
    let t = Tree::new();
    t.write("keep.py", VULN_PY);
    t.write(
        "static/app.min.js",
        "var a=require('child_process');a.exec(q);\n",
    );
    // A bundle with an ordinary name: one 20 KB line.
    t.write(
        "static/bundle.js",
        format!("{}\n", "var x=document.location.hash;".repeat(700)),
    );
    for lock in [
        "package-lock.json",
        "yarn.lock",
        "Cargo.lock",
        "poetry.lock",
        "go.sum",
    ] {
        t.write(lock, "{}\n");
    }
    // A vulnerable call in a file with a NUL byte: binary, never matched.
    t.write("blob.py", b"import os\x00\nos.system(cmd)\n".as_slice());
    // Just over 1 KiB, with a vulnerable call.
    t.write(
        "big.py",
        format!("{ONE_CALL_PY}{}\n", "# padding\n".repeat(110)),
    );

    let scan = t.scan_json(&[]);
    assert_eq!(
        sorted_candidates(&scan),
        ["big.py", "keep.py"],
        "{:#}",
        scan["stats"]
    );
    assert_eq!(skipped(&scan, "minified"), 2, "{:#}", scan["stats"]);
    assert_eq!(skipped(&scan, "lockfile"), 5, "{:#}", scan["stats"]);
    assert_eq!(skipped(&scan, "binary"), 1, "{:#}", scan["stats"]);
    assert_eq!(skipped(&scan, "too-large"), 0, "{:#}", scan["stats"]);
    assert_eq!(stat(&scan, "files_walked"), 2);

    // Over --max-file-size: big.py and the 20 KB bundle are not even read.
    let scan = t.scan_json(&["--max-file-size", "1K"]);
    assert_eq!(candidate_paths(&scan), ["keep.py"]);
    assert_eq!(skipped(&scan, "too-large"), 2, "{:#}", scan["stats"]);
    assert_eq!(skipped(&scan, "minified"), 1, "{:#}", scan["stats"]);
    assert_eq!(stat(&scan, "files_walked"), 1);
}

#[test]
fn symlinks_out_of_the_root_are_never_followed() {
    let t = Tree::new();
    let outside = t.tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("evil.py"), VULN_PY).unwrap();
    std::fs::write(outside.join("evil_file.py"), VULN_PY).unwrap();
    t.write("keep.py", VULN_PY);
    symlink(&outside, t.path("linked_dir")).unwrap();
    symlink(outside.join("evil_file.py"), t.path("linked_file.py")).unwrap();
    symlink("../outside/evil.py", t.path("relative.py")).unwrap();
    symlink("does/not/exist.py", t.path("dangling.py")).unwrap();

    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["keep.py"]);
    assert_eq!(skipped(&scan, "symlink-outside"), 4, "{:#}", scan["stats"]);
    assert_eq!(stat(&scan, "files_walked"), 1);
    assert!(
        !scan.to_string().contains("evil"),
        "nothing outside the root may show up: {scan:#}"
    );
}

#[test]
fn symlinks_inside_the_root_and_loops_are_counted_and_terminate() {
    let t = Tree::new();
    t.write("keep.py", VULN_PY);
    t.write("sub/inner.py", ONE_CALL_PY);
    symlink("keep.py", t.path("alias.py")).unwrap();
    // A directory link to its own parent, and one to itself: a loop if followed.
    symlink("..", t.path("sub/up")).unwrap();
    symlink(".", t.path("sub/me")).unwrap();

    let scan = t.scan_json(&[]);
    let mut paths = candidate_paths(&scan);
    paths.sort();
    assert_eq!(
        paths,
        ["keep.py", "sub/inner.py"],
        "each file once, by its real path"
    );
    assert_eq!(skipped(&scan, "symlink-inside"), 3, "{:#}", scan["stats"]);
    assert_eq!(stat(&scan, "files_walked"), 2);
}

#[test]
fn a_root_level_link_to_the_parent_counts_as_outside() {
    let t = Tree::new();
    t.write("keep.py", VULN_PY);
    std::fs::write(t.tmp.path().join("sibling.py"), VULN_PY).unwrap();
    symlink("..", t.path("parent")).unwrap();
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["keep.py"]);
    assert_eq!(skipped(&scan, "symlink-outside"), 1);
}

#[test]
fn a_data_dir_inside_the_root_is_not_scanned() {
    let t = Tree::new();
    t.write("keep.py", VULN_PY);
    let data = t.path("store");
    let args = ["--data-dir", data.to_str().unwrap()];
    t.scan_json(&args);
    assert!(data.join("warden.db").is_file());
    // The second scan would see warden.db (and its WAL files) were they walked.
    let scan = t.scan_json(&args);
    assert_eq!(skipped(&scan, "unsupported-type"), 0, "{:#}", scan["stats"]);
    assert_eq!(stat(&scan, "files_walked"), 1);
    assert!(!t.path(".warden").exists(), "--data-dir replaces .warden");
}

#[test]
fn a_fifo_in_the_tree_does_not_block_the_scan() {
    let t = Tree::new();
    t.write("keep.py", VULN_PY);
    let fifo = t.path("pipe.py");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer appears: it must never be read.
    let scan = t.scan_json(&[]);
    assert_eq!(candidate_paths(&scan), ["keep.py"]);
    assert_eq!(stat(&scan, "files_walked"), 1);
}

#[test]
fn private_keys_in_key_files_are_candidates() {
    // generic.private-key covers every language, but a key usually lives in a
    // file no language claims: `id_rsa`, `server.pem`, `tls.key`. Open bug in
    // warden-scan (language.rs): `Language::detect` returns None for these, so the
    // walk skips them as `unsupported-type` and the rule never sees them.
    let t = Tree::new();
    t.write("keys.py", KEY_PY);
    let key = KEY_PY
        .lines()
        .skip(1)
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    t.write("deploy/id_rsa", &key);
    t.write("certs/server.pem", &key);
    let scan = t.scan_json(&[]);
    let mut paths = candidate_paths(&scan);
    paths.sort();
    assert_eq!(paths, ["certs/server.pem", "deploy/id_rsa", "keys.py"]);
}
