//! Path confinement: every path a tool touches is resolved against the
//! scanned root and refused when it could lead outside it (`..`, absolute
//! paths, symlinks pointing out). Nothing outside the root is ever read.

use std::path::{Component, Path, PathBuf};

/// The canonical scanned root.
#[derive(Debug, Clone)]
pub struct Root {
    canon: PathBuf,
}

impl Root {
    /// Canonicalises `root`; fails when it does not exist.
    pub fn new(root: &Path) -> Result<Root, String> {
        let canon = root
            .canonicalize()
            .map_err(|e| format!("cannot open the scanned root {}: {e}", root.display()))?;
        Ok(Root { canon })
    }

    /// The canonical root directory.
    pub fn path(&self) -> &Path {
        &self.canon
    }

    /// Resolves a model-supplied relative path to a canonical path inside the
    /// root. Refuses absolute paths, `..`, and anything whose canonical form
    /// (after symlinks) is outside the root. The path must exist.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        let rel = rel.trim();
        if rel.contains('\0') {
            return Err("invalid path: contains a NUL byte".into());
        }
        let p = Path::new(rel);
        if p.is_absolute() || rel.starts_with('/') || rel.starts_with('\\') {
            return Err(format!(
                "refused: `{rel}` is an absolute path; use a path relative to the project root"
            ));
        }
        let mut joined = self.canon.clone();
        for c in p.components() {
            match c {
                Component::Normal(part) => joined.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(format!(
                        "refused: `{rel}` contains `..`; only paths inside the project root are allowed"
                    ))
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "refused: `{rel}` is an absolute path; use a path relative to the project root"
                    ))
                }
            }
        }
        let canon = match joined.canonicalize() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink or a missing file: say which, without following.
                return Err(if std::fs::symlink_metadata(&joined).is_ok() {
                    format!("refused: `{rel}` is a symlink whose target does not exist")
                } else {
                    format!("not found: `{rel}` does not exist in the project")
                });
            }
            Err(e) => return Err(format!("cannot access `{rel}`: {e}")),
        };
        if !canon.starts_with(&self.canon) {
            return Err(format!(
                "refused: `{rel}` resolves (through a symlink) to a location outside the project root"
            ));
        }
        Ok(canon)
    }

    /// The `/`-separated path of `abs` relative to the root (`.` for the root itself).
    pub fn relative(&self, abs: &Path) -> String {
        let rel = abs.strip_prefix(&self.canon).unwrap_or(abs);
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fixture() -> (tempfile::TempDir, tempfile::TempDir, Root) {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "top secret\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("src/sub")).unwrap();
        fs::write(root.path().join("src/app.py"), "print(1)\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(outside.path(), root.path().join("out_dir")).unwrap();
            symlink(
                outside.path().join("secret.txt"),
                root.path().join("out_file"),
            )
            .unwrap();
            symlink(root.path().join("src/app.py"), root.path().join("in_link")).unwrap();
            symlink("/nonexistent/target", root.path().join("dangling")).unwrap();
        }
        let r = Root::new(root.path()).unwrap();
        (outside, root, r)
    }

    #[test]
    fn inside_paths_resolve() {
        let (_o, _d, r) = fixture();
        let p = r.resolve("src/app.py").unwrap();
        assert_eq!(r.relative(&p), "src/app.py");
        assert_eq!(r.relative(&r.resolve("./src/./sub").unwrap()), "src/sub");
        assert_eq!(r.relative(&r.resolve(".").unwrap()), ".");
        assert_eq!(r.relative(&r.resolve("").unwrap()), ".");
    }

    #[test]
    fn parent_and_absolute_paths_are_refused() {
        let (_o, _d, r) = fixture();
        for bad in ["../x", "src/../../x", "../../etc/passwd", "src/.."] {
            let e = r.resolve(bad).unwrap_err();
            assert!(e.contains("refused") && e.contains(".."), "{bad}: {e}");
        }
        for bad in ["/etc/passwd", "/", "//etc"] {
            let e = r.resolve(bad).unwrap_err();
            assert!(e.contains("absolute"), "{bad}: {e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_outside_are_refused() {
        let (_o, _d, r) = fixture();
        for bad in ["out_dir", "out_dir/secret.txt", "out_file"] {
            let e = r.resolve(bad).unwrap_err();
            assert!(e.contains("outside the project root"), "{bad}: {e}");
        }
        assert!(r.resolve("dangling").unwrap_err().contains("symlink"));
        assert_eq!(r.relative(&r.resolve("in_link").unwrap()), "src/app.py");
    }

    #[test]
    fn missing_paths_are_not_found() {
        let (_o, _d, r) = fixture();
        assert!(r.resolve("nope.txt").unwrap_err().contains("not found"));
    }
}
