//! End to end with the real Claude Code CLI (pinned, headless) against a scripted fake of the
//! Messages API on loopback: Claude Code really calls our hooks, really applies the edits and
//! really writes the transcript.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::claude_cli::{
    CURRENT_VERSION, ClaudeOpts, PREVIOUS_VERSION, default_settings, ensure_claude_version,
    run_claude, temp_git_repo, with_default_permissions,
};
use crate::support::fake_api::{FakeApi, Script, Turn};
use crate::util::*;

const MODEL: &str = "claude-test-opus-9-20261101";

/// One test per Claude Code version in the matrix for a scenario that applies to both: the
/// current release and the previous one, which fleets still run.
macro_rules! on_both_versions {
    ($scenario:ident => $previous:ident, $current:ident) => {
        #[test]
        fn $previous() {
            $scenario(PREVIOUS_VERSION);
        }
        #[test]
        fn $current() {
            $scenario(CURRENT_VERSION);
        }
    };
}

/// Our own registration snippet, as `hookledger install` would merge it, plus allow rules so
/// the tools run unattended in `-p` mode.
fn hookledger_settings(home: &Home) -> Value {
    let out = home.run(&[
        "install",
        "--dry-run",
        "--settings",
        "/nonexistent/settings.json",
        "--binary",
        BIN,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    with_default_permissions(
        serde_json::from_slice(&out.stdout).expect("install --dry-run prints JSON"),
    )
}

on_both_versions!(session_is_recorded_and_verifies => real_claude_code_session_is_recorded_and_verifies_2_1_328, real_claude_code_session_is_recorded_and_verifies_2_1_332);

fn session_is_recorded_and_verifies(version: &str) {
    let Some(claude) = ensure_claude_version(version) else {
        return;
    };
    let home = Home::new();
    let project =
        temp_git_repo("# Demo project\n\nThis is the demo readme.\nIt has a few lines.\n");
    let readme = project.path().join("README.md");
    let new_file = project.path().join("src/new.txt");
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Edit", json!({"file_path": readme, "old_string": "the demo readme", "new_string": "the updated demo readme"})))
            .turn(Turn::tool("Write", json!({"file_path": new_file, "content": "line one\nline two\nline three\n"})))
            .turn(Turn::tool("Bash", json!({"command": "cat README.md", "description": "Show the readme"})))
            .turn(Turn::tool("Agent", json!({"description": "List files", "subagent_type": "general-purpose", "prompt": "SUBAGENT-E2E list the files", "run_in_background": false})))
            .turn(Turn::text("All done."))
            .subagent("SUBAGENT-E2E", vec![Turn::tool("Bash", json!({"command": "ls", "description": "List"})), Turn::text("Two files.")]),
    );
    let mut opts = ClaudeOpts::new(
        &claude,
        project.path(),
        api.port(),
        "please update the readme",
    );
    opts.settings = hookledger_settings(&home);
    opts.extra_env
        .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());

    // The edits really happened.
    let readme_now = std::fs::read(&readme).unwrap();
    assert!(String::from_utf8_lossy(&readme_now).contains("the updated demo readme"));
    let new_now = std::fs::read(&new_file).unwrap();

    if std::env::var_os("E2E_DUMP").is_some() {
        for (seq, kind, p) in home.records() {
            eprintln!(
                "{seq:>3} {kind:<16} {:<22} {:<28} {:<24} {}",
                p["tool"].as_str().unwrap_or(""),
                p["model"].as_str().unwrap_or("-"),
                p["model_source"].as_str().unwrap_or(""),
                p["claude_code_version"].as_str().unwrap_or("-")
            );
        }
    }
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["spool_pending"], 0);
    let kinds: Vec<String> = home.records().into_iter().map(|(_, k, _)| k).collect();
    for kind in [
        "genesis",
        "session-start",
        "prompt",
        "tool-call",
        "edit",
        "tool-result",
        "subagent-start",
        "subagent-stop",
        "stop",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} record in {kinds:?}"
        );
    }

    let prompt = home.records_of("prompt").remove(0);
    assert_eq!(prompt["prompt"], "please update the readme");
    let edits = home.records_of("edit");
    assert_eq!(edits.len(), 2, "{edits:#?}");
    let edit = edits.iter().find(|e| e["tool"] == "Edit").unwrap();
    assert_eq!(edit["path"], readme.display().to_string());
    assert_eq!(edit["repository"]["relative_path"], "README.md");
    assert_eq!(
        edit["after_blake3"],
        blake3_hex(&readme_now),
        "after-hash is the file on disk"
    );
    assert_eq!(
        edit["before_blake3"],
        blake3_hex(b"# Demo project\n\nThis is the demo readme.\nIt has a few lines.\n")
    );
    let lines = edit["hunks"][0]["lines"].as_array().unwrap();
    assert!(
        lines.contains(&json!("-This is the demo readme.")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&json!("+This is the updated demo readme.")),
        "{lines:?}"
    );
    assert_eq!(
        (edit["lines_added"].as_u64(), edit["lines_removed"].as_u64()),
        (Some(1), Some(1))
    );
    let write = edits.iter().find(|e| e["tool"] == "Write").unwrap();
    assert_eq!(write["change"], "create");
    assert_eq!(write["repository"]["relative_path"], "src/new.txt");
    assert_eq!(write["after_blake3"], blake3_hex(&new_now));
    assert_eq!(
        write["hunks"][0]["lines"],
        json!(["+line one", "+line two", "+line three"])
    );

    // The exact model id the fake API reported. A PreToolUse hook usually runs before Claude
    // Code flushes the entry for its own call, so the authority is the end-of-turn attestation
    // (`tool_models` on stop/subagent-stop); records carry the best evidence at their time.
    let attestations: Vec<Value> = ["stop", "subagent-stop"]
        .iter()
        .flat_map(|k| home.records_of(k))
        .flat_map(|r| r["tool_models"].as_array().cloned().unwrap_or_default())
        .collect();
    let attested = |id: &Value| {
        attestations
            .iter()
            .find(|a| a["tool_use_id"] == *id)
            .map(|a| a["model"].clone())
    };
    let calls = home.records_of("tool-call");
    assert_eq!(
        calls.len(),
        5,
        "Edit, Write, Bash, Agent and the subagent's Bash"
    );
    for call in &calls {
        assert_eq!(
            attested(&call["tool_use_id"]),
            Some(json!(MODEL)),
            "{call:#}"
        );
        assert!(
            call["model"] == MODEL || call["model_source"] == "unknown",
            "a guess must not name another model: {call:#}"
        );
    }
    for edit in &edits {
        assert_eq!(
            attested(&edit["tool_use_id"]),
            Some(json!(MODEL)),
            "{edit:#}"
        );
        assert_eq!(
            edit["model"], MODEL,
            "by PostToolUse the call's own entry is on disk: {edit:#}"
        );
        assert_eq!(edit["claude_code_version"], version);
    }
    let stop = home.records_of("stop").remove(0);
    assert_eq!(
        stop["prompt_id"], prompt["prompt_id"],
        "the stop record closes the prompt's turn"
    );
    assert_eq!(stop["model"], MODEL);
    assert_eq!(stop["claude_code_version"], version);
    // The version comes from the transcript, which exists by the first edit at the latest
    // (its PostToolUse waits for the flush): every later record carries it.
    let records = home.records();
    let first_edit = records
        .iter()
        .find(|(_, k, _)| k == "edit")
        .map(|(seq, _, _)| *seq)
        .unwrap();
    for (seq, kind, record) in &records {
        if *seq > first_edit
            && ["prompt", "tool-call", "edit", "tool-result", "stop"].contains(&kind.as_str())
        {
            assert_eq!(record["claude_code_version"], version, "seq {seq} {kind}");
        }
    }

    // The subagent's own tool call is attributed to the subagent.
    let sub_call = calls
        .iter()
        .find(|c| c["agent"]["type"] == "general-purpose")
        .expect("subagent tool call recorded");
    assert_eq!(sub_call["input"]["command"], "ls");
    assert_eq!(sub_call["model"], MODEL);
    let bash = calls
        .iter()
        .find(|c| c["input"]["command"] == "cat README.md")
        .unwrap();
    assert_eq!(bash["decision"]["rule"], "no-policy");

    // `log` shows the session to a reviewer.
    let table = text(&home.run(&["log", "--kind", "edit"]).stdout);
    assert!(
        table.contains("README.md") && table.contains("new.txt"),
        "{table}"
    );
    assert!(Path::new(&home.ledger()).exists());

    // The session leaves the machine: exported (native and ECS) and verified as a receiver
    // would, ending in a signed checkpoint that covers everything the session recorded.
    let native = project.path().join("session.ndjson");
    let ecs = project.path().join("session.ecs.ndjson");
    for (file, format) in [(&native, "native"), (&ecs, "ecs")] {
        let out = home.run(&["export", "--format", format, "-o", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = home.run(&["verify-export", "--json", file.to_str().unwrap()]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {report:#}");
        let ledger = &report["ledgers"][0];
        assert_eq!(ledger["first_seq"], 1);
        assert!(
            ledger["checkpoints_verified"].as_u64().unwrap() >= 1,
            "{report:#}"
        );
        assert_eq!(
            ledger["last_checkpoint"]["seq"].as_u64().unwrap() + 1,
            ledger["last_seq"].as_u64().unwrap(),
            "the export's checkpoint covers the record before it"
        );
    }
    let exported: Vec<Value> = std::fs::read_to_string(&ecs)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let edit_lines: Vec<&Value> = exported
        .iter()
        .filter(|l| l["event"]["action"] == "edit")
        .collect();
    assert_eq!(edit_lines.len(), 2);
    assert!(
        edit_lines
            .iter()
            .all(|l| l["gen_ai"]["response"]["model"] == MODEL)
    );
    let (_, local) = home.verify_json();
    assert_eq!(
        exported.len() as u64,
        local["records"].as_u64().unwrap(),
        "every record of the ledger was exported"
    );
    let against = home.run(&[
        "verify",
        "--against",
        native.to_str().unwrap(),
        ecs.to_str().unwrap(),
    ]);
    assert!(against.status.success(), "{}", text(&against.stdout));
}

on_both_versions!(denials_leave_files_untouched => real_claude_code_denials_leave_files_untouched_2_1_328, real_claude_code_denials_leave_files_untouched_2_1_332);

/// A managed policy in force: Claude Code asks for an Edit of a workflow file and a Bash write
/// to it, and both are refused by the hook and never happen; the ledger names the rules. A
/// prompt carrying a cloud key is blocked before the model sees it.
fn denials_leave_files_untouched(version: &str) {
    let Some(claude) = ensure_claude_version(version) else {
        return;
    };
    let home = Home::new();
    let managed = tempfile::tempdir().unwrap();
    std::fs::write(
        managed.path().join("policy.json"),
        json!({
            "version": 1,
            "unanalyzable": "ask",
            "paths": {"deny_read": ["**/.env"], "deny_write": [".github/workflows/**"]},
            "prompts": {"secrets": "block", "store": "redacted"}
        })
        .to_string(),
    )
    .unwrap();
    let project = temp_git_repo("# Demo\n");
    let workflow = project.path().join(".github/workflows/ci.yml");
    std::fs::create_dir_all(workflow.parent().unwrap()).unwrap();
    let original = "on: push\njobs: {}\n";
    std::fs::write(&workflow, original).unwrap();
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Edit", json!({"file_path": workflow, "old_string": "on: push", "new_string": "on: pull_request_target"})))
            .turn(Turn::tool("Bash", json!({"command": "cd .github && echo 'on: workflow_dispatch' > workflows/ci.yml", "description": "Rewrite CI"})))
            .turn(Turn::text("Both were refused.")),
    );
    let env = |opts: &mut ClaudeOpts| {
        opts.settings = hookledger_settings(&home);
        opts.extra_env
            .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
        opts.extra_env.push((
            "HOOKLEDGER_MANAGED_DIR".into(),
            managed.path().display().to_string(),
        ));
    };
    let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), "harden the CI");
    env(&mut opts);
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());

    assert_eq!(
        std::fs::read_to_string(&workflow).unwrap(),
        original,
        "neither the Edit nor the Bash write reached the file"
    );
    let calls = home.records_of("tool-call");
    let edit = calls
        .iter()
        .find(|c| c["tool"] == "Edit")
        .expect("Edit recorded");
    assert_eq!(edit["decision"]["action"], "deny", "{edit:#}");
    assert_eq!(edit["decision"]["rule"], "path-deny-write");
    assert_eq!(edit["decision"]["layer"], "managed");
    let bash = calls
        .iter()
        .find(|c| c["tool"] == "Bash")
        .expect("Bash recorded");
    assert_eq!(bash["decision"]["action"], "deny", "{bash:#}");
    assert_eq!(bash["decision"]["rule"], "path-deny-write");
    assert_eq!(bash["decision"]["pattern"], ".github/workflows/**");
    // The model was told why, in one line.
    for id in [&edit["tool_use_id"], &bash["tool_use_id"]] {
        let seen = api
            .tool_result(id.as_str().unwrap())
            .expect("the refusal went back to the model");
        assert!(seen.is_error, "{seen:?}");
        assert!(seen.text.contains("path-deny-write"), "{}", seen.text);
    }
    assert!(home.records_of("edit").is_empty(), "no edit was accepted");

    // A prompt carrying an AWS key never reaches the model and is not stored.
    let key = "AKIAQ3EGRZLN5XKT7WPM";
    let requests_before = api.requests().len();
    let mut opts = ClaudeOpts::new(
        &claude,
        project.path(),
        api.port(),
        &format!("deploy with access key {key} please"),
    );
    env(&mut opts);
    let run = run_claude(&opts);
    assert!(run.success(), "{}", run.describe());
    let result = run.json.as_ref().map(|j| j.to_string()).unwrap_or_default();
    assert!(
        result.contains("blocked") || run.stdout.contains("prompt-secret"),
        "{}",
        run.describe()
    );
    assert!(
        api.requests()[requests_before..]
            .iter()
            .all(|r| !r.body.to_string().contains(key)),
        "the key reached the API"
    );
    let prompts = home.records_of("prompt");
    let blocked = prompts.last().expect("prompt recorded");
    assert_eq!(blocked["decision"]["rule"], "prompt-secret", "{blocked:#}");
    assert_eq!(blocked["decision"]["action"], "deny");
    let ledger_bytes = std::fs::read(home.ledger()).unwrap();
    assert!(
        !String::from_utf8_lossy(&ledger_bytes).contains(key),
        "the key is not in the ledger"
    );
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
}

on_both_versions!(on_a_fresh_install_then_the_report => real_claude_code_on_a_fresh_install_then_the_report_2_1_328, real_claude_code_on_a_fresh_install_then_the_report_2_1_332);

/// A fresh machine: `install.sh` puts the binary in `~/.local/bin` and registers the hooks in
/// `~/.claude/settings.json`; the real Claude Code then runs on that install alone (no hook
/// settings of the test's own), and `hookledger report` turns the session into the auditor's
/// pack. The HTML is rendered by headless Chromium; the JSON numbers are the session's.
fn on_a_fresh_install_then_the_report(version: &str) {
    let Some(claude) = ensure_claude_version(version) else {
        return;
    };
    let machine = stable_tempdir();
    let home_dir = machine.path().join("home");
    std::fs::create_dir_all(&home_dir).unwrap();
    let install = std::process::Command::new("/bin/sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
        .args(["--binary", BIN])
        .env_clear()
        .env("HOME", &home_dir)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(&home_dir)
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}{}",
        text(&install.stdout),
        text(&install.stderr)
    );
    let installed = home_dir.join(".local/bin/hookledger");
    let settings: Value =
        serde_json::from_slice(&std::fs::read(home_dir.join(".claude/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        installed.display().to_string(),
        "the hooks run the installed binary"
    );
    // The user's own policy: .env files are not for the agent.
    let data = home_dir.join(".local/share/hookledger");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}}"#,
    )
    .unwrap();

    let project = temp_git_repo("# Demo\n\nThe readme.\n");
    let readme = project.path().join("README.md");
    std::fs::write(project.path().join(".env"), "TOKEN=do-not-read\n").unwrap();
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Edit", json!({"file_path": readme, "old_string": "The readme.", "new_string": "The better readme."})))
            .turn(Turn::tool("Read", json!({"file_path": project.path().join(".env")})))
            .turn(Turn::tool("Bash", json!({"command": "git status --short", "description": "Status"})))
            .turn(Turn::text("Done.")),
    );
    let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), "improve the readme");
    opts.home = Some(home_dir.clone());
    opts.settings = default_settings();
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());
    assert!(
        std::fs::read_to_string(&readme)
            .unwrap()
            .contains("The better readme.")
    );
    assert!(
        api.requests()
            .iter()
            .all(|r| !r.body.to_string().contains("do-not-read")),
        "the refused read never reached the model"
    );

    let hookledger = |args: &[&str]| {
        std::process::Command::new(&installed)
            .args(args)
            .env_clear()
            .env("HOME", &home_dir)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap()
    };
    let out_dir = machine.path();
    let json_file = out_dir.join("report.json");
    let html_file = out_dir.join("report.html");
    for file in [&json_file, &html_file] {
        let out = hookledger(&[
            "report",
            "--since",
            "1d",
            "--no-record",
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let report: Value = serde_json::from_slice(&std::fs::read(&json_file).unwrap()).unwrap();
    let totals = &report["totals"];
    assert_eq!(totals["sessions"], 1, "{report:#}");
    assert_eq!(totals["prompts"], 1);
    assert_eq!(totals["tool_calls"], 3, "Edit, Read and Bash");
    assert_eq!(totals["edits"], 1);
    assert_eq!(totals["denied"], 1);
    assert_eq!(totals["lines_added"], 1);
    assert_eq!(report["decisions"]["denied"][0]["rule"], "path-deny-read");
    assert_eq!(report["decisions"]["denied"][0]["tool"], "Read");
    assert_eq!(
        report["models"][0]["model"], MODEL,
        "{:#}",
        report["models"]
    );
    assert_eq!(report["models"][0]["tool_calls"], 3);
    assert_eq!(report["models"][0]["edits"], 1);
    assert_eq!(report["claude_code_versions"][0]["version"], version);
    let edits = &report["edits_by_repository"][0];
    assert_eq!(edits["edits"], 1);
    assert_eq!(edits["models"], json!([MODEL]));
    assert_eq!(report["integrity"]["intact"], true);
    // The report's numbers are the ledger's.
    let ledger = data.join("ledger.db");
    let conn =
        rusqlite::Connection::open_with_flags(&ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let count = |kind: &str| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM records WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(totals["tool_calls"], count("tool-call"));
    assert_eq!(totals["edits"], count("edit"));
    assert_eq!(totals["prompts"], count("prompt"));

    render_with_chromium(&html_file, &out_dir.join("report.png"));
}

/// Renders `html` to a PNG with headless Chromium (Debian's `chromium`), as an auditor's
/// browser would. Outside CI a missing Chromium skips this with a notice.
fn render_with_chromium(html: &Path, png: &Path) {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs chromium (.ci/run)"
        );
        eprintln!("notice: skipping the HTML rendering (apt-get install chromium)");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 3000));
    // A blank page compresses to almost nothing; a rendered report with charts does not.
    assert!(
        bytes.len() > 40_000,
        "{} bytes: the page rendered nearly empty",
        bytes.len()
    );
}

on_both_versions!(edits_committed_through_the_git_shims => real_claude_code_edits_committed_through_the_git_shims_2_1_328, real_claude_code_edits_committed_through_the_git_shims_2_1_332);

/// Real Claude Code edits a repository, then the developer commits through hookledger's git
/// shims: the commit carries the anchor trailer and the note, `git verify` passes, and fails
/// once the ledger is altered.
fn edits_committed_through_the_git_shims(version: &str) {
    let Some(claude) = ensure_claude_version(version) else {
        return;
    };
    let home = Home::new();
    let project =
        temp_git_repo("# Demo project\n\nThis is the demo readme.\nIt has a few lines.\n");
    let dir = project.path();
    std::fs::write(dir.join("win.txt"), "one\r\ntwo\r\nthree\r\n").unwrap();
    crate::support::claude_cli::git(dir, &["add", "-A"]);
    crate::support::claude_cli::git(dir, &["commit", "-q", "-m", "crlf file"]);
    let readme = dir.join("README.md");
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Edit", json!({"file_path": readme, "old_string": "It has a few lines.", "new_string": "It has a few lines.\nClaude added this one.\nAnd this one."})))
            .turn(Turn::tool("Read", json!({"file_path": dir.join("win.txt")})))
            .turn(Turn::tool("Edit", json!({"file_path": dir.join("win.txt"), "old_string": "two", "new_string": "TWO"})))
            .turn(Turn::tool("Write", json!({"file_path": dir.join("src/lib.rs"), "content": "pub fn answer() -> u32 {\n    42\n}\n"})))
            .turn(Turn::text("Done.")),
    );
    let mut opts = ClaudeOpts::new(&claude, dir, api.port(), "extend the readme");
    opts.settings = hookledger_settings(&home);
    opts.extra_env
        .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());
    assert_eq!(home.records_of("edit").len(), 3, "three accepted edits");

    let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
    let git = |args: &[&str]| {
        let mut cmd = std::process::Command::new("git");
        cmd.args(args).current_dir(dir);
        for (k, v) in crate::support::claude_cli::GIT_ENV {
            cmd.env(k, v);
        }
        cmd.env(
            "PATH",
            format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .env("HOOKLEDGER_HOME", home.home())
        .env_remove("HOOKLEDGER_LEDGER");
        let out = cmd.output().expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    };
    let install = std::process::Command::new(BIN)
        .args(["git", "install", "--repo"])
        .arg(dir)
        .env("HOOKLEDGER_HOME", home.home())
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", text(&install.stderr));
    git(&["add", "-A"]);
    let commit = git(&["commit", "-m", "Extend the readme"]);
    let summary = text(&commit.stderr);
    assert!(summary.contains("AI lines 6/6 added"), "{summary}");
    assert!(summary.contains(MODEL), "{summary}");

    let message = text(&git(&["log", "-1", "--format=%B"]).stdout);
    assert!(
        message.lines().any(|l| l.starts_with("AI-Ledger: ")),
        "{message}"
    );
    let note: Value =
        serde_json::from_slice(&git(&["notes", "--ref", "hookledger", "show", "HEAD"]).stdout)
            .unwrap();
    let meta = &note["metadata"]["dev.hookledger"];
    assert_eq!(meta["summary"]["ai_lines"], 6, "{note:#}");
    assert_eq!(meta["summary"]["models"], json!([MODEL]));
    let files = meta["files"].as_array().unwrap();
    for (path, ai) in [("README.md", 2), ("win.txt", 1), ("src/lib.rs", 3)] {
        let file = files
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path}: {note:#}"));
        assert_eq!(file["ai_lines"], ai, "{file:#}");
        assert_eq!(file["fidelity"], "exact", "{file:#}");
    }
    assert_eq!(home.records_of("commit").len(), 1);

    let verify = |expect: i32| {
        let out = std::process::Command::new(BIN)
            .args(["git", "verify", "--json", "HEAD~1..HEAD"])
            .current_dir(dir)
            .env("HOOKLEDGER_HOME", home.home())
            .output()
            .unwrap();
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out.stderr)));
        assert_eq!(out.status.code(), Some(expect), "{report:#}");
        report
    };
    let report = verify(0);
    assert_eq!(report["commits"][0]["status"], "ok");

    // Someone rewrites the model of the README edit in the ledger.
    let seq = meta["edits"][0]["seq"].as_i64().unwrap();
    let out = home.sqlite3(&format!(
        "DROP TRIGGER records_no_update; UPDATE records SET payload = CAST(replace(CAST(payload AS TEXT), '{MODEL}', 'claude-other') AS BLOB) WHERE seq = {seq};"
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = verify(1);
    let problems = report.to_string();
    assert!(
        problems.contains("ledger-broken") && problems.contains("edit-mismatch"),
        "{report:#}"
    );
}

/// Records of the ledger at `ledger`, in order.
fn ledger_records(ledger: &Path) -> Vec<(String, Value)> {
    let conn =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, payload FROM records ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        let payload: Vec<u8> = r.get(1)?;
        Ok((
            r.get(0)?,
            serde_json::from_slice(&payload).unwrap_or(Value::Null),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The scripted Bash calls' results as the model received them, by command.
fn bash_results(api: &FakeApi) -> Vec<(String, crate::support::fake_api::ToolResultSeen)> {
    api.emitted_tool_uses()
        .into_iter()
        .filter(|t| t.name == "Bash")
        .filter_map(|t| {
            let seen = api.tool_result(&t.id)?;
            Some((t.input["command"].as_str().unwrap_or("").to_owned(), seen))
        })
        .collect()
}

/// The OS layer. A managed install with `--sandbox` is staged under a root; the drop-in it
/// writes there is passed to the real Claude Code, byte for byte, through `--settings` (the
/// test must not write the machine's /etc/claude-code, and Claude Code 2.1.332 has no switch
/// to read managed settings from elsewhere; `--settings` settings are honoured the same way
/// for the sandbox, hooks and permission rules). Claude Code starts in the user's home, so
/// hookledger's directory is inside the directory sandboxed commands may write, and only the
/// compiled denials protect it. The hook is told to let opaque commands through
/// (`unanalyzable: allow`, the default managed policy's choice), so what stops them is the OS.
#[test]
fn real_claude_code_in_the_managed_sandbox() {
    let Some(claude) = ensure_claude_version(CURRENT_VERSION) else {
        return;
    };
    // Not under /tmp: the sandbox gives commands a private /tmp.
    let machine = stable_tempdir();
    let root = machine.path().join("root");
    let home = machine.path().join("home");
    let binary = install_binary(machine.path());
    let policy_dir = root.join("etc/hookledger");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(
        policy_dir.join("policy.json"),
        r#"{"version": 1, "unanalyzable": "allow", "paths": {"deny_read": ["**/.env"]}}"#,
    )
    .unwrap();
    let install = std::process::Command::new(&binary)
        .args(["install", "--managed", "--sandbox", "--root"])
        .arg(&root)
        .arg("--binary")
        .arg(&binary)
        .env_remove("HOOKLEDGER_MANAGED_DIR")
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", text(&install.stderr));
    let drop_in = root.join("etc/claude-code/managed-settings.d/50-hookledger.json");
    let settings: Value = serde_json::from_slice(&std::fs::read(&drop_in).unwrap()).unwrap();
    assert_eq!(settings["sandbox"]["allowUnsandboxedCommands"], false);
    assert_eq!(settings["permissions"]["deny"], json!(["Read(**/.env)"]));

    crate::support::claude_cli::init_git_repo(&home, &[("README.md", "# Home\n")]);
    let secret = "SANDBOX-SECRET-5f1e9c";
    std::fs::write(home.join(".env"), format!("TOKEN={secret}\n")).unwrap();
    let data = home.join(".local/share/hookledger");
    let ledger = data.join("ledger.db");
    // Spelled so that the hook's analysis cannot see what they name (since self-protection
    // refuses opaque commands that name the ledger directory): only the OS stops them.
    // The hook splits `c='cat .env'; $c` and evaluates `$(printf …)` itself and denies those
    // (issue 14), so what the OS has to stop takes its text from a substitution whose output
    // the hook cannot know (a read of /dev/urandom, empty here).
    let opaque_read = "c=$(printf 'cat .e%s' nv; head -c0 /dev/urandom); $c";
    let opaque_append = "eval \"echo x >> $(printf %s ~/.local/share/hook; head -c0 /dev/urandom)ledger/ledger.db\"";
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Bash", json!({"command": opaque_read})))
            .turn(Turn::tool("Bash", json!({"command": format!("echo x >> {}", ledger.display())})))
            .turn(Turn::tool("Bash", json!({"command": opaque_append})))
            .turn(Turn::tool("Bash", json!({"command": "eval \"cat $(printf %s ~/.local/share/hook; head -c0 /dev/urandom)ledger/k\"\"eys/*\""})))
            .turn(Turn::tool("Bash", json!({"command": "eval \"echo ok > $(printf %s ~/.local/share; head -c0 /dev/urandom)/other.txt\" && cat ~/.local/share/other.txt"})))
            .turn(Turn::text("Done.")),
    );
    let mut opts = ClaudeOpts::new(&claude, &home, api.port(), "look around");
    opts.home = Some(home.clone());
    opts.settings = settings;
    opts.extra_args = vec!["--allowedTools".into(), "Bash".into()];
    opts.extra_env.push((
        "HOOKLEDGER_MANAGED_DIR".into(),
        policy_dir.display().to_string(),
    ));
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());
    let passed: Value =
        serde_json::from_slice(&std::fs::read(&run.settings_path).unwrap()).unwrap();
    let written: Value = serde_json::from_slice(&std::fs::read(&drop_in).unwrap()).unwrap();
    assert!(
        passed == written,
        "Claude Code ran on exactly the settings the install wrote"
    );

    let results = bash_results(&api);
    assert_eq!(results.len(), 5, "{}", api.dump());
    for request in api.requests() {
        assert!(
            !request.body.to_string().contains(secret),
            ".env reached the model: {}",
            api.dump()
        );
    }
    let (_, env) = &results[0];
    assert!(
        env.is_error && env.text.contains("Permission denied"),
        "{env:?}"
    );
    // The literal append is refused by the hook (self-protection) or the OS; the opaque one
    // passes the hook and must be stopped by the OS.
    let (_, literal) = &results[1];
    assert!(literal.is_error, "{literal:?}");
    let (_, opaque) = &results[2];
    assert!(
        opaque.is_error
            && (opaque.text.contains("Read-only file system")
                || opaque.text.contains("Permission denied")),
        "{opaque:?}"
    );
    let (_, keys) = &results[3];
    assert!(keys.is_error, "the signing key is not readable: {keys:?}");
    // The signing key and the spool's MAC key, both still there and unread.
    let key_files: Vec<_> = std::fs::read_dir(data.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        key_files.iter().filter(|n| n.ends_with(".ed25519")).count(),
        1,
        "{key_files:?}"
    );
    let (_, control) = &results[4];
    assert!(
        !control.is_error && control.text.contains("ok"),
        "a write next to hookledger's directory still works: {control:?}"
    );

    let verify = std::process::Command::new(&binary)
        .args(["verify", "--json", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    let records = ledger_records(&ledger);
    let calls: Vec<&Value> = records
        .iter()
        .filter(|(k, _)| k == "tool-call")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        calls.len(),
        5,
        "every call is recorded by the hook: {calls:#?}"
    );
    assert_eq!(calls[0]["input"]["command"], opaque_read);
    assert_eq!(calls[2]["input"]["command"], opaque_append);
    assert_eq!(calls[2]["decision"]["action"], "allow", "{:#}", calls[2]);
    let start = &records
        .iter()
        .find(|(k, _)| k == "session-start")
        .unwrap()
        .1;
    assert_eq!(
        start["sandbox"],
        json!({"enabled": true, "allow_unsandboxed_commands": false, "fail_if_unavailable": true,
               "enforced": true, "source": "flag", "file": run.settings_path.display().to_string(),
               "excluded_commands": 0})
    );
    // The auditor's report shows the sandbox as a control of that session.
    let report_file = machine.path().join("report.json");
    let out = std::process::Command::new(&binary)
        .args([
            "report",
            "--since",
            "1d",
            "--no-record",
            "--format",
            "json",
            "--ledger",
        ])
        .arg(&ledger)
        .arg("-o")
        .arg(&report_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(
        report["controls"]["sandbox"],
        json!({"enforced_by_managed": 0, "enforced_elsewhere": 1, "enabled_not_enforced": 0,
               "off": 0, "unknown": 0}),
        "enforced, through --settings here"
    );
}

/// A slash command's inline `` !`cat .env` `` (PreSkillShellCommand, Claude Code 2.1.332) under
/// a policy that denies reading `.env`: refused by the hook like the same Bash call, nothing of
/// `.env` reaches the model, and the refusal is recorded with its rule.
#[test]
fn real_claude_code_gates_a_slash_commands_inline_shell() {
    let Some(claude) = ensure_claude_version(CURRENT_VERSION) else {
        return;
    };
    let home = Home::new();
    let managed = tempfile::tempdir().unwrap();
    std::fs::write(
        managed.path().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}}"#,
    )
    .unwrap();
    let project = temp_git_repo("# Demo\n");
    let secret = "SKILL-SECRET-83b2d1";
    std::fs::write(project.path().join(".env"), format!("TOKEN={secret}\n")).unwrap();
    let command = project.path().join(".claude/commands/leak.md");
    std::fs::create_dir_all(command.parent().unwrap()).unwrap();
    std::fs::write(
        &command,
        "---\ndescription: show the config\n---\nConfig is: !`cat .env`\n",
    )
    .unwrap();
    let api = FakeApi::start(Script::new(MODEL).turn(Turn::text("Thanks.")));
    let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), "/leak");
    opts.settings = hookledger_settings(&home);
    opts.extra_env
        .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
    opts.extra_env.push((
        "HOOKLEDGER_MANAGED_DIR".into(),
        managed.path().display().to_string(),
    ));
    let run = run_claude(&opts);
    assert!(run.status.is_some(), "{}", run.describe());
    for request in api.requests() {
        assert!(
            !request.body.to_string().contains(secret),
            ".env reached the model: {}",
            api.dump()
        );
    }
    let skill = home.records_of("skill-shell-command");
    assert_eq!(skill.len(), 1, "{:#?}", home.records());
    let refused = &skill[0];
    assert_eq!(refused["decision"]["action"], "deny", "{refused:#}");
    assert_eq!(refused["decision"]["rule"], "path-deny-read");
    assert_eq!(refused["decision"]["pattern"], "**/.env");
    assert_eq!(refused["command_name"], "leak");
    assert_eq!(refused["input"]["command"], "cat .env");
    assert_eq!(refused["invoked_by"], "user");
    assert!(
        home.records_of("event").is_empty(),
        "no generic records any more"
    );
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
}

/// `onFailure: "block"` on the gating registrations: with the binary gone from where it was
/// registered, Claude Code 2.1.332 itself refuses the tool call. Without it, the same call
/// runs: the control shows what the key changes.
#[test]
fn real_claude_code_refuses_when_the_hook_binary_is_gone() {
    let Some(claude) = ensure_claude_version(CURRENT_VERSION) else {
        return;
    };
    let home = Home::new();
    let stage = stable_tempdir();
    let gone = install_binary(stage.path());
    let registered = hookledger_settings(&home);
    std::fs::remove_file(&gone).unwrap();
    for (on_failure, expect_run) in [(Some("block"), false), (None, true)] {
        let project = temp_git_repo("# Demo\n");
        let marker = project.path().join("marker");
        let mut settings = registered.clone();
        // Only the tool gate points at the missing binary: the prompt and the rest still run
        // hookledger, so the model does make the call.
        let handler = &mut settings["hooks"]["PreToolUse"][0]["hooks"][0];
        handler["command"] = json!(gone);
        match on_failure {
            Some(value) => assert_eq!(handler["onFailure"], value, "the snippet sets it"),
            None => {
                handler.as_object_mut().unwrap().remove("onFailure");
            }
        }
        let api = FakeApi::start(
            Script::new(MODEL)
                .turn(Turn::tool(
                    "Bash",
                    json!({"command": format!("touch {}", marker.display())}),
                ))
                .turn(Turn::text("Done.")),
        );
        let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), "make a marker");
        opts.settings = settings;
        opts.extra_env
            .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
        let run = run_claude(&opts);
        assert!(run.success(), "{}\n{}", run.describe(), api.dump());
        let results = bash_results(&api);
        assert_eq!(results.len(), 1, "{}", api.dump());
        assert_eq!(
            marker.exists(),
            expect_run,
            "onFailure {on_failure:?}: {:?}",
            results[0].1
        );
        assert_eq!(results[0].1.is_error, !expect_run, "{:?}", results[0].1);
    }
}

/// `/model` in one run of Claude Code 2.1.332, a tool call in the same session resumed by the
/// next: PostModelSwitch is recorded with the model switched to, but a switch lasts only as long
/// as the process that made it (the resumed run asks the API for the default model again), so
/// the resumed run's records do not claim the switched model. Within one process the switched
/// model names later records: `hook_events::a_model_switch_is_the_sessions_model_from_then_on`.
#[test]
fn real_claude_code_model_switch_names_the_model_of_later_calls() {
    let Some(claude) = ensure_claude_version(CURRENT_VERSION) else {
        return;
    };
    let home = Home::new();
    let project = temp_git_repo("# Demo\n");
    let claude_home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Bash", json!({"command": "ls"})))
            .turn(Turn::text("Done.")),
    );
    let opts = |prompt: &str, extra: &[&str]| {
        let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), prompt);
        opts.home = Some(claude_home.path().to_owned());
        opts.settings = hookledger_settings(&home);
        opts.extra_args = extra.iter().map(|a| (*a).to_owned()).collect();
        opts.extra_env
            .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
        opts
    };
    // `claude -p` takes one prompt: `/model` is a run of its own.
    let run = run_claude(&opts("/model claude-sonnet-4-5", &[]));
    assert!(run.success(), "{}", run.describe());
    let switch = home.records_of("model-switch");
    assert_eq!(switch.len(), 1, "{:#?}", home.records());
    assert_eq!(switch[0]["to_model"], "claude-sonnet-4-5");
    assert_eq!(switch[0]["model"], "claude-sonnet-4-5");
    assert_eq!(switch[0]["model_source"], "model-switch");
    assert_eq!(switch[0]["source"], "command");
    let session = switch[0]["session_id"].as_str().unwrap().to_owned();

    let run = run_claude(&opts("list the files", &["--resume", &session]));
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());
    let main: Vec<_> = api.requests().into_iter().filter(|r| r.has_tools).collect();
    assert!(
        !main.is_empty()
            && main
                .iter()
                .all(|r| r.model.as_deref() != Some("claude-sonnet-4-5")),
        "the resumed process does not keep the switch: {}",
        api.dump()
    );
    let calls = home.records_of("tool-call");
    assert_eq!(calls.len(), 1, "{:#?}", home.records());
    assert_eq!(
        calls[0]["session_id"],
        session.as_str(),
        "--resume keeps the session"
    );
    assert_ne!(calls[0]["model_source"], "model-switch", "{:#}", calls[0]);
    assert_ne!(calls[0]["model"], "claude-sonnet-4-5", "{:#}", calls[0]);
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
}

/// Issue 15's evidence, end to end with the real Claude Code: a session in a git repository
/// with a signed-in Claude account in Claude Code's config, a managed and a user policy. The
/// session-start record names the account (never a token), the OS account from the password
/// database (whatever `$USER` says), the repository's git identity and the BLAKE3 of each
/// policy file; the turn's closing records carry exactly the tokens the fake API reported, per
/// model; every hook record has a model or is attested by its turn's stop; and every line of
/// the session's OCSF and ECS exports validates against the official schemas.
#[test]
fn real_claude_code_records_who_usage_and_policy_in_force_2_1_332() {
    use crate::support::fake_api::{Conversation, Tokens};
    let Some(claude) = ensure_claude_version(CURRENT_VERSION) else {
        return;
    };
    let home = Home::new();
    let managed = tempfile::tempdir().unwrap();
    let managed_policy = json!({"version": 1, "paths": {"deny_read": ["**/.env"]}}).to_string();
    std::fs::write(managed.path().join("policy.json"), &managed_policy).unwrap();
    let user_policy = json!({"version": 1, "enforcement": "enforce"}).to_string();
    std::fs::create_dir_all(home.home()).unwrap();
    std::fs::write(home.home().join("policy.json"), &user_policy).unwrap();
    let project = temp_git_repo("# Demo\n\nHello.\n");
    for (key, value) in [
        ("user.name", "Ada Lovelace"),
        ("user.email", "ada@example.com"),
    ] {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(project.path())
            .args(["config", key, value])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    let claude_home = tempfile::tempdir().unwrap();
    std::fs::write(
        claude_home.path().join(".claude.json"),
        json!({
            "hasCompletedOnboarding": true,
            "primaryApiKey": "sk-ant-api03-NOT-TO-BE-RECORDED",
            "oauthAccount": {
                "accountUuid": "4b2c1f0e-1111-4222-8333-444455556666",
                "emailAddress": "ada@example.com",
                "organizationUuid": "9a8b7c6d-7777-4888-9999-aaaabbbbcccc",
                "organizationName": "Analytical Engines Ltd",
                "displayName": "Ada",
                "accessToken": "sk-ant-oat01-NOT-TO-BE-RECORDED"
            }
        })
        .to_string(),
    )
    .unwrap();
    const SUB_MODEL: &str = "claude-test-haiku-9-20261101";
    let readme = project.path().join("README.md");
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool("Edit", json!({"file_path": readme, "old_string": "Hello.", "new_string": "Hello, world."})).with_text("Editing."))
            .turn(Turn::tool("Bash", json!({"command": "cat README.md", "description": "Show"})))
            .turn(Turn::tool("Agent", json!({"description": "List", "subagent_type": "general-purpose", "prompt": "SUBAGENT-USAGE list the files", "run_in_background": false})))
            .turn(Turn::text("All done."))
            .subagent_with_model("SUBAGENT-USAGE", SUB_MODEL, vec![Turn::tool("Bash", json!({"command": "ls", "description": "List"})), Turn::text("One file.")]),
    );
    let mut opts = ClaudeOpts::new(
        &claude,
        project.path(),
        api.port(),
        "say hello to the world",
    );
    opts.home = Some(claude_home.path().to_owned());
    opts.settings = hookledger_settings(&home);
    opts.extra_env.extend([
        ("HOOKLEDGER_HOME".into(), home.home().display().to_string()),
        (
            "HOOKLEDGER_MANAGED_DIR".into(),
            managed.path().display().to_string(),
        ),
        // The OS user comes from the password database, not from the environment.
        ("USER".into(), "not-the-account".into()),
        ("LOGNAME".into(), "not-the-account".into()),
    ]);
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());

    // Who.
    let start = home.records_of("session-start").remove(0);
    let identity = &start["identity"];
    assert_eq!(
        identity["claude"],
        json!({"email": "ada@example.com", "account_uuid": "4b2c1f0e-1111-4222-8333-444455556666",
               "organization_uuid": "9a8b7c6d-7777-4888-9999-aaaabbbbcccc",
               "organization_name": "Analytical Engines Ltd", "display_name": "Ada"}),
        "{start:#}"
    );
    let id_un = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = text(&id_un.stdout).trim().to_owned();
    let id_u = std::process::Command::new("id").arg("-u").output().unwrap();
    assert_eq!(identity["os_user"]["name"], account.as_str(), "{start:#}");
    assert_eq!(
        identity["os_user"]["uid"].as_u64(),
        text(&id_u.stdout).trim().parse::<u64>().ok()
    );
    assert_eq!(start["os_user"], account.as_str());
    assert_eq!(
        identity["git"],
        json!({"name": "Ada Lovelace", "email": "ada@example.com"})
    );
    assert_eq!(identity["host"], start["host"]);
    assert!(identity["host"].as_str().is_some_and(|h| !h.is_empty()));
    let ledger_text = String::from_utf8_lossy(&std::fs::read(home.ledger()).unwrap()).into_owned();
    assert!(
        !ledger_text.contains("NOT-TO-BE-RECORDED"),
        "no token or key from Claude Code's config is recorded"
    );

    // Policy in force: each file with the BLAKE3 of its bytes.
    let digests = start["policy_digests"].as_array().expect("policy_digests");
    let digest_of = |layer: &str| {
        digests
            .iter()
            .find(|d| d["layer"] == layer)
            .unwrap_or_else(|| panic!("no {layer} layer in {digests:#?}"))
    };
    assert_eq!(
        digest_of("managed")["blake3"],
        blake3_hex(managed_policy.as_bytes())
    );
    assert_eq!(
        digest_of("managed")["path"],
        managed.path().join("policy.json").display().to_string()
    );
    assert_eq!(
        digest_of("user")["blake3"],
        blake3_hex(user_policy.as_bytes())
    );
    // The --settings file Claude Code runs with is a settings layer in force too.
    let flag = digest_of("claude-flag");
    let settings_bytes = std::fs::read(claude_home.path().join("e2e-settings.json")).unwrap();
    assert_eq!(flag["blake3"], blake3_hex(&settings_bytes));
    assert!(start["lockdown"].is_object(), "{start:#}");
    assert_eq!(start["lockdown"]["allow_managed_hooks_only"], Value::Null);
    assert!(start["sandbox"].is_object());

    // Usage: exactly what the fake API reported, per model, each message once.
    let sum = |conversation: Conversation| {
        let messages: Vec<Tokens> = api
            .emitted_messages()
            .into_iter()
            .filter(|m| m.conversation == conversation)
            .map(|m| m.tokens)
            .collect();
        json!({
            "input_tokens": messages.iter().map(|t| t.input).sum::<u64>(),
            "output_tokens": messages.iter().map(|t| t.output).sum::<u64>(),
            "cache_read_input_tokens": messages.iter().map(|t| t.cache_read).sum::<u64>(),
            "cache_creation_input_tokens": messages.iter().map(|t| t.cache_creation).sum::<u64>(),
            "messages": messages.len(),
        })
    };
    let with_model = |model: &str, mut totals: Value| {
        totals["model"] = json!(model);
        totals
    };
    let stop = home.records_of("stop").remove(0);
    assert_eq!(stop["usage_source"], "transcript", "{stop:#}");
    assert_eq!(stop["usage_complete"], true);
    assert_eq!(
        stop["usage"],
        json!([with_model(MODEL, sum(Conversation::Main))]),
        "{}",
        api.dump()
    );
    assert_eq!(stop["model"], MODEL);
    assert_eq!(stop["model_source"], "turn-attestation");
    let sub_stop = home.records_of("subagent-stop").remove(0);
    assert_eq!(
        sub_stop["usage"],
        json!([with_model(SUB_MODEL, sum(Conversation::Subagent(0)))]),
        "{sub_stop:#}"
    );
    assert_eq!(sub_stop["model"], SUB_MODEL);

    // A model on every hook record, or the turn's stop attests it.
    let attested: Vec<Value> = home
        .records_of("stop")
        .into_iter()
        .filter(|s| s["model_source"] == "turn-attestation")
        .collect();
    let mut unattested_at_first = Vec::new();
    for (seq, kind, record) in home.records() {
        if record.get("model_source").is_none() {
            continue;
        }
        if record["model"].is_string() {
            assert_ne!(record["model_source"], "unknown", "seq {seq} {kind}");
            continue;
        }
        assert_eq!(
            record["model_source"], "unknown",
            "seq {seq} {kind}: {record:#}"
        );
        // A turn's records are attested by the turn's stop; the session-start (before any
        // turn, and `claude -p` reports no model on it) by the session's first stop.
        let turn_of = |s: &Value| match record.get("prompt_id") {
            Some(prompt) => s["prompt_id"] == *prompt,
            None => s["session_id"] == record["session_id"],
        };
        assert!(
            attested.iter().any(|s| turn_of(s) && s["model"] == MODEL),
            "seq {seq} {kind} has no model and no stop of its turn attests one: {record:#}"
        );
        unattested_at_first.push(kind);
    }

    eprintln!("records whose model only the turn's stop attests: {unattested_at_first:?}");

    // The exports speak the standards they declare.
    for format in ["ocsf", "ecs"] {
        let file = project.path().join(format!("session.{format}.ndjson"));
        let out = home.run(&["export", "--format", format, "-o", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        validate_official(format, &file);
        let lines: Vec<Value> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let stop_line = lines
            .iter()
            .find(|l| {
                l["unmapped"]["hookledger"]["kind"] == "stop" || l["hookledger"]["kind"] == "stop"
            })
            .expect("the stop record was exported");
        let main = sum(Conversation::Main);
        let input = [
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ]
        .iter()
        .map(|k| main[k].as_u64().unwrap())
        .sum::<u64>();
        if format == "ecs" {
            assert_eq!(stop_line["gen_ai"]["usage"]["input_tokens"], input);
            assert_eq!(
                stop_line["gen_ai"]["usage"]["output_tokens"],
                main["output_tokens"]
            );
        } else {
            assert_eq!(stop_line["message_context"]["prompt_tokens"], input);
        }
    }
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");

    // The auditor's report shows who, the tokens the fake API sent per model, and the policy
    // digests in force, from these records.
    let report_file = project.path().join("report.json");
    let out = home.run(&[
        "report",
        "--since",
        "1d",
        "--no-record",
        "--format",
        "json",
        "-o",
        report_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    let person = &report["people"][0];
    assert_eq!(
        person["person"], "ada@example.com",
        "{:#}",
        report["people"]
    );
    assert_eq!(person["identified_by"], "claude-account");
    let token_row = |key: &str| {
        report["tokens"]["by_model"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no token row for {key}: {:#}", report["tokens"]))
    };
    for (model, conversation) in [
        (MODEL, Conversation::Main),
        (SUB_MODEL, Conversation::Subagent(0)),
    ] {
        let mut expected = sum(conversation);
        expected["key"] = json!(model);
        assert_eq!(token_row(model), expected, "{:#}", report["tokens"]);
    }
    let managed_digest = digest_of("managed")["blake3"].clone();
    assert!(
        report["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["layer"] == "managed" && p["blake3"] == managed_digest),
        "{:#}",
        report["policies"]
    );
}
