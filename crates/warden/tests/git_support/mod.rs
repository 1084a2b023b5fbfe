//! A git server for the tests: one repository served over smart HTTP by
//! `git http-backend` behind a tiny server on 127.0.0.1.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

/// A git server on 127.0.0.1 with one repository, `repo.git`: `main` (two commits,
/// README says "second"), `feature` (one more, with feature.txt).
pub struct GitServer {
    pub port: u16,
    /// `METHOD /path` of every request.
    pub seen: Arc<Mutex<Vec<String>>>,
    _root: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t.test",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn server() -> &'static GitServer {
    static SERVER: OnceLock<GitServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let work = root.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q"]);
        std::fs::write(work.join("README"), "first\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-qm", "first"]);
        std::fs::write(work.join("README"), "second\n").unwrap();
        git(&work, &["commit", "-qam", "second"]);
        git(&work, &["checkout", "-qb", "feature"]);
        std::fs::write(work.join("feature.txt"), "feature\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-qm", "feature"]);
        git(&work, &["checkout", "-q", "main"]);
        git(root.path(), &["clone", "-q", "--bare", "work", "repo.git"]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (record, project) = (seen.clone(), root.path().to_path_buf());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (record, project) = (record.clone(), project.clone());
                std::thread::spawn(move || serve(conn, &project, &record));
            }
        });
        GitServer {
            port,
            seen,
            _root: root,
        }
    })
}

/// One request through `git http-backend` (CGI), answered with `Connection: close`.
fn serve(conn: std::net::TcpStream, project: &PathBuf, record: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn);
    let mut head = String::new();
    let mut headers = Vec::new();
    if reader.read_line(&mut head).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    record.lock().unwrap().push(format!("{method} {target}"));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", project)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", length.to_string())
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = cgi.stdin.take().unwrap().write_all(&body);
    let out = cgi.wait_with_output().unwrap().stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let split = split.or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (cgi_head, cgi_body) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&out[..i]).into_owned(),
            &out[i + n..],
        ),
        None => (String::new(), &out[..]),
    };
    let mut status = "200 OK".to_string();
    let mut reply = String::new();
    for line in cgi_head.lines() {
        match line.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => reply.push_str(&format!("{line}\r\n")),
            None => {}
        }
    }
    let mut conn = reader.into_inner();
    let _ = conn.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{reply}Content-Length: {}\r\nConnection: close\r\n\r\n",
            cgi_body.len()
        )
        .as_bytes(),
    );
    let _ = conn.write_all(cgi_body);
}
