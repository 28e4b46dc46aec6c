//! End to end with the real Claude Code CLI (pinned, headless) against a scripted fake of the
//! Messages API on loopback: Claude Code really calls our hooks, really applies the edits and
//! really writes the transcript.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::claude_cli::{
    ClaudeOpts, ensure_claude, run_claude, temp_git_repo, with_default_permissions,
};
use crate::support::fake_api::{FakeApi, Script, Turn};
use crate::util::*;

const MODEL: &str = "claude-test-opus-9-20261101";

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

#[test]
fn real_claude_code_session_is_recorded_and_verifies() {
    let Some(claude) = ensure_claude() else {
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
        assert_eq!(edit["claude_code_version"], "2.1.328");
    }
    let stop = home.records_of("stop").remove(0);
    assert_eq!(
        stop["prompt_id"], prompt["prompt_id"],
        "the stop record closes the prompt's turn"
    );
    assert_eq!(stop["model"], MODEL);
    assert_eq!(stop["claude_code_version"], "2.1.328");
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
            assert_eq!(record["claude_code_version"], "2.1.328", "seq {seq} {kind}");
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
}

/// A managed policy in force: Claude Code asks for an Edit of a workflow file and a Bash write
/// to it, and both are refused by the hook and never happen; the ledger names the rules. A
/// prompt carrying a cloud key is blocked before the model sees it.
#[test]
fn real_claude_code_denials_leave_files_untouched() {
    let Some(claude) = ensure_claude() else {
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

/// Real Claude Code edits a repository, then the developer commits through hookledger's git
/// shims: the commit carries the anchor trailer and the note, `git verify` passes, and fails
/// once the ledger is altered.
#[test]
fn real_claude_code_edits_committed_through_the_git_shims() {
    let Some(claude) = ensure_claude() else {
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
