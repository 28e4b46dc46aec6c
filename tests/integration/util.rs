//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_hookledger");

/// A temp `HOOKLEDGER_HOME` and the commands that work on it.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("hl")
    }

    pub fn ledger(&self) -> PathBuf {
        self.home().join("ledger.db")
    }

    /// The spool directory: one file per spooling process.
    pub fn spool(&self) -> PathBuf {
        self.home().join("ledger.spool.d")
    }

    /// The single spool file of versions before the spool directory, still merged.
    pub fn legacy_spool(&self) -> PathBuf {
        self.home().join("ledger.spool")
    }

    /// Everything waiting in the spool directory, as text (files in name order).
    pub fn spool_text(&self) -> String {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.spool())
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
            .collect()
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        // The debug binary's shell analysis without its 15 ms budget: a decision must not
        // depend on how loaded the test machine is (the budget is tested in process).
        cmd.env("HOOKLEDGER_HOME", self.home())
            .env("HOOKLEDGER_ANALYSIS_BUDGET", "unlimited")
            .env_remove("HOOKLEDGER_LEDGER");
        cmd
    }

    /// Runs `hookledger hook` with `stdin`, optionally with `--event`.
    pub fn hook_raw(&self, stdin: &[u8], event: Option<&str>) -> Output {
        let mut cmd = self.command();
        cmd.arg("hook");
        if let Some(event) = event {
            cmd.args(["--event", event]);
        }
        run_with_stdin(cmd, stdin)
    }

    /// Runs `hookledger hook` with extra environment variables.
    pub fn hook_env(&self, payload: &Value, env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command();
        cmd.arg("hook").envs(env.iter().copied());
        if let Some(event) = payload["hook_event_name"].as_str() {
            cmd.args(["--event", event]);
        }
        run_with_stdin(cmd, payload.to_string().as_bytes())
    }

    pub fn hook(&self, payload: &Value) -> Output {
        let event = payload["hook_event_name"].as_str().map(str::to_owned);
        self.hook_raw(payload.to_string().as_bytes(), event.as_deref())
    }

    /// Runs a reading command (`verify`, `log`, `show`) against this ledger.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        cmd.stdin(Stdio::null());
        cmd.output().expect("run hookledger")
    }

    pub fn verify_json(&self) -> (i32, Value) {
        let out = self.run(&["verify", "--json"]);
        let code = out.status.code().unwrap_or(-1);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "verify --json printed {:?} / {:?}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        (code, report)
    }

    /// Every record as (seq, kind, payload), straight from SQLite.
    pub fn records(&self) -> Vec<(i64, String, Value)> {
        let conn = rusqlite::Connection::open_with_flags(
            self.ledger(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open ledger");
        let mut stmt = conn
            .prepare("SELECT seq, kind, payload FROM records ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| {
            let payload: Vec<u8> = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                serde_json::from_slice(&payload).unwrap_or(Value::Null),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    pub fn records_of(&self, kind: &str) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|(_, k, _)| k == kind)
            .map(|(_, _, p)| p)
            .collect()
    }

    /// Runs the sqlite3 CLI on the ledger, as an attacker or a curious user would.
    pub fn sqlite3(&self, sql: &str) -> Output {
        Command::new("sqlite3")
            .arg(self.ledger())
            .arg(sql)
            .output()
            .expect("sqlite3 CLI (apt-get install sqlite3)")
    }
}

pub fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hookledger");
    let mut pipe = child.stdin.take().expect("stdin");
    let bytes = stdin.to_vec();
    // Write on another thread: a hook that answers before reading everything must not
    // deadlock the test.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub const SESSION: &str = "a8107769-4add-44cf-ad58-c83d33b56e7d";

/// A payload shaped like Claude Code 2.1.328's, with `extra` merged in.
pub fn payload(event: &str, extra: Value) -> Value {
    let mut base = json!({
        "session_id": SESSION,
        "transcript_path": "/nonexistent/transcript.jsonl",
        "cwd": "/tmp",
        "prompt_id": "2e2595a4-3ced-4290-989a-bc6fee27fcfd",
        "permission_mode": "default",
        "hook_event_name": event,
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

pub fn pre_tool(tool: &str, input: Value, tool_use_id: &str) -> Value {
    payload(
        "PreToolUse",
        json!({"tool_name": tool, "tool_input": input, "tool_use_id": tool_use_id}),
    )
}

pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Asserts the hook answered "no opinion": exit 0 and nothing on stdout.
#[track_caller]
pub fn assert_no_opinion(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "stdout must be empty, got {:?}",
        text(&out.stdout)
    );
}

/// Asserts a one-line refusal with exit 2 and no panic trace.
#[track_caller]
pub fn assert_refused(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr:?}"
    );
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

/// A git repository in `dir` with one committed file, at fixed dates.
pub fn git_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("a.txt"), "hello\n").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "init"]);
    git(&["remote", "add", "origin", "git@github.com:Acme/widgets.git"]);
}

/// Runs the reference Python verifier (schema/verify_ledger.py) on `ledger`; `None` outside CI
/// when its modules are missing (CI installs them: .ci/run).
pub fn python_verifier(ledger: &Path) -> Option<Output> {
    let ready = Command::new("python3")
        .args(["-c", "import blake3, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs python3's blake3 and cryptography modules (.ci/run)"
        );
        eprintln!("notice: skipping the reference verifier (pip install blake3 cryptography)");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/verify_ledger.py");
    Some(
        Command::new("python3")
            .arg(script)
            .arg(ledger)
            .output()
            .expect("python3"),
    )
}

/// A temp dir that counts as a stable place for a binary: under cargo's scratch directory for
/// tests (`target/tmp`), which is neither a temporary directory nor a build profile directory.
pub fn stable_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hl-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir in CARGO_TARGET_TMPDIR")
}

/// This build's binary at `dir/bin/hookledger`: a hard link (cheap, same filesystem), or a copy.
pub fn install_binary(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let target = bin.join("hookledger");
    if std::fs::hard_link(BIN, &target).is_err() {
        std::fs::copy(BIN, &target).unwrap();
    }
    target
}

/// Writes an executable shell script.
pub fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Every file under `dir` with its bytes, for comparing trees before and after.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(path);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// The official schema packages the export lines are checked against (`.ci/run` installs both):
/// PyPI `ocsf-json-schema` (imported by python3) and npm `@elastic/ecs`, found at
/// `$HOOKLEDGER_ECS_PACKAGE` or `<crate>/.e2e-cache/elastic-ecs/node_modules/@elastic/ecs`.
pub fn ecs_package_dir() -> PathBuf {
    std::env::var_os("HOOKLEDGER_ECS_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".e2e-cache/elastic-ecs/node_modules/@elastic/ecs")
        })
}

/// Validates every line of an `ocsf` or `ecs` export against the official schema of the version
/// each line declares (tests/integration/support/validate_official.py). Returns the validator's
/// summary. A missing schema package fails the test when `CI` is set; otherwise the check is
/// skipped with a notice (`None`).
pub fn validate_official(format: &str, file: &Path) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("python3");
    cmd.arg(dir.join("tests/integration/support/validate_official.py"))
        .arg(format);
    if format == "ecs" {
        cmd.arg(ecs_package_dir());
    }
    let out = cmd.arg(file).output().expect("python3");
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    match out.status.code() {
        Some(0) => Some(report),
        Some(2) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "NOTICE: skipping the official {format} schema check (`.ci/run` installs the \
                 packages): {report}"
            );
            None
        }
        _ => panic!("{format} export is not valid against the official schema:\n{report}"),
    }
}
