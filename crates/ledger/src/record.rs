/*!
The record vocabulary: every kind of record hookledger writes ([`Kind`]) and typed views of
the payloads its readers use.

Kinds are stable kebab-case strings: SIEM rules and auditors filter on them, so a kind is never
renamed (adding one is fine). A ledger written by another version may hold kinds this build
does not know; [`Kind::parse`] returns `None` for them and readers skip or show them as they
are. The chain and its verification never look at kinds beyond `genesis`, `checkpoint` and
`prune`.

Payload views are serde structs that keep every field they do not name in `rest`, so a payload
written by a newer (or older) hookledger goes through a view and back unchanged. They describe
what hookledger writes; readers must still expect any field to be missing or of another type
in a ledger they did not write, which is why most fields are optional and a payload that does
not fit a view is read as [`AnyPayload`] (or skipped), never trusted to fail loudly.
*/

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A record kind hookledger writes. The string is API: never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($(#[$doc])* $variant,)*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }

            /// The kind a stored string names; `None` for a kind this build does not know.
            pub fn parse(name: &str) -> Option<Kind> {
                match name {
                    $($name => Some(Kind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    // Written by the hook, one per Claude Code event.
    SessionStart = "session-start",
    Prompt = "prompt",
    ToolCall = "tool-call",
    /// An accepted change to a file (a successful Edit, Write, MultiEdit or NotebookEdit).
    Edit = "edit",
    ToolResult = "tool-result",
    ToolFailure = "tool-failure",
    PermissionRequest = "permission-request",
    PermissionDenied = "permission-denied",
    Stop = "stop",
    SubagentStart = "subagent-start",
    SubagentStop = "subagent-stop",
    PreCompact = "pre-compact",
    Notification = "notification",
    SessionEnd = "session-end",
    /// A skill's or slash command's inline shell command, gated like a Bash call.
    SkillShellCommand = "skill-shell-command",
    /// PreModelSwitch: a switch asked for (another hook may still refuse it).
    ModelSwitchRequest = "model-switch-request",
    /// PostModelSwitch: the model the session uses from now on.
    ModelSwitch = "model-switch",
    ConfigChange = "config-change",
    PromptExpansion = "prompt-expansion",
    InstructionsLoaded = "instructions-loaded",
    StopFailure = "stop-failure",
    PostCompact = "post-compact",
    CwdChanged = "cwd-changed",
    DirectoryAdded = "directory-added",
    Setup = "setup",
    TaskCreated = "task-created",
    TaskCompleted = "task-completed",
    Elicitation = "elicitation",
    ElicitationResult = "elicitation-result",
    /// An event this build does not know, recorded with its whole (summarized) payload.
    Event = "event",
    /// A payload that could not be handled: what arrived, as hash, size and head.
    HookError = "hook-error",
    // Written by the ledger itself.
    /// The first record: the ledger's identity and signing key.
    Genesis = "genesis",
    /// A signed statement of the chain's head.
    Checkpoint = "checkpoint",
    /// An interval checkpoint was due and could not be signed.
    CheckpointFailed = "checkpoint-failed",
    /// A signed statement that a range of records was removed.
    Prune = "prune",
    /// Spool bytes that could not be read as entries.
    SpoolDamage = "spool-damage",
    /// A spooled entry that could not be appended as it was.
    SpoolRejected = "spool-rejected",
    /// A spooled entry whose MAC did not hold (or that had none).
    SpoolUnauthenticated = "spool-unauthenticated",
    // Written by the CLI.
    /// `hookledger report` recorded that a report was produced (who, which period, its digest).
    Report = "report",
    /// A git commit linked to the ledger (git provenance).
    Commit = "commit",
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record kind {0:?}")]
pub struct UnknownKind(pub String);

impl std::str::FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::parse(s).ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Kind::parse(&name).ok_or_else(|| serde::de::Error::custom(UnknownKind(name.into_owned())))
    }
}

impl PartialEq<Kind> for str {
    fn eq(&self, other: &Kind) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Kind> for String {
    fn eq(&self, other: &Kind) -> bool {
        self == other.as_str()
    }
}

impl crate::StoredRecord {
    /// The record's kind; `None` for one this build does not know.
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }

    /// The payload through a typed view; `None` when it does not fit the view.
    pub fn view<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.payload).ok()
    }
}

impl crate::NewRecord {
    /// A record of `kind` with `payload` in its canonical form.
    pub fn of<T: Serialize>(
        ts_ns: i64,
        kind: Kind,
        payload: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(crate::NewRecord {
            ts_ns,
            kind: kind.as_str().to_owned(),
            payload: crate::canonical::to_vec(payload)?,
        })
    }
}

/// A field of another shape than the view expects reads as absent rather than failing the
/// whole payload: readers of any ledger must keep going (the chain, not the view, is what
/// proves the record).
fn lenient_or_default<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(lenient(deserializer)?.unwrap_or_default())
}

fn lenient<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

/// Fields every hook record carries, so any record can be joined to its session, prompt and
/// agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Common {
    /// The Claude Code event name (`PreToolUse`, ...).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub event: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub cwd: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub permission_mode: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub transcript_path: Option<String>,
    /// Present when a subagent made the call.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent: Option<Agent>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub agent_type: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// Which model produced an event, as the hook records it (always written, null when unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    #[serde(default)]
    pub model: Option<String>,
    /// How the model was learnt (`session-start`, `transcript-tool-use`, ..., `unknown`).
    #[serde(default)]
    pub model_source: Option<String>,
    #[serde(default)]
    pub claude_code_version: Option<String>,
}

/// Declares a family of stable kebab-case codes (API: SIEM rules and the report read them).
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$doc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The code a stored string names; `None` for one this build does not know.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

codes! {
    /// How a hook record's `model` was learnt (`model_source`), most specific evidence first.
    ModelSource {
        /// The model the session switched to (PostModelSwitch), in the process that switched.
        ModelSwitch = "model-switch",
        /// The assistant entry of the transcript that made this tool call.
        TranscriptToolUse = "transcript-tool-use",
        /// The newest assistant entry of the (subagent's or session's) transcript.
        TranscriptLatest = "transcript-latest",
        /// The model SessionStart reported, for the session-start record itself.
        SessionStart = "session-start",
        /// The model the session reported at start, kept in the ledger's session state.
        SessionState = "session-state",
        /// A subagent's event with nothing of its own: the session's newest model.
        TranscriptLatestSession = "transcript-latest-session",
        /// On `stop`/`subagent-stop`: the model of the turn's own assistant entries, which
        /// attests the model of the turn's prompt and of calls recorded before it was on disk.
        TurnAttestation = "turn-attestation",
        /// No source knew the model at the time (the turn's closing record attests it).
        Unknown = "unknown",
    }
}

codes! {
    /// Where a `stop`/`subagent-stop` record's `usage` came from (`usage_source`).
    UsageSource {
        /// Summed from the turn's assistant entries in the transcript's tail.
        Transcript = "transcript",
        /// No transcript could be read: `usage` is empty.
        Unavailable = "unavailable",
    }
}

/// Tokens one model used in a turn, summed over the turn's assistant messages (each message
/// once, by `message.id`: Claude Code writes one transcript line per content block, each with
/// the message's usage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Distinct assistant messages counted.
    #[serde(default)]
    pub messages: u64,
}

/// `session-start`'s `identity`: who is behind the session. Each part is `null` when unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The Claude account as Claude Code's own config holds it (never a token or key).
    #[serde(default, deserialize_with = "lenient")]
    pub claude: Option<ClaudeAccount>,
    /// The OS account, from the password database.
    #[serde(default, deserialize_with = "lenient")]
    pub os_user: Option<OsUser>,
    /// `user.name` / `user.email` of the repository at the session's cwd.
    #[serde(default, deserialize_with = "lenient")]
    pub git: Option<GitIdentity>,
    #[serde(default, deserialize_with = "lenient")]
    pub host: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaudeAccount {
    #[serde(default, deserialize_with = "lenient")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub account_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub organization_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub organization_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub display_name: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OsUser {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub uid: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub gecos: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GitIdentity {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub email: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One policy file in force when a session started: which layer, where, and the BLAKE3 of its
/// bytes (so a report can say which policy applied without trusting the file it can read now).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyDigest {
    /// hookledger's policy layers: `managed`, `user`. Claude Code's settings files (which
    /// hold the sandbox and lock-down): `claude-managed`, `claude-flag`, `claude-local`,
    /// `claude-project`, `claude-user`.
    #[serde(default)]
    pub layer: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub blake3: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A policy decision as recorded (`hookledger-policy`'s `Decision`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    /// `allow`, `ask` or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The stable rule code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// False in audit mode: the verdict was recorded, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforced: Option<bool>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl DecisionView {
    /// Whether the verdict was acted on; a decision that does not say counts as enforced.
    pub fn enforced(&self) -> bool {
        self.enforced.unwrap_or(true)
    }
}

/// A path a gated call would read or write, as the policy resolved it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `read` or `write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recursive: bool,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// Any record's payload, for readers that look for the same fields across kinds (session,
/// model, tool, decision). Only the fields every hook record shares are named; the others are
/// read from `rest` by the accessors, which answer `None` for a field of another shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnyPayload {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl AnyPayload {
    /// A string field by name.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.rest.get(key).and_then(Value::as_str)
    }
    /// A string field inside objects: `["repository", "branch"]`.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        let (first, inner) = path.split_first()?;
        let mut value = self.rest.get(*first)?;
        for key in inner {
            value = value.get(key)?;
        }
        value.as_str()
    }
    pub fn model(&self) -> Option<&str> {
        self.str("model")
    }
    pub fn claude_code_version(&self) -> Option<&str> {
        self.str("claude_code_version")
    }
    pub fn tool(&self) -> Option<&str> {
        self.str("tool")
    }
    pub fn tool_use_id(&self) -> Option<&str> {
        self.str("tool_use_id")
    }
    /// The decision, when the payload holds one of the recorded shape.
    pub fn decision(&self) -> Option<DecisionView> {
        self.rest
            .get("decision")
            .filter(|d| d.is_object())
            .and_then(|d| DecisionView::deserialize(d).ok())
    }
    /// The policy's targets, when the payload holds them in the recorded shape.
    pub fn targets(&self) -> Vec<TargetView> {
        self.rest
            .get("targets")
            .and_then(|t| Vec::<TargetView>::deserialize(t).ok())
            .unwrap_or_default()
    }
}

/// `tool-call`, `permission-request`, `permission-denied`, `skill-shell-command`: a tool call
/// and what the policy said of it (`permission-denied`: what Claude Code said).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(flatten)]
    pub model: Model,
    /// The tool's input, large strings replaced by `{blake3, bytes, head}`.
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<TargetView>>,
    /// `permission-request`: what Claude Code offered to allow from now on (large strings as
    /// digests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_suggestions: Option<Value>,
    /// `permission-denied`: why Claude Code denied the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `skill-shell-command`: the skill or command whose inline shell this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `edit`: an accepted change to a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(flatten)]
    pub model: Model,
    /// The file's absolute path.
    #[serde(default)]
    pub path: Option<String>,
    /// The repository holding the file, when it is in one.
    #[serde(default)]
    pub repository: Option<EditRepository>,
    #[serde(default)]
    pub before_blake3: Option<String>,
    #[serde(default)]
    pub before_bytes: Option<u64>,
    #[serde(default)]
    pub after_blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_error: Option<String>,
    /// `create` or `update`.
    #[serde(default)]
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_modified: Option<Value>,
    #[serde(default)]
    pub lines_added: u64,
    #[serde(default)]
    pub lines_removed: u64,
    /// `text`: hunk lines hold the text; `blake3`: each line is its prefix and the BLAKE3 of
    /// its text (hunks too large to keep).
    #[serde(default)]
    pub hunk_lines: String,
    #[serde(default)]
    pub hunks: Vec<Hunk>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Edit {
    /// Whether hunk lines are digests rather than text.
    pub fn digested(&self) -> bool {
        self.hunk_lines == "blake3"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EditRepository {
    #[serde(default)]
    pub root: String,
    #[serde(default)]
    pub relative_path: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One hunk of a unified diff, lines prefixed with ' ', '+' or '-'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hunk {
    #[serde(default)]
    pub old_start: u64,
    #[serde(default)]
    pub old_lines: u64,
    #[serde(default)]
    pub new_start: u64,
    #[serde(default)]
    pub new_lines: u64,
    #[serde(default)]
    pub lines: Vec<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `prompt`: what was submitted, as the prompt policy keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    #[serde(flatten)]
    pub common: Common,
    /// The text (or its redaction); absent when only the hash is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_findings: Option<Vec<Finding>>,
    #[serde(flatten)]
    pub model: Model,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionView>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A DLP finding: its kind and where it was, never the secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    #[serde(default)]
    pub kind: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `session-start`: where and how a session began.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(flatten)]
    pub model: Model,
    /// Repository facts (`root`, `remotes`, ...), null outside a repository.
    #[serde(default)]
    pub repository: Value,
    /// Whether Claude Code's OS sandbox confines Bash (`enabled`, `enforced`, `source`).
    #[serde(default)]
    pub sandbox: Value,
    /// The model Claude Code reported at start (`model` is the one the session uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_reported: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `Some(None)`: written as `null` (no user name found); `None`: not written at all.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_user: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hookledger_version: Option<String>,
    /// Which policy files were in force (as written, `null` included).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub policy: Option<Value>,
    /// The hook process that wrote the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u64>,
    /// Who is behind the session (Claude account, OS account, git identity, host).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub identity: Option<Identity>,
    /// Every policy file in force, with the BLAKE3 of its bytes.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_digests: Option<Vec<PolicyDigest>>,
    /// Claude Code's lock-down settings in the managed tier (`allow_managed_hooks_only`,
    /// `allow_managed_mods_only`, `disable_sideload_flags`, `disable_command_plugin_sources`,
    /// `disable_skill_shell_execution`): `true`/`false` as set, `null` when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockdown: Option<Value>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl SessionStart {
    pub fn repository_root(&self) -> Option<&str> {
        self.repository.get("root")?.as_str()
    }
}

/// `stop`, `subagent-stop`: the end of a turn, with the model of each of its tool calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub model: Model,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_models: Option<Vec<ToolModel>>,
    /// As Claude Code sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_hook_active: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assistant_message: Option<Digest>,
    /// How many background tasks and session crons were running (not what they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_tasks: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_crons: Option<u64>,
    /// `subagent-stop`: the subagent's own transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_transcript_path: Option<String>,
    /// Tokens per model over the turn's assistant messages ([`ModelUsage`]).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub usage: Option<Vec<ModelUsage>>,
    /// [`UsageSource`]: `transcript` or `unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_source: Option<String>,
    /// False when the transcript tail read (bounded) ended before the turn's start: `usage`
    /// then covers only the turn's newest messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_complete: Option<bool>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A text kept (cut to a bound) or only proved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Kept(String),
    Digest(Digest),
}

/// `tool-result`, `tool-failure`: how a tool call ended (outputs only sized and hashed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolOutcome {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(flatten)]
    pub model: Model,
    /// `success` or `failure`.
    #[serde(default)]
    pub status: String,
    /// BLAKE3 of the canonical tool input.
    #[serde(default)]
    pub input_blake3: Option<String>,
    /// As Claude Code sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_blake3: Option<String>,
    /// The output's shape: scalars and short strings, longer ones as `{bytes, blake3}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_first_line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_interrupt: Option<Value>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The smaller hook kinds: what the event said, strings cut to a bound and texts that may hold
/// anything only as a [`Digest`]. Each kind writes the fields its event has; all are optional.
/// (`permission-request` and `skill-shell-command` are [`ToolCall`]s with these beside.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFacts {
    #[serde(flatten)]
    pub common: Common,
    /// [`Model`]'s fields, written (`null` when unknown) only by the kinds that name the
    /// model (`model-switch`, `prompt-expansion`, `stop-failure`); `None` when not written.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub model: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_source: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub claude_code_version: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    // notification
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    // pre-compact, post-compact, stop-failure, task-*, elicitation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_instructions: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_summary: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assistant_message: Option<Digest>,
    // prompt-expansion
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expansion_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_args: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Digest>,
    // model-switch-request, model-switch
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_warm: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cache_write_usd: Option<Value>,
    // config-change, instructions-loaded: the file and what it holds now
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_file_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_file_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globs: Option<Vec<String>>,
    // stop-failure
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    // cwd-changed, directory-added
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    // task-created, task-completed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teammate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_description: Option<Digest>,
    // elicitation, elicitation-result
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elicitation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A notification's text (cut to a bound); an elicitation's as a [`Digest`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_schema: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Digest>,
    /// `event`: the whole payload of an event this build does not know, large strings as
    /// digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `genesis`: the ledger's identity, format and signing key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Genesis {
    /// Hex of the 16-byte ledger id.
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub ledger_id: String,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub format: i64,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub frame: String,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub hash: String,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub payload_encoding: String,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub created_ns: i64,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub hookledger_version: String,
    #[serde(default, deserialize_with = "lenient")]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub os_user: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub signing_key: Option<SigningKey>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Genesis {
    /// The ed25519 key checkpoints and prunes are signed with.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        crate::frame::from_hex::<32>(self.signing_key.as_ref()?.public_key.as_deref()?)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SigningKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Hex of the public key.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_key: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `report`: a report was produced (who, which period, the digest of its JSON form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Review {
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub period: Value,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub records: u64,
    #[serde(default)]
    pub denied: u64,
    #[serde(default)]
    pub asked: u64,
    #[serde(default)]
    pub output: Option<String>,
    /// Who signs off the period (`--reviewer`, default the OS user).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub reviewer: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
    /// Every format written by the one run (`html`, `json`, `md`).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub formats: Option<Vec<String>>,
    /// Every file written (empty: standard output).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub outputs: Option<Vec<String>>,
    /// Made from within an agent's tool call: then it is not a review.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub by_agent: Option<bool>,
    /// The environment variables that told it was an agent's tool call.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_env: Option<Vec<String>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Review {
    /// Whether the report counts as a person's review. A note that does not say is one only
    /// when it predates the field (no `reviewer` either): a new note of another shape is not.
    pub fn is_review(&self) -> bool {
        match self.by_agent {
            Some(by_agent) => !by_agent,
            None => self.reviewer.is_none() && !self.rest.contains_key("by_agent"),
        }
    }
}

/// Any value, `None` only when the field is absent: a reader that copies a field as it was
/// written (a `null` included) tells the two apart.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A field that may be written as `null`: `Some(None)` then, `None` (by `default`) when absent.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `T` when the field is an object; any other shape reads as absent (a struct would otherwise
/// also accept an array, field by field).
fn object<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(value
        .is_object()
        .then(|| T::deserialize(value).ok())
        .flatten())
}

/// What the SIEM mappings (the ECS and OCSF export formats, and a receiver re-deriving their
/// fields) read of a record, whatever its kind: one pass over the payload that skips every
/// other field. Every field is lenient, and the few the mappings copy as they were written
/// (decision texts, the agent type) are kept as written, `null` included, so a line derives
/// the same from any ledger.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Mapped {
    #[serde(default, deserialize_with = "lenient")]
    pub session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub tool: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub tool_use_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub claude_code_version: Option<String>,
    /// An edit's file ([`Edit::path`]).
    #[serde(default, deserialize_with = "lenient")]
    pub path: Option<String>,
    /// An edit's `create` or `update` ([`Edit::change`]).
    #[serde(default, deserialize_with = "lenient")]
    pub change: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub after_blake3: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub agent: Option<MappedAgent>,
    #[serde(default, deserialize_with = "object")]
    pub decision: Option<MappedDecision>,
    /// A gated call's targets ([`TargetView`]); an entry of another shape reads as empty.
    #[serde(default, deserialize_with = "mapped_targets")]
    pub targets: Option<Vec<MappedTarget>>,
    #[serde(default, deserialize_with = "object")]
    pub input: Option<MappedInput>,
    /// A turn's closing record: tokens per model ([`ModelUsage`]).
    #[serde(default, deserialize_with = "lenient")]
    pub usage: Option<Vec<ModelUsage>>,
}

/// [`Agent`] as the mappings read it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MappedAgent {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// As written: the hook writes `null` for an agent of no type.
    #[serde(rename = "type", default, deserialize_with = "present")]
    pub agent_type: Option<Value>,
}

/// [`DecisionView`] as the mappings read it: the texts they copy into rule and policy fields
/// are kept as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MappedDecision {
    #[serde(default, deserialize_with = "lenient")]
    pub action: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub enforced: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub rule: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub layer: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub pattern: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MappedTarget {
    #[serde(default, deserialize_with = "lenient")]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub access: Option<String>,
}

/// A tool call's input: only the command, which is a string or, when large, its digest.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MappedInput {
    #[serde(default, deserialize_with = "command")]
    pub command: Option<String>,
}

/// A string the hook proves without storing it: `{blake3, bytes, head}` for a large string
/// (its head kept), `{blake3, bytes}` for one whose text must not be kept at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub blake3: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub bytes: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub head: Option<String>,
}

/// A string, or the head of the digest that stands for it.
fn command<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        digest @ Value::Object(_) => Digest::deserialize(digest).ok().and_then(|d| d.head),
        _ => None,
    })
}

fn mapped_targets<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<MappedTarget>>, D::Error> {
    let Value::Array(items) = Value::deserialize(deserializer)? else {
        return Ok(None);
    };
    Ok(Some(
        items
            .into_iter()
            .map(|item| match item {
                Value::Object(_) => MappedTarget::deserialize(item).unwrap_or_default(),
                _ => MappedTarget::default(),
            })
            .collect(),
    ))
}

impl EventFacts {
    /// Records which model produced the event.
    pub fn set_model(&mut self, model: Model) {
        self.model = Some(model.model);
        self.model_source = Some(model.model_source);
        self.claude_code_version = Some(model.claude_code_version);
    }
}

impl Mapped {
    /// The view of a stored payload; `None` when it is not JSON. A payload that is JSON but
    /// not an object has none of the fields.
    pub fn parse(payload: &[u8]) -> Option<Mapped> {
        if payload.trim_ascii_start().first() == Some(&b'{') {
            serde_json::from_slice(payload).ok()
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(payload)
                .ok()
                .map(|_| Mapped::default())
        }
    }

    /// `allow`, `ask` or `deny`, when the record carries a policy decision.
    pub fn verdict(&self) -> Option<&str> {
        self.decision.as_ref()?.action.as_deref()
    }

    /// The decision's rule code, when it is a string.
    pub fn rule(&self) -> Option<&str> {
        self.decision.as_ref()?.rule.as_ref()?.as_str()
    }

    /// Whether a refusal was acted on (false in audit mode); a decision that does not say
    /// counts as enforced.
    pub fn enforced(&self) -> bool {
        self.decision
            .as_ref()
            .and_then(|d| d.enforced)
            .unwrap_or(true)
    }

    /// The path the record is about: an edit's file, or a gated call's first target.
    pub fn subject_path(&self) -> Option<&str> {
        self.path
            .as_deref()
            .or_else(|| self.targets.as_ref()?.first()?.path.as_deref())
    }

    /// Whether a gated call writes (any target written), reads, or neither.
    pub fn access(&self) -> Option<&str> {
        let mut result = None;
        for access in self
            .targets
            .iter()
            .flatten()
            .filter_map(|t| t.access.as_deref())
        {
            if access == "write" {
                return Some("write");
            }
            result = Some("read");
        }
        result
    }

    pub fn command(&self) -> Option<&str> {
        self.input.as_ref()?.command.as_deref()
    }

    pub fn agent_id(&self) -> Option<&str> {
        self.agent.as_ref()?.id.as_deref()
    }

    /// Input tokens (fresh, cache read and cache creation: what the model read) and output
    /// tokens over every model of a turn's `usage`; `None` when the record has none.
    pub fn token_totals(&self) -> Option<(u64, u64)> {
        let usage = self.usage.as_ref().filter(|u| !u.is_empty())?;
        Some(usage.iter().fold((0u64, 0u64), |(i, o), u| {
            (
                i.saturating_add(u.input_tokens)
                    .saturating_add(u.cache_read_input_tokens)
                    .saturating_add(u.cache_creation_input_tokens),
                o.saturating_add(u.output_tokens),
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_strings_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in Kind::ALL {
            let name = kind.as_str();
            assert!(seen.insert(name), "{name} listed twice");
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !name.starts_with('-')
                    && !name.ends_with('-'),
                "{name} is not kebab-case"
            );
            assert_eq!(Kind::parse(name), Some(*kind));
            assert_eq!(name.parse::<Kind>(), Ok(*kind));
            assert_eq!(kind.to_string(), name);
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, json!(name));
            assert_eq!(serde_json::from_value::<Kind>(json).unwrap(), *kind);
        }
        assert_eq!(seen.len(), Kind::ALL.len());
    }

    #[test]
    fn kinds_written_before_the_enum_keep_their_names() {
        // Kinds are API: a sample of names consumers filter on, spelled out.
        for (kind, name) in [
            (Kind::SessionStart, "session-start"),
            (Kind::ToolCall, "tool-call"),
            (Kind::Edit, "edit"),
            (Kind::HookError, "hook-error"),
            (Kind::Genesis, "genesis"),
            (Kind::Checkpoint, "checkpoint"),
            (Kind::CheckpointFailed, "checkpoint-failed"),
            (Kind::Prune, "prune"),
            (Kind::SpoolUnauthenticated, "spool-unauthenticated"),
            (Kind::Report, "report"),
            (Kind::Commit, "commit"),
        ] {
            assert_eq!(kind.as_str(), name);
        }
    }

    #[test]
    fn unknown_kind_is_tolerated() {
        assert_eq!(Kind::parse("kind-from-the-future"), None);
        let error = "kind-from-the-future".parse::<Kind>().unwrap_err();
        assert_eq!(error, UnknownKind("kind-from-the-future".into()));
        assert!(serde_json::from_value::<Kind>(json!("kind-from-the-future")).is_err());
        let record = crate::StoredRecord {
            seq: 2,
            ts_ns: 1,
            kind: "kind-from-the-future".into(),
            payload: br#"{"session_id":"s","x":1}"#.to_vec(),
            prev_hash: crate::ZERO_HASH,
            hash: crate::ZERO_HASH,
        };
        assert_eq!(record.kind(), None);
        let any: AnyPayload = record.view().unwrap();
        assert_eq!(any.common.session_id.as_deref(), Some("s"));
        assert_eq!(any.rest["x"], json!(1));
    }

    #[test]
    fn a_field_of_another_shape_does_not_fail_the_payload() {
        let any: AnyPayload =
            serde_json::from_value(json!({"session_id": 5, "cwd": "/r", "agent": "x", "k": 1}))
                .unwrap();
        assert_eq!(any.common.session_id, None);
        assert_eq!(any.common.cwd.as_deref(), Some("/r"));
        assert_eq!(any.common.agent, None);
        assert_eq!(any.rest["k"], json!(1));
        let genesis: Genesis =
            serde_json::from_value(json!({"format": "one", "host": 3, "signing_key":
                {"algorithm": "ed25519", "public_key": "22".repeat(32)}}))
            .unwrap();
        assert_eq!(genesis.format, 0);
        assert_eq!(genesis.host, None);
        assert_eq!(genesis.public_key(), Some([0x22; 32]));
    }

    #[test]
    fn the_mapped_view_reads_any_shape_without_failing() {
        let call = Mapped::parse(
            br#"{"tool":"Bash","session_id":"s","input":{"command":{"blake3":"00","bytes":9,"head":"ls -la"}},
            "decision":{"action":"deny","enforced":false,"rule":"r","reason":null},
            "targets":[3,{"path":"/a","access":"read"},{"access":"write"}],
            "agent":{"id":"a1","type":null},"hunks":[{"lines":["+x"]}]}"#,
        )
        .unwrap();
        assert_eq!(call.command(), Some("ls -la"));
        assert_eq!((call.verdict(), call.rule()), (Some("deny"), Some("r")));
        assert!(!call.enforced());
        // Copied as written: present and null is not absent.
        let decision = call.decision.as_ref().unwrap();
        assert_eq!(decision.reason, Some(Value::Null));
        assert_eq!(decision.layer, None);
        assert_eq!(call.agent.as_ref().unwrap().agent_type, Some(Value::Null));
        // The first target is not an object: no path, though a later one has one.
        assert_eq!(call.subject_path(), None);
        assert_eq!(call.access(), Some("write"));

        let odd = Mapped::parse(
            br#"{"tool":5,"decision":"allow","targets":{"path":"/x"},"input":["ls"],"agent":"a"}"#,
        )
        .unwrap();
        assert_eq!(odd, Mapped::default());
        assert!(odd.enforced());
        assert_eq!(Mapped::parse(b"[\"s\", \"t\"]"), Some(Mapped::default()));
        assert_eq!(Mapped::parse(b"{not json"), None);
        assert_eq!(
            Mapped::parse(br#"{"path":"/e","targets":[{"path":"/t"}]}"#)
                .unwrap()
                .subject_path(),
            Some("/e")
        );
    }

    /// Through the view and back: the canonical bytes are unchanged.
    fn survives<T: Serialize + serde::de::DeserializeOwned>(payload: Value) -> T {
        let bytes = crate::canonical_json(&payload);
        let view: T = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            String::from_utf8(crate::canonical::to_vec(&view).unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap()
        );
        view
    }

    #[test]
    fn views_keep_unknown_fields() {
        let edit: Edit = survives(json!({
            "event": "PostToolUse", "session_id": "s1", "cwd": "/r",
            "agent": {"id": "a1", "type": null, "new_agent_field": [1]},
            "tool": "Edit", "tool_use_id": "t1",
            "model": "m", "model_source": "session-start", "claude_code_version": null,
            "path": "/r/a.rs", "repository": {"root": "/r", "relative_path": "a.rs", "branch": "x"},
            "before_blake3": null, "before_bytes": null, "after_blake3": "ab", "after_bytes": 3,
            "change": "update", "lines_added": 1, "lines_removed": 0, "hunk_lines": "text",
            "hunks": [{"old_start": 1, "old_lines": 0, "new_start": 1, "new_lines": 1,
                       "lines": ["+x"], "future": true}],
            "a_field_from_the_future": {"nested": ["kept", 1.5]},
        }));
        assert_eq!(edit.lines_added, 1);
        assert_eq!(edit.repository.unwrap().rest["branch"], json!("x"));
        assert_eq!(edit.hunks[0].rest["future"], json!(true));
        assert!(edit.rest.contains_key("a_field_from_the_future"));

        let call: ToolCall = survives(json!({
            "event": "PreToolUse", "session_id": "s1", "tool": "Bash", "tool_use_id": "t",
            "model": null, "model_source": "unknown", "claude_code_version": "2.1.0",
            "input": {"command": "ls"},
            "decision": {"action": "deny", "rule": "r", "layer": "user", "reason": "no",
                         "enforced": true, "severity": "high"},
            "targets": [{"path": "/x", "access": "read", "inode": 5}],
            "extra": "kept",
        }));
        assert_eq!(
            call.decision.as_ref().unwrap().rest["severity"],
            json!("high")
        );
        assert_eq!(call.targets.as_ref().unwrap()[0].rest["inode"], json!(5));

        let genesis: Genesis = survives(json!({
            "ledger_id": "00", "format": 1, "frame": "HKLREC01", "hash": "blake3",
            "payload_encoding": "rfc8785", "created_ns": 5, "hookledger_version": "0.1.0",
            "host": "h", "os_user": null,
            "signing_key": {"algorithm": "ed25519", "public_key": "11".repeat(32)},
            "new_genesis_field": 1,
        }));
        assert_eq!(genesis.public_key(), Some([0x11; 32]));

        let any: AnyPayload = survives(json!({
            "session_id": "s", "model": {"odd": "shape"}, "decision": "not an object", "z": 1,
        }));
        assert_eq!(any.model(), None);
        assert_eq!(any.decision(), None);

        let _: Prompt = survives(json!({"prompt": "p", "prompt_bytes": 1, "model": null,
            "model_source": "unknown", "claude_code_version": null,
            "secret_findings": [{"kind": "aws-key", "start": 0, "end": 4}], "w": 1}));
        let _: SessionStart = survives(json!({"source": "startup", "repository": null,
            "model": "m", "model_source": "session-start", "claude_code_version": "2",
            "sandbox": {"enabled": true}, "host": "h", "pid": 4}));
        let _: Stop = survives(
            json!({"tool_models": [{"tool_use_id": "t", "model": "m", "q": 1}],
            "model": "m", "model_source": "transcript-latest", "claude_code_version": "2"}),
        );
        let start: SessionStart = survives(json!({"source": "startup", "repository": null,
            "model": "m", "model_source": "session-start", "claude_code_version": null,
            "sandbox": null, "host": "h", "os_user": null, "hookledger_version": "0.1.0",
            "policy": null, "pid": 7, "model_reported": "m", "agent_type": "main", "later": 1}));
        assert_eq!(start.policy, Some(Value::Null));
        let stop: Stop = survives(json!({"model": null, "model_source": "unknown",
            "claude_code_version": null, "stop_hook_active": false, "background_tasks": 2,
            "last_assistant_message": {"blake3": "ab", "bytes": 9, "head": "All done."}}));
        assert_eq!(stop.background_tasks, Some(2));
        let _: ToolOutcome = survives(json!({"tool": "Bash", "model": "m", "model_source": "x",
            "claude_code_version": "2", "status": "failure", "input_blake3": null,
            "error_first_line": "Exit 1", "error_bytes": 9, "error_blake3": "cd",
            "is_interrupt": false, "duration_ms": 3}));
        let facts: EventFacts = survives(json!({"event": "Notification",
            "message": "Claude needs your permission", "title": "t", "z": [1]}));
        assert_eq!(
            facts.message,
            Some(Text::Kept("Claude needs your permission".into()))
        );
        let facts: EventFacts = survives(json!({"event": "Elicitation",
            "message": {"blake3": "ab", "bytes": 4, "head": "give"},
            "content": {"blake3": "cd", "bytes": 2}, "url": "https://x"}));
        assert!(matches!(facts.message, Some(Text::Digest(_))));
        let facts: EventFacts = survives(json!({"event": "PostModelSwitch", "to_model": "b",
            "model": "b", "model_source": "model-switch", "claude_code_version": null,
            "context_tokens": 10}));
        assert_eq!(facts.model, Some(Some("b".into())));
        assert_eq!(facts.claude_code_version, Some(None));
        let _: Review = survives(json!({"by": "me", "host": null, "period": {"since": "a"},
            "digest": "d", "records": 1, "denied": 0, "asked": 0, "output": null, "v": 2}));
    }
}
