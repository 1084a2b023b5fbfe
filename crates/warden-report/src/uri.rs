//! Paths to URIs (RFC 3986), for SARIF artifact locations.

/// Where an artifact is, as SARIF wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArtifactUri {
    /// A relative reference, to be resolved against `%SRCROOT%`.
    Relative(String),
    /// An absolute `file://` URI (the path was absolute and outside the root).
    Absolute(String),
}

/// Characters kept as-is in a path: RFC 3986 `unreserved`, `/`, and the
/// sub-delims that need no escaping in a path segment. `:` is encoded in
/// relative references so a first segment like `a:b` is never read as a scheme.
fn keep(byte: u8, keep_colon: bool) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'/'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'@'
        )
        || (keep_colon && byte == b':')
}

/// Percent-encodes a `/`-separated path (UTF-8 bytes, upper-case hex).
pub(crate) fn encode_path(path: &str, keep_colon: bool) -> String {
    let mut out = String::with_capacity(path.len());
    for &byte in path.as_bytes() {
        if keep(byte, keep_colon) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Backslashes to `/`, collapsing `//` and dropping `.` segments.
fn normalize(path: &str) -> String {
    let path = path.replace('\\', "/");
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let joined = segments.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// True for `C:/...` style Windows paths (after normalisation).
fn has_drive(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && (bytes.len() == 2 || bytes[2] == b'/')
}

/// The `file://` URI of a directory, ending in `/` (SARIF requires that for base ids).
pub(crate) fn root_uri(root: &str) -> String {
    let mut path = normalize(root);
    if has_drive(&path) {
        path.insert(0, '/');
    }
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    format!("file://{}", encode_path(&path, true))
}

/// The URI of a finding's or candidate's `path` (normally relative to `root`).
pub(crate) fn artifact_uri(path: &str, root: &str) -> ArtifactUri {
    let path = normalize(path);
    let is_absolute = path.starts_with('/') || has_drive(&path);
    if !is_absolute {
        return ArtifactUri::Relative(encode_path(&path, false));
    }
    let root = normalize(root);
    let root = root.trim_end_matches('/');
    if let Some(rest) = path.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
        if !root.is_empty() {
            return ArtifactUri::Relative(encode_path(rest, false));
        }
    }
    let mut path = path;
    if has_drive(&path) {
        path.insert(0, '/');
    }
    ArtifactUri::Absolute(format!("file://{}", encode_path(&path, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_encoded_with_forward_slashes() {
        assert_eq!(
            artifact_uri("src\\my dir/ünï.rs", "/r"),
            ArtifactUri::Relative("src/my%20dir/%C3%BCn%C3%AF.rs".into())
        );
        assert_eq!(
            artifact_uri("./a:b/c#d?e%f", "/r"),
            ArtifactUri::Relative("a%3Ab/c%23d%3Fe%25f".into())
        );
    }

    #[test]
    fn absolute_paths_under_the_root_become_relative() {
        assert_eq!(
            artifact_uri("/home/me/proj/src/a.rs", "/home/me/proj/"),
            ArtifactUri::Relative("src/a.rs".into())
        );
        // A sibling whose name merely starts with the root's name is not under it.
        assert_eq!(
            artifact_uri("/home/me/project2/a.rs", "/home/me/proj"),
            ArtifactUri::Absolute("file:///home/me/project2/a.rs".into())
        );
    }

    #[test]
    fn root_uris_end_with_a_slash() {
        assert_eq!(root_uri("/home/me/my proj"), "file:///home/me/my%20proj/");
        assert_eq!(root_uri("/"), "file:///");
        assert_eq!(root_uri("C:\\src\\x\\"), "file:///C:/src/x/");
    }
}
