/*!
Installing hookledger's git hook shims beside whatever hooks a repository already has.

Where hooks go is where git looks: `core.hooksPath` when set (relative to the working tree),
else `<common git dir>/hooks`. A hook already there is kept and chained: it moves to
`<hook>.hookledger-chained` and the shim runs it first (the pre-commit framework's and
lefthook's generated hooks keep working this way). Husky (`core.hooksPath` = `.husky/_`)
regenerates that directory on every `npm install`, so there the shim is a marked block in the
user's `.husky/<hook>` script instead. Installing twice changes nothing; uninstalling restores
what was there.
*/

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::repo::{GitError, Repo};

pub use hookledger_policy::repo::{CHAINED_SUFFIX, HOOKS};
const BLOCK_START: &str = "# >>> hookledger git provenance (hookledger git install) >>>";
const BLOCK_END: &str = "# <<< hookledger git provenance <<<";

fn shim(hook: &str) -> &'static str {
    match hook {
        "pre-commit" => include_str!("../../hooks/pre-commit"),
        "commit-msg" => include_str!("../../hooks/commit-msg"),
        "post-commit" => include_str!("../../hooks/post-commit"),
        _ => include_str!("../../hooks/post-rewrite"),
    }
}

/// The text every hookledger hook file contains (what `doctor` looks for).
pub fn marker(hook: &str) -> String {
    format!("hookledger git {hook}")
}

#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} exists already, beside a foreign hook: move one of them away and run install again"
    )]
    ChainTaken(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HooksError + '_ {
    move |source| HooksError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Which layout the repository's hooks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Files in the hooks directory (`.git/hooks` or `core.hooksPath`).
    Files,
    /// Husky: blocks in `.husky/<hook>` scripts.
    Husky,
}

#[derive(Debug, Clone)]
pub struct HookDir {
    pub dir: PathBuf,
    pub layout: Layout,
    /// Another tool's hooks were found there (`pre-commit`, `lefthook`, `husky`).
    pub manager: Option<&'static str>,
}

/// Where git runs hooks from for this repository, and in which layout hookledger installs.
pub fn hook_dir(repo: &Repo) -> HookDir {
    let configured = repo.config("core.hooksPath").map(|p| {
        let path = PathBuf::from(&p);
        if path.is_absolute() {
            path
        } else if let Some(rest) = p.strip_prefix("~/") {
            crate::config::user_home().unwrap_or_default().join(rest)
        } else {
            repo.root.join(path)
        }
    });
    let dir = configured.unwrap_or_else(|| repo.common_dir.join("hooks"));
    let husky = dir.file_name().is_some_and(|n| n == "_")
        && dir
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ".husky");
    if husky {
        let scripts = dir.parent().map(Path::to_path_buf).unwrap_or(dir);
        return HookDir {
            dir: scripts,
            layout: Layout::Husky,
            manager: Some("husky"),
        };
    }
    let manager = HOOKS.iter().find_map(|hook| {
        let text = std::fs::read_to_string(dir.join(hook)).ok()?;
        if text.contains("pre-commit.com") || text.contains("pre_commit") {
            Some("pre-commit")
        } else if text.contains("lefthook") {
            Some("lefthook")
        } else {
            None
        }
    });
    HookDir {
        dir,
        layout: Layout::Files,
        manager,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HookStatus {
    pub hook: &'static str,
    pub path: PathBuf,
    /// hookledger's shim (or block) is in the file.
    pub installed: bool,
    /// git will run it: installed, executable, and where git looks.
    pub active: bool,
    /// The hook that was there before and still runs first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn make_executable(path: &Path) -> Result<(), HooksError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(io(path))?
            .permissions()
            .mode();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o755))
            .map_err(io(path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// For each of the four hooks: is hookledger's shim installed, and will git run it?
pub fn status(repo_path: &Path) -> Result<Vec<HookStatus>, HooksError> {
    let repo = Repo::discover(repo_path)?;
    let hooks = hook_dir(&repo);
    Ok(HOOKS
        .iter()
        .map(|hook| {
            let path = hooks.dir.join(hook);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let installed = text.contains(&marker(hook));
            let executable = is_executable(&path);
            let chained = PathBuf::from(format!("{}{CHAINED_SUFFIX}", path.display()));
            let problem = if installed && !executable {
                Some(format!("{} is not executable", path.display()))
            } else if !installed && text.is_empty() {
                Some("not installed (run `hookledger git install`)".to_owned())
            } else if !installed {
                Some(format!(
                    "{} is another tool's hook and does not run hookledger (run `hookledger git install`)",
                    path.display()
                ))
            } else {
                None
            };
            HookStatus {
                hook,
                active: installed && executable,
                chained: chained.exists().then_some(chained),
                path,
                installed,
                problem,
            }
        })
        .collect())
}

/// What one install or uninstall did to one hook.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Action {
    pub hook: &'static str,
    pub path: PathBuf,
    /// `installed`, `chained`, `unchanged`, `removed`, `restored`, `absent`.
    pub action: &'static str,
}

pub fn install(repo: &Repo) -> Result<(HookDir, Vec<Action>), HooksError> {
    let hooks = hook_dir(repo);
    std::fs::create_dir_all(&hooks.dir).map_err(io(&hooks.dir))?;
    let mut actions = Vec::new();
    for hook in HOOKS {
        let path = hooks.dir.join(hook);
        let action = match hooks.layout {
            Layout::Husky => install_block(&path, hook)?,
            Layout::Files => install_file(&path, hook)?,
        };
        actions.push(Action { hook, path, action });
    }
    Ok((hooks, actions))
}

fn install_file(path: &Path, hook: &'static str) -> Result<&'static str, HooksError> {
    let wanted = shim(hook);
    let chained = PathBuf::from(format!("{}{CHAINED_SUFFIX}", path.display()));
    let action = match std::fs::read_to_string(path) {
        Ok(text) if text == wanted => {
            if is_executable(path) {
                return Ok("unchanged");
            }
            "installed"
        }
        Ok(text) if text.contains(&marker(hook)) => "installed",
        Ok(_) => {
            if chained.exists() {
                return Err(HooksError::ChainTaken(chained));
            }
            std::fs::rename(path, &chained).map_err(io(path))?;
            "chained"
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is not followed: replace it.
            let _ = std::fs::remove_file(path);
            "installed"
        }
        Err(e) => return Err(io(path)(e)),
    };
    std::fs::write(path, wanted).map_err(io(path))?;
    make_executable(path)?;
    Ok(action)
}

fn block(hook: &str) -> String {
    let missing = format!(
        "echo \"hookledger: the git {hook} hook cannot run: no hookledger binary on PATH (install it, or run 'hookledger git uninstall')\" >&2"
    );
    if hook == "post-rewrite" {
        // First in the script: it reads the rewritten commits from stdin, then hands the same
        // lines to the rest of the script as its stdin.
        return format!(
            "{BLOCK_START}\nhookledger_rewritten=$(cat)\nif command -v hookledger >/dev/null 2>&1; then\n    printf '%s\\n' \"$hookledger_rewritten\" | hookledger git {hook} \"$@\"\nelse\n    {missing}\nfi\nexec <<HOOKLEDGER_REWRITTEN\n$hookledger_rewritten\nHOOKLEDGER_REWRITTEN\n{BLOCK_END}\n"
        );
    }
    format!(
        "{BLOCK_START}\nif command -v hookledger >/dev/null 2>&1; then\n    hookledger git {hook} \"$@\" || exit $?\nelse\n    {missing}\n    exit 1\nfi\n{BLOCK_END}\n"
    )
}

fn install_block(path: &Path, hook: &'static str) -> Result<&'static str, HooksError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(path)(e)),
    };
    let (without, had) = strip_block(&text);
    let mut updated = if without.trim().is_empty() {
        "#!/bin/sh\n".to_owned()
    } else {
        without.clone()
    };
    if !updated.ends_with('\n') {
        updated.push('\n');
    }
    if hook == "post-rewrite" {
        // After a shebang line, before everything else.
        let at = if updated.starts_with("#!") {
            updated.find('\n').map_or(updated.len(), |i| i + 1)
        } else {
            0
        };
        updated.insert_str(at, &block(hook));
    } else {
        updated.push_str(&block(hook));
    }
    if updated == text && is_executable(path) {
        return Ok("unchanged");
    }
    std::fs::write(path, &updated).map_err(io(path))?;
    make_executable(path)?;
    Ok(if had { "unchanged" } else { "installed" })
}

/// The text without hookledger's block, and whether there was one.
fn strip_block(text: &str) -> (String, bool) {
    let (Some(start), Some(end)) = (text.find(BLOCK_START), text.find(BLOCK_END)) else {
        return (text.to_owned(), false);
    };
    if end < start {
        return (text.to_owned(), false);
    }
    let after = text[end + BLOCK_END.len()..].trim_start_matches('\n');
    (format!("{}{after}", &text[..start]), true)
}

pub fn uninstall(repo: &Repo) -> Result<(HookDir, Vec<Action>), HooksError> {
    let hooks = hook_dir(repo);
    let mut actions = Vec::new();
    for hook in HOOKS {
        let path = hooks.dir.join(hook);
        let action = match hooks.layout {
            Layout::Husky => uninstall_block(&path)?,
            Layout::Files => uninstall_file(&path, hook)?,
        };
        actions.push(Action { hook, path, action });
    }
    Ok((hooks, actions))
}

fn uninstall_file(path: &Path, hook: &str) -> Result<&'static str, HooksError> {
    let chained = PathBuf::from(format!("{}{CHAINED_SUFFIX}", path.display()));
    let ours = std::fs::read_to_string(path).is_ok_and(|t| t.contains(&marker(hook)));
    if !ours {
        return Ok("absent");
    }
    if chained.exists() {
        std::fs::rename(&chained, path).map_err(io(path))?;
        Ok("restored")
    } else {
        std::fs::remove_file(path).map_err(io(path))?;
        Ok("removed")
    }
}

fn uninstall_block(path: &Path) -> Result<&'static str, HooksError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok("absent");
    };
    let (without, had) = strip_block(&text);
    if !had {
        return Ok("absent");
    }
    if without.trim() == "#!/bin/sh" || without.trim().is_empty() {
        std::fs::remove_file(path).map_err(io(path))?;
    } else {
        std::fs::write(path, without).map_err(io(path))?;
    }
    Ok("removed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shim_names_its_hook_and_blocks_come_out_cleanly() {
        for hook in HOOKS {
            assert!(shim(hook).contains(&marker(hook)), "{hook}");
            assert!(shim(hook).starts_with("#!/bin/sh\n"));
            assert!(block(hook).contains(&marker(hook)));
        }
        let user = "#!/bin/sh\nnpx lint-staged\n";
        let with = format!("{user}{}", block("pre-commit"));
        assert_eq!(strip_block(&with), (user.to_owned(), true));
        assert_eq!(strip_block(user), (user.to_owned(), false));
    }
}
