//! Resumable verification, one batch at a time, for a receiver that keeps what it verified (the
//! fleet server): the same checks as [`super::Receiver`] (hash recomputation, links, gaps,
//! forks, regressions, signatures, signed prunes, implausible checkpoint times, silence) with
//! the same [`ProblemCode`]s, but against a small per-ledger [`LedgerState`] carried from one
//! batch to the next instead of every line held at once.
//!
//! A batch is verified in two steps so the caller can do its own I/O in between:
//! [`ParsedBatch::parse`] reads the lines (hashes recomputed, exactly as `verify-export` reads
//! them), [`ParsedBatch::stored_seqs_wanted`] names the already-stored seqs the batch repeats,
//! and [`verify_batch`] judges the batch given their stored hashes.
//!
//! Differences from the batch receiver, by construction: records before `next_seq` are compared
//! with what the caller stored (a resend is a duplicate, another hash a fork that rewrites
//! history); a gap is judged at the end of the batch in which it appears, excused only by a
//! signed prune in that same batch (hookledger prunes only what a sink acknowledged, so a
//! receiver that has been fed from the start never sees a pruned gap at all).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::short;
use super::input::{Parsed, parse_line};
use super::{CheckpointSeen, Problem, ProblemCode, Role};
use crate::checkpoint::{self, Claim};
use crate::frame::{self, Hash, LedgerId, ZERO_HASH};
use crate::prune::{Excuses, PruneRecord, PrunedRange};

/// Problems kept per batch; past this only [`BatchOutcome::problem_count`] grows, so a hostile
/// batch cannot make the findings table grow without bound.
pub const MAX_BATCH_PROBLEMS: usize = 200;

/// What a receiver remembers about one ledger between batches. Serializable (JSON), so it can
/// be stored beside the records in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerState {
    /// 32 hex digits.
    pub ledger_id: String,
    /// The Ed25519 key the genesis record named (64 hex digits), pinned at first sight.
    #[serde(default)]
    pub public_key: Option<String>,
    /// The next seq that does not open a gap.
    pub next_seq: u64,
    /// Hash of record `next_seq - 1` when it verified; `None` before the first record or after
    /// a record that did not verify (the next link cannot be checked).
    #[serde(default)]
    pub last_hash: Option<String>,
    #[serde(default)]
    pub last_checkpoint: Option<CheckpointSeen>,
    /// The newest checkpoint whose time is plausible: what silence is measured from.
    #[serde(default)]
    pub newest_plausible_checkpoint: Option<CheckpointSeen>,
    #[serde(default)]
    pub pruned: Vec<PrunedRange>,
    #[serde(default)]
    pub records: u64,
    #[serde(default)]
    pub checkpoints_verified: u64,
    /// The receiver's clock at the last batch (nanoseconds).
    #[serde(default)]
    pub last_seen_ns: i64,
    /// Gaps reported and not closed yet: a later batch can fill them (records shipped late)
    /// or excuse them (a signed prune that arrived later). At most [`MAX_OPEN_GAPS`].
    #[serde(default)]
    pub open_gaps: Vec<OpenGap>,
}

/// Open gaps kept per ledger; past this a new gap is still reported but can no longer be
/// closed (it stays a finding: the safe side).
pub const MAX_OPEN_GAPS: usize = 1024;

/// Part of a reported gap still missing, and the record right after it (whose `prev_hash` a
/// late record at `last` must hash to, and which anchors a prune of the range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenGap {
    pub first: u64,
    pub last: u64,
    /// The first seq of the gap as reported (the `gap` finding's seq).
    pub reported: u64,
    pub anchor_seq: u64,
    pub anchor_prev: String,
    pub anchor_hash: String,
    /// The anchor's checkpoint claim (seq, head), when it is a checkpoint whose signature held.
    #[serde(default)]
    pub anchor_claim: Option<(u64, String)>,
}

impl LedgerState {
    /// A ledger never seen before.
    pub fn new(id: &LedgerId) -> LedgerState {
        LedgerState {
            ledger_id: frame::to_hex(id),
            public_key: None,
            next_seq: 1,
            last_hash: None,
            last_checkpoint: None,
            newest_plausible_checkpoint: None,
            pruned: Vec::new(),
            records: 0,
            checkpoints_verified: 0,
            last_seen_ns: 0,
            open_gaps: Vec::new(),
        }
    }

    pub fn id(&self) -> Option<LedgerId> {
        frame::from_hex::<16>(&self.ledger_id)
    }

    pub fn key(&self) -> Option<[u8; 32]> {
        self.public_key.as_deref().and_then(frame::from_hex::<32>)
    }

    fn last(&self) -> Option<Hash> {
        self.last_hash.as_deref().and_then(frame::from_hex::<32>)
    }
}

/// One line of a batch as read.
#[derive(Debug)]
enum Line {
    Record(crate::StoredRecord, Role),
    Rejected {
        seq: u64,
        code: ProblemCode,
        detail: String,
    },
}

/// A batch's lines, read and hashed, per ledger.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    lines: Vec<(LedgerId, Line)>,
    /// Lines that are not export records at all: (line number, why).
    pub malformed: Vec<(usize, String)>,
}

impl ParsedBatch {
    /// Reads every line of `text` (native, re-serialized, ECS or OCSF lines, as
    /// `verify-export` reads them).
    pub fn parse(text: &[u8]) -> ParsedBatch {
        let mut out = ParsedBatch::default();
        for (index, raw) in text.split(|b| *b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_line(raw, true) {
                Ok(Parsed::Record(record)) => {
                    let kept = record.extra.and_then(|extra| extra.kept);
                    if let Some(kept) = kept {
                        out.lines
                            .push((record.ledger_id, Line::Record(kept, record.kind)));
                    }
                }
                Ok(Parsed::Rejected {
                    ledger_id,
                    seq,
                    code,
                    detail,
                }) => out
                    .lines
                    .push((ledger_id, Line::Rejected { seq, code, detail })),
                Ok(Parsed::Malformed { detail, .. }) | Err(detail) => {
                    out.malformed.push((index + 1, detail));
                }
            }
        }
        out
    }

    /// The ledgers the batch's lines name, in order of first appearance.
    pub fn ledger_ids(&self) -> Vec<LedgerId> {
        let mut ids: Vec<LedgerId> = Vec::new();
        for (id, _) in &self.lines {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        ids
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.malformed.is_empty()
    }

    /// The seqs of `ledger` in this batch that lie before `state.next_seq`, and the seqs right
    /// before them (for the link check), whose stored hashes [`verify_batch`] needs.
    pub fn stored_seqs_wanted(&self, ledger: &LedgerId, state: &LedgerState) -> Vec<u64> {
        let mut wanted: Vec<u64> = Vec::new();
        for (id, line) in &self.lines {
            if id != ledger {
                continue;
            }
            let seq = match line {
                Line::Record(r, _) => r.seq,
                Line::Rejected { seq, .. } => *seq,
            };
            if seq < state.next_seq {
                wanted.push(seq);
                if seq > 1 {
                    wanted.push(seq - 1);
                }
            }
            if let Line::Record(r, Role::Checkpoint) = line
                && let Some(claimed) = claimed_seq(&r.payload)
                && claimed < state.next_seq
            {
                wanted.push(claimed);
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        wanted
    }
}

fn claimed_seq(payload: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    value["covers"]["seq"].as_u64()
}

/// Why a receiver that keeps what it verified (the fleet server) refuses a whole batch: the
/// one-line reason of its 4xx answer starts with the code, and the refusals that concern a known
/// machine are kept as its findings beside the [`ProblemCode`]s. Stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalCode {
    /// No `Authorization: Bearer` token, or one no machine was enrolled with.
    UnknownToken,
    /// The machine's enrollment was revoked.
    RevokedToken,
    /// The batch names a ledger other than the one pinned to the machine (or several ledgers,
    /// or a ledger another machine holds).
    OtherLedger,
    /// The batch contradicts records already received (a fork at a stored seq): nothing from it
    /// is kept.
    RewritesHistory,
    /// A line of the batch is not an export record: nothing from it is kept.
    MalformedBatch,
    /// The body is larger than the receiver accepts.
    OversizedBatch,
}

impl RefusalCode {
    pub const ALL: &[RefusalCode] = &[
        RefusalCode::UnknownToken,
        RefusalCode::RevokedToken,
        RefusalCode::OtherLedger,
        RefusalCode::RewritesHistory,
        RefusalCode::MalformedBatch,
        RefusalCode::OversizedBatch,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusalCode::UnknownToken => "unknown-token",
            RefusalCode::RevokedToken => "revoked-token",
            RefusalCode::OtherLedger => "other-ledger",
            RefusalCode::RewritesHistory => "rewrites-history",
            RefusalCode::MalformedBatch => "malformed-batch",
            RefusalCode::OversizedBatch => "oversized-batch",
        }
    }
}

impl std::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the fleet receiver alerts on inside verified records (not chain problems: they never
/// make a machine's chain status broken). Kept as the machine's findings. Stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentCode {
    /// A policy decision with `action: deny` (the rule code is kept beside it).
    PolicyRefusal,
    /// A record with DLP findings (`secret_findings`) or a `content-secret` decision.
    DlpFinding,
    /// A session started with Claude Code's OS sandbox explicitly disabled or not enforced.
    SandboxOff,
    /// A session started with a hook lock-down setting explicitly false.
    LockdownOff,
}

impl ContentCode {
    pub const ALL: &[ContentCode] = &[
        ContentCode::PolicyRefusal,
        ContentCode::DlpFinding,
        ContentCode::SandboxOff,
        ContentCode::LockdownOff,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ContentCode::PolicyRefusal => "policy-refusal",
            ContentCode::DlpFinding => "dlp-finding",
            ContentCode::SandboxOff => "sandbox-off",
            ContentCode::LockdownOff => "lockdown-off",
        }
    }
}

impl std::fmt::Display for ContentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The receiver's clock and tolerance.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now_ns: i64,
    pub clock_skew_ns: i64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            now_ns: crate::now_ns(),
            clock_skew_ns: checkpoint::CLOCK_SKEW_NS,
        }
    }
}

/// What one batch did to one ledger.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub state: LedgerState,
    /// Records whose hash verified and that are new: what the receiver stores. A record that
    /// did not verify is never among them (its problem says why).
    pub accepted: Vec<crate::StoredRecord>,
    /// Records the receiver already holds with the same hash (a resend).
    pub duplicates: u64,
    /// Problems found, in seq order; at most [`MAX_BATCH_PROBLEMS`].
    pub problems: Vec<Problem>,
    pub problem_count: u64,
    /// The batch contradicts records already stored (a fork at a stored seq): a receiver keeps
    /// nothing from it.
    pub rewrites_history: bool,
    /// Gaps reported by earlier batches that this one closed: (the gap finding's seq, how).
    pub resolved_gaps: Vec<(u64, GapClosed)>,
}

/// How an earlier batch's gap was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapClosed {
    /// Every missing record arrived late, verified and linked.
    Filled,
    /// A signed prune that arrived later states the removal, anchored by the record after it.
    Pruned,
}

impl BatchOutcome {
    fn push(&mut self, code: ProblemCode, seq: Option<u64>, detail: String) {
        if code == ProblemCode::Fork {
            self.rewrites_history = true;
        }
        self.problem_count += 1;
        if self.problems.len() < MAX_BATCH_PROBLEMS {
            self.problems.push(Problem { code, seq, detail });
        }
    }
}

struct PendingGap {
    first: u64,
    last: u64,
    after: Option<(u64, Hash, Hash, Option<Claim>)>,
}

/// Verifies `ledger`'s lines of `batch` against `state`. `stored` holds the hashes of records
/// already kept, for the seqs [`ParsedBatch::stored_seqs_wanted`] named (absent: never
/// stored). Pure: the caller stores `accepted`, the new state and the problems together.
pub fn verify_batch(
    state: &LedgerState,
    batch: &ParsedBatch,
    ledger: &LedgerId,
    stored: &BTreeMap<u64, Hash>,
    clock: Clock,
) -> BatchOutcome {
    let mut out = BatchOutcome {
        state: state.clone(),
        accepted: Vec::new(),
        duplicates: 0,
        problems: Vec::new(),
        problem_count: 0,
        rewrites_history: false,
        resolved_gaps: Vec::new(),
    };
    let mut lines: Vec<&Line> = batch
        .lines
        .iter()
        .filter(|(id, _)| id == ledger)
        .map(|(_, line)| line)
        .collect();
    // Seq order; a stable sort keeps the first copy of a seq first, as the batch receiver does.
    lines.sort_by_key(|line| match line {
        Line::Record(r, _) => r.seq,
        Line::Rejected { seq, .. } => *seq,
    });
    let mut trusted = state.key();
    let mut last = state.last();
    let mut next = state.next_seq.max(1);
    let mut newest = state.newest_plausible_checkpoint.clone();
    // Hashes seen in this batch, for repeats inside it and far checkpoint claims.
    let mut seen: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut gaps: Vec<PendingGap> = Vec::new();
    let mut statements = Vec::new();
    let mut bad_prunes: Vec<PruneRecord> = Vec::new();
    // Records before `state.next_seq` that were never stored: late arrivals into open gaps.
    let mut fillers: Vec<&crate::StoredRecord> = Vec::new();
    for line in lines {
        let (record, role) = match line {
            Line::Rejected { seq, code, detail } => {
                out.push(*code, Some(*seq), detail.clone());
                if *seq >= next {
                    if *seq > next {
                        gaps.push(PendingGap {
                            first: next,
                            last: seq - 1,
                            after: None,
                        });
                    }
                    next = seq + 1;
                    last = None;
                }
                continue;
            }
            Line::Record(record, role) => (record, *role),
        };
        let seq = record.seq;
        // A repeat: of a record stored earlier, or of one earlier in this batch.
        let earlier = seen
            .get(&seq)
            .copied()
            .or_else(|| (seq < next).then(|| stored.get(&seq).copied()).flatten());
        if let Some(earlier) = earlier {
            if earlier == record.hash {
                out.duplicates += 1;
            } else {
                out.push(
                    ProblemCode::Fork,
                    Some(seq),
                    format!(
                        "two different records claim seq {seq}: {} (received earlier) and {}",
                        short(&earlier),
                        short(&record.hash)
                    ),
                );
            }
            continue;
        }
        if seq == 1
            && role == Role::Genesis
            && let Some(key) = checkpoint::genesis_public_key(&record.payload)
        {
            trusted = Some(key);
        }
        // The hash of the record before this one, when known.
        let before = if seq == next {
            last
        } else {
            seen.get(&(seq.wrapping_sub(1)))
                .or_else(|| stored.get(&seq.wrapping_sub(1)))
                .copied()
        };
        let claim = match role {
            Role::Checkpoint => checkpoint_claim(
                &mut out,
                record,
                trusted.as_ref(),
                ledger,
                (before, &seen, stored),
                &mut newest,
                clock,
            ),
            Role::Prune => {
                let judged = PruneRecord::judge(seq, &record.payload, ledger, trusted.as_ref());
                match &judged.verdict {
                    Ok(statement) => statements.push(statement.clone()),
                    Err(_) => bad_prunes.push(judged),
                }
                None
            }
            _ => None,
        };
        if seq > next {
            gaps.push(PendingGap {
                first: next,
                last: seq - 1,
                after: Some((seq, record.hash, record.prev_hash, claim)),
            });
        }
        if let Some(before) = before
            && seq > 1
            && record.prev_hash != before
        {
            out.push(
                ProblemCode::BrokenLink,
                Some(seq),
                format!("record {seq} does not link to record {}", seq - 1),
            );
        }
        if seq == 1 && record.prev_hash != ZERO_HASH {
            out.push(
                ProblemCode::BrokenLink,
                Some(1),
                "the first record does not start a chain".into(),
            );
        }
        if seq < state.next_seq {
            fillers.push(record);
        }
        if seq >= next {
            next = seq + 1;
            last = Some(record.hash);
        }
        seen.insert(seq, record.hash);
        out.accepted.push(record.clone());
    }
    let excuses = Excuses::new(statements);
    for judged in bad_prunes {
        if let Err(why) = &judged.verdict
            && !judged.claimed.is_some_and(|range| excuses.states(&range))
        {
            out.push(
                ProblemCode::BadPrune,
                Some(judged.seq),
                format!(
                    "the prune record at seq {} excuses no gap: {why}",
                    judged.seq
                ),
            );
        }
    }
    close_open_gaps(&mut out, state, &fillers, &excuses, ledger);
    for gap in gaps {
        let excused = gap.after.as_ref().and_then(|(seq, hash, prev, claim)| {
            let chain = excuses.covering(gap.first, gap.last)?;
            chain
                .last()?
                .anchored_by(*seq, prev, hash, claim.as_ref())
                .then(|| chain.iter().map(|s| s.range()).collect::<Vec<_>>())
        });
        match excused {
            Some(ranges) => out.state.pruned.extend(ranges),
            None => {
                out.push(
                    ProblemCode::Gap,
                    Some(gap.first),
                    format!(
                        "records {}..={} are missing (withheld or lost in shipping)",
                        gap.first, gap.last
                    ),
                );
                if let Some((seq, hash, prev, claim)) = &gap.after
                    && out.state.open_gaps.len() < MAX_OPEN_GAPS
                {
                    out.state.open_gaps.push(OpenGap {
                        first: gap.first,
                        last: gap.last,
                        reported: gap.first,
                        anchor_seq: *seq,
                        anchor_prev: frame::to_hex(prev),
                        anchor_hash: frame::to_hex(hash),
                        anchor_claim: claim.as_ref().map(|c| (c.seq, frame::to_hex(&c.head))),
                    });
                }
            }
        }
    }
    out.problems
        .sort_by_key(|p| p.seq.map_or((1, 0), |s| (0, s)));
    if out.rewrites_history {
        // Nothing from a batch that rewrites history is kept, the state included.
        out.accepted.clear();
        out.state = state.clone();
        out.state.last_seen_ns = clock.now_ns;
        return out;
    }
    out.state.public_key = trusted.map(|k| frame::to_hex(&k));
    out.state.next_seq = next;
    out.state.last_hash = last.map(|h| frame::to_hex(&h));
    out.state.newest_plausible_checkpoint = newest;
    out.state.records += out.accepted.len() as u64;
    out.state.last_seen_ns = clock.now_ns;
    out
}

/// Closes what it can of the gaps earlier batches left open: a late record shrinks its gap
/// (split in two when it lands inside; the record at a gap's end must be the one the record
/// after the gap links to, else it is a broken link), and a signed prune in this batch that
/// states a whole remaining gap, anchored by the record after it, excuses it. A gap finding is
/// resolved when nothing of its gap is left open.
fn close_open_gaps(
    out: &mut BatchOutcome,
    state: &LedgerState,
    fillers: &[&crate::StoredRecord],
    excuses: &Excuses,
    ledger: &LedgerId,
) {
    if state.open_gaps.is_empty() {
        return;
    }
    let mut open = state.open_gaps.clone();
    for record in fillers {
        let seq = record.seq;
        let Some(at) = open.iter().position(|g| g.first <= seq && seq <= g.last) else {
            continue;
        };
        let gap = open.remove(at);
        if seq == gap.last && frame::to_hex(&record.hash) != gap.anchor_prev {
            out.push(
                ProblemCode::BrokenLink,
                Some(gap.anchor_seq),
                format!(
                    "record {} does not link to record {seq}, which arrived late",
                    gap.anchor_seq
                ),
            );
        }
        if seq > gap.first {
            // The record just received anchors what is still missing before it.
            open.push(OpenGap {
                last: seq - 1,
                anchor_seq: seq,
                anchor_prev: frame::to_hex(&record.prev_hash),
                anchor_hash: frame::to_hex(&record.hash),
                anchor_claim: None,
                ..gap.clone()
            });
        }
        if seq < gap.last {
            open.push(OpenGap {
                first: seq + 1,
                ..gap
            });
        }
    }
    let mut pruned_reported = Vec::new();
    open.retain(|gap| {
        let (Some(prev), Some(hash)) = (
            frame::from_hex::<32>(&gap.anchor_prev),
            frame::from_hex::<32>(&gap.anchor_hash),
        ) else {
            return true;
        };
        let claim = gap.anchor_claim.as_ref().and_then(|(seq, head)| {
            Some(Claim {
                ledger_id: *ledger,
                seq: *seq,
                head: frame::from_hex::<32>(head)?,
                time_ns: 0,
            })
        });
        let Some(chain) = excuses.covering(gap.first, gap.last) else {
            return true;
        };
        let anchored = chain
            .last()
            .is_some_and(|s| s.anchored_by(gap.anchor_seq, &prev, &hash, claim.as_ref()));
        if anchored {
            out.state.pruned.extend(chain.iter().map(|s| s.range()));
            pruned_reported.push(gap.reported);
        }
        !anchored
    });
    let mut reported: Vec<u64> = state.open_gaps.iter().map(|g| g.reported).collect();
    reported.sort_unstable();
    reported.dedup();
    for first in reported {
        if open.iter().any(|g| g.reported == first) {
            continue;
        }
        let how = if pruned_reported.contains(&first) {
            GapClosed::Pruned
        } else {
            GapClosed::Filled
        };
        out.resolved_gaps.push((first, how));
    }
    open.sort_by_key(|g| g.first);
    out.state.open_gaps = open;
}

/// Checks a checkpoint record as the batch receiver does: signed by the trusted key, about
/// this ledger and an earlier record, agreeing with the covered record when it is known, a
/// plausible time, no regression. Returns its claim when the signature holds.
fn checkpoint_claim(
    out: &mut BatchOutcome,
    record: &crate::StoredRecord,
    trusted: Option<&[u8; 32]>,
    ledger: &LedgerId,
    (before, seen, stored): (Option<Hash>, &BTreeMap<u64, Hash>, &BTreeMap<u64, Hash>),
    newest: &mut Option<CheckpointSeen>,
    clock: Clock,
) -> Option<Claim> {
    let seq = record.seq;
    let Some(key) = trusted else {
        out.push(
            ProblemCode::UntrustedCheckpoint,
            Some(seq),
            "no genesis record received for this ledger: the checkpoint's signature cannot be checked".into(),
        );
        return None;
    };
    let claim = match checkpoint::verify_payload(&record.payload, key) {
        Ok(c) => c,
        Err(e) => {
            out.push(
                ProblemCode::BadSignature,
                Some(seq),
                format!("checkpoint at seq {seq}: {e}"),
            );
            return None;
        }
    };
    if claim.ledger_id != *ledger || claim.seq >= seq {
        out.push(
            ProblemCode::CheckpointMismatch,
            Some(seq),
            format!("checkpoint at seq {seq} claims another ledger or a later record"),
        );
        return None;
    }
    let covered = if claim.seq + 1 == seq {
        before
    } else {
        seen.get(&claim.seq)
            .or_else(|| stored.get(&claim.seq))
            .copied()
    };
    if let Some(covered) = covered
        && covered != claim.head
    {
        out.push(
            ProblemCode::CheckpointMismatch,
            Some(claim.seq),
            format!(
                "the checkpoint at seq {seq} signed head {} for record {}, but the record received has {}",
                short(&claim.head),
                claim.seq,
                short(&covered)
            ),
        );
    }
    if checkpoint::is_future(claim.time_ns, clock.now_ns, clock.clock_skew_ns) {
        out.push(
            ProblemCode::FutureCheckpoint,
            Some(seq),
            format!(
                "the checkpoint at seq {seq} is signed with time {}, {} after this receiver's clock (more than the {} allowed): it was made under a wrong or faked clock and does not count as proof of life",
                crate::export::rfc3339(claim.time_ns),
                crate::export::human_duration(claim.time_ns.saturating_sub(clock.now_ns)),
                crate::export::human_duration(clock.clock_skew_ns)
            ),
        );
    } else {
        let newest_time = newest
            .as_ref()
            .and_then(|n| n.time_ns.parse::<i64>().ok().map(|t| (t, n.seq)));
        if let Some((time, newest_seq)) = newest_time
            && claim.time_ns > time
            && claim.seq < newest_seq
        {
            out.push(
                ProblemCode::Regression,
                Some(seq),
                format!(
                    "a newer checkpoint covers less (seq {}) than an older one (seq {newest_seq}): the ledger was rolled back",
                    claim.seq
                ),
            );
        }
        if newest_time.is_none_or(|(time, _)| claim.time_ns > time) {
            *newest = Some(CheckpointSeen::of(&claim));
        }
    }
    out.state.checkpoints_verified += 1;
    out.state.last_checkpoint = Some(CheckpointSeen::of(&claim));
    Some(claim)
}

/// The `silent` problem for a ledger whose newest plausible checkpoint is older than
/// `max_silence_ns` at `now_ns` (or that has none), worded as the batch receiver words it.
pub fn silence(state: &LedgerState, now_ns: i64, max_silence_ns: i64) -> Option<Problem> {
    let newest = state
        .newest_plausible_checkpoint
        .as_ref()
        .and_then(|c| c.time_ns.parse::<i64>().ok());
    if newest.is_some_and(|t| now_ns.saturating_sub(t) <= max_silence_ns) {
        return None;
    }
    let detail = match newest {
        Some(t) => format!(
            "the newest plausible signed checkpoint is {} old (more than the {} allowed): the ledger stopped shipping, or its exporter stopped running",
            crate::export::human_duration(now_ns.saturating_sub(t)),
            crate::export::human_duration(max_silence_ns)
        ),
        None if state.checkpoints_verified > 0 => {
            "every verified checkpoint is dated in the future: nothing proves the ledger is alive"
                .into()
        }
        None => "no verified checkpoint at all: nothing proves the ledger is alive".into(),
    };
    Some(Problem {
        code: ProblemCode::Silent,
        seq: None,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::receive::{ReceiveOptions, Receiver};
    use crate::export::{Format, WriteOptions, write_records};
    use crate::{Ledger, NewRecord, OpenOptions, canonical_json};

    /// A ledger of `n` tool calls with a checkpoint every 16 records, exported as native lines.
    fn ledger(dir: &std::path::Path, name: &str, n: u64) -> (Ledger, LedgerId) {
        let options = OpenOptions {
            checkpoint_every: 16,
            ..OpenOptions::default()
        };
        let mut ledger = Ledger::open(&dir.join(name), &options).unwrap();
        append(&mut ledger, 0, n);
        let id = *ledger.ledger_id();
        (ledger, id)
    }

    fn append(ledger: &mut Ledger, from: u64, n: u64) {
        let records: Vec<NewRecord> = (from..from + n)
            .map(|i| NewRecord {
                ts_ns: crate::now_ns(),
                kind: "tool-call".into(),
                payload: canonical_json(&serde_json::json!({"i": i, "tool": "Bash"})),
            })
            .collect();
        for chunk in records.chunks(5) {
            ledger.append(chunk).unwrap();
        }
    }

    fn export(ledger: &Ledger) -> Vec<Vec<u8>> {
        let (head, _) = ledger.head().unwrap();
        let mut text = Vec::new();
        let options = WriteOptions {
            format: Format::Native,
            payload_b64: false,
        };
        write_records(ledger, 1, head, options, &mut text).unwrap();
        text.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| [l, b"\n"].concat())
            .collect()
    }

    /// The codes the batch receiver finds in `lines` (all at once).
    fn batch_codes(lines: &[Vec<u8>], clock: Clock) -> Vec<(ProblemCode, Option<u64>)> {
        let mut receiver = Receiver::new();
        receiver.add_batch(&lines.concat(), "b").unwrap();
        let report = receiver
            .finish(&ReceiveOptions {
                now_ns: clock.now_ns,
                clock_skew_ns: clock.clock_skew_ns,
                ..ReceiveOptions::default()
            })
            .unwrap();
        let mut codes: Vec<_> = report
            .ledgers
            .iter()
            .flat_map(|l| l.problems.iter().map(|p| (p.code, p.seq)))
            .collect();
        codes.sort();
        codes
    }

    /// Codes found, the final state, and the stand-in store (seq → hash).
    type Incremental = (
        Vec<(ProblemCode, Option<u64>)>,
        LedgerState,
        BTreeMap<u64, Hash>,
    );

    /// The codes the incremental verifier finds in `lines` sent in batches of `size`, the
    /// records it stored in between standing in for a receiver's store.
    fn incremental_codes(lines: &[Vec<u8>], size: usize, clock: Clock) -> Incremental {
        let mut states: BTreeMap<LedgerId, LedgerState> = BTreeMap::new();
        let mut store: BTreeMap<u64, Hash> = BTreeMap::new();
        let mut codes = Vec::new();
        for chunk in lines.chunks(size) {
            let batch = ParsedBatch::parse(&chunk.concat());
            assert!(batch.malformed.is_empty());
            for id in batch.ledger_ids() {
                let state = states.entry(id).or_insert_with(|| LedgerState::new(&id));
                let wanted = batch.stored_seqs_wanted(&id, state);
                let known: BTreeMap<u64, Hash> = wanted
                    .iter()
                    .filter_map(|s| store.get(s).map(|h| (*s, *h)))
                    .collect();
                let outcome = verify_batch(state, &batch, &id, &known, clock);
                codes.extend(outcome.problems.iter().map(|p| (p.code, p.seq)));
                for r in &outcome.accepted {
                    assert!(
                        store.insert(r.seq, r.hash).is_none(),
                        "stored twice: {}",
                        r.seq
                    );
                }
                *state = outcome.state;
            }
        }
        codes.sort();
        let state = states.into_values().next().unwrap();
        (codes, state, store)
    }

    fn same_codes(lines: &[Vec<u8>], clock: Clock) -> Vec<(ProblemCode, Option<u64>)> {
        let expected = batch_codes(lines, clock);
        for size in [1, 3, 7, 64, lines.len()] {
            let (got, _, _) = incremental_codes(lines, size, clock);
            assert_eq!(got, expected, "batches of {size}");
        }
        expected
    }

    #[test]
    fn a_clean_ledger_verifies_in_any_batch_size_and_resends_are_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = ledger(dir.path(), "a.db", 60);
        let lines = export(&ledger);
        assert!(same_codes(&lines, Clock::default()).is_empty());
        // Every batch sent twice: nothing new stored, nothing found.
        let doubled: Vec<Vec<u8>> = lines
            .chunks(9)
            .flat_map(|c| c.iter().chain(c.iter()).cloned())
            .collect();
        let (codes, state, store) = incremental_codes(&doubled, 9, Clock::default());
        assert!(codes.is_empty(), "{codes:?}");
        assert_eq!(store.len(), lines.len());
        assert_eq!(state.next_seq, lines.len() as u64 + 1);
        assert!(state.checkpoints_verified >= 3);
        assert!(state.public_key.is_some());
        assert!(silence(&state, crate::now_ns(), 3_600_000_000_000).is_none());
        assert!(
            silence(
                &state,
                crate::now_ns() + 7_200_000_000_000,
                3_600_000_000_000
            )
            .is_some()
        );
    }

    #[test]
    fn an_edited_record_is_a_bad_hash_and_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = ledger(dir.path(), "a.db", 40);
        let mut lines = export(&ledger);
        let edited = String::from_utf8(lines[9].clone())
            .unwrap()
            .replace("\"Bash\"", "\"Read\"");
        assert_ne!(edited.as_bytes(), &lines[9][..]);
        lines[9] = edited.into_bytes();
        let codes = same_codes(&lines, Clock::default());
        assert_eq!(codes, vec![(ProblemCode::BadHash, Some(10))]);
        let (_, _, store) = incremental_codes(&lines, 8, Clock::default());
        assert!(!store.contains_key(&10));
    }

    #[test]
    fn withheld_records_are_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = ledger(dir.path(), "a.db", 40);
        let mut lines = export(&ledger);
        lines.drain(11..14);
        let codes = same_codes(&lines, Clock::default());
        assert_eq!(codes, vec![(ProblemCode::Gap, Some(12))]);
    }

    #[test]
    fn a_restored_copy_that_goes_on_is_a_fork_and_rewrites_history() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, id) = ledger(dir.path(), "a.db", 20);
        drop(ledger);
        for suffix in ["", "-wal", "-shm"] {
            let from = dir.path().join(format!("a.db{suffix}"));
            if from.exists() {
                std::fs::copy(from, dir.path().join(format!("b.db{suffix}"))).unwrap();
            }
        }
        ledger = Ledger::open(&dir.path().join("a.db"), &OpenOptions::default()).unwrap();
        append(&mut ledger, 100, 10);
        let first = export(&ledger);
        let mut restored = Ledger::open(&dir.path().join("b.db"), &OpenOptions::default()).unwrap();
        assert_eq!(*restored.ledger_id(), id);
        append(&mut restored, 200, 10);
        let second = export(&restored);
        let lines: Vec<Vec<u8>> = first.iter().chain(second.iter()).cloned().collect();
        let codes = same_codes(&lines, Clock::default());
        assert!(!codes.is_empty() && codes.iter().all(|(c, _)| *c == ProblemCode::Fork));
        // The second copy, sent as one batch after the first was stored: refused whole.
        let (_, state, store) = incremental_codes(&first, first.len(), Clock::default());
        let batch = ParsedBatch::parse(&second.concat());
        let wanted = batch.stored_seqs_wanted(&id, &state);
        let known = wanted
            .iter()
            .filter_map(|s| store.get(s).map(|h| (*s, *h)))
            .collect();
        let outcome = verify_batch(&state, &batch, &id, &known, Clock::default());
        assert!(outcome.rewrites_history);
        assert!(outcome.accepted.is_empty());
        assert_eq!(outcome.state.next_seq, state.next_seq);
    }

    /// One batch through the verifier against `store` (seq → hash), which it updates.
    fn step(
        state: &LedgerState,
        lines: &[Vec<u8>],
        store: &mut BTreeMap<u64, Hash>,
    ) -> BatchOutcome {
        let batch = ParsedBatch::parse(&lines.concat());
        let id = batch.ledger_ids()[0];
        let wanted = batch.stored_seqs_wanted(&id, state);
        let known: BTreeMap<u64, Hash> = wanted
            .iter()
            .filter_map(|s| store.get(s).map(|h| (*s, *h)))
            .collect();
        let outcome = verify_batch(state, &batch, &id, &known, Clock::default());
        for r in &outcome.accepted {
            assert!(
                store.insert(r.seq, r.hash).is_none(),
                "stored twice: {}",
                r.seq
            );
        }
        outcome
    }

    fn codes_of(outcome: &BatchOutcome) -> Vec<(ProblemCode, Option<u64>)> {
        outcome.problems.iter().map(|p| (p.code, p.seq)).collect()
    }

    #[test]
    fn late_records_fill_a_gap_and_close_it() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, id) = ledger(dir.path(), "a.db", 40);
        let lines = export(&ledger);
        let mut store = BTreeMap::new();
        // 1..=10, then 16..: records 11..=15 are late.
        let first = step(&LedgerState::new(&id), &lines[..10], &mut store);
        assert!(first.problems.is_empty());
        let second = step(&first.state, &lines[15..], &mut store);
        assert_eq!(codes_of(&second), vec![(ProblemCode::Gap, Some(11))]);
        assert_eq!(second.state.open_gaps.len(), 1);
        // 13 alone: still open (11..=12 and 14..=15), no new problem.
        let third = step(&second.state, &lines[12..13], &mut store);
        assert!(third.problems.is_empty(), "{:?}", third.problems);
        assert!(third.resolved_gaps.is_empty());
        assert_eq!(third.state.open_gaps.len(), 2);
        // The rest: closed, filled.
        let fourth = step(
            &third.state,
            &[&lines[10..12], &lines[13..15]].concat(),
            &mut store,
        );
        assert!(fourth.problems.is_empty(), "{:?}", fourth.problems);
        assert_eq!(fourth.resolved_gaps, vec![(11, GapClosed::Filled)]);
        assert!(fourth.state.open_gaps.is_empty());
        assert_eq!(store.len(), lines.len());
        // The same records all at once: the batch receiver finds nothing either.
        assert!(batch_codes(&lines, Clock::default()).is_empty());
    }

    #[test]
    fn a_late_record_that_does_not_link_leaves_the_gap_broken() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, id) = ledger(dir.path(), "a.db", 30);
        let (other, _) = self::ledger(dir.path(), "b.db", 30);
        let lines = export(&ledger);
        let mut store = BTreeMap::new();
        let first = step(&LedgerState::new(&id), &lines[..10], &mut store);
        let second = step(&first.state, &lines[11..], &mut store);
        assert_eq!(codes_of(&second), vec![(ProblemCode::Gap, Some(11))]);
        // Record 11 of another ledger, its ledger id rewritten: another hash, so it verifies
        // as a record of nothing; a record 11 that hashes but links nowhere is what a machine
        // restored from elsewhere would send.
        let forged = export(&other)[10].clone();
        let forged = String::from_utf8(forged)
            .unwrap()
            .replace(&frame::to_hex(other.ledger_id()), &frame::to_hex(&id));
        let third = step(&second.state, &[forged.into_bytes()], &mut store);
        assert!(third.resolved_gaps.is_empty(), "{:?}", third.resolved_gaps);
        assert!(
            !third.problems.is_empty(),
            "a record that does not link must not close the gap silently"
        );
    }

    #[test]
    fn a_signed_prune_arriving_later_excuses_the_gap() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, id) = ledger(dir.path(), "a.db", 40);
        let full = export(&ledger);
        ledger
            .connection()
            .execute(
                "INSERT INTO export_cursor (sink, acked_seq, updated_ns) VALUES ('s', 36, 0)",
                [],
            )
            .unwrap();
        let plan = crate::prune::prune(&mut ledger, crate::now_ns() + 1_000_000_000).unwrap();
        let (first, last) = plan.range.unwrap();
        assert!(first <= 2 && last >= 16, "{plan:?}");
        let lines = export(&ledger);
        // The receiver got the genesis, then (it started late) what the machine still holds,
        // without the prune record; the prune record arrives in the next batch.
        let prune_line = lines.len() - 1;
        let mut store = BTreeMap::new();
        let a = step(&LedgerState::new(&id), &lines[..prune_line], &mut store);
        assert_eq!(codes_of(&a), vec![(ProblemCode::Gap, Some(2))]);
        let b = step(&a.state, &lines[prune_line..], &mut store);
        assert!(b.problems.is_empty(), "{:?}", b.problems);
        assert_eq!(b.resolved_gaps, vec![(2, GapClosed::Pruned)]);
        assert!(b.state.open_gaps.is_empty());
        assert_eq!(b.state.pruned.len(), 1);
        // The batch receiver over the same lines finds nothing: the same verdict in the end.
        assert!(batch_codes(&lines, Clock::default()).is_empty());
        drop(full);
    }

    #[test]
    fn a_forged_prune_arriving_later_excuses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, id) = ledger(dir.path(), "a.db", 30);
        ledger
            .append(&[NewRecord {
                ts_ns: crate::now_ns(),
                kind: crate::Kind::Prune.as_str().into(),
                payload: canonical_json(
                    &serde_json::json!({"first_seq": 11, "last_seq": 15, "anchor_seq": 16}),
                ),
            }])
            .unwrap();
        let lines = export(&ledger);
        let mut store = BTreeMap::new();
        let a = step(&LedgerState::new(&id), &lines[..10], &mut store);
        let b = step(&a.state, &lines[15..30], &mut store);
        assert_eq!(codes_of(&b), vec![(ProblemCode::Gap, Some(11))]);
        let c = step(&b.state, &lines[30..], &mut store);
        assert!(c.resolved_gaps.is_empty());
        assert_eq!(c.state.open_gaps.len(), 1);
        let codes: Vec<ProblemCode> = codes_of(&c).into_iter().map(|(code, _)| code).collect();
        assert_eq!(codes, vec![ProblemCode::BadPrune]);
    }

    #[test]
    fn a_forged_prune_is_a_bad_prune() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ledger, _) = ledger(dir.path(), "a.db", 30);
        ledger
            .append(&[NewRecord {
                ts_ns: crate::now_ns(),
                kind: crate::Kind::Prune.as_str().into(),
                payload: canonical_json(
                    &serde_json::json!({"first_seq": 2, "last_seq": 10, "anchor_seq": 11}),
                ),
            }])
            .unwrap();
        let lines = export(&ledger);
        let codes = same_codes(&lines, Clock::default());
        assert_eq!(codes.len(), 1, "{codes:?}");
        assert_eq!(codes[0].0, ProblemCode::BadPrune);
    }

    #[test]
    fn checkpoints_after_the_receivers_clock_are_implausible() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = ledger(dir.path(), "a.db", 40);
        let lines = export(&ledger);
        let clock = Clock {
            now_ns: crate::now_ns() - 86_400_000_000_000,
            clock_skew_ns: checkpoint::CLOCK_SKEW_NS,
        };
        let codes = same_codes(&lines, clock);
        assert!(!codes.is_empty());
        assert!(
            codes
                .iter()
                .all(|(c, _)| *c == ProblemCode::FutureCheckpoint)
        );
        let (_, state, _) = incremental_codes(&lines, 5, clock);
        assert!(state.newest_plausible_checkpoint.is_none());
        let silent = silence(&state, clock.now_ns, 3_600_000_000_000).unwrap();
        assert_eq!(silent.code, ProblemCode::Silent);
    }

    #[test]
    fn the_state_survives_a_json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = ledger(dir.path(), "a.db", 20);
        let (_, state, _) = incremental_codes(&export(&ledger), 6, Clock::default());
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<LedgerState>(&text).unwrap(), state);
    }
}
