/*!
Turns one hook event into one ledger record: the kind and its JSON payload.

Record kinds are stable names (API, like rule codes). Payloads are flat where a SIEM will
search them and never carry whole tool outputs: large strings become `{blake3, bytes, head}`.
*/

use std::path::Path;

use serde_json::{Map, Value, json};

use super::event::EventKind;
use super::wire::HookPayload;
use crate::ledger::Kind;
use crate::ledger::record::{self as view, Common, ModelSource};
use crate::policy::Decision;

/// Strings longer than this are stored as `{blake3, bytes, head}`.
pub const LARGE_STRING_BYTES: usize = 8 << 10;
const HEAD_CHARS: usize = 256;
/// Edit hunks with more text than this keep per-line BLAKE3 digests instead of the text.
pub const MAX_HUNK_TEXT_BYTES: usize = 1 << 20;
/// Tool outputs keep strings up to this length; longer ones only as size and hash.
const RESULT_STRING_BYTES: usize = 256;
/// Settings and instruction files are hashed up to this size; larger ones only sized.
const HASHED_FILE_BYTES: u64 = 1 << 20;

/// Tools whose successful result is an accepted change to a file.
pub const EDIT_TOOLS: &[&str] = &["Edit", "Write", "MultiEdit", "NotebookEdit"];

/// Which model produced an event, and how we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub model: Option<String>,
    pub source: ModelSource,
    pub cli_version: Option<String>,
}

pub struct RecordInput<'a> {
    pub event: &'a EventKind,
    pub payload: &'a HookPayload,
    pub model: &'a ModelInfo,
    pub decision: Option<&'a Decision>,
    /// Filled in for session starts: repository facts gathered by spawning git.
    pub repository: Option<Value>,
    /// Filled in for Stop/SubagentStop: which model made each tool call of the turn, and the
    /// tokens each model used.
    pub turn: Option<super::Turn>,
    /// Paths a gated tool call would read or write, as the policy resolved them.
    pub targets: Vec<crate::policy::Target>,
    /// Prompt DLP findings (kinds and byte ranges, never the secret).
    pub prompt_findings: Vec<crate::policy::dlp::Finding>,
    /// What the ledger keeps of the prompt text.
    pub prompt_store: crate::policy::file::PromptStore,
    /// Session start: which policy files were in force.
    pub policy: Option<super::PolicyFacts>,
    /// Session start: whether Claude Code's OS sandbox confines Bash, and which layer says so.
    pub sandbox: Option<Value>,
    /// Session start: Claude Code's lock-down settings in the managed tier.
    pub lockdown: Option<Value>,
    /// Session start: who is behind the session ([`super::identity`]).
    pub identity: Option<view::Identity>,
}

pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Where content digests get their key: the ledger's DLP key, found from the ledger path the
/// hook gives ([`key_digests_with`]) and loaded only when a digest needs it.
enum DlpKey {
    Unset,
    At(std::path::PathBuf),
    Loaded(Option<[u8; 32]>),
}

thread_local! {
    static DLP_KEY: std::cell::RefCell<DlpKey> = const { std::cell::RefCell::new(DlpKey::Unset) };
}

/// Content digests built on this thread after this call that need a key use the DLP key of
/// the ledger at `ledger_path` (see [`content_hex`]).
pub fn key_digests_with(ledger_path: &Path) {
    DLP_KEY.with(|k| *k.borrow_mut() = DlpKey::At(ledger_path.to_owned()));
}

fn dlp_key() -> Option<[u8; 32]> {
    DLP_KEY.with(|k| {
        let mut k = k.borrow_mut();
        if let DlpKey::At(path) = &*k {
            let key =
                crate::ledger::keys::load_or_create_dlp_key(&crate::ledger::keys::key_dir(path))
                    .ok();
            *k = DlpKey::Loaded(key);
        }
        match &*k {
            DlpKey::Loaded(key) => *key,
            _ => None,
        }
    })
}

/// A digest of content that holds a detected secret starts with this, then the BLAKE3 keyed
/// with the ledger's DLP key. Plain BLAKE3 of such a text would let anyone with the ledger or
/// an export confirm a guessed secret (guess it, hash the text around it, compare): the keyed
/// digest proves the content only to whoever holds the key, which never leaves `keys/`. Keyed
/// rather than a hash of the redacted text, because the key holder can still match it against
/// the real file, and it is the scheme `secret_redactions` already uses.
pub const KEYED_PREFIX: &str = "keyed:";

/// Content longer than this is digested keyed without being scanned: scanning it would cost the
/// hook more than it is worth, and keying is always safe.
const SCANNED_FOR_DIGEST_BYTES: usize = 1 << 20;

/// The digest stored for content: plain BLAKE3 hex, or, when `holds_secret`,
/// [`KEYED_PREFIX`] + the keyed digest. `None` when a key is needed and cannot be had (no
/// digest rather than one that could be reversed by guessing).
fn guarded_hex(bytes: &[u8], holds_secret: bool) -> Option<String> {
    if !holds_secret {
        return Some(blake3_hex(bytes));
    }
    dlp_key().map(|key| {
        format!(
            "{KEYED_PREFIX}{}",
            crate::policy::dlp::keyed_digest(&key, bytes)
        )
    })
}

fn text_holds_secret(text: &str) -> bool {
    text.len() > SCANNED_FOR_DIGEST_BYTES || !crate::policy::dlp::scan(text).is_empty()
}

/// [`guarded_hex`] of bytes, scanned as text.
pub fn content_hex(bytes: &[u8]) -> Option<String> {
    let holds = bytes.len() > SCANNED_FOR_DIGEST_BYTES
        || text_holds_secret(&String::from_utf8_lossy(bytes));
    guarded_hex(bytes, holds)
}

/// Whether any string of a JSON value (an array of strings read as lines) holds a secret.
fn value_holds_secret(value: &Value, budget: &mut usize) -> bool {
    match value {
        Value::String(s) => {
            *budget = budget.saturating_sub(s.len());
            *budget == 0 || text_holds_secret(s)
        }
        Value::Array(items) if items.len() > 1 && items.iter().all(Value::is_string) => {
            let joined = items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n");
            *budget = budget.saturating_sub(joined.len());
            *budget == 0 || text_holds_secret(&joined)
        }
        Value::Array(items) => items.iter().any(|v| value_holds_secret(v, budget)),
        Value::Object(map) => map.values().any(|v| value_holds_secret(v, budget)),
        _ => false,
    }
}

/// [`guarded_hex`] of a JSON value's serialization, judged by the strings in it (a JSON
/// escape would hide a line break from the scanner).
fn json_hex(value: &Value, serialized: &[u8]) -> Option<String> {
    let mut budget = SCANNED_FOR_DIGEST_BYTES;
    guarded_hex(serialized, value_holds_secret(value, &mut budget))
}

/// The first `chars` characters of a text, with any secret the text holds redacted first (a
/// head cut through a secret would keep a part the scanner no longer recognizes), and the
/// text's digest.
fn head_and_hex(text: &str, chars: usize) -> (String, Option<String>) {
    use crate::policy::dlp;
    // Past the scan limit only the window the head comes from is scanned, by more than the
    // longest key block; the digest is keyed anyway.
    let window_end = if text.len() > SCANNED_FOR_DIGEST_BYTES {
        let mut end = (chars * 4 + (16 << 10)).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        end
    } else {
        text.len()
    };
    let window = &text[..window_end];
    let findings = dlp::scan(window);
    let holds = !findings.is_empty() || window_end < text.len();
    let head_text = if findings.is_empty() {
        head(window, chars).to_owned()
    } else {
        head(&dlp::redact(window, &findings), chars).to_owned()
    };
    (head_text, guarded_hex(text.as_bytes(), holds))
}

fn head(text: &str, chars: usize) -> &str {
    match text.char_indices().nth(chars) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// `{blake3, bytes, head}`: enough to prove what a large string was without storing it.
pub fn digest_string(text: &str) -> Value {
    let (head, hex) = head_and_hex(text, HEAD_CHARS);
    json!({ "blake3": hex, "bytes": text.len(), "head": head })
}

/// Copies a JSON value, replacing every string over `limit` bytes with its digest.
pub fn summarize_large_strings(value: &Value, limit: usize) -> Value {
    match value {
        Value::String(s) if s.len() > limit => digest_string(s),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| summarize_large_strings(v, limit))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), summarize_large_strings(v, limit)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Sizes and hashes of a tool's output, never the output itself: scalars and short strings
/// stay, long strings and nested structures become `{bytes, blake3}`.
fn summarize_output(value: &Value, depth: usize) -> Value {
    let sized = |v: &Value| {
        let text = serde_json::to_string(v).unwrap_or_default();
        json!({ "bytes": text.len(), "blake3": json_hex(v, text.as_bytes()) })
    };
    match value {
        Value::String(s) if s.len() > RESULT_STRING_BYTES => {
            json!({ "bytes": s.len(), "blake3": content_hex(s.as_bytes()) })
        }
        Value::Object(map) if depth < 2 => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), summarize_output(v, depth + 1)))
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() => {
            let mut summary = sized(value);
            summary["items"] = json!(items.len());
            summary
        }
        Value::Object(_) => sized(value),
        other => other.clone(),
    }
}

/// Fields every record carries, so any record can be joined to its session, prompt and agent.
fn common_view(input: &RecordInput<'_>) -> Common {
    let p = input.payload;
    let text = |key: &str| p.str(key).map(str::to_owned);
    Common {
        event: Some(input.event.name().to_owned()),
        session_id: text("session_id"),
        prompt_id: text("prompt_id"),
        cwd: text("cwd"),
        permission_mode: text("permission_mode"),
        transcript_path: text("transcript_path"),
        agent: p.agent_id().map(|id| view::Agent {
            id: Some(id.to_owned()),
            agent_type: text("agent_type"),
            rest: Map::new(),
        }),
    }
}

fn model_view(model: &ModelInfo) -> view::Model {
    view::Model {
        model: model.model.clone(),
        model_source: Some(model.source.as_str().to_owned()),
        claude_code_version: model.cli_version.clone(),
    }
}

/// The targets as recorded: none when there are none; when one cannot be written (a path
/// that is not UTF-8), `targets` is recorded as null, as it always was.
fn targets_view(
    targets: &[crate::policy::Target],
) -> (Option<Vec<view::TargetView>>, Map<String, Value>) {
    let mut rest = Map::new();
    if targets.is_empty() {
        return (None, rest);
    }
    match targets.iter().map(crate::policy::Target::view).collect() {
        Some(views) => (Some(views), rest),
        None => {
            rest.insert("targets".into(), Value::Null);
            (None, rest)
        }
    }
}

/// A typed payload as the `Value` the hook stores (a view always serializes).
fn typed<T: serde::Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

/// `prompt`: the text as the prompt policy keeps it, its hash and size, DLP findings.
fn prompt_record(input: &RecordInput<'_>) -> (Kind, Value) {
    let p = input.payload;
    let prompt = p.str("prompt").unwrap_or_default();
    use crate::policy::file::PromptStore;
    let store = match input.prompt_store {
        // A secret never reaches the ledger in clear, whatever the store setting.
        PromptStore::Full if !input.prompt_findings.is_empty() => PromptStore::Redacted,
        other => other,
    };
    let kept = match store {
        PromptStore::Full => Some(prompt.to_owned()),
        PromptStore::Redacted => Some(crate::policy::dlp::redact(prompt, &input.prompt_findings)),
        PromptStore::Hash => None,
    };
    let mut rest = Map::new();
    rest.insert(
        "prompt_stored".into(),
        serde_json::to_value(store).unwrap_or(Value::Null),
    );
    let secret_findings = if input.prompt_findings.is_empty() {
        None
    } else {
        let findings = serde_json::to_value(&input.prompt_findings)
            .and_then(serde_json::from_value::<Vec<view::Finding>>);
        if findings.is_err() {
            rest.insert("secret_findings".into(), Value::Null);
        }
        findings.ok()
    };
    let record = view::Prompt {
        common: common_view(input),
        prompt: kept,
        prompt_bytes: Some(prompt.len() as u64),
        // The findings are the prompt's one scan (the policy's): no second pass here.
        prompt_blake3: guarded_hex(prompt.as_bytes(), !input.prompt_findings.is_empty()),
        secret_findings,
        model: model_view(input.model),
        decision: input.decision.map(Decision::view),
        rest,
    };
    (Kind::Prompt, typed(&record))
}

/// `tool-call`: the call, its (summarized) input, the decision and the paths it touches.
fn tool_call_record(input: &RecordInput<'_>) -> (Kind, Value) {
    let (targets, rest) = targets_view(&input.targets);
    let call = view::ToolCall {
        decision: input.decision.map(Decision::view),
        targets,
        rest,
        ..tool_call_base(input)
    };
    (Kind::ToolCall, typed(&call))
}

/// `stop`, `subagent-stop`: the end of a turn, with the model of each of its tool calls.
fn stop_record(input: &RecordInput<'_>) -> (Kind, Value) {
    let p = input.payload;
    let count = |key: &str| p.get(key).and_then(Value::as_array).map(|a| a.len() as u64);
    let subagent = *input.event == EventKind::SubagentStop;
    let stop = view::Stop {
        common: common_view(input),
        model: model_view(input.model),
        tool_models: input.turn.as_ref().map(|turn| {
            turn.tool_models
                .iter()
                .map(|(id, model)| view::ToolModel {
                    tool_use_id: Some(id.clone()),
                    model: Some(model.clone()),
                    rest: Map::new(),
                })
                .collect()
        }),
        stop_hook_active: p.get("stop_hook_active").cloned(),
        last_assistant_message: p.str("last_assistant_message").map(digest),
        background_tasks: count("background_tasks"),
        session_crons: count("session_crons"),
        agent_transcript_path: subagent.then(|| text(p, "agent_transcript_path")).flatten(),
        usage: input.turn.as_ref().map(|t| t.usage.clone()),
        usage_source: input
            .turn
            .as_ref()
            .map(|t| t.usage_source.as_str().to_owned()),
        usage_complete: input
            .turn
            .as_ref()
            .filter(|t| t.usage_source == view::UsageSource::Transcript)
            .map(|t| t.usage_complete),
        rest: Map::new(),
    };
    (
        if subagent {
            Kind::SubagentStop
        } else {
            Kind::Stop
        },
        typed(&stop),
    )
}

pub fn build(input: &RecordInput<'_>) -> (Kind, Value) {
    let p = input.payload;
    match input.event {
        EventKind::UserPromptSubmit => prompt_record(input),
        EventKind::PreToolUse => tool_call_record(input),
        EventKind::PostToolUse if p.tool_name().is_some_and(|t| EDIT_TOOLS.contains(&t)) => {
            (Kind::Edit, typed(&edit_view(input)))
        }
        EventKind::Stop | EventKind::SubagentStop => stop_record(input),
        EventKind::SessionStart => (Kind::SessionStart, typed(&session_start_view(input))),
        EventKind::PostToolUse | EventKind::PostToolUseFailure => tool_outcome_record(input),
        EventKind::PermissionRequest | EventKind::PermissionDenied => permission_record(input),
        EventKind::PreSkillShellCommand => {
            let (targets, rest) = targets_view(&input.targets);
            let call = view::ToolCall {
                command_name: bounded(p, "command_name", 200),
                command_source: bounded(p, "command_source", 200),
                invoked_by: bounded(p, "invoked_by", 200),
                decision: input.decision.map(Decision::view),
                targets,
                rest,
                ..tool_call_base(input)
            };
            (Kind::SkillShellCommand, typed(&call))
        }
        _ => {
            let (kind, facts) = event_facts(input);
            (kind, typed(&facts))
        }
    }
}

fn text(p: &HookPayload, key: &str) -> Option<String> {
    p.str(key).map(str::to_owned)
}

/// A string field cut to `chars` characters.
fn bounded(p: &HookPayload, key: &str, chars: usize) -> Option<String> {
    p.str(key).map(|v| head(v, chars).to_owned())
}

/// [`digest_string`], typed.
fn digest(text: &str) -> view::Digest {
    let (head, hex) = head_and_hex(text, HEAD_CHARS);
    view::Digest {
        blake3: hex,
        bytes: Some(text.len() as u64),
        head: Some(head),
    }
}

/// Proof of bytes that must not be kept at all (not even a head): `{blake3, bytes}`.
fn proof(bytes: &[u8]) -> view::Digest {
    view::Digest {
        blake3: content_hex(bytes),
        bytes: Some(bytes.len() as u64),
        head: None,
    }
}

/// [`proof`] of a value, as its canonical JSON.
fn proof_value(value: &Value) -> view::Digest {
    let bytes = crate::ledger::canonical_json(value);
    view::Digest {
        blake3: json_hex(value, &bytes),
        bytes: Some(bytes.len() as u64),
        head: None,
    }
}

/// `session-start`: where and how the session began, on which host, under which policy.
fn session_start_view(input: &RecordInput<'_>) -> view::SessionStart {
    let p = input.payload;
    view::SessionStart {
        common: common_view(input),
        source: text(p, "source"),
        model: model_view(input.model),
        repository: input.repository.clone().unwrap_or(Value::Null),
        sandbox: input.sandbox.clone().unwrap_or(Value::Null),
        model_reported: text(p, "model"),
        agent_type: text(p, "agent_type"),
        host: Some(crate::config::host_name()),
        os_user: Some(crate::config::os_user()),
        hookledger_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        policy: Some(
            input
                .policy
                .as_ref()
                .map_or(Value::Null, |p| p.policy.clone()),
        ),
        pid: Some(u64::from(std::process::id())),
        identity: input.identity.clone(),
        policy_digests: input.policy.as_ref().map(|p| p.digests.clone()),
        lockdown: input.lockdown.clone(),
        rest: Map::new(),
    }
}

/// `tool-result`, `tool-failure`: the input's hash, the output or error only sized and hashed.
fn tool_outcome_record(input: &RecordInput<'_>) -> (Kind, Value) {
    let p = input.payload;
    let mut outcome = view::ToolOutcome {
        common: common_view(input),
        tool: p.tool_name().map(str::to_owned),
        tool_use_id: p.tool_use_id().map(str::to_owned),
        model: model_view(input.model),
        input_blake3: input_hash(p),
        duration_ms: p.get("duration_ms").cloned(),
        ..view::ToolOutcome::default()
    };
    if *input.event == EventKind::PostToolUseFailure {
        let error = p.str("error").unwrap_or_default();
        outcome.status = "failure".into();
        outcome.error_first_line = Some(head(error.lines().next().unwrap_or(""), 200).to_owned());
        outcome.error_bytes = Some(error.len() as u64);
        outcome.error_blake3 = content_hex(error.as_bytes());
        outcome.is_interrupt = p.get("is_interrupt").cloned();
        return (Kind::ToolFailure, typed(&outcome));
    }
    outcome.status = "success".into();
    if let Some(response) = p.tool_response() {
        let text = serde_json::to_string(response).unwrap_or_default();
        outcome.response_bytes = Some(text.len() as u64);
        outcome.response_blake3 = json_hex(response, text.as_bytes());
        outcome.response = Some(summarize_output(response, 0));
    }
    (Kind::ToolResult, typed(&outcome))
}

/// The fields every tool-call-shaped record has: the call, its (summarized) input, the model.
fn tool_call_base(input: &RecordInput<'_>) -> view::ToolCall {
    let p = input.payload;
    view::ToolCall {
        common: common_view(input),
        tool: p.tool_name().map(str::to_owned),
        tool_use_id: p.tool_use_id().map(str::to_owned),
        model: model_view(input.model),
        input: tool_input_summary(p),
        ..view::ToolCall::default()
    }
}

/// `permission-request` (gated like a tool call) and `permission-denied` (Claude Code's own
/// refusal, with its reason).
fn permission_record(input: &RecordInput<'_>) -> (Kind, Value) {
    let p = input.payload;
    if *input.event == EventKind::PermissionDenied {
        let call = view::ToolCall {
            reason: text(p, "reason"),
            ..tool_call_base(input)
        };
        return (Kind::PermissionDenied, typed(&call));
    }
    let (targets, rest) = targets_view(&input.targets);
    let call = view::ToolCall {
        permission_suggestions: p
            .get("permission_suggestions")
            .map(|v| summarize_large_strings(v, 1024)),
        decision: input.decision.map(Decision::view),
        targets,
        rest,
        ..tool_call_base(input)
    };
    (Kind::PermissionRequest, typed(&call))
}

/// The smaller kinds: what each event says, bounded, and texts that may hold anything only
/// as digests.
fn event_facts(input: &RecordInput<'_>) -> (Kind, view::EventFacts) {
    let p = input.payload;
    let mut facts = view::EventFacts {
        common: common_view(input),
        ..view::EventFacts::default()
    };
    let kind = match input.event {
        EventKind::SubagentStart => Kind::SubagentStart,
        EventKind::PreCompact => {
            facts.trigger = text(p, "trigger");
            facts.custom_instructions = p.str("custom_instructions").map(digest);
            Kind::PreCompact
        }
        EventKind::Notification => {
            facts.notification_type = text(p, "notification_type");
            facts.title = text(p, "title");
            facts.message = bounded(p, "message", 1000).map(view::Text::Kept);
            Kind::Notification
        }
        EventKind::SessionEnd => {
            facts.reason = text(p, "reason");
            Kind::SessionEnd
        }
        EventKind::PreModelSwitch | EventKind::PostModelSwitch => {
            facts.from_model = bounded(p, "from_model", 200);
            facts.to_model = bounded(p, "to_model", 200);
            facts.requested_model = bounded(p, "requested_model", 200);
            facts.source = bounded(p, "source", 200);
            let scalar = |key: &str| {
                p.get(key)
                    .filter(|v| !v.is_object() && !v.is_array())
                    .cloned()
            };
            facts.context_tokens = scalar("context_tokens");
            facts.prompt_cache_warm = scalar("prompt_cache_warm");
            facts.estimated_cache_write_usd = scalar("estimated_cache_write_usd");
            if *input.event == EventKind::PostModelSwitch {
                facts.set_model(model_view(input.model));
                Kind::ModelSwitch
            } else {
                Kind::ModelSwitchRequest
            }
        }
        EventKind::ConfigChange => {
            facts.source = text(p, "source");
            file_facts(&mut facts, p.str("file_path"));
            Kind::ConfigChange
        }
        EventKind::UserPromptExpansion => {
            facts.expansion_type = bounded(p, "expansion_type", 200);
            facts.command_name = bounded(p, "command_name", 200);
            facts.command_source = bounded(p, "command_source", 200);
            // Arguments are typed by the user and may hold anything; the prompt record keeps
            // the text under the prompt policy, this one only proves what it was.
            facts.command_args = p.str("command_args").map(|t| proof(t.as_bytes()));
            facts.prompt = p.str("prompt").map(|t| proof(t.as_bytes()));
            facts.set_model(model_view(input.model));
            Kind::PromptExpansion
        }
        EventKind::InstructionsLoaded => {
            facts.memory_type = text(p, "memory_type");
            facts.load_reason = text(p, "load_reason");
            facts.trigger_file_path = text(p, "trigger_file_path");
            facts.parent_file_path = text(p, "parent_file_path");
            facts.globs = p.get("globs").and_then(Value::as_array).map(|g| {
                g.iter()
                    .filter_map(Value::as_str)
                    .take(32)
                    .map(|s| head(s, 200).to_owned())
                    .collect()
            });
            file_facts(&mut facts, p.str("file_path"));
            Kind::InstructionsLoaded
        }
        EventKind::StopFailure => {
            facts.error = bounded(p, "error", 200);
            facts.error_details = p.get("error_details").map(|details| {
                let text = match details {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                head(&text, 1000).to_owned()
            });
            facts.last_assistant_message = p.str("last_assistant_message").map(digest);
            facts.set_model(model_view(input.model));
            Kind::StopFailure
        }
        EventKind::PostCompact => {
            facts.trigger = text(p, "trigger");
            facts.compact_summary = p.str("compact_summary").map(digest);
            Kind::PostCompact
        }
        EventKind::CwdChanged => {
            facts.old_cwd = text(p, "old_cwd");
            facts.new_cwd = text(p, "new_cwd");
            Kind::CwdChanged
        }
        EventKind::DirectoryAdded => {
            facts.directory = text(p, "directory");
            facts.source = text(p, "source");
            Kind::DirectoryAdded
        }
        EventKind::Setup => {
            facts.trigger = text(p, "trigger");
            Kind::Setup
        }
        EventKind::TaskCreated | EventKind::TaskCompleted => {
            facts.task_id = bounded(p, "task_id", 200);
            facts.teammate_name = bounded(p, "teammate_name", 200);
            facts.team_name = bounded(p, "team_name", 200);
            facts.task_subject = bounded(p, "task_subject", 500);
            facts.task_description = p.str("task_description").map(digest);
            if *input.event == EventKind::TaskCreated {
                Kind::TaskCreated
            } else {
                Kind::TaskCompleted
            }
        }
        EventKind::Elicitation | EventKind::ElicitationResult => {
            facts.mcp_server_name = bounded(p, "mcp_server_name", 200);
            facts.elicitation_id = bounded(p, "elicitation_id", 200);
            facts.mode = bounded(p, "mode", 200);
            facts.action = bounded(p, "action", 200);
            facts.url = bounded(p, "url", 1000);
            facts.message = p.str("message").map(|m| view::Text::Digest(digest(m)));
            // What the user typed into an MCP server's form may be a secret: only its hash.
            let hashed = |key: &str| p.get(key).map(proof_value);
            facts.requested_schema = hashed("requested_schema");
            facts.content = hashed("content");
            if *input.event == EventKind::Elicitation {
                Kind::Elicitation
            } else {
                Kind::ElicitationResult
            }
        }
        // An event this build does not know (the others are built above): all of it, large
        // strings as digests.
        _ => {
            facts.payload = Some(summarize_large_strings(
                &Value::Object(p.raw.clone()),
                LARGE_STRING_BYTES,
            ));
            Kind::Event
        }
    };
    // Every hook record names its model (issue 15): resolved for every event anyway, so the
    // smaller kinds carry it too, `null` with `model_source: unknown` when nothing knew it.
    facts.set_model(model_view(input.model));
    (kind, facts)
}

/// A file an event names (a settings file, an instructions file): its path, and the BLAKE3 and
/// size of what it holds now, so the record shows what was loaded or changed. Only regular
/// files, and only up to [`HASHED_FILE_BYTES`]: a FIFO or a huge file must not stall the hook.
fn file_facts(facts: &mut view::EventFacts, path: Option<&str>) {
    let Some(path) = path else {
        return;
    };
    facts.file_path = Some(path.to_owned());
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "absent".to_owned()
            } else {
                e.to_string()
            };
            facts.file_error = Some(what);
            return;
        }
    };
    if !meta.is_file() {
        facts.file_error = Some("not a regular file".into());
        return;
    }
    facts.file_bytes = Some(meta.len());
    if meta.len() > HASHED_FILE_BYTES {
        return;
    }
    use std::io::Read;
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(HASHED_FILE_BYTES).read_to_end(&mut bytes));
    match read {
        Ok(_) => facts.file_blake3 = content_hex(&bytes),
        Err(e) => facts.file_error = Some(e.to_string()),
    }
}

fn tool_input_summary(p: &HookPayload) -> Value {
    p.get("tool_input").map_or(Value::Null, |v| {
        summarize_large_strings(v, LARGE_STRING_BYTES)
    })
}

fn input_hash(p: &HookPayload) -> Option<String> {
    p.get("tool_input")
        .and_then(|v| json_hex(v, crate::ledger::canonical_json(v).as_slice()))
}

/// The accepted edit: paths, repository, before/after content hashes and the hunks with the
/// added lines' text, which later line attribution matches against committed code.
fn edit_view(record: &RecordInput<'_>) -> view::Edit {
    let p = record.payload;
    let input = p.tool_input();
    let response = p.tool_response().and_then(Value::as_object);
    let field = |key: &str| {
        response
            .and_then(|r| r.get(key))
            .or_else(|| input.and_then(|i| i.get(key)))
            .and_then(Value::as_str)
    };
    let path = input
        .and_then(|i| i.get("file_path").or_else(|| i.get("notebook_path")))
        .and_then(Value::as_str)
        .or_else(|| field("filePath"))
        .or_else(|| field("notebook_path"));
    let absolute = path.map(|path| absolute_path(path, p.cwd()));
    let repository = absolute.as_deref().and_then(|a| {
        let root = crate::git::repository_root(a)?;
        let relative = a
            .strip_prefix(&root)
            .ok()?
            .to_string_lossy()
            .replace('\\', "/");
        Some(view::EditRepository {
            root: root.display().to_string(),
            relative_path: relative,
            rest: Map::new(),
        })
    });
    let original = response
        .and_then(|r| r.get("originalFile").or_else(|| r.get("original_file")))
        .and_then(Value::as_str);
    let (after_blake3, after_bytes, after_error) = match absolute.as_deref().map(std::fs::read) {
        Some(Ok(bytes)) => (content_hex(&bytes), Some(bytes.len() as u64), None),
        Some(Err(e)) => (None, None, Some(e.to_string())),
        None => (None, None, None),
    };
    let change = response
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if original.is_none() && p.tool_name() == Some("Write") {
                "create".into()
            } else {
                "update".into()
            }
        });

    let mut hunks: Vec<Hunk> = response
        .and_then(|r| r.get("structuredPatch"))
        .and_then(Value::as_array)
        .map(|patch| patch.iter().filter_map(Hunk::from_wire).collect())
        .unwrap_or_default();
    if hunks.is_empty() && original.is_none() {
        // A new file's Write can arrive without a patch; the whole content is the added text.
        if let Some(content) = field("content") {
            hunks.push(Hunk::whole_file(content));
        }
    }
    let added: usize = hunks.iter().map(|h| h.count('+')).sum();
    let removed: usize = hunks.iter().map(|h| h.count('-')).sum();
    let text_bytes: usize = hunks.iter().map(Hunk::text_bytes).sum();
    let digested = text_bytes > MAX_HUNK_TEXT_BYTES;
    view::Edit {
        common: common_view(record),
        tool: p.tool_name().map(str::to_owned),
        tool_use_id: p.tool_use_id().map(str::to_owned),
        model: model_view(record.model),
        path: absolute.as_deref().map(|a| a.display().to_string()),
        repository,
        before_blake3: original.and_then(|o| content_hex(o.as_bytes())),
        before_bytes: original.map(|o| o.len() as u64),
        after_blake3,
        after_bytes,
        after_error,
        change,
        user_modified: response.and_then(|r| r.get("userModified")).cloned(),
        lines_added: added as u64,
        lines_removed: removed as u64,
        hunk_lines: if digested { "blake3" } else { "text" }.to_owned(),
        hunks: hunks.into_iter().map(|h| h.into_view(digested)).collect(),
        rest: Map::new(),
    }
}

fn absolute_path(path: &str, cwd: Option<&str>) -> std::path::PathBuf {
    let path = Path::new(path);
    match cwd {
        Some(cwd) if path.is_relative() => Path::new(cwd).join(path),
        _ => path.to_owned(),
    }
}

/// One hunk of a unified diff, lines prefixed with ' ', '+' or '-'.
struct Hunk {
    old_start: u64,
    old_lines: u64,
    new_start: u64,
    new_lines: u64,
    lines: Vec<String>,
}

impl Hunk {
    fn from_wire(value: &Value) -> Option<Hunk> {
        let number = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
        let lines = value.get("lines")?.as_array()?;
        Some(Hunk {
            old_start: number("oldStart"),
            old_lines: number("oldLines"),
            new_start: number("newStart"),
            new_lines: number("newLines"),
            lines: lines
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        })
    }

    fn whole_file(content: &str) -> Hunk {
        let lines: Vec<String> = content.lines().map(|l| format!("+{l}")).collect();
        Hunk {
            old_start: 0,
            old_lines: 0,
            new_start: 1,
            new_lines: lines.len() as u64,
            lines,
        }
    }

    fn count(&self, prefix: char) -> usize {
        self.lines.iter().filter(|l| l.starts_with(prefix)).count()
    }

    fn text_bytes(&self) -> usize {
        self.lines.iter().map(String::len).sum()
    }

    /// With `digested`, each line keeps its prefix and becomes the BLAKE3 of its text; a line
    /// that holds part of a detected secret (the hunk is scanned as one text, so a key block
    /// over many lines is found) gets the keyed digest instead ([`KEYED_PREFIX`]), or none.
    fn into_view(self, digested: bool) -> view::Hunk {
        let lines = if digested {
            let joined = self.lines.join("\n");
            let findings = crate::policy::dlp::scan(&joined);
            let mut start = 0;
            self.lines
                .iter()
                .map(|line| {
                    let end = start + line.len();
                    let holds = findings
                        .iter()
                        .any(|f| f.start < end.max(start + 1) && start < f.end);
                    start = end + 1;
                    let (prefix, text) =
                        line.split_at(line.chars().next().map_or(0, char::len_utf8));
                    format!(
                        "{prefix}{}",
                        guarded_hex(text.as_bytes(), holds).unwrap_or_default()
                    )
                })
                .collect()
        } else {
            self.lines
        };
        view::Hunk {
            old_start: self.old_start,
            old_lines: self.old_lines,
            new_start: self.new_start,
            new_lines: self.new_lines,
            lines,
            rest: Map::new(),
        }
    }
}

/// A payload that could not be handled: what arrived, without trusting it.
pub fn hook_error(input: &[u8], error: &str, event_hint: Option<&str>) -> Value {
    let head_bytes = &input[..input.len().min(HEAD_CHARS)];
    let mut stdin_head = String::from_utf8_lossy(head_bytes).into_owned();
    // The payload may hold a secret the head would cut in two: scan past the head by more
    // than the longest key block, keep the head of the redacted text. Not the whole payload:
    // this runs on every event, before the record is built, and a payload may be megabytes.
    let window = &input[..input.len().min(HEAD_CHARS * 4 + (16 << 10))];
    let whole = String::from_utf8_lossy(window);
    let findings = crate::policy::dlp::scan(&whole);
    if !findings.is_empty() {
        stdin_head = head(&crate::policy::dlp::redact(&whole, &findings), HEAD_CHARS).to_owned();
    }
    // The whole payload's digest is plain only when all of it was scanned and held nothing.
    let holds = !findings.is_empty() || window.len() < input.len();
    json!({
        "error": error,
        "event_hint": event_hint,
        "stdin_bytes": input.len(),
        "stdin_blake3": guarded_hex(input, holds),
        "stdin_head": stdin_head,
    })
}
