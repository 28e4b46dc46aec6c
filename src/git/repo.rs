/*!
A working tree and the few git plumbing commands provenance needs.

Every command is a fixed number of git processes, whatever the number of files: one
`diff-index`/`diff-tree` for the changed paths and one `cat-file --batch` for every blob. Hooks
inherit git's environment (`GIT_DIR`, `GIT_INDEX_FILE` during `commit -a`), so commands run
in the hook's environment, from the top of the working tree.
*/

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0} is not inside a git working tree (run it in a repository, or pass --repo)")]
    NotARepository(PathBuf),
    #[error("cannot run git: {0} (is git installed and on PATH?)")]
    Spawn(std::io::Error),
    #[error("git {command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("unexpected output from git {0}")]
    Malformed(&'static str),
}

#[derive(Debug, Clone)]
pub struct Repo {
    /// Top of the working tree.
    pub root: PathBuf,
    /// This worktree's git directory (`.git`, or `.git/worktrees/<name>`).
    pub git_dir: PathBuf,
    /// The directory shared by all worktrees (hooks and notes live there).
    pub common_dir: PathBuf,
    /// HEAD's commit when the repository was discovered (`None` on an unborn branch). Each
    /// hookledger process is one hook invocation, during which HEAD does not move.
    head: Option<String>,
}

/// One changed path between two trees (or a tree and the index), as `--raw -z` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `A`, `M`, `D`, `R`, `C`, `T`.
    pub status: char,
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub old_blob: Option<String>,
    pub new_blob: Option<String>,
    /// Submodules (mode 160000) have no lines to attribute.
    pub submodule: bool,
}

impl Change {
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }
}

/// A commit's facts from one `git log` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub committer_time: i64,
    /// The values of its `AI-Ledger` trailers, as git parses trailers.
    pub anchor_trailers: Vec<String>,
    pub message: String,
}

fn command_name(args: &[&str]) -> String {
    args.iter()
        .take_while(|a| !a.starts_with('-'))
        .take(2)
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("exited with an error")
        .trim()
        .to_owned()
}

impl Repo {
    /// The working tree containing `start`, and its HEAD, in one git process (two on an
    /// unborn branch): hooks are on the commit's critical path.
    pub fn discover(start: &Path) -> Result<Repo, GitError> {
        let rev_parse = |with_head: bool| {
            let mut cmd = Command::new("git");
            cmd.args([
                "rev-parse",
                "--path-format=absolute",
                "--show-toplevel",
                "--git-dir",
                "--git-common-dir",
            ]);
            if with_head {
                cmd.arg("HEAD^{commit}");
            }
            cmd.current_dir(start)
                .env("GIT_TERMINAL_PROMPT", "0")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound && !start.exists() {
                        GitError::NotARepository(start.to_owned())
                    } else {
                        GitError::Spawn(e)
                    }
                })
        };
        let mut output = rev_parse(true)?;
        if !output.status.success() {
            output = rev_parse(false)?;
        }
        if !output.status.success() {
            return Err(GitError::NotARepository(start.to_owned()));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let mut lines = text.lines();
        match (lines.next(), lines.next(), lines.next()) {
            (Some(root), Some(git_dir), Some(common_dir)) => Ok(Repo {
                root: PathBuf::from(root),
                git_dir: PathBuf::from(git_dir),
                common_dir: PathBuf::from(common_dir),
                head: lines.next().map(str::to_owned),
            }),
            _ => Err(GitError::NotARepository(start.to_owned())),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.root)
            .env("GIT_TERMINAL_PROMPT", "0");
        cmd
    }

    /// Runs git and returns its stdout; a non-zero exit is an error carrying stderr's first line.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        self.run_with_input(args, None)
    }

    pub fn run_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, GitError> {
        let mut cmd = self.command(args);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(GitError::Spawn)?;
        let writer = match (input, child.stdin.take()) {
            (Some(bytes), Some(mut stdin)) => {
                let bytes = bytes.to_vec();
                Some(std::thread::spawn(move || {
                    let _ = stdin.write_all(&bytes);
                }))
            }
            _ => None,
        };
        let output = child.wait_with_output().map_err(GitError::Spawn)?;
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(GitError::Failed {
                command: command_name(args),
                message: first_line(&output.stderr),
            })
        }
    }

    /// Like [`Repo::run`], `None` when git exits non-zero (a missing ref, an unset key).
    pub fn try_text(&self, args: &[&str]) -> Option<String> {
        self.run(args)
            .ok()
            .map(|out| String::from_utf8_lossy(&out).trim_end().to_owned())
    }

    pub fn head(&self) -> Option<String> {
        self.head.clone()
    }

    pub fn resolve_commit(&self, rev: &str) -> Result<String, GitError> {
        let spec = format!("{rev}^{{commit}}");
        self.try_text(&["rev-parse", "--verify", "--quiet", &spec])
            .ok_or_else(|| GitError::Failed {
                command: "rev-parse".into(),
                message: format!("{rev} is not a commit"),
            })
    }

    pub fn config(&self, key: &str) -> Option<String> {
        self.try_text(&["config", "--get", key])
            .filter(|v| !v.is_empty())
    }

    /// The tree of an empty commit, in this repository's hash format.
    pub fn empty_tree(&self) -> Result<String, GitError> {
        let out = self.run_with_input(&["hash-object", "-t", "tree", "--stdin"], Some(b""))?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// What the index would commit, compared with `base` (a commit or tree).
    pub fn staged_changes(&self, base: &str) -> Result<Vec<Change>, GitError> {
        let out = self.run(&[
            "diff-index",
            "--cached",
            "-z",
            "-M",
            "--no-abbrev",
            "--ignore-submodules=all",
            base,
        ])?;
        parse_raw(&out)
    }

    /// What `commit` changed relative to `parent` (`None`: a root commit).
    pub fn commit_changes(
        &self,
        parent: Option<&str>,
        commit: &str,
    ) -> Result<Vec<Change>, GitError> {
        let out = match parent {
            Some(parent) => self.run(&[
                "diff-tree",
                "--no-commit-id",
                "-r",
                "-z",
                "-M",
                "--no-abbrev",
                parent,
                commit,
            ])?,
            None => self.run(&[
                "diff-tree",
                "--no-commit-id",
                "-r",
                "-z",
                "-M",
                "--no-abbrev",
                "--root",
                commit,
            ])?,
        };
        parse_raw(&out)
    }

    /// The commits of a range (`A..B`, a single rev, anything `git log` takes), oldest first.
    pub fn commits(&self, range: &[&str]) -> Result<Vec<CommitInfo>, GitError> {
        let mut args = vec![
            "log",
            "--reverse",
            "-z",
            // Git parses the anchor trailers itself (its trailer rules, not ours).
            "--format=%H%x1f%T%x1f%P%x1f%ct%x1f%(trailers:key=AI-Ledger,valueonly,separator=%x1e)%x1f%B",
        ];
        args.extend_from_slice(range);
        args.push("--");
        let out = self.run(&args)?;
        let text = String::from_utf8_lossy(&out);
        text.split('\0')
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| {
                let mut fields = entry.splitn(6, '\x1f');
                let mut next = || fields.next().ok_or(GitError::Malformed("log"));
                let sha = next()?.trim().to_owned();
                let tree = next()?.to_owned();
                let parents = next()?.split_whitespace().map(str::to_owned).collect();
                let committer_time = next()?.trim().parse().unwrap_or(0);
                let anchor_trailers = next()?
                    .split('\x1e')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                let message = next()?.to_owned();
                Ok(CommitInfo {
                    sha,
                    tree,
                    parents,
                    committer_time,
                    anchor_trailers,
                    message,
                })
            })
            .collect()
    }

    pub fn commit(&self, rev: &str) -> Result<CommitInfo, GitError> {
        let sha = self.resolve_commit(rev)?;
        self.commits(&["--no-walk", &sha])?
            .into_iter()
            .next()
            .ok_or(GitError::Malformed("log"))
    }

    /// Reads objects (`<blob id>` or `<rev>:<path>`) with one `cat-file --batch`; `None` for
    /// those that do not exist or are not blobs.
    pub fn read_blobs(&self, names: &[String]) -> Result<Vec<Option<Vec<u8>>>, GitError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut child = self
            .command(&["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(GitError::Spawn)?;
        let mut stdin = child.stdin.take().ok_or(GitError::Malformed("cat-file"))?;
        let mut request = String::new();
        for name in names {
            // A newline in a path would end the request early: such names cannot be asked for.
            request.push_str(&name.replace('\n', " "));
            request.push('\n');
        }
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(request.as_bytes());
        });
        let stdout = child.stdout.take().ok_or(GitError::Malformed("cat-file"))?;
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut blobs = Vec::with_capacity(names.len());
        let mut header = String::new();
        for _ in names {
            header.clear();
            if reader.read_line(&mut header).map_err(GitError::Spawn)? == 0 {
                return Err(GitError::Malformed("cat-file"));
            }
            let parts: Vec<&str> = header.split_whitespace().collect();
            match parts.as_slice() {
                [_, kind, size] => {
                    let size: usize = size.parse().map_err(|_| GitError::Malformed("cat-file"))?;
                    let mut body = vec![0; size + 1];
                    reader.read_exact(&mut body).map_err(GitError::Spawn)?;
                    body.pop();
                    blobs.push((*kind == "blob").then_some(body));
                }
                _ => blobs.push(None),
            }
        }
        let _ = writer.join();
        let _ = child.wait();
        Ok(blobs)
    }

    /// The note on `commit` under `notes_ref`, if any.
    pub fn note(&self, notes_ref: &str, commit: &str) -> Option<Vec<u8>> {
        self.run(&["notes", "--ref", notes_ref, "show", commit])
            .ok()
    }

    /// Every (commit, note blob) under `notes_ref`.
    pub fn notes(&self, notes_ref: &str) -> Vec<(String, String)> {
        let Some(out) = self.try_text(&["notes", "--ref", notes_ref, "list"]) else {
            return Vec::new();
        };
        out.lines()
            .filter_map(|line| {
                let (blob, commit) = line.split_once(' ')?;
                Some((commit.to_owned(), blob.to_owned()))
            })
            .collect()
    }

    pub fn set_note(&self, notes_ref: &str, commit: &str, body: &[u8]) -> Result<(), GitError> {
        self.run_with_input(
            &["notes", "--ref", notes_ref, "add", "-f", "-F", "-", commit],
            Some(body),
        )?;
        Ok(())
    }

    /// Whether the `git commit` running this hook is an `--amend`: git does not tell hooks, so
    /// the nearest `git` ancestor's command line is read (Linux `/proc`; elsewhere `false`,
    /// and post-commit then attributes the amended commit against its real parent).
    pub fn amending(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            let mut pid = std::os::unix::process::parent_id();
            for _ in 0..4 {
                let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                    return false;
                };
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                let is_git = args
                    .first()
                    .is_some_and(|a| a.ends_with(b"git") || a.ends_with(b"git.exe"));
                if is_git {
                    return args.iter().any(|a| *a == b"commit")
                        && args.iter().any(|a| *a == b"--amend");
                }
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    return false;
                };
                // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
                let Some(ppid) = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse().ok())
                else {
                    return false;
                };
                pid = ppid;
            }
            false
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// A sequencer (rebase) is replaying commits in this worktree.
    pub fn rebase_in_progress(&self) -> bool {
        self.git_dir.join("rebase-merge").exists() || self.git_dir.join("rebase-apply").exists()
    }

    /// The other parent of a merge being concluded (`git commit` after resolving conflicts).
    pub fn merge_head(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.git_dir.join("MERGE_HEAD")).ok()?;
        text.lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
    }
}

fn is_zero_oid(oid: &str) -> bool {
    oid.bytes().all(|b| b == b'0')
}

/// Parses `--raw -z` output: `:<mode> <mode> <oid> <oid> <status>\0<path>\0[<path>\0]`.
fn parse_raw(out: &[u8]) -> Result<Vec<Change>, GitError> {
    let mut fields = out.split(|b| *b == 0).peekable();
    let mut changes = Vec::new();
    while let Some(header) = fields.next() {
        if header.is_empty() {
            continue;
        }
        let header = String::from_utf8_lossy(header);
        let header = header.trim_start_matches(':');
        let parts: Vec<&str> = header.split(' ').collect();
        let [old_mode, new_mode, old_oid, new_oid, status] = parts.as_slice() else {
            return Err(GitError::Malformed("diff --raw"));
        };
        let kind = status
            .chars()
            .next()
            .ok_or(GitError::Malformed("diff --raw"))?;
        let path = |f: Option<&[u8]>| f.map(|p| String::from_utf8_lossy(p).into_owned());
        let first = path(fields.next());
        let second = if matches!(kind, 'R' | 'C') {
            path(fields.next())
        } else {
            None
        };
        let (old_path, new_path) = match kind {
            'R' | 'C' => (first, second),
            'A' => (None, first),
            'D' => (first, None),
            _ => (first.clone(), first),
        };
        let blob = |oid: &str| (!is_zero_oid(oid)).then(|| oid.to_owned());
        changes.push(Change {
            status: kind,
            old_path,
            new_path,
            old_blob: blob(old_oid),
            new_blob: blob(new_oid),
            submodule: *old_mode == "160000" || *new_mode == "160000",
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_output_with_renames_and_additions() {
        let out = b":100644 100644 aaaa bbbb M\0src/a.rs\0:000000 100644 0000 cccc A\0new file.txt\0:100644 100644 dddd eeee R087\0old.rs\0new.rs\0:100644 000000 ffff 0000 D\0gone\0";
        let changes = parse_raw(out).unwrap();
        assert_eq!(changes.len(), 4);
        assert_eq!(changes[0].path(), "src/a.rs");
        assert_eq!(changes[1].old_blob, None);
        assert_eq!(changes[1].new_path.as_deref(), Some("new file.txt"));
        assert_eq!(
            (
                changes[2].old_path.as_deref(),
                changes[2].new_path.as_deref()
            ),
            (Some("old.rs"), Some("new.rs"))
        );
        assert_eq!(
            (changes[3].status, changes[3].new_path.as_deref()),
            ('D', None)
        );
        assert!(parse_raw(b":bogus\0x\0").is_err());
    }
}
