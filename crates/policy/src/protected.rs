/*!
What self-protection covers, listed once.

The hook's evaluator refuses tool calls that touch these (and resolves each to the concrete
path of this machine and session); `install --sandbox` writes the ones a Claude Code sandbox
path can name into managed settings, so a Bash command the analysis cannot see through is
still stopped by the OS. Each entry says where it is anchored: an absolute path, a path under
the home directory of whoever runs Claude Code (a managed install does not know who that is:
`~/` is expanded by Claude Code per user), or a path under the project.
*/

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Where a protected path is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "anchor", content = "path", rename_all = "kebab-case")]
pub enum Anchor {
    Absolute(PathBuf),
    /// Relative to the home directory of the user running Claude Code.
    Home(PathBuf),
    /// Relative to the project (the directory Claude Code starts in, or a repository root).
    Project(PathBuf),
}

impl Anchor {
    /// The spelling Claude Code's sandbox settings and permission rules take: `/abs`, `~/rel`,
    /// or `rel` (relative to the start directory, permission rules only).
    pub fn spelling(&self) -> String {
        match self {
            Anchor::Absolute(p) => p.display().to_string(),
            Anchor::Home(p) => format!("~/{}", p.display()),
            Anchor::Project(p) => p.display().to_string(),
        }
    }

    /// The concrete path for one user and project, when it can be known.
    pub fn resolve(&self, home: Option<&Path>, project: Option<&Path>) -> Option<PathBuf> {
        match self {
            Anchor::Absolute(p) => Some(p.clone()),
            Anchor::Home(p) => home.map(|h| h.join(p)),
            Anchor::Project(p) => project.map(|d| d.join(p)),
        }
    }

    pub fn join(&self, rest: impl AsRef<Path>) -> Anchor {
        let rest = rest.as_ref();
        match self {
            Anchor::Absolute(p) => Anchor::Absolute(p.join(rest)),
            Anchor::Home(p) => Anchor::Home(p.join(rest)),
            Anchor::Project(p) => Anchor::Project(p.join(rest)),
        }
    }
}

/// One protected thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protected {
    /// Stable kebab-case name (`hookledger-home`, `signing-keys`, …).
    pub what: &'static str,
    #[serde(flatten)]
    pub anchor: Anchor,
    /// Reads are refused too (the signing keys).
    pub deny_read: bool,
}

/// What the protected set is built from.
#[derive(Debug, Clone)]
pub struct ProtectedContext {
    /// hookledger's data directory (ledger, spool, keys, user policy).
    pub hookledger_home: Anchor,
    /// Where the managed policy lives (`/etc/hookledger`).
    pub managed_policy_dir: PathBuf,
    /// The hookledger binary the hooks run, when known.
    pub binary: Option<PathBuf>,
    /// Claude Code's managed settings directory (`/etc/claude-code`).
    pub managed_settings_dir: PathBuf,
    /// Claude Code's user directory (`~/.claude`, or `$CLAUDE_CONFIG_DIR`).
    pub claude_config_dir: Anchor,
}

impl ProtectedContext {
    /// For a managed install: the default per-user locations, spelled under `~/`, since the
    /// install cannot know who will run Claude Code.
    pub fn managed(root: Option<&Path>, binary: Option<PathBuf>) -> Self {
        let platform = crate::places::Platform::current();
        ProtectedContext {
            hookledger_home: Anchor::Home(default_home_relative()),
            managed_policy_dir: crate::file::managed_dir_under(root),
            binary,
            managed_settings_dir: platform.managed_settings_dir(root),
            claude_config_dir: Anchor::Home(PathBuf::from(".claude")),
        }
    }

    /// For this process: the directories it actually uses.
    pub fn current(hookledger_home: &Path, binary: Option<PathBuf>) -> Self {
        let platform = crate::places::Platform::current();
        ProtectedContext {
            hookledger_home: Anchor::Absolute(hookledger_home.to_owned()),
            managed_policy_dir: crate::file::managed_dir().0,
            binary,
            managed_settings_dir: platform.managed_settings_dir(None),
            claude_config_dir: crate::places::claude_config_dir()
                .map_or_else(|| Anchor::Home(PathBuf::from(".claude")), Anchor::Absolute),
        }
    }
}

/// hookledger's default data directory relative to the home directory, as `directories`
/// places it on this platform.
pub fn default_home_relative() -> PathBuf {
    if cfg!(target_os = "macos") {
        PathBuf::from("Library/Application Support/hookledger")
    } else if cfg!(windows) {
        PathBuf::from(r"AppData\Roaming\hookledger\data")
    } else {
        PathBuf::from(".local/share/hookledger")
    }
}

/// Claude Code's extension points under its user and project directories: what runs (skills,
/// commands, agents, hooks, plugins, mods, shell snapshots) and what model attribution is read
/// from (session transcripts under `projects/`).
pub const CLAUDE_EXTENSION_DIRS: &[&str] = &[
    "skills",
    "commands",
    "agents",
    "hooks",
    "plugins",
    "dev-mods",
    "shell-snapshots",
    "projects",
];

/// The protected set, most specific first within each group.
pub fn protected_set(ctx: &ProtectedContext) -> Vec<Protected> {
    let entry = |what, anchor, deny_read| Protected {
        what,
        anchor,
        deny_read,
    };
    let mut set = vec![
        // Wherever the ledger module puts the keys beside a ledger in the home directory.
        entry(
            "signing-keys",
            ctx.hookledger_home
                .join(hookledger_ledger::keys::key_dir(Path::new(
                    hookledger_ledger::LEDGER_FILE,
                ))),
            true,
        ),
        entry("hookledger-home", ctx.hookledger_home.clone(), false),
        entry(
            "managed-policy",
            Anchor::Absolute(ctx.managed_policy_dir.clone()),
            false,
        ),
    ];
    if let Some(binary) = &ctx.binary {
        set.push(entry(
            "hookledger-binary",
            Anchor::Absolute(binary.clone()),
            false,
        ));
    }
    set.push(entry(
        "claude-managed-settings",
        Anchor::Absolute(ctx.managed_settings_dir.clone()),
        false,
    ));
    for file in [
        crate::places::SETTINGS_FILE,
        crate::places::LOCAL_SETTINGS_FILE,
    ] {
        set.push(entry(
            "claude-user-settings",
            ctx.claude_config_dir.join(file),
            false,
        ));
    }
    for dir in CLAUDE_EXTENSION_DIRS {
        set.push(entry(
            "claude-user-extensions",
            ctx.claude_config_dir.join(dir),
            false,
        ));
    }
    // Claude Code's global configuration registers MCP servers, which run with the user's
    // rights: `~/.claude.json` beside `~/.claude`, or inside `CLAUDE_CONFIG_DIR`.
    let global_config = match &ctx.claude_config_dir {
        Anchor::Home(dir) => Anchor::Home(dir.with_file_name(".claude.json")),
        other => other.join(".claude.json"),
    };
    set.push(entry("claude-global-config", global_config, false));
    let project_claude = Anchor::Project(PathBuf::from(".claude"));
    for file in [
        crate::places::SETTINGS_FILE,
        crate::places::LOCAL_SETTINGS_FILE,
    ] {
        set.push(entry(
            "claude-project-settings",
            project_claude.join(file),
            false,
        ));
    }
    for dir in CLAUDE_EXTENSION_DIRS
        .iter()
        .filter(|d| !matches!(**d, "shell-snapshots" | "projects"))
    {
        set.push(entry(
            "claude-project-extensions",
            project_claude.join(dir),
            false,
        ));
    }
    for dir in [".git/hooks", ".husky"] {
        set.push(entry(
            "git-hooks",
            Anchor::Project(PathBuf::from(dir)),
            false,
        ));
    }
    set.push(entry(
        "git-config",
        Anchor::Project(PathBuf::from(".git/config")),
        false,
    ));
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_managed_set_names_per_user_paths_under_home() {
        let ctx = ProtectedContext::managed(
            Some(Path::new("/stage")),
            Some(PathBuf::from("/usr/local/bin/hookledger")),
        );
        let set = protected_set(&ctx);
        let keys = set.iter().find(|p| p.what == "signing-keys").unwrap();
        assert!(keys.deny_read);
        if cfg!(target_os = "linux") {
            assert_eq!(keys.anchor.spelling(), "~/.local/share/hookledger/keys");
            assert!(set.iter().any(|p| p.what == "managed-policy"
                && p.anchor == Anchor::Absolute(PathBuf::from("/stage/etc/hookledger"))));
        }
        assert!(
            set.iter()
                .any(|p| p.anchor.spelling() == "~/.claude/projects")
        );
        assert!(
            set.iter()
                .any(|p| p.anchor.spelling() == "~/.claude/dev-mods")
        );
        assert!(set.iter().any(|p| p.anchor.spelling() == ".claude/skills"));
        assert!(set.iter().any(|p| p.anchor.spelling() == "~/.claude.json"));
        assert!(set.iter().any(|p| p.anchor.spelling() == ".git/hooks"));
        assert_eq!(set.iter().filter(|p| p.deny_read).count(), 1);
        assert_eq!(
            set.iter()
                .find(|p| p.what == "hookledger-binary")
                .map(|p| p.anchor.spelling()),
            Some("/usr/local/bin/hookledger".into())
        );
    }
}
