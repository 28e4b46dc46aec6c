/*!
Recomputes the chain from the stored bytes: genesis, seq contiguity, prev links and hashes.

Verification never re-canonicalizes payloads: it hashes exactly the bytes stored, as a third
party following `schema/LEDGER-FORMAT.md` would.
*/

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::ErrorCode;
use serde::Serialize;

use super::checkpoint::{self, CHECKPOINT_KIND};
use super::frame::{Frame, HASH_LEN, Hash, LedgerId, ZERO_HASH, to_hex};
use super::keys::{KeyStatus, KeyStatusCode};
use super::prune::{self, Excuses, PrunedRange};
use super::spool::{self, SpoolStatus};
use super::{GENESIS_KIND, Ledger, LedgerError, SCHEMA_VERSION, seq_sql};

pub mod against;

/// Problems listed in full; past this only the count grows.
const MAX_LISTED_PROBLEMS: usize = 50;
const PROGRESS_EVERY: u64 = 1 << 16;

/// Stable codes for what `verify` finds; they are API (scripts match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemCode {
    /// The database file is damaged: SQLite cannot read it through.
    CorruptFile,
    /// The first record is missing or not a valid genesis record.
    BadGenesis,
    /// The genesis record names a different ledger id than the ledger's identity row.
    LedgerIdMismatch,
    /// Seqs are missing from the chain, and no valid signed prune removed them.
    MissingRecords,
    /// A record's contents do not match its hash: it was edited.
    EditedRecord,
    /// A record does not link to the one before it (wrong `prev_hash`).
    BrokenLink,
    /// A record was inserted: the next one links past it.
    InsertedRecord,
    /// A record was renumbered (records inserted or removed before it).
    ReorderedRecord,
    /// A row whose stored hash is not 32 bytes.
    MalformedRow,
    /// A checkpoint record whose signature, ledger or claimed head does not hold.
    BadCheckpoint,
    /// A `prune` record that is not a valid statement signed with the ledger's key, or whose signed anchor is not what the ledger holds; its gap is reported as `missing-records`.
    BadPrune,
    /// A checkpoint signed with a time after this machine's clock (beyond the allowed skew).
    FutureCheckpoint,
}

impl ProblemCode {
    pub const ALL: &[ProblemCode] = &[
        ProblemCode::CorruptFile,
        ProblemCode::BadGenesis,
        ProblemCode::LedgerIdMismatch,
        ProblemCode::MissingRecords,
        ProblemCode::EditedRecord,
        ProblemCode::BrokenLink,
        ProblemCode::InsertedRecord,
        ProblemCode::ReorderedRecord,
        ProblemCode::MalformedRow,
        ProblemCode::BadCheckpoint,
        ProblemCode::BadPrune,
        ProblemCode::FutureCheckpoint,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProblemCode::CorruptFile => "corrupt-file",
            ProblemCode::BadGenesis => "bad-genesis",
            ProblemCode::LedgerIdMismatch => "ledger-id-mismatch",
            ProblemCode::MissingRecords => "missing-records",
            ProblemCode::EditedRecord => "edited-record",
            ProblemCode::BrokenLink => "broken-link",
            ProblemCode::InsertedRecord => "inserted-record",
            ProblemCode::ReorderedRecord => "reordered-record",
            ProblemCode::MalformedRow => "malformed-row",
            ProblemCode::BadCheckpoint => "bad-checkpoint",
            ProblemCode::BadPrune => "bad-prune",
            ProblemCode::FutureCheckpoint => "future-checkpoint",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
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
    /// Checkpoint records whose signature and claim were checked.
    pub checkpoints: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<CheckpointSeen>,
    /// Ranges removed by `prune`, each stated by a signed `prune` record and anchored by a
    /// signed checkpoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<PrunedRange>,
    /// The signing key beside the ledger, judged against the genesis record's public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SigningKeyReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SigningKeyReport {
    pub status: KeyStatusCode,
    pub path: String,
    /// Interval checkpoints that were due and could not be signed (`checkpoint-failed`).
    pub failed_checkpoints: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckpointSeen {
    /// The checkpoint record's own seq.
    pub seq: u64,
    /// The seq whose hash it signs.
    pub covers: u64,
    pub time_ns: i64,
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
            checkpoints: 0,
            last_checkpoint: None,
            pruned: Vec::new(),
            signing_key: None,
        }
    }

    fn problem(&mut self, seq: u64, code: ProblemCode, message: String) {
        self.intact = false;
        self.problem_count += 1;
        self.first_bad_seq = Some(self.first_bad_seq.map_or(seq, |first| first.min(seq)));
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
    verify_in_segments(path, progress, PARALLEL_FROM, 1)
}

/// Verifies only the records from seq `from` on, linked to the record before it: the
/// incremental check after a full one has vouched for everything earlier. The caller must
/// confirm that earlier record still has the hash it had then.
pub fn verify_from(path: &Path, from: u64) -> Result<VerifyReport, LedgerError> {
    verify_in_segments(path, &mut |_, _| {}, PARALLEL_FROM, from.max(1))
}

fn verify_in_segments(
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
    parallel_from: u64,
    from: u64,
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
            "{} spool line(s) cannot merge as they are (they fail their MAC, are damaged or \
             oversized): the next hook event records each as spool-rejected",
            spool_status.damaged
        ));
    }
    match verify_chain(path, &mut report, progress, parallel_from, from) {
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
    parallel_from: u64,
    from: u64,
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
    if !super::health::append_only_triggers_present(conn)? {
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

    let public_key = ledger.genesis()?.and_then(|g| g.public_key());
    note_signing_key(&ledger, report)?;
    let prune_records = prune::prune_records(conn, &ledger_id, public_key.as_ref())?;
    let excuses = Excuses::new(prune_records.iter().filter_map(|r| r.verdict.clone().ok()));
    let now_ns = super::now_ns();
    let known = Known {
        ledger_id,
        public_key,
        excuses: &excuses,
        now_ns,
    };
    let segments = if from > 1 {
        vec![(from, u64::MAX)]
    } else {
        segment_ranges(total, parallel_from)
    };
    let done = AtomicU64::new(0);
    let outcomes: Vec<Result<Segment, LedgerError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = segments
            .iter()
            .map(|&(lo, hi)| {
                let (done, known) = (&done, &known);
                scope.spawn(move || walk_segment(path, known, lo, hi, done))
            })
            .collect();
        // Progress is reported from this thread: the callback need not be Send. The poll
        // starts at 1 ms and backs off to 50 ms, so a short check (the git pre-commit hook's
        // incremental one) does not wait out a whole progress tick.
        let mut nap = std::time::Duration::from_millis(1);
        while !handles.iter().all(|h| h.is_finished()) {
            progress(done.load(Ordering::Relaxed), total);
            std::thread::sleep(nap);
            nap = (nap * 2).min(std::time::Duration::from_millis(50));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(LedgerError::MissingMeta)))
            .collect()
    });
    let mut count = 0;
    let mut head = None;
    let mut far_claims = Vec::new();
    for outcome in outcomes {
        let segment = outcome?;
        count += segment.walker.count;
        report.checkpoints += segment.walker.checkpoints;
        if segment.walker.last_checkpoint.is_some() {
            report.last_checkpoint = segment.walker.last_checkpoint.clone();
        }
        report
            .pruned
            .extend(segment.walker.pruned_seen.iter().copied());
        far_claims.extend(segment.walker.far_claims.iter().copied());
        for problem in segment.findings.problems {
            report.problem(problem.seq, problem.code, problem.message);
        }
        let unlisted = segment
            .findings
            .count
            .saturating_sub(segment.findings.listed);
        report.problem_count += unlisted;
        if segment.walker.count > 0 {
            head = Some(Head {
                seq: segment.walker.last_seq,
                hash: to_hex(&segment.walker.prev_stored),
            });
        }
    }
    judge_prune_records(&ledger, &prune_records, &excuses, from, report)?;
    // Claims about records further back than the row before the checkpoint.
    for (at, claimed_seq, claimed_head) in far_claims {
        if ledger
            .record(claimed_seq)?
            .is_some_and(|r| r.hash != claimed_head)
        {
            report.problem(
                at,
                ProblemCode::BadCheckpoint,
                format!("the checkpoint at seq {at} signed a different hash for record {claimed_seq} than the one stored"),
            );
        }
    }
    progress(count, total);
    report.records = count;
    match head {
        None if from > 1 => {}
        None => report.problem(
            1,
            ProblemCode::BadGenesis,
            "the ledger has no records, not even genesis".into(),
        ),
        Some(head) => report.head = Some(head),
    }
    Ok(())
}

/// Reports `prune` records that excuse nothing: not validly signed (unless a valid statement
/// restates exactly their range, as `prune --adopt-unsigned` writes), or signed about an anchor
/// the ledger does not hold. `from` > 1 (an incremental check) judges only newer records.
fn judge_prune_records(
    ledger: &Ledger,
    records: &[prune::PruneRecord],
    excuses: &Excuses,
    from: u64,
    report: &mut VerifyReport,
) -> Result<(), LedgerError> {
    for record in records.iter().filter(|r| r.seq >= from) {
        match &record.verdict {
            Err(why) => {
                if record.claimed.is_some_and(|range| excuses.states(&range)) {
                    continue;
                }
                report.problem(
                    record.seq,
                    ProblemCode::BadPrune,
                    format!(
                        "the prune record at seq {} excuses no gap: {why}",
                        record.seq
                    ),
                );
            }
            Ok(statement) => {
                if let Some(anchor) = ledger.record(statement.anchor_seq)?
                    && (anchor.hash != statement.anchor_hash || anchor.prev_hash != statement.head)
                {
                    report.problem(
                        record.seq,
                        ProblemCode::BadPrune,
                        format!(
                            "the prune record at seq {} signs an anchor at seq {} that is not the record the ledger holds there",
                            record.seq, statement.anchor_seq
                        ),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Checkpoints must never stop silently: a missing or replaced key, and interval checkpoints
/// that could not be signed, are reported (as warnings: the chain itself is not at fault).
fn note_signing_key(ledger: &Ledger, report: &mut VerifyReport) -> Result<(), LedgerError> {
    let Some(health) = super::health::signing_key(ledger)? else {
        return Ok(());
    };
    let path = health.path.display().to_string();
    match &health.status {
        KeyStatus::Matches => {}
        KeyStatus::Missing => report.warnings.push(format!(
            "the signing key {path} is missing: checkpoints of this ledger cannot be signed"
        )),
        KeyStatus::Replaced { file_public_key } => report.warnings.push(format!(
            "the signing key {path} was replaced: its public key {} is not the one the genesis \
             record names, so checkpoints it signs will not verify",
            to_hex(file_public_key)
        )),
        KeyStatus::Unreadable(why) => report
            .warnings
            .push(format!("the signing key cannot be read: {why}")),
    }
    if health.failed_checkpoints > 0 {
        report.warnings.push(format!(
            "{} interval checkpoint(s) could not be signed (checkpoint-failed records, the \
             newest at seq {})",
            health.failed_checkpoints,
            health.last_failed_seq.unwrap_or(0)
        ));
    }
    report.signing_key = Some(SigningKeyReport {
        status: health.status.code(),
        path,
        failed_checkpoints: health.failed_checkpoints,
    });
    Ok(())
}

/// Below this many records one thread is as fast as several.
const PARALLEL_FROM: u64 = 200_000;

/// Contiguous seq ranges, one per core: hashing is the bottleneck, so verification scales with
/// cores. The last range is open-ended, so records past `max(seq)` read earlier are still seen.
fn segment_ranges(max_seq: u64, parallel_from: u64) -> Vec<(u64, u64)> {
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(2, 8) as u64;
    let parts = if max_seq < parallel_from { 1 } else { cores };
    let size = max_seq.div_ceil(parts).max(1);
    (0..parts)
        .map(|i| {
            (
                i * size + 1,
                if i + 1 == parts {
                    u64::MAX
                } else {
                    (i + 1) * size
                },
            )
        })
        .collect()
}

/// Problems found in one segment: the first ones in full, then only counted.
#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
    count: usize,
    listed: usize,
}

impl Findings {
    fn problem(&mut self, seq: u64, code: ProblemCode, message: String) {
        self.count += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(Problem { seq, code, message });
            self.listed += 1;
        }
    }
}

struct Segment<'a> {
    walker: ChainWalker<'a>,
    findings: Findings,
}

/// Verifies records `lo..=hi`. The walker's state depends only on the two rows before `lo`,
/// so seeding it from them makes a segment judge exactly as one sequential pass would.
/// What every segment walker needs to know about the ledger as a whole.
struct Known<'a> {
    ledger_id: LedgerId,
    /// From the genesis record: the key checkpoints must be signed with.
    public_key: Option<[u8; 32]>,
    /// Valid signed prune statements: the only thing that excuses a gap.
    excuses: &'a Excuses,
    /// This machine's clock when verification started: later checkpoint times are implausible.
    now_ns: i64,
}

fn walk_segment<'a>(
    path: &Path,
    known: &Known<'a>,
    lo: u64,
    hi: u64,
    done: &AtomicU64,
) -> Result<Segment<'a>, LedgerError> {
    let ledger = Ledger::open_read_only(path)?;
    let conn = ledger.connection();
    let mut walker = ChainWalker::new(known);
    let mut before =
        conn.prepare("SELECT seq, hash FROM records WHERE seq < ?1 ORDER BY seq DESC LIMIT 2")?;
    let seeds: Vec<(i64, Vec<u8>)> = before
        .query_map([seq_sql(lo)], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let as_hash = |bytes: &[u8]| <Hash>::try_from(bytes).unwrap_or(ZERO_HASH);
    if let Some((seq, hash)) = seeds.first() {
        walker.last_seq = u64::try_from(*seq).unwrap_or(0);
        walker.expected_seq = walker.last_seq + 1;
        walker.prev_stored = as_hash(hash);
        walker.prev_prev_stored = Some(seeds.get(1).map_or(ZERO_HASH, |(_, h)| as_hash(h)));
    }
    let mut findings = Findings::default();
    let mut stmt = conn.prepare(
        "SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records
         WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query([seq_sql(lo), seq_sql(hi)])?;
    while let Some(row) = rows.next()? {
        let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let ts_ns: i64 = row.get(1)?;
        let kind = row.get_ref(2)?.as_str().unwrap_or("");
        let payload = row.get_ref(3)?.as_blob().unwrap_or(&[]);
        let prev_hash = row.get_ref(4)?.as_blob().unwrap_or(&[]);
        let hash = row.get_ref(5)?.as_blob().unwrap_or(&[]);
        walker.step(&mut findings, seq, ts_ns, kind, payload, prev_hash, hash);
        if walker.count.is_multiple_of(PROGRESS_EVERY) {
            done.fetch_add(PROGRESS_EVERY, Ordering::Relaxed);
        }
    }
    Ok(Segment { walker, findings })
}

/// Walks rows in seq order, remembering the last two stored hashes so insertions and
/// renumbering can be told apart from plain edits.
struct ChainWalker<'a> {
    ledger_id: LedgerId,
    public_key: Option<[u8; 32]>,
    excuses: &'a Excuses,
    now_ns: i64,
    expected_seq: u64,
    last_seq: u64,
    prev_stored: Hash,
    prev_prev_stored: Option<Hash>,
    count: u64,
    checkpoints: u64,
    last_checkpoint: Option<CheckpointSeen>,
    /// Pruned ranges met and found validly anchored.
    pruned_seen: Vec<PrunedRange>,
    /// (checkpoint seq, claimed seq, claimed head) for claims older than the row before.
    far_claims: Vec<(u64, u64, Hash)>,
}

impl<'a> ChainWalker<'a> {
    fn new(known: &Known<'a>) -> Self {
        ChainWalker {
            ledger_id: known.ledger_id,
            public_key: known.public_key,
            excuses: known.excuses,
            now_ns: known.now_ns,
            expected_seq: 1,
            last_seq: 0,
            prev_stored: ZERO_HASH,
            prev_prev_stored: None,
            count: 0,
            checkpoints: 0,
            last_checkpoint: None,
            pruned_seen: Vec::new(),
            far_claims: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)] // one row's columns; a struct would only rename them
    fn step(
        &mut self,
        report: &mut Findings,
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
        let pruned = if gap && seq > self.expected_seq {
            self.excused(seq, kind, payload, &prev_hash, &hash)
        } else {
            None
        };
        if let Some(ranges) = pruned {
            self.pruned_seen.extend(ranges);
        } else if gap {
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
        if kind == CHECKPOINT_KIND && self_ok {
            self.check_checkpoint(report, seq, ts_ns, payload);
        }
        self.advance(seq, hash);
    }

    /// The ranges that excuse the gap before the row at `seq`: signed statements that together
    /// removed exactly the missing records, the last one anchored by this row.
    fn excused(
        &self,
        seq: u64,
        kind: &str,
        payload: &[u8],
        prev_hash: &Hash,
        hash: &Hash,
    ) -> Option<Vec<PrunedRange>> {
        let chain = self.excuses.covering(self.expected_seq, seq - 1)?;
        let claim = (kind == CHECKPOINT_KIND)
            .then(|| {
                self.public_key
                    .as_ref()
                    .and_then(|key| checkpoint::verify_payload(payload, key).ok())
            })
            .flatten();
        let last = chain.last()?;
        last.anchored_by(seq, prev_hash, hash, claim.as_ref())
            .then(|| chain.iter().map(|s| s.range()).collect())
    }

    #[allow(clippy::too_many_arguments)] // the facts about one row; bundling them adds nothing
    /// Names what most plausibly happened at `seq`, given which checks failed. `rehash(s)`
    /// recomputes this row's hash as if it were at seq `s`.
    fn classify(
        &self,
        report: &mut Findings,
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

    fn check_genesis(&self, report: &mut Findings, kind: &str, payload: &[u8], prev_hash: &Hash) {
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

    /// A checkpoint must be signed by the genesis key, name this ledger and a record before it,
    /// and sign the hash that record really has.
    fn check_checkpoint(&mut self, report: &mut Findings, seq: u64, ts_ns: i64, payload: &[u8]) {
        let Some(key) = self.public_key.as_ref() else {
            report.problem(
                seq,
                ProblemCode::BadCheckpoint,
                format!("checkpoint at seq {seq}: the genesis record names no signing key"),
            );
            return;
        };
        let claim = match checkpoint::verify_payload(payload, key) {
            Ok(claim) => claim,
            Err(e) => {
                report.problem(
                    seq,
                    ProblemCode::BadCheckpoint,
                    format!("checkpoint at seq {seq}: {e}"),
                );
                return;
            }
        };
        if checkpoint::is_future(claim.time_ns, self.now_ns, checkpoint::CLOCK_SKEW_NS) {
            report.problem(
                seq,
                ProblemCode::FutureCheckpoint,
                format!(
                    "the checkpoint at seq {seq} is signed with time {}, after this machine's clock ({}) by more than {}: it was made under a wrong or faked clock and proves nothing about when the ledger was alive",
                    crate::export::rfc3339(claim.time_ns),
                    crate::export::rfc3339(self.now_ns),
                    crate::export::human_duration(checkpoint::CLOCK_SKEW_NS)
                ),
            );
        }
        if claim.ledger_id != self.ledger_id || claim.seq >= seq {
            report.problem(
                seq,
                ProblemCode::BadCheckpoint,
                format!("checkpoint at seq {seq} claims another ledger or a later record"),
            );
            return;
        }
        if claim.seq == self.last_seq {
            if claim.head != self.prev_stored {
                report.problem(
                    seq,
                    ProblemCode::BadCheckpoint,
                    format!(
                        "the checkpoint at seq {seq} signed a different hash for record {} than the one stored",
                        claim.seq
                    ),
                );
                return;
            }
        } else {
            self.far_claims.push((seq, claim.seq, claim.head));
        }
        self.checkpoints += 1;
        self.last_checkpoint = Some(CheckpointSeen {
            seq,
            covers: claim.seq,
            time_ns: ts_ns,
        });
    }

    fn advance(&mut self, seq: u64, hash: Hash) {
        self.prev_prev_stored = Some(self.prev_stored);
        self.prev_stored = hash;
        self.last_seq = seq;
        self.expected_seq = seq + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRecord, OpenOptions, canonical_json};

    fn ledger_with(records: u64) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
        let batch: Vec<NewRecord> = (0..records)
            .map(|i| NewRecord {
                ts_ns: i as i64,
                kind: "tool-call".into(),
                payload: canonical_json(&serde_json::json!({ "i": i })),
            })
            .collect();
        ledger.append(&batch).unwrap();
        (dir, path)
    }

    fn judged(path: &Path, parallel_from: u64) -> (bool, Option<u64>, Vec<Problem>, u64) {
        let r = verify_in_segments(path, &mut |_, _| {}, parallel_from, 1).unwrap();
        (r.intact, r.first_bad_seq, r.problems, r.records)
    }

    /// Segments seeded from the rows before them judge exactly like one sequential pass, also
    /// when the damage sits on a segment boundary.
    #[test]
    fn segments_agree_with_one_pass() {
        let (_dir, path) = ledger_with(999); // 1000 records with genesis
        let ranges = segment_ranges(1000, 1);
        assert!(ranges.len() >= 2);
        assert_eq!(ranges[0].0, 1);
        assert!(
            ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0),
            "{ranges:?}"
        );
        assert_eq!(ranges.last().unwrap().1, u64::MAX);
        let one = judged(&path, u64::MAX);
        assert!(one.0);
        assert_eq!(judged(&path, 1), one);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER records_no_delete; DROP TRIGGER records_no_update;
             DELETE FROM records WHERE seq = 501;
             UPDATE records SET payload = CAST('{}' AS BLOB) WHERE seq = 500;
             UPDATE records SET seq = 2000000 WHERE seq = 900;
             UPDATE records SET seq = 900 WHERE seq = 901;
             UPDATE records SET seq = 901 WHERE seq = 2000000;",
        )
        .unwrap();
        drop(conn);
        let one = judged(&path, u64::MAX);
        assert!(!one.0);
        assert_eq!(one.1, Some(500));
        assert_eq!(judged(&path, 1), one);
    }
}
