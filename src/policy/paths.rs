/*!
Resolving the paths tools name to the physical file they would touch.

Each name is resolved against the tool's `cwd`, with `~` and `$HOME` expanded. Then the longest
existing ancestor is canonicalized: this follows symlinks (including a symlinked directory above
a file that does not exist yet) and aliases like `/proc/self/root`, and applies `..` after the
symlink it follows, as the kernel does. The part that does not exist yet can hold no symlinks,
so `.` and `..` are applied to it textually. Containment is always decided on path segments
(`Path::starts_with`), never on string prefixes.
*/

use std::path::{Component, Path, PathBuf};

/// Expands `~`, `~/…`, `$HOME` and `${HOME}` at the start of `raw`.
pub fn expand_home(raw: &str, home: Option<&Path>) -> Option<PathBuf> {
    let home_str = home?.to_string_lossy().into_owned();
    for prefix in ["~", "$HOME", "${HOME}"] {
        if raw == prefix {
            return Some(PathBuf::from(&home_str));
        }
        if let Some(rest) = raw.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            return Some(Path::new(&home_str).join(rest));
        }
    }
    None
}

/// The physical path `raw` names, seen from `cwd`.
pub fn resolve(raw: &str, cwd: &Path, home: Option<&Path>) -> PathBuf {
    let raw = if cfg!(windows) {
        raw.replace('\\', "/")
    } else {
        raw.to_owned()
    };
    let named = expand_home(&raw, home).unwrap_or_else(|| PathBuf::from(&raw));
    let absolute = if named.is_absolute() {
        named
    } else {
        cwd.join(named)
    };
    physical(&absolute)
}

fn physical(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in missing.iter().rev() {
                match Path::new(part).components().next() {
                    Some(Component::ParentDir) => {
                        out.pop();
                    }
                    Some(Component::CurDir) | None => {}
                    _ => out.push(part),
                }
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_owned()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent.to_path_buf();
            }
            // `..` as last component has no file_name: keep it for the textual pass.
            (None, Some(parent)) if existing.ends_with("..") => {
                missing.push("..".into());
                existing = parent.to_path_buf();
            }
            _ => return lexical(path),
        }
    }
}

/// Textual normalization, for when nothing of the path exists (not even `/`).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_dots_and_missing_tails() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("secret")).unwrap();
        std::fs::create_dir_all(root.join("repo/sub")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("secret"), root.join("repo/link")).unwrap();
        let cwd = root.join("repo");
        assert_eq!(resolve("sub/../a.txt", &cwd, None), root.join("repo/a.txt"));
        assert_eq!(
            resolve("./sub//x/../y", &cwd, None),
            root.join("repo/sub/y")
        );
        assert_eq!(resolve("../secret/k", &cwd, None), root.join("secret/k"));
        #[cfg(unix)]
        {
            // A new file under a symlinked directory is where the symlink points.
            assert_eq!(
                resolve("link/new/file", &cwd, None),
                root.join("secret/new/file")
            );
            // `..` after a symlink goes up from its target, as the kernel does.
            assert_eq!(resolve("link/../x", &cwd, None), root.join("x"));
            assert_eq!(
                resolve("/proc/self/root/etc/passwd", &cwd, None),
                Path::new("/etc/passwd")
            );
        }
        let home = root.join("home");
        assert_eq!(
            resolve("~/.ssh/id_rsa", &cwd, Some(&home)),
            home.join(".ssh/id_rsa")
        );
        assert_eq!(resolve("$HOME/.aws", &cwd, Some(&home)), home.join(".aws"));
        assert_eq!(resolve("${HOME}/x", &cwd, Some(&home)), home.join("x"));
        assert_eq!(
            resolve("~user/x", &cwd, Some(&home)),
            root.join("repo/~user/x")
        );
    }
}
