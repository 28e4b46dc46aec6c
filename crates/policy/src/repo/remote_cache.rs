/*!
The remote configuration of a repository, remembered across hook processes.

With a repository allowlist every tool call needs the repository's remotes as git resolves them
(includes, `insteadOf`), and asking git costs a process start: 10 ms of a 17 ms hook call on
the reference machine, against well under a millisecond for everything else. So the hook keeps
what `git config --list --show-origin` said in its own directory (which no tool may write),
with a signature of every file git read it from: each file's identity, size and times, the
files git would read if they existed (system, global, the repository's), the targets of
`include.path`/`includeIf.*.path`, and the environment that picks them. Any difference and git
is asked again. What is kept is the normalized URLs each remote resolves to (credentials
removed), never the raw settings: a URL with a token in it is not written down. Worktrees and submodules (a `.git` file) and environments that inject
configuration (`GIT_CONFIG_*`, `GIT_DIR`) are never cached: git is asked every time.

A change racing the lookup itself cannot be kept: the signature of the fixed candidates is taken
before and after git runs, and nothing is stored unless both agree.
*/

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bumped when the file's meaning changes: an old file is then a miss.
const VERSION: u32 = 1;
/// Environment variables that inject configuration or move the repository: with any of them
/// set, nothing is cached.
const INJECTING: &[&str] = &[
    "GIT_CONFIG",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_WORK_TREE",
];
/// Environment variables that decide which files git reads or which git runs.
const SELECTING: &[&str] = &["HOME", "XDG_CONFIG_HOME", "PATH", "PREFIX"];

/// What git said, keyed by (name, value) in git's canonical form (`remote.origin.url`).
pub type Entries = Vec<(String, String)>;
/// The normalized URLs of every remote (`None`: all remotes together).
pub type Resolved = Vec<(Option<String>, Vec<String>)>;

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    root: PathBuf,
    watched: Vec<PathBuf>,
    signature: String,
    resolved: Resolved,
}

/// One configuration value as `git config --list --show-origin -z` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The file it came from (resolved against the repository root), `None` for other origins
    /// (command line, standard input, a blob).
    pub file: Option<PathBuf>,
    pub key: String,
    pub value: String,
}

/// Parses `git config --list --show-origin -z` output: `origin NUL key LF value NUL`, a key
/// without a value (a bare boolean) having no LF.
pub fn parse_listing(bytes: &[u8], root: &Path) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut fields = bytes.split(|b| *b == 0);
    while let (Some(origin), Some(entry)) = (fields.next(), fields.next()) {
        let origin = String::from_utf8_lossy(origin);
        let entry = String::from_utf8_lossy(entry);
        let (key, value) = entry.split_once('\n').unwrap_or((&entry, ""));
        let file = origin.strip_prefix("file:").map(|f| root.join(f));
        out.push(Listed {
            file,
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    out
}

/// The remembered entries for `root`, when nothing git would read has changed.
pub fn lookup(dir: &Path, root: &Path) -> Option<Resolved> {
    if !cacheable(root) {
        return None;
    }
    let text = std::fs::read(cache_path(dir, root)).ok()?;
    let file: CacheFile = serde_json::from_slice(&text).ok()?;
    (file.version == VERSION && file.root == root && file.signature == signature(&file.watched))
        .then_some(file.resolved)
}

/// What to watch before git runs, to compare with after.
pub fn before(root: &Path) -> Option<String> {
    cacheable(root).then(|| signature(&fixed_candidates(root)))
}

/// Remembers what the remotes of `root` resolve to, watching every file `listing` came from and every file it
/// includes, unless the fixed candidates changed while git ran (`before`). Failures to write
/// only mean the next call asks git again.
pub fn store(dir: &Path, root: &Path, before: &str, listing: &[Listed], resolved: Resolved) {
    let fixed = fixed_candidates(root);
    if signature(&fixed) != before || listing.iter().any(|l| l.file.is_none()) {
        return;
    }
    let mut watched = fixed;
    for item in listing {
        let Some(file) = &item.file else { continue };
        if !watched.contains(file) {
            watched.push(file.clone());
        }
        let key = item.key.to_ascii_lowercase();
        let includes =
            key == "include.path" || (key.starts_with("includeif.") && key.ends_with(".path"));
        if includes
            && let Some(target) = include_target(file, &item.value)
            && !watched.contains(&target)
        {
            watched.push(target);
        }
    }
    let record = CacheFile {
        version: VERSION,
        root: root.to_path_buf(),
        signature: signature(&watched),
        watched,
        resolved,
    };
    let Ok(text) = serde_json::to_vec(&record) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let path = cache_path(dir, root);
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&temporary, text).is_ok() && std::fs::rename(&temporary, &path).is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
}

/// Whether a lookup for `root` may be cached at all.
fn cacheable(root: &Path) -> bool {
    INJECTING.iter().all(|v| std::env::var_os(v).is_none()) && root.join(".git").is_dir()
}

fn cache_path(dir: &Path, root: &Path) -> PathBuf {
    let digest = blake3::hash(root.as_os_str().as_encoded_bytes());
    dir.join(format!("remotes-{}.json", &digest.to_hex()[..32]))
}

/// Where an include's value points, as git resolves it: `~/` from `HOME`, a relative path from
/// the including file's directory.
fn include_target(including: &Path, value: &str) -> Option<PathBuf> {
    if let Some(rest) = value.strip_prefix("~/") {
        return Some(PathBuf::from(std::env::var_os("HOME")?).join(rest));
    }
    let path = Path::new(value);
    Some(if path.is_absolute() {
        path.to_path_buf()
    } else {
        including.parent()?.join(path)
    })
}

/// The files git reads for the repository at `root` whether or not they exist now: the system
/// file of the `git` that `PATH` finds (and Debian's), the global ones, the repository's, and
/// `HEAD` (an `includeIf "onbranch:"` depends on it).
fn fixed_candidates(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/gitconfig")];
    if let Some(git) = first_git_in_path() {
        // `<prefix>/bin/git` reads `<prefix>/etc/gitconfig`.
        if let Some(prefix) = git.parent().and_then(Path::parent) {
            let system = prefix.join("etc/gitconfig");
            if !files.contains(&system) {
                files.push(system);
            }
        }
        files.push(git);
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        files.push(home.join(".gitconfig"));
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        files.push(xdg.join("git/config"));
    }
    // Not the `.git` directory itself: every `git status` renames a lock file in it.
    let git_dir = root.join(".git");
    files.push(git_dir.join("config"));
    files.push(git_dir.join("config.worktree"));
    files.push(git_dir.join("HEAD"));
    files
}

fn first_git_in_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("git"))
        .find(|candidate| candidate.is_file())
}

/// BLAKE3 of the selecting environment and, for each file, its identity, size and times (or
/// its absence).
fn signature(files: &[PathBuf]) -> String {
    let mut hasher = blake3::Hasher::new();
    for name in SELECTING {
        hasher.update(name.as_bytes());
        if let Some(value) = std::env::var_os(name) {
            hasher.update(b"=");
            hasher.update(value.as_encoded_bytes());
        }
        hasher.update(&[0]);
    }
    for file in files {
        hasher.update(file.as_os_str().as_encoded_bytes());
        hasher.update(&[0]);
        match std::fs::metadata(file) {
            Ok(meta) => {
                hasher.update(&stamp(&meta));
            }
            Err(_) => {
                hasher.update(b"absent");
            }
        }
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(unix)]
fn stamp(meta: &std::fs::Metadata) -> Vec<u8> {
    use std::os::unix::fs::MetadataExt;
    [
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        meta.ctime() as u64,
        meta.ctime_nsec() as u64,
        u64::from(meta.mode()),
    ]
    .iter()
    .flat_map(|n| n.to_le_bytes())
    .collect()
}

#[cfg(not(unix))]
fn stamp(meta: &std::fs::Metadata) -> Vec<u8> {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut out = meta.len().to_le_bytes().to_vec();
    out.extend(modified.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_read_with_its_origins_and_bare_booleans() {
        let bytes = b"file:.git/config\0remote.origin.url\ngit@github.com:Acme/w.git\0file:/home/d/.gitconfig\0core.bare\0command line:\0url.x.insteadof\ny\0";
        let root = Path::new("/w/repo");
        let listed = parse_listing(bytes, root);
        assert_eq!(listed.len(), 3);
        assert_eq!(
            listed[0].file.as_deref(),
            Some(Path::new("/w/repo/.git/config"))
        );
        assert_eq!(listed[0].key, "remote.origin.url");
        assert_eq!(listed[0].value, "git@github.com:Acme/w.git");
        assert_eq!(
            (listed[1].key.as_str(), listed[1].value.as_str()),
            ("core.bare", "")
        );
        assert_eq!(listed[2].file, None);
    }

    #[test]
    fn a_changed_or_created_file_changes_the_signature() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let files = vec![a.clone()];
        let absent = signature(&files);
        std::fs::write(&a, "x").expect("write");
        let present = signature(&files);
        assert_ne!(absent, present);
        std::fs::write(&a, "yy").expect("write");
        assert_ne!(present, signature(&files));
    }

    #[test]
    fn includes_resolve_from_the_including_file() {
        let including = Path::new("/home/d/.gitconfig");
        assert_eq!(
            include_target(including, "extra.cfg"),
            Some(PathBuf::from("/home/d/extra.cfg"))
        );
        assert_eq!(
            include_target(including, "/etc/x"),
            Some(PathBuf::from("/etc/x"))
        );
    }
}
