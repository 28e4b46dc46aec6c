/*!
Where hookledger keeps its files, and facts about the machine it records.

`HOOKLEDGER_HOME` overrides the data directory (tests, packaging, per-user relocation); without
it the platform data dir from `directories` is used (`~/.local/share/hookledger` on Linux).
*/

use std::path::{Path, PathBuf};

pub const HOME_ENV: &str = "HOOKLEDGER_HOME";
pub const LEDGER_FILE: &str = "ledger.db";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot find a data directory for hookledger; set {HOME_ENV}")]
    NoDataDir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub home: PathBuf,
}

impl Paths {
    pub fn from_env() -> Result<Self, ConfigError> {
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
            return Ok(Paths {
                home: PathBuf::from(home),
            });
        }
        directories::ProjectDirs::from("", "", "hookledger")
            .map(|dirs| Paths {
                home: dirs.data_dir().to_owned(),
            })
            .ok_or(ConfigError::NoDataDir)
    }

    pub fn ledger(&self) -> PathBuf {
        self.home.join(LEDGER_FILE)
    }
}

/// The ledger a reading command works on: `--ledger` if given, else the default.
pub fn ledger_path(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    match explicit {
        Some(path) => Ok(path.to_owned()),
        None => Ok(Paths::from_env()?.ledger()),
    }
}

pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

pub fn os_user() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(unix_user_name)
}

#[cfg(unix)]
fn unix_user_name() -> Option<String> {
    // Hook processes may run with a scrubbed environment; fall back to the uid.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .ok()
        .map(|m| format!("uid:{}", m.uid()))
}

#[cfg(not(unix))]
fn unix_user_name() -> Option<String> {
    None
}

/// The user's home directory, for `~` in paths.
pub fn user_home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_owned())
}
