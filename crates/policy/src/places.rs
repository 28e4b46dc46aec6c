/*!
Where things are: the user's home, Claude Code's directories and settings files per platform,
and re-anchoring system paths under a staged root. The protected set and the installer both
need these, so they live below both.
*/

use std::path::{Component, Path, PathBuf};

pub const SETTINGS_FILE: &str = "settings.json";
pub const LOCAL_SETTINGS_FILE: &str = "settings.local.json";
pub const MANAGED_SETTINGS_FILE: &str = "managed-settings.json";
/// Claude Code ≥ 2.1.83 merges `*.json` here, alphabetically, over `managed-settings.json`.
pub const DROP_IN_DIR: &str = "managed-settings.d";

/// The user's home directory, for `~` in paths.
pub fn user_home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_owned())
}

/// Claude Code's own directory: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn claude_config_dir() -> Option<PathBuf> {
    std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| user_home().map(|h| h.join(".claude")))
}

/// `path` re-anchored under `root` when one is given: `/etc/x` under `/tmp/r` is `/tmp/r/etc/x`.
/// Installs into a staged or test root use this for every system path.
pub fn rooted(root: Option<&Path>, path: &Path) -> PathBuf {
    let Some(root) = root else {
        return path.to_owned();
    };
    let relative: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::Prefix(_) | Component::RootDir))
        .collect();
    root.join(relative)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }

    /// Where Claude Code reads file-based managed settings (hooks reference §4.3).
    pub fn managed_settings_dir(self, root: Option<&Path>) -> PathBuf {
        let system = match self {
            Platform::Linux => PathBuf::from("/etc/claude-code"),
            Platform::MacOs => PathBuf::from("/Library/Application Support/ClaudeCode"),
            Platform::Windows => std::env::var_os("ProgramFiles")
                .filter(|_| root.is_none())
                .map_or_else(|| PathBuf::from(r"C:\Program Files"), PathBuf::from)
                .join("ClaudeCode"),
        };
        rooted(root, &system)
    }

    /// The reference documents `managed-settings.d/` for macOS and Linux; on Windows only
    /// `managed-settings.json` is documented, so hookledger merges into that file there.
    pub fn documents_drop_ins(self) -> bool {
        self != Platform::Windows
    }
}
