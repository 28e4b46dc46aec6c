//! The receiver's side: verifying shipped NDJSON batches that may arrive in any order, more
//! than once, and re-serialized by a pipeline, in any of the export formats.
//!
//! Per ledger: every record's hash is recomputed from its payload and the frame fields; each
//! record must link to the one before it; a sequence number seen with two different hashes is
//! a fork; missing sequence numbers are gaps; checkpoints must be signed by the key the
//! ledger's genesis record names and must match the records they cover, and a checkpoint
//! that is newer but covers less than an older one is a regression (a rollback).
//!
//! Lines exactly as `export` wrote them take a fast path that hashes the embedded payload bytes
//! without parsing JSON; anything else (re-serialized lines, ECS, OCSF, version 1) is parsed and
//! its payload re-canonicalized (RFC 8785) or taken from `payload_b64`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use super::mapped;
use super::native::{self, ChainFields};
use crate::ledger::checkpoint::{self, CHECKPOINT_KIND};
use crate::ledger::frame::{self, Hash, LedgerId, ZERO_HASH};
use crate::ledger::{GENESIS_KIND, canonical_json};

/// One verified line. A million of these are held at once, so what only some records need
/// sits behind one pointer.
#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    hash: Hash,
    prev: Hash,
    kind: Kind,
    /// For genesis and checkpoint records (and every record when the receiver keeps records).
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Clone)]
struct Extra {
    payload: Vec<u8>,
    /// The record's time and kind name, when the receiver keeps records.
    kept: Option<(i64, String)>,
}

impl Entry {
    fn payload(&self) -> Option<&[u8]> {
        self.extra.as_deref().map(|e| e.payload.as_slice())
    }
}

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
    Genesis,
    Checkpoint,
    Other,
}

impl Kind {
    fn of(kind: &str) -> Kind {
        match kind {
            GENESIS_KIND => Kind::Genesis,
            CHECKPOINT_KIND => Kind::Checkpoint,
            _ => Kind::Other,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Stable code: `malformed-line`, `bad-hash`, `payload-mismatch`, `mapped-field-mismatch`,
    /// `broken-link`, `fork`, `gap`, `bad-signature`, `untrusted-checkpoint`,
    /// `checkpoint-mismatch`, `regression`, `silent`.
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
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointSeen {
    pub seq: u64,
    pub head: String,
    pub time_ns: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub intact: bool,
    pub lines: u64,
    pub ledgers: Vec<LedgerReport>,
    /// Problems not tied to one ledger (unreadable lines).
    pub problems: Vec<Problem>,
}

#[derive(Debug, Default)]
struct LedgerState {
    entries: Vec<Entry>,
    problems: Vec<Problem>,
    /// Seqs of lines that named this ledger but did not verify: already reported, so not
    /// reported again as a gap.
    rejected: std::collections::BTreeSet<u64>,
}

/// Options for a receiver that knows more than the batches carry.
#[derive(Debug, Clone, Default)]
pub struct ReceiveOptions {
    /// Public key to trust when the genesis record is not among the batches.
    pub public_key: Option<[u8; 32]>,
    /// Records before this sequence number were verified earlier: do not report them as a gap.
    pub start_seq: Option<u64>,
    /// Report a ledger whose newest checkpoint is older than this (nanoseconds) at `now_ns`.
    pub max_silence_ns: Option<i64>,
    pub now_ns: i64,
}

/// Collects lines from any number of batches, then checks them together.
#[derive(Debug, Default)]
pub struct Receiver {
    ledgers: HashMap<LedgerId, LedgerState>,
    lines: u64,
    problems: Vec<Problem>,
    /// Keep every verified record's contents, for [`Receiver::into_records`].
    keep_records: bool,
}

/// Work is handed out in pieces of about this size, so both cores stay busy to the end.
const PIECE_BYTES: usize = 4 << 20;

impl Receiver {
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// A receiver that also keeps every verified record's time, kind and payload, for callers
    /// that work from shipped records (`git verify --export`).
    pub fn keeping_records() -> Receiver {
        Receiver {
            keep_records: true,
            ..Receiver::default()
        }
    }

    /// The verified records per ledger, in seq order, one per seq (the first seen when the
    /// batches disagree, which [`Receiver::finish`] reports as a fork). Empty unless made with
    /// [`Receiver::keeping_records`].
    pub fn into_records(self) -> std::collections::BTreeMap<LedgerId, Vec<ShippedRecord>> {
        let mut out = std::collections::BTreeMap::new();
        for (id, mut state) in self.ledgers {
            state.entries.sort_by_key(|e| e.seq);
            state.entries.dedup_by_key(|e| e.seq);
            let records = state
                .entries
                .into_iter()
                .filter_map(|e| {
                    let extra = e.extra?;
                    let (ts_ns, kind) = extra.kept?;
                    Some(ShippedRecord {
                        seq: e.seq,
                        ts_ns,
                        kind,
                        payload: extra.payload,
                        prev_hash: e.prev,
                        hash: e.hash,
                    })
                })
                .collect();
            out.insert(id, records);
        }
        out
    }

    /// Adds one batch (NDJSON text). `source` names it in messages. Lines are parsed and
    /// hashed on all cores, then merged in order.
    pub fn add_batch(&mut self, text: &[u8], source: &str) {
        let pieces = split_lines(text, PIECE_BYTES);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
            .min(pieces.len());
        let parsed: Vec<Vec<Parsed>> = if threads <= 1 {
            pieces
                .iter()
                .map(|(offset, piece)| parse_piece(piece, *offset, self.keep_records))
                .collect()
        } else {
            let next = AtomicUsize::new(0);
            let keep = self.keep_records;
            let mut done: Vec<(usize, Vec<Parsed>)> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let index = next.fetch_add(1, Ordering::Relaxed);
                                let Some((offset, piece)) = pieces.get(index) else {
                                    break;
                                };
                                mine.push((index, parse_piece(piece, *offset, keep)));
                            }
                            mine
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap_or_default())
                    .collect()
            });
            done.sort_unstable_by_key(|(index, _)| *index);
            done.into_iter().map(|(_, parsed)| parsed).collect()
        };
        for item in parsed.into_iter().flatten() {
            self.lines += 1;
            match item {
                Parsed::Malformed { line, detail } => self.problems.push(Problem {
                    code: "malformed-line",
                    seq: None,
                    detail: format!("{source}:{line}: {detail}"),
                }),
                Parsed::Rejected {
                    ledger_id,
                    seq,
                    code,
                    detail,
                } => {
                    let state = self.ledgers.entry(ledger_id).or_default();
                    state.rejected.insert(seq);
                    state.problems.push(Problem {
                        code,
                        seq: Some(seq),
                        detail,
                    });
                }
                Parsed::Record {
                    ledger_id,
                    entry,
                    mapped_mismatch,
                } => {
                    let state = self.ledgers.entry(ledger_id).or_default();
                    if let Some(paths) = mapped_mismatch {
                        state.problems.push(Problem {
                            code: "mapped-field-mismatch",
                            seq: Some(entry.seq),
                            detail: format!(
                                "record {}: {} differ from what its verified payload says",
                                entry.seq,
                                paths.join(", ")
                            ),
                        });
                    }
                    state.entries.push(entry);
                }
            }
        }
    }

    pub fn finish(self, options: &ReceiveOptions) -> Report {
        let mut ledgers = Vec::new();
        let mut intact = self.problems.is_empty();
        let mut states: Vec<(LedgerId, LedgerState)> = self.ledgers.into_iter().collect();
        states.sort_by_key(|(id, _)| *id);
        for (id, state) in states {
            let report = check_ledger(&id, state, options);
            intact &= report.problems.is_empty();
            ledgers.push(report);
        }
        Report {
            intact: intact && !ledgers.is_empty(),
            lines: self.lines,
            ledgers,
            problems: self.problems,
        }
    }
}

enum Parsed {
    Record {
        ledger_id: LedgerId,
        entry: Entry,
        /// ECS/OCSF fields that disagree with the verified payload.
        mapped_mismatch: Option<Vec<String>>,
    },
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

/// Splits `text` into pieces of about `size` bytes at line ends; each comes with the number of
/// lines before it, for messages.
fn split_lines(text: &[u8], size: usize) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut lines_before = 0;
    while start < text.len() {
        let end = match text.get(start + size..) {
            Some(tail) => memchr::memchr(b'\n', tail).map_or(text.len(), |i| start + size + i + 1),
            None => text.len(),
        };
        let piece = &text[start..end];
        out.push((lines_before, piece));
        lines_before += memchr::memchr_iter(b'\n', piece).count();
        start = end;
    }
    out
}

fn parse_piece(piece: &[u8], lines_before: usize, keep: bool) -> Vec<Parsed> {
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
                line: lines_before + index,
                detail,
            }),
        );
    }
    out
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
    Parsed::Record {
        ledger_id: fields.ledger_id,
        entry: Entry {
            seq: fields.seq,
            hash: fields.hash,
            prev: fields.prev_hash,
            kind,
            extra: (keep || kind != Kind::Other).then(|| {
                Box::new(Extra {
                    payload: payload.to_vec(),
                    kept: keep.then(|| (fields.ts_ns, fields.kind.clone().into_owned())),
                })
            }),
        },
        mapped_mismatch,
    }
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

fn short(hash: &Hash) -> String {
    frame::to_hex(&hash[..6])
}

/// Sorts the entries by seq and folds repeats: the same hash again is a duplicate (a re-sent
/// batch), a different one is a fork.
fn dedupe(entries: &mut Vec<Entry>, problems: &mut Vec<Problem>) -> u64 {
    entries.sort_by_key(|e| e.seq);
    let mut duplicates = 0;
    entries.dedup_by(|later, kept| {
        if later.seq != kept.seq {
            return false;
        }
        if later.hash == kept.hash {
            duplicates += 1;
        } else {
            problems.push(Problem {
                code: "fork",
                seq: Some(later.seq),
                detail: format!(
                    "two different records claim seq {}: {} and {}",
                    later.seq,
                    short(&kept.hash),
                    short(&later.hash)
                ),
            });
        }
        true
    });
    duplicates
}

/// Reports `from..=to` as missing, except the seqs whose lines arrived but were rejected.
fn report_gaps(
    from: u64,
    to: u64,
    rejected: &std::collections::BTreeSet<u64>,
    problems: &mut Vec<Problem>,
) {
    let mut start = from;
    for &seq in rejected.range(from..=to).chain(std::iter::once(&(to + 1))) {
        if seq > start {
            problems.push(Problem {
                code: "gap",
                seq: Some(start),
                detail: format!(
                    "records {start}..={} are missing (withheld or lost in shipping)",
                    seq - 1
                ),
            });
        }
        start = seq + 1;
    }
}

fn check_ledger(id: &LedgerId, mut state: LedgerState, options: &ReceiveOptions) -> LedgerReport {
    let mut problems = std::mem::take(&mut state.problems);
    let duplicates = dedupe(&mut state.entries, &mut problems);
    let entries = &state.entries;
    let first = entries.first().map_or(0, |e| e.seq);
    let last = entries.last().map_or(0, |e| e.seq);
    let start = options.start_seq.unwrap_or(1).max(1);
    // Gaps, including a missing beginning.
    let mut expected = start;
    let mut previous: Option<&Entry> = None;
    for entry in entries.iter().filter(|e| e.seq >= start) {
        let seq = entry.seq;
        if seq > expected {
            report_gaps(expected, seq - 1, &state.rejected, &mut problems);
        }
        if let Some(prev) = previous
            && prev.seq + 1 == seq
            && entry.prev != prev.hash
        {
            problems.push(Problem {
                code: "broken-link",
                seq: Some(seq),
                detail: format!("record {seq} does not link to record {}", prev.seq),
            });
        }
        if seq == 1 && entry.prev != ZERO_HASH {
            problems.push(Problem {
                code: "broken-link",
                seq: Some(1),
                detail: "the first record does not start a chain".into(),
            });
        }
        previous = Some(entry);
        expected = seq + 1;
    }
    let by_seq = |seq: u64| {
        entries
            .binary_search_by_key(&seq, |e| e.seq)
            .ok()
            .map(|i| &entries[i])
    };
    // Checkpoints: signature by the genesis key, agreement with the records they cover,
    // and no regression.
    let trusted = by_seq(1)
        .filter(|e| e.kind == Kind::Genesis)
        .and_then(Entry::payload)
        .and_then(checkpoint::genesis_public_key)
        .or(options.public_key);
    let mut verified = 0;
    let mut last_checkpoint: Option<checkpoint::Claim> = None;
    let mut newest_by_time: Option<checkpoint::Claim> = None;
    for entry in entries.iter().filter(|e| e.kind == Kind::Checkpoint) {
        let seq = entry.seq;
        let Some(key) = trusted.as_ref() else {
            problems.push(Problem {
                code: "untrusted-checkpoint",
                seq: Some(seq),
                detail: "no genesis record among the batches and no --public-key: the checkpoint's signature cannot be checked".into(),
            });
            continue;
        };
        let claim = match checkpoint::verify_payload(entry.payload().unwrap_or(&[]), key) {
            Ok(c) => c,
            Err(e) => {
                problems.push(Problem {
                    code: "bad-signature",
                    seq: Some(seq),
                    detail: format!("checkpoint at seq {seq}: {e}"),
                });
                continue;
            }
        };
        if claim.ledger_id != *id || claim.seq >= seq {
            problems.push(Problem {
                code: "checkpoint-mismatch",
                seq: Some(seq),
                detail: format!("checkpoint at seq {seq} claims another ledger or a later record"),
            });
            continue;
        }
        if let Some(covered) = by_seq(claim.seq)
            && covered.hash != claim.head
        {
            problems.push(Problem {
                code: "checkpoint-mismatch",
                seq: Some(claim.seq),
                detail: format!(
                    "the checkpoint at seq {seq} signed head {} for record {}, but the record shipped has {}",
                    short(&claim.head),
                    claim.seq,
                    short(&covered.hash)
                ),
            });
        }
        if let Some(newest) = &newest_by_time
            && claim.time_ns > newest.time_ns
            && claim.seq < newest.seq
        {
            problems.push(Problem {
                code: "regression",
                seq: Some(seq),
                detail: format!(
                    "a newer checkpoint covers less (seq {}) than an older one (seq {}): the ledger was rolled back",
                    claim.seq, newest.seq
                ),
            });
        }
        if newest_by_time
            .as_ref()
            .is_none_or(|n| claim.time_ns > n.time_ns)
        {
            newest_by_time = Some(claim.clone());
        }
        verified += 1;
        last_checkpoint = Some(claim);
    }
    if let Some(limit) = options.max_silence_ns {
        let newest = newest_by_time.as_ref().map(|c| c.time_ns);
        if newest.is_none_or(|t| options.now_ns.saturating_sub(t) > limit) {
            problems.push(Problem {
                code: "silent",
                seq: None,
                detail: match newest {
                    Some(t) => format!(
                        "the newest signed checkpoint is {} old (more than the {} allowed): the ledger stopped shipping, or its exporter stopped running",
                        crate::export::human_duration(options.now_ns.saturating_sub(t)),
                        crate::export::human_duration(limit)
                    ),
                    None => "no verified checkpoint at all: nothing proves the ledger is alive".into(),
                },
            });
        }
    }
    LedgerReport {
        ledger_id: frame::to_hex(id),
        records: entries.len() as u64,
        first_seq: first,
        last_seq: last,
        duplicates,
        checkpoints_verified: verified,
        last_checkpoint: last_checkpoint.map(|c| CheckpointSeen {
            seq: c.seq,
            head: frame::to_hex(&c.head),
            time_ns: c.time_ns.to_string(),
        }),
        problems,
    }
}

/// The (seq, hash) pairs and checkpoint claims shipped batches hold, for comparing a local
/// ledger against what left the machine (`verify --against`, `git verify --export`). Lines that
/// do not verify are counted in `malformed` and left out.
pub struct Shipped {
    pub ledger_id: Option<LedgerId>,
    pub records: std::collections::BTreeMap<u64, Hash>,
    pub claims: Vec<(u64, Hash)>,
    pub malformed: u64,
}

pub fn read_shipped(text: &[u8]) -> Shipped {
    let mut receiver = Receiver::new();
    receiver.add_batch(text, "shipped");
    receiver.into_shipped()
}

impl Receiver {
    /// What the batches added so far hold, for comparison with a local ledger.
    pub fn into_shipped(self) -> Shipped {
        let mut shipped = Shipped {
            ledger_id: None,
            records: std::collections::BTreeMap::new(),
            claims: Vec::new(),
            malformed: self.problems.len() as u64,
        };
        for (id, state) in self.ledgers {
            shipped.ledger_id = Some(id);
            shipped.malformed += state.problems.len() as u64;
            for entry in state.entries {
                shipped.records.insert(entry.seq, entry.hash);
                if entry.kind == Kind::Checkpoint
                    && let Some(payload) = entry.payload()
                    && let Ok(value) = serde_json::from_slice::<Value>(payload)
                    && let (Some(s), Some(h)) = (
                        value["covers"]["seq"].as_u64(),
                        value["covers"]["head"]
                            .as_str()
                            .and_then(frame::from_hex::<32>),
                    )
                {
                    shipped.claims.push((s, h));
                }
            }
        }
        shipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_line_ends_and_count_lines() {
        let text = b"a\nbb\nccc\ndddd\n";
        let pieces = split_lines(text, 3);
        let joined: Vec<u8> = pieces.iter().flat_map(|(_, p)| p.to_vec()).collect();
        assert_eq!(joined, text);
        assert!(pieces.iter().all(|(_, p)| p.ends_with(b"\n")));
        assert_eq!(
            pieces.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [0, 2, 3]
        );
        assert_eq!(split_lines(b"no newline", 4).len(), 1);
    }
}
