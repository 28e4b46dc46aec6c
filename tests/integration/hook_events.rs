//! Every event kind in, one record each; the model found in the transcript; bad input refused.

use serde_json::{Value, json};

use crate::util::*;

fn write_transcript(dir: &std::path::Path, lines: &[Value]) -> std::path::PathBuf {
    let path = dir.join("session.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn assistant(model: &str, tool_use_id: &str) -> Value {
    json!({"type": "assistant", "version": "2.1.328", "message": {"model": model, "role": "assistant",
        "content": [{"type": "tool_use", "id": tool_use_id, "name": "Bash", "input": {"command": "ls"}}]}})
}

#[test]
fn every_event_gets_one_record_and_no_opinion() {
    let home = Home::new();
    let events = [
        (
            "SessionStart",
            json!({"source": "startup", "model": "claude-x"}),
            "session-start",
        ),
        (
            "UserPromptSubmit",
            json!({"prompt": "make it longer"}),
            "prompt",
        ),
        (
            "PreToolUse",
            json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t1"}),
            "tool-call",
        ),
        (
            "PermissionRequest",
            json!({"tool_name": "Bash", "tool_input": {"command": "rm -rf x"}}),
            "permission-request",
        ),
        (
            "PermissionDenied",
            json!({"tool_name": "Bash", "tool_input": {}, "tool_use_id": "t1", "reason": "Blocked by classifier"}),
            "permission-denied",
        ),
        (
            "PostToolUse",
            json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t1", "tool_response": {"stdout": "x".repeat(5000), "stderr": "", "interrupted": false}}),
            "tool-result",
        ),
        (
            "PostToolUseFailure",
            json!({"tool_name": "Bash", "tool_input": {"command": "false"}, "tool_use_id": "t2", "error": "Exit code 1\nboom", "is_interrupt": false}),
            "tool-failure",
        ),
        (
            "Notification",
            json!({"message": "Claude needs your permission", "notification_type": "permission_prompt"}),
            "notification",
        ),
        (
            "SubagentStart",
            json!({"agent_id": "a1", "agent_type": "Explore"}),
            "subagent-start",
        ),
        (
            "SubagentStop",
            json!({"agent_id": "a1", "agent_type": "Explore", "last_assistant_message": "done", "stop_hook_active": false}),
            "subagent-stop",
        ),
        (
            "Stop",
            json!({"stop_hook_active": false, "last_assistant_message": "All done.", "background_tasks": []}),
            "stop",
        ),
        (
            "PreCompact",
            json!({"trigger": "manual", "custom_instructions": ""}),
            "pre-compact",
        ),
        ("SessionEnd", json!({"reason": "other"}), "session-end"),
        (
            "SomeFutureEvent",
            json!({"new_field": {"nested": true}}),
            "event",
        ),
    ];
    for (event, extra, _) in &events {
        assert_no_opinion(&home.hook(&payload(event, extra.clone())));
    }
    let records = home.records();
    let kinds: Vec<&str> = records.iter().map(|(_, k, _)| k.as_str()).collect();
    let mut expected = vec!["genesis"];
    expected.extend(events.iter().map(|(_, _, kind)| *kind));
    assert_eq!(kinds, expected);
    let seqs: Vec<i64> = records.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(seqs, (1..=events.len() as i64 + 1).collect::<Vec<_>>());

    // Every hook record names its model and how it was learnt (issue 15), whatever its kind.
    for (seq, kind, record) in &records {
        if kind != "genesis" {
            assert!(
                record.get("model").is_some() && record["model_source"].is_string(),
                "seq {seq} {kind} has no model fields: {record:#}"
            );
        }
    }
    let by_kind = |kind: &str| home.records_of(kind).remove(0);
    let start = by_kind("session-start");
    assert_eq!(start["model"], "claude-x");
    assert_eq!(start["model_source"], "session-start");
    assert_eq!(start["hookledger_version"], env!("CARGO_PKG_VERSION"));
    let prompt = by_kind("prompt");
    assert_eq!(prompt["prompt"], "make it longer");
    assert_eq!(prompt["prompt_blake3"], blake3_hex(b"make it longer"));
    // No transcript: the model comes from what the session reported at start.
    assert_eq!(prompt["model"], "claude-x");
    assert_eq!(prompt["model_source"], "session-state");
    let call = by_kind("tool-call");
    assert_eq!(
        call["decision"],
        json!({"action": "allow", "rule": "no-policy", "layer": "built-in", "reason": "no policy is configured", "enforced": true})
    );
    assert_eq!(call["tool_use_id"], "t1");
    let result = by_kind("tool-result");
    assert_eq!(
        result["response"]["stdout"]["bytes"], 5000,
        "outputs are sized, not stored"
    );
    assert!(result["response"]["stdout"].get("head").is_none());
    assert_eq!(by_kind("tool-failure")["error_first_line"], "Exit code 1");
    assert_eq!(by_kind("subagent-stop")["agent"]["type"], "Explore");
    assert_eq!(by_kind("event")["payload"]["new_field"]["nested"], true);
    assert_eq!(home.verify_json().0, 0);
}

#[test]
fn model_comes_from_the_transcript_entry_that_made_the_call() {
    let home = Home::new();
    let transcript = write_transcript(
        home.path(),
        &[
            json!({"type": "user", "version": "2.1.328", "message": {"role": "user", "content": "hi"}}),
            assistant("claude-first-1", "toolu_A"),
            assistant("claude-second-2", "toolu_B"),
            json!({"type": "assistant", "version": "2.1.328", "message": {"model": "<synthetic>", "content": []}}),
        ],
    );
    let t = transcript.display().to_string();
    for id in ["toolu_A", "toolu_B", "toolu_unknown"] {
        let mut p = pre_tool("Bash", json!({"command": "ls"}), id);
        p["transcript_path"] = json!(t);
        assert_no_opinion(&home.hook(&p));
    }
    let calls = home.records_of("tool-call");
    let models: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c["model"].as_str().unwrap(),
                c["model_source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        models,
        [
            ("claude-first-1", "transcript-tool-use"),
            ("claude-second-2", "transcript-tool-use"),
            ("claude-second-2", "transcript-latest"),
        ]
    );
    assert!(calls.iter().all(|c| c["claude_code_version"] == "2.1.328"));
}

#[test]
fn subagent_calls_read_the_subagent_transcript() {
    let home = Home::new();
    let transcript = write_transcript(home.path(), &[assistant("claude-main", "toolu_main")]);
    let sub = transcript.with_extension("").join("subagents");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join("agent-ag1.jsonl"),
        format!("{}\n", assistant("claude-haiku-sub", "toolu_sub")),
    )
    .unwrap();
    let mut p = pre_tool("Bash", json!({"command": "ls"}), "toolu_sub");
    p["transcript_path"] = json!(transcript.display().to_string());
    p["agent_id"] = json!("ag1");
    p["agent_type"] = json!("general-purpose");
    assert_no_opinion(&home.hook(&p));
    let call = home.records_of("tool-call").remove(0);
    assert_eq!(call["model"], "claude-haiku-sub");
    assert_eq!(
        call["agent"],
        json!({"id": "ag1", "type": "general-purpose"})
    );
    // The turn's Stop attests the subagent's calls as well as the session's own.
    let mut stop = payload("Stop", json!({"stop_hook_active": false}));
    stop["transcript_path"] = json!(transcript.display().to_string());
    assert_no_opinion(&home.hook(&stop));
    assert_eq!(
        home.records_of("stop")[0]["tool_models"],
        json!([
            {"tool_use_id": "toolu_main", "model": "claude-main"},
            {"tool_use_id": "toolu_sub", "model": "claude-haiku-sub"}
        ])
    );
}

#[test]
fn accepted_edit_records_hunks_and_hashes() {
    let home = Home::new();
    let repo = home.path().join("repo");
    git_repo(&repo);
    let file = repo.join("a.txt");
    std::fs::write(&file, "hello world\n").unwrap();
    let p = payload(
        "PostToolUse",
        json!({
            "cwd": repo.display().to_string(),
            "tool_name": "Edit",
            "tool_use_id": "toolu_e",
            "tool_input": {"file_path": file.display().to_string(), "old_string": "hello", "new_string": "hello world"},
            "tool_response": {"filePath": file.display().to_string(), "originalFile": "hello\n", "userModified": false,
                "structuredPatch": [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 1, "lines": ["-hello", "+hello world"]}]}
        }),
    );
    assert_no_opinion(&home.hook(&p));
    // A new file written whole, with no patch in the response.
    let new_file = repo.join("src/new.rs");
    std::fs::create_dir_all(new_file.parent().unwrap()).unwrap();
    std::fs::write(&new_file, "fn a() {}\nfn b() {}\n").unwrap();
    let w = payload(
        "PostToolUse",
        json!({
            "cwd": repo.display().to_string(),
            "tool_name": "Write",
            "tool_use_id": "toolu_w",
            "tool_input": {"file_path": new_file.display().to_string(), "content": "fn a() {}\nfn b() {}\n"},
            "tool_response": {"type": "create", "filePath": new_file.display().to_string(), "content": "fn a() {}\nfn b() {}\n", "structuredPatch": [], "originalFile": null}
        }),
    );
    assert_no_opinion(&home.hook(&w));
    let edits = home.records_of("edit");
    let edit = &edits[0];
    assert_eq!(edit["path"], file.display().to_string());
    assert_eq!(edit["repository"]["relative_path"], "a.txt");
    assert_eq!(edit["repository"]["root"], repo.display().to_string());
    assert_eq!(edit["before_blake3"], blake3_hex(b"hello\n"));
    assert_eq!(edit["after_blake3"], blake3_hex(b"hello world\n"));
    assert_eq!(
        (edit["lines_added"].as_u64(), edit["lines_removed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(edit["hunks"][0]["lines"], json!(["-hello", "+hello world"]));
    assert_eq!(edit["user_modified"], false);
    let write = &edits[1];
    assert_eq!(write["change"], "create");
    assert_eq!(write["before_blake3"], Value::Null);
    assert_eq!(write["repository"]["relative_path"], "src/new.rs");
    assert_eq!(
        write["hunks"][0]["lines"],
        json!(["+fn a() {}", "+fn b() {}"])
    );
    assert_eq!(write["after_blake3"], blake3_hex(b"fn a() {}\nfn b() {}\n"));
}

#[test]
fn session_start_describes_the_repository() {
    let home = Home::new();
    let repo = home.path().join("repo");
    git_repo(&repo);
    let p = payload(
        "SessionStart",
        json!({"cwd": repo.display().to_string(), "source": "startup"}),
    );
    assert_no_opinion(&home.hook(&p));
    let start = home.records_of("session-start").remove(0);
    assert_eq!(start["repository"]["branch"], "main");
    assert_eq!(start["repository"]["head"].as_str().map(str::len), Some(40));
    assert_eq!(
        start["repository"]["remotes"][0]["normalized"],
        "github.com/Acme/widgets"
    );
    assert!(start["host"].as_str().is_some_and(|h| !h.is_empty()));
}

#[test]
fn large_tool_input_is_stored_as_digest() {
    let home = Home::new();
    let content = "x".repeat(10 << 20);
    let p = pre_tool(
        "Write",
        json!({"file_path": "/tmp/big.txt", "content": content}),
        "toolu_big",
    );
    assert_no_opinion(&home.hook(&p));
    let call = home.records_of("tool-call").remove(0);
    assert_eq!(call["input"]["file_path"], "/tmp/big.txt");
    assert_eq!(call["input"]["content"]["bytes"], 10 << 20);
    // Over 1 MiB a text is not scanned for secrets, so its digest is keyed (it could hold
    // one): a plain hash would confirm a guessed secret to whoever holds an export.
    let digest = call["input"]["content"]["blake3"]
        .as_str()
        .expect("a digest");
    assert!(digest.starts_with("keyed:"), "{digest}");
    assert_ne!(
        digest.trim_start_matches("keyed:"),
        blake3_hex(content.as_bytes())
    );
    assert_eq!(
        call["input"]["content"]["head"].as_str().map(str::len),
        Some(256)
    );
}

#[test]
fn bad_stdin_is_refused_for_gating_events_and_recorded() {
    let home = Home::new();
    let junk = vec![b'{'; 10 << 20];
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty", b"", "empty hook payload"),
        ("whitespace", b"  \n", "empty hook payload"),
        (
            "malformed",
            b"{\"hook_event_name\": \"PreToolUse\", ",
            "not valid JSON",
        ),
        ("non-utf8", b"{\"a\": \"\xff\xfe\"}", "not valid UTF-8"),
        ("10 MB junk", &junk, "not valid JSON"),
    ];
    for (name, stdin, needle) in cases {
        for gating in ["PreToolUse", "UserPromptSubmit", "PermissionRequest"] {
            let out = home.hook_raw(stdin, Some(gating));
            assert_refused(&out, needle);
            assert!(
                text(&out.stdout).starts_with('{'),
                "{name}/{gating}: JSON decision on stdout too"
            );
        }
        // Without a hint we cannot know the event is harmless: refuse.
        assert_refused(&home.hook_raw(stdin, None), needle);
        // A non-gating event never blocks: exit 1 is a visible, non-blocking error.
        let out = home.hook_raw(stdin, Some("Stop"));
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
    let errors = home.records_of("hook-error");
    assert_eq!(errors.len(), 5 * 5);
    let junk_record = errors
        .iter()
        .find(|e| e["stdin_bytes"] == (10 << 20))
        .expect("junk recorded");
    // Past what the hook scans for secrets, a payload's digest is keyed (it could hold one).
    let digest = junk_record["stdin_blake3"].as_str().expect("a digest");
    assert!(digest.starts_with("keyed:"), "{digest}");
    assert_ne!(digest.trim_start_matches("keyed:"), blake3_hex(&junk));
    assert_eq!(home.verify_json().0, 0);
}

#[test]
fn pre_tool_use_answer_is_a_valid_deny_document() {
    let home = Home::new();
    let out = home.hook_raw(b"nope", Some("PreToolUse"));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["hookEventName"], "PreToolUse");
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(
        answer["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("hook-error")
    );
    let out = home.hook_raw(b"nope", Some("UserPromptSubmit"));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["decision"], "block");
}

#[test]
fn payload_without_event_name_uses_the_registration_hint() {
    let home = Home::new();
    let out = home.hook_raw(
        br#"{"session_id": "s", "prompt": "hi"}"#,
        Some("UserPromptSubmit"),
    );
    assert_no_opinion(&out);
    assert_eq!(home.records_of("prompt")[0]["prompt"], "hi");
    // Neither a name nor a hint: refused, since it might gate something.
    assert_refused(
        &home.hook_raw(br#"{"session_id": "s"}"#, None),
        "no hook_event_name",
    );
}

#[test]
fn hook_arguments_never_print_usage() {
    let home = Home::new();
    let mut cmd = home.command();
    cmd.args(["hook", "--unknown-flag", "--event=PreToolUse"]);
    let out = run_with_stdin(
        cmd,
        pre_tool("Bash", json!({"command": "ls"}), "t")
            .to_string()
            .as_bytes(),
    );
    assert_no_opinion(&out);
}

#[test]
fn no_place_to_record_refuses_gating_events() {
    let home = Home::new();
    // HOOKLEDGER_HOME is a regular file: neither the ledger nor the spool can be created.
    std::fs::write(home.home(), "not a directory").unwrap();
    let out = home.hook(&pre_tool("Bash", json!({"command": "ls"}), "t"));
    assert_refused(&out, "ledger-unavailable");
    let out = home.hook(&payload("Stop", json!({})));
    assert_eq!(out.status.code(), Some(1));
}

/// Every payload the real Claude Code 2.1.328 sent in our end-to-end captures (including
/// PermissionRequest, PermissionDenied, PostToolUseFailure, resume and compact) is recorded
/// with the right kind, and none is refused.
#[test]
fn replays_captured_claude_code_payloads() {
    let home = Home::new();
    let fixture = include_str!("../fixtures/cc-2.1.328-e2e-payloads.jsonl");
    let payloads: Vec<Value> = fixture
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for p in &payloads {
        assert_no_opinion(&home.hook(p));
    }
    let records = home.records();
    assert_eq!(records.len(), payloads.len() + 1);
    for (p, (_, kind, record)) in payloads.iter().zip(&records[1..]) {
        let event = p["hook_event_name"].as_str().unwrap();
        let expected = match (event, p["tool_name"].as_str()) {
            ("PostToolUse", Some("Edit" | "Write")) => "edit",
            ("PostToolUse", _) => "tool-result",
            ("PreToolUse", _) => "tool-call",
            ("PermissionRequest", _) => "permission-request",
            ("PermissionDenied", _) => "permission-denied",
            ("PostToolUseFailure", _) => "tool-failure",
            ("UserPromptSubmit", _) => "prompt",
            ("SessionStart", _) => "session-start",
            ("SubagentStart", _) => "subagent-start",
            ("SubagentStop", _) => "subagent-stop",
            ("PreCompact", _) => "pre-compact",
            ("SessionEnd", _) => "session-end",
            ("Stop", _) => "stop",
            (other, _) => panic!("unexpected event {other} in the fixture"),
        };
        assert_eq!(kind, expected, "{p}");
        assert_eq!(record["session_id"], p["session_id"]);
    }
    let compact = records
        .iter()
        .find(|(_, k, r)| k == "session-start" && r["source"] == "compact")
        .unwrap();
    assert_eq!(compact.2["model_reported"], "claude-opus-5-5");
    assert_eq!(home.verify_json().0, 0);
}

/// The real transcript's tail yields the model the API reported and the CLI version.
#[test]
fn reads_a_real_transcript() {
    let home = Home::new();
    let transcript = home.path().join("t.jsonl");
    std::fs::write(
        &transcript,
        include_str!("../fixtures/cc-2.1.328-e2e-transcript.jsonl"),
    )
    .unwrap();
    let mut stop = payload("Stop", json!({"stop_hook_active": false}));
    stop["transcript_path"] = json!(transcript.display().to_string());
    assert_no_opinion(&home.hook(&stop));
    let record = home.records_of("stop").remove(0);
    assert_eq!(record["model"], "claude-test-opus-9-20261101");
    assert_eq!(record["claude_code_version"], "2.1.328");
    let attested = record["tool_models"].as_array().unwrap();
    assert!(attested.len() >= 4, "{attested:?}");
    assert!(
        attested
            .iter()
            .all(|a| a["model"] == "claude-test-opus-9-20261101")
    );
}

/// Claude Code 2.1.332's events beyond the classic ones: each has a record kind of its own,
/// with bounded fields (no whole payloads, secrets only as hashes).
#[test]
fn events_new_in_2_1_332_get_typed_bounded_records() {
    let home = Home::new();
    let settings = home.path().join("settings.json");
    std::fs::write(&settings, "{\"model\": \"opus\"}\n").unwrap();
    let claude_md = home.path().join("CLAUDE.md");
    std::fs::write(&claude_md, "# rules\n").unwrap();
    let secret = "hunter2-typed-into-a-form";
    let events = [
        (
            "PreModelSwitch",
            json!({"from_model": "claude-a", "to_model": "claude-b", "requested_model": "b", "source": "command", "context_tokens": 10, "prompt_cache_warm": false, "estimated_cache_write_usd": 0.5}),
            "model-switch-request",
        ),
        (
            "PostModelSwitch",
            json!({"from_model": "claude-a", "to_model": "claude-b", "requested_model": "b", "source": "command"}),
            "model-switch",
        ),
        (
            "ConfigChange",
            json!({"source": "user_settings", "file_path": settings}),
            "config-change",
        ),
        (
            "UserPromptExpansion",
            json!({"expansion_type": "slash_command", "command_name": "leak", "command_args": secret, "command_source": "projectSettings", "prompt": "/leak"}),
            "prompt-expansion",
        ),
        (
            "InstructionsLoaded",
            json!({"file_path": claude_md, "memory_type": "Project", "load_reason": "session_start"}),
            "instructions-loaded",
        ),
        (
            "StopFailure",
            json!({"error": "rate_limit", "error_details": {"status": 429}, "last_assistant_message": "API Error"}),
            "stop-failure",
        ),
        (
            "PostCompact",
            json!({"trigger": "auto", "compact_summary": "x".repeat(20_000)}),
            "post-compact",
        ),
        (
            "CwdChanged",
            json!({"old_cwd": "/a", "new_cwd": "/b"}),
            "cwd-changed",
        ),
        (
            "DirectoryAdded",
            json!({"directory": "/srv/other", "source": "add_dir"}),
            "directory-added",
        ),
        ("Setup", json!({"trigger": "init"}), "setup"),
        (
            "TaskCreated",
            json!({"task_id": "1", "task_subject": "do it", "task_description": "long"}),
            "task-created",
        ),
        (
            "TaskCompleted",
            json!({"task_id": "1", "task_subject": "do it"}),
            "task-completed",
        ),
        (
            "Elicitation",
            json!({"mcp_server_name": "srv", "message": "your password?", "mode": "form", "requested_schema": {"type": "object"}}),
            "elicitation",
        ),
        (
            "ElicitationResult",
            json!({"mcp_server_name": "srv", "action": "accept", "content": {"password": secret}}),
            "elicitation-result",
        ),
    ];
    for (event, extra, _) in &events {
        assert_no_opinion(&home.hook(&payload(event, extra.clone())));
    }
    let kinds: Vec<String> = home
        .records()
        .into_iter()
        .skip(1)
        .map(|(_, k, _)| k)
        .collect();
    let expected: Vec<&str> = events.iter().map(|(_, _, k)| *k).collect();
    assert_eq!(kinds, expected);
    let one = |kind: &str| home.records_of(kind).remove(0);
    let switch = one("model-switch");
    assert_eq!(
        (switch["from_model"].as_str(), switch["to_model"].as_str()),
        (Some("claude-a"), Some("claude-b"))
    );
    assert_eq!(switch["model"], "claude-b");
    assert_eq!(switch["model_source"], "model-switch");
    assert_eq!(
        one("model-switch-request")["estimated_cache_write_usd"],
        0.5
    );
    let config = one("config-change");
    assert_eq!(
        config["file_blake3"],
        blake3_hex(b"{\"model\": \"opus\"}\n")
    );
    assert_eq!(config["source"], "user_settings");
    assert_eq!(
        one("instructions-loaded")["file_blake3"],
        blake3_hex(b"# rules\n")
    );
    assert_eq!(one("post-compact")["compact_summary"]["bytes"], 20_000);
    assert_eq!(one("stop-failure")["error_details"], "{\"status\":429}");
    let bytes = std::fs::read(home.ledger()).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains(secret),
        "what a user typed into a form or a command's arguments is only hashed"
    );
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
}

/// A settings or instructions file that is a FIFO, a directory or missing is described, never
/// read (a FIFO would block the hook).
#[cfg(unix)]
#[test]
fn named_files_that_are_not_regular_files_are_not_read() {
    let home = Home::new();
    let fifo = home.path().join("settings.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for path in [
        fifo.clone(),
        home.path().to_path_buf(),
        home.path().join("absent.json"),
    ] {
        assert_no_opinion(&home.hook(&payload(
            "ConfigChange",
            json!({"source": "project_settings", "file_path": path}),
        )));
    }
    let errors: Vec<Value> = home
        .records_of("config-change")
        .iter()
        .map(|r| r["file_error"].clone())
        .collect();
    assert_eq!(
        errors,
        [
            json!("not a regular file"),
            json!("not a regular file"),
            json!("absent")
        ]
    );
}

/// A skill's or slash command's inline `` !`cmd` `` is judged as a Bash call: refused by the
/// same rule, in PreSkillShellCommand's own answer shape, and recorded with its rule.
#[test]
fn skill_shell_commands_are_gated_like_bash() {
    let home = Home::new();
    std::fs::create_dir_all(home.home()).unwrap();
    std::fs::write(
        home.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}, "unanalyzable": "ask"}"#,
    )
    .unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".env"), "TOKEN=x\n").unwrap();
    let skill = |command: &str| {
        payload(
            "PreSkillShellCommand",
            json!({"cwd": project.path(), "tool_name": "Bash", "tool_input": {"command": command},
                   "tool_use_id": "abc:inner:preamble-0", "command_name": "leak",
                   "command_source": "projectSettings", "invoked_by": "user"}),
        )
    };
    let out = home.hook(&skill("cat .env"));
    assert_refused(&out, "path-deny-read");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["hookSpecificOutput"]["hookEventName"],
        "PreSkillShellCommand"
    );
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
    // The same command as a Bash tool call gets the same decision.
    let bash = home.hook(&payload("PreToolUse", json!({"cwd": project.path(), "tool_name": "Bash", "tool_input": {"command": "cat .env"}, "tool_use_id": "t1"})));
    assert_refused(&bash, "path-deny-read");
    // Opaque commands are asked about, which keeps a skill's command from running.
    let out = home.hook(&skill("eval \"$(head -c0 /dev/urandom)cat .env\""));
    assert_eq!(out.status.code(), Some(0));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "ask");
    assert_no_opinion(&home.hook(&skill("git status --short")));

    let records = home.records_of("skill-shell-command");
    assert_eq!(records.len(), 3);
    let refused = &records[0];
    assert_eq!(refused["decision"]["action"], "deny");
    assert_eq!(refused["decision"]["rule"], "path-deny-read");
    assert_eq!(refused["decision"]["pattern"], "**/.env");
    assert_eq!(refused["command_name"], "leak");
    assert_eq!(refused["command_source"], "projectSettings");
    assert_eq!(refused["invoked_by"], "user");
    assert_eq!(refused["input"]["command"], "cat .env");
    assert_eq!(records[1]["decision"]["action"], "ask");
    assert_eq!(records[2]["decision"]["action"], "allow");
}

/// An unreadable PreSkillShellCommand payload is refused: it gates a command.
#[test]
fn an_unreadable_skill_shell_payload_is_refused() {
    let home = Home::new();
    let out = home.hook_raw(b"{not json", Some("PreSkillShellCommand"));
    assert_refused(&out, "hook-error");
}

/// After PostModelSwitch the session's model is the one switched to, ahead of what the
/// transcript's newest entry says; another session, and the same session in another Claude Code
/// process, are not affected, and a subagent's own transcript still names its own model.
#[test]
fn a_model_switch_is_the_sessions_model_from_then_on() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let transcript = write_transcript(dir.path(), &[assistant("claude-old", "toolu_1")]);
    let with_transcript = |event: &str, extra: Value| {
        let mut p = payload(event, extra);
        p["transcript_path"] = json!(transcript);
        p
    };
    let before = with_transcript(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_2"}),
    );
    assert_no_opinion(&home.hook(&before));
    assert_no_opinion(&home.hook(&with_transcript(
        "PreModelSwitch",
        json!({"from_model": "claude-old", "to_model": "claude-new", "source": "command"}),
    )));
    let requested = home.hook(&with_transcript(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_3"}),
    ));
    assert_no_opinion(&requested);
    assert_no_opinion(&home.hook(&with_transcript("PostModelSwitch", json!({"from_model": "claude-old", "to_model": "claude-new", "requested_model": "new", "source": "command"}))));
    let after = with_transcript(
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_4"}),
    );
    assert_no_opinion(&home.hook(&after));
    let mut other = after.clone();
    other["session_id"] = json!("another-session");
    assert_no_opinion(&home.hook(&other));
    let sub_transcript = transcript
        .with_extension("")
        .join("subagents")
        .join("agent-a1.jsonl");
    std::fs::create_dir_all(sub_transcript.parent().unwrap()).unwrap();
    std::fs::write(
        &sub_transcript,
        format!("{}\n", assistant("claude-sub", "toolu_5")),
    )
    .unwrap();
    assert_no_opinion(&home.hook(&with_transcript("PreToolUse", json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_5", "agent_id": "a1", "agent_type": "Explore"}))));

    // The same session run by another Claude Code process (a resume): the switch was that
    // process's, not this one's. A shell between the test and the hook stands in for it.
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "\"$0\" hook --event PreToolUse; true", BIN])
        .env("HOOKLEDGER_HOME", home.home());
    let mut resumed = after.clone();
    resumed["tool_use_id"] = json!("toolu_6");
    assert_no_opinion(&run_with_stdin(cmd, resumed.to_string().as_bytes()));

    let calls = home.records_of("tool-call");
    let seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c["model"].as_str().unwrap(),
                c["model_source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("claude-old", "transcript-latest"),
            ("claude-old", "transcript-latest"),
            ("claude-new", "model-switch"),
            ("claude-old", "transcript-latest"),
            ("claude-sub", "transcript-tool-use"),
            ("claude-old", "transcript-latest"),
        ],
        "a requested switch is not the model yet; a completed one is, for its session only"
    );
}

/// Session start: who (from a Claude config with an account, passwd, no repository), and the
/// Claude config in every shape that must read as "no account" without failing or hanging:
/// absent, not JSON, an account of the wrong shape, a FIFO, over the size bound.
#[test]
fn session_start_identity_reads_only_the_account_and_never_fails() {
    let claude_home = tempfile::tempdir().unwrap();
    let config = claude_home.path().join(".claude.json");
    let start = |home: &Home, config_dir: Option<&std::path::Path>| {
        let payload = json!({"hook_event_name": "SessionStart", "session_id": "s1",
            "source": "startup", "cwd": claude_home.path(), "transcript_path": "/nonexistent.jsonl"});
        let home_dir = claude_home.path().display().to_string();
        let mut env = vec![("HOME", home_dir.as_str())];
        let dir_text = config_dir.map(|d| d.display().to_string());
        if let Some(dir) = &dir_text {
            env.push(("CLAUDE_CONFIG_DIR", dir.as_str()));
        }
        let out = home.hook_env(&payload, &env);
        assert_no_opinion(&out);
        home.records_of("session-start").pop().unwrap()
    };
    let id_un = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = text(&id_un.stdout).trim().to_owned();

    std::fs::write(
        &config,
        json!({"oauthAccount": {"emailAddress": "dev@example.com", "accountUuid": "a-1",
            "organizationUuid": "o-1", "refreshToken": "never-stored"},
            "primaryApiKey": "never-stored"})
        .to_string(),
    )
    .unwrap();
    let home = Home::new();
    let record = start(&home, None);
    assert_eq!(record["identity"]["claude"]["email"], "dev@example.com");
    assert_eq!(record["identity"]["claude"]["organization_uuid"], "o-1");
    assert_eq!(record["identity"]["os_user"]["name"], account.as_str());
    assert_eq!(record["identity"]["git"], Value::Null, "not a repository");
    assert!(!record.to_string().contains("never-stored"));
    // $CLAUDE_CONFIG_DIR is where Claude Code looks first.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join(".claude.json"),
        json!({"oauthAccount": {"emailAddress": "other@example.com"}}).to_string(),
    )
    .unwrap();
    let record = start(&home, Some(other.path()));
    assert_eq!(record["identity"]["claude"]["email"], "other@example.com");

    for (what, bytes) in [
        ("not JSON", b"{oauthAccount".to_vec()),
        (
            "an account of another shape",
            br#"{"oauthAccount": ["x"]}"#.to_vec(),
        ),
        ("no account", br#"{"primaryApiKey": "k"}"#.to_vec()),
        (
            "over the size bound",
            format!(
                r#"{{"pad": "{}", "oauthAccount": {{"emailAddress": "big@example.com"}}}}"#,
                "x".repeat(9 << 20)
            )
            .into_bytes(),
        ),
    ] {
        std::fs::write(&config, bytes).unwrap();
        let record = start(&home, None);
        assert_eq!(record["identity"]["claude"], Value::Null, "{what}");
        assert_eq!(record["identity"]["os_user"]["name"], account.as_str());
    }
    std::fs::remove_file(&config).unwrap();
    let c = std::ffi::CString::new(config.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path that lives through the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let record = start(&home, None);
    assert_eq!(
        record["identity"]["claude"],
        Value::Null,
        "a FIFO is not read"
    );
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
}

/// Stop: the turn's tokens per model from the transcript tail, each message once, back to the
/// turn's prompt only; without a readable transcript, `unavailable`.
#[test]
fn stop_records_the_turns_usage_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("t.jsonl");
    let assistant = |id: &str, model: &str, block: &str, tokens: [u64; 4]| {
        json!({"type": "assistant", "message": {"id": id, "model": model,
            "content": [serde_json::from_str::<Value>(block).unwrap()],
            "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1],
                      "cache_read_input_tokens": tokens[2], "cache_creation_input_tokens": tokens[3]}}})
        .to_string()
    };
    let lines = [
        json!({"type": "user", "promptId": "p0", "message": {"role": "user", "content": "earlier"}}).to_string(),
        assistant("m0", "claude-a", r#"{"type":"text","text":"x"}"#, [1000, 1000, 1000, 1000]),
        json!({"type": "user", "promptId": "p1", "message": {"role": "user", "content": "now"}}).to_string(),
        assistant("m1", "claude-a", r#"{"type":"text","text":"a"}"#, [10, 2, 300, 40]),
        assistant("m1", "claude-a", r#"{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}"#, [10, 2, 300, 40]),
        json!({"type": "user", "promptId": "p1", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}}).to_string(),
        assistant("m2", "claude-b", r#"{"type":"text","text":"b"}"#, [11, 3, 301, 41]),
        assistant("m3", "claude-a", r#"{"type":"text","text":"c"}"#, [12, 4, 302, 42]),
    ];
    std::fs::write(&transcript, lines.join("\n") + "\n").unwrap();
    let home = Home::new();
    let stop = |path: &std::path::Path| {
        let out = home.hook(
            &json!({"hook_event_name": "Stop", "session_id": "s1", "prompt_id": "p1",
            "cwd": dir.path(), "transcript_path": path, "stop_hook_active": false}),
        );
        assert_no_opinion(&out);
        home.records_of("stop").pop().unwrap()
    };
    let record = stop(&transcript);
    assert_eq!(
        record["usage"],
        json!([
            {"model": "claude-a", "input_tokens": 22, "output_tokens": 6,
             "cache_read_input_tokens": 602, "cache_creation_input_tokens": 82, "messages": 2},
            {"model": "claude-b", "input_tokens": 11, "output_tokens": 3,
             "cache_read_input_tokens": 301, "cache_creation_input_tokens": 41, "messages": 1},
        ]),
        "{record:#}"
    );
    assert_eq!(record["usage_source"], "transcript");
    assert_eq!(record["usage_complete"], true);
    assert_eq!(record["model"], "claude-a");
    assert_eq!(record["model_source"], "turn-attestation");
    assert_eq!(
        record["tool_models"],
        json!([{"tool_use_id": "toolu_1", "model": "claude-a"}])
    );

    let record = stop(&dir.path().join("missing.jsonl"));
    assert_eq!(record["usage"], json!([]));
    assert_eq!(record["usage_source"], "unavailable");
    assert_ne!(record["model_source"], "turn-attestation");
}
