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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Mutex, mpsc};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use super::mapped;
use super::native::{self, ChainFields};
use crate::ledger::checkpoint::{self, CHECKPOINT_KIND, Claim};
use crate::ledger::frame::{self, Hash, LedgerId, ZERO_HASH};
use crate::ledger::prune::{Excuses, PRUNE_KIND, PruneRecord, PrunedRange};
use crate::ledger::{GENESIS_KIND, canonical_json};

/// Problems listed in full per ledger (and for lines naming no ledger); past this only the
/// count grows, so a hostile batch cannot grow the report without bound.
const MAX_LISTED_PROBLEMS: usize = 1000;
/// Input is read and handed to the parsing threads in pieces of about this size.
const PIECE_BYTES: usize = 4 << 20;
/// A line longer than this is reported as malformed and skipped, not buffered.
const MAX_LINE_BYTES: usize = 64 << 20;
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

/// A shipped record whose hash verified, as [`Receiver::into_records`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedRecord {
    pub seq: u64,
    pub ts_ns: i64,
    pub kind: String,
    pub payload: Vec<u8>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Other = 0,
    Genesis = 1,
    Checkpoint = 2,
    Prune = 3,
    /// A line that named its ledger and seq but did not verify: already reported, so its seq
    /// is not reported again as a gap.
    Rejected = 4,
}

impl Kind {
    fn of(kind: &str) -> Kind {
        match kind {
            GENESIS_KIND => Kind::Genesis,
            CHECKPOINT_KIND => Kind::Checkpoint,
            PRUNE_KIND => Kind::Prune,
            _ => Kind::Other,
        }
    }

    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            0 => Kind::Other,
            1 => Kind::Genesis,
            2 => Kind::Checkpoint,
            3 => Kind::Prune,
            4 => Kind::Rejected,
            _ => return None,
        })
    }

    /// Whether the receiver needs the record's payload (signatures, keys, statements).
    fn keeps_payload(self) -> bool {
        matches!(self, Kind::Genesis | Kind::Checkpoint | Kind::Prune)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Stable code: `malformed-line`, `bad-hash`, `payload-mismatch`, `mapped-field-mismatch`,
    /// `broken-link`, `fork`, `gap`, `bad-signature`, `untrusted-checkpoint`,
    /// `checkpoint-mismatch`, `regression`, `silent`, `future-checkpoint`, `bad-prune`,
    /// `manifest-mismatch`.
    pub code: &'static str,
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

#[derive(Debug, Clone, Serialize)]
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
            now_ns: crate::ledger::now_ns(),
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
    fn push(&mut self, code: &'static str, seq: Option<u64>, detail: String) {
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
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let keep = self.keep_records;
        let (jobs, job_queue) = mpsc::sync_channel::<Job>(threads);
        let job_queue = Mutex::new(job_queue);
        let (done_sender, done) = mpsc::channel::<Done>();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (job_queue, done_sender) = (&job_queue, done_sender.clone());
                scope.spawn(move || {
                    loop {
                        let job = match job_queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => break,
                        };
                        let Ok(job) = job else { break };
                        let (parsed, lines) = if job.oversized {
                            (
                                vec![Parsed::Malformed {
                                    line: 1,
                                    detail: format!(
                                        "the line is longer than {} MiB: skipped",
                                        MAX_LINE_BYTES >> 20
                                    ),
                                }],
                                1,
                            )
                        } else {
                            parse_piece(&job.bytes, keep)
                        };
                        let result = Done {
                            index: job.index,
                            parsed,
                            lines,
                            buffer: job.bytes,
                        };
                        if done_sender.send(result).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_sender);
            let mut pieces = PieceReader::new(reader);
            let mut sent = 0usize;
            let mut taken = 0usize;
            let mut waiting: BTreeMap<usize, Done> = BTreeMap::new();
            let mut line_base = 0usize;
            let mut outcome = Ok(());
            let mut take_ready = |waiting: &mut BTreeMap<usize, Done>,
                                  taken: &mut usize,
                                  pieces: &mut PieceReader<'_>|
             -> std::io::Result<()> {
                while let Some(ready) = waiting.remove(taken) {
                    for item in ready.parsed {
                        self.take(item, source, line_base)?;
                    }
                    line_base += ready.lines;
                    pieces.recycle(ready.buffer);
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
                    take_ready(&mut waiting, &mut taken, &mut pieces)?;
                }
                while let Ok(result) = done.try_recv() {
                    waiting.insert(result.index, result);
                }
                take_ready(&mut waiting, &mut taken, &mut pieces)?;
                let piece = match pieces.next_piece() {
                    Ok(Some(piece)) => piece,
                    Ok(None) => break,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                };
                let job = Job {
                    index: sent,
                    bytes: piece.bytes,
                    oversized: piece.oversized,
                };
                if jobs.send(job).is_err() {
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
                take_ready(&mut waiting, &mut taken, &mut pieces)?;
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
                "malformed-line",
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
                    kind: Kind::Rejected,
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
                        "mapped-field-mismatch",
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
            let wanted: HashMap<(LedgerId, u64), Vec<(usize, u64, Hash)>> =
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
                if item.kind == Kind::Rejected || last == Some((item.ledger, item.seq)) {
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
                            "checkpoint-mismatch",
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
            if item.kind == Kind::Rejected {
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
                    is_checkpoint: item.kind == Kind::Checkpoint,
                    payload: item.payload.as_deref(),
                },
            );
        }
        Ok(rejected)
    }
}

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

// ---------------------------------------------------------------------------------------------
// Parsing (on the worker threads).

struct Job {
    index: usize,
    bytes: Vec<u8>,
    oversized: bool,
}

struct Done {
    index: usize,
    parsed: Vec<Parsed>,
    lines: usize,
    buffer: Vec<u8>,
}

enum Parsed {
    Record(ParsedRecord),
    /// A line that names its ledger and seq but does not verify.
    Rejected {
        ledger_id: LedgerId,
        seq: u64,
        code: &'static str,
        detail: String,
    },
    Malformed {
        line: usize,
        detail: String,
    },
}

/// Kept unboxed: one allocation per line would cost as much as the line's parsing.
struct ParsedRecord {
    ledger_id: LedgerId,
    seq: u64,
    hash: Hash,
    prev: Hash,
    kind: Kind,
    payload: Option<Box<[u8]>>,
    /// What only some records carry.
    extra: Option<Box<RecordExtra>>,
}

struct RecordExtra {
    kept: Option<ShippedRecord>,
    /// ECS/OCSF fields that disagree with the verified payload.
    mapped_mismatch: Option<Vec<String>>,
}

/// Parses the lines of one piece; returns them and how many lines the piece held.
fn parse_piece(piece: &[u8], keep: bool) -> (Vec<Parsed>, usize) {
    let mut out = Vec::with_capacity(piece.len() / 512 + 1);
    let mut start = 0;
    let mut index = 0;
    while start < piece.len() {
        let end = memchr::memchr(b'\n', &piece[start..]).map_or(piece.len(), |i| start + i);
        let raw = &piece[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        index += 1;
        start = end + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(
            parse_line(raw, keep).unwrap_or_else(|detail| Parsed::Malformed {
                line: index,
                detail,
            }),
        );
    }
    (out, index)
}

fn parse_line(raw: &[u8], keep: bool) -> Result<Parsed, String> {
    if let Some((fields, payload)) = native::parse_exact(raw)
        && fields.hash_of(payload).ok() == Some(fields.hash)
    {
        return Ok(accept(&fields, payload, None, keep));
    }
    // Not as written (or its bytes do not hash): read it as JSON and re-canonicalize.
    let value: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let located = mapped::locate_chain(&value).ok_or(
        "no hookledger chain fields (native line, ECS `hookledger`, or OCSF `unmapped.hookledger`)",
    )?;
    let chain = located.chain;
    let fields = chain_fields(chain)?;
    let reject = |code: &'static str, detail: String| Parsed::Rejected {
        ledger_id: fields.ledger_id,
        seq: fields.seq,
        code,
        detail,
    };
    let from_b64 = match chain.get("payload_b64") {
        None | Some(Value::Null) => None,
        Some(b64) => Some(
            b64.as_str()
                .and_then(|t| {
                    base64::engine::general_purpose::STANDARD
                        .decode(t.as_bytes())
                        .ok()
                })
                .ok_or("payload_b64 is not base64")?,
        ),
    };
    let from_json = chain.get("payload").map(canonical_json);
    let payload = match (from_b64, from_json) {
        (Some(exact), Some(parsed)) if exact != parsed => {
            return Ok(reject(
                "payload-mismatch",
                format!(
                    "record {}: `payload` and `payload_b64` say different things: one of them was changed",
                    fields.seq
                ),
            ));
        }
        (Some(exact), _) => exact,
        (None, Some(parsed)) => parsed,
        (None, None) => return Err("no payload or payload_b64".into()),
    };
    if fields.hash_of(&payload).map_err(|e| e.to_string())? != fields.hash {
        return Ok(reject(
            "bad-hash",
            format!(
                "record {} does not hash to the hash it carries: its content was changed",
                fields.seq
            ),
        ));
    }
    let mismatch = located.format.and_then(|format| {
        let payload_value: Value = serde_json::from_slice(&payload).ok()?;
        let differing = mapped::differing_fields(format, &value, &fields, &payload_value);
        (!differing.is_empty()).then_some(differing)
    });
    Ok(accept(&fields, &payload, mismatch, keep))
}

fn accept(
    fields: &ChainFields<'_>,
    payload: &[u8],
    mapped_mismatch: Option<Vec<String>>,
    keep: bool,
) -> Parsed {
    let kind = Kind::of(&fields.kind);
    let kept = keep.then(|| ShippedRecord {
        seq: fields.seq,
        ts_ns: fields.ts_ns,
        kind: fields.kind.clone().into_owned(),
        payload: payload.to_vec(),
        prev_hash: fields.prev_hash,
        hash: fields.hash,
    });
    Parsed::Record(ParsedRecord {
        ledger_id: fields.ledger_id,
        seq: fields.seq,
        hash: fields.hash,
        prev: fields.prev_hash,
        kind,
        payload: kind.keeps_payload().then(|| payload.into()),
        extra: (kept.is_some() || mapped_mismatch.is_some()).then(|| {
            Box::new(RecordExtra {
                kept,
                mapped_mismatch,
            })
        }),
    })
}

/// The chain fields from a parsed chain object, tolerating what pipelines do to scalars
/// (numbers as strings, strings as numbers).
fn chain_fields(chain: &serde_json::Map<String, Value>) -> Result<ChainFields<'static>, String> {
    let text = |key: &str| -> Result<&str, String> {
        chain
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{key} is missing or not a string"))
    };
    let integer = |key: &str| -> Result<i128, String> {
        match chain.get(key) {
            Some(Value::Number(n)) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .ok_or_else(|| format!("{key} is not an integer")),
            Some(Value::String(s)) => s.parse().map_err(|_| format!("{key} is not an integer")),
            _ => Err(format!("{key} is missing")),
        }
    };
    Ok(ChainFields {
        ledger_id: frame::from_hex::<16>(text("ledger_id")?)
            .ok_or("ledger_id is not 32 hex digits")?,
        seq: u64::try_from(integer("seq")?).map_err(|_| "seq is out of range")?,
        ts_ns: i64::try_from(integer("ts_ns")?).map_err(|_| "ts_ns is out of range")?,
        kind: std::borrow::Cow::Owned(text("kind")?.to_owned()),
        prev_hash: frame::from_hex::<32>(text("prev_hash")?)
            .ok_or("prev_hash is not 64 hex digits")?,
        hash: frame::from_hex::<32>(text("hash")?).ok_or("hash is not 64 hex digits")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading input in pieces that end at line ends.

struct Piece {
    bytes: Vec<u8>,
    /// A single line longer than [`MAX_LINE_BYTES`], skipped: `bytes` is empty.
    oversized: bool,
}

struct PieceReader<'r> {
    reader: &'r mut dyn Read,
    /// Bytes read after the last line end handed out.
    carry: Vec<u8>,
    spare: Vec<Vec<u8>>,
    eof: bool,
}

impl<'r> PieceReader<'r> {
    fn new(reader: &'r mut dyn Read) -> Self {
        PieceReader {
            reader,
            carry: Vec::new(),
            spare: Vec::new(),
            eof: false,
        }
    }

    /// Gives a piece's buffer back for reuse (no fresh pages for every piece).
    fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < 4 && buffer.capacity() <= PIECE_BYTES * 2 {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// The next piece: whole lines, about [`PIECE_BYTES`] long; the last one may lack its line
    /// end. `None` at the end of input.
    fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        let mut buffer = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(PIECE_BYTES + (64 << 10)));
        buffer.clear();
        buffer.append(&mut self.carry);
        loop {
            if buffer.len() >= PIECE_BYTES
                && let Some(end) = memchr::memrchr(b'\n', &buffer)
            {
                self.carry.extend_from_slice(&buffer[end + 1..]);
                buffer.truncate(end + 1);
                return Ok(Some(Piece {
                    bytes: buffer,
                    oversized: false,
                }));
            }
            if buffer.len() > MAX_LINE_BYTES {
                // One line with no end in sight: skip to its end without keeping it.
                self.skip_line()?;
                return Ok(Some(Piece {
                    bytes: Vec::new(),
                    oversized: true,
                }));
            }
            if self.eof {
                return Ok((!buffer.is_empty()).then_some(Piece {
                    bytes: buffer,
                    oversized: false,
                }));
            }
            // Read into spare capacity (no zero-filling a piece's worth of memory first), until
            // the piece is full or the input ends.
            let want = PIECE_BYTES.saturating_sub(buffer.len()).max(1 << 20);
            buffer.reserve(want);
            let n = (&mut *self.reader)
                .take(want as u64)
                .read_to_end(&mut buffer)?;
            if n < want {
                self.eof = true;
            }
        }
    }

    /// Reads and drops bytes up to and including the next line end.
    fn skip_line(&mut self) -> std::io::Result<()> {
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = match self.reader.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                return Ok(());
            }
            if let Some(end) = memchr::memchr(b'\n', &chunk[..n]) {
                self.carry.extend_from_slice(&chunk[end + 1..n]);
                return Ok(());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sorting compact items by (ledger, seq) with bounded memory.

/// One verified (or rejected) line, reduced to what the checks need.
#[derive(Debug, Clone)]
struct Item {
    ledger: u32,
    /// Arrival order within a sort buffer: ties in (ledger, seq) keep it.
    order: u32,
    seq: u64,
    hash: Hash,
    prev: Hash,
    kind: Kind,
    payload: Option<Box<[u8]>>,
}

impl Item {
    fn key(&self) -> (u32, u64) {
        (self.ledger, self.seq)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        out.extend_from_slice(&self.ledger.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        if self.kind != Kind::Rejected {
            out.extend_from_slice(&self.hash);
            out.extend_from_slice(&self.prev);
        }
        if self.kind.keeps_payload() {
            let payload = self.payload.as_deref().unwrap_or(&[]);
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&payload[..len as usize]);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Run {
    offset: u64,
    len: u64,
    /// How many buffers' worth it holds, as a power of [`MERGE_FAN_IN`].
    level: u32,
}

#[derive(Debug)]
struct Sorter {
    buffer: Vec<Item>,
    buffered_bytes: usize,
    limit_bytes: usize,
    spill: Option<Spill>,
    runs: Vec<Run>,
    sealed: bool,
}

impl Sorter {
    fn new(limit_bytes: usize) -> Sorter {
        Sorter {
            buffer: Vec::new(),
            buffered_bytes: 0,
            limit_bytes,
            spill: None,
            runs: Vec::new(),
            sealed: false,
        }
    }

    fn push(&mut self, mut item: Item) -> std::io::Result<()> {
        if self.buffer.capacity() == 0 {
            self.buffer
                .reserve_exact(self.limit_bytes / std::mem::size_of::<Item>() + 1);
        }
        item.order = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
        self.buffered_bytes +=
            std::mem::size_of::<Item>() + item.payload.as_ref().map_or(0, |p| p.len());
        self.buffer.push(item);
        if self.buffered_bytes >= self.limit_bytes || self.buffer.len() >= u32::MAX as usize {
            self.spill_buffer()?;
        }
        Ok(())
    }

    fn sort_buffer(&mut self) {
        self.buffer
            .sort_unstable_by_key(|item| (item.ledger, item.seq, item.order));
    }

    /// Sorts the buffer and writes it as a run, then merges runs while [`MERGE_FAN_IN`] of one
    /// level sit at the end.
    fn spill_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.sort_buffer();
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => self.spill.insert(Spill::create()?),
        };
        let mut writer = spill.writer();
        for item in self.buffer.drain(..) {
            writer.push(&item)?;
        }
        let (offset, len) = writer.finish()?;
        self.buffered_bytes = 0;
        self.runs.push(Run {
            offset,
            len,
            level: 0,
        });
        loop {
            let Some(last) = self.runs.last().copied() else {
                break;
            };
            let same = self
                .runs
                .iter()
                .rev()
                .take_while(|r| r.level == last.level)
                .count();
            if same < MERGE_FAN_IN {
                break;
            }
            let from = self.runs.len() - same;
            let merged = self.merge_runs(from)?;
            self.runs.truncate(from);
            self.runs.push(Run {
                level: last.level + 1,
                ..merged
            });
        }
        Ok(())
    }

    /// Merges `runs[from..]` into one new run at the end of the spill file.
    fn merge_runs(&mut self, from: usize) -> std::io::Result<Run> {
        let Some(spill) = &self.spill else {
            return Err(std::io::Error::other("no spill file"));
        };
        let mut merged = Merged::from_runs(spill, &self.runs[from..])?;
        let mut writer = spill.writer();
        while let Some(item) = merged.next_item()? {
            writer.push(&item)?;
        }
        let (offset, len) = writer.finish()?;
        Ok(Run {
            offset,
            len,
            level: 0,
        })
    }

    /// Ends input: what is buffered is sorted in memory, or spilled when runs exist already.
    fn seal(&mut self) -> std::io::Result<()> {
        if self.sealed {
            return Ok(());
        }
        self.sealed = true;
        if self.runs.is_empty() {
            self.sort_buffer();
            Ok(())
        } else {
            self.spill_buffer()
        }
    }

    /// Every item in (ledger, seq) order, ties in arrival order. Can be called more than once.
    fn merged(&self) -> std::io::Result<Merged<'_>> {
        match &self.spill {
            Some(spill) if !self.runs.is_empty() => Merged::from_runs(spill, &self.runs),
            _ => Ok(Merged::Memory(self.buffer.iter())),
        }
    }
}

enum Merged<'a> {
    Memory(std::slice::Iter<'a, Item>),
    Runs {
        readers: Vec<RunReader<'a>>,
        heads: Vec<Option<Item>>,
        heap: BinaryHeap<Reverse<(u32, u64, usize)>>,
    },
}

impl<'a> Merged<'a> {
    fn from_runs(spill: &'a Spill, runs: &[Run]) -> std::io::Result<Merged<'a>> {
        let mut readers: Vec<RunReader<'a>> = runs.iter().map(|r| spill.reader(*r)).collect();
        let mut heads = Vec::with_capacity(readers.len());
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            let head = reader.next_item()?;
            if let Some(item) = &head {
                let (ledger, seq) = item.key();
                heap.push(Reverse((ledger, seq, i)));
            }
            heads.push(head);
        }
        Ok(Merged::Runs {
            readers,
            heads,
            heap,
        })
    }

    fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        match self {
            Merged::Memory(items) => Ok(items.next().cloned()),
            Merged::Runs {
                readers,
                heads,
                heap,
            } => {
                let Some(Reverse((_, _, run))) = heap.pop() else {
                    return Ok(None);
                };
                let (Some(slot), Some(reader)) = (heads.get_mut(run), readers.get_mut(run)) else {
                    return Ok(None);
                };
                let item = slot.take();
                *slot = reader.next_item()?;
                if let Some(next) = slot.as_ref() {
                    let (ledger, seq) = next.key();
                    heap.push(Reverse((ledger, seq, run)));
                }
                Ok(item)
            }
        }
    }
}

/// The anonymous temporary file sorted runs are spilled to: removed from its directory as soon
/// as it is open (Unix), or when dropped.
#[derive(Debug)]
struct Spill {
    file: std::fs::File,
    end: std::sync::atomic::AtomicU64,
    path: Option<PathBuf>,
}

impl Spill {
    fn create() -> std::io::Result<Spill> {
        let dir = std::env::temp_dir();
        let mut last = None;
        for attempt in 0..16 {
            let path = dir.join(format!(
                ".hookledger-receive-{}-{}-{attempt}",
                std::process::id(),
                crate::ledger::now_ns()
            ));
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(file) => {
                    #[cfg(unix)]
                    let path = std::fs::remove_file(&path).err().map(|_| path);
                    #[cfg(not(unix))]
                    let path = Some(path);
                    return Ok(Spill {
                        file,
                        end: std::sync::atomic::AtomicU64::new(0),
                        path,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create a temporary file in {} to sort the records in: {e}",
                            dir.display()
                        ),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
    }

    fn writer(&self) -> RunWriter<'_> {
        let start = self.end.load(std::sync::atomic::Ordering::Relaxed);
        RunWriter {
            spill: self,
            start,
            at: start,
            buffer: Vec::with_capacity(RUN_BUFFER_BYTES * 2),
        }
    }

    fn reader(&self, run: Run) -> RunReader<'_> {
        RunReader {
            spill: self,
            at: run.offset,
            end: run.offset + run.len,
            buffer: Vec::new(),
            pos: 0,
        }
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

struct RunWriter<'a> {
    spill: &'a Spill,
    start: u64,
    at: u64,
    buffer: Vec<u8>,
}

impl RunWriter<'_> {
    fn push(&mut self, item: &Item) -> std::io::Result<()> {
        item.encode(&mut self.buffer);
        if self.buffer.len() >= RUN_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        write_at(&self.spill.file, &self.buffer, self.at)?;
        self.at += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// The run's offset and length.
    fn finish(mut self) -> std::io::Result<(u64, u64)> {
        self.flush()?;
        self.spill
            .end
            .store(self.at, std::sync::atomic::Ordering::Relaxed);
        Ok((self.start, self.at - self.start))
    }
}

struct RunReader<'a> {
    spill: &'a Spill,
    /// File offset of the first byte not yet in `buffer`.
    at: u64,
    end: u64,
    buffer: Vec<u8>,
    pos: usize,
}

impl RunReader<'_> {
    /// `n` more bytes of the run, or `None` at its end.
    fn take(&mut self, n: usize) -> std::io::Result<Option<&[u8]>> {
        if self.buffer.len() - self.pos < n {
            let left = self.buffer.len() - self.pos;
            self.buffer.drain(..self.pos);
            self.pos = 0;
            let want = (self.end - self.at).min(RUN_BUFFER_BYTES.max(n) as u64) as usize;
            if left + want < n {
                return if left == 0 && want == 0 {
                    Ok(None)
                } else {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "a sorted run of the temporary file ends early",
                    ))
                };
            }
            self.buffer.resize(left + want, 0);
            read_at(&self.spill.file, &mut self.buffer[left..], self.at)?;
            self.at += want as u64;
        }
        let bytes = &self.buffer[self.pos..self.pos + n];
        self.pos += n;
        Ok(Some(bytes))
    }

    fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        let Some(head) = self.take(13)? else {
            return Ok(None);
        };
        let corrupt = || std::io::Error::other("a sorted run of the temporary file is corrupt");
        let kind = Kind::from_byte(head[0]).ok_or_else(corrupt)?;
        let ledger = u32::from_le_bytes(head[1..5].try_into().map_err(|_| corrupt())?);
        let seq = u64::from_le_bytes(head[5..13].try_into().map_err(|_| corrupt())?);
        let (mut hash, mut prev) = (ZERO_HASH, ZERO_HASH);
        if kind != Kind::Rejected {
            let bytes = self.take(64)?.ok_or_else(corrupt)?;
            hash.copy_from_slice(&bytes[..32]);
            prev.copy_from_slice(&bytes[32..]);
        }
        let payload = if kind.keeps_payload() {
            let len = self.take(4)?.ok_or_else(corrupt)?;
            let len = u32::from_le_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
            Some(Box::from(self.take(len)?.ok_or_else(corrupt)?))
        } else {
            None
        };
        Ok(Some(Item {
            ledger,
            order: 0,
            seq,
            hash,
            prev,
            kind,
            payload,
        }))
    }
}

#[cfg(unix)]
fn write_at(file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_at(file: &std::fs::File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, bytes, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, mut bytes: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, bytes, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes = &mut bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The checks: one streaming pass per ledger over its items in seq order.

fn short(hash: &Hash) -> String {
    frame::to_hex(&hash[..6])
}

/// The record right after a gap: the anchor a prune statement must name.
#[derive(Debug)]
struct AfterGap {
    seq: u64,
    hash: Hash,
    prev: Hash,
    /// Its claim, when it is a checkpoint whose signature verified.
    claim: Option<Claim>,
}

#[derive(Debug)]
struct Gap {
    first: u64,
    last: u64,
    after: Option<AfterGap>,
}

struct Checker<'o> {
    id: LedgerId,
    options: &'o ReceiveOptions,
    start: u64,
    problems: Problems,
    records: u64,
    first_seq: Option<u64>,
    last_seq: u64,
    duplicates: u64,
    /// The last record kept (the first seen at its seq).
    prev: Option<(u64, Hash)>,
    /// The next seq that does not open a gap.
    expected: u64,
    trusted: Option<[u8; 32]>,
    checkpoints_verified: u64,
    last_checkpoint: Option<Claim>,
    newest_plausible: Option<Claim>,
    far_claims: Vec<(u64, u64, Hash)>,
    gaps: Vec<Gap>,
    gaps_unlisted: u64,
    prunes: Vec<(u64, Box<[u8]>)>,
}

/// A ledger's results once its pass is over (far claims still to resolve).
struct LedgerOutcome {
    id: LedgerId,
    problems: Problems,
    records: u64,
    first_seq: u64,
    last_seq: u64,
    duplicates: u64,
    checkpoints_verified: u64,
    last_checkpoint: Option<Claim>,
    newest_plausible: Option<Claim>,
    pruned: Vec<PrunedRange>,
    far_claims: Vec<(u64, u64, Hash)>,
}

impl LedgerOutcome {
    fn report(mut self) -> LedgerReport {
        // Seq order reads best; problems without a seq (silence) last.
        self.problems
            .listed
            .sort_by_key(|p| p.seq.map_or((1, 0), |s| (0, s)));
        LedgerReport {
            ledger_id: frame::to_hex(&self.id),
            records: self.records,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            duplicates: self.duplicates,
            checkpoints_verified: self.checkpoints_verified,
            last_checkpoint: self.last_checkpoint.as_ref().map(CheckpointSeen::of),
            newest_plausible_checkpoint: self.newest_plausible.as_ref().map(CheckpointSeen::of),
            pruned: self.pruned,
            problem_count: self.problems.count,
            problems: self.problems.listed,
        }
    }
}

/// Gaps remembered for the prune statements that may excuse them; past this they are
/// reported at once.
const MAX_PENDING_GAPS: usize = 10_000;

impl<'o> Checker<'o> {
    fn new(id: LedgerId, problems: Problems, options: &'o ReceiveOptions) -> Checker<'o> {
        let start = options.start_for(&id);
        Checker {
            id,
            options,
            start,
            problems,
            records: 0,
            first_seq: None,
            last_seq: 0,
            duplicates: 0,
            prev: None,
            expected: start,
            trusted: options.public_key_for(&id),
            checkpoints_verified: 0,
            last_checkpoint: None,
            newest_plausible: None,
            far_claims: Vec::new(),
            gaps: Vec::new(),
            gaps_unlisted: 0,
            prunes: Vec::new(),
        }
    }

    fn step(&mut self, item: Item) {
        let seq = item.seq;
        if item.kind == Kind::Rejected {
            if seq >= self.start {
                if seq > self.expected {
                    self.gap(self.expected, seq - 1, None);
                }
                self.expected = self.expected.max(seq + 1);
            }
            return;
        }
        if let Some((prev_seq, prev_hash)) = self.prev
            && prev_seq == seq
        {
            if prev_hash == item.hash {
                self.duplicates += 1;
            } else {
                self.problems.push(
                    "fork",
                    Some(seq),
                    format!(
                        "two different records claim seq {seq}: {} and {}",
                        short(&prev_hash),
                        short(&item.hash)
                    ),
                );
            }
            return;
        }
        self.records += 1;
        self.first_seq.get_or_insert(seq);
        self.last_seq = seq;
        if item.kind == Kind::Genesis && seq == 1 {
            // The genesis record shipped names the key; it wins over one given on the command
            // line only when it is there, as before.
            if let Some(key) = item
                .payload
                .as_deref()
                .and_then(checkpoint::genesis_public_key)
            {
                self.trusted = Some(key);
            }
        }
        let claim = match item.kind {
            Kind::Checkpoint => self.checkpoint(&item),
            Kind::Prune => {
                if let Some(payload) = item.payload.clone() {
                    self.prunes.push((seq, payload));
                }
                None
            }
            _ => None,
        };
        if seq >= self.start {
            if seq > self.expected {
                self.gap(
                    self.expected,
                    seq - 1,
                    Some(AfterGap {
                        seq,
                        hash: item.hash,
                        prev: item.prev,
                        claim,
                    }),
                );
            }
            if let Some((prev_seq, prev_hash)) = self.prev
                && prev_seq >= self.start
                && prev_seq + 1 == seq
                && item.prev != prev_hash
            {
                self.problems.push(
                    "broken-link",
                    Some(seq),
                    format!("record {seq} does not link to record {prev_seq}"),
                );
            }
            if seq == 1 && item.prev != ZERO_HASH {
                self.problems.push(
                    "broken-link",
                    Some(1),
                    "the first record does not start a chain".into(),
                );
            }
            self.expected = self.expected.max(seq + 1);
        }
        self.prev = Some((seq, item.hash));
    }

    fn gap(&mut self, first: u64, last: u64, after: Option<AfterGap>) {
        if self.gaps.len() < MAX_PENDING_GAPS {
            self.gaps.push(Gap { first, last, after });
        } else {
            self.gaps_unlisted += 1;
            self.problems.push(
                "gap",
                Some(first),
                format!("records {first}..={last} are missing (withheld or lost in shipping)"),
            );
        }
    }

    /// Checks a checkpoint: signature by the trusted key, agreement with the record it covers,
    /// a plausible time, and no regression. Returns its claim when the signature holds.
    fn checkpoint(&mut self, item: &Item) -> Option<Claim> {
        let seq = item.seq;
        let Some(key) = self.trusted.as_ref() else {
            self.problems.push(
                "untrusted-checkpoint",
                Some(seq),
                "no genesis record among the batches and no --public-key: the checkpoint's signature cannot be checked".into(),
            );
            return None;
        };
        let claim = match checkpoint::verify_payload(item.payload.as_deref().unwrap_or(&[]), key) {
            Ok(c) => c,
            Err(e) => {
                self.problems.push(
                    "bad-signature",
                    Some(seq),
                    format!("checkpoint at seq {seq}: {e}"),
                );
                return None;
            }
        };
        if claim.ledger_id != self.id || claim.seq >= seq {
            self.problems.push(
                "checkpoint-mismatch",
                Some(seq),
                format!("checkpoint at seq {seq} claims another ledger or a later record"),
            );
            return None;
        }
        match self.prev {
            Some((prev_seq, prev_hash)) if prev_seq == claim.seq => {
                if prev_hash != claim.head {
                    self.problems.push(
                        "checkpoint-mismatch",
                        Some(claim.seq),
                        format!(
                            "the checkpoint at seq {seq} signed head {} for record {}, but the record shipped has {}",
                            short(&claim.head),
                            claim.seq,
                            short(&prev_hash)
                        ),
                    );
                }
            }
            Some((prev_seq, _)) if claim.seq < prev_seq => {
                self.far_claims.push((seq, claim.seq, claim.head));
            }
            // The covered record was not shipped: nothing to compare with.
            _ => {}
        }
        let future = checkpoint::is_future(
            claim.time_ns,
            self.options.now_ns,
            self.options.clock_skew_ns,
        );
        if future {
            self.problems.push(
                "future-checkpoint",
                Some(seq),
                format!(
                    "the checkpoint at seq {seq} is signed with time {}, {} after this receiver's clock (more than the {} allowed): it was made under a wrong or faked clock and does not count as proof of life",
                    crate::export::rfc3339(claim.time_ns),
                    crate::export::human_duration(claim.time_ns.saturating_sub(self.options.now_ns)),
                    crate::export::human_duration(self.options.clock_skew_ns)
                ),
            );
        } else {
            if let Some(newest) = &self.newest_plausible
                && claim.time_ns > newest.time_ns
                && claim.seq < newest.seq
            {
                self.problems.push(
                    "regression",
                    Some(seq),
                    format!(
                        "a newer checkpoint covers less (seq {}) than an older one (seq {}): the ledger was rolled back",
                        claim.seq, newest.seq
                    ),
                );
            }
            if self
                .newest_plausible
                .as_ref()
                .is_none_or(|n| claim.time_ns > n.time_ns)
            {
                self.newest_plausible = Some(claim.clone());
            }
        }
        self.checkpoints_verified += 1;
        self.last_checkpoint = Some(claim.clone());
        Some(claim)
    }

    fn finish(mut self) -> LedgerOutcome {
        // Prune statements: only valid signed ones excuse a gap.
        let judged: Vec<PruneRecord> = self
            .prunes
            .iter()
            .map(|(seq, payload)| {
                PruneRecord::judge(*seq, payload, &self.id, self.trusted.as_ref())
            })
            .collect();
        let excuses = Excuses::new(judged.iter().filter_map(|r| r.verdict.clone().ok()));
        for record in &judged {
            if let Err(why) = &record.verdict
                && !record.claimed.is_some_and(|range| excuses.states(&range))
            {
                self.problems.push(
                    "bad-prune",
                    Some(record.seq),
                    format!(
                        "the prune record at seq {} excuses no gap: {why}",
                        record.seq
                    ),
                );
            }
        }
        let mut pruned = Vec::new();
        for gap in std::mem::take(&mut self.gaps) {
            let excused = gap.after.as_ref().and_then(|after| {
                let chain = excuses.covering(gap.first, gap.last)?;
                chain
                    .last()?
                    .anchored_by(after.seq, &after.prev, &after.hash, after.claim.as_ref())
                    .then(|| chain.iter().map(|s| s.range()).collect::<Vec<_>>())
            });
            match excused {
                Some(ranges) => pruned.extend(ranges),
                None => self.problems.push(
                    "gap",
                    Some(gap.first),
                    format!(
                        "records {}..={} are missing (withheld or lost in shipping)",
                        gap.first, gap.last
                    ),
                ),
            }
        }
        if let Some(limit) = self.options.max_silence_ns {
            let now = self.options.now_ns;
            let newest = self.newest_plausible.as_ref().map(|c| c.time_ns);
            if newest.is_none_or(|t| now.saturating_sub(t) > limit) {
                let detail = match newest {
                    Some(t) => format!(
                        "the newest plausible signed checkpoint is {} old (more than the {} allowed): the ledger stopped shipping, or its exporter stopped running",
                        crate::export::human_duration(now.saturating_sub(t)),
                        crate::export::human_duration(limit)
                    ),
                    None if self.checkpoints_verified > 0 => {
                        "every verified checkpoint is dated in the future: nothing proves the ledger is alive".into()
                    }
                    None => "no verified checkpoint at all: nothing proves the ledger is alive".into(),
                };
                self.problems.push("silent", None, detail);
            }
        }
        LedgerOutcome {
            id: self.id,
            problems: self.problems,
            records: self.records,
            first_seq: self.first_seq.unwrap_or(0),
            last_seq: self.last_seq,
            duplicates: self.duplicates,
            checkpoints_verified: self.checkpoints_verified,
            last_checkpoint: self.last_checkpoint,
            newest_plausible: self.newest_plausible,
            pruned,
            far_claims: self.far_claims,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(ledger: u32, seq: u64, tag: u8) -> Item {
        Item {
            ledger,
            order: 0,
            seq,
            hash: [tag; 32],
            prev: [tag.wrapping_add(1); 32],
            kind: if tag % 7 == 0 {
                Kind::Checkpoint
            } else {
                Kind::Other
            },
            payload: (tag % 7 == 0).then(|| vec![tag; usize::from(tag)].into()),
        }
    }

    /// With a tiny sort buffer, items go through many spilled runs and multi-level merges and
    /// still come back in (ledger, seq) order, ties in arrival order, payloads intact.
    #[test]
    fn spilled_runs_merge_back_in_order() {
        let mut sorter = Sorter::new(std::mem::size_of::<Item>() * 3);
        let mut expected = Vec::new();
        for i in 0..2000u64 {
            let ledger = (i % 3) as u32;
            let seq = (i * 7919) % 500;
            let tag = (i % 251) as u8;
            expected.push((ledger, seq, i, tag));
            sorter.push(item(ledger, seq, tag)).unwrap();
        }
        sorter.seal().unwrap();
        assert!(
            sorter.runs.len() < 2 * MERGE_FAN_IN,
            "runs are merged: {}",
            sorter.runs.len()
        );
        expected.sort_by_key(|(l, s, i, _)| (*l, *s, *i));
        for _ in 0..2 {
            let mut merged = sorter.merged().unwrap();
            let mut got = Vec::new();
            while let Some(item) = merged.next_item().unwrap() {
                if item.kind == Kind::Checkpoint {
                    assert_eq!(
                        item.payload.as_deref().unwrap(),
                        &vec![item.hash[0]; usize::from(item.hash[0])][..]
                    );
                }
                got.push((item.ledger, item.seq, item.hash[0]));
            }
            let want: Vec<_> = expected.iter().map(|(l, s, _, t)| (*l, *s, *t)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_small_input_stays_in_memory() {
        let mut sorter = Sorter::new(SORT_BUFFER_BYTES);
        for seq in [3, 1, 2] {
            sorter.push(item(0, seq, 1)).unwrap();
        }
        sorter.seal().unwrap();
        assert!(sorter.spill.is_none());
        let mut merged = sorter.merged().unwrap();
        let mut seqs = Vec::new();
        while let Some(item) = merged.next_item().unwrap() {
            seqs.push(item.seq);
        }
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn pieces_end_at_line_ends_whatever_the_reads_return() {
        /// Returns at most 3 bytes per read, like a slow pipe.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"a\nbb\nccc\ndddd\nno newline";
        let mut source = Trickle(text);
        let mut reader = PieceReader::new(&mut source);
        let mut joined = Vec::new();
        while let Some(piece) = reader.next_piece().unwrap() {
            assert!(!piece.oversized);
            joined.extend_from_slice(&piece.bytes);
        }
        assert_eq!(joined, text);
        let (parsed, lines) = parse_piece(text, false);
        assert_eq!(lines, 5);
        assert_eq!(parsed.len(), 5, "every line is malformed here");
    }
}
