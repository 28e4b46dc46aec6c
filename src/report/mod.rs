/*!
The auditor's evidence pack for a period (`hookledger report`): what the agent did, what was
refused and why, which models and Claude Code versions were used, what was edited where, and
whether the ledger behind those numbers verifies.

[`collect`] reads the ledger once for the period and computes a [`Report`]; [`html`] and
[`markdown`] render the same numbers that the JSON form carries. Times are UTC, days are UTC
dates. Secrets are never reported: DLP findings are kinds and counts.
*/

pub mod html;
pub mod markdown;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::export::{self, RecordRef};
use crate::ledger::Kind;
use crate::ledger::record::{self, AnyPayload, DecisionView};
use crate::ledger::{Ledger, LedgerError, frame};
use crate::policy::Policy;

pub const FORMAT: &str = "hookledger-report/1";
/// The refused and asked operations are listed one by one up to this many each.
pub const MAX_LISTED: usize = 1000;
/// Record kind of the note a report leaves in the ledger: reviews are evidence too.
pub const REPORT_KIND: &str = crate::ledger::Kind::Report.as_str();

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
    pub by_actor: Vec<Actor>,
    pub models: Vec<ModelUse>,
    pub claude_code_versions: Vec<VersionUse>,
    pub decisions: Decisions,
    pub dlp: Vec<DlpFinding>,
    pub edits_by_repository: Vec<RepositoryEdits>,
    pub repositories: Vec<RepositoryAccess>,
    pub reviews: Vec<Review>,
    pub controls: Controls,
    pub integrity: Integrity,
}

/// Controls in force during the period's sessions, as each session-start recorded them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Controls {
    pub sandbox: SandboxControl,
}

/// Claude Code's OS sandbox for Bash, per session.
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

#[derive(Debug, Clone, Default, Serialize)]
pub struct Actor {
    pub user: Option<String>,
    pub host: Option<String>,
    pub sessions: u64,
    pub prompts: u64,
    pub tool_calls: u64,
    pub denied: u64,
    pub asked: u64,
    pub edits: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelUse {
    pub model: String,
    pub sessions: u64,
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
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub session_id: Option<String>,
    pub tool: Option<String>,
    /// The path or command (shortened), or the prompt's size: never a prompt's text.
    pub subject: Option<String>,
    pub rule: String,
    pub layer: Option<String>,
    pub reason: Option<String>,
    pub enforced: bool,
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
    pub refusals: u64,
    /// Under the policy in force when the report was made: `allowed`, `denied`,
    /// `not-allowed`, `ask`, or `no-allowlist` (no repository rules configured).
    pub allowlist: String,
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub seq: u64,
    pub time: String,
    pub by: Option<String>,
    pub period: Value,
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
    pub policy: Option<&'a Policy>,
    pub verify: &'a crate::ledger::verify::VerifyReport,
}

/// What accumulates while the period's records are read.
#[derive(Default)]
struct Tally {
    totals: Totals,
    sessions: BTreeSet<String>,
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
    reviews: Vec<Review>,
    controls: Controls,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    records: u64,
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
}

pub fn collect(inputs: &Inputs<'_>) -> Result<Report, ReportError> {
    let ledger = inputs.ledger;
    let genesis = ledger.genesis()?;
    let host = genesis.and_then(|g| g.host.clone());
    let user = genesis.and_then(|g| g.os_user.clone());
    let range = ledger.seq_range_between(inputs.since_ns, inputs.until_ns)?;
    let mut tally = Tally::default();
    if let Some((from, to)) = range {
        export::for_each_record(ledger, from, to, |record| {
            if (inputs.since_ns..inputs.until_ns).contains(&record.ts_ns) {
                tally.add(record);
            }
            Ok(())
        })?;
    }
    Ok(tally.finish(inputs, host, user))
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

impl Tally {
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
                    date,
                    ..Day::default()
                },
                BTreeSet::new(),
            )
        });
        if let Some(session) = &session {
            self.sessions.insert(session.clone());
            day.1.insert(session.clone());
        }
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
                if verdict == Some("deny") && enforced {
                    self.totals.prompts_blocked += 1;
                }
                let prompt: record::Prompt = view(record);
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
                for pair in stop.tool_models.into_iter().flatten() {
                    if let (Some(id), Some(model)) = (pair.tool_use_id, pair.model) {
                        self.attested.insert(id, model);
                    }
                }
            }
            Some(Kind::SessionStart) => {
                let start: record::SessionStart = view(record);
                let sandbox = &start.sandbox;
                let counter = &mut self.controls.sandbox;
                match (sandbox["enforced"].as_bool(), sandbox["enabled"].as_bool()) {
                    (Some(true), _) if sandbox["source"] == "managed" => {
                        counter.enforced_by_managed += 1;
                    }
                    (Some(true), _) => counter.enforced_elsewhere += 1,
                    (Some(false), Some(true)) => counter.enabled_not_enforced += 1,
                    (Some(false), _) => counter.off += 1,
                    (None, _) => counter.unknown += 1,
                }
                if let Some(root) = start.repository_root() {
                    let seen = self.repos.entry(root.to_owned()).or_default();
                    for remote in start.repository["remotes"].as_array().into_iter().flatten() {
                        if let Some(normalized) = remote["normalized"].as_str() {
                            seen.remotes.insert(normalized.to_owned());
                        }
                    }
                    if let Some(session) = &session {
                        seen.sessions.insert(session.clone());
                    }
                }
            }
            Some(Kind::HookError | Kind::SpoolDamage) => self.totals.hook_errors += 1,
            Some(Kind::Report) => {
                let review: record::Review = view(record);
                self.reviews.push(Review {
                    seq: record.seq,
                    time: export::rfc3339(record.ts_ns),
                    by: review.by,
                    period: review.period,
                    digest: review.digest,
                });
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
        let targets = payload.targets();
        let first_target = targets.first();
        if matches!(
            rule.as_str(),
            "repository-denied" | "repository-not-allowed"
        ) && let Some(root) = first_target.and_then(|t| t.repository.as_deref())
        {
            self.repos.entry(root.to_owned()).or_default().refusals += 1;
        }
        let subject = match kind {
            Some(Kind::Prompt) => view::<record::Prompt>(record)
                .prompt_bytes
                .map(|n| format!("prompt of {n} bytes")),
            _ => first_target
                .and_then(|t| t.path.clone())
                .or_else(|| {
                    payload
                        .rest
                        .get("input")
                        .and_then(|i| i.get("command"))
                        .and_then(Value::as_str)
                        .map(|c| short(c, 200))
                })
                .or_else(|| payload.str("path").map(str::to_owned)),
        };
        let operation = Operation {
            seq: record.seq,
            time: export::rfc3339(record.ts_ns),
            kind: record.kind.to_owned(),
            session_id: session,
            tool: owned(payload.tool()),
            subject,
            rule,
            layer,
            reason: decision.reason.as_deref().map(|r| short(r, 300)),
            enforced,
        };
        let (list, unlisted, counter, daily) = if verdict == Some("deny") {
            (
                &mut self.decisions.denied,
                &mut self.decisions.denied_unlisted,
                if enforced {
                    &mut self.totals.denied
                } else {
                    &mut self.totals.denied_not_enforced
                },
                &mut day.denied,
            )
        } else {
            (
                &mut self.decisions.asked,
                &mut self.decisions.asked_unlisted,
                &mut self.totals.asked,
                &mut day.asked,
            )
        };
        *counter += 1;
        *daily += 1;
        if list.len() < MAX_LISTED {
            list.push(operation);
        } else {
            *unlisted += 1;
        }
    }

    fn finish(mut self, inputs: &Inputs<'_>, host: Option<String>, user: Option<String>) -> Report {
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
        self.totals.sessions = self.sessions.len() as u64;
        self.totals.files_edited = self.files.len() as u64;
        let daily = self
            .days
            .into_values()
            .map(|(mut day, sessions)| {
                day.sessions = sessions.len() as u64;
                day
            })
            .collect();
        let t = &self.totals;
        let by_actor = vec![Actor {
            user: user.clone(),
            host: host.clone(),
            sessions: t.sessions,
            prompts: t.prompts,
            tool_calls: t.tool_calls,
            denied: t.denied,
            asked: t.asked,
            edits: t.edits,
        }];
        let mut models: Vec<ModelUse> = self
            .models
            .into_values()
            .map(|(mut m, sessions)| {
                m.sessions = sessions.len() as u64;
                m
            })
            .collect();
        models.sort_by_key(|m| std::cmp::Reverse(m.tool_calls + m.edits));
        let claude_code_versions = self
            .versions
            .into_values()
            .map(|(mut v, sessions)| {
                v.sessions = sessions.len() as u64;
                v
            })
            .collect();
        let mut by_rule: Vec<RuleCount> = self
            .rules
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
        let dlp = self
            .dlp
            .into_iter()
            .map(|((kind, found_in), (count, refused))| DlpFinding {
                kind,
                found_in,
                count,
                refused,
            })
            .collect();
        let edits_by_repository = self
            .repo_edits
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
        let repositories = self
            .repos
            .into_iter()
            .map(|(root, seen)| {
                let remotes: Vec<String> = seen.remotes.into_iter().collect();
                let (allowlist, rule) = allowlist_verdict(inputs.policy, &root, &remotes);
                RepositoryAccess {
                    repository: root,
                    remotes,
                    sessions: seen.sessions.len() as u64,
                    edits: seen.edits,
                    refusals: seen.refusals,
                    allowlist,
                    rule,
                }
            })
            .collect();
        Report {
            format: FORMAT,
            generated: Generated {
                at: export::rfc3339(crate::ledger::now_ns()),
                by: crate::config::os_user(),
                host: crate::config::host_name(),
                hookledger_version: env!("CARGO_PKG_VERSION"),
            },
            period: Period {
                since: export::rfc3339(inputs.since_ns),
                until: export::rfc3339(inputs.until_ns),
                since_ns: inputs.since_ns.to_string(),
                until_ns: inputs.until_ns.to_string(),
            },
            scope: Scope {
                ledger: inputs.ledger_path.display().to_string(),
                ledger_id: frame::to_hex(inputs.ledger.ledger_id()),
                host,
                user,
                records: self.records,
                first_seq: self.first_seq,
                last_seq: self.last_seq,
            },
            totals: self.totals,
            daily,
            by_actor,
            models,
            claude_code_versions,
            decisions: self.decisions,
            dlp,
            edits_by_repository,
            repositories,
            reviews: self.reviews,
            controls: self.controls,
            integrity: integrity(inputs),
        }
    }
}

fn allowlist_verdict(
    policy: Option<&Policy>,
    root: &str,
    remotes: &[String],
) -> (String, Option<String>) {
    let Some(decision) = policy.and_then(|p| p.repository_verdict(remotes, root)) else {
        let configured = policy.is_some_and(Policy::has_repository_rules);
        return (
            if configured {
                "allowed"
            } else {
                "no-allowlist"
            }
            .into(),
            None,
        );
    };
    let verdict = match (decision.rule, decision.action) {
        (_, crate::policy::Action::Ask) => "ask",
        (crate::policy::rules::REPOSITORY_DENIED, _) => "denied",
        _ => "not-allowed",
    };
    (verdict.into(), Some(decision.rule.to_owned()))
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

/// The note a report leaves in the ledger, so later reports list who reviewed which period.
pub fn review_payload(report: &Report, digest: &str, output: Option<&Path>) -> Value {
    serde_json::json!({
        "by": report.generated.by,
        "host": report.generated.host,
        "period": {"since": report.period.since, "until": report.period.until},
        "digest": digest,
        "records": report.scope.records,
        "denied": report.totals.denied,
        "asked": report.totals.asked,
        "output": output.map(|p| p.display().to_string()),
    })
}
