/*!
Resolving the paths tools name to the physical file they would touch.

Each name is resolved against the tool's `cwd`, with `~` and `$HOME` expanded. Then it is walked
one component at a time, as the kernel does: every symlink is followed where it sits (a
symlinked directory above a file that does not exist yet, a **dangling** symlink whose target
does not exist yet, aliases like `/proc/self/root`), relative link targets are read from the
link's own directory, and `..` applies after the symlink it follows. The part that does not
exist can hold no symlinks, so `.` and `..` are applied to it textually. Hops are bounded as
the kernel bounds them (40), so a link loop ends. Containment is always decided on path
segments (`Path::starts_with`), never on string prefixes.

`/proc/self/cwd` means the directory of the process that opens it: for a tool call that is the
tool's `cwd`, not the hook's, so it is replaced by `cwd` before the walk.
*/

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::world::{FileKind, RealWorld, World};

/// Names remembered per decision: every name a command touches is resolved from `/`, so the
/// same few directories (`/home`, `/home/dev`, the repository …) would be `lstat`ed again for
/// every word. Bounded so a command naming thousands of paths cannot grow it without end.
const MAX_REMEMBERED_KINDS: usize = 4096;

/// What names are, keyed by the name and whether a final symlink is followed (`stat`) or not
/// (`lstat`).
type Kinds = HashMap<(PathBuf, bool), Option<FileKind>>;

thread_local! {
    /// [`Kinds`] while a [`DecisionScope`] is open; `None` outside one.
    static KINDS: RefCell<Option<Kinds>> = const { RefCell::new(None) };
}

/// While alive, path resolution on this thread remembers what each name it `lstat`s is, so one
/// decision asks the file system once per name. Opened around one decision (a hook process, an
/// evaluation in a long-lived process): nothing is remembered across decisions, so a file
/// created between two tool calls is seen by the second. Scopes nest; the outermost one forgets.
#[must_use = "the scope ends when dropped"]
pub struct DecisionScope {
    outermost: bool,
}

impl DecisionScope {
    pub fn open() -> DecisionScope {
        let outermost = KINDS.with(|kinds| {
            let mut kinds = kinds.borrow_mut();
            let outermost = kinds.is_none();
            if outermost {
                *kinds = Some(HashMap::new());
            }
            outermost
        });
        DecisionScope { outermost }
    }
}

impl Drop for DecisionScope {
    fn drop(&mut self) {
        if self.outermost {
            KINDS.with(|kinds| *kinds.borrow_mut() = None);
        }
    }
}

/// `world.file_kind(path)`, remembered within a [`DecisionScope`].
fn file_kind(world: &dyn World, path: &Path) -> Option<FileKind> {
    remembered(path, false, || world.file_kind(path))
}

/// What `path` is on this machine after following symlinks (`stat`), remembered within a
/// [`DecisionScope`]: the real world's `is_dir`/`is_file` and the search for a repository's
/// `.git`, asked of the same few names for every target of a command.
pub fn followed_kind(path: &Path) -> Option<FileKind> {
    remembered(path, true, || {
        let kind = std::fs::metadata(path).ok()?.file_type();
        Some(if kind.is_dir() {
            FileKind::Dir
        } else if kind.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        })
    })
}

fn remembered(
    path: &Path,
    follow: bool,
    ask: impl FnOnce() -> Option<FileKind>,
) -> Option<FileKind> {
    let key = (path.to_path_buf(), follow);
    let known = KINDS.with(|kinds| {
        kinds
            .borrow()
            .as_ref()
            .and_then(|kinds| kinds.get(&key).copied())
    });
    if let Some(kind) = known {
        return kind;
    }
    let kind = ask();
    KINDS.with(|kinds| {
        if let Some(kinds) = kinds.borrow_mut().as_mut()
            && kinds.len() < MAX_REMEMBERED_KINDS
        {
            kinds.insert(key, kind);
        }
    });
    kind
}

/// Symlinks followed in one resolution before giving up (Linux's `MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// A resolved name: the file the kernel would open, and, when the name's last component is
/// itself a symlink, where that link sits (what `rm`, `mv` or `ln -sf` on the name act on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub path: PathBuf,
    pub link: Option<PathBuf>,
}

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

/// The physical path `raw` names, seen from `cwd`, on this machine.
pub fn resolve(raw: &str, cwd: &Path, home: Option<&Path>) -> PathBuf {
    resolve_named_in(raw, cwd, home, &RealWorld::HOOK).path
}

/// [`resolve`], also saying where a final symlink sits.
pub fn resolve_named(raw: &str, cwd: &Path, home: Option<&Path>) -> Named {
    resolve_named_in(raw, cwd, home, &RealWorld::HOOK)
}

/// [`resolve`] with the file system facts of `world`.
pub fn resolve_in(raw: &str, cwd: &Path, home: Option<&Path>, world: &dyn World) -> PathBuf {
    resolve_named_in(raw, cwd, home, world).path
}

/// [`resolve_named`] with the file system facts of `world`.
pub fn resolve_named_in(raw: &str, cwd: &Path, home: Option<&Path>, world: &dyn World) -> Named {
    let raw = if cfg!(windows) {
        raw.replace('\\', "/")
    } else {
        raw.to_owned()
    };
    let named = expand_home(&raw, home).unwrap_or_else(|| PathBuf::from(&raw));
    let named = own_cwd_alias(&named, cwd).unwrap_or(named);
    let absolute = if named.is_absolute() {
        named
    } else {
        cwd.join(named)
    };
    physical(&absolute, world)
}

/// `/proc/self/cwd/…` (and `/proc/thread-self/cwd/…`) as `cwd/…`: the hook is not the process
/// that will open it.
fn own_cwd_alias(path: &Path, cwd: &Path) -> Option<PathBuf> {
    for alias in ["/proc/self/cwd", "/proc/thread-self/cwd"] {
        if let Ok(rest) = path.strip_prefix(alias) {
            return Some(cwd.join(rest));
        }
    }
    None
}

#[cfg(unix)]
fn physical(path: &Path, world: &dyn World) -> Named {
    use std::ffi::OsString;
    // Components still to walk, last first.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, path);
    let mut out = PathBuf::from("/");
    let mut hops = 0;
    let mut missing = false;
    let mut link: Option<PathBuf> = None;
    while let Some(part) = pending.pop() {
        if part == "." {
            continue;
        }
        if part == ".." {
            out.pop();
            continue;
        }
        let candidate = out.join(&part);
        if missing {
            out = candidate;
            continue;
        }
        match file_kind(world, &candidate) {
            Some(FileKind::Symlink) if hops < MAX_LINK_HOPS => {
                hops += 1;
                let Some(target) = world.read_link(&candidate) else {
                    out = candidate;
                    missing = true;
                    continue;
                };
                if pending.is_empty() && link.is_none() {
                    link = Some(candidate.clone());
                }
                if target.is_absolute() {
                    out = PathBuf::from("/");
                }
                push_components(&mut pending, &target);
            }
            Some(_) => out = candidate,
            None => {
                out = candidate;
                missing = true;
            }
        }
    }
    Named { path: out, link }
}

/// Pushes `path`'s components onto the stack so that the first is popped first.
#[cfg(unix)]
fn push_components(stack: &mut Vec<std::ffi::OsString>, path: &Path) {
    let parts: Vec<std::ffi::OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir => Some(".".into()),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    stack.extend(parts.into_iter().rev());
}

#[cfg(not(unix))]
fn physical(path: &Path, _world: &dyn World) -> Named {
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
            return Named {
                path: out,
                link: None,
            };
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
            _ => {
                return Named {
                    path: lexical(path),
                    link: None,
                };
            }
        }
    }
}

/// Textual normalization, for when nothing of the path exists (not even `/`).
#[cfg(not(unix))]
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

    #[cfg(unix)]
    #[test]
    fn dangling_relative_looping_and_final_links() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let protected = root.join("prot");
        std::fs::create_dir_all(&protected).unwrap();
        std::fs::create_dir_all(root.join("repo/sub")).unwrap();
        // A dangling link resolves to where it points, though nothing is there yet.
        symlink(
            protected.join("settings.local.json"),
            root.join("repo/dangle"),
        )
        .unwrap();
        let named = resolve_named("dangle", &root.join("repo"), None);
        assert_eq!(named.path, protected.join("settings.local.json"));
        assert_eq!(named.link, Some(root.join("repo/dangle")));
        // A relative target is read from the link's directory, not the cwd; chains are followed.
        symlink("../../prot", root.join("repo/sub/up")).unwrap();
        symlink("sub/up/x", root.join("repo/chain")).unwrap();
        assert_eq!(
            resolve("chain", &root.join("repo"), None),
            protected.join("x")
        );
        assert_eq!(
            resolve("sub/up/../repo", &root.join("repo"), None),
            root.join("repo")
        );
        // A loop ends (bounded hops) instead of hanging.
        symlink("loop2", root.join("repo/loop1")).unwrap();
        symlink("loop1", root.join("repo/loop2")).unwrap();
        let _ = resolve("loop1/x", &root.join("repo"), None);
        // A plain file has no link.
        std::fs::write(root.join("repo/f"), "x").unwrap();
        assert_eq!(resolve_named("f", &root.join("repo"), None).link, None);
        // /proc/self/cwd is the tool's directory, not the hook's.
        assert_eq!(
            resolve("/proc/self/cwd/a", &root.join("repo/sub"), None),
            root.join("repo/sub/a")
        );
        assert_eq!(
            resolve(
                "/proc/self/root/proc/self/cwd/../f",
                &root.join("repo/sub"),
                None
            )
            .file_name()
            .map(|n| n.to_owned()),
            Some("f".into())
        );
    }
}
