//! The `ecs` export format: Elastic Common Schema field names where they fit (`event.*`,
//! `host.*`, `user.*`, `file.*`, `process.*`, `rule.*`, `gen_ai.*`), everything else under the
//! `hookledger` namespace, which also carries the chain fields and the exact payload
//! (`schema/export-ecs.schema.json`).
//!
//! Only fields of the ECS version declared in `ecs.version` are written, each with a value of
//! its ECS type: the end-to-end test checks every line against the field list npm
//! `@elastic/ecs` ships for that version. ECS 9.4 has no `gen_ai.conversation.id` or
//! `gen_ai.provider.name` (OpenTelemetry's newer names): the session id stays in
//! `hookledger.payload.session_id` and the provider is `gen_ai.system`. A value the payload
//! holds in another type than the field's (a rule code that is not a string, in a ledger this
//! build did not write) is left out rather than written as something ECS does not allow.

use serde_json::{Map, Value, json};

use super::Context;
use super::RecordRef;
use super::mapped::{self, RecordView};
use crate::record::Kind;

pub const FORMAT: &str = "hookledger-ecs/1";
/// The ECS version the field names follow.
pub const ECS_VERSION: &str = "9.4.0";

pub fn write_line(ledger_id: &str, record: &RecordRef<'_>, context: &Context, line: &mut Vec<u8>) {
    let view = RecordView::of(ledger_id, record);
    let derived = derive(&view, Some(context));
    mapped::write_line(derived, &["hookledger"], FORMAT, ledger_id, record, line);
}

/// `event.category` and `event.type` (ECS allowed values) for a record kind.
fn classify(view: &RecordView<'_>) -> (&'static str, Vec<&'static str>) {
    let verdict = match view.payload.verdict() {
        Some("deny") => Some("denied"),
        Some("allow") => Some("allowed"),
        _ => None,
    };
    let with_verdict = |base: &'static str| {
        let mut types = vec![base];
        types.extend(verdict);
        types
    };
    match view.kind() {
        Some(Kind::SessionStart) => ("session", vec!["start"]),
        Some(Kind::SessionEnd) => ("session", vec!["end"]),
        Some(Kind::Prompt) => ("api", with_verdict("info")),
        Some(Kind::Edit) if view.payload.change.as_deref() == Some("create") => {
            ("file", vec!["creation"])
        }
        Some(Kind::Edit) => ("file", vec!["change"]),
        Some(Kind::ToolCall | Kind::PermissionRequest)
            if view.payload.tool.as_deref() == Some("Bash") =>
        {
            ("process", with_verdict("start"))
        }
        Some(Kind::ToolCall | Kind::PermissionRequest) if view.payload.subject_path().is_some() => {
            (
                "file",
                with_verdict(if view.payload.access() == Some("write") {
                    "change"
                } else {
                    "access"
                }),
            )
        }
        Some(Kind::ToolCall | Kind::PermissionRequest) => ("api", with_verdict("info")),
        Some(Kind::PermissionDenied) => ("iam", vec!["denied"]),
        Some(Kind::ToolResult | Kind::ToolFailure) => ("process", vec!["info"]),
        Some(Kind::HookError | Kind::SpoolDamage) => ("host", vec!["error"]),
        Some(Kind::Genesis) => ("configuration", vec!["creation"]),
        Some(Kind::Checkpoint | Kind::Prune) => ("configuration", vec!["info"]),
        Some(Kind::Commit) => ("configuration", vec!["change"]),
        _ => ("process", vec!["info"]),
    }
}

fn outcome(view: &RecordView<'_>) -> &'static str {
    match (view.kind(), view.payload.verdict()) {
        (_, Some("deny")) if view.payload.enforced() => "failure",
        (_, Some("allow" | "deny")) => "success",
        (
            Some(Kind::ToolFailure | Kind::HookError | Kind::SpoolDamage | Kind::PermissionDenied),
            _,
        ) => "failure",
        (
            Some(Kind::ToolResult | Kind::Edit | Kind::Checkpoint | Kind::Genesis | Kind::Commit),
            _,
        ) => "success",
        _ => "unknown",
    }
}

/// The ECS fields of a record. Without `context`, host and user are left out (a receiver
/// checking a line derives only what the payload proves).
pub fn derive(view: &RecordView<'_>, context: Option<&Context>) -> Map<String, Value> {
    let (category, types) = classify(view);
    let mut event = Map::new();
    event.insert("kind".into(), json!("event"));
    event.insert("category".into(), json!([category]));
    event.insert("type".into(), json!(types));
    event.insert("action".into(), json!(view.kind));
    event.insert("outcome".into(), json!(outcome(view)));
    event.insert("sequence".into(), json!(view.seq));
    event.insert("hash".into(), json!(crate::frame::to_hex(view.hash)));
    event.insert(
        "id".into(),
        json!(format!("{}-{}", view.ledger_id, view.seq)),
    );
    event.insert("module".into(), json!("hookledger"));
    event.insert("dataset".into(), json!("hookledger.ledger"));
    event.insert("provider".into(), json!("claude-code"));
    event.insert("created".into(), json!(super::rfc3339(view.ts_ns)));
    if let Some(reason) = view
        .payload
        .decision
        .as_ref()
        .and_then(|d| d.reason.as_ref())
        .filter(|r| r.is_string())
    {
        event.insert("reason".into(), reason.clone());
    }

    let mut out = Map::new();
    out.insert("@timestamp".into(), json!(super::rfc3339(view.ts_ns)));
    out.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    out.insert("message".into(), json!(message(view)));
    out.insert("event".into(), Value::Object(event));
    let (host, user) = mapped::context_fields(context);
    if let Some(host) = host {
        out.insert("host".into(), json!({ "name": host, "hostname": host }));
    }
    if let Some(user) = user {
        out.insert("user".into(), json!({ "name": user }));
    }
    if let Some(path) = view.payload.subject_path() {
        let (name, directory, extension) = mapped::split_path(path);
        let mut file = Map::new();
        file.insert("path".into(), json!(path));
        insert_some(&mut file, "name", name);
        insert_some(&mut file, "directory", directory);
        insert_some(&mut file, "extension", extension);
        out.insert("file".into(), Value::Object(file));
    }
    if let Some(command) = view.payload.command() {
        out.insert(
            "process".into(),
            json!({ "command_line": command, "name": "bash" }),
        );
    }
    if let Some(decision) = &view.payload.decision {
        let mut rule = Map::new();
        for (from, to) in [
            (&decision.rule, "name"),
            (&decision.layer, "ruleset"),
            (&decision.reason, "description"),
            (&decision.pattern, "reference"),
        ] {
            if let Some(value) = from.as_ref().filter(|v| v.is_string()) {
                rule.insert(to.into(), value.clone());
            }
        }
        if !rule.is_empty() {
            out.insert("rule".into(), Value::Object(rule));
        }
    }
    let gen_ai = gen_ai(view);
    if !gen_ai.is_empty() {
        out.insert("gen_ai".into(), Value::Object(gen_ai));
    }
    out
}

fn gen_ai(view: &RecordView<'_>) -> Map<String, Value> {
    let mut gen_ai = Map::new();
    if let Some(model) = view.payload.model.as_deref() {
        gen_ai.insert("response".into(), json!({ "model": model }));
        gen_ai.insert("system".into(), json!("anthropic"));
    }
    // A turn's closing record: the tokens of all its models (per model in the payload).
    if let Some((input, output)) = view.payload.token_totals() {
        gen_ai.insert(
            "usage".into(),
            json!({ "input_tokens": input, "output_tokens": output }),
        );
    }
    if let Some(tool) = view.payload.tool.as_deref() {
        let mut call = Map::new();
        insert_some(&mut call, "id", view.payload.tool_use_id.as_deref());
        gen_ai.insert("tool".into(), json!({ "name": tool, "call": call }));
        gen_ai.insert("operation".into(), json!({ "name": "execute_tool" }));
    } else if view.kind() == Some(Kind::Prompt) {
        gen_ai.insert("operation".into(), json!({ "name": "chat" }));
    }
    if let Some(agent) = &view.payload.agent
        && let Some(id) = &agent.id
    {
        let mut object = Map::new();
        object.insert("id".into(), json!(id));
        if let Some(kind) = agent.agent_type.as_ref().filter(|k| k.is_string()) {
            object.insert("name".into(), kind.clone());
        }
        gen_ai.insert("agent".into(), Value::Object(object));
    }
    gen_ai
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        map.insert(key.into(), json!(value));
    }
}

/// One line for a person scanning the SIEM: what happened, and the rule if one refused it.
pub fn message(view: &RecordView<'_>) -> String {
    let mut text = view.kind.to_owned();
    if let Some(tool) = view.payload.tool.as_deref() {
        text.push(' ');
        text.push_str(tool);
    }
    if let Some(path) = view.payload.subject_path() {
        text.push(' ');
        text.push_str(path);
    } else if let Some(command) = view.payload.command() {
        text.push_str(": ");
        text.extend(command.chars().take(120));
    }
    if let (Some(verdict @ ("deny" | "ask")), Some(rule)) =
        (view.payload.verdict(), view.payload.rule())
    {
        text.push_str(&format!(" ({verdict}: {rule})"));
    }
    text
}
