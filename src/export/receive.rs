//! The receiver's side: verifying shipped NDJSON batches that may arrive in any order, more
//! than once, and re-serialized by a pipeline.
//!
//! Per ledger: every record's hash is recomputed from `payload_b64` and the frame fields; each
//! record must link to the one before it; a sequence number seen with two different hashes is
//! a fork; missing sequence numbers are gaps; checkpoints must be signed by the key the
//! ledger's genesis record names and must match the records they cover, and a checkpoint
//! that is newer but covers less than an older one is a regression (a rollback).

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::ledger::GENESIS_KIND;
use crate::ledger::checkpoint::{self, CHECKPOINT_KIND};
use crate::ledger::frame::{self, Frame, Hash, LedgerId, ZERO_HASH};

/// One exported line as the receiver needs it. Other fields (`payload`, ECS extras) are
/// ignored, so re-serialization and enrichment do not matter.
#[derive(Debug, Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    ledger_id: std::borrow::Cow<'a, str>,
    seq: u64,
    #[serde(borrow)]
    ts_ns: TsNs<'a>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    prev_hash: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    hash: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    payload_b64: std::borrow::Cow<'a, str>,
}

/// `ts_ns` as exported (a string) or as a pipeline may have turned it (a number).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TsNs<'a> {
    Text(#[serde(borrow)] std::borrow::Cow<'a, str>),
    Number(i64),
}

#[derive(Debug, Clone)]
struct Entry {
    hash: Hash,
    prev: Hash,
    /// Kept for genesis and checkpoint records only.
    payload: Option<Vec<u8>>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Genesis,
    Checkpoint,
    Other,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Stable code: `malformed-line`, `bad-hash`, `broken-link`, `fork`, `gap`,
    /// `bad-signature`, `untrusted-checkpoint`, `checkpoint-mismatch`, `regression`.
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
    entries: BTreeMap<u64, Entry>,
    duplicates: u64,
    problems: Vec<Problem>,
}

/// Options for a receiver that knows more than the batches carry.
#[derive(Debug, Clone, Default)]
pub struct ReceiveOptions {
    /// Public key to trust when the genesis record is not among the batches (hex).
    pub public_key: Option<[u8; 32]>,
    /// Records before this sequence number were verified earlier: do not report them as a gap.
    pub start_seq: Option<u64>,
}

/// Collects lines from any number of batches, then checks them together.
#[derive(Debug, Default)]
pub struct Receiver {
    ledgers: HashMap<LedgerId, LedgerState>,
    lines: u64,
    problems: Vec<Problem>,
}

impl Receiver {
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// Adds one batch (NDJSON text). `source` names it in messages. Lines are parsed and
    /// hashed on all cores, then merged in order.
    pub fn add_batch(&mut self, text: &[u8], source: &str) {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let chunks = split_lines(text, threads);
        let parsed: Vec<Vec<Parsed>> = if chunks.len() <= 1 {
            chunks
                .iter()
                .map(|(offset, chunk)| parse_chunk(chunk, *offset))
                .collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunks
                    .iter()
                    .map(|(offset, chunk)| scope.spawn(move || parse_chunk(chunk, *offset)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        for item in parsed.into_iter().flatten() {
            self.lines += 1;
            match item {
                Parsed::Malformed { line, detail } => self.problems.push(Problem {
                    code: "malformed-line",
                    seq: None,
                    detail: format!("{source}:{line}: {detail}"),
                }),
                Parsed::BadHash { ledger_id, seq } => {
                    self.ledgers.entry(ledger_id).or_default().problems.push(Problem {
                        code: "bad-hash",
                        seq: Some(seq),
                        detail: format!(
                            "record {seq} does not hash to the hash it carries: its content was changed"
                        ),
                    })
                }
                Parsed::Record {
                    ledger_id,
                    seq,
                    entry,
                } => self.insert(ledger_id, seq, entry),
            }
        }
    }

    fn insert(&mut self, ledger_id: LedgerId, seq: u64, entry: Entry) {
        let state = self.ledgers.entry(ledger_id).or_default();
        match state.entries.get(&seq) {
            Some(existing) if existing.hash == entry.hash => state.duplicates += 1,
            Some(existing) => state.problems.push(Problem {
                code: "fork",
                seq: Some(seq),
                detail: format!(
                    "two different records claim seq {seq}: {} and {}",
                    short(&existing.hash),
                    short(&entry.hash)
                ),
            }),
            None => {
                state.entries.insert(seq, entry);
            }
        }
    }

    pub fn finish(self, options: &ReceiveOptions) -> Report {
        let mut ledgers = Vec::new();
        let mut intact = self.problems.is_empty();
        let mut ids: Vec<LedgerId> = self.ledgers.keys().copied().collect();
        ids.sort();
        for id in ids {
            let Some(state) = self.ledgers.get(&id) else {
                continue;
            };
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
        seq: u64,
        entry: Entry,
    },
    BadHash {
        ledger_id: LedgerId,
        seq: u64,
    },
    Malformed {
        line: usize,
        detail: String,
    },
}

/// Splits `text` into about `parts` pieces at line ends; each comes with the number of lines
/// before it, for messages.
fn split_lines(text: &[u8], parts: usize) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let target = text.len() / parts.max(1) + 1;
    let mut start = 0;
    let mut lines_before = 0;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        while end < text.len() && text[end - 1] != b'\n' {
            end += 1;
        }
        let chunk = &text[start..end];
        out.push((lines_before, chunk));
        lines_before += chunk.iter().filter(|b| **b == b'\n').count();
        start = end;
    }
    out
}

fn parse_chunk(chunk: &[u8], lines_before: usize) -> Vec<Parsed> {
    let mut out = Vec::new();
    for (index, raw) in chunk.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(parse_line(raw).unwrap_or_else(|detail| Parsed::Malformed {
            line: lines_before + index + 1,
            detail,
        }));
    }
    out
}

fn parse_line(raw: &[u8]) -> Result<Parsed, String> {
    let line: Line = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let ledger_id =
        frame::from_hex::<16>(&line.ledger_id).ok_or("ledger_id is not 32 hex digits")?;
    let ts_ns: i64 = match &line.ts_ns {
        TsNs::Text(t) => t.parse().map_err(|_| "ts_ns is not an integer")?,
        TsNs::Number(n) => *n,
    };
    let prev = frame::from_hex::<32>(&line.prev_hash).ok_or("prev_hash is not 64 hex digits")?;
    let claimed = frame::from_hex::<32>(&line.hash).ok_or("hash is not 64 hex digits")?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(line.payload_b64.as_bytes())
        .map_err(|_| "payload_b64 is not base64")?;
    let computed = Frame {
        ledger_id: &ledger_id,
        seq: line.seq,
        ts_ns,
        prev_hash: &prev,
        kind: &line.kind,
        payload: &payload,
    }
    .hash()
    .map_err(|e| e.to_string())?;
    if computed != claimed {
        return Ok(Parsed::BadHash {
            ledger_id,
            seq: line.seq,
        });
    }
    let kind = match line.kind.as_ref() {
        GENESIS_KIND => Kind::Genesis,
        CHECKPOINT_KIND => Kind::Checkpoint,
        _ => Kind::Other,
    };
    Ok(Parsed::Record {
        ledger_id,
        seq: line.seq,
        entry: Entry {
            hash: computed,
            prev,
            payload: (kind != Kind::Other).then_some(payload),
            kind,
        },
    })
}

fn short(hash: &Hash) -> String {
    frame::to_hex(&hash[..6])
}

fn check_ledger(id: &LedgerId, state: &LedgerState, options: &ReceiveOptions) -> LedgerReport {
    let mut problems = state.problems.clone();
    let first = state.entries.keys().next().copied().unwrap_or(0);
    let last = state.entries.keys().next_back().copied().unwrap_or(0);
    let start = options.start_seq.unwrap_or(1).max(1);
    // Gaps, including a missing beginning.
    let mut expected = start;
    let mut previous: Option<(u64, Hash)> = None;
    for (&seq, entry) in &state.entries {
        if seq < start {
            continue;
        }
        if seq > expected {
            problems.push(Problem {
                code: "gap",
                seq: Some(expected),
                detail: format!(
                    "records {expected}..={} are missing (withheld or lost in shipping)",
                    seq - 1
                ),
            });
        }
        match previous {
            Some((prev_seq, prev_hash)) if prev_seq + 1 == seq && entry.prev != prev_hash => {
                problems.push(Problem {
                    code: "broken-link",
                    seq: Some(seq),
                    detail: format!("record {seq} does not link to record {prev_seq}"),
                })
            }
            _ => {}
        }
        if seq == 1 && entry.prev != ZERO_HASH {
            problems.push(Problem {
                code: "broken-link",
                seq: Some(1),
                detail: "the first record does not start a chain".into(),
            });
        }
        previous = Some((seq, entry.hash));
        expected = seq + 1;
    }
    // Checkpoints: signature by the genesis key, agreement with the records they cover,
    // and no regression.
    let trusted = state
        .entries
        .get(&1)
        .filter(|e| e.kind == Kind::Genesis)
        .and_then(|e| e.payload.as_deref())
        .and_then(checkpoint::genesis_public_key)
        .or(options.public_key);
    let mut verified = 0;
    let mut last_checkpoint: Option<checkpoint::Claim> = None;
    let mut newest_by_time: Option<checkpoint::Claim> = None;
    for (&seq, entry) in state
        .entries
        .iter()
        .filter(|(_, e)| e.kind == Kind::Checkpoint)
    {
        let Some(key) = trusted.as_ref() else {
            problems.push(Problem {
                code: "untrusted-checkpoint",
                seq: Some(seq),
                detail: "no genesis record among the batches and no --public-key: the checkpoint's signature cannot be checked".into(),
            });
            continue;
        };
        let claim = match checkpoint::verify_payload(entry.payload.as_deref().unwrap_or(&[]), key) {
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
        if let Some(covered) = state.entries.get(&claim.seq)
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
    LedgerReport {
        ledger_id: frame::to_hex(id),
        records: state.entries.len() as u64,
        first_seq: first,
        last_seq: last,
        duplicates: state.duplicates,
        checkpoints_verified: verified,
        last_checkpoint: last_checkpoint.map(|c| CheckpointSeen {
            seq: c.seq,
            head: frame::to_hex(&c.head),
            time_ns: c.time_ns.to_string(),
        }),
        problems,
    }
}

/// The (seq, hash) pairs and checkpoint claims a shipped batch holds, for comparing a local
/// ledger against what left the machine (`verify --against`).
pub struct Shipped {
    pub ledger_id: Option<LedgerId>,
    pub records: BTreeMap<u64, Hash>,
    pub claims: Vec<(u64, Hash)>,
    pub malformed: u64,
}

pub fn read_shipped(text: &[u8]) -> Shipped {
    let mut receiver = Receiver::new();
    receiver.add_batch(text, "shipped");
    let malformed = receiver.problems.len() as u64;
    let mut shipped = Shipped {
        ledger_id: None,
        records: BTreeMap::new(),
        claims: Vec::new(),
        malformed,
    };
    for (id, state) in receiver.ledgers {
        shipped.ledger_id = Some(id);
        for (seq, entry) in state.entries {
            shipped.records.insert(seq, entry.hash);
            if entry.kind == Kind::Checkpoint
                && let Some(payload) = &entry.payload
                && let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload)
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
