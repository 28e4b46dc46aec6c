/*!
The facts about the machine a decision depends on beyond its input, behind one trait so the
evaluator, protection and the shell analyser can be run in process against a fake.

[`RealWorld`] asks the file system and git (finding a repository root walks up looking for
`.git`; remotes and the default remote each run one `git` command) and reads the clock for the
analysis budget. Tests give an in-memory [`World`] whose repository roots and remotes are a
table and whose budget is unlimited or already spent, so no test depends on git's
configuration or on how loaded the machine is.

The file system questions path resolution asks (is this name a symlink, where does it point,
is it a directory) are here too, with the real answers as defaults: a fake can overlay
symlinks of its own. So is reading the programs the shell analysis follows (scripts, sed and
awk programs, makefiles, archives' member lists), so a fake can hold files of its own. What is
not behind it: reading git configuration and self-protection's identity checks (device and inode, link counts) and
protected set, which read the file system directly; in-process tests build what they need in a
temporary directory.
*/

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the shell analysis may take before it stops and says the command is unanalyzable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// No limit (tests: a result must not depend on how busy the machine is).
    Unlimited,
    /// Wall-clock time from the start of the analysis. `Duration::ZERO` is spent at the first
    /// check, which is how the budget path is tested deterministically.
    Wall(Duration),
}

impl Budget {
    /// The hook's budget: it must answer in milliseconds, and the policy still has to be
    /// applied to what was found.
    pub const HOOK: Budget = Budget::Wall(crate::shell::ANALYSIS_BUDGET);
}

/// What a name is, without following a final symlink (`lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Repository facts, file system facts for resolving paths, and the analysis budget.
pub trait World {
    /// The root of the working tree containing `path` (a `.git` directory or file marks it).
    fn repository_root(&self, path: &Path) -> Option<PathBuf>;
    /// The remote URLs git would use for the repository at `root` (fetch and push, after
    /// `insteadOf`), normalized; only those of the named remote when `remote` is given.
    fn remote_urls(&self, root: &Path, remote: Option<&str>) -> Vec<String>;
    /// The remote a `git push` (`push`) or fetch without a remote operand uses, when the branch
    /// has one configured.
    fn default_remote(&self, root: &Path, push: bool) -> Option<String>;
    /// How long the shell analysis may run.
    fn budget(&self) -> Budget {
        Budget::HOOK
    }
    /// What `path` names, without following a final symlink; `None` when nothing is there.
    fn file_kind(&self, path: &Path) -> Option<FileKind> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        let kind = meta.file_type();
        Some(if kind.is_symlink() {
            FileKind::Symlink
        } else if kind.is_dir() {
            FileKind::Dir
        } else if kind.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        })
    }
    /// Where the symlink at `path` points, as written in the link.
    fn read_link(&self, path: &Path) -> Option<PathBuf> {
        std::fs::read_link(path).ok()
    }
    /// Whether `path` is a directory, following symlinks.
    fn is_dir(&self, path: &Path) -> bool {
        crate::paths::followed_kind(path) == Some(FileKind::Dir)
    }
    /// Whether `path` is a regular file, following symlinks.
    fn is_file(&self, path: &Path) -> bool {
        crate::paths::followed_kind(path) == Some(FileKind::File)
    }
    /// The content of the regular file at `path` (already resolved physically) when it is at
    /// most `max` bytes of UTF-8. A FIFO or device is never opened: reading one could block.
    fn read_file(&self, path: &Path, max: u64) -> Option<String> {
        let bytes = self.read_bytes(path, max)?;
        String::from_utf8(bytes).ok()
    }
    /// [`World::read_file`] for binary content (archives).
    fn read_bytes(&self, path: &Path, max: u64) -> Option<Vec<u8>> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() > max {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        (bytes.len() as u64 <= max).then_some(bytes)
    }
}

/// The machine this process runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealWorld {
    pub budget: Budget,
}

impl Default for RealWorld {
    fn default() -> Self {
        RealWorld::HOOK
    }
}

impl RealWorld {
    /// With the hook's budget.
    pub const HOOK: RealWorld = RealWorld {
        budget: Budget::HOOK,
    };

    /// With no budget: for tests and tools whose answer must not depend on machine load.
    pub const UNLIMITED: RealWorld = RealWorld {
        budget: Budget::Unlimited,
    };

    /// The hook's world. In debug builds only (the binaries the test suite runs),
    /// `HOOKLEDGER_ANALYSIS_BUDGET=unlimited` lifts the budget, so that a loaded test machine
    /// cannot turn a decision into "unanalyzable"; a release build always has the budget.
    pub fn for_hook() -> RealWorld {
        #[cfg(debug_assertions)]
        if std::env::var_os("HOOKLEDGER_ANALYSIS_BUDGET").is_some_and(|v| v == "unlimited") {
            return RealWorld::UNLIMITED;
        }
        RealWorld::HOOK
    }
}

impl World for RealWorld {
    fn repository_root(&self, path: &Path) -> Option<PathBuf> {
        crate::repo::repository_root(path)
    }

    fn remote_urls(&self, root: &Path, remote: Option<&str>) -> Vec<String> {
        crate::repo::effective_remote_urls_of(root, remote)
    }

    fn default_remote(&self, root: &Path, push: bool) -> Option<String> {
        crate::repo::default_remote(root, push)
    }

    fn budget(&self) -> Budget {
        self.budget
    }
}

/// A remote's name and its normalized URLs.
pub type NamedRemote = (String, Vec<String>);

/// An in-memory world for tests: repositories are the directories listed (with their remotes),
/// nothing runs git, symlinks can be added without touching the disk, and the budget is
/// whatever the test sets (unlimited by default). Other file system facts are the real ones.
#[derive(Debug, Clone)]
pub struct FakeWorld {
    pub repositories: Vec<(PathBuf, Vec<NamedRemote>)>,
    /// Symlinks that exist only in this world: (where the link sits, what it points to).
    pub links: Vec<(PathBuf, PathBuf)>,
    /// The branch's push and fetch remote, for every repository.
    pub default_remote: Option<String>,
    pub budget: Budget,
    /// Files that exist only in this world (path, content), read before the disk.
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

impl Default for FakeWorld {
    fn default() -> Self {
        FakeWorld {
            repositories: Vec::new(),
            links: Vec::new(),
            default_remote: None,
            budget: Budget::Unlimited,
            files: Vec::new(),
        }
    }
}

impl FakeWorld {
    /// A world with one repository at `root` and the given remotes.
    pub fn with_repository(root: &Path, remotes: &[(&str, &[&str])]) -> FakeWorld {
        let mut world = FakeWorld::default();
        world.add_repository(root, remotes);
        world
    }

    pub fn add_repository(&mut self, root: &Path, remotes: &[(&str, &[&str])]) {
        self.repositories.push((
            root.to_path_buf(),
            remotes
                .iter()
                .map(|(name, urls)| {
                    (
                        (*name).to_owned(),
                        urls.iter()
                            .map(|u| crate::repo::normalize_remote_url(u))
                            .collect(),
                    )
                })
                .collect(),
        ));
    }
}

impl World for FakeWorld {
    fn repository_root(&self, path: &Path) -> Option<PathBuf> {
        // The deepest listed root that contains the path, as the walk up from the path finds.
        self.repositories
            .iter()
            .map(|(root, _)| root)
            .filter(|root| path.starts_with(root))
            .max_by_key(|root| root.components().count())
            .cloned()
    }

    fn remote_urls(&self, root: &Path, remote: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = self
            .repositories
            .iter()
            .filter(|(r, _)| r == root)
            .flat_map(|(_, remotes)| remotes)
            .filter(|(name, _)| remote.is_none_or(|wanted| wanted == name))
            .flat_map(|(_, urls)| urls.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn default_remote(&self, _root: &Path, _push: bool) -> Option<String> {
        self.default_remote.clone()
    }

    fn budget(&self) -> Budget {
        self.budget
    }

    fn file_kind(&self, path: &Path) -> Option<FileKind> {
        if self.link(path).is_some() {
            return Some(FileKind::Symlink);
        }
        if self.files.iter().any(|(at, _)| at == path) {
            return Some(FileKind::File);
        }
        RealWorld::HOOK.file_kind(path)
    }

    fn read_link(&self, path: &Path) -> Option<PathBuf> {
        match self.link(path) {
            Some(target) => Some(target.to_path_buf()),
            None => RealWorld::HOOK.read_link(path),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        let resolved =
            crate::paths::resolve_in(&path.to_string_lossy(), Path::new("/"), None, self);
        resolved.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        if self.files.iter().any(|(at, _)| at == path) {
            return true;
        }
        let resolved =
            crate::paths::resolve_in(&path.to_string_lossy(), Path::new("/"), None, self);
        resolved.is_file()
    }

    fn read_bytes(&self, path: &Path, max: u64) -> Option<Vec<u8>> {
        match self.files.iter().find(|(at, _)| at == path) {
            Some((_, bytes)) => (bytes.len() as u64 <= max).then(|| bytes.clone()),
            None => RealWorld::HOOK.read_bytes(path, max),
        }
    }
}

impl FakeWorld {
    fn link(&self, path: &Path) -> Option<&Path> {
        self.links
            .iter()
            .find(|(at, _)| at == path)
            .map(|(_, target)| target.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_world_finds_the_deepest_root_and_named_remotes() {
        let mut world = FakeWorld::with_repository(
            Path::new("/w/repo"),
            &[
                ("origin", &["git@github.com:Acme/widgets.git"]),
                ("fork", &["https://github.com/me/widgets"]),
            ],
        );
        world.add_repository(Path::new("/w/repo/vendor/sub"), &[]);
        assert_eq!(
            world.repository_root(Path::new("/w/repo/src/main.rs")),
            Some(PathBuf::from("/w/repo"))
        );
        assert_eq!(
            world.repository_root(Path::new("/w/repo/vendor/sub/x")),
            Some(PathBuf::from("/w/repo/vendor/sub"))
        );
        assert_eq!(world.repository_root(Path::new("/w/other")), None);
        assert_eq!(
            world.remote_urls(Path::new("/w/repo"), Some("origin")),
            vec!["github.com/Acme/widgets".to_owned()]
        );
        assert_eq!(world.remote_urls(Path::new("/w/repo"), None).len(), 2);
        assert!(
            world
                .remote_urls(Path::new("/w/repo"), Some("upstream"))
                .is_empty()
        );
    }
}
