/*!
Retention: removing old records that have already left the machine.

`prune` removes records `2..c` where record `c` is a signed checkpoint covering `c - 1`, every
removed record is older than the cut-off date, and every sink has acknowledged `c - 1`. The
genesis record (the public key) and the anchor checkpoint stay, so the kept part verifies from
the checkpoint: its signed claim names the hash record `c` links to. The removal is recorded in
the chain as a `prune` record, which is how `verify` tells it from a deletion (no table: every
table is schema each hook process parses). Nothing prunes by default, and a ledger that does
not verify is never pruned (that would destroy the evidence).

A `prune` record is a statement signed with the ledger's key, like a checkpoint:

```text
hookledger/prune/v1
ledger <ledger id, 32 hex>
first <first removed seq>
last <last removed seq>
head <hash of the last removed record, 64 hex>
anchor <seq of the anchor checkpoint, last + 1>
anchor-hash <hash of the anchor checkpoint record, 64 hex>
time <unix nanoseconds>
```

Only such a statement excuses a gap: anyone who can write the file can append a well-formed
record with a correct chain hash, but not sign one. Prune records without a signature (written
by releases before signed prunes, or forged; the two cannot be told apart) excuse nothing and
are reported as `bad-prune`; `prune --adopt-unsigned` lets the key's owner restate such a
removal as a signed statement after checking it against what was shipped.
*/

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde_json::{Value, json};

use super::checkpoint::{self, CHECKPOINT_KIND, CheckpointError, Claim};
use super::frame::{self, Hash, LedgerId};
use super::{
    Ledger, LedgerError, NewRecord, canonical_json, insert_record, keys, now_ns, seq_sql, tip,
};

pub const PRUNE_KIND: &str = crate::Kind::Prune.as_str();
const HEADER: &str = "hookledger/prune/v1";

/// The guard trigger dropped and recreated around the deletion; the same text as migration
/// 0001, so the schema reads exactly as before.
const NO_DELETE_TRIGGER: &str = "CREATE TRIGGER records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'hookledger: the ledger is append-only'); END";

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "no sink has acknowledged any records: pruning would remove records that never left this machine (hint: ship them first with `hookledger export --sink NAME` and `--ack`, or `hookledger ship`)"
    )]
    NothingShipped,
    #[error(
        "cannot sign the prune record ({0}): a removal without a signed statement is indistinguishable from deleted records, so nothing was removed"
    )]
    NoKey(#[source] keys::KeyError),
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PrunePlan {
    /// First and last seq removed (`None`: nothing can be removed).
    pub range: Option<(u64, u64)>,
    /// The checkpoint record the kept part starts at.
    pub anchor_seq: Option<u64>,
    /// The newest seq every sink has acknowledged.
    pub acknowledged_through: u64,
    /// The first record at or after the cut-off date.
    pub first_kept_by_date: Option<u64>,
    pub reason: String,
}

/// Works out what `prune --before before_ns` would remove, without changing anything.
pub fn plan(ledger: &Ledger, before_ns: i64) -> Result<PrunePlan, PruneError> {
    let conn = ledger.connection();
    let acked: Option<i64> =
        conn.query_row("SELECT min(acked_seq) FROM export_cursor", [], |r| r.get(0))?;
    let acked = match acked.and_then(|a| u64::try_from(a).ok()) {
        Some(a) if a > 0 => a,
        _ => return Err(PruneError::NothingShipped),
    };
    let first_new: Option<i64> = conn.query_row(
        "SELECT min(seq) FROM records WHERE ts_ns >= ?1",
        [before_ns],
        |r| r.get(0),
    )?;
    let first_new = first_new.and_then(|s| u64::try_from(s).ok());
    // The anchor c must satisfy: c - 1 acknowledged by every sink, and every record before c
    // older than the cut-off.
    let bound = (acked + 1).min(first_new.unwrap_or(u64::MAX));
    let mut plan = PrunePlan {
        range: None,
        anchor_seq: None,
        acknowledged_through: acked,
        first_kept_by_date: first_new,
        reason: String::new(),
    };
    let first = pruned_ranges(conn)?
        .iter()
        .map(|r| r.last_seq)
        .max()
        .unwrap_or(1)
        + 1;
    let mut stmt = conn.prepare(
        "SELECT seq, payload, prev_hash FROM records WHERE kind = ?1 AND seq <= ?2 AND seq > ?3 \
         ORDER BY seq DESC",
    )?;
    let genesis_key = ledger.genesis()?.and_then(|g| g.public_key());
    let mut rows = stmt.query(params![CHECKPOINT_KIND, seq_sql(bound), seq_sql(first)])?;
    while let Some(row) = rows.next()? {
        let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let payload: Vec<u8> = row.get(1)?;
        let prev: Vec<u8> = row.get(2)?;
        let usable = genesis_key
            .as_ref()
            .and_then(|key| checkpoint::verify_payload(&payload, key).ok())
            .is_some_and(|claim| claim.seq + 1 == seq && claim.head.as_slice() == prev.as_slice());
        if usable {
            plan.range = Some((first, seq - 1));
            plan.anchor_seq = Some(seq);
            plan.reason = format!(
                "records {first}..={} are older than the cut-off and acknowledged by every sink; the kept part starts at the signed checkpoint at seq {seq}",
                seq - 1
            );
            return Ok(plan);
        }
    }
    plan.reason = format!(
        "no signed checkpoint between seq {} and {bound} to start the kept part at (records older than the cut-off and acknowledged by every sink end before seq {bound})",
        first + 1
    );
    Ok(plan)
}

/// Removes what [`plan`] found, in one transaction with its bookkeeping and its signed `prune`
/// record. Returns the plan carried out. Without the signing key nothing is removed.
pub fn prune(ledger: &mut Ledger, before_ns: i64) -> Result<PrunePlan, PruneError> {
    let planned = plan(ledger, before_ns)?;
    let (Some((first, last)), Some(anchor)) = (planned.range, planned.anchor_seq) else {
        return Ok(planned);
    };
    let ledger_id = *ledger.ledger_id();
    let key = keys::load_signing_key(&keys::key_dir(ledger.path()), &ledger_id)
        .map_err(PruneError::NoKey)?;
    let tx = ledger
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-check inside the write lock: the anchor must still be what the plan saw.
    let anchor_row: Option<(Vec<u8>, Vec<u8>)> = tx
        .query_row(
            "SELECT hash, prev_hash FROM records WHERE seq = ?1 AND kind = ?2",
            params![seq_sql(anchor), CHECKPOINT_KIND],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((Ok(anchor_hash), Ok(head))) =
        anchor_row.map(|(h, p)| (Hash::try_from(h), Hash::try_from(p)))
    else {
        return Ok(planned);
    };
    // The statement names the whole gap the ledger will have: records removed by earlier
    // prunes (their statements and anchors may be among what goes now) included.
    let gap_start: i64 = tx.query_row(
        "SELECT coalesce(max(seq), 0) FROM records WHERE seq < ?1",
        [seq_sql(first)],
        |r| r.get(0),
    )?;
    let gap_start = u64::try_from(gap_start)
        .unwrap_or(0)
        .saturating_add(1)
        .max(2);
    tx.execute_batch("DROP TRIGGER records_no_delete")?;
    let removed = tx.execute(
        "DELETE FROM records WHERE seq BETWEEN ?1 AND ?2",
        params![seq_sql(first), seq_sql(last)],
    )?;
    tx.execute_batch(NO_DELETE_TRIGGER)?;
    let pruned_ns = now_ns();
    let statement = Statement {
        ledger_id,
        first_seq: gap_start,
        last_seq: last,
        head,
        anchor_seq: anchor,
        anchor_hash,
        time_ns: pruned_ns,
    };
    let (seq, prev) = tip(&tx)?;
    let record = statement.record(
        &key,
        json!({
            "removed": removed,
            "before_ns": before_ns.to_string(),
            "acknowledged_through": planned.acknowledged_through,
        }),
    );
    insert_record(&tx, &ledger_id, seq + 1, prev, &record)?;
    tx.commit()?;
    Ok(planned)
}

/// A removal, as its `prune` record states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PrunedRange {
    pub first_seq: u64,
    pub last_seq: u64,
    pub anchor_seq: u64,
}

/// What a signed `prune` record states: the removed range, the hash its last record had, and
/// the anchor checkpoint the kept part verifies from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub ledger_id: LedgerId,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Hash of record `last_seq`: the anchor's `prev_hash` and the head its checkpoint signs.
    pub head: Hash,
    pub anchor_seq: u64,
    /// Hash of the anchor checkpoint record itself.
    pub anchor_hash: Hash,
    pub time_ns: i64,
}

impl Statement {
    pub fn signed_text(&self) -> String {
        format!(
            "{HEADER}\nledger {}\nfirst {}\nlast {}\nhead {}\nanchor {}\nanchor-hash {}\ntime {}\n",
            frame::to_hex(&self.ledger_id),
            self.first_seq,
            self.last_seq,
            frame::to_hex(&self.head),
            self.anchor_seq,
            frame::to_hex(&self.anchor_hash),
            self.time_ns
        )
    }

    pub fn range(&self) -> PrunedRange {
        PrunedRange {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            anchor_seq: self.anchor_seq,
        }
    }

    /// The `prune` record stating this removal, signed with `key`; `extra` adds informational
    /// fields (counts, the cut-off) to the payload.
    pub fn record(&self, key: &ed25519_dalek::SigningKey, extra: Value) -> NewRecord {
        let text = self.signed_text();
        let mut payload = json!({
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "anchor_seq": self.anchor_seq,
            "pruned_ns": self.time_ns.to_string(),
            "signature": checkpoint::signature_json(key, &text),
            "signed": text,
        });
        if let (Some(out), Value::Object(extra)) = (payload.as_object_mut(), extra) {
            for (k, v) in extra {
                out.entry(k).or_insert(v);
            }
        }
        NewRecord {
            ts_ns: self.time_ns,
            kind: PRUNE_KIND.into(),
            payload: canonical_json(&payload),
        }
    }

    /// Whether the record at `seq` (with `prev_hash` and `hash`, and `claim` when it is a
    /// checkpoint whose signature verified) is this statement's anchor: the checkpoint it
    /// names, signing the head it names for the last removed record.
    pub fn anchored_by(
        &self,
        seq: u64,
        prev_hash: &Hash,
        hash: &Hash,
        claim: Option<&Claim>,
    ) -> bool {
        seq == self.anchor_seq
            && *prev_hash == self.head
            && *hash == self.anchor_hash
            && claim.is_some_and(|c| c.seq == self.last_seq && c.head == self.head)
    }
}

/// Why a `prune` record excuses nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error(
        "it carries no signature (written by a release before signed prunes, or forged: the two cannot be told apart)"
    )]
    Unsigned,
    #[error("the genesis record names no signing key to check it with")]
    NoKey,
    #[error("its signature does not hold: {0}")]
    Signature(#[from] CheckpointError),
    #[error("it is malformed: {0}")]
    Malformed(&'static str),
    #[error("it names another ledger")]
    OtherLedger,
}

/// Checks a `prune` record's payload: signed by `trusted`, about `ledger_id`, its JSON fields
/// agreeing with the signed text, and a range that can be a removal.
pub fn verify_statement(
    payload: &[u8],
    ledger_id: &LedgerId,
    trusted: Option<&[u8; 32]>,
) -> Result<Statement, StatementError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|_| StatementError::Malformed("not JSON"))?;
    if value.get("signed").is_none() && value.get("signature").is_none() {
        return Err(StatementError::Unsigned);
    }
    let trusted = trusted.ok_or(StatementError::NoKey)?;
    let text = checkpoint::verify_signed_text(&value, trusted)?;
    let statement = parse_signed_text(text).ok_or(StatementError::Malformed("signed text"))?;
    if statement.ledger_id != *ledger_id {
        return Err(StatementError::OtherLedger);
    }
    let field = |key: &str| value.get(key).and_then(Value::as_u64);
    if field("first_seq") != Some(statement.first_seq)
        || field("last_seq") != Some(statement.last_seq)
        || field("anchor_seq") != Some(statement.anchor_seq)
    {
        return Err(StatementError::Malformed(
            "JSON fields disagree with the signed text",
        ));
    }
    if statement.first_seq < 2
        || statement.last_seq < statement.first_seq
        || statement.anchor_seq != statement.last_seq.saturating_add(1)
    {
        return Err(StatementError::Malformed(
            "the range cannot be a removal (genesis stays; the anchor follows the range)",
        ));
    }
    Ok(statement)
}

fn parse_signed_text(text: &str) -> Option<Statement> {
    let mut lines = text.split('\n');
    if lines.next()? != HEADER {
        return None;
    }
    let mut field = |name: &str| -> Option<String> {
        lines
            .next()?
            .strip_prefix(name)?
            .strip_prefix(' ')
            .map(str::to_owned)
    };
    let statement = Statement {
        ledger_id: frame::from_hex::<16>(&field("ledger")?)?,
        first_seq: field("first")?.parse().ok()?,
        last_seq: field("last")?.parse().ok()?,
        head: frame::from_hex::<32>(&field("head")?)?,
        anchor_seq: field("anchor")?.parse().ok()?,
        anchor_hash: frame::from_hex::<32>(&field("anchor-hash")?)?,
        time_ns: field("time")?.parse().ok()?,
    };
    // Exactly the text this statement renders to: nothing unsigned-looking can ride along.
    (statement.signed_text() == text).then_some(statement)
}

/// One `prune` record of a ledger and what its statement is worth.
#[derive(Debug, Clone)]
pub struct PruneRecord {
    /// The prune record's own seq.
    pub seq: u64,
    /// The range its JSON fields claim, signed or not.
    pub claimed: Option<PrunedRange>,
    pub verdict: Result<Statement, StatementError>,
}

impl PruneRecord {
    /// Checks one record. A valid statement must also come after the anchor it names.
    pub fn judge(
        seq: u64,
        payload: &[u8],
        ledger_id: &LedgerId,
        trusted: Option<&[u8; 32]>,
    ) -> PruneRecord {
        let verdict = verify_statement(payload, ledger_id, trusted).and_then(|s| {
            if seq > s.anchor_seq {
                Ok(s)
            } else {
                Err(StatementError::Malformed(
                    "it stands before the anchor it names",
                ))
            }
        });
        PruneRecord {
            seq,
            claimed: claimed_range(payload),
            verdict,
        }
    }
}

/// The range a `prune` payload's JSON fields claim, whether or not anything backs the claim.
pub fn claimed_range(payload: &[u8]) -> Option<PrunedRange> {
    let value = serde_json::from_slice::<Value>(payload).ok()?;
    let field = |key: &str| value.get(key).and_then(Value::as_u64);
    Some(PrunedRange {
        first_seq: field("first_seq")?,
        last_seq: field("last_seq")?,
        anchor_seq: field("anchor_seq")?,
    })
}

/// Every `prune` record of the ledger behind `conn`, judged against `ledger_id` and the genesis
/// key, oldest first.
pub fn prune_records(
    conn: &rusqlite::Connection,
    ledger_id: &LedgerId,
    trusted: Option<&[u8; 32]>,
) -> Result<Vec<PruneRecord>, LedgerError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, payload FROM records WHERE kind = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([PRUNE_KIND])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let payload = row.get_ref(1)?.as_blob().unwrap_or(&[]);
        out.push(PruneRecord::judge(seq, payload, ledger_id, trusted));
    }
    Ok(out)
}

/// The removals the ledger's `prune` records claim, signed or not, oldest first (what `plan`
/// continues from). Only [`Excuses`] built from valid statements excuse a gap.
pub fn pruned_ranges(conn: &rusqlite::Connection) -> Result<Vec<PrunedRange>, LedgerError> {
    let mut stmt =
        conn.prepare_cached("SELECT payload FROM records WHERE kind = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([PRUNE_KIND])?;
    let mut ranges = Vec::new();
    while let Some(row) = rows.next()? {
        if let Some(range) = claimed_range(row.get_ref(0)?.as_blob().unwrap_or(&[])) {
            ranges.push(range);
        }
    }
    Ok(ranges)
}

/// Valid signed statements, for excusing gaps.
#[derive(Debug, Clone, Default)]
pub struct Excuses {
    statements: Vec<Statement>,
}

impl Excuses {
    pub fn new(statements: impl IntoIterator<Item = Statement>) -> Excuses {
        let mut statements: Vec<Statement> = statements.into_iter().collect();
        statements.sort_by_key(|s| (s.first_seq, s.last_seq));
        statements.dedup_by_key(|s| (s.first_seq, s.last_seq, s.anchor_seq));
        Excuses { statements }
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Whether a valid statement names exactly `range`.
    pub fn states(&self, range: &PrunedRange) -> bool {
        self.statements.iter().any(|s| s.range() == *range)
    }

    /// The statements that together removed exactly `first..=last`, oldest first: one, or
    /// several back to back (a later prune removes the earlier one's anchor with what follows
    /// it). The caller checks that the record after the gap anchors the last one.
    pub fn covering(&self, first: u64, last: u64) -> Option<Vec<&Statement>> {
        let mut chain = Vec::new();
        let mut from = first;
        while chain.len() <= self.statements.len() {
            let next = self
                .statements
                .iter()
                .filter(|s| s.first_seq == from && s.last_seq <= last)
                .max_by_key(|s| s.last_seq)?;
            chain.push(next);
            if next.last_seq == last {
                return Some(chain);
            }
            from = next.last_seq + 1;
        }
        None
    }
}

/// What `prune --adopt-unsigned` did with one unsigned `prune` record.
#[derive(Debug, Clone, Serialize)]
pub struct Adoption {
    /// The unsigned record's seq.
    pub seq: u64,
    pub range: Option<PrunedRange>,
    /// The signed record appended for it, if any.
    pub signed_seq: Option<u64>,
    pub outcome: String,
}

/// Restates, as signed statements, removals that unsigned `prune` records claim (ledgers pruned
/// by releases before signed prunes), where the ledger bears them out: the range is really
/// absent and the record after it is a valid checkpoint signing the removed range's last hash.
/// It vouches for the removal with the ledger's key, so its owner runs it only after checking
/// the range against what was shipped.
pub fn adopt_unsigned(ledger: &mut Ledger) -> Result<Vec<Adoption>, PruneError> {
    let ledger_id = *ledger.ledger_id();
    let trusted = ledger.genesis()?.and_then(|g| g.public_key());
    let records = prune_records(ledger.connection(), &ledger_id, trusted.as_ref())?;
    let excuses = Excuses::new(records.iter().filter_map(|r| r.verdict.clone().ok()));
    let mut adoptions = Vec::new();
    let mut statements = Vec::new();
    // Only records without any signature: a record with a bad one is a forgery attempt, never
    // something an earlier release wrote.
    for record in records
        .iter()
        .filter(|r| r.verdict == Err(StatementError::Unsigned))
    {
        let mut adoption = Adoption {
            seq: record.seq,
            range: record.claimed,
            signed_seq: None,
            outcome: String::new(),
        };
        let Some(range) = record.claimed else {
            adoption.outcome = "it names no range: left as it is".into();
            adoptions.push(adoption);
            continue;
        };
        if excuses.states(&range) {
            adoption.outcome = "a signed statement already names this range".into();
            adoptions.push(adoption);
            continue;
        }
        match adoptable(ledger, &ledger_id, trusted.as_ref(), &range, record.seq)? {
            Ok(statement) => {
                statements.push((adoptions.len(), record.seq, statement));
                adoption.outcome = "restated as a signed statement".into();
            }
            Err(why) => adoption.outcome = format!("not adopted: {why}"),
        }
        adoptions.push(adoption);
    }
    if statements.is_empty() {
        return Ok(adoptions);
    }
    let key = keys::load_signing_key(&keys::key_dir(ledger.path()), &ledger_id)
        .map_err(PruneError::NoKey)?;
    let new_records: Vec<NewRecord> = statements
        .iter()
        .map(|(_, seq, statement)| statement.record(&key, json!({ "adopts": seq })))
        .collect();
    let outcome = ledger.append(&new_records)?;
    for ((index, _, _), appended) in statements.iter().zip(outcome.appended) {
        if let Some(adoption) = adoptions.get_mut(*index) {
            adoption.signed_seq = Some(appended.seq);
        }
    }
    Ok(adoptions)
}

/// The statement to sign for an unsigned claim of `range`, or why the ledger does not bear the
/// claim out.
fn adoptable(
    ledger: &Ledger,
    ledger_id: &LedgerId,
    trusted: Option<&[u8; 32]>,
    range: &PrunedRange,
    claim_seq: u64,
) -> Result<Result<Statement, String>, PruneError> {
    if range.first_seq < 2
        || range.last_seq < range.first_seq
        || range.anchor_seq != range.last_seq.saturating_add(1)
        || claim_seq <= range.anchor_seq
    {
        return Ok(Err("the range cannot be a removal".into()));
    }
    let present: i64 = ledger.connection().query_row(
        "SELECT count(*) FROM records WHERE seq BETWEEN ?1 AND ?2",
        params![seq_sql(range.first_seq), seq_sql(range.last_seq)],
        |r| r.get(0),
    )?;
    if present > 0 {
        return Ok(Err(format!(
            "{present} record(s) of the range are still in the ledger"
        )));
    }
    let Some(anchor) = ledger.record(range.anchor_seq)? else {
        return Ok(Err(format!("record {} is missing", range.anchor_seq)));
    };
    let claim = (anchor.kind == CHECKPOINT_KIND)
        .then(|| trusted.and_then(|key| checkpoint::verify_payload(&anchor.payload, key).ok()))
        .flatten();
    let statement = Statement {
        ledger_id: *ledger_id,
        first_seq: range.first_seq,
        last_seq: range.last_seq,
        head: anchor.prev_hash,
        anchor_seq: range.anchor_seq,
        anchor_hash: anchor.hash,
        time_ns: now_ns(),
    };
    if !statement.anchored_by(anchor.seq, &anchor.prev_hash, &anchor.hash, claim.as_ref()) {
        return Ok(Err(format!(
            "record {} is not a valid checkpoint signing the hash of record {}",
            range.anchor_seq, range.last_seq
        )));
    }
    Ok(Ok(statement))
}

pub fn describe(range: &PrunedRange) -> String {
    format!(
        "records {}..={} were pruned; the kept part verifies from the signed checkpoint at seq {}",
        range.first_seq, range.last_seq, range.anchor_seq
    )
}
