//! The checks: one streaming pass per ledger over its items in seq order.

use super::sort::Item;
use super::{CheckpointSeen, LedgerReport, ProblemCode, Problems, ReceiveOptions, Role};
use crate::checkpoint::{self, Claim};
use crate::frame::{self, Hash, LedgerId, ZERO_HASH};
use crate::prune::{Excuses, PruneRecord, PrunedRange};

pub(super) fn short(hash: &Hash) -> String {
    frame::to_hex(&hash[..6])
}

/// The record right after a gap: the anchor a prune statement must name.
#[derive(Debug)]
pub(super) struct AfterGap {
    seq: u64,
    hash: Hash,
    prev: Hash,
    /// Its claim, when it is a checkpoint whose signature verified.
    claim: Option<Claim>,
}

#[derive(Debug)]
pub(super) struct Gap {
    first: u64,
    last: u64,
    after: Option<AfterGap>,
}

pub(super) struct Checker<'o> {
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
pub(super) struct LedgerOutcome {
    pub(super) id: LedgerId,
    pub(super) problems: Problems,
    pub(super) records: u64,
    pub(super) first_seq: u64,
    pub(super) last_seq: u64,
    pub(super) duplicates: u64,
    pub(super) checkpoints_verified: u64,
    pub(super) last_checkpoint: Option<Claim>,
    pub(super) newest_plausible: Option<Claim>,
    pub(super) pruned: Vec<PrunedRange>,
    pub(super) far_claims: Vec<(u64, u64, Hash)>,
}

impl LedgerOutcome {
    pub(super) fn report(mut self) -> LedgerReport {
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
pub(super) const MAX_PENDING_GAPS: usize = 10_000;

impl<'o> Checker<'o> {
    pub(super) fn new(
        id: LedgerId,
        problems: Problems,
        options: &'o ReceiveOptions,
    ) -> Checker<'o> {
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

    pub(super) fn step(&mut self, item: Item) {
        let seq = item.seq;
        if item.kind == Role::Rejected {
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
                    ProblemCode::Fork,
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
        if item.kind == Role::Genesis && seq == 1 {
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
            Role::Checkpoint => self.checkpoint(&item),
            Role::Prune => {
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
                    ProblemCode::BrokenLink,
                    Some(seq),
                    format!("record {seq} does not link to record {prev_seq}"),
                );
            }
            if seq == 1 && item.prev != ZERO_HASH {
                self.problems.push(
                    ProblemCode::BrokenLink,
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
                ProblemCode::Gap,
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
                ProblemCode::UntrustedCheckpoint,
                Some(seq),
                "no genesis record among the batches and no --public-key: the checkpoint's signature cannot be checked".into(),
            );
            return None;
        };
        let claim = match checkpoint::verify_payload(item.payload.as_deref().unwrap_or(&[]), key) {
            Ok(c) => c,
            Err(e) => {
                self.problems.push(
                    ProblemCode::BadSignature,
                    Some(seq),
                    format!("checkpoint at seq {seq}: {e}"),
                );
                return None;
            }
        };
        if claim.ledger_id != self.id || claim.seq >= seq {
            self.problems.push(
                ProblemCode::CheckpointMismatch,
                Some(seq),
                format!("checkpoint at seq {seq} claims another ledger or a later record"),
            );
            return None;
        }
        match self.prev {
            Some((prev_seq, prev_hash)) if prev_seq == claim.seq && prev_hash != claim.head => {
                self.problems.push(
                    ProblemCode::CheckpointMismatch,
                    Some(claim.seq),
                    format!(
                        "the checkpoint at seq {seq} signed head {} for record {}, but the record shipped has {}",
                        short(&claim.head),
                        claim.seq,
                        short(&prev_hash)
                    ),
                );
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
                ProblemCode::FutureCheckpoint,
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
                    ProblemCode::Regression,
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

    pub(super) fn finish(mut self) -> LedgerOutcome {
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
                    ProblemCode::BadPrune,
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
                    ProblemCode::Gap,
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
                self.problems.push(ProblemCode::Silent, None, detail);
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
