/*!
Where hookledger keeps its files, and facts about the machine it records.

`HOOKLEDGER_HOME` overrides the data directory (tests, packaging, per-user relocation); without
it the platform data dir from `directories` is used (`~/.local/share/hookledger` on Linux).

[`claude`] knows Claude Code's settings files; [`install`] edits them.
*/

pub mod claude;
pub mod install;
pub use hookledger_policy::protected;

use std::path::{Path, PathBuf};

pub use hookledger_ledger::host::{host_name, os_user};
pub use hookledger_ledger::{HOME_ENV, LEDGER_FILE};
pub use hookledger_policy::places::{claude_config_dir, rooted, user_home};

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

/// Directories (a `PATH`-style list) that `doctor` and `install` treat as temporary, instead of
/// `$TMPDIR`, `/tmp`, `/var/tmp` and `/dev/shm`: for systems whose scratch space lives elsewhere.
pub const TEMP_DIRS_ENV: &str = "HOOKLEDGER_TEMP_DIRS";

/// Why a binary at `path` would not stay where it is, if it would not: Claude Code runs hooks
/// by absolute path, and a registration that points at a file that later disappears or changes
/// under it silently disables the gate.
pub fn volatile_location(path: &Path) -> Option<&'static str> {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    let in_cargo_profile_dir = parts
        .windows(2)
        .any(|w| w[0] == "target" && (w[1] == "debug" || w[1] == "release"))
        || parts
            .windows(3)
            .any(|w| w[0] == "target" && (w[2] == "debug" || w[2] == "release"));
    if in_cargo_profile_dir {
        return Some(
            "a cargo build directory, which the next `cargo build` or `cargo clean` replaces",
        );
    }
    let physical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let temp_dirs: Vec<PathBuf> = match std::env::var_os(TEMP_DIRS_ENV) {
        Some(list) => std::env::split_paths(&list).collect(),
        None => {
            let mut dirs = vec![std::env::temp_dir()];
            if cfg!(unix) {
                dirs.extend(["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from));
            }
            dirs
        }
    };
    let is_temporary = temp_dirs.iter().any(|dir| {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        physical.starts_with(&dir) || path.starts_with(&dir)
    });
    is_temporary
        .then_some("a temporary directory, which is cleaned up at reboot or by tmp cleaners")
}

/// Whether `path` is a regular file this process may execute.
pub fn is_executable_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The first line `program --version` prints, within `timeout`. The program is killed when it
/// takes longer (a wedged CLI must not hang `doctor`).
pub fn version_output(program: &Path, timeout: std::time::Duration) -> Result<String, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", timeout.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

/// The effective user id of this process, where the platform shows it without `unsafe`.
#[cfg(unix)]
pub fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(unix))]
pub fn effective_uid() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooted_reanchors_absolute_paths() {
        let root = Path::new("/tmp/r");
        assert_eq!(
            rooted(Some(root), Path::new("/etc/claude-code")),
            root.join("etc/claude-code")
        );
        assert_eq!(
            rooted(None, Path::new("/etc/claude-code")),
            Path::new("/etc/claude-code")
        );
    }

    #[test]
    fn build_and_temp_directories_are_volatile() {
        assert!(volatile_location(Path::new("/src/x/target/debug/hookledger")).is_some());
        assert!(
            volatile_location(Path::new(
                "/src/x/target/x86_64-unknown-linux-gnu/release/hookledger"
            ))
            .is_some()
        );
        assert!(volatile_location(&std::env::temp_dir().join("a/hookledger")).is_some());
        assert!(volatile_location(Path::new("/usr/local/bin/hookledger")).is_none());
        // Cargo's scratch space for integration tests is not a profile directory.
        assert!(volatile_location(Path::new("/src/x/target/tmp/p/bin/hookledger")).is_none());
    }
}
