//! Git provenance on real repositories in temp dirs: hookledger's shims installed, AI edits fed
//! through `hookledger hook` exactly as Claude Code sends them (after really writing the file),
//! then real `git commit`, `rebase`, `cherry-pick`, `merge`, and `hookledger git verify`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::util::*;

pub const MODEL: &str = "claude-test-opus-9-20261101";

/// A repository with fixed identities and dates, an isolated git config, and PATH leading to
/// the hookledger binary under test (the shims call it by name).
pub struct Repo {
    pub home: Home,
    pub dir: PathBuf,
    transcript: PathBuf,
    counter: std::cell::Cell<u32>,
}

fn path_with_binary() -> String {
    let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
    format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default())
}

impl Repo {
    pub fn new() -> Repo {
        let home = Home::new();
        let dir = home.path().join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(home.path().join("gitconfig"), "").unwrap();
        let repo = Repo {
            transcript: home.path().join("transcript.jsonl"),
            home,
            dir,
            counter: std::cell::Cell::new(0),
        };
        repo.git_ok(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository whose first commit holds `files`.
    pub fn with_files(files: &[(&str, &str)]) -> Repo {
        let repo = Repo::new();
        for (path, content) in files {
            repo.write(path, content.as_bytes());
        }
        repo.git_ok(&["add", "-A"]);
        repo.git_ok(&["commit", "-q", "-m", "initial"]);
        repo
    }

    pub fn git_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", self.home.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.home.path())
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", "Dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.com")
            .env("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
            .env("GIT_EDITOR", "true")
            .env("PATH", path_with_binary())
            .env("HOOKLEDGER_HOME", self.home.home())
            .env_remove("HOOKLEDGER_LEDGER")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE");
        cmd
    }

    pub fn git(&self, args: &[&str]) -> Output {
        self.git_command(args).output().expect("run git")
    }

    #[track_caller]
    pub fn git_ok(&self, args: &[&str]) -> String {
        let out = self.git(args);
        assert!(
            out.status.success(),
            "git {args:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs hookledger in the repository with the same environment git's hooks get.
    pub fn hl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(&self.dir)
            .env("HOOKLEDGER_HOME", self.home.home())
            .env_remove("HOOKLEDGER_LEDGER")
            .env("GIT_CONFIG_GLOBAL", self.home.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.home.path())
            .env("GIT_AUTHOR_NAME", "CI")
            .env("GIT_AUTHOR_EMAIL", "ci@example.com")
            .env("GIT_COMMITTER_NAME", "CI")
            .env("GIT_COMMITTER_EMAIL", "ci@example.com");
        cmd.output().expect("run hookledger")
    }

    pub fn install(&self) {
        let out = self.hl(&["git", "install"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write(&self, rel: &str, content: &[u8]) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    fn next_id(&self) -> u32 {
        self.counter.set(self.counter.get() + 1);
        self.counter.get()
    }

    /// The transcript entry Claude Code writes for the tool call (so the record gets its
    /// model), then the PostToolUse payload, after the file on disk has been changed.
    fn post_tool_use(&self, tool: &str, input: Value, response: Value, model: &str) -> String {
        let id = format!("toolu_{:04}", self.next_id());
        let entry = json!({"type": "assistant", "version": "2.1.328",
            "message": {"model": model, "content": [{"type": "tool_use", "id": id, "name": tool, "input": {}}]}});
        let mut transcript = std::fs::read_to_string(&self.transcript).unwrap_or_default();
        transcript.push_str(&format!("{entry}\n"));
        std::fs::write(&self.transcript, transcript).unwrap();
        let payload = payload(
            "PostToolUse",
            json!({"cwd": self.dir, "transcript_path": self.transcript, "tool_name": tool,
                   "tool_use_id": id, "tool_input": input, "tool_response": response}),
        );
        let out = self.home.hook(&payload);
        assert_no_opinion(&out);
        id
    }

    /// The AI replaces `old` with `new` in an existing file (an Edit).
    pub fn ai_edit(&self, rel: &str, old: &str, new: &str) {
        self.ai_edit_with(rel, old, new, MODEL);
    }

    pub fn ai_edit_with(&self, rel: &str, old: &str, new: &str, model: &str) {
        let before = String::from_utf8(self.read(rel)).unwrap();
        assert!(before.contains(old), "{old:?} not in {rel}");
        let after = before.replacen(old, new, 1);
        self.write(rel, after.as_bytes());
        // Claude Code reports CRLF files' originals with LF line endings.
        let original = before.replace("\r\n", "\n");
        let patch = structured_patch(&original, &after.replace("\r\n", "\n"));
        let path = self.path(rel);
        self.post_tool_use(
            "Edit",
            json!({"file_path": path, "old_string": old, "new_string": new, "replace_all": false}),
            json!({"filePath": path, "oldString": old, "newString": new, "originalFile": original,
                   "structuredPatch": patch, "userModified": false, "replaceAll": false}),
            model,
        );
    }

    /// The AI writes a whole file (a Write: create, or update of an existing one).
    pub fn ai_write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        let before = std::fs::read_to_string(&path).ok();
        self.write(rel, content.as_bytes());
        let response = match &before {
            None => json!({"type": "create", "filePath": path, "content": content,
                           "structuredPatch": [], "originalFile": null}),
            Some(before) => json!({"type": "update", "filePath": path, "content": content,
                                   "structuredPatch": structured_patch(before, content),
                                   "originalFile": before}),
        };
        self.post_tool_use(
            "Write",
            json!({"file_path": path, "content": content}),
            response,
            MODEL,
        );
    }

    pub fn commit(&self, message: &str) -> Output {
        self.git(&["commit", "-q", "-m", message])
    }

    #[track_caller]
    pub fn commit_ok(&self, message: &str) -> String {
        let out = self.commit(message);
        assert!(
            out.status.success(),
            "commit failed: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        self.head()
    }

    pub fn head(&self) -> String {
        self.git_ok(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    pub fn message(&self, rev: &str) -> String {
        self.git_ok(&["log", "-1", "--format=%B", rev])
    }

    pub fn note(&self, rev: &str) -> Option<Value> {
        let out = self.git(&["notes", "--ref", "hookledger", "show", rev]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("note is JSON"))
    }

    pub fn verify(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["git", "verify", "--json"];
        all.extend_from_slice(args);
        let out = self.hl(&all);
        let code = out.status.code().unwrap_or(-1);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "verify printed {:?} / {:?}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        (code, report)
    }
}

/// Hunks as Claude Code's `structuredPatch` has them (3 lines of context), from GNU diff.
pub fn structured_patch(before: &str, after: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, before).unwrap();
    std::fs::write(&b, after).unwrap();
    let out = Command::new("diff")
        .arg("-U3")
        .arg(&a)
        .arg(&b)
        .output()
        .expect("diff");
    let mut hunks: Vec<Value> = Vec::new();
    for line in text(&out.stdout).lines().skip(2) {
        if let Some(header) = line.strip_prefix("@@ ") {
            let ranges: Vec<(u64, u64)> = header
                .split(' ')
                .take(2)
                .map(|r| {
                    let r = &r[1..];
                    let (start, len) = r.split_once(',').unwrap_or((r, "1"));
                    (start.parse().unwrap(), len.parse().unwrap())
                })
                .collect();
            hunks.push(json!({"oldStart": ranges[0].0, "oldLines": ranges[0].1,
                              "newStart": ranges[1].0, "newLines": ranges[1].1, "lines": []}));
        } else if let Some(hunk) = hunks.last_mut() {
            hunk["lines"].as_array_mut().unwrap().push(json!(line));
        }
    }
    Value::Array(hunks)
}

fn commit_records(repo: &Repo) -> Vec<Value> {
    repo.home.records_of("commit")
}

fn files_of(note: &Value) -> Vec<Value> {
    note["metadata"]["dev.hookledger"]["files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn file_entry(note: &Value, path: &str) -> Value {
    files_of(note)
        .into_iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in note {note:#}"))
}

#[test]
fn ai_edit_then_commit_gets_trailer_note_record_and_verifies() {
    let repo = Repo::with_files(&[("src/lib.rs", "fn a() {}\n\nfn b() {}\n")]);
    repo.install();
    repo.ai_edit("src/lib.rs", "fn b() {}\n", "fn b() {\n    todo();\n}\n");
    repo.ai_write("src/new.rs", "pub fn new() {}\npub fn other() {}\n");
    repo.git_ok(&["add", "-A"]);
    let out = repo.commit("add things");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr);
    assert!(summary.contains("AI lines 5/5 added"), "{summary}");
    assert!(summary.contains(MODEL), "{summary}");

    let message = repo.message("HEAD");
    let trailer = message
        .lines()
        .find_map(|l| l.strip_prefix("AI-Ledger: "))
        .unwrap_or_else(|| panic!("no anchor trailer in {message:?}"));
    let note = repo.note("HEAD").expect("note written");
    let meta = &note["metadata"]["dev.hookledger"];
    assert_eq!(note["version"], "0.1");
    assert_eq!(note["vcs"]["revision"], repo.head());
    assert_eq!(meta["summary"]["ai_lines"], 5);
    assert_eq!(meta["gate"], "pre-commit");
    assert_eq!(
        trailer,
        format!(
            "{}@{}:{}",
            meta["anchor"]["ledger_id"].as_str().unwrap(),
            meta["anchor"]["seq"],
            &meta["anchor"]["hash"].as_str().unwrap()[..32]
        )
    );
    let lib = file_entry(&note, "src/lib.rs");
    assert_eq!(
        (lib["ai_lines"].as_u64(), lib["added_lines"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(lib["fidelity"], "exact");
    let trace = note["files"].as_array().unwrap();
    let conversation = &trace[0]["conversations"][0];
    assert_eq!(
        conversation["contributor"]["model_id"],
        format!("anthropic/{MODEL}")
    );
    assert_eq!(
        conversation["related"][0]["url"],
        format!("urn:uuid:{SESSION}")
    );
    assert!(
        conversation["ranges"][0]["content_hash"]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );

    // The anchored record exists in the ledger with that hash.
    let seq = meta["anchor"]["seq"].as_i64().unwrap();
    let (_, _, _) = repo
        .home
        .records()
        .into_iter()
        .find(|(s, _, _)| *s == seq)
        .expect("anchor record");
    let commits = commit_records(&repo);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0]["commit"], repo.head());
    assert_eq!(commits[0]["ai_lines"], 5);
    assert_eq!(commits[0]["gate"], "pre-commit");

    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["commits"][0]["status"], "ok");

    let blame = text(&repo.hl(&["blame", "src/lib.rs"]).stdout);
    let marked: Vec<&str> = blame
        .lines()
        .filter(|l| l.contains(&format!("AI {MODEL}")))
        .collect();
    assert_eq!(marked.len(), 3, "{blame}");
    let json_blame = repo.hl(&["blame", "--json", "src/new.rs"]);
    let lines: Vec<Value> = text(&json_blame.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().all(|l| l["ai"] == true && l["model"] == MODEL),
        "{lines:#?}"
    );
    assert_eq!(repo.home.verify_json().0, 0);
}

#[test]
fn a_human_changing_ai_lines_takes_them_back() {
    let repo = Repo::with_files(&[("app.py", "import os\n\n\ndef main():\n    pass\n")]);
    repo.install();
    repo.ai_edit(
        "app.py",
        "    pass\n",
        "    one = 1\n    two = 2\n    three = 3\n    four = 4\n",
    );
    // The developer rewrites one AI line and adds one of their own.
    let now = String::from_utf8(repo.read("app.py")).unwrap();
    repo.write(
        "app.py",
        now.replace("    two = 2\n", "    two = 22\n")
            .replace("import os\n", "import os\nimport sys\n")
            .as_bytes(),
    );
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("mixed");
    let note = repo.note("HEAD").unwrap();
    let file = file_entry(&note, "app.py");
    assert_eq!(file["ai_lines"], 3, "{file:#}");
    assert_eq!(file["added_lines"], 5);
    assert_eq!(file["human_changed_ai_lines"], 1);
    assert_eq!(file["fidelity"], "reconstructed");
    // Lines 6, 8 and 9 (one, three, four) are the AI's; 7 (two = 22) and 2 (import sys) are not.
    let ranges: Vec<Value> = file["lines"].as_array().unwrap().clone();
    let covered: Vec<u64> = ranges
        .iter()
        .flat_map(|r| r[0].as_u64().unwrap()..=r[1].as_u64().unwrap())
        .collect();
    assert_eq!(covered, [6, 8, 9]);
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn human_edit_between_ai_edits_is_placed_by_context() {
    let repo = Repo::with_files(&[("a.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n")]);
    repo.install();
    repo.ai_edit("a.txt", "9\n", "nine\n");
    let now = String::from_utf8(repo.read("a.txt")).unwrap();
    repo.write("a.txt", format!("human\n{now}").as_bytes());
    repo.ai_edit("a.txt", "2\n", "two\n");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("interleaved");
    let file = file_entry(&repo.note("HEAD").unwrap(), "a.txt");
    assert_eq!(file["ai_lines"], 2, "{file:#}");
    assert_eq!(file["added_lines"], 3);
    assert_eq!(file["fidelity"], "approximate");
}

#[test]
fn ai_written_file_renamed_before_and_after_commit() {
    let repo = Repo::with_files(&[("README", "r\n")]);
    repo.install();
    // Written by the AI, moved by a human before the first commit: found by its content.
    repo.ai_write("draft.txt", "alpha\nbeta\ngamma\n");
    std::fs::rename(repo.path("draft.txt"), repo.path("final.txt")).unwrap();
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("add final");
    let file = file_entry(&repo.note("HEAD").unwrap(), "final.txt");
    assert_eq!(file["ai_lines"], 3, "{file:#}");
    // Renamed after the commit: the rename commit adds nothing, blame follows it back.
    repo.git_ok(&["mv", "final.txt", "docs.txt"]);
    repo.commit_ok("rename");
    assert!(
        repo.note("HEAD").is_none(),
        "a pure rename adds no AI lines"
    );
    let (code, report) = repo.verify(&["HEAD~2..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    let lines: Vec<Value> = text(&repo.hl(&["blame", "--json", "docs.txt"]).stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.iter().filter(|l| l["ai"] == true).count(),
        3,
        "{lines:#?}"
    );
    // An AI edit on a committed file that a human then renames and edits: git's rename
    // detection links the edits to the old path.
    repo.ai_edit("docs.txt", "beta\n", "BETA\n");
    repo.git_ok(&["mv", "docs.txt", "moved.txt"]);
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("edit and move");
    let file = file_entry(&repo.note("HEAD").unwrap(), "moved.txt");
    assert_eq!(
        (file["ai_lines"].as_u64(), file["old_path"].as_str()),
        (Some(1), Some("docs.txt"))
    );
}

#[test]
fn deletions_count_as_removed_lines_and_carry_no_ai_lines() {
    let repo = Repo::with_files(&[("keep.txt", "k\n"), ("gone.txt", "a\nb\nc\n")]);
    repo.install();
    repo.ai_edit("keep.txt", "k\n", "");
    std::fs::remove_file(repo.path("gone.txt")).unwrap();
    repo.git_ok(&["add", "-A"]);
    let out = repo.commit("delete");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("AI lines 0/0 added"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !repo.message("HEAD").contains("AI-Ledger"),
        "no AI lines, no trailer"
    );
    let record = commit_records(&repo).pop().unwrap();
    assert_eq!(record["removed_lines"], 4, "{record:#}");
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn crlf_files_are_attributed_exactly() {
    let repo = Repo::with_files(&[("win.txt", "one\r\ntwo\r\nthree\r\n")]);
    repo.install();
    repo.ai_edit("win.txt", "two\r\n", "TWO\r\nand a half\r\n");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("crlf");
    let file = file_entry(&repo.note("HEAD").unwrap(), "win.txt");
    assert_eq!(
        (file["ai_lines"].as_u64(), file["added_lines"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(file["fidelity"], "exact");
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn binary_files_are_attributed_whole() {
    let repo = Repo::with_files(&[("README", "r\n")]);
    repo.install();
    repo.ai_write("data.bin", "\u{0}\u{1}binary\u{0}payload");
    repo.write("human.bin", b"\x00\x02human");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("binaries");
    let note = repo.note("HEAD").unwrap();
    let ai = file_entry(&note, "data.bin");
    assert_eq!(
        (ai["binary"].as_bool(), ai["ai_written"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(files_of(&note).iter().all(|f| f["path"] != "human.bin"));
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn amend_keeps_one_anchor_and_attributes_the_whole_commit() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\nc\nd\ne\nf\ng\nh\n")]);
    repo.install();
    repo.ai_edit("f.txt", "b\n", "B\n");
    repo.git_ok(&["add", "-A"]);
    let first = repo.commit_ok("first");
    repo.ai_edit("f.txt", "g\n", "G\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-q", "--amend", "--no-edit"]);
    let amended = repo.head();
    assert_ne!(first, amended);
    let message = repo.message("HEAD");
    assert_eq!(message.matches("AI-Ledger:").count(), 1, "{message}");
    let note = repo.note("HEAD").unwrap();
    assert_eq!(file_entry(&note, "f.txt")["ai_lines"], 2, "{note:#}");
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    // Amending with a new message and nothing new staged keeps the anchor trailer.
    repo.git_ok(&["commit", "-q", "--amend", "-m", "reworded"]);
    let message = repo.message("HEAD");
    assert!(
        message.starts_with("reworded") && message.contains("AI-Ledger:"),
        "{message}"
    );
    assert_eq!(
        file_entry(&repo.note("HEAD").unwrap(), "f.txt")["ai_lines"],
        2
    );
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn rebase_carries_notes_to_the_new_commits() {
    let repo = Repo::with_files(&[
        ("f.txt", "top\n1\n2\n3\n4\n5\n6\n7\n8\n9\nend\n"),
        ("g.txt", "g\n"),
    ]);
    repo.install();
    repo.git_ok(&["checkout", "-q", "-b", "feature"]);
    repo.ai_edit("f.txt", "8\n", "eight\nand more\n");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("ai on feature");
    repo.git_ok(&["checkout", "-q", "main"]);
    // Main moves the AI's lines down by two.
    let text_now = String::from_utf8(repo.read("f.txt")).unwrap();
    repo.write(
        "f.txt",
        text_now.replace("top\n", "top\nnew a\nnew b\n").as_bytes(),
    );
    repo.git_ok(&["commit", "-q", "-am", "main moves"]);
    repo.git_ok(&["checkout", "-q", "feature"]);
    repo.git_ok(&["rebase", "-q", "main"]);
    let note = repo.note("HEAD").expect("note carried by post-rewrite");
    let meta = &note["metadata"]["dev.hookledger"];
    assert_eq!(meta["rewrite"], "rebase");
    let file = file_entry(&note, "f.txt");
    assert_eq!(file["lines"], json!([[11, 12, 0]]), "{file:#}");
    assert_eq!(note["vcs"]["revision"], repo.head());
    let (code, report) = repo.verify(&["main..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        commit_records(&repo)
            .iter()
            .any(|r| r["commit"] == repo.head()
                && !r["rewritten_from"].as_array().unwrap().is_empty())
    );
}

#[test]
fn cherry_pick_carries_the_note() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\nc\n")]);
    repo.install();
    repo.git_ok(&["checkout", "-q", "-b", "feature"]);
    repo.ai_write("new.txt", "x\ny\n");
    repo.git_ok(&["add", "-A"]);
    let source = repo.commit_ok("ai file");
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.write("main.txt", b"main moves on\n");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("main");
    repo.git_ok(&["cherry-pick", &source]);
    assert_ne!(repo.head(), source);
    let note = repo.note("HEAD").expect("note carried by post-commit");
    assert_eq!(note["metadata"]["dev.hookledger"]["rewrite"], "cherry-pick");
    assert_eq!(file_entry(&note, "new.txt")["ai_lines"], 2);
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn merge_commits_attribute_only_the_resolution() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\nc\n")]);
    repo.install();
    repo.git_ok(&["checkout", "-q", "-b", "feature"]);
    repo.ai_edit("f.txt", "b\n", "feature b\n");
    repo.git_ok(&["commit", "-q", "-am", "feature"]);
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.write("f.txt", b"a\nmain b\nc\n");
    repo.git_ok(&["commit", "-q", "-am", "main"]);
    let merge = repo.git(&["merge", "-q", "feature"]);
    assert!(!merge.status.success(), "a conflict was expected");
    // The AI resolves the conflict; the resolution is the merge's only new line.
    repo.write("f.txt", b"a\nmain b\nc\n");
    repo.ai_edit("f.txt", "main b\n", "merged b\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-q", "--no-edit"]);
    let note = repo.note("HEAD").expect("merge note");
    let file = file_entry(&note, "f.txt");
    assert_eq!(
        (file["ai_lines"].as_u64(), file["added_lines"].as_u64()),
        (Some(1), Some(1)),
        "{file:#}"
    );
    let (code, report) = repo.verify(&["main~2..main"]);
    assert_eq!(code, 0, "{report:#}");
    // A clean merge adds nothing of its own.
    repo.git_ok(&["checkout", "-q", "-b", "other", "main~1"]);
    repo.write("o.txt", b"o\n");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("other");
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.git_ok(&["merge", "-q", "--no-ff", "--no-edit", "other"]);
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn existing_hooks_keep_running_and_uninstall_restores_them() {
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    let hook = repo.dir.join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/existing-hook-ran\"\n",
    )
    .unwrap();
    make_executable(&hook);
    repo.install();
    let status = repo.hl(&["git", "status", "--json"]);
    assert!(status.status.success(), "{}", text(&status.stdout));
    let statuses: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        statuses
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["active"] == true),
        "{statuses:#}"
    );
    assert!(statuses[0]["chained"].is_string());
    // Installing again changes nothing.
    let again: Value =
        serde_json::from_slice(&repo.hl(&["git", "install", "--json"]).stdout).unwrap();
    assert!(
        again["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["action"] == "unchanged"),
        "{again:#}"
    );
    repo.ai_edit("f.txt", "a\n", "A\n");
    repo.git_ok(&["commit", "-q", "-am", "x"]);
    assert!(
        repo.dir.join(".git/existing-hook-ran").exists(),
        "the chained hook ran"
    );
    assert!(repo.note("HEAD").is_some());
    // A failing existing hook still stops the commit.
    std::fs::write(
        repo.dir.join(".git/hooks/pre-commit.hookledger-chained"),
        "#!/bin/sh\necho 'lint failed' >&2\nexit 3\n",
    )
    .unwrap();
    repo.write("f.txt", b"B\n");
    let out = repo.git(&["commit", "-q", "-am", "y"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("lint failed"));
    repo.hl(&["git", "uninstall"]);
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho 'lint failed' >&2\nexit 3\n"
    );
    assert!(!repo.dir.join(".git/hooks/commit-msg").exists());
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn hooks_path_husky_and_pre_commit_framework_layouts() {
    // core.hooksPath: hooks go where git looks.
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.git_ok(&["config", "core.hooksPath", "githooks"]);
    repo.install();
    assert!(
        std::fs::read_to_string(repo.dir.join("githooks/pre-commit"))
            .unwrap()
            .contains("hookledger git pre-commit")
    );
    repo.ai_edit("f.txt", "a\n", "A\n");
    repo.git_ok(&["commit", "-q", "-am", "x"]);
    assert!(repo.note("HEAD").is_some());

    // Husky: a block in the user's .husky/<hook> script, which survives `npm install`.
    let husky = Repo::with_files(&[("f.txt", "a\n")]);
    std::fs::create_dir_all(husky.dir.join(".husky/_")).unwrap();
    std::fs::write(husky.dir.join(".husky/_/h"), "#!/bin/sh\nn=$(basename \"$0\")\ns=$(dirname \"$(dirname \"$0\")\")/$n\n[ -f \"$s\" ] || exit 0\nsh -e \"$s\" \"$@\"\n").unwrap();
    for hook in ["pre-commit", "commit-msg", "post-commit", "post-rewrite"] {
        let path = husky.dir.join(".husky/_").join(hook);
        std::fs::write(&path, "#!/bin/sh\n. \"$(dirname \"$0\")/h\"\n").unwrap();
        make_executable(&path);
    }
    std::fs::write(
        husky.dir.join(".husky/pre-commit"),
        "echo husky-user-hook >> .git/husky-ran\n",
    )
    .unwrap();
    std::fs::write(
        husky.dir.join(".husky/post-rewrite"),
        "cat > .git/husky-rewrite-input\n",
    )
    .unwrap();
    husky.git_ok(&["config", "core.hooksPath", ".husky/_"]);
    let out: Value =
        serde_json::from_slice(&husky.hl(&["git", "install", "--json"]).stdout).unwrap();
    assert_eq!(out["layout"], "husky", "{out:#}");
    let script = std::fs::read_to_string(husky.dir.join(".husky/pre-commit")).unwrap();
    assert!(
        script.starts_with("echo husky-user-hook") && script.contains("hookledger git pre-commit"),
        "{script}"
    );
    // The agent's tools may not take hookledger out of a hook outside .git/hooks either.
    for (tool, input) in [
        (
            "Write",
            json!({"file_path": husky.dir.join(".husky/pre-commit"), "content": "exit 0\n"}),
        ),
        (
            "Bash",
            json!({"command": "echo 'exit 0' > .husky/pre-commit"}),
        ),
    ] {
        let mut call = pre_tool(tool, input, "toolu_hook");
        call["cwd"] = json!(husky.dir);
        assert_refused(&husky.home.hook(&call), "self-protection");
    }
    husky.ai_edit("f.txt", "a\n", "A\n");
    husky.git_ok(&["commit", "-q", "-am", "x"]);
    assert!(husky.dir.join(".git/husky-ran").exists());
    assert!(husky.note("HEAD").is_some());
    // post-rewrite: hookledger reads the rewritten commits and hands them on to the script.
    let before = husky.head();
    husky.git_ok(&["commit", "-q", "--amend", "-m", "x2"]);
    let handed = std::fs::read_to_string(husky.dir.join(".git/husky-rewrite-input")).unwrap();
    assert!(
        handed.starts_with(&format!("{before} {}", husky.head())),
        "{handed:?}"
    );
    assert!(husky.note("HEAD").is_some());
    husky.hl(&["git", "uninstall"]);
    assert_eq!(
        std::fs::read_to_string(husky.dir.join(".husky/pre-commit")).unwrap(),
        "echo husky-user-hook >> .git/husky-ran\n"
    );
    assert_eq!(
        std::fs::read_to_string(husky.dir.join(".husky/post-rewrite")).unwrap(),
        "cat > .git/husky-rewrite-input\n"
    );

    // The pre-commit framework's generated hook is chained and keeps running.
    let framework = Repo::with_files(&[("f.txt", "a\n")]);
    let hook = framework.dir.join(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\necho framework >> .git/framework-ran\n").unwrap();
    make_executable(&hook);
    let out: Value =
        serde_json::from_slice(&framework.hl(&["git", "install", "--json"]).stdout).unwrap();
    assert_eq!(out["manager"], "pre-commit", "{out:#}");
    framework.ai_edit("f.txt", "a\n", "A\n");
    framework.git_ok(&["commit", "-q", "-am", "x"]);
    assert!(framework.dir.join(".git/framework-ran").exists());
    assert!(framework.note("HEAD").is_some());
}

#[test]
fn no_verify_commits_are_caught_by_git_verify() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\n")]);
    repo.install();
    repo.ai_edit("f.txt", "b\n", "bee\n");
    repo.git_ok(&["commit", "-q", "--no-verify", "-am", "sneaky"]);
    assert!(!repo.message("HEAD").contains("AI-Ledger"));
    let note = repo.note("HEAD").expect("post-commit still attributes");
    assert_eq!(note["metadata"]["dev.hookledger"]["gate"], "none");
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["commits"][0]["problems"][0]["code"],
        "unanchored-ai-lines"
    );

    // Without hookledger's hooks at all: no note, and the ledger still knows the lines.
    let bare = Repo::with_files(&[("f.txt", "a\nb\n")]);
    bare.ai_edit("f.txt", "b\n", "bee\n");
    bare.git_ok(&["commit", "-q", "-am", "no hooks"]);
    let (code, report) = bare.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["commits"][0]["problems"][0]["code"],
        "unanchored-ai-lines"
    );
    assert_eq!(report["commits"][0]["ai_lines"], 1);
    // Central review has only what was shipped: the exported edit records show it too.
    let export = bare.home.path().join("shipped.ndjson");
    assert!(
        bare.hl(&["export", "-o", export.to_str().unwrap()])
            .status
            .success()
    );
    let (code, report) = bare.verify(&["--export", export.to_str().unwrap(), "--", "HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["commits"][0]["problems"][0]["code"], "unanchored-ai-lines",
        "{report:#}"
    );
    // A human-only commit passes.
    bare.write("h.txt", b"human\n");
    bare.git_ok(&["add", "-A"]);
    bare.git_ok(&["commit", "-q", "-m", "human"]);
    let (code, report) = bare.verify(&["HEAD~1..HEAD"]);
    assert_eq!(
        (code, report["commits"][0]["status"].as_str()),
        (0, Some("no-ai")),
        "{report:#}"
    );
}

#[test]
fn altering_the_ledger_fails_verification() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\n")]);
    repo.install();
    repo.ai_edit("f.txt", "b\n", "bee\n");
    repo.git_ok(&["commit", "-q", "-am", "ai"]);
    assert_eq!(repo.verify(&[]).0, 0);
    let seq = repo.note("HEAD").unwrap()["metadata"]["dev.hookledger"]["anchor"]["seq"]
        .as_i64()
        .unwrap();
    let out = repo.home.sqlite3(&format!(
        "DROP TRIGGER records_no_update; UPDATE records SET hash = zeroblob(32) WHERE seq = {seq};"
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{report:#}");
    let codes: Vec<&str> = report["commits"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"anchor-mismatch"), "{report:#}");
    assert_eq!(report["problems"][0]["code"], "ledger-broken");
}

#[test]
fn verify_against_shipped_exports() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\n")]);
    repo.install();
    repo.ai_edit("f.txt", "b\n", "bee\n");
    repo.git_ok(&["commit", "-q", "-am", "ai"]);
    let export = repo.home.path().join("shipped.ndjson");
    let out = repo.hl(&["export", "-o", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, report) = repo.verify(&["--export", export.to_str().unwrap(), "--", "HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    // A batch edited in transit breaks the receiver's check.
    let shipped = std::fs::read_to_string(&export).unwrap();
    let mut lines: Vec<String> = shipped.lines().map(str::to_owned).collect();
    let mut first: Value = serde_json::from_str(&lines[1]).unwrap();
    first["hash"] = json!("00".repeat(32));
    lines[1] = first.to_string();
    std::fs::write(&export, lines.join("\n") + "\n").unwrap();
    let (code, report) = repo.verify(&["--export", export.to_str().unwrap(), "--", "HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{report:#}");
}

#[test]
fn policy_refuses_models_and_requires_review_and_a_valid_ledger() {
    let repo = Repo::with_files(&[
        ("src/auth/login.rs", "fn login() {}\n"),
        ("src/main.rs", "fn main() {}\n"),
    ]);
    repo.install();
    std::fs::create_dir_all(repo.home.home()).unwrap();
    std::fs::write(
        repo.home.home().join("policy.json"),
        json!({"git": {"allowed_models": ["claude-test-opus-*"], "review_required": ["src/auth/**"], "trailers": "full"}}).to_string(),
    )
    .unwrap();
    repo.ai_edit_with(
        "src/main.rs",
        "fn main() {}\n",
        "fn main() { run() }\n",
        "gpt-test-5",
    );
    repo.git_ok(&["add", "-A"]);
    let out = repo.commit("other model");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let refusal: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.contains("commit refused"))
        .map(str::to_owned)
        .collect();
    assert_eq!(refusal.len(), 1, "{}", text(&out.stderr));
    assert!(
        refusal[0].contains("model-not-allowed")
            && refusal[0].contains("gpt-test-5")
            && refusal[0].contains("fix:"),
        "{}",
        refusal[0]
    );
    repo.git_ok(&["checkout", "-q", "--", "."]);
    repo.git_ok(&["reset", "-q"]);
    repo.write("src/main.rs", b"fn main() {}\n");

    repo.ai_edit(
        "src/auth/login.rs",
        "fn login() {}\n",
        "fn login() { check() }\n",
    );
    repo.git_ok(&["add", "-A"]);
    let out = repo.commit("auth change");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("review-required"),
        "{}",
        text(&out.stderr)
    );
    repo.commit_ok("auth change\n\nReviewed-by: Rev <rev@example.com>");
    let message = repo.message("HEAD");
    assert!(
        message.contains(&format!("Assisted-by: {MODEL}")),
        "{message}"
    );
    assert!(message.contains("AI-Lines: 1/1"), "{message}");
    assert!(message.contains("AI-Ledger: "), "{message}");

    // A broken ledger refuses the commit once the policy requires a valid one.
    std::fs::write(
        repo.home.home().join("policy.json"),
        json!({"git": {"require_ledger_valid": true}}).to_string(),
    )
    .unwrap();
    repo.home.sqlite3("DROP TRIGGER records_no_update; UPDATE records SET payload = CAST('{}' AS BLOB) WHERE seq = 2;");
    repo.write("src/main.rs", b"fn main() { 1 }\n");
    repo.git_ok(&["add", "-A"]);
    let out = repo.commit("broken ledger");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ledger-invalid"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn trailers_none_keeps_the_message_clean_and_verify_accepts_it() {
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.install();
    std::fs::create_dir_all(repo.home.home()).unwrap();
    std::fs::write(
        repo.home.home().join("policy.json"),
        r#"{"git": {"trailers": "none"}}"#,
    )
    .unwrap();
    repo.ai_edit("f.txt", "a\n", "A\n");
    repo.git_ok(&["commit", "-q", "-am", "clean message"]);
    assert_eq!(repo.message("HEAD").trim(), "clean message");
    assert_eq!(
        repo.note("HEAD").unwrap()["metadata"]["dev.hookledger"]["trailers"],
        "none"
    );
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn bad_inputs_no_ledger_corrupt_ledger_spool_outside_repo() {
    // No ledger: the commit goes through and says why nothing was attributed.
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.install();
    repo.write("f.txt", b"b\n");
    let out = repo.git(&["commit", "-q", "-am", "no ledger"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no ledger at"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !repo.home.ledger().exists(),
        "git hooks never create a ledger"
    );
    let out = repo.hl(&["git", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--ledger"),
        "{}",
        text(&out.stderr)
    );

    // A corrupt ledger: a warning, and the commit proceeds (no policy requires it valid).
    let corrupt = Repo::with_files(&[("f.txt", "a\n")]);
    corrupt.install();
    corrupt.ai_edit("f.txt", "a\n", "A\n");
    let mut bytes = std::fs::read(corrupt.home.ledger()).unwrap();
    for b in bytes.iter_mut().skip(100).take(4000) {
        *b = 0x5a;
    }
    std::fs::write(corrupt.home.ledger(), bytes).unwrap();
    let _ = std::fs::remove_file(corrupt.home.ledger().with_extension("db-wal"));
    let out = corrupt.git(&["commit", "-q", "-am", "corrupt"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("WARNING") || text(&out.stderr).contains("ledger"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("panicked"));

    // Unmerged spool: a ledger that cannot be written spools; the pre-commit merges it once
    // it can, and refuses (when required) while it cannot.
    let spooled = Repo::with_files(&[("f.txt", "a\n")]);
    spooled.install();
    spooled.ai_edit("f.txt", "a\n", "A\n");
    std::fs::write(
        spooled.home.home().join("policy.json"),
        r#"{"git": {"require_ledger_valid": true}}"#,
    )
    .unwrap();
    let mut locker = Command::new("sqlite3")
        .arg(spooled.home.ledger())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = locker.stdin.as_mut().unwrap();
        stdin.write_all(b"BEGIN EXCLUSIVE; SELECT 1;\n").unwrap();
        stdin.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut held = Command::new(BIN);
    held.args(["hook", "--event", "UserPromptSubmit"])
        .env("HOOKLEDGER_HOME", spooled.home.home())
        .env("HOOKLEDGER_BUSY_TIMEOUT_MS", "50");
    let out = run_with_stdin(
        held,
        payload("UserPromptSubmit", json!({"prompt": "hi"}))
            .to_string()
            .as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        spooled.home.spool().exists() && std::fs::metadata(spooled.home.spool()).unwrap().len() > 0
    );
    let out = spooled.git(&["commit", "-q", "-am", "while locked"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("spool-unmerged"), "{stderr}");
    // Without the requirement the commit goes through while the ledger is locked: attributed
    // from a read-only view, its commit record spooled.
    std::fs::remove_file(spooled.home.home().join("policy.json")).unwrap();
    let out = spooled.git(&["commit", "-q", "-am", "while locked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("WARNING"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        file_entry(&spooled.note("HEAD").unwrap(), "f.txt")["ai_lines"],
        1
    );
    let _ = locker.kill();
    let _ = locker.wait();
    spooled.write("f.txt", b"after\n");
    let out = spooled.git(&["commit", "-q", "-am", "after unlock"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(spooled.home.verify_json().1["spool_pending"], 0);
    assert_eq!(
        commit_records(&spooled).len(),
        2,
        "the spooled commit record was merged"
    );

    // Not a repository: one line, exit 2.
    let outside = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["git", "verify"])
        .current_dir(outside.path())
        .env("HOOKLEDGER_HOME", repo.home.home())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not inside a git working tree"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr).trim().lines().count(), 1);
}

#[test]
fn initial_empty_and_detached_head_commits() {
    // The very first commit of a repository.
    let repo = Repo::new();
    repo.install();
    repo.ai_write("first.txt", "hello\nworld\n");
    repo.git_ok(&["add", "-A"]);
    repo.commit_ok("root");
    assert_eq!(
        file_entry(&repo.note("HEAD").unwrap(), "first.txt")["ai_lines"],
        2
    );
    let (code, report) = repo.verify(&["HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    // An empty commit: no lines, no trailer, no note.
    repo.git_ok(&["commit", "-q", "--allow-empty", "-m", "empty"]);
    assert!(!repo.message("HEAD").contains("AI-Ledger"));
    assert!(repo.note("HEAD").is_none());
    // Detached HEAD.
    repo.git_ok(&["checkout", "-q", "--detach"]);
    repo.ai_edit("first.txt", "world\n", "there\n");
    repo.git_ok(&["commit", "-q", "-am", "detached"]);
    assert_eq!(
        file_entry(&repo.note("HEAD").unwrap(), "first.txt")["ai_lines"],
        1
    );
    let record = commit_records(&repo).pop().unwrap();
    assert_eq!(record["branch"], Value::Null);
    assert_eq!(repo.verify(&["HEAD~2..HEAD"]).0, 0);
}

#[test]
fn an_aborted_empty_message_is_not_filled_with_trailers() {
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.install();
    repo.ai_edit("f.txt", "a\n", "A\n");
    let out = repo.git(&["commit", "-q", "-a", "-m", ""]);
    assert!(
        !out.status.success(),
        "git aborts an empty message: {}",
        text(&out.stderr)
    );
    assert_eq!(repo.git_ok(&["rev-list", "--count", "HEAD"]).trim(), "1");
}

#[test]
fn worktrees_share_the_hooks_and_keep_their_own_hand_over() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\n")]);
    repo.install();
    let tree = repo.home.path().join("wt");
    repo.git_ok(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "side",
        tree.to_str().unwrap(),
    ]);
    let worktree = Repo {
        home: Home {
            dir: tempfile::tempdir().unwrap(),
        },
        dir: tree.clone(),
        transcript: repo.home.path().join("wt-transcript.jsonl"),
        counter: std::cell::Cell::new(100),
    };
    // The same ledger as the main checkout: edits in both, commits in both.
    std::fs::create_dir_all(worktree.home.home().parent().unwrap()).unwrap();
    std::fs::remove_dir_all(worktree.home.path()).unwrap();
    std::os::unix::fs::symlink(repo.home.path(), worktree.home.path()).unwrap();
    worktree.ai_edit("f.txt", "b\n", "from the worktree\n");
    repo.ai_edit("f.txt", "a\n", "from main\n");
    worktree.git_ok(&["commit", "-q", "-am", "in the worktree"]);
    repo.git_ok(&["commit", "-q", "-am", "in main"]);
    let side = worktree.note("HEAD").expect("worktree commit noted");
    assert_eq!(
        file_entry(&side, "f.txt")["lines"],
        json!([[2, 2, 0]]),
        "{side:#}"
    );
    let main = repo.note("HEAD").expect("main commit noted");
    assert_eq!(
        file_entry(&main, "f.txt")["lines"],
        json!([[1, 1, 0]]),
        "{main:#}"
    );
    assert_eq!(worktree.verify(&["HEAD~1..HEAD"]).0, 0);
}

#[test]
fn a_trailer_without_its_note_warns_and_still_checks_the_anchor() {
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.install();
    repo.ai_edit("f.txt", "a\n", "A\n");
    repo.git_ok(&["commit", "-q", "-am", "ai"]);
    // As in a CI clone that did not fetch refs/notes/hookledger.
    repo.git_ok(&["update-ref", "-d", "refs/notes/hookledger"]);
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    let commit = &report["commits"][0];
    assert!(
        commit["warnings"][0]
            .as_str()
            .unwrap()
            .contains("refs/notes/hookledger"),
        "{report:#}"
    );
    assert_eq!(commit["ai_lines"], 1, "re-derived from the ledger");
}

/// An attacker who rewrites a record and recomputes every hash after it leaves a chain that
/// verifies on its own; the commit's anchor and the signed checkpoint still catch it.
#[test]
fn a_recomputed_chain_is_caught_by_the_anchor_and_the_checkpoint() {
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.install();
    repo.ai_edit("f.txt", "a\n", "A\n");
    repo.git_ok(&["commit", "-q", "-am", "ai"]);
    let export = repo.home.path().join("shipped.ndjson");
    assert!(
        repo.hl(&["export", "-o", export.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(repo.verify(&["HEAD~1..HEAD"]).0, 0);

    let edit_seq = repo.note("HEAD").unwrap()["metadata"]["dev.hookledger"]["edits"][0]["seq"]
        .as_i64()
        .unwrap();
    let conn = rusqlite::Connection::open(repo.home.ledger()).unwrap();
    conn.execute_batch("DROP TRIGGER records_no_update;")
        .unwrap();
    let ledger_id: [u8; 16] = conn
        .query_row("SELECT ledger_id FROM ledger_meta", [], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .unwrap()
        .try_into()
        .unwrap();
    type Row = (i64, i64, String, Vec<u8>, Vec<u8>);
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT seq, ts_ns, kind, payload, prev_hash FROM records WHERE seq >= ?1 ORDER BY seq",
        )
        .unwrap()
        .query_map([edit_seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev: [u8; 32] = rows[0].4.clone().try_into().unwrap();
    for (seq, ts_ns, kind, payload, _) in rows {
        let payload = if seq == edit_seq {
            String::from_utf8(payload)
                .unwrap()
                .replace(MODEL, "claude-other")
                .into_bytes()
        } else {
            payload
        };
        let hash = hookledger::ledger::Frame {
            ledger_id: &ledger_id,
            seq: seq as u64,
            ts_ns,
            prev_hash: &prev,
            kind: &kind,
            payload: &payload,
        }
        .hash()
        .unwrap();
        conn.execute(
            "UPDATE records SET payload = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![payload, &prev[..], &hash[..], seq],
        )
        .unwrap();
        prev = hash;
    }
    drop(conn);
    // Every hash links again, but the signed checkpoints still name the old hashes: local
    // verification sees that on its own.
    let (code, local) = repo.home.verify_json();
    assert_eq!(code, 1, "{local:#}");
    assert!(
        local["problems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["code"] == "bad-checkpoint"),
        "{local:#}"
    );
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{report:#}");
    let all = report.to_string();
    assert!(
        all.contains("checkpoint-invalid") && all.contains("anchor-mismatch"),
        "{report:#}"
    );
    let (code, report) = repo.verify(&["--export", export.to_str().unwrap(), "--", "HEAD~1..HEAD"]);
    assert_eq!(
        code, 0,
        "the shipped copy still vouches for the original: {report:#}"
    );
}

#[test]
fn a_forge_squash_merge_gets_its_note_by_carry() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\nc\n")]);
    repo.install();
    repo.git_ok(&["checkout", "-q", "-b", "feature"]);
    repo.ai_edit("f.txt", "a\n", "A\n");
    repo.git_ok(&["commit", "-q", "-am", "one"]);
    repo.ai_write("g.txt", "g1\ng2\n");
    repo.git_ok(&["add", "-A"]);
    repo.git_ok(&["commit", "-q", "-m", "two"]);
    repo.git_ok(&["checkout", "-q", "main"]);
    // What the forge does, where no hook runs.
    repo.git_ok(&["merge", "-q", "--squash", "feature"]);
    repo.git_ok(&[
        "-c",
        "core.hooksPath=/dev/null",
        "commit",
        "-q",
        "-m",
        "Feature (#1)",
    ]);
    assert!(repo.note("HEAD").is_none());
    let out = repo.hl(&["git", "carry", "--json", "--from", "main..feature", "HEAD"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let carried: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(carried["ai_lines"], 3, "{carried:#}");
    let note = repo.note("HEAD").unwrap();
    assert_eq!(
        note["metadata"]["dev.hookledger"]["rewritten_from"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (code, report) = repo.verify(&["HEAD~1..HEAD"]);
    assert_eq!(code, 0, "{report:#}");
    // Nothing to carry from a range without notes.
    let out = repo.hl(&["git", "carry", "--from", "HEAD~1..HEAD~1", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn blame_marks_uncommitted_ai_lines_with_the_prompt() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\nc\n")]);
    let prompt = payload(
        "UserPromptSubmit",
        json!({"prompt": "please make b louder\nand keep a"}),
    );
    assert_no_opinion(&repo.home.hook(&prompt));
    repo.ai_edit("f.txt", "b\n", "B!\nB!!\n");
    let out = repo.hl(&["blame", "--json", "f.txt"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ai: Vec<u64> = lines
        .iter()
        .filter(|l| l["ai"] == true)
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(ai, [2, 3], "{lines:#?}");
    assert_eq!(lines[1]["model"], MODEL);
    assert_eq!(lines[1]["prompt"], "please make b louder and keep a");
    let table = text(&repo.hl(&["blame", "f.txt"]).stdout);
    assert!(
        table.contains("prompt 2e2595a4: please make b louder and keep a"),
        "{table}"
    );
    // Outside a repository, or a file that is not there: one line, exit 2.
    let out = repo.hl(&["blame", "missing.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_shim_without_the_binary_says_so_and_stops_the_commit() {
    let repo = Repo::with_files(&[("f.txt", "a\n")]);
    repo.install();
    repo.write("f.txt", b"b\n");
    let git_bin_dir = Path::new(
        &String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v git"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_owned(),
    )
    .parent()
    .unwrap()
    .to_owned();
    let empty = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(git_bin_dir.join("git"), empty.path().join("git")).unwrap();
    for tool in ["sh", "cat", "printf"] {
        if let Ok(found) = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
        {
            let found = String::from_utf8(found.stdout).unwrap();
            if found.starts_with('/') {
                let _ = std::os::unix::fs::symlink(found.trim(), empty.path().join(tool));
            }
        }
    }
    let out = repo
        .git_command(&["commit", "-q", "-am", "no binary"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no hookledger binary on PATH")
            && stderr.contains("hookledger git uninstall"),
        "{stderr}"
    );
    assert_eq!(repo.git_ok(&["rev-list", "--count", "HEAD"]).trim(), "1");
}

/// The edit index is a file of its own beside the ledger (the hooks never parse it); losing it
/// loses nothing: the next commit rebuilds it from the chained records.
#[test]
fn the_edit_index_lives_beside_the_ledger_and_rebuilds_itself() {
    let repo = Repo::with_files(&[("f.txt", "a\nb\n")]);
    repo.install();
    repo.ai_edit("f.txt", "b\n", "bee\n");
    repo.git_ok(&["add", "-A"]);
    assert!(repo.commit("first").status.success());
    let index = PathBuf::from(format!("{}.git-index", repo.home.ledger().display()));
    assert!(index.is_file(), "{}", index.display());
    let tables = |path: &Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(tables(&index), ["git_edit_index", "git_state"]);
    assert!(
        !tables(&repo.home.ledger())
            .iter()
            .any(|t| t.starts_with("git_")),
        "the ledger holds no git tables"
    );
    std::fs::remove_file(&index).unwrap();
    repo.ai_edit("f.txt", "a\n", "ay\n");
    repo.git_ok(&["add", "-A"]);
    let out = repo.commit("second");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("AI lines 1/1 added"),
        "{}",
        text(&out.stderr)
    );
    assert!(index.is_file());
}
