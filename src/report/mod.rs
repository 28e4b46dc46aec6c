/*!
The auditor's evidence pack for a period (`hookledger report`): who used the agent, what it
did, what was refused and why, which models and how many tokens, which policies were in force,
what was edited where, who reviewed earlier periods, and whether the ledger verifies.

[`collect`] reads the ledger once for the period and computes a [`Report`], the one model every
format renders: [`html`] and [`markdown`] build their tables from it ([`tables`]), the JSON form
is it, and the review record's digest is of its canonical JSON ([`digest`]). Times are UTC,
days are UTC dates. Secrets are never reported: DLP findings are kinds and counts.
*/

pub mod facts;
pub mod fleet;
pub mod html;
pub mod markdown;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::export::{self, RecordRef};
use crate::ledger::Kind;
use crate::ledger::record::PolicyDigest;
use crate::ledger::record::{self, AnyPayload, DecisionView};
use crate::ledger::{Ledger, LedgerError, frame};
use crate::policy::Policy;
use facts::{IdentifiedBy, PolicyKey, StartFacts};

pub const FORMAT: &str = "hookledger-report/2";
/// The refused and asked operations are listed one by one up to this many each.
pub const MAX_LISTED: usize = 1000;
/// A command shown in the refused-operations table is cut to this many characters.
pub const COMMAND_CHARS: usize = 200;
/// Record kind of the note a report leaves in the ledger: reviews are evidence too.
pub const REPORT_KIND: &str = crate::ledger::Kind::Report.as_str();
/// The person of a session whose session-start is not in the ledger.
pub const UNKNOWN_PERSON: &str = "(unknown: no session-start recorded)";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub generated: Generated,
    pub period: Period,
    pub scope: Scope,
    pub totals: Totals,
    pub daily: Vec<Day>,
    /// Activity per person (Claude account email, else git email, else user@host).
    pub people: Vec<Person>,
    /// Activity per person, OS user and host: the machines each person used.
    pub by_actor: Vec<Actor>,
    pub models: Vec<ModelUse>,
    pub tokens: Tokens,
    pub claude_code_versions: Vec<VersionUse>,
    pub decisions: Decisions,
    pub dlp: Vec<DlpFinding>,
    pub edits_by_repository: Vec<RepositoryEdits>,
    pub repositories: Vec<RepositoryAccess>,
    pub policies: Vec<PolicyInForce>,
    /// Reviews: reports made by a person (not from an agent's tool call).
    pub reviews: Vec<Review>,
    /// Reports made from within an agent's tool call: listed, never counted as reviews.
    pub agent_reports: Vec<Review>,
    pub controls: Controls,
    pub integrity: Integrity,
    /// A fleet report (`report --store`): every machine the server knows, with its chain
    /// status as the server verified it. Absent from a one-ledger report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<fleet::Fleet>,
}

/// Controls in force during the period's sessions, as each session-start recorded them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Controls {
    pub sandbox: SandboxControl,
    /// Each lock-down setting recorded at session start (`allow_managed_hooks_only`, ...).
    pub lockdown: Vec<LockdownSetting>,
}

/// Claude Code's OS sandbox for Bash, per session start.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SandboxControl {
    /// Enabled by managed settings, no way out, no start without it.
    pub enforced_by_managed: u64,
    /// Enforced, but by settings a user can change (a `--settings` file, user settings).
    pub enforced_elsewhere: u64,
    /// Enabled with a way out (`allowUnsandboxedCommands`) or without `failIfUnavailable`.
    pub enabled_not_enforced: u64,
    pub off: u64,
    /// Session starts recorded before hookledger noted the sandbox.
    pub unknown: u64,
}

/// One lock-down setting, per session start: on, off, or not recorded.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LockdownSetting {
    pub setting: String,
    pub on: u64,
    pub off: u64,
    pub unknown: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub at: String,
    pub by: Option<String>,
    pub host: String,
    pub hookledger_version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    pub since: String,
    pub until: String,
    pub since_ns: String,
    pub until_ns: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    pub ledger: String,
    pub ledger_id: String,
    /// Where the ledger was created (its genesis record); sessions may name other hosts.
    pub host: Option<String>,
    pub user: Option<String>,
    /// Records whose time falls in the period.
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub sessions: u64,
    pub people: u64,
    pub hosts: u64,
    pub prompts: u64,
    pub prompts_blocked: u64,
    pub tool_calls: u64,
    pub denied: u64,
    pub asked: u64,
    /// Refusals recorded in audit mode: would have been denied.
    pub denied_not_enforced: u64,
    pub edits: u64,
    pub files_edited: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub dlp_findings: u64,
    pub hook_errors: u64,
    pub tokens: TokenCounts,
    /// Turn ends whose token usage could not be read (`usage_source: unavailable`).
    pub turns_without_usage: u64,
}

/// Tokens, summed over assistant messages.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TokenCounts {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub messages: u64,
}

impl TokenCounts {
    fn add(&mut self, other: &TokenCounts) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.messages += other.messages;
    }

    fn of(usage: &record::ModelUsage) -> TokenCounts {
        TokenCounts {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            messages: usage.messages,
        }
    }
}

/// Tokens by model, by person and by day, from the turn ends' `usage`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tokens {
    pub by_model: Vec<TokenRow>,
    pub by_person: Vec<TokenRow>,
    pub by_day: Vec<TokenRow>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenRow {
    /// The model, person or UTC date.
    pub key: String,
    #[serde(flatten)]
    pub tokens: TokenCounts,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Day {
    pub date: String,
    pub sessions: u64,
    pub prompts: u64,
    pub tool_calls: u64,
    pub denied: u64,
    pub asked: u64,
    pub edits: u64,
}

/// What one session (or a group of them) did in the period.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Activity {
    pub sessions: u64,
    pub prompts: u64,
    pub tool_calls: u64,
    pub denied: u64,
    pub asked: u64,
    pub edits: u64,
    pub tokens: TokenCounts,
}

impl Activity {
    fn add(&mut self, other: &Activity) {
        self.sessions += other.sessions;
        self.prompts += other.prompts;
        self.tool_calls += other.tool_calls;
        self.denied += other.denied;
        self.asked += other.asked;
        self.edits += other.edits;
        self.tokens.add(&other.tokens);
    }
}

/// A person: everything their sessions did, and how they were identified.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub person: String,
    pub identified_by: IdentifiedBy,
    /// The Claude Code account(s) recorded (email, account and organization UUIDs).
    pub claude_accounts: Vec<record::ClaudeAccount>,
    pub git_identities: Vec<String>,
    /// `user@host` of every machine the person's sessions ran on.
    pub machines: Vec<String>,
    #[serde(flatten)]
    pub activity: Activity,
}

/// A person on one machine (OS user and host).
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub person: String,
    pub user: Option<String>,
    pub host: Option<String>,
    #[serde(flatten)]
    pub activity: Activity,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelUse {
    pub model: String,
    pub sessions: u64,
    pub prompts: u64,
    pub tool_calls: u64,
    pub edits: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VersionUse {
    pub version: String,
    pub sessions: u64,
    pub records: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Decisions {
    pub by_rule: Vec<RuleCount>,
    pub denied: Vec<Operation>,
    pub asked: Vec<Operation>,
    /// How many were left out of the lists above (past [`MAX_LISTED`]).
    pub denied_unlisted: u64,
    pub asked_unlisted: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleCount {
    pub rule: String,
    pub action: String,
    pub layer: String,
    pub count: u64,
}

/// One refused or asked operation.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// The machine whose ledger holds it (fleet reports only: `seq` is per ledger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub session_id: Option<String>,
    pub person: String,
    pub tool: Option<String>,
    pub model: Option<String>,
    /// The target the refusal is about (the one its reason names, else the first written,
    /// else the first), or the prompt's size: never a prompt's text.
    pub subject: Option<String>,
    /// Every target the call named, as `access path`.
    pub targets: Vec<OperationTarget>,
    /// The command (Bash, a skill's shell), cut to [`COMMAND_CHARS`] characters.
    pub command: Option<String>,
    pub rule: String,
    pub layer: Option<String>,
    pub reason: Option<String>,
    pub enforced: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperationTarget {
    pub path: String,
    pub access: Option<String>,
    pub repository: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DlpFinding {
    pub kind: String,
    /// `prompt` or `content` (what a Write/Edit would have written).
    pub found_in: &'static str,
    pub count: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RepositoryEdits {
    pub repository: String,
    pub remotes: Vec<String>,
    pub edits: u64,
    pub files: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub models: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepositoryAccess {
    pub repository: String,
    pub remotes: Vec<String>,
    pub sessions: u64,
    pub edits: u64,
    /// Refused operations (enforced denials) with a target in this repository.
    pub refusals: u64,
    /// Under the policy recorded when the sessions ran.
    pub allowlist: Allowlist,
    pub rule: Option<String>,
    /// What the verdict rests on.
    pub basis: Basis,
}

/// A repository's allowlist verdict, under the policy recorded when its sessions ran. A stable
/// code family (docs/codes.md, "Report allowlist verdicts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allowlist {
    Allowed,
    Denied,
    NotAllowed,
    Ask,
    NoAllowlist,
    Unknown,
    Changed,
}

impl Allowlist {
    pub const ALL: &'static [Allowlist] = &[
        Allowlist::Allowed,
        Allowlist::Denied,
        Allowlist::NotAllowed,
        Allowlist::Ask,
        Allowlist::NoAllowlist,
        Allowlist::Unknown,
        Allowlist::Changed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Allowlist::Allowed => "allowed",
            Allowlist::Denied => "denied",
            Allowlist::NotAllowed => "not-allowed",
            Allowlist::Ask => "ask",
            Allowlist::NoAllowlist => "no-allowlist",
            Allowlist::Unknown => "unknown",
            Allowlist::Changed => "changed",
        }
    }

    fn of(decision: &crate::policy::Decision) -> Allowlist {
        match (decision.action, decision.rule) {
            (crate::policy::Action::Ask, _) => Allowlist::Ask,
            (_, crate::policy::rules::REPOSITORY_DENIED) => Allowlist::Denied,
            _ => Allowlist::NotAllowed,
        }
    }
}

/// What an allowlist verdict rests on. A stable code family (docs/codes.md, "Report verdict
/// bases").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    DecisionRecorded,
    PolicyRecorded,
    NotRecorded,
    PolicyNotReadable,
}

impl Basis {
    pub const ALL: &'static [Basis] = &[
        Basis::DecisionRecorded,
        Basis::PolicyRecorded,
        Basis::NotRecorded,
        Basis::PolicyNotReadable,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Basis::DecisionRecorded => "decision-recorded",
            Basis::PolicyRecorded => "policy-recorded",
            Basis::NotRecorded => "not-recorded",
            Basis::PolicyNotReadable => "policy-not-readable",
        }
    }
}

/// A policy file in force during the period.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyInForce {
    pub layer: String,
    pub path: String,
    pub blake3: String,
    /// The first session start that recorded it, and the last record of a session under it.
    pub first_seen: String,
    pub last_seen: String,
    pub sessions: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub seq: u64,
    pub time: String,
    pub reviewer: Option<String>,
    pub host: Option<String>,
    pub note: Option<String>,
    pub period: Value,
    pub formats: Vec<String>,
    pub outputs: Vec<String>,
    pub by_agent: bool,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Integrity {
    pub ledger_id: String,
    pub head: Option<Head>,
    pub intact: bool,
    pub records_verified: u64,
    pub first_bad_seq: Option<u64>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub checkpoints: u64,
    pub last_checkpoint: Option<CheckpointNote>,
    pub spool_pending: usize,
    pub pruned: Vec<String>,
    pub export_cursors: Vec<CursorNote>,
    pub public_key: Option<String>,
    /// What a third party runs to check all of this themselves.
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointNote {
    pub seq: u64,
    pub covers: u64,
    pub time: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CursorNote {
    pub sink: String,
    pub acknowledged_through: u64,
    pub behind_head: u64,
    pub pending_through: Option<u64>,
    pub updated: String,
}

/// The ledger state a report is made from.
pub struct Inputs<'a> {
    pub ledger: &'a Ledger,
    pub ledger_path: &'a Path,
    pub since_ns: i64,
    pub until_ns: i64,
    /// `HOOKLEDGER_HOME`, for the self-protection context of a policy re-read to judge
    /// repositories against (never the policy readable now: the one recorded then).
    pub hookledger_home: Option<&'a Path>,
    pub verify: &'a crate::ledger::verify::VerifyReport,
    /// Who makes this report (`--reviewer`, default the OS user).
    pub reviewer: Option<String>,
}

/// The period and the reader, whatever the records come from (one ledger or a fleet).
pub struct Window<'a> {
    pub since_ns: i64,
    pub until_ns: i64,
    /// As [`Inputs::hookledger_home`].
    pub hookledger_home: Option<&'a Path>,
    pub reviewer: Option<String>,
}

impl Inputs<'_> {
    fn window(&self) -> Window<'_> {
        Window {
            since_ns: self.since_ns,
            until_ns: self.until_ns,
            hookledger_home: self.hookledger_home,
            reviewer: self.reviewer.clone(),
        }
    }
}

/// One session as the period saw it.
#[derive(Default)]
struct SessionSeen {
    activity: Activity,
    first_ns: i64,
    last_ns: i64,
}

/// What accumulates while the period's records are read.
#[derive(Default)]
struct Tally {
    totals: Totals,
    /// Every session-start up to the period's end, by session: (time, facts), in order.
    starts: BTreeMap<String, Vec<(i64, StartFacts)>>,
    sessions: BTreeMap<String, SessionSeen>,
    days: BTreeMap<String, (Day, BTreeSet<String>)>,
    files: BTreeSet<String>,
    models: BTreeMap<String, (ModelUse, BTreeSet<String>)>,
    versions: BTreeMap<String, (VersionUse, BTreeSet<String>)>,
    /// tool_use_id → model, from the end-of-turn attestations.
    attested: BTreeMap<String, String>,
    /// Calls and edits, whose model is resolved at the end against the attestations.
    calls: Vec<Call>,
    rules: BTreeMap<(String, String, String), u64>,
    decisions: Decisions,
    dlp: BTreeMap<(String, &'static str), (u64, u64)>,
    repo_edits: BTreeMap<String, (RepositoryEdits, BTreeSet<String>, BTreeSet<String>)>,
    repos: BTreeMap<String, RepoSeen>,
    tokens_by_model: BTreeMap<String, TokenCounts>,
    tokens_by_day: BTreeMap<String, TokenCounts>,
    reviews: Vec<Review>,
    agent_reports: Vec<Review>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    records: u64,
    /// The machine whose ledger is being read (fleet reports).
    machine: Option<String>,
}

/// A tool call or accepted edit, as far as model attribution needs it.
struct Call {
    tool_use_id: Option<String>,
    session: Option<String>,
    recorded_model: Option<String>,
    is_edit: bool,
}

#[derive(Default)]
struct RepoSeen {
    remotes: BTreeSet<String>,
    sessions: BTreeSet<String>,
    edits: u64,
    refusals: u64,
    /// Repository-rule verdicts recorded on calls into it: (verdict, rule).
    recorded: BTreeSet<(String, String)>,
}

pub fn collect(inputs: &Inputs<'_>) -> Result<Report, ReportError> {
    let ledger = inputs.ledger;
    let genesis = ledger.genesis()?;
    let host = genesis.and_then(|g| g.host.clone());
    let user = genesis.and_then(|g| g.os_user.clone());
    let mut tally = Tally::default();
    // Who ran each session is in its session-start, which may precede the period.
    ledger.for_each_of_kind_after(Kind::SessionStart, 0, |record: &RecordRef<'_>| {
        tally.note_start(record, inputs.until_ns);
        Ok::<(), ReportError>(())
    })?;
    let range = ledger.seq_range_between(inputs.since_ns, inputs.until_ns)?;
    if let Some((from, to)) = range {
        export::for_each_record(ledger, from, to, |record| {
            if (inputs.since_ns..inputs.until_ns).contains(&record.ts_ns) {
                tally.add(record);
            }
            Ok(())
        })?;
    }
    let scope = Scope {
        ledger: inputs.ledger_path.display().to_string(),
        ledger_id: frame::to_hex(inputs.ledger.ledger_id()),
        host,
        user,
        records: 0,
        first_seq: None,
        last_seq: None,
    };
    Ok(tally.finish(&inputs.window(), scope, integrity(inputs), None))
}

/// The canonical JSON of the report model (RFC 8785): what a review's digest is computed
/// over, whichever formats were written.
pub fn canonical(report: &Report) -> Vec<u8> {
    crate::ledger::canonical::to_vec(report).unwrap_or_default()
}

/// The BLAKE3 of [`canonical`], hex.
pub fn digest(report: &Report) -> String {
    blake3::hash(&canonical(report)).to_hex().to_string()
}

fn utc_date(ts_ns: i64) -> String {
    export::rfc3339(ts_ns).chars().take(10).collect()
}

fn short(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

/// The targets a refusal is about: those its reason names (by path, else by repository),
/// else those written, else all. A `cat a > b` refused for writing `b` is about `b`.
fn refused_targets<'t>(targets: &'t [OperationTarget], reason: &str) -> Vec<&'t OperationTarget> {
    let named: Vec<&OperationTarget> = targets
        .iter()
        .filter(|t| reason.contains(t.path.as_str()))
        .collect();
    if !named.is_empty() {
        return named;
    }
    let in_named_repository: Vec<&OperationTarget> = targets
        .iter()
        .filter(|t| t.repository.as_deref().is_some_and(|r| reason.contains(r)))
        .collect();
    if !in_named_repository.is_empty() {
        return in_named_repository;
    }
    let written: Vec<&OperationTarget> = targets
        .iter()
        .filter(|t| t.access.as_deref() == Some("write"))
        .collect();
    if !written.is_empty() {
        return written;
    }
    targets.iter().collect()
}

impl Tally {
    /// The facts of the session-start in force for `session` at `ts_ns`.
    fn start_of(&self, session: &str, ts_ns: i64) -> Option<&StartFacts> {
        let starts = self.starts.get(session)?;
        starts
            .iter()
            .rev()
            .find(|(at, _)| *at <= ts_ns)
            .or_else(|| starts.first())
            .map(|(_, facts)| facts)
    }

    fn person_of(&self, session: Option<&str>, ts_ns: i64) -> String {
        session
            .and_then(|s| self.start_of(s, ts_ns))
            .map_or_else(|| UNKNOWN_PERSON.to_owned(), |f| f.person().0)
    }

    /// A session-start: who ran the session, from then on (read whether or not it is in the
    /// period, as long as it precedes the period's end).
    fn note_start(&mut self, record: &RecordRef<'_>, until_ns: i64) {
        if record.ts_ns >= until_ns || Kind::parse(record.kind) != Some(Kind::SessionStart) {
            return;
        }
        let start: record::SessionStart =
            serde_json::from_slice(record.payload).unwrap_or_default();
        let any: AnyPayload = serde_json::from_slice(record.payload).unwrap_or_default();
        if let Some(session) = any.common.session_id.clone() {
            self.starts
                .entry(session)
                .or_default()
                .push((record.ts_ns, StartFacts::read(&start)));
        }
    }

    fn add(&mut self, record: &RecordRef<'_>) {
        let payload: AnyPayload = serde_json::from_slice(record.payload).unwrap_or_default();
        // The kind's own view, for the kinds that have one; a payload that does not fit it
        // counts with empty fields.
        fn view<T: serde::de::DeserializeOwned + Default>(record: &RecordRef<'_>) -> T {
            serde_json::from_slice(record.payload).unwrap_or_default()
        }
        let kind = Kind::parse(record.kind);
        self.records += 1;
        self.first_seq = Some(self.first_seq.map_or(record.seq, |s| s.min(record.seq)));
        self.last_seq = Some(self.last_seq.map_or(record.seq, |s| s.max(record.seq)));
        let session = payload.common.session_id.clone();
        let date = utc_date(record.ts_ns);
        let day = &mut self.days.entry(date.clone()).or_insert_with(|| {
            (
                Day {
                    date: date.clone(),
                    ..Day::default()
                },
                BTreeSet::new(),
            )
        });
        let mut dummy = SessionSeen::default();
        let seen = match &session {
            Some(session) => {
                day.1.insert(session.clone());
                let seen = self
                    .sessions
                    .entry(session.clone())
                    .or_insert_with(|| SessionSeen {
                        first_ns: record.ts_ns,
                        last_ns: record.ts_ns,
                        ..SessionSeen::default()
                    });
                seen.first_ns = seen.first_ns.min(record.ts_ns);
                seen.last_ns = seen.last_ns.max(record.ts_ns);
                seen
            }
            None => &mut dummy,
        };
        let day = &mut day.0;
        if let Some(version) = payload.claude_code_version() {
            let entry = self.versions.entry(version.to_owned()).or_insert_with(|| {
                (
                    VersionUse {
                        version: version.to_owned(),
                        ..VersionUse::default()
                    },
                    BTreeSet::new(),
                )
            });
            entry.0.records += 1;
            if let Some(session) = &session {
                entry.1.insert(session.clone());
            }
        }
        let decision = payload.decision();
        let verdict = decision.as_ref().and_then(|d| d.action.as_deref());
        let enforced = decision.as_ref().is_none_or(DecisionView::enforced);
        let owned = |text: Option<&str>| text.map(str::to_owned);
        match kind {
            Some(Kind::Prompt) => {
                self.totals.prompts += 1;
                day.prompts += 1;
                seen.activity.prompts += 1;
                if verdict == Some("deny") && enforced {
                    self.totals.prompts_blocked += 1;
                }
                let prompt: record::Prompt = view(record);
                let model = prompt
                    .model
                    .model
                    .clone()
                    .unwrap_or_else(|| "unknown".into());
                let entry = self.models.entry(model.clone()).or_insert_with(|| {
                    (
                        ModelUse {
                            model,
                            ..ModelUse::default()
                        },
                        BTreeSet::new(),
                    )
                });
                entry.0.prompts += 1;
                if let Some(session) = &session {
                    entry.1.insert(session.clone());
                }
                for finding in prompt.secret_findings.into_iter().flatten() {
                    let kind = if finding.kind.is_empty() {
                        "unknown".to_owned()
                    } else {
                        finding.kind
                    };
                    let entry = self.dlp.entry((kind, "prompt")).or_default();
                    entry.0 += 1;
                    if verdict == Some("deny") {
                        entry.1 += 1;
                    }
                    self.totals.dlp_findings += 1;
                }
            }
            Some(Kind::ToolCall) => {
                self.totals.tool_calls += 1;
                day.tool_calls += 1;
                seen.activity.tool_calls += 1;
                self.calls.push(Call {
                    tool_use_id: owned(payload.tool_use_id()),
                    session: session.clone(),
                    recorded_model: owned(payload.model()),
                    is_edit: false,
                });
            }
            Some(Kind::Edit) => {
                let edit: record::Edit = view(record);
                self.totals.edits += 1;
                day.edits += 1;
                seen.activity.edits += 1;
                let (added, removed) = (edit.lines_added, edit.lines_removed);
                self.totals.lines_added += added;
                self.totals.lines_removed += removed;
                let path = edit.path.clone();
                if let Some(path) = &path {
                    self.files.insert(path.clone());
                }
                self.calls.push(Call {
                    tool_use_id: owned(payload.tool_use_id()),
                    session: session.clone(),
                    recorded_model: owned(payload.model()),
                    is_edit: true,
                });
                let root = edit.repository.map(|r| r.root).filter(|r| !r.is_empty());
                let in_repository = root.is_some();
                let root = root.unwrap_or_else(|| "(outside any repository)".to_owned());
                let entry = self.repo_edits.entry(root.clone()).or_insert_with(|| {
                    (
                        RepositoryEdits {
                            repository: root.clone(),
                            ..RepositoryEdits::default()
                        },
                        BTreeSet::new(),
                        BTreeSet::new(),
                    )
                });
                entry.0.edits += 1;
                entry.0.lines_added += added;
                entry.0.lines_removed += removed;
                if let Some(path) = path {
                    entry.1.insert(path);
                }
                if let Some(model) = payload.model() {
                    entry.2.insert(model.to_owned());
                }
                if in_repository {
                    self.repos.entry(root).or_default().edits += 1;
                }
            }
            Some(Kind::Stop | Kind::SubagentStop) => {
                let stop: record::Stop = view(record);
                if stop.usage_source.as_deref() == Some(record::UsageSource::Unavailable.as_str()) {
                    self.totals.turns_without_usage += 1;
                }
                for entry in stop.usage.iter().flatten() {
                    let counts = TokenCounts::of(entry);
                    // A usage entry that does not name its model reads with an empty one.
                    let model = match entry.model.as_str() {
                        "" => "unknown".to_owned(),
                        named => named.to_owned(),
                    };
                    self.tokens_by_model.entry(model).or_default().add(&counts);
                    self.tokens_by_day
                        .entry(utc_date(record.ts_ns))
                        .or_default()
                        .add(&counts);
                    self.totals.tokens.add(&counts);
                    seen.activity.tokens.add(&counts);
                }
                for pair in stop.tool_models.into_iter().flatten() {
                    if let (Some(id), Some(model)) = (pair.tool_use_id, pair.model) {
                        self.attested.insert(id, model);
                    }
                }
            }
            Some(Kind::HookError | Kind::SpoolDamage) => self.totals.hook_errors += 1,
            Some(Kind::Report) => {
                let note: record::Review = view(record);
                let review = Review {
                    seq: record.seq,
                    time: export::rfc3339(record.ts_ns),
                    by_agent: !note.is_review(),
                    reviewer: note.reviewer.or(note.by),
                    host: note.host,
                    note: note.note,
                    period: note.period,
                    formats: note.formats.unwrap_or_default(),
                    outputs: note
                        .outputs
                        .unwrap_or_else(|| note.output.into_iter().collect()),
                    digest: note.digest,
                };
                if review.by_agent {
                    self.agent_reports.push(review);
                } else {
                    self.reviews.push(review);
                }
            }
            _ => {}
        }
        let Some(decision) = &decision else {
            return;
        };
        let rule = decision
            .rule
            .clone()
            .unwrap_or_else(|| "unknown".to_owned());
        let layer = decision.layer.clone();
        if !matches!(verdict, Some("deny" | "ask")) {
            return;
        }
        let action = verdict.unwrap_or_default().to_owned();
        *self
            .rules
            .entry((
                rule.clone(),
                action.clone(),
                layer.clone().unwrap_or_default(),
            ))
            .or_default() += 1;
        if rule == "content-secret" {
            let reason = decision.reason.as_deref().unwrap_or("");
            let kind = reason
                .split("contains ")
                .nth(1)
                .and_then(|k| k.split(';').next())
                .unwrap_or("a secret")
                .to_owned();
            let entry = self.dlp.entry((kind, "content")).or_default();
            entry.0 += 1;
            if verdict == Some("deny") {
                entry.1 += 1;
            }
            self.totals.dlp_findings += 1;
        }
        let targets: Vec<OperationTarget> = payload
            .targets()
            .into_iter()
            .filter_map(|t| {
                Some(OperationTarget {
                    path: t.path?,
                    access: t.access,
                    repository: t.repository.filter(|r| !r.is_empty()),
                })
            })
            .collect();
        let reason = decision.reason.as_deref().unwrap_or("");
        let refused = refused_targets(&targets, reason);
        // Refusals count in every repository a refused target is in (once per record).
        let repositories: BTreeSet<&str> = refused
            .iter()
            .filter_map(|t| t.repository.as_deref())
            .collect();
        for root in &repositories {
            let seen = self.repos.entry((*root).to_owned()).or_default();
            if verdict == Some("deny") && enforced {
                seen.refusals += 1;
            }
            if rule.starts_with("repository-") {
                seen.recorded.insert((action.clone(), rule.clone()));
            }
        }
        let command = payload
            .rest
            .get("input")
            .and_then(|i| i.get("command"))
            .and_then(|c| c.as_str().or_else(|| c.get("head").and_then(Value::as_str)))
            .map(|c| short(c, COMMAND_CHARS));
        let subject = match kind {
            Some(Kind::Prompt) => view::<record::Prompt>(record)
                .prompt_bytes
                .map(|n| format!("prompt of {n} bytes")),
            _ => refused
                .iter()
                .max_by_key(|t| t.path.len())
                .map(|t| t.path.clone())
                .or_else(|| command.clone())
                .or_else(|| payload.str("path").map(str::to_owned)),
        };
        let operation = Operation {
            machine: self.machine.clone(),
            seq: record.seq,
            time: export::rfc3339(record.ts_ns),
            kind: record.kind.to_owned(),
            person: self.person_of(session.as_deref(), record.ts_ns),
            session_id: session.clone(),
            tool: owned(payload.tool()),
            model: owned(payload.model()),
            subject,
            targets,
            command,
            rule,
            layer,
            reason: decision.reason.as_deref().map(|r| short(r, 300)),
            enforced,
        };
        let seen = match &session {
            Some(session) => self.sessions.get_mut(session),
            None => None,
        };
        let day = self.days.get_mut(&date).map(|d| &mut d.0);
        let (list, unlisted, counter) = if verdict == Some("deny") {
            if enforced {
                if let Some(seen) = seen {
                    seen.activity.denied += 1;
                }
                if let Some(day) = day {
                    day.denied += 1;
                }
            }
            (
                &mut self.decisions.denied,
                &mut self.decisions.denied_unlisted,
                if enforced {
                    &mut self.totals.denied
                } else {
                    &mut self.totals.denied_not_enforced
                },
            )
        } else {
            if let Some(seen) = seen {
                seen.activity.asked += 1;
            }
            if let Some(day) = day {
                day.asked += 1;
            }
            (
                &mut self.decisions.asked,
                &mut self.decisions.asked_unlisted,
                &mut self.totals.asked,
            )
        };
        *counter += 1;
        if list.len() < MAX_LISTED {
            list.push(operation);
        } else {
            *unlisted += 1;
        }
    }

    fn finish(
        mut self,
        inputs: &Window<'_>,
        mut scope: Scope,
        integrity: Integrity,
        fleet: Option<fleet::Fleet>,
    ) -> Report {
        for call in std::mem::take(&mut self.calls) {
            let model = call
                .tool_use_id
                .as_ref()
                .and_then(|id| self.attested.get(id).cloned())
                .or(call.recorded_model)
                .unwrap_or_else(|| "unknown".into());
            let entry = self.models.entry(model.clone()).or_insert_with(|| {
                (
                    ModelUse {
                        model,
                        ..ModelUse::default()
                    },
                    BTreeSet::new(),
                )
            });
            if call.is_edit {
                entry.0.edits += 1;
            } else {
                entry.0.tool_calls += 1;
            }
            if let Some(session) = call.session {
                entry.1.insert(session);
            }
        }
        // Sessions, people and machines: every session with a record in the period, under
        // the identity its (latest) session-start recorded.
        let mut people: BTreeMap<String, Person> = BTreeMap::new();
        let mut actors: BTreeMap<(String, Option<String>, Option<String>), Activity> =
            BTreeMap::new();
        let mut hosts = BTreeSet::new();
        let mut tokens_by_person: BTreeMap<String, TokenCounts> = BTreeMap::new();
        let mut policies: BTreeMap<PolicyKey, (i64, i64, u64)> = BTreeMap::new();
        let mut lockdown: BTreeMap<String, LockdownSetting> = BTreeMap::new();
        let mut sandbox = SandboxControl::default();
        for (session, seen) in &self.sessions {
            let mut activity = seen.activity.clone();
            activity.sessions = 1;
            let facts = self.start_of(session, seen.last_ns).cloned();
            let (person, identified_by) = facts.as_ref().map_or(
                (UNKNOWN_PERSON.to_owned(), IdentifiedBy::Unknown),
                StartFacts::person,
            );
            let entry = people.entry(person.clone()).or_insert_with(|| Person {
                person: person.clone(),
                identified_by,
                claude_accounts: Vec::new(),
                git_identities: Vec::new(),
                machines: Vec::new(),
                activity: Activity::default(),
            });
            entry.identified_by = entry.identified_by.min(identified_by);
            entry.activity.add(&activity);
            tokens_by_person
                .entry(person.clone())
                .or_default()
                .add(&activity.tokens);
            if let Some(facts) = &facts {
                if let Some(account) = &facts.identity.claude
                    && !entry.claude_accounts.contains(account)
                {
                    entry.claude_accounts.push(account.clone());
                }
                if let Some(git) = &facts.identity.git {
                    let text = format!(
                        "{} <{}>",
                        git.name.as_deref().unwrap_or("?"),
                        git.email.as_deref().unwrap_or("?")
                    );
                    if !entry.git_identities.contains(&text) {
                        entry.git_identities.push(text);
                    }
                }
                let machine = facts.machine_user();
                if !entry.machines.contains(&machine) {
                    entry.machines.push(machine);
                }
                if let Some(host) = &facts.host {
                    hosts.insert(host.clone());
                }
            }
            actors
                .entry((
                    person,
                    facts.as_ref().and_then(|f| f.os_user.clone()),
                    facts.as_ref().and_then(|f| f.host.clone()),
                ))
                .or_default()
                .add(&activity);
            // The policies in force for this session: every start of it up to its last
            // record in the period.
            for (at, start) in self.starts.get(session).into_iter().flatten() {
                if *at > seen.last_ns {
                    continue;
                }
                for digest in start.policies.iter().flatten() {
                    let e =
                        policies
                            .entry(facts::policy_key(digest))
                            .or_insert((*at, seen.last_ns, 0));
                    e.0 = e.0.min(*at);
                    e.1 = e.1.max(seen.last_ns);
                    e.2 += 1;
                }
            }
            if let Some(facts) = &facts
                && let Some(root) = &facts.repository
            {
                let repo = self.repos.entry(root.clone()).or_default();
                repo.remotes.extend(facts.remotes.iter().cloned());
                repo.sessions.insert(session.clone());
            }
        }
        self.count_controls(inputs, &mut sandbox, &mut lockdown);
        self.totals.sessions = self.sessions.len() as u64;
        self.totals.people = people.len() as u64;
        self.totals.hosts = hosts.len() as u64;
        self.totals.files_edited = self.files.len() as u64;
        let daily = std::mem::take(&mut self.days)
            .into_values()
            .map(|(mut day, sessions)| {
                day.sessions = sessions.len() as u64;
                day
            })
            .collect();
        let mut people: Vec<Person> = people.into_values().collect();
        people.sort_by(|a, b| {
            b.activity
                .sessions
                .cmp(&a.activity.sessions)
                .then_with(|| a.person.cmp(&b.person))
        });
        let by_actor = actors
            .into_iter()
            .map(|((person, user, host), activity)| Actor {
                person,
                user,
                host,
                activity,
            })
            .collect();
        let mut models: Vec<ModelUse> = std::mem::take(&mut self.models)
            .into_values()
            .map(|(mut m, sessions)| {
                m.sessions = sessions.len() as u64;
                m
            })
            .collect();
        models.sort_by(|a, b| {
            (b.tool_calls + b.edits + b.prompts)
                .cmp(&(a.tool_calls + a.edits + a.prompts))
                .then_with(|| a.model.cmp(&b.model))
        });
        let rows = |map: BTreeMap<String, TokenCounts>| -> Vec<TokenRow> {
            map.into_iter()
                .map(|(key, tokens)| TokenRow { key, tokens })
                .collect()
        };
        let tokens = Tokens {
            by_model: rows(std::mem::take(&mut self.tokens_by_model)),
            by_person: rows(
                tokens_by_person
                    .into_iter()
                    .filter(|(_, t)| *t != TokenCounts::default())
                    .collect(),
            ),
            by_day: rows(std::mem::take(&mut self.tokens_by_day)),
        };
        let claude_code_versions = std::mem::take(&mut self.versions)
            .into_values()
            .map(|(mut v, sessions)| {
                v.sessions = sessions.len() as u64;
                v
            })
            .collect();
        let mut by_rule: Vec<RuleCount> = std::mem::take(&mut self.rules)
            .into_iter()
            .map(|((rule, action, layer), count)| RuleCount {
                rule,
                action,
                layer,
                count,
            })
            .collect();
        by_rule.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cmp(b)));
        self.decisions.by_rule = by_rule;
        let dlp = std::mem::take(&mut self.dlp)
            .into_iter()
            .map(|((kind, found_in), (count, refused))| DlpFinding {
                kind,
                found_in,
                count,
                refused,
            })
            .collect();
        let edits_by_repository = std::mem::take(&mut self.repo_edits)
            .into_values()
            .map(|(mut r, files, models)| {
                r.files = files.len() as u64;
                r.models = models.into_iter().collect();
                r.remotes = self
                    .repos
                    .get(&r.repository)
                    .map(|s| s.remotes.iter().cloned().collect())
                    .unwrap_or_default();
                r
            })
            .collect();
        let mut judge = Judge::new(inputs.hookledger_home);
        let repositories = std::mem::take(&mut self.repos)
            .into_iter()
            .map(|(root, seen)| {
                let remotes: Vec<String> = seen.remotes.iter().cloned().collect();
                let recorded: Vec<Option<Vec<PolicyDigest>>> = seen
                    .sessions
                    .iter()
                    .filter_map(|s| {
                        let last = self.sessions.get(s).map_or(i64::MAX, |x| x.last_ns);
                        self.start_of(s, last).map(|f| f.policies.clone())
                    })
                    .collect();
                let (allowlist, rule, basis) =
                    judge.verdict(&root, &remotes, &seen.recorded, &recorded);
                RepositoryAccess {
                    repository: root,
                    remotes,
                    sessions: seen.sessions.len() as u64,
                    edits: seen.edits,
                    refusals: seen.refusals,
                    allowlist,
                    rule,
                    basis,
                }
            })
            .collect();
        let policies = policies
            .into_iter()
            .map(
                |((layer, path, blake3), (first, last, sessions))| PolicyInForce {
                    layer,
                    path,
                    blake3,
                    first_seen: export::rfc3339(first),
                    last_seen: export::rfc3339(last),
                    sessions,
                },
            )
            .collect();
        Report {
            format: FORMAT,
            generated: Generated {
                at: export::rfc3339(crate::ledger::now_ns()),
                by: inputs.reviewer.clone(),
                host: crate::config::host_name(),
                hookledger_version: env!("CARGO_PKG_VERSION"),
            },
            period: Period {
                since: export::rfc3339(inputs.since_ns),
                until: export::rfc3339(inputs.until_ns),
                since_ns: inputs.since_ns.to_string(),
                until_ns: inputs.until_ns.to_string(),
            },
            scope: {
                scope.records = self.records;
                scope.first_seq = self.first_seq;
                scope.last_seq = self.last_seq;
                scope
            },
            totals: self.totals,
            daily,
            people,
            by_actor,
            models,
            tokens,
            claude_code_versions,
            decisions: self.decisions,
            dlp,
            edits_by_repository,
            repositories,
            policies,
            reviews: self.reviews,
            agent_reports: self.agent_reports,
            controls: Controls {
                sandbox,
                lockdown: lockdown.into_values().collect(),
            },
            integrity,
            fleet,
        }
    }
}

impl Tally {
    /// Sandbox and lock-down states, one count per session start in the period.
    fn count_controls(
        &self,
        inputs: &Window<'_>,
        sandbox: &mut SandboxControl,
        lockdown: &mut BTreeMap<String, LockdownSetting>,
    ) {
        let starts: Vec<&StartFacts> = self
            .starts
            .values()
            .flatten()
            .filter(|(at, _)| (inputs.since_ns..inputs.until_ns).contains(at))
            .map(|(_, facts)| facts)
            .collect();
        for facts in &starts {
            let state = &facts.sandbox;
            match (state["enforced"].as_bool(), state["enabled"].as_bool()) {
                (Some(true), _) if state["source"] == "managed" => {
                    sandbox.enforced_by_managed += 1;
                }
                (Some(true), _) => sandbox.enforced_elsewhere += 1,
                (Some(false), Some(true)) => sandbox.enabled_not_enforced += 1,
                (Some(false), _) => sandbox.off += 1,
                (None, _) => sandbox.unknown += 1,
            }
            for key in facts.lockdown.keys() {
                lockdown
                    .entry(key.clone())
                    .or_insert_with(|| LockdownSetting {
                        setting: key.clone(),
                        ..LockdownSetting::default()
                    });
            }
        }
        for facts in &starts {
            for (key, setting) in lockdown.iter_mut() {
                match facts.lockdown.get(key).and_then(Value::as_bool) {
                    Some(true) => setting.on += 1,
                    Some(false) => setting.off += 1,
                    None => setting.unknown += 1,
                }
            }
        }
    }
}

/// Judges repositories against the allowlist of the policy recorded when their sessions
/// ran: a policy file is re-read only when its bytes still have the recorded digest.
struct Judge<'a> {
    home: Option<&'a Path>,
    /// Recorded policy sets already re-read: `None` when one of their files is not readable
    /// with its recorded digest any more.
    cache: BTreeMap<Vec<PolicyKey>, Option<Policy>>,
}

impl<'a> Judge<'a> {
    fn new(home: Option<&'a Path>) -> Self {
        Judge {
            home,
            cache: BTreeMap::new(),
        }
    }

    fn policy(&mut self, digests: &[PolicyDigest]) -> Option<&Policy> {
        let home = self.home;
        self.cache
            .entry(digests.iter().map(facts::policy_key).collect())
            .or_insert_with(|| {
                let mut layers = Vec::new();
                for d in digests {
                    let layer = match d.layer.as_str() {
                        l if l.starts_with("managed") => crate::policy::Layer::Managed,
                        "user" => crate::policy::Layer::User,
                        // Claude Code's own settings files (`claude-*` layers) are recorded as
                        // configuration in force, but they are not hookledger policy layers.
                        _ => continue,
                    };
                    let path = Path::new(&d.path);
                    let bytes = std::fs::read(path).ok()?;
                    if blake3::hash(&bytes).to_hex().as_str() != d.blake3 {
                        return None;
                    }
                    let text = String::from_utf8(bytes).ok()?;
                    let file = crate::policy::file::parse(path, &text).ok()?;
                    layers.push(crate::policy::file::LoadedLayer {
                        layer,
                        path: path.to_owned(),
                        file,
                    });
                }
                Some(Policy::new(
                    layers,
                    home.unwrap_or(Path::new("/nonexistent")),
                ))
            })
            .as_ref()
    }

    /// (verdict, rule, basis). Decisions recorded on calls into the repository come first;
    /// then the recorded policy, when every session recorded one and each can be re-read.
    fn verdict(
        &mut self,
        root: &str,
        remotes: &[String],
        recorded_decisions: &BTreeSet<(String, String)>,
        recorded_policies: &[Option<Vec<PolicyDigest>>],
    ) -> (Allowlist, Option<String>, Basis) {
        let strictest = recorded_decisions
            .iter()
            .max_by_key(|(action, _)| match action.as_str() {
                "deny" => 2,
                "ask" => 1,
                _ => 0,
            });
        if let Some((action, rule)) = strictest {
            let verdict = match (action.as_str(), rule.as_str()) {
                ("ask", _) => Allowlist::Ask,
                (_, crate::policy::rules::REPOSITORY_DENIED) => Allowlist::Denied,
                _ => Allowlist::NotAllowed,
            };
            return (verdict, Some(rule.clone()), Basis::DecisionRecorded);
        }
        if recorded_policies.is_empty() || recorded_policies.iter().any(Option::is_none) {
            return (Allowlist::Unknown, None, Basis::NotRecorded);
        }
        let mut verdicts = BTreeSet::new();
        for digests in recorded_policies.iter().flatten() {
            let Some(policy) = self.policy(digests) else {
                return (Allowlist::Unknown, None, Basis::PolicyNotReadable);
            };
            let verdict = match policy.repository_verdict(remotes, root) {
                None if policy.has_repository_rules() => (Allowlist::Allowed, None),
                None => (Allowlist::NoAllowlist, None),
                Some(d) => (Allowlist::of(&d), Some(d.rule.to_owned())),
            };
            verdicts.insert(verdict);
        }
        let mut verdicts = verdicts.into_iter();
        match (verdicts.next(), verdicts.next()) {
            (Some((verdict, rule)), None) => (verdict, rule, Basis::PolicyRecorded),
            _ => (Allowlist::Changed, None, Basis::PolicyRecorded),
        }
    }
}

fn integrity(inputs: &Inputs<'_>) -> Integrity {
    let verify = inputs.verify;
    let ledger = inputs.ledger;
    let path = inputs.ledger_path.display().to_string();
    let public_key = ledger
        .genesis()
        .ok()
        .flatten()
        .and_then(|g| g.public_key())
        .map(|k| frame::to_hex(&k));
    let head_seq = verify.head.as_ref().map_or(0, |h| h.seq);
    let export_cursors = export::cursors(ledger)
        .unwrap_or_default()
        .into_iter()
        .map(|(sink, cursor)| CursorNote {
            behind_head: head_seq.saturating_sub(cursor.acked),
            sink,
            acknowledged_through: cursor.acked,
            pending_through: cursor.pending,
            updated: export::rfc3339(cursor.updated_ns),
        })
        .collect();
    let quoted = shell_quote(&path);
    let mut commands = vec![
        format!("hookledger verify --ledger {quoted}"),
        format!("python3 schema/verify_ledger.py {quoted}   # the independent reference verifier"),
        format!("hookledger export --ledger {quoted} --no-checkpoint --since-seq 0 -o ledger.ndjson && hookledger verify-export ledger.ndjson"),
        "hookledger verify --against <the copies shipped to the SIEM>   # truncation, rollback, forks".into(),
    ];
    if let Some(key) = &public_key {
        commands.push(format!(
            "hookledger verify-export --public-key {key} --max-silence 24h <SIEM archive>"
        ));
    }
    Integrity {
        ledger_id: frame::to_hex(ledger.ledger_id()),
        head: verify.head.as_ref().map(|h| Head {
            seq: h.seq,
            hash: h.hash.clone(),
        }),
        intact: verify.intact,
        records_verified: verify.records,
        first_bad_seq: verify.first_bad_seq,
        problems: verify
            .problems
            .iter()
            .map(|p| format!("seq {}: {}", p.seq, p.message))
            .collect(),
        warnings: verify.warnings.clone(),
        checkpoints: verify.checkpoints,
        last_checkpoint: verify.last_checkpoint.as_ref().map(|c| CheckpointNote {
            seq: c.seq,
            covers: c.covers,
            time: export::rfc3339(c.time_ns),
        }),
        spool_pending: verify.spool_pending,
        pruned: verify
            .pruned
            .iter()
            .map(crate::ledger::prune::describe)
            .collect(),
        export_cursors,
        public_key,
        commands,
    }
}

fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str, access: &str, repository: Option<&str>) -> OperationTarget {
        OperationTarget {
            path: path.into(),
            access: Some(access.into()),
            repository: repository.map(str::to_owned),
        }
    }

    #[test]
    fn a_refusal_is_about_the_targets_its_reason_names() {
        let targets = [
            target("/r/a/README.md", "read", Some("/r/a")),
            target("/r/b/notes.txt", "write", Some("/r/b")),
            target("/tmp/x", "write", None),
        ];
        let paths = |reason: &str| -> Vec<String> {
            refused_targets(&targets, reason)
                .into_iter()
                .map(|t| t.path.clone())
                .collect()
        };
        assert_eq!(
            paths("reading /r/a/README.md is denied"),
            ["/r/a/README.md"]
        );
        assert_eq!(
            paths("repository /r/b (remotes x) is not on the allowlist"),
            ["/r/b/notes.txt"]
        );
        assert_eq!(paths("something else"), ["/r/b/notes.txt", "/tmp/x"]);
        let reads = [target("/r/a/.env", "read", Some("/r/a"))];
        assert_eq!(refused_targets(&reads, "no").len(), 1);
        assert!(refused_targets(&[], "no").is_empty());
    }

    #[test]
    fn the_digest_is_of_the_canonical_json() {
        let counts = TokenCounts {
            input_tokens: 3,
            ..TokenCounts::default()
        };
        let bytes = crate::ledger::canonical::to_vec(&counts).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"input_tokens":3,"messages":0,"output_tokens":0}"#
        );
    }
}
