/*!
`hookledger hook`: one Claude Code hook event in, one ledger record and one answer out.

[`wire`] holds payloads as Claude Code sends them; [`event`] and [`record`] the domain view;
[`transcript`] finds the model; [`answer`] speaks the hook contract back; [`guard`] runs
[`handle`] so that an answer goes out in time whatever happens (deadline, panic, fault).
*/

pub mod answer;
pub mod event;
pub mod guard;
pub mod identity;
pub mod record;
pub mod scrub;
pub mod transcript;
pub mod wire;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::Paths;
use crate::ledger::record::{ModelSource, UsageSource};
use crate::ledger::{
    self, Ledger, LedgerError, NewRecord, OpenOptions, SessionState, fault, spool,
};
use crate::policy::file::{self as policy_file, OnError, PromptStore};
use crate::policy::{Action, Decision, Event as PolicyEvent, Policy, RealWorld, rules};
pub use answer::HookAnswer;
use event::EventKind;
use record::{ModelInfo, RecordInput};
use wire::HookPayload;

#[derive(Debug, Clone)]
pub struct HookEnv {
    pub paths: Paths,
    pub open: OpenOptions,
    pub transcript_budget: u64,
}

impl HookEnv {
    pub fn new(paths: Paths) -> Self {
        HookEnv {
            paths,
            open: OpenOptions::default(),
            transcript_budget: transcript::DEFAULT_BUDGET,
        }
    }
}

pub use crate::ledger::Stored;

/// Handles one event. Never panics on input; the caller still guards against bugs.
pub fn handle(stdin: &[u8], event_hint: Option<&str>, env: &HookEnv) -> HookAnswer {
    let payload = match HookPayload::parse(stdin) {
        Ok(payload) => payload,
        Err(error) => return handle_unreadable(stdin, &error.to_string(), event_hint, env),
    };
    let Some(name) = payload.event_name().or(event_hint) else {
        return handle_unreadable(stdin, "hook payload has no hook_event_name", None, env);
    };
    let event = EventKind::from_name(name);
    // The registration names the event it is for: a gating one stays gating whatever the
    // payload calls itself (judge then refuses the mismatch).
    let event = match event_hint.map(EventKind::from_name) {
        Some(hinted) if hinted.is_gating() && hinted != event => hinted,
        _ => event,
    };
    let ledger_path = env.paths.ledger();
    record::key_digests_with(&ledger_path);
    // Decided before the ledger is opened (which maps its -shm): a fault there still gives
    // the right answer.
    let mut judged = judge(&event, &payload, env);
    // A prompt is scanned once: by the policy when it judged it, else here (no policy, or
    // one that could not be read); the record and its digests reuse the findings.
    if event == EventKind::UserPromptSubmit && !judged.prompt_scanned {
        judged.findings = crate::policy::dlp::scan(payload.str("prompt").unwrap_or_default());
    }
    let answer = match judged.decision.as_ref().filter(|d| d.enforced) {
        Some(d) if d.action == Action::Deny => HookAnswer::refuse(Some(&event), &refusal_text(d)),
        Some(d) if d.action == Action::Ask => HookAnswer::ask(&event, &refusal_text(d)),
        _ => HookAnswer::no_opinion(),
    };
    arm_before_record(stdin, &payload, name, &event, &answer, &ledger_path);
    let mut ledger = Ledger::open(&ledger_path, &env.open);
    let model = resolve_model(
        &event,
        &payload,
        ledger.as_ref().ok(),
        env.transcript_budget,
    );
    let starting = event == EventKind::SessionStart;
    let repository = starting.then(|| session_repository(&payload));
    let identity = starting.then(|| {
        let root = repository
            .as_ref()
            .and_then(|r| r.get("root"))
            .and_then(Value::as_str)
            .map(PathBuf::from);
        identity::identity(root.as_deref())
    });
    let turn = turn_facts(&event, &payload, env.transcript_budget);
    // The turn's own assistant entries are the authority on which model answered it: they
    // attest the prompt's model (recorded before anything was on disk) and the turn's calls.
    let model = match turn.as_ref().and_then(|t| t.model.clone()) {
        Some(answered) => ModelInfo {
            model: Some(answered),
            source: ModelSource::TurnAttestation,
            cli_version: model.cli_version,
        },
        None => model,
    };
    let claude_settings = starting.then(|| claude_settings(&payload));
    let prompt_findings = judged.findings.clone();
    let (kind, mut value) = record::build(&RecordInput {
        event: &event,
        payload: &payload,
        model: &model,
        decision: judged.decision.as_ref(),
        repository,
        turn,
        targets: judged.targets,
        prompt_findings: judged.findings,
        prompt_store: judged.prompt_store,
        policy: starting.then(|| policy_facts(env, claude_settings.as_deref().unwrap_or(&[]))),
        sandbox: claude_settings.as_deref().map(sandbox_facts),
        lockdown: claude_settings.as_deref().map(lockdown_facts),
        identity,
    });
    if event == EventKind::UserPromptSubmit {
        let prompt = payload.str("prompt").unwrap_or_default();
        scrub::digest_prompt_findings(&mut value, prompt, &prompt_findings, &ledger_path);
    }
    // No detected secret reaches the ledger, its WAL, the spool or an export in clear. The
    // prompt text was redacted from its own scan already.
    let scanned: &[&str] = if event == EventKind::UserPromptSubmit {
        &["prompt"]
    } else {
        &[]
    };
    scrub::scrub_except(&mut value, &ledger_path, scanned);
    let record = NewRecord {
        ts_ns: ledger::now_ns(),
        kind: kind.as_str().to_owned(),
        payload: ledger::canonical_json(&value),
    };
    let lost = |reason: String| {
        let decision = Decision::fail_closed(rules::LEDGER_UNAVAILABLE, reason);
        HookAnswer::refuse(Some(&event), &refusal_text(&decision))
    };
    let prepared = arm(
        &ledger_path,
        &record,
        &answer,
        &lost("the hook process died during the append and its record could not be spooled".into()),
    );
    if let Err(reason) = store_prepared(ledger.as_mut(), &ledger_path, &record, prepared.as_ref()) {
        return lost(reason);
    }
    if event == EventKind::SessionStart
        && let (Ok(ledger), Some(session)) = (ledger.as_mut(), payload.session_id())
    {
        let state = SessionState {
            model: payload.str("model").map(str::to_owned),
            cli_version: model.cli_version.clone(),
        };
        // A cache miss later only costs a fallback; never fail the event over it.
        let _ = ledger.remember_session(session, &state);
    }
    if event == EventKind::PostModelSwitch
        && let (Ok(ledger), Some(key), Some(to)) = (
            ledger.as_mut(),
            payload.session_id().and_then(switched_model_key),
            payload.str("to_model").filter(|m| !m.is_empty()),
        )
    {
        let state = SessionState {
            model: Some(to.to_owned()),
            cli_version: None,
        };
        // Without it the next records fall back to the transcript, as before 2.1.332.
        let _ = ledger.remember_session(&key, &state);
    }
    answer
}

/// Why a spool file written by a signal handler exists.
const FAULT_REASON: &str = "the hook process was killed by a signal (SIGBUS, SIGSEGV …) during \
     the ledger append, for example because ledger.db-shm was truncated";

/// Arms the process's last words ([`fault`]) with `record` as a ready spool file and the two
/// answers: the one to give when the record is kept, and the one when it is not. Returns the
/// prepared record for [`store_prepared`], so every copy has one spool id.
fn arm(
    ledger_path: &Path,
    record: &NewRecord,
    recorded: &HookAnswer,
    unrecorded: &HookAnswer,
) -> Option<spool::Prepared> {
    let prepared = spool::prepare(&spool::spool_path(ledger_path), record).ok();
    let answer = |a: &HookAnswer| fault::Answer {
        stdout: a.stdout.clone().into_bytes(),
        stderr: a.stderr.clone().into_bytes(),
        code: a.exit_code,
    };
    fault::set_phase(fault::Phase::Pending);
    fault::arm(fault::LastWords {
        shot: prepared.as_ref().and_then(|p| p.shot(FAULT_REASON)),
        recorded: answer(recorded),
        unrecorded: answer(unrecorded),
    });
    prepared
}

/// Before the record is built (opening the ledger maps its `-shm`), a fault leaves what
/// arrived and the decision already made to record, as a `hook-error`; the answer is that
/// decision when this is kept, else a refusal.
fn arm_before_record(
    stdin: &[u8],
    payload: &HookPayload,
    name: &str,
    event: &EventKind,
    answer: &HookAnswer,
    ledger_path: &Path,
) {
    let reason = format!(
        "hookledger [{}]: the hook process ended before it could record this event (a signal \
         such as SIGBUS, or its deadline)",
        rules::HOOK_ERROR
    );
    let mut value = record::hook_error(stdin, &reason, Some(name));
    if let Value::Object(map) = &mut value {
        // What identifies the event, beyond the first bytes of the payload.
        for key in ["session_id", "tool_use_id", "tool_name", "prompt_id"] {
            if let Some(found) = payload.str(key) {
                map.insert(key.to_owned(), Value::String(found.to_owned()));
            }
        }
        map.insert("answered_exit_code".into(), Value::from(answer.exit_code));
    }
    let record = NewRecord {
        ts_ns: ledger::now_ns(),
        kind: ledger::Kind::HookError.as_str().to_owned(),
        payload: ledger::canonical_json(&value),
    };
    arm(
        ledger_path,
        &record,
        answer,
        &HookAnswer::refuse(Some(event), &reason),
    );
}

/// What the policy says about one event.
struct Judged {
    decision: Option<Decision>,
    targets: Vec<crate::policy::Target>,
    findings: Vec<crate::policy::dlp::Finding>,
    /// Whether `findings` come from a scan of the prompt (the policy judged it).
    prompt_scanned: bool,
    prompt_store: PromptStore,
}

fn judge(event: &EventKind, payload: &HookPayload, env: &HookEnv) -> Judged {
    let mut judged = Judged {
        decision: None,
        targets: Vec::new(),
        findings: Vec::new(),
        prompt_scanned: false,
        prompt_store: PromptStore::Full,
    };
    if !event.is_gating() {
        return judged;
    }
    let (layers, errors) = policy_file::load_layers(&env.paths.home);
    if let Some(error) = errors.first() {
        let reason =
            format!("the policy cannot be read, so this is decided by `on_error`: {error}");
        let action = match Policy::on_error_of(&layers) {
            OnError::Deny => Action::Deny,
            OnError::Allow => Action::Allow,
        };
        let mut decision = Decision::fail_closed(rules::POLICY_ERROR, reason);
        decision.action = action;
        judged.decision = Some(decision);
        return judged;
    }
    if let Some(problem) = shape_problem(event, payload) {
        let action = match Policy::on_error_of(&layers) {
            OnError::Deny => Action::Deny,
            OnError::Allow => Action::Allow,
        };
        let mut decision = Decision::fail_closed(
            rules::UNEXPECTED_PAYLOAD,
            format!(
                "the {} payload does not have the shape hookledger judges: {problem}; the policy's `on_error` decides (a newer Claude Code may have changed it: update hookledger)",
                event.name()
            ),
        );
        decision.action = action;
        judged.decision = Some(decision);
        return judged;
    }
    // A repository allowlist needs the repository's remotes on every call: remembered in the
    // hook's own directory while git's configuration files are unchanged (no git process).
    crate::policy::repo::remember_remotes_in(env.paths.home.join("cache"));
    let policy = Policy::new(layers, &env.paths.home);
    let cwd = PathBuf::from(payload.cwd().unwrap_or("/"));
    let empty = serde_json::Map::new();
    // The same decision function `policy explain` calls.
    let verdict = match event {
        EventKind::UserPromptSubmit => {
            judged.prompt_store = policy.prompt_store();
            policy.judge(
                &PolicyEvent::Prompt {
                    text: payload.str("prompt").unwrap_or_default(),
                    cwd: &cwd,
                },
                &RealWorld::for_hook(),
            )
        }
        _ => policy.judge(
            &PolicyEvent::Tool {
                tool: payload.tool_name().unwrap_or(""),
                input: payload.tool_input().unwrap_or(&empty),
                cwd: &cwd,
            },
            &RealWorld::for_hook(),
        ),
    };
    judged.decision = Some(verdict.decision);
    judged.targets = verdict.targets;
    judged.findings = verdict.findings;
    judged.prompt_scanned = *event == EventKind::UserPromptSubmit;
    judged
}

/// Why a gating event's payload cannot be judged as it stands: an event name in another case
/// than the one Claude Code documents, or a field the decision rests on missing or mistyped.
fn shape_problem(event: &EventKind, payload: &HookPayload) -> Option<String> {
    if let Some(named) = payload.event_name()
        && named != event.name()
    {
        return Some(format!(
            "`hook_event_name` is {named:?}, not {:?}",
            event.name()
        ));
    }
    if payload.get("hook_event_name").is_some() && payload.event_name().is_none() {
        return Some("`hook_event_name` is not a string".into());
    }
    match event {
        EventKind::UserPromptSubmit => payload.prompt_shape_problem(),
        _ => payload.tool_shape_problem(),
    }
}

/// Which policy files are in force, recorded with every session start: hookledger's policy
/// layers and the BLAKE3 of each file's bytes (`files`, and the contract's `policy_digests`,
/// which also lists Claude Code's settings files, where the sandbox and lock-down are set).
fn policy_facts(
    env: &HookEnv,
    claude_settings: &[crate::config::claude::SettingsFile],
) -> PolicyFacts {
    let (managed_dir, overridden) = policy_file::managed_dir();
    let (layers, errors) = policy_file::load_layers(&env.paths.home);
    let mut digests: Vec<ledger::record::PolicyDigest> = layers
        .iter()
        .map(|l| ledger::record::PolicyDigest {
            layer: serde_json::to_value(l.layer)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            path: l.path.display().to_string(),
            blake3: record::blake3_hex(&std::fs::read(&l.path).unwrap_or_default()),
            rest: serde_json::Map::new(),
        })
        .collect();
    let files: Vec<Value> = digests
        .iter()
        .map(|d| serde_json::json!({ "layer": d.layer, "path": d.path, "blake3": d.blake3 }))
        .collect();
    for file in claude_settings.iter().filter(|f| f.exists) {
        // Settings files are small; one that cannot be read is listed without a digest.
        let bytes = crate::policy::gitconfig::read_small(&file.path);
        digests.push(ledger::record::PolicyDigest {
            layer: format!("claude-{}", file.scope.label()),
            path: file.path.display().to_string(),
            blake3: bytes
                .map(|b| record::blake3_hex(b.as_bytes()))
                .unwrap_or_default(),
            rest: serde_json::Map::new(),
        });
    }
    PolicyFacts {
        policy: serde_json::json!({
            "managed_dir": managed_dir.display().to_string(),
            "managed_dir_from_env": overridden,
            "files": files,
            "errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        digests,
    }
}

/// [`policy_facts`]: the `policy` object as before, and `policy_digests`.
pub struct PolicyFacts {
    pub policy: Value,
    pub digests: Vec<ledger::record::PolicyDigest>,
}

/// Every settings layer Claude Code reads for this session (managed, the `--settings` of its
/// command line, local, project, user), read once for the sandbox, lock-down and digests.
fn claude_settings(payload: &HookPayload) -> Vec<crate::config::claude::SettingsFile> {
    use crate::config::claude;
    let project = std::env::var_os("CLAUDE_PROJECT_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| payload.cwd().map(PathBuf::from));
    let mut files = claude::load_layers(&claude::Locations::discover(None, project));
    files.extend(claude::flag_settings());
    files
}

/// Claude Code's lock-down settings, each as the managed tier sets it (`null`: not set there;
/// Claude Code reads them only from managed settings).
fn lockdown_facts(files: &[crate::config::claude::SettingsFile]) -> Value {
    use crate::config::claude;
    let value = |path: &[&str]| {
        claude::managed_value(files, path)
            .and_then(|(v, _)| v.as_bool())
            .map_or(Value::Null, Value::Bool)
    };
    let mut out = serde_json::Map::new();
    for lock in claude::LOCK_DOWN {
        let key = lock.path.last().copied().unwrap_or_default();
        out.insert(snake_case(key), value(lock.path));
    }
    out.insert(
        snake_case(claude::SKILL_SHELL_KEY),
        value(&[claude::SKILL_SHELL_KEY]),
    );
    Value::Object(out)
}

/// `allowManagedHooksOnly` → `allow_managed_hooks_only`.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether Claude Code's OS sandbox confines this session's Bash, from every settings layer it
/// reads (managed, the `--settings` of its command line, local, project, user).
fn sandbox_facts(files: &[crate::config::claude::SettingsFile]) -> Value {
    use crate::config::claude;
    let state = claude::sandbox_state(files);
    serde_json::json!({
        "enabled": state.enabled,
        "allow_unsandboxed_commands": state.allow_unsandboxed_commands,
        "fail_if_unavailable": state.fail_if_unavailable,
        "enforced": state.enforced(),
        "source": state.source,
        "file": state.file.map(|f| f.display().to_string()),
        "excluded_commands": state.excluded_commands.len(),
    })
}

/// The one line Claude (or the user) sees: what was refused, by which rule, and why.
pub fn refusal_text(decision: &Decision) -> String {
    format!("hookledger [{}]: {}", decision.rule, decision.reason)
}

/// A payload we cannot read is still recorded (as what arrived) and, if the event may be a
/// gating one, refused: we cannot tell that it is harmless.
fn handle_unreadable(
    stdin: &[u8],
    error: &str,
    event_hint: Option<&str>,
    env: &HookEnv,
) -> HookAnswer {
    record::key_digests_with(&env.paths.ledger());
    let value = record::hook_error(stdin, error, event_hint);
    let record = NewRecord {
        ts_ns: ledger::now_ns(),
        kind: ledger::Kind::HookError.as_str().to_owned(),
        payload: ledger::canonical_json(&value),
    };
    let ledger_path = env.paths.ledger();
    let event = event_hint.map(EventKind::from_name);
    let reason = format!("hookledger [{}]: {error}", rules::HOOK_ERROR);
    let answer_with = |reason: &str| match &event {
        Some(event) if !event.is_gating() => HookAnswer::warn(reason),
        event => HookAnswer::refuse(event.as_ref(), reason),
    };
    let answer = answer_with(&reason);
    let prepared = arm(&ledger_path, &record, &answer, &answer);
    let mut ledger = Ledger::open(&ledger_path, &env.open);
    match store_prepared(ledger.as_mut(), &ledger_path, &record, prepared.as_ref()) {
        Ok(_) => answer,
        Err(store_error) => answer_with(&format!(
            "{reason} (and it could not be recorded: {store_error})"
        )),
    }
}

/// Appends to the ledger, or spools when that fails. `Err` only when both failed.
pub fn store(
    ledger: Result<&mut Ledger, &mut LedgerError>,
    ledger_path: &Path,
    record: &NewRecord,
) -> Result<Stored, String> {
    store_prepared(ledger, ledger_path, record, None)
}

/// [`store`], spooling `prepared` (the same record, readied by [`arm`]) when given, so the
/// copy a signal handler might also write carries the same spool id.
fn store_prepared(
    ledger: Result<&mut Ledger, &mut LedgerError>,
    ledger_path: &Path,
    record: &NewRecord,
    prepared: Option<&spool::Prepared>,
) -> Result<Stored, String> {
    ledger::append_or_spool(ledger, ledger_path, record, prepared)
        .map_err(|e| format!("cannot record this event: {}; {}", e.failure, e.spool))
}

/// What a turn's closing record attests, read from the transcript's tail in one pass: the model
/// of each tool call of the turn, the tokens each model used, and the model that answered.
/// `None` for other events; `usage_source` is `unavailable` when the transcript cannot be read.
pub struct Turn {
    pub tool_models: Vec<(String, String)>,
    pub usage: Vec<ledger::record::ModelUsage>,
    pub usage_source: UsageSource,
    pub usage_complete: bool,
    pub model: Option<String>,
}

fn turn_facts(event: &EventKind, payload: &HookPayload, budget: u64) -> Option<Turn> {
    let (path, subagent) = match event {
        EventKind::SubagentStop => (payload.str("agent_transcript_path"), true),
        EventKind::Stop => (payload.transcript_path(), false),
        _ => return None,
    };
    let prompt_id = if subagent {
        None
    } else {
        payload.str("prompt_id")
    };
    let facts = path.map(|p| transcript::turn_facts(Path::new(p), budget, prompt_id));
    let mut turn = match facts {
        Some(Ok(facts)) => Turn {
            tool_models: facts.tool_models,
            usage: facts.usage,
            usage_source: UsageSource::Transcript,
            usage_complete: facts.complete,
            model: facts.model,
        },
        _ => Turn {
            tool_models: Vec::new(),
            usage: Vec::new(),
            usage_source: UsageSource::Unavailable,
            usage_complete: false,
            model: None,
        },
    };
    if let (false, Some(session)) = (subagent, path) {
        // A subagent's transcript may still be unflushed when its SubagentStop runs; by the
        // end of the turn it is on disk, so the turn's Stop attests subagent calls too.
        for path in transcript::recent_subagent_transcripts(Path::new(session)) {
            let found = transcript::tool_use_models(&path, transcript::SUBAGENT_BUDGET);
            turn.tool_models.extend(found.unwrap_or_default());
        }
    }
    Some(turn)
}

fn session_repository(payload: &HookPayload) -> Value {
    let Some(cwd) = payload.cwd() else {
        return Value::Null;
    };
    match crate::git::repository_root(Path::new(cwd)) {
        Some(root) => serde_json::to_value(crate::git::describe(&root)).unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// The model behind an event, most specific evidence first: the model the session switched to
/// (PostModelSwitch, Claude Code ≥ 2.1.332: the authority from then on), the transcript entry
/// that made this tool call, then the newest model in the (subagent's or session's) transcript,
/// then what the session reported at start. SessionStart's own `model` goes stale after
/// `/model`, so the transcript wins when it has an answer. A subagent may run a model of its
/// own, so its own transcript comes before the session's switch.
fn resolve_model(
    event: &EventKind,
    payload: &HookPayload,
    ledger: Option<&Ledger>,
    budget: u64,
) -> ModelInfo {
    let model = resolve_model_once(event, payload, ledger, budget);
    // Only a regular file can be waited for: a FIFO or a device is never a transcript.
    let transcript_exists = payload
        .transcript_path()
        .is_some_and(|t| Path::new(t).is_file());
    if model.model.is_some()
        || !transcript_exists
        || !matches!(
            event,
            EventKind::PostToolUse | EventKind::PostToolUseFailure
        )
    {
        return model;
    }
    // Nothing at all is known yet: this is the session's first tool call, whose transcript
    // entry Claude Code flushes about 100 ms late. A result hook gates nothing, so wait a
    // little, once per session, rather than record an edit without its model.
    for _ in 0..FIRST_CALL_POLLS {
        std::thread::sleep(FIRST_CALL_POLL_INTERVAL);
        let model = resolve_model_once(event, payload, ledger, budget);
        if model.model.is_some() {
            return model;
        }
    }
    model
}

/// The `session_state` row that holds the model a session switched to, beside the session's
/// own row (which holds what it reported at start, a weaker fallback). A switch lasts as long
/// as the Claude Code process that made it: a session resumed by a new process starts on its
/// configured model again (seen with 2.1.332: `/model` in one `claude -p`, `--resume` in the
/// next, which asked the API for the default model). Claude Code runs hooks as its direct
/// children, so the parent pid names that process; elsewhere no switch is remembered.
fn switched_model_key(session: &str) -> Option<String> {
    #[cfg(unix)]
    {
        Some(format!(
            "model-switch:{session}:{}",
            std::os::unix::process::parent_id()
        ))
    }
    #[cfg(not(unix))]
    {
        let _ = session;
        None
    }
}

const FIRST_CALL_POLLS: u32 = 10;
const FIRST_CALL_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(25);

fn resolve_model_once(
    event: &EventKind,
    payload: &HookPayload,
    ledger: Option<&Ledger>,
    budget: u64,
) -> ModelInfo {
    let transcript = payload.transcript_path().map(PathBuf::from);
    let tool_use_id = if event.is_tool_event() {
        payload.tool_use_id()
    } else {
        None
    };
    let agent_transcript = match (event, payload.str("agent_transcript_path")) {
        (EventKind::SubagentStop, Some(path)) => Some(PathBuf::from(path)),
        _ => payload
            .agent_id()
            .zip(transcript.as_deref())
            .map(|(id, t)| transcript::subagent_transcript(t, id)),
    };
    let scan = |path: &Path| transcript::scan(path, tool_use_id, budget).unwrap_or_default();
    let agent_facts = agent_transcript.as_deref().map(scan).unwrap_or_default();
    let session_facts = transcript.as_deref().map(scan).unwrap_or_default();
    let cli_version = agent_facts
        .cli_version
        .clone()
        .or_else(|| session_facts.cli_version.clone());
    let pick = |model: Option<String>, source: ModelSource| model.map(|m| (m, source));
    let switched = || {
        let key = payload.session_id().and_then(switched_model_key)?;
        ledger?.session_model(&key).ok().flatten()?.model
    };
    let found = match event {
        EventKind::SessionStart => pick(
            payload.str("model").map(str::to_owned),
            ModelSource::SessionStart,
        ),
        EventKind::PostModelSwitch => pick(
            payload
                .str("to_model")
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            ModelSource::ModelSwitch,
        ),
        _ => None,
    }
    .or_else(|| {
        if payload.agent_id().is_some() {
            pick(
                agent_facts.tool_use_model.clone(),
                ModelSource::TranscriptToolUse,
            )
            .or_else(|| {
                pick(
                    agent_facts.latest_model.clone(),
                    ModelSource::TranscriptLatest,
                )
            })
        } else {
            None
        }
    })
    .or_else(|| pick(switched(), ModelSource::ModelSwitch))
    .or_else(|| pick(agent_facts.tool_use_model, ModelSource::TranscriptToolUse))
    .or_else(|| pick(session_facts.tool_use_model, ModelSource::TranscriptToolUse))
    .or_else(|| pick(agent_facts.latest_model, ModelSource::TranscriptLatest))
    .or_else(|| {
        if payload.agent_id().is_some() {
            None
        } else {
            pick(
                session_facts.latest_model.clone(),
                ModelSource::TranscriptLatest,
            )
        }
    });
    let cached = || {
        payload
            .session_id()
            .and_then(|s| ledger?.session_model(s).ok().flatten())
    };
    match found {
        Some((model, source)) => ModelInfo {
            model: Some(model),
            source,
            cli_version,
        },
        None => {
            let cache = cached();
            let cli_version =
                cli_version.or_else(|| cache.as_ref().and_then(|c| c.cli_version.clone()));
            match cache.and_then(|c| c.model) {
                Some(model) => ModelInfo {
                    model: Some(model),
                    source: ModelSource::SessionState,
                    cli_version,
                },
                // A subagent may run another model; the session's newest one is the best guess
                // left, and the source says so.
                None => match session_facts.latest_model {
                    Some(model) => ModelInfo {
                        model: Some(model),
                        source: ModelSource::TranscriptLatestSession,
                        cli_version,
                    },
                    None => ModelInfo {
                        model: None,
                        source: ModelSource::Unknown,
                        cli_version,
                    },
                },
            }
        }
    }
}
