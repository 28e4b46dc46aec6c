//! The receiver's side: verifying shipped NDJSON batches that may arrive in any order, more
//! than once, re-serialized by a pipeline, in any of the export formats, and from any number of
//! ledgers mixed together.
//!
//! Per ledger: every record's hash is recomputed from its payload and the frame fields; each
//! record must link to the one before it; a sequence number seen with two different hashes is
//! a fork; missing sequence numbers are gaps, unless a `prune` statement signed with the
//! ledger's key removed exactly them; checkpoints must be signed by the key the ledger's
//! genesis record names and must match the records they cover, and a checkpoint that is newer
//! but covers less than an older one is a regression (a rollback). The receiver judges time by
//! its own clock: a checkpoint signed with a time after it (beyond a skew) proves nothing about
//! when the ledger was alive, and is reported.
//!
//! Memory stays bounded whatever the size of the batches: input is read in pieces, parsed and
//! hashed on all cores, and each verified line is reduced to a compact item (seq, hash, prev,
//! kind; the payload only for genesis, checkpoint and prune records). Items are sorted in
//! buffers of a few MiB, spilled as sorted runs to an anonymous temporary file, and merged back
//! in (ledger, seq) order, where every check runs as one streaming pass.
//!
//! Lines exactly as `export` wrote them take a fast path that hashes the embedded payload bytes
//! without parsing JSON; anything else (re-serialized lines, ECS, OCSF, version 1) is parsed and
//! its payload re-canonicalized (RFC 8785) or taken from `payload_b64`.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::{Mutex, mpsc};

use serde::Serialize;
use serde_json::Value;

use crate::checkpoint::{self, Claim};
use crate::frame::{self, Hash, LedgerId, ZERO_HASH};
use crate::prune::PrunedRange;
use crate::record::Kind;

mod check;
pub mod incremental;
mod input;
mod sort;

use check::{Checker, LedgerOutcome, short};
use input::{Done, Input, Job, Parsed, ParsedRecord, PieceReader, work};
use sort::{Item, Sorter};

/// Problems listed in full per ledger (and for lines naming no ledger); past this only the
/// count grows, so a hostile batch cannot grow the report without bound.
const MAX_LISTED_PROBLEMS: usize = 1000;
/// Input is read and handed to the parsing threads in pieces of about this size.
const PIECE_BYTES: usize = 4 << 20;
/// A line longer than this is reported as malformed and skipped, not buffered.
const MAX_LINE_BYTES: usize = 64 << 20;

/// Piece and line sizes (small ones in tests, to cross every boundary).
#[derive(Debug, Clone, Copy)]
struct Limits {
    piece: usize,
    max_line: usize,
}

const LIMITS: Limits = Limits {
    piece: PIECE_BYTES,
    max_line: MAX_LINE_BYTES,
};
/// Items are sorted in memory up to about this many bytes before a run is spilled.
const SORT_BUFFER_BYTES: usize = 8 << 20;
/// Overrides [`SORT_BUFFER_BYTES`] (at least 4 KiB): less memory and more temporary-file work,
/// or the reverse.
pub const SORT_BUFFER_ENV: &str = "HOOKLEDGER_SORT_BUFFER_BYTES";
/// Runs of one size merged into one run of the next (keeps the number of runs, and the read
/// buffers of the final merge, logarithmic in the input).
const MERGE_FAN_IN: usize = 16;
/// Read buffer per run during a merge.
const RUN_BUFFER_BYTES: usize = 128 << 10;

/// A shipped record whose hash verified, as [`Receiver::into_records`] returns it: the same
/// fields as a record in the ledger, now that the receiver lives in the ledger crate.
pub type ShippedRecord = crate::StoredRecord;

/// What the receiver does with an item: the record kinds whose payloads it reads (from the
/// record vocabulary, [`Kind`]), any other record, or a line already rejected. Stored as one
/// byte in sort runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Other = 0,
    Genesis = 1,
    Checkpoint = 2,
    Prune = 3,
    /// A line that named its ledger and seq but did not verify: already reported, so its seq
    /// is not reported again as a gap.
    Rejected = 4,
}

impl Role {
    fn of(kind: &str) -> Role {
        match Kind::parse(kind) {
            Some(Kind::Genesis) => Role::Genesis,
            Some(Kind::Checkpoint) => Role::Checkpoint,
            Some(Kind::Prune) => Role::Prune,
            _ => Role::Other,
        }
    }

    fn from_byte(byte: u8) -> Option<Role> {
        Some(match byte {
            0 => Role::Other,
            1 => Role::Genesis,
            2 => Role::Checkpoint,
            3 => Role::Prune,
            4 => Role::Rejected,
            _ => return None,
        })
    }

    /// Whether the receiver needs the record's payload (signatures, keys, statements).
    fn keeps_payload(self) -> bool {
        matches!(self, Role::Genesis | Role::Checkpoint | Role::Prune)
    }
}

/// Stable codes for what the receiver (`verify-export`) finds; they are API (scripts and SIEM
/// rules match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemCode {
    /// A line that cannot be read as an export record.
    MalformedLine,
    /// A record whose hash does not match its payload and frame fields.
    BadHash,
    /// A record whose `payload` and `payload_b64` say different things.
    PayloadMismatch,
    /// Mapped (ECS, OCSF) fields that differ from what the record's verified payload says.
    MappedFieldMismatch,
    /// A record whose prev hash is not the hash of the record before it.
    BrokenLink,
    /// One seq shipped with two different hashes: the shipped lines disagree with each other.
    /// (`verify --against`'s `forked` is the local record differing from the one shipped.)
    Fork,
    /// Seqs missing from what was shipped, and no signed prune removed them.
    Gap,
    /// A checkpoint whose signature does not verify with the genesis record's key.
    BadSignature,
    /// A checkpoint whose signature cannot be checked: no genesis record among the batches and
    /// no `--public-key`.
    UntrustedCheckpoint,
    /// A checkpoint whose signed head is not the hash of the record it covers.
    CheckpointMismatch,
    /// A newer checkpoint that covers less than an older one: a rollback.
    Regression,
    /// No plausible signed checkpoint within `--max-silence`: the ledger stopped shipping.
    Silent,
    /// A checkpoint signed with a time after the receiver's clock (beyond the skew).
    FutureCheckpoint,
    /// A prune record that is not a valid statement signed with the ledger's key.
    BadPrune,
    /// A segment file whose manifest is unreadable or disagrees with it (size, hash).
    ManifestMismatch,
}

impl ProblemCode {
    pub const ALL: &[ProblemCode] = &[
        ProblemCode::MalformedLine,
        ProblemCode::BadHash,
        ProblemCode::PayloadMismatch,
        ProblemCode::MappedFieldMismatch,
        ProblemCode::BrokenLink,
        ProblemCode::Fork,
        ProblemCode::Gap,
        ProblemCode::BadSignature,
        ProblemCode::UntrustedCheckpoint,
        ProblemCode::CheckpointMismatch,
        ProblemCode::Regression,
        ProblemCode::Silent,
        ProblemCode::FutureCheckpoint,
        ProblemCode::BadPrune,
        ProblemCode::ManifestMismatch,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProblemCode::MalformedLine => "malformed-line",
            ProblemCode::BadHash => "bad-hash",
            ProblemCode::PayloadMismatch => "payload-mismatch",
            ProblemCode::MappedFieldMismatch => "mapped-field-mismatch",
            ProblemCode::BrokenLink => "broken-link",
            ProblemCode::Fork => "fork",
            ProblemCode::Gap => "gap",
            ProblemCode::BadSignature => "bad-signature",
            ProblemCode::UntrustedCheckpoint => "untrusted-checkpoint",
            ProblemCode::CheckpointMismatch => "checkpoint-mismatch",
            ProblemCode::Regression => "regression",
            ProblemCode::Silent => "silent",
            ProblemCode::FutureCheckpoint => "future-checkpoint",
            ProblemCode::BadPrune => "bad-prune",
            ProblemCode::ManifestMismatch => "manifest-mismatch",
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
    pub code: ProblemCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerReport {
    pub ledger_id: String,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub duplicates: u64,
    pub checkpoints_verified: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<CheckpointSeen>,
    /// The newest checkpoint whose time is plausible (not after the receiver's clock): what
    /// `--max-silence` measures from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_plausible_checkpoint: Option<CheckpointSeen>,
    /// Gaps excused by signed `prune` statements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<PrunedRange>,
    /// Every problem found; `problems` lists the first [`MAX_LISTED_PROBLEMS`] in seq order.
    pub problem_count: u64,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CheckpointSeen {
    pub seq: u64,
    pub head: String,
    pub time_ns: String,
}

impl CheckpointSeen {
    fn of(claim: &Claim) -> CheckpointSeen {
        CheckpointSeen {
            seq: claim.seq,
            head: frame::to_hex(&claim.head),
            time_ns: claim.time_ns.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub intact: bool,
    pub lines: u64,
    pub ledgers: Vec<LedgerReport>,
    /// Problems not tied to one ledger (unreadable lines, manifests).
    pub problems: Vec<Problem>,
    /// Problems not tied to one ledger, listed or not.
    pub problem_count: u64,
}

/// Options for a receiver that knows more than the batches carry.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// Public key to trust when a ledger's genesis record is not among the batches.
    pub public_key: Option<[u8; 32]>,
    /// Per-ledger public keys, over `public_key`.
    pub public_keys: HashMap<LedgerId, [u8; 32]>,
    /// Records before this sequence number were verified earlier: do not report them as a gap.
    pub start_seq: Option<u64>,
    /// Per-ledger start sequence numbers, over `start_seq`.
    pub start_seqs: HashMap<LedgerId, u64>,
    /// Report a ledger whose newest plausible checkpoint is older than this (nanoseconds) at
    /// `now_ns`.
    pub max_silence_ns: Option<i64>,
    /// The receiver's clock: checkpoints signed after it (plus `clock_skew_ns`) are implausible.
    pub now_ns: i64,
    pub clock_skew_ns: i64,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            public_key: None,
            public_keys: HashMap::new(),
            start_seq: None,
            start_seqs: HashMap::new(),
            max_silence_ns: None,
            now_ns: crate::now_ns(),
            clock_skew_ns: checkpoint::CLOCK_SKEW_NS,
        }
    }
}

impl ReceiveOptions {
    fn public_key_for(&self, id: &LedgerId) -> Option<[u8; 32]> {
        self.public_keys.get(id).copied().or(self.public_key)
    }

    fn start_for(&self, id: &LedgerId) -> u64 {
        self.start_seqs
            .get(id)
            .copied()
            .or(self.start_seq)
            .unwrap_or(1)
            .max(1)
    }
}

/// Problems with a cap on how many are kept in full.
#[derive(Debug, Default)]
struct Problems {
    listed: Vec<Problem>,
    count: u64,
}

impl Problems {
    fn push(&mut self, code: ProblemCode, seq: Option<u64>, detail: String) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(Problem { code, seq, detail });
        }
    }
}

/// What the receiver knows about one ledger before the merge.
#[derive(Debug)]
struct LedgerInfo {
    id: LedgerId,
    problems: Problems,
}

/// Collects lines from any number of batches, then checks them together.
#[derive(Debug)]
pub struct Receiver {
    ledgers: Vec<LedgerInfo>,
    index: HashMap<LedgerId, u32>,
    last_ledger: Option<(LedgerId, u32)>,
    lines: u64,
    problems: Problems,
    sorter: Sorter,
    limits: Limits,
    /// Keep every verified record's contents, for [`Receiver::into_records`].
    keep_records: bool,
    kept: Vec<(u32, ShippedRecord)>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver::new()
    }
}

impl Receiver {
    pub fn new() -> Receiver {
        Receiver {
            ledgers: Vec::new(),
            index: HashMap::new(),
            last_ledger: None,
            lines: 0,
            problems: Problems::default(),
            sorter: Sorter::new(
                std::env::var(SORT_BUFFER_ENV)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .map_or(SORT_BUFFER_BYTES, |n| n.max(4 << 10)),
            ),
            limits: LIMITS,
            keep_records: false,
            kept: Vec::new(),
        }
    }

    /// A receiver that also keeps every verified record's time, kind and payload, for callers
    /// that work from shipped records (`git verify --export`). Its memory grows with the input.
    pub fn keeping_records() -> Receiver {
        Receiver {
            keep_records: true,
            ..Receiver::new()
        }
    }

    /// Adds one batch held in memory. `source` names it in messages.
    pub fn add_batch(&mut self, text: &[u8], source: &str) -> std::io::Result<()> {
        self.add_reader(&mut &text[..], source)
    }

    /// Adds one batch read from `reader` in pieces: memory does not grow with its size. Lines
    /// are parsed and hashed on all cores while the next piece is read, then taken in order.
    pub fn add_reader(&mut self, reader: &mut dyn Read, source: &str) -> std::io::Result<()> {
        let mut pieces = PieceReader::new(reader, self.limits);
        self.pipeline(&mut Input::Stream(&mut pieces), source)
    }

    /// Adds one batch from an open file. A regular file is read by the parsing threads
    /// themselves, each at its own offset (the copy out of the page cache is spread over all
    /// cores); anything else (a FIFO, a device) is read as a stream.
    pub fn add_file(&mut self, file: &std::fs::File, source: &str) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let meta = file.metadata()?;
            if meta.is_file() {
                return self.pipeline(
                    &mut Input::Ranges {
                        file,
                        len: meta.len(),
                        next: 0,
                        piece: self.limits.piece,
                    },
                    source,
                );
            }
        }
        let mut reader = file;
        self.add_reader(&mut reader, source)
    }

    /// Parses pieces of `input` on worker threads and takes their lines in input order.
    fn pipeline(&mut self, input: &mut Input<'_, '_>, source: &str) -> std::io::Result<()> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let keep = self.keep_records;
        let limits = self.limits;
        let file = input.file();
        let (jobs, job_queue) = mpsc::sync_channel::<Job>(threads);
        let job_queue = Mutex::new(job_queue);
        let (done_sender, done) = mpsc::channel::<Done>();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (job_queue, done_sender) = (&job_queue, done_sender.clone());
                scope.spawn(move || {
                    let mut own = Vec::new();
                    loop {
                        let job = match job_queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => break,
                        };
                        let Ok(job) = job else { break };
                        let result = work(job, file, &mut own, keep, limits);
                        if done_sender.send(result).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_sender);
            let mut sent = 0usize;
            let mut taken = 0usize;
            let mut waiting: BTreeMap<usize, Done> = BTreeMap::new();
            let mut line_base = 0usize;
            let mut outcome = Ok(());
            let mut take_ready = |waiting: &mut BTreeMap<usize, Done>,
                                  taken: &mut usize,
                                  input: &mut Input<'_, '_>|
             -> std::io::Result<()> {
                while let Some(ready) = waiting.remove(taken) {
                    let parsed = ready.parsed?;
                    for item in parsed {
                        self.take(item, source, line_base)?;
                    }
                    line_base += ready.lines;
                    if let Some(buffer) = ready.buffer {
                        input.recycle(buffer);
                    }
                    *taken += 1;
                }
                Ok(())
            };
            loop {
                // Bounded work in flight: a slow consumer stops the reading.
                while sent - taken >= threads * 2 {
                    match done.recv() {
                        Ok(result) => {
                            waiting.insert(result.index, result);
                        }
                        Err(_) => break,
                    }
                    if let Err(e) = take_ready(&mut waiting, &mut taken, input) {
                        outcome = Err(e);
                        break;
                    }
                }
                while let Ok(result) = done.try_recv() {
                    waiting.insert(result.index, result);
                }
                if outcome.is_ok()
                    && let Err(e) = take_ready(&mut waiting, &mut taken, input)
                {
                    outcome = Err(e);
                }
                if outcome.is_err() {
                    break;
                }
                let work = match input.next_work() {
                    Ok(Some(work)) => work,
                    Ok(None) => break,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                };
                if jobs.send(Job { index: sent, work }).is_err() {
                    break;
                }
                sent += 1;
            }
            drop(jobs);
            while taken < sent {
                match done.recv() {
                    Ok(result) => {
                        waiting.insert(result.index, result);
                    }
                    Err(_) => break,
                }
                if outcome.is_ok()
                    && let Err(e) = take_ready(&mut waiting, &mut taken, input)
                {
                    outcome = Err(e);
                }
                if outcome.is_err() {
                    // Let the workers finish what they hold; their results are dropped.
                    taken += 1;
                }
            }
            outcome
        })
    }

    fn ledger_index(&mut self, id: LedgerId) -> u32 {
        // Lines of one ledger come in long stretches: skip the map for a repeat.
        if let Some((last, index)) = self.last_ledger
            && last == id
        {
            return index;
        }
        if let Some(index) = self.index.get(&id).copied() {
            self.last_ledger = Some((id, index));
            return index;
        }
        let index = u32::try_from(self.ledgers.len()).unwrap_or(u32::MAX);
        self.ledgers.push(LedgerInfo {
            id,
            problems: Problems::default(),
        });
        self.index.insert(id, index);
        self.last_ledger = Some((id, index));
        index
    }

    fn take(&mut self, item: Parsed, source: &str, line_base: usize) -> std::io::Result<()> {
        self.lines += 1;
        match item {
            Parsed::Malformed { line, detail } => self.problems.push(
                ProblemCode::MalformedLine,
                None,
                format!("{source}:{}: {detail}", line_base + line),
            ),
            Parsed::Rejected {
                ledger_id,
                seq,
                code,
                detail,
            } => {
                let ledger = self.ledger_index(ledger_id);
                if let Some(info) = self.ledgers.get_mut(ledger as usize) {
                    info.problems.push(code, Some(seq), detail);
                }
                self.sorter.push(Item {
                    ledger,
                    order: 0,
                    seq,
                    hash: ZERO_HASH,
                    prev: ZERO_HASH,
                    kind: Role::Rejected,
                    payload: None,
                })?;
            }
            Parsed::Record(record) => {
                let ParsedRecord {
                    ledger_id,
                    seq,
                    hash,
                    prev,
                    kind,
                    payload,
                    extra,
                } = record;
                let ledger = self.ledger_index(ledger_id);
                let (kept, mapped_mismatch) = match extra {
                    Some(extra) => (extra.kept, extra.mapped_mismatch),
                    None => (None, None),
                };
                if let Some(paths) = mapped_mismatch
                    && let Some(info) = self.ledgers.get_mut(ledger as usize)
                {
                    info.problems.push(
                        ProblemCode::MappedFieldMismatch,
                        Some(seq),
                        format!(
                            "record {seq}: {} differ from what its verified payload says",
                            paths.join(", ")
                        ),
                    );
                }
                if let Some(record) = kept {
                    self.kept.push((ledger, record));
                }
                self.sorter.push(Item {
                    ledger,
                    order: 0,
                    seq,
                    hash,
                    prev,
                    kind,
                    payload,
                })?;
            }
        }
        Ok(())
    }

    /// The verified records per ledger, in seq order, one per seq (the first seen when the
    /// batches disagree, which [`Receiver::finish`] reports as a fork). Empty unless made with
    /// [`Receiver::keeping_records`].
    pub fn into_records(self) -> BTreeMap<LedgerId, Vec<ShippedRecord>> {
        let mut out: BTreeMap<LedgerId, Vec<ShippedRecord>> = BTreeMap::new();
        for (ledger, record) in self.kept {
            if let Some(info) = self.ledgers.get(ledger as usize) {
                out.entry(info.id).or_default().push(record);
            }
        }
        for records in out.values_mut() {
            records.sort_by_key(|r| r.seq);
            records.dedup_by_key(|r| r.seq);
        }
        out
    }

    /// Checks everything added, per ledger.
    pub fn finish(mut self, options: &ReceiveOptions) -> std::io::Result<Report> {
        self.sorter.seal()?;
        let mut done: Vec<LedgerOutcome> = Vec::new();
        let mut ledgers = std::mem::take(&mut self.ledgers);
        let mut merged = self.sorter.merged()?;
        let mut current: Option<(u32, Checker<'_>)> = None;
        while let Some(item) = merged.next_item()? {
            if current.as_ref().is_none_or(|(l, _)| *l != item.ledger) {
                if let Some((_, checker)) = current.take() {
                    done.push(checker.finish());
                }
                let Some(info) = ledgers.get_mut(item.ledger as usize) else {
                    continue;
                };
                let problems = std::mem::take(&mut info.problems);
                current = Some((item.ledger, Checker::new(info.id, problems, options)));
            }
            if let Some((_, checker)) = current.as_mut() {
                checker.step(item);
            }
        }
        if let Some((_, checker)) = current.take() {
            done.push(checker.finish());
        }
        // Ledgers whose every line was rejected have no items but still get a report.
        for info in &mut ledgers {
            if !done.iter().any(|d| d.id == info.id) {
                let problems = std::mem::take(&mut info.problems);
                done.push(Checker::new(info.id, problems, options).finish());
            }
        }
        // Checkpoints that signed a record further back than the one before them: one more
        // merged pass looks those records up (hookledger never writes such checkpoints).
        let far: Vec<(usize, u64, u64, Hash)> = done
            .iter()
            .enumerate()
            .flat_map(|(i, d)| {
                d.far_claims
                    .iter()
                    .map(move |(at, seq, head)| (i, *at, *seq, *head))
            })
            .collect();
        if !far.is_empty() {
            let wanted: HashMap<(LedgerId, u64), Vec<FarClaim>> =
                far.iter()
                    .fold(HashMap::new(), |mut map, (i, at, seq, head)| {
                        map.entry((done[*i].id, *seq))
                            .or_insert_with(Vec::new)
                            .push((*i, *at, *head));
                        map
                    });
            let ids: Vec<LedgerId> = ledgers.iter().map(|l| l.id).collect();
            let mut merged = self.sorter.merged()?;
            let mut last: Option<(u32, u64)> = None;
            while let Some(item) = merged.next_item()? {
                if item.kind == Role::Rejected || last == Some((item.ledger, item.seq)) {
                    continue;
                }
                last = Some((item.ledger, item.seq));
                let Some(id) = ids.get(item.ledger as usize) else {
                    continue;
                };
                for (i, at, head) in wanted.get(&(*id, item.seq)).into_iter().flatten() {
                    if item.hash != *head
                        && let Some(outcome) = done.get_mut(*i)
                    {
                        outcome.problems.push(
                            ProblemCode::CheckpointMismatch,
                            Some(item.seq),
                            format!(
                                "the checkpoint at seq {at} signed head {} for record {}, but the record shipped has {}",
                                short(head),
                                item.seq,
                                short(&item.hash)
                            ),
                        );
                    }
                }
            }
        }
        let mut reports: Vec<LedgerReport> = done.into_iter().map(LedgerOutcome::report).collect();
        reports.sort_by(|a, b| a.ledger_id.cmp(&b.ledger_id));
        let intact = self.problems.count == 0
            && !reports.is_empty()
            && reports.iter().all(|r| r.problem_count == 0);
        Ok(Report {
            intact,
            lines: self.lines,
            ledgers: reports,
            problem_count: self.problems.count,
            problems: self.problems.listed,
        })
    }

    /// Walks every verified record of every ledger in (ledger, seq) order, repeats included
    /// (the first seen first), without checking anything: what `verify --against` compares a
    /// local ledger with. Lines that did not verify are counted in the returned total.
    pub fn for_each_record(
        mut self,
        visit: &mut dyn FnMut(&LedgerId, ShippedEntry<'_>),
    ) -> std::io::Result<u64> {
        self.sorter.seal()?;
        let rejected =
            self.problems.count + self.ledgers.iter().map(|l| l.problems.count).sum::<u64>();
        let mut merged = self.sorter.merged()?;
        while let Some(item) = merged.next_item()? {
            if item.kind == Role::Rejected {
                continue;
            }
            let Some(info) = self.ledgers.get(item.ledger as usize) else {
                continue;
            };
            visit(
                &info.id,
                ShippedEntry {
                    seq: item.seq,
                    hash: item.hash,
                    is_checkpoint: item.kind == Role::Checkpoint,
                    payload: item.payload.as_deref(),
                },
            );
        }
        Ok(rejected)
    }
}

/// A checkpoint's claim about a record further back: (the ledger's outcome index, the
/// checkpoint's seq, the head it signed).
type FarClaim = (usize, u64, Hash);

/// One shipped record as [`Receiver::for_each_record`] shows it.
#[derive(Debug, Clone, Copy)]
pub struct ShippedEntry<'a> {
    pub seq: u64,
    pub hash: Hash,
    pub is_checkpoint: bool,
    /// For genesis, checkpoint and prune records.
    pub payload: Option<&'a [u8]>,
}

impl ShippedEntry<'_> {
    /// What a checkpoint's payload says it covers (`covers.seq`, `covers.head`), signature
    /// unchecked: what the shipped copy committed to.
    pub fn covers(&self) -> Option<(u64, Hash)> {
        if !self.is_checkpoint {
            return None;
        }
        let value: Value = serde_json::from_slice(self.payload?).ok()?;
        Some((
            value["covers"]["seq"].as_u64()?,
            value["covers"]["head"]
                .as_str()
                .and_then(frame::from_hex::<32>)?,
        ))
    }
}

/// The (seq, hash) pairs and checkpoint claims shipped batches hold for one ledger, for
/// comparing a local ledger against what left the machine (`git verify --export`).
#[derive(Debug, Default)]
pub struct Shipped {
    pub records: BTreeMap<u64, Hash>,
    pub claims: Vec<(u64, Hash)>,
}

/// What `text` holds, per ledger. Lines that do not verify are left out.
pub fn read_shipped(text: &[u8]) -> std::io::Result<BTreeMap<LedgerId, Shipped>> {
    let mut receiver = Receiver::new();
    receiver.add_batch(text, "shipped")?;
    let mut out: BTreeMap<LedgerId, Shipped> = BTreeMap::new();
    receiver.for_each_record(&mut |id, entry| {
        let shipped = out.entry(*id).or_default();
        shipped.records.entry(entry.seq).or_insert(entry.hash);
        if let Some(claim) = entry.covers() {
            shipped.claims.push(claim);
        }
    })?;
    Ok(out)
}

/// Writes a ledger file holding exactly `records` (shipped records of the ledger `id`, already
/// checked), so code that reads a ledger (git provenance checks) can read an export. The file
/// is a scratch copy: no genesis of its own, no key, no chain beyond what was shipped.
pub fn write_ledger(
    path: &std::path::Path,
    id: &LedgerId,
    records: &[ShippedRecord],
) -> Result<(), crate::LedgerError> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(crate::SCHEMA_SQL)?;
    conn.pragma_update(None, "application_id", crate::APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", crate::SCHEMA_VERSION)?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO ledger_meta (singleton, ledger_id, format, created_ns) VALUES (1, ?1, 1, 0)",
        [&id[..]],
    )?;
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO records (seq, ts_ns, kind, payload, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for r in records {
            insert.execute(rusqlite::params![
                crate::seq_sql(r.seq),
                r.ts_ns,
                r.kind,
                r.payload,
                &r.prev_hash[..],
                &r.hash[..]
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed_lines(receiver: Receiver) -> Vec<String> {
        let report = receiver.finish(&ReceiveOptions::default()).unwrap();
        report.problems.into_iter().map(|p| p.detail).collect()
    }

    /// Every line is seen once, with its line number, whatever the piece size: read as a
    /// stream by the main thread, or as ranges of the file by the workers, including lines
    /// longer than a piece, empty lines, CRLF, and a last line without its end.
    #[test]
    fn file_ranges_and_streams_see_every_line_once() {
        let mut text = Vec::new();
        for i in 0..60 {
            match i % 7 {
                0 => text.extend_from_slice(b"\n"),
                1 => text.extend_from_slice(format!("x{}\r\n", "y".repeat(i * 3)).as_bytes()),
                _ => text.extend_from_slice(format!("line{i}-{}\n", "z".repeat(i % 5)).as_bytes()),
            }
        }
        text.extend_from_slice(b"last-without-end");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.ndjson");
        std::fs::write(&path, &text).unwrap();
        let mut whole = Receiver::new();
        whole.add_batch(&text, "b").unwrap();
        let expected = malformed_lines(whole);
        assert_eq!(expected.len(), 60 - 9 + 1, "{expected:#?}");
        for piece in 1..48 {
            let limits = Limits {
                piece,
                max_line: 1000,
            };
            let mut ranges = Receiver {
                limits,
                ..Receiver::new()
            };
            ranges
                .add_file(&std::fs::File::open(&path).unwrap(), "b")
                .unwrap();
            assert_eq!(malformed_lines(ranges), expected, "ranges of {piece}");
            let mut stream = Receiver {
                limits,
                ..Receiver::new()
            };
            stream.add_batch(&text, "b").unwrap();
            assert_eq!(malformed_lines(stream), expected, "stream of {piece}");
        }
    }

    /// A line longer than the longest allowed is one malformed line, skipped without keeping
    /// it, and the lines around it are still read.
    #[test]
    fn an_oversized_line_is_skipped() {
        let text = format!("before\n{}\nafter\n", "x".repeat(500));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.ndjson");
        std::fs::write(&path, &text).unwrap();
        let limits = Limits {
            piece: 64,
            max_line: 100,
        };
        for ranges in [true, false] {
            let mut receiver = Receiver {
                limits,
                ..Receiver::new()
            };
            if ranges {
                receiver
                    .add_file(&std::fs::File::open(&path).unwrap(), "b")
                    .unwrap();
            } else {
                receiver.add_batch(text.as_bytes(), "b").unwrap();
            }
            let lines = malformed_lines(receiver);
            assert_eq!(lines.len(), 3, "{lines:#?}");
            assert!(lines[0].starts_with("b:1:"), "{lines:#?}");
            assert!(lines[1].contains("longer than 100 bytes"), "{lines:#?}");
            assert!(lines[2].starts_with("b:3:"), "{lines:#?}");
        }
    }
}
