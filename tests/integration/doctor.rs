//! `hookledger doctor`: a healthy install passes every check; each check, broken on purpose,
//! fails with its own message and fix and nothing else fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::claude_cli::ensure_claude;
use crate::util::*;

const CHECK_IDS: &[&str] = &[
    "binary",
    "settings-readable",
    "hooks-registered",
    "hooks-enabled",
    "hooks-matcher",
    "hooks-unique",
    "hooks-fail-closed",
    "lock-down",
    "policy-valid",
    "sandbox",
    "ledger-writable",
    "ledger-verifies",
    "signing-key",
    "spool-empty",
    "export-cursors",
    "claude-code-version",
    "git-shims",
];

/// One developer machine: a user home with Claude Code's settings and transcripts, a staged
/// system root for managed settings, a project, hookledger's home, and an installed binary.
struct Machine {
    home: Home,
    _stable: tempfile::TempDir,
    binary: PathBuf,
    path_env: String,
}

impl Machine {
    /// hookledger installed for the user, no session yet.
    fn installed() -> Self {
        let home = Home::new();
        let stable = stable_tempdir();
        let binary = install_binary(stable.path());
        let machine = Machine {
            home,
            _stable: stable,
            binary,
            path_env: "/usr/local/bin:/usr/bin:/bin".into(),
        };
        for dir in [machine.user(), machine.root(), machine.project()] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let out = machine.run(&["install", "--binary", machine.binary.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        machine
    }

    /// Installed, and one Claude Code 2.1.328 session recorded.
    fn healthy() -> Self {
        let machine = Machine::installed();
        machine.session();
        machine
    }

    fn user(&self) -> PathBuf {
        self.home.path().join("user")
    }

    fn root(&self) -> PathBuf {
        self.home.path().join("root")
    }

    fn project(&self) -> PathBuf {
        self.home.path().join("project")
    }

    fn user_settings(&self) -> PathBuf {
        self.user().join(".claude/settings.json")
    }

    fn transcript(&self) -> PathBuf {
        self.user()
            .join(".claude/projects/-project")
            .join(format!("{SESSION}.jsonl"))
    }

    fn command(&self) -> Command {
        let mut cmd = self.home.command();
        cmd.env("HOME", self.user())
            .env("PATH", &self.path_env)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("HOOKLEDGER_MANAGED_DIR")
            .env_remove("NO_COLOR")
            // Hooks and doctor give up on a locked ledger after 200 ms instead of 3 s.
            .env("HOOKLEDGER_BUSY_TIMEOUT_MS", "200")
            // The test's "stable" directory is inside the checkout, which may itself be under
            // /tmp on a CI machine: name the temporary directories explicitly.
            .env(
                "HOOKLEDGER_TEMP_DIRS",
                self.home.path().join("scratch-is-here-only"),
            )
            .current_dir(self.project());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn hook(&self, payload: &Value) -> Output {
        let mut cmd = self.command();
        cmd.args([
            "hook",
            "--event",
            payload["hook_event_name"].as_str().unwrap(),
        ]);
        run_with_stdin(cmd, payload.to_string().as_bytes())
    }

    /// A session as Claude Code 2.1.328 runs it: the transcript, then the hook events.
    fn session(&self) {
        let transcript = self.transcript();
        std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
        let lines = [
            json!({"type": "user", "sessionId": SESSION, "version": "2.1.328",
                   "message": {"role": "user", "content": "list the files"}}),
            json!({"type": "assistant", "sessionId": SESSION, "version": "2.1.328",
                   "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test-9",
                               "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]}}),
        ];
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&transcript, body).unwrap();
        let with_transcript = |mut p: Value| {
            p["transcript_path"] = json!(transcript);
            p["cwd"] = json!(self.project());
            p
        };
        for payload in [
            payload("SessionStart", json!({"source": "startup"})),
            payload("UserPromptSubmit", json!({"prompt": "list the files"})),
            pre_tool("Bash", json!({"command": "ls"}), "toolu_1"),
        ] {
            let out = self.hook(&with_transcript(payload));
            assert_no_opinion(&out);
        }
    }

    fn doctor(&self, extra: &[&str]) -> (i32, Value) {
        let out = self
            .command()
            .args(["doctor", "--json", "--root"])
            .arg(self.root())
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "doctor --json printed {:?} / {:?}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }

    /// Exactly `id` fails, in JSON and in text: the message or details say `needle`, and the
    /// text shows the same fix.
    #[track_caller]
    fn expect_only_failure(&self, extra: &[&str], id: &str, needle: &str) {
        let result = self.doctor(extra);
        assert_only_failure(&result, id, needle);
        let out = self
            .command()
            .args(["doctor", "--root"])
            .arg(self.root())
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stdout = text(&out.stdout);
        let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert_eq!(failures.len(), 1, "{stdout}");
        assert!(failures[0].starts_with(&format!("FAIL  {id} ")), "{stdout}");
        assert!(stdout.contains(needle), "{needle:?} not in {stdout}");
        let fix = check(&result.1, id)["fix"].as_str().unwrap().to_owned();
        assert!(stdout.contains(&format!("fix: {fix}")), "{stdout}");
        assert!(
            stdout.ends_with("17 checks: 16 passed, 1 failed\n"),
            "{stdout}"
        );
    }

    fn edit_user_settings(&self, change: impl FnOnce(&mut Value)) {
        edit_json(&self.user_settings(), change);
    }
}

fn edit_json(path: &Path, change: impl FnOnce(&mut Value)) {
    let mut value: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}));
    change(&mut value);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn failing(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Exactly `id` fails (exit 1), its message or details say `needle`, and it names a fix.
#[track_caller]
fn assert_only_failure(result: &(i32, Value), id: &str, needle: &str) {
    let (code, report) = result;
    assert_eq!(failing(report), [id], "{report:#}");
    assert_eq!(*code, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    let found = check(report, id);
    let details: Vec<&str> = found["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let said = format!(
        "{} {}",
        found["message"].as_str().unwrap(),
        details.join(" ")
    );
    assert!(said.contains(needle), "{needle:?} not in {found:#}");
    assert!(
        found["fix"].as_str().is_some_and(|f| f.len() > 10),
        "{found:#}"
    );
}

#[test]
fn healthy_install_passes_every_check() {
    let machine = Machine::healthy();
    let (code, report) = machine.doctor(&[]);
    assert_eq!(failing(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    assert_eq!(report["ok"], true);
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, CHECK_IDS);
    assert!(
        check(&report, "claude-code-version")["message"]
            .as_str()
            .unwrap()
            .contains("2.1.328"),
        "{report:#}"
    );
    assert!(
        check(&report, "binary")["message"]
            .as_str()
            .unwrap()
            .contains(machine.binary.to_str().unwrap())
    );

    let out = machine.run(&["doctor", "--root", machine.root().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("PASS  hooks-registered"), "{stdout}");
    assert!(
        stdout.ends_with("17 checks: 17 passed, 0 failed\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour into a pipe: {stdout:?}"
    );
}

#[test]
fn failing_check_prints_its_fix_in_text_mode() {
    let machine = Machine::healthy();
    std::fs::write(
        machine.home.home().join("policy.json"),
        "{\"version\": 1,\n \"bogus\": 1}",
    )
    .unwrap();
    let out = machine.run(&["doctor", "--root", machine.root().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL  policy-valid"), "{stdout}");
    assert!(stdout.contains("policy.json:2:"), "{stdout}");
    assert!(stdout.contains("fix: fix the file"), "{stdout}");
    assert!(
        stdout.ends_with("17 checks: 16 passed, 1 failed\n"),
        "{stdout}"
    );
}

#[test]
fn binary_missing_volatile_or_another_version() {
    let machine = Machine::healthy();
    std::fs::remove_file(&machine.binary).unwrap();
    machine.expect_only_failure(&[], "binary", "does not exist");

    // Registered straight from the build directory.
    let out = machine.run(&["install", "--binary", BIN]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    machine.expect_only_failure(&[], "binary", "cargo build directory");

    // Another build at the registered path.
    write_script(&machine.binary, "echo 'hookledger 0.0.1'");
    let out = machine.run(&["install", "--binary", machine.binary.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    machine.expect_only_failure(&[], "binary", "hookledger 0.0.1");
}

#[test]
fn binary_in_a_temporary_directory() {
    let machine = Machine::healthy();
    let scratch = machine.binary.parent().unwrap().parent().unwrap();
    let out = machine
        .command()
        .args(["doctor", "--json", "--root"])
        .arg(machine.root())
        .env("HOOKLEDGER_TEMP_DIRS", scratch)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(failing(&report), ["binary"], "{report:#}");
    assert!(
        check(&report, "binary")["details"][0]
            .as_str()
            .unwrap()
            .contains("temporary directory"),
        "{report:#}"
    );
}

#[test]
fn unparseable_settings_file() {
    let machine = Machine::healthy();
    let project_settings = machine.project().join(".claude/settings.json");
    std::fs::create_dir_all(project_settings.parent().unwrap()).unwrap();
    std::fs::write(&project_settings, "{\"permissions\": ").unwrap();
    machine.expect_only_failure(&[], "settings-readable", "not valid JSON");
}

#[test]
fn missing_event_and_a_timeout_shorter_than_the_deadline() {
    let machine = Machine::healthy();
    machine.edit_user_settings(|s| {
        s["hooks"].as_object_mut().unwrap().remove("Stop");
        s["hooks"]["PreToolUse"][0]["hooks"][0]["timeout"] = json!(2);
    });
    machine.expect_only_failure(&[], "hooks-registered", "Stop: not registered");
    machine.expect_only_failure(
        &[],
        "hooks-registered",
        "before hookledger's own 5 s deadline",
    );
}

#[test]
fn disable_all_hooks_and_managed_only() {
    let machine = Machine::healthy();
    machine.edit_user_settings(|s| s["disableAllHooks"] = json!(true));
    machine.expect_only_failure(&[], "hooks-enabled", "disableAllHooks in");
    let result = machine.doctor(&[]);
    assert!(
        check(&result.1, "hooks-enabled")["fix"]
            .as_str()
            .unwrap()
            .contains("remove `disableAllHooks`")
    );
    // A project that says false overrides the user's true.
    edit_json(
        &machine.project().join(".claude/settings.local.json"),
        |s| s["disableAllHooks"] = json!(false),
    );
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");

    let managed = machine.root().join("etc/claude-code/managed-settings.json");
    edit_json(&managed, |s| s["allowManagedHooksOnly"] = json!(true));
    machine.expect_only_failure(&[], "hooks-enabled", "allowManagedHooksOnly in");
    let result = machine.doctor(&[]);
    assert!(
        check(&result.1, "hooks-enabled")["fix"]
            .as_str()
            .unwrap()
            .contains("install --managed")
    );

    // Registered in managed settings too (same binary, so Claude Code runs it once): fixed.
    let out = machine.run(&[
        "install",
        "--managed",
        "--root",
        machine.root().to_str().unwrap(),
        "--binary",
        machine.binary.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
}

#[test]
fn narrowed_matcher() {
    let machine = Machine::healthy();
    machine.edit_user_settings(|s| s["hooks"]["PreToolUse"][0]["matcher"] = json!("Bash"));
    machine.expect_only_failure(&[], "hooks-matcher", "matcher \"Bash\"");
}

#[test]
fn two_binaries_in_two_layers() {
    let machine = Machine::healthy();
    let other = stable_tempdir();
    let other_binary = install_binary(other.path());
    let out = machine.run(&[
        "install",
        "--managed",
        "--root",
        machine.root().to_str().unwrap(),
        "--binary",
        other_binary.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    machine.expect_only_failure(&[], "hooks-unique", other_binary.to_str().unwrap());
}

#[test]
fn invalid_policy() {
    let machine = Machine::healthy();
    std::fs::write(
        machine.home.home().join("policy.json"),
        "{\n  \"tools\": {\"deny\": \"WebFetch\"}\n}",
    )
    .unwrap();
    machine.expect_only_failure(&[], "policy-valid", "policy.json:2:");
}

#[test]
fn ledger_directory_cannot_be_created() {
    let machine = Machine::installed();
    // The session's transcript still shows the Claude Code version.
    let transcript = machine.transcript();
    std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
    std::fs::write(&transcript, "{\"type\":\"user\",\"version\":\"2.1.328\"}\n").unwrap();
    std::fs::write(machine.home.path().join("a-file"), "x").unwrap();
    let ledger = machine.home.path().join("a-file/hl/ledger.db");
    machine.expect_only_failure(
        &["--ledger", ledger.to_str().unwrap()],
        "ledger-writable",
        "a-file is not a directory",
    );
}

#[test]
fn locked_ledger_spools_and_doctor_says_so_until_merged() {
    let machine = Machine::healthy();
    let holder = rusqlite::Connection::open(machine.home.ledger()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The hook waits for the lock as long as it may, then spools.
    let out = machine.hook(&payload("Stop", json!({"stop_hook_active": false})));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, report) = machine.doctor(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        failing(&report),
        ["ledger-writable", "spool-empty"],
        "{report:#}"
    );
    assert!(
        check(&report, "ledger-writable")["message"]
            .as_str()
            .unwrap()
            .contains("stayed locked for 200 ms"),
        "{report:#}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    machine.expect_only_failure(&[], "spool-empty", "1 record(s) wait");
    // The next event merges the spool.
    assert_no_opinion(&machine.hook(&payload("Notification", json!({"message": "hi"}))));
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
}

#[test]
fn tampered_ledger() {
    let machine = Machine::healthy();
    let out = machine.home.sqlite3(
        "DROP TRIGGER records_no_update; UPDATE records SET payload = CAST('{\"prompt\":\"edited\"}' AS BLOB) WHERE seq = 3;",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    machine.expect_only_failure(&[], "ledger-verifies", "chain is broken");

    let machine = Machine::healthy();
    let out = machine.home.sqlite3("DROP TRIGGER records_no_delete;");
    assert!(out.status.success());
    machine.expect_only_failure(&[], "ledger-verifies", "append-only triggers were dropped");
}

#[test]
fn stale_export_cursor() {
    let machine = Machine::healthy();
    let batch = machine.home.path().join("batch.ndjson");
    for args in [
        vec!["export", "--sink", "siem", "-o", batch.to_str().unwrap()],
        vec!["export", "--sink", "siem", "--ack"],
    ] {
        let out = machine.run(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
    // New records, and the shipper has not run for three days.
    assert_no_opinion(&machine.hook(&payload("Notification", json!({"message": "hi"}))));
    let three_days_ns: i64 = 3 * 86_400 * 1_000_000_000;
    let out = machine.home.sqlite3(&format!(
        "UPDATE export_cursor SET updated_ns = updated_ns - {three_days_ns} WHERE sink = 'siem';"
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    machine.expect_only_failure(&[], "export-cursors", "siem: acknowledged through");
    machine.expect_only_failure(&[], "export-cursors", "3 d ago");
    let (code, report) = machine.doctor(&["--stale-after", "7d"]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
    let out = machine.run(&["doctor", "--stale-after", "soon"]);
    assert_refused(&out, "cannot read duration");
}

#[test]
fn claude_code_too_old_or_never_seen() {
    let machine = Machine::healthy();
    let bin = machine.home.path().join("old-claude");
    write_script(&bin.join("claude"), "echo '2.1.100 (Claude Code)'");
    let mut machine = machine;
    machine.path_env = format!("{}:/usr/bin:/bin", bin.display());
    machine.expect_only_failure(&[], "claude-code-version", "older than 2.1.139");

    let fresh = Machine::installed();
    fresh.expect_only_failure(&[], "claude-code-version", "no Claude Code seen");
}

/// The real pinned CLI on PATH answers `claude --version` for a machine without sessions.
#[test]
fn real_claude_code_on_path() {
    let Some(claude) = ensure_claude() else {
        return;
    };
    let mut machine = Machine::installed();
    machine.path_env = format!("{}:/usr/bin:/bin", claude.parent().unwrap().display());
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
    assert!(
        check(&report, "claude-code-version")["message"]
            .as_str()
            .unwrap()
            .contains(crate::support::claude_cli::CURRENT_VERSION)
    );
}

#[test]
fn git_shims_missing_from_the_project_repository() {
    let machine = Machine::healthy();
    let project = machine.project();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&project)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    // The overall verdict does not depend on the directory doctor runs in: a repository's
    // shims are checked only where asked (--repo).
    let (code, report) = machine.doctor(&[]);
    assert_eq!(failing(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    assert!(
        check(&report, "git-shims")["message"]
            .as_str()
            .unwrap()
            .contains("--repo"),
        "{report:#}"
    );
    let repo = project.to_str().unwrap();
    machine.expect_only_failure(&["--repo", repo], "git-shims", "not active");
    let elsewhere = machine.home.path().join("not-a-repo");
    std::fs::create_dir_all(&elsewhere).unwrap();
    machine.expect_only_failure(
        &["--repo", elsewhere.to_str().unwrap()],
        "git-shims",
        "not in a git repository",
    );
    let out = machine.run(&["git", "install"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, report) = machine.doctor(&["--repo", repo]);
    assert_eq!(failing(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    assert!(
        check(&report, "git-shims")["message"]
            .as_str()
            .unwrap()
            .contains("all 4 git shims are active"),
        "{report:#}"
    );
}

#[test]
fn gating_registrations_without_on_failure_block() {
    let machine = Machine::healthy();
    machine.edit_user_settings(|s| {
        let handler = &mut s["hooks"]["PreToolUse"][0]["hooks"][0];
        handler.as_object_mut().unwrap().remove("onFailure");
        s["hooks"]["PreSkillShellCommand"][0]["hooks"][0]["onFailure"] = json!("continue");
    });
    machine.expect_only_failure(&[], "hooks-fail-closed", "PreToolUse in user settings");
    let (_, report) = machine.doctor(&[]);
    let details = check(&report, "hooks-fail-closed")["details"].to_string();
    assert!(details.contains("onFailure \\\"continue\\\""), "{details}");
}

#[test]
fn lock_down_is_reported_setting_by_setting() {
    let machine = Machine::healthy();
    let (_, report) = machine.doctor(&[]);
    let lock = check(&report, "lock-down");
    assert_eq!(lock["status"], "pass");
    assert!(
        lock["message"]
            .as_str()
            .unwrap()
            .starts_with("not locked down")
    );
    let out = machine.run(&[
        "install",
        "--managed",
        "--lock-hooks",
        "--root",
        machine.root().to_str().unwrap(),
        "--binary",
        machine.binary.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
    let lock = check(&report, "lock-down");
    assert!(
        lock["message"].as_str().unwrap().starts_with("locked down"),
        "{lock:#}"
    );
    let details = lock["details"].to_string();
    for key in [
        "allowManagedHooksOnly: on",
        "pluginConfigs.cc-plugin-sec-default@builtin.options.allowManagedModsOnly: on",
        "disableSideloadFlags: on",
        "disableCommandPluginSources: on",
        "disableSkillShellExecution: off",
    ] {
        assert!(details.contains(key), "{key}: {details}");
    }
}

/// A managed policy that requires the OS sandbox: doctor fails until managed settings enforce
/// it, this user's hookledger directory is covered, and bubblewrap and socat are there.
#[cfg(target_os = "linux")]
#[test]
fn sandbox_required_by_the_policy() {
    let mut machine = Machine::healthy();
    let policy_dir = machine.root().join("etc/hookledger");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(
        policy_dir.join("policy.json"),
        r#"{"version": 1, "sandbox": "require"}"#,
    )
    .unwrap();
    machine.expect_only_failure(&[], "sandbox", "not enforced by managed settings");
    let out = machine.run(&[
        "install",
        "--managed",
        "--root",
        machine.root().to_str().unwrap(),
        "--binary",
        machine.binary.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The install wrote the per-user default; this user's HOOKLEDGER_HOME is elsewhere.
    machine.expect_only_failure(&[], "sandbox", "is not in sandbox.filesystem.denyWrite");
    edit_json(
        &machine
            .root()
            .join("etc/claude-code/managed-settings.d/60-relocated-ledgers.json"),
        |s| s["sandbox"] = json!({"filesystem": {"denyWrite": [machine.home.home()]}}),
    );
    let (code, report) = machine.doctor(&[]);
    assert_eq!((code, failing(&report)), (0, vec![]), "{report:#}");
    let sandbox = check(&report, "sandbox");
    assert!(
        sandbox["message"]
            .as_str()
            .unwrap()
            .starts_with("required by the managed policy, enforced"),
        "{sandbox:#}"
    );
    assert!(
        sandbox["details"]
            .to_string()
            .contains("network: not configured")
    );

    // Without bubblewrap on PATH, Claude Code would refuse to start.
    let bin = machine.home.path().join("no-bwrap");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "socat"] {
        if let Ok(found) = which(tool) {
            std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
        }
    }
    machine.path_env = bin.display().to_string();
    machine.expect_only_failure(&[], "sandbox", "bubblewrap (bwrap) is not on PATH");
}

fn which(program: &str) -> Result<PathBuf, ()> {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists())
        .ok_or(())
}
