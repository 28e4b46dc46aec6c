//! Where the server keeps machines, verified records, verification state and findings: a
//! SQLite file (the embedded default) or PostgreSQL. One ingest procedure ([`ingest`]) runs
//! over either through [`IngestTx`], inside one transaction per batch.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hookledger_ledger::StoredRecord;
use hookledger_ledger::export::receive::incremental::{
    self, Clock, LedgerState, ParsedBatch, RefusalCode,
};
use hookledger_ledger::export::receive::{Problem, ProblemCode};
use hookledger_ledger::frame::{self, Hash};
use serde::Serialize;

pub mod postgres;
pub mod sqlite;

/// The migrations, numbered once for both dialects, applied in order and recorded in
/// `schema_migrations`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../../../../schema/server/0001_init.sqlite.sql"),
        postgres: include_str!("../../../../schema/server/0001_init.postgres.sql"),
    },
    Migration {
        version: 2,
        name: "findings_rule_resolved",
        sqlite: include_str!("../../../../schema/server/0002_findings_rule_resolved.sqlite.sql"),
        postgres: include_str!(
            "../../../../schema/server/0002_findings_rule_resolved.postgres.sql"
        ),
    },
];

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error(
        "unknown store {0:?}: use sqlite:PATH or postgres://USER@HOST:PORT/DB (postgresql:// too)"
    )]
    BadSpec(String),
    #[error("no machine named {0:?} is enrolled")]
    NoSuchMachine(String),
    #[error("a machine named {0:?} is already enrolled (revoke it and enroll another name)")]
    NameTaken(String),
    #[error("the store holds data it cannot read: {0}")]
    Corrupt(String),
    #[error("cannot create the store's directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("the store's worker stopped: {0}")]
    Worker(String),
}

/// Which store a `--store` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreSpec {
    pub fn parse(text: &str) -> Result<StoreSpec, StoreError> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(StoreError::BadSpec(text.into()));
            }
            return Ok(StoreSpec::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreSpec::Postgres(text.into()));
        }
        Err(StoreError::BadSpec(text.into()))
    }

    /// `sqlite:` a file under the server's data directory.
    pub fn default_sqlite() -> Result<StoreSpec, StoreError> {
        let dirs = directories::ProjectDirs::from("", "", "hookledger-server")
            .ok_or_else(|| StoreError::BadSpec("(no home directory for the default)".into()))?;
        Ok(StoreSpec::Sqlite(dirs.data_dir().join("server.db")))
    }
}

/// An open store.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the store and applies the migrations it lacks.
    pub async fn open(spec: &StoreSpec) -> Result<Store, StoreError> {
        Ok(match spec {
            StoreSpec::Sqlite(path) => Store::Sqlite(sqlite::SqliteStore::open(path)?),
            StoreSpec::Postgres(url) => Store::Postgres(postgres::PgStore::open(url).await?),
        })
    }

    pub async fn enroll(&self, name: &str, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        let enrolled = match self {
            Store::Sqlite(s) => s.enroll(name, token_hash).await?,
            Store::Postgres(s) => s.enroll(name, token_hash).await?,
        };
        if !enrolled {
            return Err(StoreError::NameTaken(name.into()));
        }
        Ok(())
    }

    pub async fn revoke(&self, name: &str) -> Result<(), StoreError> {
        let machines = match self {
            Store::Sqlite(s) => s.revoke(name).await?,
            Store::Postgres(s) => s.revoke(name).await?,
        };
        if machines == 0 {
            return Err(StoreError::NoSuchMachine(name.into()));
        }
        Ok(())
    }

    pub async fn machines(&self) -> Result<Vec<MachineView>, StoreError> {
        match self {
            Store::Sqlite(s) => s.machines().await,
            Store::Postgres(s) => s.machines().await,
        }
    }

    /// One ledger's stored, verified records for a report (`records`).
    pub async fn report_records(
        &self,
        ledger_id: &str,
        since_ns: i64,
        until_ns: i64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.report_records(ledger_id, since_ns, until_ns).await,
            Store::Postgres(s) => s.report_records(ledger_id, since_ns, until_ns).await,
        }
    }

    /// Verifies and stores one batch from the machine holding `token_hash`.
    pub async fn ingest(
        &self,
        token_hash: &[u8; 32],
        batch: &Batch,
        clock: Clock,
    ) -> Result<Answer, StoreError> {
        let mut answer = match self {
            Store::Sqlite(s) => ingest(s.begin().await?, token_hash, batch, clock).await,
            Store::Postgres(s) => {
                ingest(s.begin(clock.now_ns).await?, token_hash, batch, clock).await
            }
        }?;
        // The batch is committed: what its verified records say (refusals, DLP findings, a
        // sandbox or lock-down off) is recorded now, in its own transaction, and a failure here
        // never turns the stored batch into an error (the sender would resend what is stored).
        if let Some(committed) = answer.committed.take()
            && !committed.records.is_empty()
        {
            // Reading every payload is CPU work: off the I/O threads, as parsing is.
            let Committed {
                machine,
                ledger_id,
                records,
            } = committed;
            let findings =
                tokio::task::spawn_blocking(move || crate::alerts::record_findings(&records))
                    .await
                    .unwrap_or_else(|e| {
                        #[allow(clippy::print_stderr)]
                        {
                            eprintln!(
                                "hookledger-server: the records of a stored batch could not be read for alerts: {e}"
                            );
                        }
                        Vec::new()
                    });
            if !findings.is_empty() {
                match self
                    .add_findings(machine, Some(&ledger_id), &findings, clock.now_ns)
                    .await
                {
                    Ok(n) => answer.new_findings += n,
                    Err(e) => {
                        #[allow(clippy::print_stderr)]
                        {
                            eprintln!(
                                "hookledger-server: the record alerts of a stored batch were not recorded: {e}"
                            );
                        }
                    }
                }
            }
        }
        Ok(answer)
    }

    /// Adds findings in a transaction of their own.
    async fn add_findings(
        &self,
        machine: i64,
        ledger_id: Option<&str>,
        findings: &[Finding],
        now_ns: i64,
    ) -> Result<u64, StoreError> {
        async fn add<T: IngestTx>(
            mut tx: T,
            machine: i64,
            ledger_id: Option<&str>,
            findings: &[Finding],
            now_ns: i64,
        ) -> Result<u64, StoreError> {
            let n = tx
                .add_findings(machine, ledger_id, findings, now_ns)
                .await?;
            tx.commit().await?;
            Ok(n)
        }
        match self {
            Store::Sqlite(s) => add(s.begin().await?, machine, ledger_id, findings, now_ns).await,
            Store::Postgres(s) => {
                add(s.begin(now_ns).await?, machine, ledger_id, findings, now_ns).await
            }
        }
    }

    /// Findings with an id above `after`, oldest first, at most `limit`.
    pub async fn findings_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AlertFinding>, StoreError> {
        match self {
            Store::Sqlite(s) => s.findings_after(after, limit).await,
            Store::Postgres(s) => s.findings_after(after, limit).await,
        }
    }

    /// The newest finding an alert was attempted for (0: none).
    pub async fn last_alerted(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.last_alerted().await,
            Store::Postgres(s) => s.last_alerted().await,
        }
    }

    pub async fn record_delivery(
        &self,
        finding: i64,
        url: &str,
        attempt: u32,
        status: Option<u16>,
        error: Option<&str>,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        let label = webhook_label(url);
        let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
        let status = status.map(i32::from);
        match self {
            Store::Sqlite(s) => {
                s.record_delivery(finding, &label, attempt, status, error, now_ns)
                    .await
            }
            Store::Postgres(s) => {
                s.record_delivery(finding, &label, attempt, status, error, now_ns)
                    .await
            }
        }
    }

    /// Records a refusal that happened before the batch could be read (an oversized body) on
    /// the machine the token names, if any.
    pub async fn refuse(
        &self,
        token_hash: &[u8; 32],
        code: RefusalCode,
        detail: &str,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => refuse(s.begin().await?, token_hash, code, detail, now_ns).await,
            Store::Postgres(s) => {
                refuse(s.begin(now_ns).await?, token_hash, code, detail, now_ns).await
            }
        }
    }

    /// Records a `silent` finding for every machine whose newest plausible checkpoint is older
    /// than `max_silence_ns` (once per silence: keyed by the checkpoint it is measured from).
    pub async fn check_silence(&self, now_ns: i64, max_silence_ns: i64) -> Result<u64, StoreError> {
        let machines = self.machines().await?;
        let mut found = 0;
        for m in machines.iter().filter(|m| m.revoked_ns.is_none()) {
            if let Some(problem) = machine_silence(m, now_ns, max_silence_ns) {
                let since = m
                    .state
                    .as_ref()
                    .and_then(|s| s.newest_plausible_checkpoint.as_ref())
                    .map(|c| c.seq);
                let finding = Finding {
                    code: problem.code.as_str(),
                    first_seq: since,
                    last_seq: since,
                    // The key excludes the growing age, so one silence is one finding.
                    dedup_extra: "silent".into(),
                    detail: problem.detail,
                    rule: None,
                };
                found += self
                    .add_findings(m.id, m.ledger_id.as_deref(), &[finding], now_ns)
                    .await?;
            }
        }
        Ok(found)
    }
}

/// A finding as the alert dispatcher sees it.
#[derive(Debug, Clone)]
pub struct AlertFinding {
    pub id: i64,
    pub machine: String,
    pub code: String,
    pub first_seq: Option<u64>,
    pub detail: String,
    pub found_ns: i64,
    /// The policy rule of a `policy-refusal` finding.
    pub rule: Option<String>,
}

/// How a webhook is named at rest: its origin and a digest of the whole URL (the path of a
/// Slack webhook URL is its secret).
pub fn webhook_label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    format!(
        "{scheme}://{host}/… blake3:{}",
        &blake3::hash(url.as_bytes()).to_hex()[..16]
    )
}

/// A request body, read: its lines parsed and hashed.
pub struct Batch {
    pub parsed: ParsedBatch,
}

/// A machine as the ingest transaction sees it.
#[derive(Debug, Clone)]
pub struct MachineRow {
    pub id: i64,
    pub name: String,
    pub revoked: bool,
    pub ledger_id: Option<String>,
}

/// A finding to store.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: &'static str,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub detail: String,
    /// What makes two findings the same beyond code and seqs (the detail, usually).
    pub dedup_extra: String,
    /// The policy rule code of a `policy-refusal` finding.
    pub rule: Option<String>,
}

impl Finding {
    fn of(problem: &Problem) -> Finding {
        Finding {
            code: problem.code.as_str(),
            first_seq: problem.seq,
            last_seq: problem.seq,
            detail: problem.detail.clone(),
            dedup_extra: problem.detail.clone(),
            rule: None,
        }
    }

    fn refusal(code: RefusalCode, detail: String) -> Finding {
        Finding {
            code: code.as_str(),
            first_seq: None,
            last_seq: None,
            dedup_extra: detail.clone(),
            detail,
            rule: None,
        }
    }

    /// The key that makes a resent batch's findings land once.
    pub fn dedup(&self) -> String {
        let text = format!(
            "{}\n{:?}\n{:?}\n{}",
            self.code, self.first_seq, self.last_seq, self.dedup_extra
        );
        blake3::hash(text.as_bytes()).to_hex().to_string()
    }
}

/// What one transaction of the ingest can do; the SQLite and PostgreSQL stores implement it.
// Used only with the two concrete transaction types, whose futures' `Send` is known where
// they are awaited; no `dyn` use needs the bound spelled out.
#[allow(async_fn_in_trait)]
pub trait IngestTx {
    /// The machine with this token, locked for the rest of the transaction.
    async fn machine_by_token(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<MachineRow>, StoreError>;
    /// The machine that holds `ledger_id`, if one does.
    async fn ledger_owner(&mut self, ledger_id: &str) -> Result<Option<i64>, StoreError>;
    async fn pin_ledger(&mut self, machine: i64, ledger_id: &str) -> Result<(), StoreError>;
    async fn load_state(&mut self, ledger_id: &str) -> Result<Option<LedgerState>, StoreError>;
    async fn stored_hashes(
        &mut self,
        ledger_id: &str,
        seqs: &[u64],
    ) -> Result<BTreeMap<u64, Hash>, StoreError>;
    async fn insert_records(
        &mut self,
        ledger_id: &str,
        records: &[StoredRecord],
        now_ns: i64,
    ) -> Result<(), StoreError>;
    async fn save_state(
        &mut self,
        machine: i64,
        state: &LedgerState,
        now_ns: i64,
    ) -> Result<(), StoreError>;
    /// Adds findings (a repeat of one already stored is skipped); returns how many were new.
    async fn add_findings(
        &mut self,
        machine: i64,
        ledger_id: Option<&str>,
        findings: &[Finding],
        now_ns: i64,
    ) -> Result<u64, StoreError>;
    /// Marks the open findings of `code` at these first seqs resolved; returns how many.
    async fn resolve_findings(
        &mut self,
        machine: i64,
        code: &str,
        first_seqs: &[u64],
        now_ns: i64,
    ) -> Result<u64, StoreError>;
    async fn touch(
        &mut self,
        machine: i64,
        public_key: Option<&str>,
        now_ns: i64,
    ) -> Result<(), StoreError>;
    /// Makes everything durable (PostgreSQL commit; SQLite with `synchronous=FULL`). Dropping
    /// the transaction without it keeps nothing.
    async fn commit(self) -> Result<(), StoreError>;
}

/// How the server answers a batch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Answer {
    #[serde(skip)]
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<&'static str>,
    pub reason: String,
    pub accepted: u64,
    pub duplicates: u64,
    /// Problems found in this batch (codes as `verify-export` names them).
    pub problems: Vec<Problem>,
    pub new_findings: u64,
    /// Gap findings of earlier batches this batch closed: (the gap's first seq, how).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolved_gaps: Vec<(u64, incremental::GapClosed)>,
    /// What was committed, for the record-content rules evaluated after the commit.
    #[serde(skip)]
    pub committed: Option<Committed>,
}

/// The records a batch committed, and whose they are.
#[derive(Debug, Clone)]
pub struct Committed {
    pub machine: i64,
    pub ledger_id: String,
    pub records: Vec<StoredRecord>,
}

impl Answer {
    fn refused(status: u16, code: RefusalCode, reason: String) -> Answer {
        Answer {
            status,
            refused: Some(code.as_str()),
            reason: format!("{code}: {reason}"),
            ..Answer::default()
        }
    }
}

/// Records a refusal on the machine the token names.
async fn refuse<T: IngestTx>(
    mut tx: T,
    token_hash: &[u8; 32],
    code: RefusalCode,
    detail: &str,
    now_ns: i64,
) -> Result<(), StoreError> {
    let Some(machine) = tx.machine_by_token(token_hash).await? else {
        return Ok(());
    };
    if machine.revoked {
        return Ok(());
    }
    tx.add_findings(
        machine.id,
        machine.ledger_id.as_deref(),
        &[Finding::refusal(code, detail.to_owned())],
        now_ns,
    )
    .await?;
    tx.commit().await
}

/// The ingest of one batch, in one transaction: the token names the machine (locked), the
/// batch must be about the machine's ledger (pinned at first contact), the verifier judges it
/// against the stored state, and records, state and findings are written together. A refusal
/// that concerns a known machine is committed as a finding and nothing else.
pub async fn ingest<T: IngestTx>(
    mut tx: T,
    token_hash: &[u8; 32],
    batch: &Batch,
    clock: Clock,
) -> Result<Answer, StoreError> {
    let now = clock.now_ns;
    let Some(machine) = tx.machine_by_token(token_hash).await? else {
        return Ok(Answer::refused(
            401,
            RefusalCode::UnknownToken,
            "the bearer token is not enrolled here (hint: hookledger-server enroll NAME)".into(),
        ));
    };
    if machine.revoked {
        return Ok(Answer::refused(
            401,
            RefusalCode::RevokedToken,
            format!("the enrollment of {:?} was revoked", machine.name),
        ));
    }
    let parsed = &batch.parsed;
    let pinned = machine.ledger_id.clone();
    let record_refusal = |code: RefusalCode, detail: String| Finding::refusal(code, detail);
    if let Some((line, why)) = parsed.malformed.first() {
        let detail = format!(
            "line {line} is not an export record ({why}); {} malformed line(s), nothing from the batch was kept",
            parsed.malformed.len()
        );
        let finding = record_refusal(RefusalCode::MalformedBatch, detail.clone());
        tx.add_findings(machine.id, pinned.as_deref(), &[finding], now)
            .await?;
        tx.touch(machine.id, None, now).await?;
        tx.commit().await?;
        return Ok(Answer::refused(400, RefusalCode::MalformedBatch, detail));
    }
    let ids = parsed.ledger_ids();
    let Some(id) = ids.first().copied() else {
        tx.touch(machine.id, None, now).await?;
        tx.commit().await?;
        return Ok(Answer {
            status: 200,
            refused: None,
            reason: "empty batch".into(),
            ..Answer::default()
        });
    };
    let id_hex = frame::to_hex(&id);
    let other = if ids.len() > 1 {
        Some(format!(
            "the batch holds {} ledgers; a machine ships one",
            ids.len()
        ))
    } else if let Some(pinned) = &pinned
        && *pinned != id_hex
    {
        Some(format!(
            "the batch is from ledger {id_hex}, but {:?} is pinned to ledger {pinned}",
            machine.name
        ))
    } else if pinned.is_none()
        && let Some(owner) = tx.ledger_owner(&id_hex).await?
        && owner != machine.id
    {
        Some(format!(
            "ledger {id_hex} belongs to another enrolled machine"
        ))
    } else {
        None
    };
    if let Some(detail) = other {
        let finding = record_refusal(RefusalCode::OtherLedger, detail.clone());
        tx.add_findings(machine.id, pinned.as_deref(), &[finding], now)
            .await?;
        tx.commit().await?;
        return Ok(Answer::refused(403, RefusalCode::OtherLedger, detail));
    }
    if pinned.is_none() {
        tx.pin_ledger(machine.id, &id_hex).await?;
    }
    let state = match tx.load_state(&id_hex).await? {
        Some(state) => state,
        None => LedgerState::new(&id),
    };
    let wanted = parsed.stored_seqs_wanted(&id, &state);
    let stored = if wanted.is_empty() {
        BTreeMap::new()
    } else {
        tx.stored_hashes(&id_hex, &wanted).await?
    };
    let outcome = incremental::verify_batch(&state, parsed, &id, &stored, clock);
    let findings: Vec<Finding> = outcome.problems.iter().map(Finding::of).collect();
    if outcome.rewrites_history {
        let fork = outcome
            .problems
            .iter()
            .find(|p| p.code == ProblemCode::Fork)
            .map_or_else(String::new, |p| p.detail.clone());
        let detail = format!(
            "the batch contradicts records already received ({fork}); nothing from it was kept"
        );
        let mut all = findings;
        all.push(record_refusal(RefusalCode::RewritesHistory, detail.clone()));
        let new = tx
            .add_findings(machine.id, Some(&id_hex), &all, now)
            .await?;
        tx.touch(machine.id, None, now).await?;
        tx.commit().await?;
        let mut answer = Answer::refused(409, RefusalCode::RewritesHistory, detail);
        answer.problems = outcome.problems;
        answer.new_findings = new;
        return Ok(answer);
    }
    tx.insert_records(&id_hex, &outcome.accepted, now).await?;
    tx.save_state(machine.id, &outcome.state, now).await?;
    let new = tx
        .add_findings(machine.id, Some(&id_hex), &findings, now)
        .await?;
    let resolved: Vec<u64> = outcome.resolved_gaps.iter().map(|(seq, _)| *seq).collect();
    if !resolved.is_empty() {
        tx.resolve_findings(machine.id, ProblemCode::Gap.as_str(), &resolved, now)
            .await?;
    }
    tx.touch(machine.id, outcome.state.public_key.as_deref(), now)
        .await?;
    tx.commit().await?;
    Ok(Answer {
        status: 200,
        refused: None,
        reason: if outcome.problem_count == 0 {
            "stored".into()
        } else {
            format!(
                "stored what verified; {} problem(s) recorded",
                outcome.problem_count
            )
        },
        accepted: outcome.accepted.len() as u64,
        duplicates: outcome.duplicates,
        problems: outcome.problems,
        new_findings: new,
        resolved_gaps: outcome.resolved_gaps,
        committed: Some(Committed {
            machine: machine.id,
            ledger_id: id_hex,
            records: outcome.accepted,
        }),
    })
}

/// One machine as `machines` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MachineView {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub ledger_id: Option<String>,
    pub public_key: Option<String>,
    pub created_ns: i64,
    pub revoked_ns: Option<i64>,
    pub last_seen_ns: Option<i64>,
    #[serde(skip)]
    pub state: Option<LedgerState>,
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    pub detail: String,
    pub found_ns: i64,
    /// The policy rule of a `policy-refusal` finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// When a later batch closed it (a gap filled or excused); the finding stays as history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_ns: Option<i64>,
}

impl FindingView {
    /// Whether it says the chain is broken now: a chain problem or refusal not resolved since
    /// (silence is judged afresh; record alerts describe the machine's sessions, not its chain).
    pub fn breaks_chain(&self) -> bool {
        self.resolved_ns.is_none()
            && self.code != ProblemCode::Silent.as_str()
            && !incremental::ContentCode::ALL
                .iter()
                .any(|c| c.as_str() == self.code)
    }
}

pub fn seq_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub fn seq_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A stored record from its columns (`payload`: its canonical bytes), as both stores read it
/// back for a report.
pub fn stored_record(
    seq: i64,
    ts_ns: i64,
    kind: String,
    payload: Vec<u8>,
    prev_hash: &[u8],
    hash: &[u8],
) -> Result<StoredRecord, StoreError> {
    Ok(StoredRecord {
        seq: seq_of(seq),
        ts_ns,
        kind,
        payload,
        prev_hash: hash_of(prev_hash)?,
        hash: hash_of(hash)?,
    })
}

pub fn hash_of(bytes: &[u8]) -> Result<Hash, StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Corrupt("a hash is not 32 bytes".into()))
}

pub fn state_of(text: &str) -> Result<LedgerState, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("ledger state: {e}")))
}

pub fn state_text(state: &LedgerState) -> String {
    serde_json::to_string(state).unwrap_or_default()
}

/// Whether a machine is silent now: its newest plausible signed checkpoint is older than
/// `max_silence_ns` (or it has none); a machine that never shipped is measured from its
/// enrollment, so a new machine is not silent before it could have shipped.
pub fn machine_silence(m: &MachineView, now_ns: i64, max_silence_ns: i64) -> Option<Problem> {
    let since_enrollment = now_ns.saturating_sub(m.created_ns);
    match &m.state {
        // A first shipment still under way has no checkpoint yet: silence without any
        // checkpoint counts from the enrollment too.
        Some(state)
            if state.newest_plausible_checkpoint.is_none()
                && since_enrollment <= max_silence_ns =>
        {
            None
        }
        Some(state) => incremental::silence(state, now_ns, max_silence_ns),
        None => (now_ns.saturating_sub(m.created_ns) > max_silence_ns).then(|| Problem {
            code: ProblemCode::Silent,
            seq: None,
            detail: format!(
                "enrolled {} ago and nothing shipped since",
                hookledger_ledger::export::human_duration(now_ns.saturating_sub(m.created_ns))
            ),
        }),
    }
}
