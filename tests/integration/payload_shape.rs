//! Schema drift fails closed: a gating event whose payload lacks the shape hookledger relies
//! on gets the policy's `on_error` (deny by default, and with no policy), with a reason naming
//! the field; unknown extra fields are always accepted.

use serde_json::{Value, json};

use crate::util::*;

/// (name, payload fields merged over a PreToolUse of Read, the field the reason must name)
fn drifted() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("no-tool-name", json!({"tool_name": null}), "`tool_name`"),
        ("empty-tool-name", json!({"tool_name": ""}), "`tool_name`"),
        ("numeric-tool-name", json!({"tool_name": 3}), "`tool_name`"),
        (
            "tool-input-string",
            json!({"tool_input": "cat .env"}),
            "`tool_input`",
        ),
        (
            "tool-input-array",
            json!({"tool_input": [{"file_path": "/etc/passwd"}]}),
            "`tool_input`",
        ),
        (
            "tool-input-missing",
            json!({"tool_input": null}),
            "`tool_input`",
        ),
        (
            "read-path-renamed",
            json!({"tool_input": {"path": "/etc/passwd"}}),
            "`tool_input.file_path`",
        ),
        (
            "read-path-array",
            json!({"tool_input": {"file_path": ["/etc/passwd"]}}),
            "`tool_input.file_path`",
        ),
        (
            "read-path-object",
            json!({"tool_input": {"file_path": {"value": "/x"}}}),
            "`tool_input.file_path`",
        ),
        (
            "bash-command-renamed",
            json!({"tool_name": "Bash", "tool_input": {"cmd": "cat .env"}}),
            "`tool_input.command`",
        ),
        (
            "bash-command-array",
            json!({"tool_name": "Bash", "tool_input": {"command": ["cat", ".env"]}}),
            "`tool_input.command`",
        ),
        (
            "powershell-no-command",
            json!({"tool_name": "PowerShell", "tool_input": {}}),
            "`tool_input.command`",
        ),
        (
            "edit-no-path",
            json!({"tool_name": "Edit", "tool_input": {"old_string": "a", "new_string": "b"}}),
            "`tool_input.file_path`",
        ),
        (
            "edit-new-string-number",
            json!({"tool_name": "Edit", "tool_input": {"file_path": "/w/a", "old_string": "a", "new_string": 1}}),
            "`tool_input.new_string`",
        ),
        (
            "write-content-missing",
            json!({"tool_name": "Write", "tool_input": {"file_path": "/w/a"}}),
            "`tool_input.content`",
        ),
        (
            "multiedit-edits-object",
            json!({"tool_name": "MultiEdit", "tool_input": {"file_path": "/w/a", "edits": {"old_string": "a"}}}),
            "`tool_input.edits`",
        ),
        (
            "multiedit-edit-incomplete",
            json!({"tool_name": "MultiEdit", "tool_input": {"file_path": "/w/a", "edits": [{"old_string": "a"}]}}),
            "`tool_input.edits`",
        ),
        (
            "notebook-path-renamed",
            json!({"tool_name": "NotebookEdit", "tool_input": {"path": "/w/a.ipynb", "new_source": "x"}}),
            "`tool_input.notebook_path`",
        ),
        (
            "glob-no-pattern",
            json!({"tool_name": "Glob", "tool_input": {"path": "/"}}),
            "`tool_input.pattern`",
        ),
        (
            "grep-path-number",
            json!({"tool_name": "Grep", "tool_input": {"pattern": "x", "path": 1}}),
            "`tool_input.path`",
        ),
        (
            "ls-no-path",
            json!({"tool_name": "LS", "tool_input": {}}),
            "`tool_input.path`",
        ),
        (
            "tool-name-case",
            json!({"tool_name": "bash", "tool_input": {"command": "cat .env"}}),
            "`tool_name`",
        ),
        ("cwd-missing", json!({"cwd": null}), "`cwd`"),
        ("cwd-relative", json!({"cwd": "proj"}), "`cwd`"),
    ]
}

fn pre_tool_read() -> Value {
    pre_tool("Read", json!({"file_path": "/tmp/a.txt"}), "toolu_drift")
}

fn merged(fields: &Value) -> Value {
    let mut p = pre_tool_read();
    for (k, v) in fields.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p
}

#[test]
fn drifted_payloads_are_refused_with_the_field_named() {
    let home = Home::new();
    let mut failures = Vec::new();
    for (name, fields, field) in drifted() {
        let out = home.hook(&merged(&fields));
        let stderr = text(&out.stderr);
        if out.status.code() != Some(2)
            || !stderr.contains("unexpected-payload")
            || !stderr.contains(field)
            || stderr.trim_end().lines().count() != 1
        {
            failures.push(format!("{name}: exit {:?}, {stderr:?}", out.status.code()));
            continue;
        }
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if answer["hookSpecificOutput"]["permissionDecision"] != "deny" {
            failures.push(format!("{name}: no JSON deny: {}", text(&out.stdout)));
        }
        let call = home.records_of("tool-call").pop().unwrap_or(Value::Null);
        if call["decision"]["rule"] != "unexpected-payload" {
            failures.push(format!("{name}: recorded {:#}", call["decision"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_extra_fields_are_accepted() {
    let home = Home::new();
    let mut p = pre_tool(
        "Bash",
        json!({"command": "ls", "description": "list", "future_flag": {"nested": [1, 2]}}),
        "toolu_extra",
    );
    p["scratchpad_dir"] = json!("/tmp/scratch");
    p["served_call"] = json!(true);
    p["mcp_server"] = json!({"name": "x", "source": "y"});
    assert_no_opinion(&home.hook(&p));
    // Unknown tools and MCP tools have open inputs: nothing is required of them.
    assert_no_opinion(&home.hook(&pre_tool("FutureTool", json!({"anything": 1}), "t2")));
    assert_no_opinion(&home.hook(&pre_tool("mcp__x__y", json!({}), "t3")));
    // Optional fields may be absent or null (searched from a cwd that holds no ledger).
    let work = tempfile::tempdir().unwrap();
    for p in [
        pre_tool("Grep", json!({"pattern": "x", "path": null}), "t4"),
        pre_tool("Glob", json!({"pattern": "*.rs"}), "t5"),
    ] {
        let mut p = p;
        p["cwd"] = json!(work.path().display().to_string());
        assert_no_opinion(&home.hook(&p));
    }
}

#[test]
fn event_names_in_another_case_stay_gating() {
    let home = Home::new();
    let mut p = pre_tool("Bash", json!({"command": "ls"}), "toolu_case");
    p["hook_event_name"] = json!("pretooluse");
    // Registered as PreToolUse.
    let out = home.hook_raw(p.to_string().as_bytes(), Some("PreToolUse"));
    assert_refused(&out, "`hook_event_name` is \"pretooluse\"");
    // No registration hint at all: still recognised as PreToolUse, still refused.
    let out = home.hook_raw(p.to_string().as_bytes(), None);
    assert_refused(&out, "unexpected-payload");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["hookEventName"], "PreToolUse");
    // A payload naming another event than the one it is registered for.
    p["hook_event_name"] = json!("PostToolUse");
    let out = home.hook_raw(p.to_string().as_bytes(), Some("PreToolUse"));
    assert_refused(&out, "`hook_event_name` is \"PostToolUse\"");
    // A non-string name under a gating registration.
    p["hook_event_name"] = json!(7);
    let out = home.hook_raw(p.to_string().as_bytes(), Some("PreToolUse"));
    assert_refused(&out, "unexpected-payload");
    // Non-gating events are still only recorded.
    let stop = payload("stop", json!({}));
    assert_eq!(
        home.hook_raw(stop.to_string().as_bytes(), None)
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn prompts_and_permission_requests_have_shapes_too() {
    let home = Home::new();
    let out = home.hook(&payload("UserPromptSubmit", json!({"text": "hi"})));
    assert_refused(&out, "`prompt` is missing");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["decision"], "block");
    let out = home.hook(&payload(
        "UserPromptSubmit",
        json!({"prompt": {"text": "hi"}}),
    ));
    assert_refused(&out, "`prompt` is an object");
    let out = home.hook(&payload(
        "PermissionRequest",
        json!({"tool_name": "Bash", "tool_input": {"cmd": "rm -rf x"}}),
    ));
    assert_refused(&out, "`tool_input.command`");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["decision"]["behavior"], "deny");
    // Well-formed ones pass.
    assert_no_opinion(&home.hook(&payload("UserPromptSubmit", json!({"prompt": "hi"}))));
}

/// `on_error: allow` in the policy lets a drifted payload through (and records why); any
/// policy that says nothing, or deny, refuses, also under audit.
#[test]
fn on_error_decides() {
    let home = Home::new();
    let managed = tempfile::tempdir().unwrap();
    let run = |policy: Value| {
        std::fs::write(managed.path().join("policy.json"), policy.to_string()).unwrap();
        let mut cmd = home.command();
        cmd.env("HOOKLEDGER_MANAGED_DIR", managed.path())
            .args(["hook", "--event", "PreToolUse"]);
        let p = pre_tool("Bash", json!({"cmd": "cat .env"}), "toolu_oe");
        run_with_stdin(cmd, p.to_string().as_bytes())
    };
    let out = run(json!({"version": 1, "on_error": "allow"}));
    assert_no_opinion(&out);
    let call = home.records_of("tool-call").pop().unwrap();
    assert_eq!(call["decision"]["rule"], "unexpected-payload", "{call:#}");
    assert_eq!(call["decision"]["action"], "allow");
    assert_refused(&run(json!({"version": 1})), "unexpected-payload");
    assert_refused(
        &run(json!({"version": 1, "on_error": "deny", "enforcement": "audit"})),
        "unexpected-payload",
    );
}
