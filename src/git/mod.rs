/*!
What the ledger records about git repositories: where a path's repository root is, and (at
session start) its remotes, branch and HEAD.

Finding the root walks up the directory tree looking for `.git` and never spawns git: it runs
on every edit. Describing a repository spawns `git`, which applies `insteadOf` rewriting and
reads config the way the user's git does; it runs once per session.
*/

mod remote;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

pub use remote::normalize_remote_url;

/// The root of the working tree containing `path`, if any (a `.git` directory or file marks it).
pub fn repository_root(path: &Path) -> Option<PathBuf> {
    let mut dir = if path.is_dir() {
        Some(path)
    } else {
        path.parent()
    };
    while let Some(candidate) = dir {
        if candidate.join(".git").exists() {
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
