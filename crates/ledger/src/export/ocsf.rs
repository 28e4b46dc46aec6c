//! The `ocsf` export format: each record as the OCSF event class that fits it, with the chain
//! fields and the exact payload under `unmapped.hookledger`
//! (`schema/export-ocsf.schema.json`).
//!
//! | record | class | activity |
//! |---|---|---|
//! | `edit` | 1001 File System Activity | 1 Create / 3 Update |
//! | `tool-call` on files | 1001 File System Activity | 2 Read / 3 Update |
//! | `tool-call` of Bash (with a `tool_use_id`) | 1007 Process Activity | 1 Launch |
//! | `session-start` / `session-end` | 6002 Application Lifecycle | 3 Start / 4 Stop |
//! | `prompt` | 6003 API Activity | 1 Create |
//! | anything else | 6003 API Activity | 99 Other |
//!
//! Policy decisions use the Security Control profile (`action_id`, `disposition_id`, `policy`)
//! and models the AI Operation profile (`ai_model`, and on a turn's closing record
//! `message_context` with its token counts) where the class admits that profile (OCSF 1.8.0:
//! API Activity and Process Activity; File System Activity and Application Lifecycle do not,
//! and their model stays in the payload under `unmapped.hookledger`). Every line validates
//! against the official OCSF schema of the version it declares (PyPI `ocsf-json-schema`, in the
//! end-to-end test). A Bash launch is a Process Activity whose `process.uid` is the tool call's
//! id (OCSF needs a pid, uid or cpid; the hook answers before the process exists, so it has no
//! pid). The chain is hookledger's own: OCSF 1.9's `record_integrity` profile is not in a
//! schema package that validates offline, and its fingerprint hashes an OCSF serialization of
//! the event, which these fields do not, so they are not presented as one.

use serde_json::{Map, Value, json};

use super::Context;
use super::RecordRef;
use super::mapped::{self, RecordView};
use crate::record::Kind;

pub const FORMAT: &str = "hookledger-ocsf/1";
/// The OCSF schema version the classes and attributes follow.
pub const OCSF_VERSION: &str = "1.8.0";

pub fn write_line(ledger_id: &str, record: &RecordRef<'_>, context: &Context, line: &mut Vec<u8>) {
    let view = RecordView::of(ledger_id, record);
    let derived = derive(&view, Some(context));
    mapped::write_line(
        derived,
        &["unmapped", "hookledger"],
        FORMAT,
        ledger_id,
        record,
        line,
    );
}

struct Class {
    uid: u32,
    name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u32,
    activity_name: &'static str,
}

const SYSTEM: (u32, &str) = (1, "System Activity");
const APPLICATION: (u32, &str) = (6, "Application Activity");

fn class(view: &RecordView<'_>) -> Class {
    let make = |uid,
                name,
                (category_uid, category_name): (u32, &'static str),
                activity_id,
                activity_name| Class {
        uid,
        name,
        category_uid,
        category_name,
        activity_id,
        activity_name,
    };
    let file = |activity_id, activity_name| {
        make(
            1001,
            "File System Activity",
            SYSTEM,
            activity_id,
            activity_name,
        )
    };
    let api = |activity_id, activity_name| {
        make(
            6003,
            "API Activity",
            APPLICATION,
            activity_id,
            activity_name,
        )
    };
    let lifecycle = |activity_id, activity_name| {
        make(
            6002,
            "Application Lifecycle",
            APPLICATION,
            activity_id,
            activity_name,
        )
    };
    match view.kind() {
        Some(Kind::Edit) if view.payload.subject_path().is_none() => api(99, "Other"),
        Some(Kind::Edit) if view.payload.change.as_deref() == Some("create") => file(1, "Create"),
        Some(Kind::Edit) => file(3, "Update"),
        Some(Kind::ToolCall | Kind::PermissionRequest)
            if view.payload.tool.as_deref() == Some("Bash")
                && view.payload.tool_use_id.is_some() =>
        {
            make(1007, "Process Activity", SYSTEM, 1, "Launch")
        }
        Some(Kind::ToolCall | Kind::PermissionRequest) if view.payload.subject_path().is_some() => {
            match view.payload.access() {
                Some("write") => file(3, "Update"),
                _ => file(2, "Read"),
            }
        }
        Some(Kind::SessionStart) => lifecycle(3, "Start"),
        Some(Kind::SessionEnd) => lifecycle(4, "Stop"),
        Some(Kind::Prompt) => api(1, "Create"),
        _ => api(99, "Other"),
    }
}

/// The OCSF attributes of a record. Without `context`, host and user are left out (a receiver
/// checking a line derives only what the payload proves).
pub fn derive(view: &RecordView<'_>, context: Option<&Context>) -> Map<String, Value> {
    let class = class(view);
    let mut out = Map::new();
    out.insert("class_uid".into(), json!(class.uid));
    out.insert("class_name".into(), json!(class.name));
    out.insert("category_uid".into(), json!(class.category_uid));
    out.insert("category_name".into(), json!(class.category_name));
    out.insert("activity_id".into(), json!(class.activity_id));
    out.insert("activity_name".into(), json!(class.activity_name));
    out.insert(
        "type_uid".into(),
        json!(u64::from(class.uid) * 100 + u64::from(class.activity_id)),
    );
    out.insert(
        "type_name".into(),
        json!(format!("{}: {}", class.name, class.activity_name)),
    );
    out.insert("time".into(), json!(view.ts_ns.div_euclid(1_000_000)));
    out.insert("message".into(), json!(super::ecs::message(view)));
    let enforced_deny = view.payload.verdict() == Some("deny") && view.payload.enforced();
    let (severity_id, severity) = match view.payload.verdict() {
        Some("deny") => (3, "Medium"),
        Some("ask") => (2, "Low"),
        _ => (1, "Informational"),
    };
    out.insert("severity_id".into(), json!(severity_id));
    out.insert("severity".into(), json!(severity));
    let (status_id, status) = match view.kind() {
        Some(Kind::ToolFailure | Kind::HookError | Kind::SpoolDamage | Kind::PermissionDenied) => {
            (2, "Failure")
        }
        _ if enforced_deny => (2, "Failure"),
        _ => (1, "Success"),
    };
    out.insert("status_id".into(), json!(status_id));
    out.insert("status".into(), json!(status));

    let mut profiles = vec!["host"];
    let mut metadata = Map::new();
    metadata.insert("version".into(), json!(OCSF_VERSION));
    metadata.insert(
        "product".into(),
        json!({"name": "hookledger", "vendor_name": "hookledger", "version": env!("CARGO_PKG_VERSION")}),
    );
    metadata.insert(
        "uid".into(),
        json!(format!("{}-{}", view.ledger_id, view.seq)),
    );
    metadata.insert("sequence".into(), json!(view.seq));
    metadata.insert("log_name".into(), json!("hookledger"));
    metadata.insert("event_code".into(), json!(view.kind));

    let (host, user) = mapped::context_fields(context);
    let mut actor = Map::new();
    actor.insert("app_name".into(), json!("Claude Code"));
    if let Some(user) = user {
        actor.insert("user".into(), json!({ "name": user }));
    }
    if let Some(session) = view.payload.session_id.as_deref() {
        actor.insert("session".into(), json!({ "uid": session }));
    }
    out.insert("actor".into(), Value::Object(actor));
    if let Some(host) = host {
        out.insert("device".into(), json!({ "hostname": host, "type_id": 0 }));
    }

    match class.uid {
        1001 => {
            if let Some(path) = view.payload.subject_path() {
                let (name, parent, _) = mapped::split_path(path);
                let mut file = Map::new();
                file.insert("path".into(), json!(path));
                file.insert("name".into(), json!(name.unwrap_or(path)));
                if let Some(parent) = parent {
                    file.insert("parent_folder".into(), json!(parent));
                }
                file.insert("type_id".into(), json!(1));
                if let Some(after) = view.payload.after_blake3.as_deref() {
                    file.insert(
                        "hashes".into(),
                        json!([{"algorithm_id": 99, "algorithm": "BLAKE3", "value": after}]),
                    );
                }
                out.insert("file".into(), Value::Object(file));
            }
        }
        1007 => {
            let mut process = Map::new();
            process.insert("name".into(), json!("bash"));
            if let Some(id) = view.payload.tool_use_id.as_deref() {
                process.insert("uid".into(), json!(id));
            }
            if let Some(command) = view.payload.command() {
                process.insert("cmd_line".into(), json!(command));
            }
            out.insert("process".into(), Value::Object(process));
        }
        6002 => {
            let mut app = Map::new();
            app.insert("name".into(), json!("Claude Code"));
            app.insert("vendor_name".into(), json!("Anthropic"));
            if let Some(version) = view.payload.claude_code_version.as_deref() {
                app.insert("version".into(), json!(version));
            }
            out.insert("app".into(), Value::Object(app));
        }
        _ => {
            let operation = view.payload.tool.as_deref().unwrap_or(view.kind);
            out.insert(
                "api".into(),
                json!({"operation": operation, "service": {"name": "Claude Code"}}),
            );
            let mut src = Map::new();
            if let Some(host) = host {
                src.insert("hostname".into(), json!(host));
            }
            out.insert("src_endpoint".into(), Value::Object(src));
            if let Some(path) = view.payload.subject_path() {
                out.insert(
                    "resources".into(),
                    json!([{ "name": path, "type": "file" }]),
                );
            }
        }
    }

    if let Some(decision) = &view.payload.decision {
        profiles.push("security_control");
        let (action_id, action, disposition_id, disposition) = match view.payload.verdict() {
            Some("deny") if view.payload.enforced() => (2, "Denied", 2, "Blocked"),
            Some("ask") => (1, "Allowed", 15, "Detected"),
            _ => (1, "Allowed", 1, "Allowed"),
        };
        out.insert("action_id".into(), json!(action_id));
        out.insert("action".into(), json!(action));
        out.insert("disposition_id".into(), json!(disposition_id));
        out.insert("disposition".into(), json!(disposition));
        // OCSF's policy needs a string name, type or uid: a rule of another shape (a ledger
        // this build did not write) leaves the policy out.
        let mut policy = Map::new();
        if let Some(rule) = decision.rule.as_ref().filter(|r| r.is_string()) {
            policy.insert("uid".into(), rule.clone());
            policy.insert("name".into(), rule.clone());
            if let Some(reason) = decision.reason.as_ref().filter(|r| r.is_string()) {
                policy.insert("desc".into(), reason.clone());
            }
            out.insert("policy".into(), Value::Object(policy));
        }
    }
    if let (Some(model), 1007 | 6003) = (view.payload.model.as_deref(), class.uid) {
        profiles.push("ai_operation");
        out.insert(
            "ai_model".into(),
            json!({"name": model, "ai_provider": "Anthropic"}),
        );
        if let Some((input, output)) = view.payload.token_totals() {
            out.insert(
                "message_context".into(),
                json!({
                    "service": {"name": "Claude Code"},
                    "prompt_tokens": input,
                    "completion_tokens": output,
                    "total_tokens": input.saturating_add(output),
                }),
            );
        }
    }
    metadata.insert("profiles".into(), json!(profiles));
    out.insert("metadata".into(), Value::Object(metadata));
    out
}
