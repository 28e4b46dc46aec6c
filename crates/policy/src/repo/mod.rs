/*!
Repository facts the gate and the recorder need on every call: where a path's repository root
is, its remotes as git would use them (after `insteadOf`), its default push remote, and (once
per session) a description of the repository. Finding the root walks up the directory tree
looking for `.git` and never spawns git.

The names of the git hooks hookledger installs live here too: the protected set needs them,
and the installer (in the CLI crate) writes them.
*/

mod remote;
mod remote_cache;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::Serialize;

pub use remote::normalize_remote_url;

/// The git hooks hookledger installs.
pub const HOOKS: [&str; 4] = ["pre-commit", "commit-msg", "post-commit", "post-rewrite"];
/// The suffix of a pre-existing hook that hookledger's shim chains to.
pub const CHAINED_SUFFIX: &str = ".hookledger-chained";

/// The root of the working tree containing `path`, if any (a `.git` directory or file marks it).
pub fn repository_root(path: &Path) -> Option<PathBuf> {
    let is_dir = crate::paths::followed_kind(path) == Some(crate::world::FileKind::Dir);
    let mut dir = if is_dir { Some(path) } else { path.parent() };
    while let Some(candidate) = dir {
        if crate::paths::followed_kind(&candidate.join(".git")).is_some() {
            return Some(candidate.to_owned());
        }
        dir = candidate.parent();
    }
    None
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Remote {
    pub name: String,
    /// The effective URL, after `insteadOf`.
    pub url: String,
    /// Host and path with scheme, credentials, port, `.git` and trailing `/` removed.
    pub normalized: String,
    /// Push URLs when they differ from the fetch URL (after `pushInsteadOf`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub push_urls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct RepositoryInfo {
    pub root: String,
    pub remotes: Vec<Remote>,
    pub branch: Option<String>,
    pub head: Option<String>,
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn lines(text: Option<String>) -> Vec<String> {
    text.map(|t| {
        t.lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

pub fn describe(root: &Path) -> RepositoryInfo {
    let branch = git(root, &["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let head = git(root, &["rev-parse", "--verify", "--quiet", "HEAD"]);
    let remotes = lines(git(root, &["remote"]))
        .into_iter()
        .filter_map(|name| {
            let url = lines(git(root, &["remote", "get-url", &name]))
                .into_iter()
                .next()?;
            let push_urls: Vec<String> =
                lines(git(root, &["remote", "get-url", "--push", "--all", &name]))
                    .into_iter()
                    .filter(|push| *push != url)
                    .collect();
            Some(Remote {
                normalized: normalize_remote_url(&url),
                name,
                url,
                push_urls,
            })
        })
        .collect();
    RepositoryInfo {
        root: root.display().to_string(),
        remotes,
        branch,
        head,
    }
}

/// Every remote URL of the repository at `root` as git would use it (fetch and push, after
/// `insteadOf`/`pushInsteadOf`), normalized. One `git config` call, or none where the hook
/// remembers the answer (`remember_remotes_in`): this runs on tool calls.
pub fn effective_remote_urls(root: &Path) -> Vec<String> {
    effective_remote_urls_of(root, None)
}

/// Like [`effective_remote_urls`], for one named remote only (`None`: every remote). Empty
/// when no such remote is configured.
pub fn effective_remote_urls_of(root: &Path, remote: Option<&str>) -> Vec<String> {
    let cache = REMOTE_CACHE_DIR.get();
    if let Some(dir) = cache
        && let Some(resolved) = remote_cache::lookup(dir, root)
    {
        return pick(resolved, remote);
    }
    let before = cache.and_then(|_| remote_cache::before(root));
    let Some(listing) = config_listing(root) else {
        return Vec::new();
    };
    let config: remote_cache::Entries = listing
        .iter()
        .filter(|l| is_remote_setting(&l.key))
        .map(|l| (l.key.clone(), l.value.clone()))
        .collect();
    if let (Some(dir), Some(before)) = (cache, before) {
        let mut names: Vec<&str> = config.iter().filter_map(|(k, _)| remote_name(k)).collect();
        names.sort_unstable();
        names.dedup();
        let resolved: remote_cache::Resolved = std::iter::once(None)
            .chain(names.into_iter().map(Some))
            .map(|name| (name.map(str::to_owned), resolve_urls(&config, name)))
            .collect();
        remote_cache::store(dir, root, &before, &listing, resolved.clone());
        return pick(resolved, remote);
    }
    resolve_urls(&config, remote)
}

/// The URLs of `remote` (`None`: all) from every remote's: one that is not configured has none.
fn pick(resolved: remote_cache::Resolved, remote: Option<&str>) -> Vec<String> {
    resolved
        .into_iter()
        .find(|(name, _)| name.as_deref() == remote)
        .map(|(_, urls)| urls)
        .unwrap_or_default()
}

/// The normalized URLs git would use for `remote` (`None`: every remote) given its remote
/// settings.
fn resolve_urls(config: &remote_cache::Entries, remote: Option<&str>) -> Vec<String> {
    let mut fetch_urls = Vec::new();
    let mut push_urls = Vec::new();
    let mut instead_of: Vec<(String, String)> = Vec::new();
    let mut push_instead_of: Vec<(String, String)> = Vec::new();
    for (key, value) in config {
        let key_lower = key.to_ascii_lowercase();
        if let Some(name) = remote.filter(|_| key_lower.starts_with("remote."))
            && remote_name(key) != Some(name)
        {
            continue;
        }
        if key_lower.starts_with("remote.") && key_lower.ends_with(".pushurl") {
            push_urls.push(value.to_owned());
        } else if key_lower.starts_with("remote.") && key_lower.ends_with(".url") {
            fetch_urls.push(value.to_owned());
        } else if let Some(base) = key.strip_prefix("url.") {
            if let Some(base) = base
                .strip_suffix(".insteadof")
                .or_else(|| base.strip_suffix(".insteadOf"))
            {
                instead_of.push((value.to_owned(), base.to_owned()));
            } else if let Some(base) = base
                .strip_suffix(".pushinsteadof")
                .or_else(|| base.strip_suffix(".pushInsteadOf"))
            {
                push_instead_of.push((value.to_owned(), base.to_owned()));
            }
        }
    }
    // git picks the longest matching prefix.
    let rewrite = |url: &str, rules: &[(String, String)]| -> Option<String> {
        rules
            .iter()
            .filter(|(prefix, _)| url.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(prefix, base)| format!("{base}{}", &url[prefix.len()..]))
    };
    let mut out = Vec::new();
    for url in &fetch_urls {
        out.push(rewrite(url, &instead_of).unwrap_or_else(|| url.clone()));
        // Without a pushurl, pushes go to the url after pushInsteadOf (or insteadOf).
        out.extend(rewrite(url, &push_instead_of));
    }
    for url in &push_urls {
        out.push(rewrite(url, &instead_of).unwrap_or_else(|| url.clone()));
    }
    let mut normalized: Vec<String> = out.iter().map(|u| normalize_remote_url(u)).collect();
    normalized.sort();
    normalized.dedup();
    normalized
}

/// Where remote lookups are remembered across processes (the hook's directory); unset, every
/// lookup asks git.
static REMOTE_CACHE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Remember remote lookups in `dir` (see `remote_cache`): the hook calls this once at start.
pub fn remember_remotes_in(dir: PathBuf) {
    let _ = REMOTE_CACHE_DIR.set(dir);
}

/// Every configuration value git would use for the repository at `root`, with the file it
/// comes from: one `git config` call.
fn config_listing(root: &Path) -> Option<Vec<remote_cache::Listed>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["config", "--list", "--show-origin", "-z"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(remote_cache::parse_listing(&output.stdout, root))
}

/// `remote.<name>.url`, `remote.<name>.pushurl`, `url.<base>.insteadof`,
/// `url.<base>.pushinsteadof` (section and key are case-insensitive).
fn is_remote_setting(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    (lower.starts_with("remote.") && (lower.ends_with(".url") || lower.ends_with(".pushurl")))
        || (lower.starts_with("url.")
            && (lower.ends_with(".insteadof") || lower.ends_with(".pushinsteadof")))
}

/// The remote a `remote.<name>.url`/`.pushurl` key belongs to (names may hold dots).
fn remote_name(key: &str) -> Option<&str> {
    let rest = key.get("remote.".len()..)?;
    let (name, last) = rest.rsplit_once('.')?;
    matches!(last.to_ascii_lowercase().as_str(), "url" | "pushurl").then_some(name)
}

/// The remote a `git push` (or fetch) without a remote operand uses: the branch's push remote
/// or upstream. `None` when the branch has none (git then uses `origin`).
pub fn default_remote(root: &Path, push: bool) -> Option<String> {
    let spec = if push { "@{push}" } else { "@{upstream}" };
    let out = git(
        root,
        &["rev-parse", "--abbrev-ref", "--symbolic-full-name", spec],
    )?;
    let upstream = out.trim();
    upstream
        .split_once('/')
        .map(|(remote, _)| remote.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_may_hold_dots_and_settings_are_recognized_in_any_case() {
        assert_eq!(remote_name("remote.origin.url"), Some("origin"));
        assert_eq!(remote_name("remote.my.fork.pushurl"), Some("my.fork"));
        assert_eq!(remote_name("remote.origin.fetch"), None);
        assert!(is_remote_setting("url.git@github.com:Acme/.insteadOf"));
        assert!(is_remote_setting("remote.a.b.PushUrl"));
        assert!(!is_remote_setting("remote.origin.fetch"));
    }

    #[test]
    fn urls_resolve_per_remote_with_rewrites_and_without_credentials() {
        let config: remote_cache::Entries = vec![
            ("remote.origin.url".into(), "corp:widgets".into()),
            (
                "remote.fork.url".into(),
                "https://u:tok@gitlab.com/x/y.git".into(),
            ),
            ("url.git@github.com:Acme/.insteadof".into(), "corp:".into()),
        ];
        assert_eq!(
            resolve_urls(&config, Some("origin")),
            vec!["github.com/Acme/widgets".to_owned()]
        );
        assert_eq!(
            resolve_urls(&config, Some("fork")),
            vec!["gitlab.com/x/y".to_owned()]
        );
        assert_eq!(resolve_urls(&config, None).len(), 2);
        assert!(resolve_urls(&config, Some("none")).is_empty());
    }
}
