/*!
Self-protection: which files keep hookledger in charge, recognised by what they are, not by how
a tool spells them.

The protected set:
- hookledger's ledger directory and everything in it (records, spool, user policy, index,
  locks), its signing keys (not even readable), the managed policy, and the running binary;
- Claude Code's settings at every layer, its global configuration, and the extension points
  that change what runs or what is recorded: `skills`, `commands`, `agents`, `hooks`,
  `plugins`, `dev-mods`, `shell-snapshots` (user and project), and the session transcripts
  from which hookledger reads the model;
- git hook directories (`.git/hooks`, `core.hooksPath`, husky), hookledger's shims wherever
  they are, and the git configuration that decides which hooks run.

A target matches when its physical path is, or is inside, a protected one; when an operation on
the whole tree (delete, move, chmod, a recursive write) names an ancestor of one; when it is the
same file (device and inode: a hard link, a bind mount seen through any ancestor directory);
and, for a final symlink, when the link itself is protected. Identities are looked up lazily
and the costly search for hard links runs only for a regular file with more than one link,
bounded in entries and time.
*/

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Action;
use super::gitconfig;
use super::paths;
use super::target::{Access, Target};
use super::world::World;

/// (device, inode).
pub type FileId = (u64, u64);

/// Entries the hard-link search visits at most.
const MAX_LINK_SCAN_ENTRIES: usize = 100_000;
/// How long the hard-link search may take.
const MAX_LINK_SCAN_TIME: Duration = Duration::from_millis(200);

/// Where the protected things are for this process.
#[derive(Debug, Clone)]
pub struct Context {
    pub hookledger_home: PathBuf,
    /// The user's home directory (`~`).
    pub home: Option<PathBuf>,
    /// `CLAUDE_CONFIG_DIR`, when set.
    pub claude_config_dir: Option<PathBuf>,
    pub managed_policy_dir: PathBuf,
    /// The hookledger binary that is running.
    pub binary: Option<PathBuf>,
}

impl Context {
    pub fn from_env(hookledger_home: &Path, home: Option<PathBuf>) -> Context {
        Context {
            hookledger_home: hookledger_home.to_path_buf(),
            home,
            claude_config_dir: std::env::var_os("CLAUDE_CONFIG_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            managed_policy_dir: super::file::managed_dir().0,
            binary: std::env::current_exe().ok(),
        }
    }

    /// Claude Code's user directories: `CLAUDE_CONFIG_DIR` and `~/.claude` (both, when they
    /// differ: another session may use the other).
    fn claude_dirs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.claude_config_dir.iter().cloned().collect();
        if let Some(home) = &self.home {
            let default = home.join(".claude");
            if !out.contains(&default) {
                out.push(default);
            }
        }
        out
    }
}

/// What a protected thing is and why it is protected: the refusal names both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    LedgerDir,
    SigningKeys,
    LedgerSecret,
    ManagedPolicy,
    Binary,
    ClaudeSettings,
    ClaudeGlobalConfig,
    ClaudeExtension(&'static str),
    Transcripts,
    ManagedSettings,
    ProjectSettings,
    ProjectExtension(&'static str),
    ClaudeDir,
    GitDir,
    Repository,
    GitHooks,
    Husky,
    HookShim,
    HooksPathDir,
    GitConfig,
    /// A multiply-linked file that could not be ruled out as a protected one.
    Unlisted,
}

impl Subject {
    pub fn what(self) -> String {
        match self {
            Subject::LedgerDir => "hookledger's ledger directory".into(),
            Subject::SigningKeys => "hookledger's signing keys".into(),
            Subject::LedgerSecret => "a secret of hookledger's ledger".into(),
            Subject::ManagedPolicy => "hookledger's managed policy".into(),
            Subject::Binary => "the hookledger binary".into(),
            Subject::ClaudeSettings => "Claude Code's user settings".into(),
            Subject::ClaudeGlobalConfig => "Claude Code's global configuration".into(),
            Subject::ClaudeExtension(name) => format!("Claude Code's user `{name}`"),
            Subject::Transcripts => "Claude Code's session transcripts".into(),
            Subject::ManagedSettings => "Claude Code's managed settings".into(),
            Subject::ProjectSettings => "Claude Code's project settings".into(),
            Subject::ProjectExtension(name) => format!("the project's Claude Code `{name}`"),
            Subject::ClaudeDir => "a `.claude` directory (Claude Code's settings)".into(),
            Subject::GitDir => "a `.git` directory (its hooks)".into(),
            Subject::Repository => "a repository's `.git` directory (its hooks)".into(),
            Subject::GitHooks => "a git hook directory".into(),
            Subject::Husky => "husky's git hooks".into(),
            Subject::HookShim => "a git hook that runs hookledger".into(),
            Subject::HooksPathDir => "the repository's `core.hooksPath` hooks".into(),
            Subject::GitConfig => "a git configuration file".into(),
            Subject::Unlisted => "possibly a hard link to a protected file".into(),
        }
    }

    pub fn why(self) -> &'static str {
        match self {
            Subject::LedgerDir => "it holds the audit records, the spool and the user policy",
            Subject::SigningKeys | Subject::LedgerSecret => {
                "whoever reads them can forge the ledger's signatures"
            }
            Subject::ManagedPolicy => "it is the organisation's policy",
            Subject::Binary => "Claude Code runs it for every hook event",
            Subject::ClaudeSettings | Subject::ProjectSettings | Subject::ManagedSettings => {
                "Claude Code's settings register hookledger's hooks and permissions"
            }
            Subject::ClaudeGlobalConfig => "it registers MCP servers, which run with your rights",
            Subject::ClaudeExtension(_) | Subject::ProjectExtension(_) => {
                "they change what Claude Code runs, outside the tools hookledger sees"
            }
            Subject::Transcripts => {
                "hookledger reads which model made each call from them; writing them forges attribution"
            }
            Subject::ClaudeDir => "it holds Claude Code's project settings and extensions",
            Subject::GitDir | Subject::Repository | Subject::GitHooks | Subject::Husky => {
                "hookledger's commit-time provenance runs from the git hooks"
            }
            Subject::HookShim => "it runs hookledger's commit-time provenance",
            Subject::HooksPathDir => "git runs the hooks from there",
            Subject::GitConfig => {
                "written other than through `git config`, it could set `core.hooksPath` or an include and switch the git hooks off"
            }
            Subject::Unlisted => {
                "it has several links and the protected files could not all be listed to rule that out"
            }
        }
    }
}

/// How a target meets the protected set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The target is the protected thing or inside it.
    Inside,
    /// The operation acts on a whole tree that contains it.
    Contains,
    /// The target is the same file by identity (hard link, bind mount).
    SameFile,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub subject: Subject,
    /// The protected path itself.
    pub at: PathBuf,
    pub relation: Relation,
    pub action: Action,
}

#[derive(Debug, Clone)]
struct Root {
    path: PathBuf,
    /// Everything under `path` too.
    tree: bool,
    /// Reading is refused as well.
    read: bool,
    subject: Subject,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    id: FileId,
    nlink: u64,
    is_file: bool,
}

#[derive(Debug, Default)]
struct RootIds {
    /// (identity, root index) of the roots that exist.
    own: Vec<(FileId, usize)>,
    /// (identity of the parent, file name, root index) of exact roots.
    parent: Vec<(FileId, std::ffi::OsString, usize)>,
}

/// Protected roots with what is looked up about them on demand.
#[derive(Debug, Default)]
struct Set {
    roots: Vec<Root>,
    ids: OnceCell<RootIds>,
    /// Identities of every directory above a root: a tree operation on one of them contains it.
    ancestor_ids: OnceCell<Vec<(FileId, usize)>>,
    /// Identities of protected files with more than one link, or why they could not be listed.
    linked: OnceCell<Result<HashMap<FileId, usize>, String>>,
}

/// The protected set of one hook process, resolved lazily: a read needs only the ledger
/// directories (for the keys), a write everything.
#[derive(Debug)]
pub struct Protection {
    cx: Context,
    reads: OnceCell<Set>,
    writes: OnceCell<Set>,
    meta: RefCell<HashMap<PathBuf, Option<Meta>>>,
    hooks_dirs: RefCell<HashMap<PathBuf, Vec<PathBuf>>>,
    config_files: RefCell<HashMap<PathBuf, Vec<PathBuf>>>,
    /// Git configuration texts, each read at most once per process.
    texts: RefCell<HashMap<PathBuf, Option<String>>>,
    /// The home directory, resolved once.
    home: OnceCell<Option<PathBuf>>,
}

impl Clone for Protection {
    fn clone(&self) -> Self {
        Protection::new(self.cx.clone())
    }
}

impl Protection {
    pub fn new(cx: Context) -> Protection {
        Protection {
            cx,
            reads: OnceCell::new(),
            writes: OnceCell::new(),
            meta: RefCell::new(HashMap::new()),
            hooks_dirs: RefCell::new(HashMap::new()),
            config_files: RefCell::new(HashMap::new()),
            texts: RefCell::new(HashMap::new()),
            home: OnceCell::new(),
        }
    }

    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The protected paths, for `policy check`.
    pub fn listing(&self) -> Vec<String> {
        self.set(Access::Write)
            .roots
            .iter()
            .map(|r| {
                let mut text = r.path.display().to_string();
                if r.tree {
                    text.push_str("/**");
                }
                if r.read {
                    text.push_str(" (no reading)");
                }
                text
            })
            .collect()
    }

    fn physical(&self, p: &Path) -> PathBuf {
        paths::resolve(
            &p.to_string_lossy(),
            Path::new("/"),
            self.cx.home.as_deref(),
        )
    }

    fn physical_home(&self) -> Option<&Path> {
        self.home
            .get_or_init(|| self.cx.home.as_deref().map(|h| self.physical(h)))
            .as_deref()
    }

    fn set(&self, access: Access) -> &Set {
        let cell = match access {
            Access::Read => &self.reads,
            Access::Write => &self.writes,
        };
        cell.get_or_init(|| Set {
            roots: match access {
                Access::Read => self.ledger_roots(),
                Access::Write => self.all_roots(),
            },
            ..Set::default()
        })
    }

    /// The ledger directories (`HOOKLEDGER_HOME`, and the platform's default data directory
    /// when that points elsewhere: another session may run the hooks without the variable)
    /// and their keys. Entries under a resolved directory are not resolved again: one that is
    /// a symlink is still matched by identity.
    fn ledger_roots(&self) -> Vec<Root> {
        let cx = &self.cx;
        let mut homes = vec![self.physical(&cx.hookledger_home)];
        if let Some(default) = directories::ProjectDirs::from("", "", "hookledger")
            .map(|d| d.data_dir().to_path_buf())
            .filter(|d| {
                *d != cx.hookledger_home && cx.home.as_ref().is_some_and(|h| d.starts_with(h))
            })
        {
            homes.push(self.physical(&default));
        }
        let mut out = Vec::new();
        for home in homes {
            out.push(Root {
                path: home.join("keys"),
                tree: true,
                read: true,
                subject: Subject::SigningKeys,
            });
            out.push(Root {
                path: home,
                tree: true,
                read: false,
                subject: Subject::LedgerDir,
            });
        }
        out
    }

    fn all_roots(&self) -> Vec<Root> {
        let cx = &self.cx;
        let mut out = self.ledger_roots();
        let mut add = |path: PathBuf, tree: bool, subject: Subject| {
            out.push(Root {
                path,
                tree,
                read: false,
                subject,
            });
        };
        add(
            self.physical(&cx.managed_policy_dir),
            true,
            Subject::ManagedPolicy,
        );
        if let Some(binary) = &cx.binary {
            add(self.physical(binary), false, Subject::Binary);
        }
        for raw in cx.claude_dirs() {
            let dir = self.physical(&raw);
            for name in ["settings.json", "settings.local.json"] {
                add(dir.join(name), false, Subject::ClaudeSettings);
            }
            // One list with what `install --sandbox` compiles (config::protected).
            for &name in crate::protected::CLAUDE_EXTENSION_DIRS {
                let subject = match name {
                    "projects" => Subject::Transcripts,
                    _ => Subject::ClaudeExtension(name),
                };
                add(dir.join(name), true, subject);
            }
            // `~/.claude.json`, or `.claude.json` inside CLAUDE_CONFIG_DIR.
            let global = if Some(&raw) == cx.claude_config_dir.as_ref() {
                dir.join(".claude.json")
            } else {
                match self.physical_home() {
                    Some(home) if raw.parent() == cx.home.as_deref() => home.join(".claude.json"),
                    _ => self.physical(&raw.with_file_name(".claude.json")),
                }
            };
            add(global, false, Subject::ClaudeGlobalConfig);
        }
        let managed_settings: &[&str] = if cfg!(target_os = "macos") {
            &["/Library/Application Support/ClaudeCode"]
        } else if cfg!(windows) {
            &["C:/Program Files/ClaudeCode", "C:/ProgramData/ClaudeCode"]
        } else {
            &["/etc/claude-code"]
        };
        for managed in managed_settings {
            add(
                self.physical(Path::new(managed)),
                true,
                Subject::ManagedSettings,
            );
        }
        out
    }

    fn meta(&self, path: &Path) -> Option<Meta> {
        if cfg!(not(unix)) {
            // No (device, inode) to compare: identity checks are a Unix feature here.
            return None;
        }
        if let Some(known) = self.meta.borrow().get(path) {
            return *known;
        }
        let found = std::fs::metadata(path).ok().map(|m| Meta {
            id: file_id(&m),
            nlink: nlink(&m),
            is_file: m.is_file(),
        });
        self.meta.borrow_mut().insert(path.to_path_buf(), found);
        found
    }

    fn ids<'a>(&self, set: &'a Set) -> &'a RootIds {
        set.ids.get_or_init(|| {
            let mut ids = RootIds::default();
            for (i, root) in set.roots.iter().enumerate() {
                let parent = root.path.parent();
                // Nothing under a directory that does not exist exists.
                let parent_meta = parent.and_then(|p| self.meta(p));
                if parent.is_some() && parent_meta.is_none() {
                    continue;
                }
                if let Some(m) = self.meta(&root.path) {
                    ids.own.push((m.id, i));
                }
                if !root.tree
                    && let (Some(m), Some(name)) = (parent_meta, root.path.file_name())
                {
                    ids.parent.push((m.id, name.to_owned(), i));
                }
            }
            ids
        })
    }

    fn ancestor_ids<'a>(&self, set: &'a Set) -> &'a [(FileId, usize)] {
        set.ancestor_ids.get_or_init(|| {
            let mut out = Vec::new();
            for (i, root) in set.roots.iter().enumerate() {
                for a in root.path.ancestors().skip(1) {
                    if let Some(m) = self.meta(a) {
                        out.push((m.id, i));
                    }
                }
            }
            out
        })
    }

    /// Protected files with more than one link, found by walking the protected trees.
    fn linked<'a>(&self, set: &'a Set) -> &'a Result<HashMap<FileId, usize>, String> {
        set.linked.get_or_init(|| {
            let started = Instant::now();
            let mut found = HashMap::new();
            let mut visited = 0usize;
            for (i, root) in set.roots.iter().enumerate() {
                let mut stack = vec![root.path.clone()];
                while let Some(path) = stack.pop() {
                    visited += 1;
                    if visited > MAX_LINK_SCAN_ENTRIES || started.elapsed() > MAX_LINK_SCAN_TIME {
                        return Err(format!(
                            "the protected files could not all be listed within {} entries or {} ms",
                            MAX_LINK_SCAN_ENTRIES,
                            MAX_LINK_SCAN_TIME.as_millis()
                        ));
                    }
                    let Ok(meta) = std::fs::symlink_metadata(&path) else {
                        continue;
                    };
                    if meta.is_file() && nlink(&meta) > 1 {
                        // The first root that holds a file is the most specific (keys first).
                        found.entry(file_id(&meta)).or_insert(i);
                    } else if meta.is_dir()
                        && root.tree
                        && let Ok(entries) = std::fs::read_dir(&path)
                    {
                        stack.extend(entries.flatten().map(|e| e.path()));
                    }
                }
            }
            Ok(found)
        })
    }

    fn hit(set: &Set, index: usize, relation: Relation) -> Hit {
        let root = &set.roots[index];
        Hit {
            subject: root.subject,
            at: root.path.clone(),
            relation,
            action: Action::Deny,
        }
    }

    /// The protected thing `target` would read or change, if any. `project_extensions` is what
    /// the policy makes of writes to a project's skills, commands and agents (ask or deny);
    /// `cwd` is the directory the tool works in.
    pub fn check(
        &self,
        target: &Target,
        cwd: &Path,
        project_extensions: Action,
        world: &dyn World,
    ) -> Option<Hit> {
        let names = std::iter::once(&target.path).chain(target.link.as_ref());
        for name in names {
            if let Some(hit) = self.by_path(name, target) {
                return Some(hit);
            }
            let by_shape = match target.access {
                Access::Write => self.by_shape(name, target, cwd, project_extensions, world),
                Access::Read => self.secret_by_name(name),
            };
            if by_shape.is_some() {
                return by_shape;
            }
        }
        self.by_identity(target)
    }

    fn by_path(&self, p: &Path, target: &Target) -> Option<Hit> {
        let set = self.set(target.access);
        for (i, root) in set.roots.iter().enumerate() {
            if target.access == Access::Read && !root.read {
                continue;
            }
            let inside = p == root.path || (root.tree && p.starts_with(&root.path));
            if inside {
                return Some(Self::hit(set, i, Relation::Inside));
            }
            if target.recursive && root.path.starts_with(p) {
                return Some(Self::hit(set, i, Relation::Contains));
            }
            // Writing whatever lands in a directory (an archive extracted into it, a download
            // named by the server) can replace what sits right in it.
            if target.search_root && target.access == Access::Write && root.path.parent() == Some(p)
            {
                return Some(Self::hit(set, i, Relation::Contains));
            }
        }
        None
    }

    /// Files in the ledger directory whose names say they hold a secret.
    fn secret_by_name(&self, p: &Path) -> Option<Hit> {
        if !self
            .set(Access::Read)
            .roots
            .iter()
            .any(|r| r.subject == Subject::LedgerDir && p.starts_with(&r.path))
        {
            return None;
        }
        let name = p.file_name()?.to_string_lossy().to_ascii_lowercase();
        let secret = name.contains("key")
            || name.contains("secret")
            || name.ends_with(".ed25519")
            || name.ends_with(".pem");
        secret.then(|| Hit {
            subject: Subject::LedgerSecret,
            at: p.to_path_buf(),
            relation: Relation::Inside,
            action: Action::Deny,
        })
    }

    /// Project-level files recognised by where they sit, in any repository.
    fn by_shape(
        &self,
        p: &Path,
        target: &Target,
        cwd: &Path,
        project_extensions: Action,
        world: &dyn World,
    ) -> Option<Hit> {
        let parts: Vec<&OsStr> = p.iter().collect();
        let names: Vec<String> = parts.iter().map(|part| folded(part)).collect();
        let shaped = |subject: Subject, upto: usize, action: Action| {
            let at: PathBuf = parts[..upto].iter().collect();
            Some(Hit {
                subject,
                at,
                relation: if upto < parts.len() {
                    Relation::Inside
                } else if target.recursive {
                    Relation::Contains
                } else {
                    Relation::Inside
                },
                action,
            })
        };
        for (i, part) in names.iter().enumerate() {
            let rest = &names[i + 1..];
            if part == ".claude" {
                match rest.first().map(String::as_str) {
                    None if target.recursive => {
                        return shaped(Subject::ClaudeDir, i + 1, Action::Deny);
                    }
                    Some(name @ ("settings.json" | "settings.local.json")) if rest.len() == 1 => {
                        let _ = name;
                        return shaped(Subject::ProjectSettings, i + 2, Action::Deny);
                    }
                    Some("hooks") => {
                        return shaped(Subject::ProjectExtension("hooks"), i + 2, Action::Deny);
                    }
                    Some("plugins") => {
                        return shaped(Subject::ProjectExtension("plugins"), i + 2, Action::Deny);
                    }
                    Some("dev-mods") => {
                        return shaped(Subject::ProjectExtension("dev-mods"), i + 2, Action::Deny);
                    }
                    Some("shell-snapshots") => {
                        return shaped(
                            Subject::ProjectExtension("shell-snapshots"),
                            i + 2,
                            Action::Deny,
                        );
                    }
                    Some(name @ ("skills" | "commands" | "agents")) => {
                        let name: &'static str = match name {
                            "skills" => "skills",
                            "commands" => "commands",
                            _ => "agents",
                        };
                        return shaped(
                            Subject::ProjectExtension(name),
                            i + 2,
                            project_extensions.max(Action::Ask),
                        );
                    }
                    _ => {}
                }
            }
            if part == ".git" {
                match rest.first().map(String::as_str) {
                    None if target.recursive => {
                        return shaped(Subject::GitDir, i + 1, Action::Deny);
                    }
                    Some("hooks") => {
                        return shaped(Subject::GitHooks, i + 2, Action::Deny);
                    }
                    _ => {}
                }
            }
            if part == ".husky" {
                return shaped(Subject::Husky, i + 1, Action::Deny);
            }
        }
        // Extracting into `.claude`, `.git` or `.husky` can replace their settings and hooks.
        if target.search_root
            && target.access == Access::Write
            && let Some(last) = names.last().map(String::as_str)
            && matches!(last, ".claude" | ".git" | ".husky" | "hooks")
            && (last != "hooks" || names.iter().rev().nth(1).is_some_and(|n| n == ".git"))
        {
            let subject = match last {
                ".claude" => Subject::ClaudeDir,
                ".husky" => Subject::Husky,
                _ => Subject::GitDir,
            };
            return Some(Hit {
                subject,
                at: p.to_path_buf(),
                relation: Relation::Contains,
                action: Action::Deny,
            });
        }
        if is_hookledger_git_hook(p) {
            return Some(Hit {
                subject: Subject::HookShim,
                at: p.to_path_buf(),
                relation: Relation::Inside,
                action: Action::Deny,
            });
        }
        let repo = target
            .repository
            .clone()
            .or_else(|| world.repository_root(p));
        if let Some(root) = &repo
            && let Some(dir) = self
                .hooks_dirs(root)
                .into_iter()
                .find(|d| p.starts_with(d) || (target.recursive && d.starts_with(p)))
        {
            return Some(Hit {
                subject: Subject::HooksPathDir,
                at: dir,
                relation: Relation::Inside,
                action: Action::Deny,
            });
        }
        if !target.vetted && self.is_git_config_file(p, repo.as_deref(), cwd, world) {
            return Some(Hit {
                subject: Subject::GitConfig,
                at: p.to_path_buf(),
                relation: Relation::Inside,
                action: Action::Deny,
            });
        }
        if target.recursive {
            for (child, subject) in [
                (".git", Subject::Repository),
                (".claude", Subject::ClaudeDir),
                (".husky", Subject::Husky),
            ] {
                let inner = p.join(child);
                if std::fs::symlink_metadata(&inner).is_ok() {
                    return Some(Hit {
                        subject,
                        at: inner,
                        relation: Relation::Contains,
                        action: Action::Deny,
                    });
                }
            }
            if let Some(root) = world.repository_root(cwd)
                && root.starts_with(p)
            {
                return Some(Hit {
                    subject: Subject::Repository,
                    at: root.join(".git"),
                    relation: Relation::Contains,
                    action: Action::Deny,
                });
            }
        }
        None
    }

    /// The same file as a protected one, by device and inode: a bind mount of a protected
    /// directory anywhere above the target, the file itself mounted or hard-linked elsewhere.
    fn by_identity(&self, target: &Target) -> Option<Hit> {
        let set = self.set(target.access);
        let ids = self.ids(set);
        let roots = &set.roots;
        let applies = |i: usize| target.access == Access::Write || roots[i].read;
        if !ids.own.iter().any(|(_, i)| applies(*i))
            && !ids.parent.iter().any(|(_, _, i)| applies(*i))
        {
            // Nothing this access could reach exists: no identity to compare.
            return None;
        }
        let leaf = self.meta(&target.path);
        for (depth, dir) in target.path.ancestors().enumerate() {
            let Some(m) = (if depth == 0 { leaf } else { self.meta(dir) }) else {
                continue;
            };
            if let Some(&(_, i)) = ids
                .own
                .iter()
                .find(|(id, i)| *id == m.id && applies(*i) && (roots[*i].tree || depth == 0))
            {
                return Some(Self::hit(set, i, Relation::SameFile));
            }
            if depth == 1
                && let Some(name) = target.path.file_name()
                && let Some(&(_, _, i)) = ids
                    .parent
                    .iter()
                    .find(|(id, n, i)| *id == m.id && folded(n) == folded(name) && applies(*i))
            {
                return Some(Self::hit(set, i, Relation::SameFile));
            }
        }
        if target.recursive
            && target.access == Access::Write
            && let Some(m) = leaf
            && let Some(&(_, i)) = self.ancestor_ids(set).iter().find(|(id, _)| *id == m.id)
        {
            return Some(Self::hit(set, i, Relation::Contains));
        }
        let leaf = leaf?;
        if !(leaf.is_file && leaf.nlink > 1) {
            return None;
        }
        match self.linked(set) {
            Ok(found) => found
                .get(&leaf.id)
                .filter(|i| applies(**i))
                .map(|i| Self::hit(set, *i, Relation::SameFile)),
            // Cannot rule it out: a hard link may be how the agent reaches a protected file.
            Err(_) if target.access == Access::Write => Some(Hit {
                subject: Subject::Unlisted,
                at: target.path.clone(),
                relation: Relation::SameFile,
                action: Action::Deny,
            }),
            Err(_) => None,
        }
    }

    fn config_text(&self, path: &Path) -> Option<String> {
        if let Some(known) = self.texts.borrow().get(path) {
            return known.clone();
        }
        let text = gitconfig::read_small(path);
        self.texts
            .borrow_mut()
            .insert(path.to_path_buf(), text.clone());
        text
    }

    /// Where git runs hooks from for the repository at `root`, besides `.git/hooks`.
    fn hooks_dirs(&self, root: &Path) -> Vec<PathBuf> {
        if let Some(known) = self.hooks_dirs.borrow().get(root) {
            return known.clone();
        }
        let mut configured = None;
        let mut files = gitconfig::global_files(self.physical_home());
        files.extend(gitconfig::repository_files(root));
        for file in &files {
            if let Some(text) = self.config_text(file)
                && let Some(dir) = gitconfig::HookFacts::of(&text)
                    .hooks_path()
                    .map(str::to_owned)
            {
                configured = Some(dir);
            }
        }
        let dirs: Vec<PathBuf> = configured
            .map(|dir| {
                let named = paths::expand_home(&dir, self.cx.home.as_deref())
                    .unwrap_or_else(|| root.join(&dir));
                self.physical(&named)
            })
            .into_iter()
            .collect();
        self.hooks_dirs
            .borrow_mut()
            .insert(root.to_path_buf(), dirs.clone());
        dirs
    }

    /// The configuration files git reads for a repository (and the user), with what they include.
    fn config_files(&self, root: Option<&Path>) -> Vec<PathBuf> {
        let key = root.map(Path::to_path_buf).unwrap_or_default();
        if let Some(known) = self.config_files.borrow().get(&key) {
            return known.clone();
        }
        // (file, already physical): the user's files sit in the resolved home, a repository's
        // in its (physical) root; only included files need resolving.
        let mut queue: Vec<(PathBuf, bool)> = gitconfig::global_files(self.physical_home())
            .into_iter()
            .map(|f| {
                let resolved = self.physical_home().is_some_and(|h| f.starts_with(h));
                (f, resolved)
            })
            .collect();
        if let Some(root) = root {
            queue.extend(
                gitconfig::repository_files(root)
                    .into_iter()
                    .map(|f| (f, true)),
            );
        }
        let mut out: Vec<PathBuf> = Vec::new();
        // Includes can nest; git stops at 10 levels, and so do we.
        let mut budget = 64;
        while let Some((file, resolved)) = queue.pop() {
            let file = if resolved { file } else { self.physical(&file) };
            if out.contains(&file) || budget == 0 {
                continue;
            }
            budget -= 1;
            if let Some(text) = self.config_text(&file) {
                for include in gitconfig::HookFacts::of(&text).includes() {
                    if let Some(p) =
                        gitconfig::include_target(include, &file, self.cx.home.as_deref())
                    {
                        queue.push((p, false));
                    }
                }
            }
            out.push(file);
        }
        self.config_files.borrow_mut().insert(key, out.clone());
        out
    }

    /// Whether `p` is a file git reads as configuration: a repository's `config`, the user's
    /// or the system's, or one they include.
    pub fn is_git_config_file(
        &self,
        p: &Path,
        repo: Option<&Path>,
        cwd: &Path,
        world: &dyn World,
    ) -> bool {
        let name = p.file_name().and_then(OsStr::to_str).unwrap_or("");
        if matches!(name, "config" | "config.worktree") && p.iter().any(|part| part == ".git") {
            return true;
        }
        if self.config_files(repo).iter().any(|f| f == p) {
            return true;
        }
        let cwd_repo = world.repository_root(cwd);
        cwd_repo.as_deref() != repo
            && self
                .config_files(cwd_repo.as_deref())
                .iter()
                .any(|f| f == p)
    }
}

/// A path component as the file system compares it: case-insensitively on macOS and Windows.
fn folded(part: &OsStr) -> String {
    let text = part.to_string_lossy();
    if cfg!(any(target_os = "macos", windows)) {
        text.to_ascii_lowercase()
    } else {
        text.into_owned()
    }
}

/// A hook file outside `.git/hooks` (`core.hooksPath`, husky's `.husky/<hook>`) that runs
/// hookledger, or the hook it chained. Only files with a hook's name are read, and only their
/// head: this runs on tool calls.
pub fn is_hookledger_git_hook(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name
        .strip_suffix(crate::repo::CHAINED_SUFFIX)
        .unwrap_or(name);
    if !crate::repo::HOOKS.contains(&name) {
        return false;
    }
    if path
        .to_string_lossy()
        .ends_with(crate::repo::CHAINED_SUFFIX)
    {
        return true;
    }
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .is_ok()
        && memchr::memmem::find(&head, b"hookledger git ").is_some()
}

/// Whether hookledger's commit gate is installed for the repository at `root` (a shim in the
/// hooks directory git uses, or husky's block).
pub fn commit_gate_installed(root: &Path, home: Option<&Path>) -> bool {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(git_dir) = gitconfig::git_dir_of(root) {
        let common = std::fs::read_to_string(git_dir.join("commondir"))
            .map(|c| git_dir.join(c.trim()))
            .unwrap_or(git_dir);
        dirs.push(common.join("hooks"));
    }
    let mut files = gitconfig::global_files(home);
    files.extend(gitconfig::repository_files(root));
    for file in files {
        if let Some(text) = gitconfig::read_small(&file)
            && let Some(dir) = gitconfig::HookFacts::of(&text).hooks_path()
        {
            let named = paths::expand_home(dir, home).unwrap_or_else(|| root.join(dir));
            dirs.push(named);
        }
    }
    dirs.push(root.join(".husky"));
    dirs.iter().any(|d| {
        ["pre-commit", "commit-msg"]
            .iter()
            .any(|h| is_hookledger_git_hook(&d.join(h)))
    })
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(unix)]
fn nlink(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.nlink()
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> FileId {
    (0, 0)
}

#[cfg(not(unix))]
fn nlink(_: &std::fs::Metadata) -> u64 {
    1
}
