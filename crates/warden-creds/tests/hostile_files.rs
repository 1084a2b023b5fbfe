//! Discovery against files a confused user or an attacker put where credentials are
//! looked for: FIFOs and other special files (never block, never read), huge files,
//! non-UTF-8 text, JSON of the wrong shape, expiry times out of range. Each one is a
//! note naming the file and the reason, never a hang, a panic or a secret.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;
use time::OffsetDateTime;
use warden_creds::sources::AGENT_FILES;
use warden_creds::{discover, CredsError, Discovery, Env, Kind, Places, Provider};

const NOW_MS: i64 = 1_800_000_000_000;

/// A hang detector, not a timing assertion: discovery that blocks fails the test
/// instead of hanging the suite.
const HANG: Duration = Duration::from_secs(20);

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_MS / 1000).expect("valid time")
}

fn discover_in_thread(
    env: HashMap<String, String>,
    home: Option<PathBuf>,
    work: &Path,
) -> Discovery {
    let places = Places {
        home,
        work_dir: Some(work.to_path_buf()),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(discover(&env, &places, now()));
    });
    rx.recv_timeout(HANG)
        .expect("discovery returned (a FIFO or device must never block it)")
}

struct Dirs {
    home: TempDir,
    work: TempDir,
}

impl Dirs {
    fn new() -> Self {
        Self {
            home: TempDir::new().expect("tempdir"),
            work: TempDir::new().expect("tempdir"),
        }
    }

    fn home(&self, rel: &str) -> PathBuf {
        let path = self.home.path().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        path
    }

    fn work(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    fn discover(&self) -> Discovery {
        self.discover_with(HashMap::new())
    }

    fn discover_with(&self, env: HashMap<String, String>) -> Discovery {
        discover_in_thread(env, Some(self.home.path().to_path_buf()), self.work.path())
    }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL in a temp path");
    // SAFETY: a valid NUL-terminated path; mkfifo touches nothing else.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {path:?}: {}",
        std::io::Error::last_os_error()
    );
}

fn has_note(d: &Discovery, want: &str) -> bool {
    d.notes.iter().any(|n| n.contains(want))
}

#[test]
fn a_fifo_at_every_path_read_is_skipped_with_a_note_and_never_blocks() {
    let dirs = Dirs::new();
    let mut fifos = vec![dirs.work(".env.local"), dirs.work(".env")];
    for row in AGENT_FILES {
        let path = dirs.home(row.path);
        if !fifos.contains(&path) {
            fifos.push(path);
        }
    }
    for path in &fifos {
        mkfifo(path);
    }
    let d = dirs.discover();
    assert!(d.credentials.is_empty());
    for path in &fifos {
        let want = format!("{} is a FIFO, not a regular file: skipped", path.display());
        assert!(has_note(&d, &want), "no note {want:?} in {:?}", d.notes);
    }
    // Nothing usable: the error the user sees carries the same notes.
    let msg = d.require().expect_err("nothing usable").to_string();
    assert!(msg.contains(".credentials.json is a FIFO"), "{msg}");
    assert!(msg.contains(".env.local is a FIFO"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn other_special_files_are_skipped_by_kind() {
    let dirs = Dirs::new();
    fs::create_dir(dirs.work(".env.local")).expect("a directory named .env.local");
    std::os::unix::fs::symlink("/dev/zero", dirs.work(".env")).expect("symlink");
    let socket = dirs.home(".codex/auth.json");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let d = dirs.discover();
    assert!(
        has_note(&d, ".env.local is a directory, not a regular file: skipped"),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(
            &d,
            ".env is a character device, not a regular file: skipped"
        ),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(&d, "auth.json is a socket, not a regular file: skipped"),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_symlinked_claude_directory_is_followed() {
    // Dotfiles repositories link ~/.claude elsewhere: that must keep working.
    let dirs = Dirs::new();
    let dotfiles = TempDir::new().expect("tempdir");
    fs::write(
        dotfiles.path().join(".credentials.json"),
        r#"{"claudeAiOauth":{"accessToken":"linked-token"}}"#,
    )
    .expect("write");
    std::os::unix::fs::symlink(dotfiles.path(), dirs.home.path().join(".claude")).expect("symlink");
    let d = dirs.discover();
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    let cred = d
        .best(Provider::Anthropic, false)
        .expect("found through the link");
    assert_eq!(
        (cred.kind, cred.value.expose()),
        (Kind::OAuth, "linked-token")
    );
}

#[test]
fn huge_files_are_skipped_by_size_without_being_read() {
    let dirs = Dirs::new();
    // Sparse: the size is real to stat, the disk holds nothing.
    for (path, len) in [
        (dirs.work(".env.local"), 17 << 20),
        (dirs.home(".claude.json"), 257 << 20),
    ] {
        fs::File::create(&path)
            .expect("create")
            .set_len(len)
            .expect("set_len");
    }
    let d = dirs.discover();
    assert!(
        has_note(
            &d,
            ".env.local is larger than 16 MiB (17825792 bytes): skipped"
        ),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(&d, ".claude.json is larger than 256 MiB"),
        "{:?}",
        d.notes
    );
}

#[test]
fn non_utf8_content_is_a_note_and_good_lines_still_count() {
    let dirs = Dirs::new();
    fs::write(
        dirs.work(".env.local"),
        b"NOTE=caf\xe9\nOPENAI_API_KEY=sk-good-key\n",
    )
    .expect("write");
    fs::write(dirs.home(".claude.json"), b"{\"primaryApiKey\": \"k\xff\"}").expect("write");
    let d = dirs.discover();
    assert!(
        has_note(&d, "ignored unparsable line(s) 1 in"),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(
            &d,
            ".claude.json: not UTF-8 text (invalid byte at offset 20)"
        ),
        "{:?}",
        d.notes
    );
    let o = d
        .best(Provider::OpenAi, false)
        .expect("the good line is used");
    assert_eq!(o.value.expose(), "sk-good-key");
}

#[test]
fn a_file_of_garbage_makes_a_short_note() {
    let dirs = Dirs::new();
    fs::write(dirs.work(".env"), "garbage\n".repeat(100_000)).expect("write");
    fs::write(dirs.home(".claude.json"), "[".repeat(100_000)).expect("write");
    std::os::unix::fs::symlink("config.json", dirs.home(".amp/config.json")).expect("symlink loop");
    let d = dirs.discover();
    let want = "ignored unparsable line(s) 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, and 99990 more in";
    assert!(has_note(&d, want), "{:?}", d.notes);
    // serde_json's recursion limit: an error, not a stack overflow.
    assert!(
        has_note(&d, ".claude.json: not valid JSON (line 1"),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(&d, "config.json: Too many levels of symbolic links"),
        "{:?}",
        d.notes
    );
    assert!(d.notes.iter().all(|n| n.len() < 500), "{:?}", d.notes);
}

#[test]
fn json_of_the_wrong_shape_names_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (".claude/.credentials.json", "[1, 2]", "not a JSON object"),
        (".claude/.credentials.json", "null", "not a JSON object"),
        (
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":12345}}"#,
            "claudeAiOauth has no accessToken string",
        ),
        (
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":"tok-a","expiresAt":"tomorrow"}}"#,
            "claudeAiOauth.expiresAt is not a number",
        ),
        (
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":"tok-b","expiresAt":18446744073709551615}}"#,
            "claudeAiOauth.expiresAt is out of range",
        ),
        (
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":"tok-c","expiresAt":1e300}}"#,
            "claudeAiOauth.expiresAt is out of range",
        ),
        (
            ".claude/.credentials.json",
            r#"{"claudeAiOauth":{"accessToken":"tok-d","expiresAt":9223372036854775807}}"#,
            "the token's expiry is out of range",
        ),
        (
            ".local/share/opencode/auth.json",
            r#"{"openai":{"type":"oauth","access":"tok-e","expires":-1.5}}"#,
            "openai.expires is not a whole number of milliseconds",
        ),
        (
            ".amp/config.json",
            "{\"apiKey\": \"line\\nbreak\"}",
            "its API key: the value contains control characters",
        ),
    ];
    for (rel, text, want) in cases {
        let dirs = Dirs::new();
        fs::write(dirs.home(rel), text).expect("write");
        let d = dirs.discover();
        assert!(d.credentials.is_empty(), "{rel}: {text}");
        let want = format!("ignored {}: {want}", dirs.home.path().join(rel).display());
        assert!(has_note(&d, &want), "{text}: no {want:?} in {:?}", d.notes);
        for note in &d.notes {
            assert!(!note.contains("tok-"), "a note quotes the token: {note}");
        }
    }
}

#[test]
fn an_expired_token_says_expired_and_when_in_the_error() {
    let dirs = Dirs::new();
    fs::write(
        dirs.home(".claude/.credentials.json"),
        r#"{"claudeAiOauth":{"accessToken":"stale-oauth","expiresAt":1700000000000}}"#,
    )
    .expect("write");
    let d = dirs.discover();
    let err = d
        .require_best(Provider::Anthropic, false)
        .expect_err("expired");
    let msg = err.to_string();
    assert!(
        msg.starts_with("no usable Anthropic credentials found"),
        "{msg}"
    );
    assert!(
        msg.contains("OAuth token in") && msg.contains("expired 2023-11-14T22:13:20Z"),
        "{msg}"
    );
    assert!(msg.contains("claude login"), "{msg}");
    assert!(!msg.contains("stale-oauth"), "{msg}");
    let CredsError::NotFound { notes, .. } = err else {
        panic!("{err}");
    };
    assert_eq!(notes.len(), 1, "{notes:?}");
}

#[test]
fn an_expired_codex_jwt_says_expired() {
    // Codex's auth.json gives no expiry; its access token is a JWT whose `exp` does.
    // {"alg":"none"} . {"exp":1700000000}
    let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.c2ln";
    let dirs = Dirs::new();
    fs::write(
        dirs.home(".codex/auth.json"),
        format!(r#"{{"OPENAI_API_KEY":null,"tokens":{{"access_token":"{jwt}"}}}}"#),
    )
    .expect("write");
    let d = dirs.discover();
    assert!(d.best(Provider::OpenAi, false).is_none());
    assert!(
        has_note(&d, "skipped codex OAuth token in"),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(&d, "expired 2023-11-14T22:13:20Z (run `codex login`"),
        "{:?}",
        d.notes
    );
}

#[test]
fn key_values_with_control_characters_are_noted_and_edges_are_trimmed() {
    let dirs = Dirs::new();
    fs::write(
        dirs.work(".env.local"),
        "ANTHROPIC_API_KEY=\"sk-ant-first\\r\\nX-Injected: 1\"\n",
    )
    .expect("write");
    let env = HashMap::from([
        (
            "OPENAI_API_KEY".to_string(),
            "  sk-pasted-with-newline\n".to_string(),
        ),
        ("CLAUDE_API_KEY".to_string(), "a\u{0}b".to_string()),
    ]);
    let d = dirs.discover_with(env);
    assert!(d.best(Provider::Anthropic, false).is_none());
    assert!(
        has_note(&d, "ignored ANTHROPIC_API_KEY in ")
            && has_note(&d, "contains control characters"),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(
            &d,
            "ignored environment variable CLAUDE_API_KEY: the value contains control characters"
        ),
        "{:?}",
        d.notes
    );
    assert!(
        !d.notes.iter().any(|n| n.contains("sk-ant-first")),
        "{:?}",
        d.notes
    );
    let o = d.best(Provider::OpenAi, false).expect("trimmed key");
    assert_eq!(o.value.expose(), "sk-pasted-with-newline");
}

/// An environment whose one variable is set but not UTF-8, as `ProcessEnv` reports it.
struct NotUnicode(&'static str);

impl Env for NotUnicode {
    fn get(&self, _name: &str) -> Option<String> {
        None
    }

    fn is_not_unicode(&self, name: &str) -> bool {
        name == self.0
    }
}

#[test]
fn a_non_utf8_key_variable_and_a_bad_home_are_notes() {
    let work = TempDir::new().expect("tempdir");
    let places = Places {
        home: Some(PathBuf::from("relative/home")),
        work_dir: Some(work.path().to_path_buf()),
    };
    let d = discover(&NotUnicode("OPENAI_API_KEY"), &places, now());
    assert!(
        has_note(
            &d,
            "ignored environment variable OPENAI_API_KEY: not valid UTF-8"
        ),
        "{:?}",
        d.notes
    );
    assert!(
        has_note(&d, "\"relative/home\" is not an absolute path"),
        "{:?}",
        d.notes
    );
    let places = Places {
        home: None,
        work_dir: Some(work.path().to_path_buf()),
    };
    let d = discover(&HashMap::<String, String>::new(), &places, now());
    assert!(has_note(&d, "HOME is not set"), "{:?}", d.notes);
}
