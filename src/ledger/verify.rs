/*!
Recomputes the chain from the stored bytes: genesis, seq contiguity, prev links and hashes.

Verification never re-canonicalizes payloads: it hashes exactly the bytes stored, as a third
party following `schema/LEDGER-FORMAT.md` would.
*/

use std::path::Path;

use rusqlite::ErrorCode;
use serde::Serialize;

use super::frame::{Frame, HASH_LEN, Hash, LedgerId, ZERO_HASH, to_hex};
use super::spool::{self, SpoolStatus};
use super::{GENESIS_KIND, Ledger, LedgerError, SCHEMA_VERSION};

/// Problems listed in full; past this only the count grows.
const MAX_LISTED_PROBLEMS: usize = 50;
const PROGRESS_EVERY: u64 = 1 << 16;

/// Stable codes for what `verify` finds; they are API (scripts match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemCode {
    CorruptFile,
    BadGenesis,
    LedgerIdMismatch,
    MissingRecords,
    EditedRecord,
    BrokenLink,
    InsertedRecord,
    ReorderedRecord,
    MalformedRow,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub seq: u64,
    pub code: ProblemCode,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ledger: String,
    pub ledger_id: Option<String>,
    pub schema_version: i64,
    pub records: u64,
    pub head: Option<Head>,
    pub intact: bool,
    pub first_bad_seq: Option<u64>,
    pub problem_count: usize,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    pub spool_pending: usize,
    pub spool_damaged: usize,
}

impl VerifyReport {
    fn new(path: &Path) -> Self {
        VerifyReport {
            ledger: path.display().to_string(),
            ledger_id: None,
            schema_version: 0,
            records: 0,
            head: None,
            intact: true,
            first_bad_seq: None,
            problem_count: 0,
            problems: Vec::new(),
            warnings: Vec::new(),
            spool_pending: 0,
            spool_damaged: 0,
        }
    }

    fn problem(&mut self, seq: u64, code: ProblemCode, message: String) {
        self.intact = false;
        self.problem_count += 1;
        if self.first_bad_seq.is_none() {
            self.first_bad_seq = Some(seq);
        }
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(Problem { seq, code, message });
        }
    }
}

/// Verifies the ledger at `path`. `Err` means verification could not run (missing file,
/// unreadable, not a ledger); a damaged ledger is an `Ok` report with `intact == false`.
pub fn verify(
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, LedgerError> {
    let mut report = VerifyReport::new(path);
    let spool_status = spool::status(&spool::spool_path(path)).unwrap_or_else(|e| {
        report.warnings.push(e.to_string());
        SpoolStatus::default()
    });
    report.spool_pending = spool_status.pending;
    report.spool_damaged = spool_status.damaged;
    if spool_status.pending > 0 {
        report.warnings.push(format!(
            "{} record(s) wait in the spool and are not yet in the chain; the next hook event \
             merges them",
            spool_status.pending
        ));
    }
    if spool_status.damaged > 0 {
        report.warnings.push(format!(
            "{} spool line(s) are damaged (a writer was killed mid-write or the file was edited)",
            spool_status.damaged
        ));
    }
    match verify_chain(path, &mut report, progress) {
        Ok(()) => Ok(report),
        Err(e) if is_corruption(&e) => {
            report.problem(report.records + 1, ProblemCode::CorruptFile, e.to_string());
            Ok(report)
        }
        Err(e) => Err(e),
    }
}

fn is_corruption(error: &LedgerError) -> bool {
    let code = match error {
        LedgerError::Sqlite(e) | LedgerError::Open { source: e, .. } => e.sqlite_error_code(),
        _ => None,
    };
    matches!(
        code,
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

fn verify_chain(
    path: &Path,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), LedgerError> {
    let ledger = Ledger::open_read_only(path)?;
    let conn = ledger.connection();
    let ledger_id = *ledger.ledger_id();
    report.ledger_id = Some(to_hex(&ledger_id));
    report.schema_version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if report.schema_version != SCHEMA_VERSION {
        report.warnings.push(format!(
            "schema version {} (this hookledger writes {SCHEMA_VERSION})",
            report.schema_version
        ));
    }
    let triggers: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN
         ('records_no_update', 'records_no_delete')",
        [],
        |r| r.get(0),
    )?;
    if triggers != 2 {
        report.warnings.push(
            "the append-only triggers on `records` are missing: someone opened the ledger to \
             change it"
                .into(),
        );
    }
    let total: u64 = conn
        .query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| u64::try_from(n).unwrap_or(0))?;

    let mut walker = ChainWalker::new(ledger_id);
    let mut stmt = conn
        .prepare("SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let ts_ns: i64 = row.get(1)?;
        let kind = row.get_ref(2)?.as_str().unwrap_or("");
        let payload = row.get_ref(3)?.as_blob().unwrap_or(&[]);
        let prev_hash = row.get_ref(4)?.as_blob().unwrap_or(&[]);
        let hash = row.get_ref(5)?.as_blob().unwrap_or(&[]);
        walker.step(report, seq, ts_ns, kind, payload, prev_hash, hash);
        if walker.count.is_multiple_of(PROGRESS_EVERY) {
            progress(walker.count, total);
        }
    }
    progress(walker.count, total);
    report.records = walker.count;
    if walker.count == 0 {
        report.problem(
            1,
            ProblemCode::BadGenesis,
            "the ledger has no records, not even genesis".into(),
        );
    } else {
        report.head = Some(Head {
            seq: walker.last_seq,
            hash: to_hex(&walker.prev_stored),
        });
    }
    Ok(())
}

/// Walks rows in seq order, remembering the last two stored hashes so insertions and
/// renumbering can be told apart from plain edits.
struct ChainWalker {
    ledger_id: LedgerId,
    expected_seq: u64,
    last_seq: u64,
    prev_stored: Hash,
    prev_prev_stored: Option<Hash>,
    count: u64,
}

impl ChainWalker {
    fn new(ledger_id: LedgerId) -> Self {
        ChainWalker {
            ledger_id,
            expected_seq: 1,
            last_seq: 0,
            prev_stored: ZERO_HASH,
            prev_prev_stored: None,
            count: 0,
        }
    }

    #[allow(clippy::too_many_arguments)] // one row's columns; a struct would only rename them
    fn step(
        &mut self,
        report: &mut VerifyReport,
        seq: u64,
        ts_ns: i64,
        kind: &str,
        payload: &[u8],
        prev_hash: &[u8],
        hash: &[u8],
    ) {
        self.count += 1;
        let (Ok(prev_hash), Ok(hash)) = (
            <[u8; HASH_LEN]>::try_from(prev_hash),
            <[u8; HASH_LEN]>::try_from(hash),
        ) else {
            report.problem(
                seq,
                ProblemCode::MalformedRow,
                format!("record {seq} has a hash that is not 32 bytes"),
            );
            self.advance(seq, ZERO_HASH);
            return;
        };
        let gap = seq != self.expected_seq;
        if gap {
            let last_missing = seq.saturating_sub(1);
            let message = if self.expected_seq == last_missing {
                format!("record {} is missing (deleted)", self.expected_seq)
            } else {
                format!(
                    "records {}..={last_missing} are missing (deleted)",
                    self.expected_seq
                )
            };
            report.problem(self.expected_seq, ProblemCode::MissingRecords, message);
        }
        let rehash = |at_seq: u64| {
            Frame {
                ledger_id: &self.ledger_id,
                seq: at_seq,
                ts_ns,
                prev_hash: &prev_hash,
                kind,
                payload,
            }
            .hash()
            .ok()
        };
        let self_ok = rehash(seq) == Some(hash);
        let link_ok = gap || prev_hash == self.prev_stored;

        if seq == 1 {
            self.check_genesis(report, kind, payload, &prev_hash);
        }
        if !(self_ok && link_ok) {
            self.classify(report, seq, self_ok, link_ok, &prev_hash, &hash, &rehash);
        }
        self.advance(seq, hash);
    }

    #[allow(clippy::too_many_arguments)] // the facts about one row; bundling them adds nothing
    /// Names what most plausibly happened at `seq`, given which checks failed. `rehash(s)`
    /// recomputes this row's hash as if it were at seq `s`.
    fn classify(
        &self,
        report: &mut VerifyReport,
        seq: u64,
        self_ok: bool,
        link_ok: bool,
        prev_hash: &Hash,
        stored_hash: &Hash,
        rehash: &dyn Fn(u64) -> Option<Hash>,
    ) {
        let written_at = |s: u64| rehash(s).as_ref() == Some(stored_hash);
        let links_two_back = seq >= 2 && self.prev_prev_stored.as_ref() == Some(prev_hash);
        let (at, code, message) = if self_ok && links_two_back {
            let inserted = seq - 1;
            (
                inserted,
                ProblemCode::InsertedRecord,
                format!(
                    "record {inserted} was inserted: record {seq} links past it to record {}",
                    seq - 2
                ),
            )
        } else if self_ok {
            (
                seq,
                ProblemCode::BrokenLink,
                format!(
                    "record {seq} does not link to record {} (wrong prev_hash)",
                    seq - 1
                ),
            )
        } else if link_ok
            && let Some(written) = [seq.wrapping_sub(1), seq + 1]
                .into_iter()
                .find(|s| *s >= 1 && written_at(*s))
        {
            (
                seq,
                ProblemCode::ReorderedRecord,
                format!(
                    "record {seq} was written as seq {written}: it was renumbered \
                     (records inserted or removed before it)"
                ),
            )
        } else if link_ok {
            (
                seq,
                ProblemCode::EditedRecord,
                format!("record {seq} was edited: its contents do not match its hash"),
            )
        } else if seq >= 2 && written_at(seq - 1) {
            let inserted = seq - 1;
            (
                inserted,
                ProblemCode::InsertedRecord,
                format!(
                    "record {seq} was written as seq {inserted}: a record was inserted at seq {inserted}"
                ),
            )
        } else if written_at(seq + 1) {
            (
                seq,
                ProblemCode::ReorderedRecord,
                format!(
                    "record {seq} was written as seq {}: records were removed or reordered here",
                    seq + 1
                ),
            )
        } else {
            (
                seq,
                ProblemCode::EditedRecord,
                format!("record {seq} was altered: neither its contents nor its link match"),
            )
        };
        report.problem(at, code, message);
    }

    fn check_genesis(
        &self,
        report: &mut VerifyReport,
        kind: &str,
        payload: &[u8],
        prev_hash: &Hash,
    ) {
        if kind != GENESIS_KIND || *prev_hash != ZERO_HASH {
            report.problem(
                1,
                ProblemCode::BadGenesis,
                "record 1 is not a genesis record".into(),
            );
            return;
        }
        let stated = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| {
                v.get("ledger_id")
                    .and_then(|id| id.as_str())
                    .map(str::to_owned)
            });
        if stated.as_deref() != Some(to_hex(&self.ledger_id).as_str()) {
            report.problem(
                1,
                ProblemCode::LedgerIdMismatch,
                "the genesis record names a different ledger id than the ledger's identity row"
                    .into(),
            );
        }
    }

    fn advance(&mut self, seq: u64, hash: Hash) {
        self.prev_prev_stored = Some(self.prev_stored);
        self.prev_stored = hash;
        self.last_seq = seq;
        self.expected_seq = seq + 1;
    }
}
