/*!
Retention: removing old records that have already left the machine.

`prune` removes records `2..c` where record `c` is a signed checkpoint covering `c - 1`, every
removed record is older than the cut-off date, and every sink has acknowledged `c - 1`. The
genesis record (the public key) and the anchor checkpoint stay, so the kept part verifies from
the checkpoint: its signed claim names the hash record `c` links to. The removal is recorded in
the chain as a `prune` record, which is how `verify` tells it from a deletion (no table: every
table is schema each hook process parses). Nothing prunes by default, and a ledger that does
not verify is never pruned (that would destroy the evidence).
*/

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde_json::json;

use super::checkpoint::{self, CHECKPOINT_KIND};
use super::frame::Hash;
use super::{Ledger, LedgerError, NewRecord, canonical_json, insert_record, now_ns, seq_sql, tip};

pub const PRUNE_KIND: &str = "prune";

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
    let genesis_key = ledger
        .record(1)?
        .and_then(|g| checkpoint::genesis_public_key(&g.payload));
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

/// Removes what [`plan`] found, in one transaction with its bookkeeping and its `prune`
/// record. Returns the plan carried out.
pub fn prune(ledger: &mut Ledger, before_ns: i64) -> Result<PrunePlan, PruneError> {
    let planned = plan(ledger, before_ns)?;
    let (Some((first, last)), Some(anchor)) = (planned.range, planned.anchor_seq) else {
        return Ok(planned);
    };
    let ledger_id = *ledger.ledger_id();
    let tx = ledger
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-check inside the write lock: the anchor must still be what the plan saw.
    let anchor_hash: Option<Vec<u8>> = tx
        .query_row(
            "SELECT hash FROM records WHERE seq = ?1 AND kind = ?2",
            params![seq_sql(anchor), CHECKPOINT_KIND],
            |r| r.get(0),
        )
        .optional()?;
    if anchor_hash.is_none() {
        return Ok(planned);
    }
    tx.execute_batch("DROP TRIGGER records_no_delete")?;
    let removed = tx.execute(
        "DELETE FROM records WHERE seq BETWEEN ?1 AND ?2",
        params![seq_sql(first), seq_sql(last)],
    )?;
    tx.execute_batch(NO_DELETE_TRIGGER)?;
    let pruned_ns = now_ns();
    let (seq, prev) = tip(&tx)?;
    let record = NewRecord {
        ts_ns: pruned_ns,
        kind: PRUNE_KIND.into(),
        payload: canonical_json(&json!({
            "first_seq": first,
            "last_seq": last,
            "removed": removed,
            "anchor_seq": anchor,
            "pruned_ns": pruned_ns.to_string(),
            "before_ns": before_ns.to_string(),
            "acknowledged_through": planned.acknowledged_through,
        })),
    };
    insert_record(&tx, &ledger_id, seq + 1, prev, &record)?;
    tx.commit()?;
    Ok(planned)
}

/// A removal, as its `prune` record states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PrunedRange {
    pub first_seq: u64,
    pub last_seq: u64,
    pub anchor_seq: u64,
}

/// The removals the ledger's `prune` records state, oldest first. A claim here excuses a gap
/// only when its anchor is a valid signed checkpoint ([`anchor_holds`]).
pub fn pruned_ranges(conn: &rusqlite::Connection) -> Result<Vec<PrunedRange>, LedgerError> {
    let mut stmt =
        conn.prepare_cached("SELECT payload FROM records WHERE kind = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([PRUNE_KIND])?;
    let mut ranges = Vec::new();
    while let Some(row) = rows.next()? {
        let payload: Vec<u8> = row.get(0)?;
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&payload) else {
            continue;
        };
        let field = |key: &str| value.get(key).and_then(serde_json::Value::as_u64);
        if let (Some(first_seq), Some(last_seq), Some(anchor_seq)) =
            (field("first_seq"), field("last_seq"), field("anchor_seq"))
        {
            ranges.push(PrunedRange {
                first_seq,
                last_seq,
                anchor_seq,
            });
        }
    }
    Ok(ranges)
}

/// Whether the row at `anchor_seq`, linking to `prev_hash`, validly starts the kept part after
/// a pruned range: a checkpoint signed by the genesis key claiming exactly that hash for the
/// last removed record.
pub fn anchor_holds(
    range: &PrunedRange,
    kind: &str,
    payload: &[u8],
    prev_hash: &Hash,
    public_key: Option<&[u8; 32]>,
) -> bool {
    kind == CHECKPOINT_KIND
        && public_key
            .and_then(|key| checkpoint::verify_payload(payload, key).ok())
            .is_some_and(|claim| claim.seq == range.last_seq && claim.head == *prev_hash)
}

pub fn describe(range: &PrunedRange) -> String {
    format!(
        "records {}..={} were pruned; the kept part verifies from the signed checkpoint at seq {}",
        range.first_seq, range.last_seq, range.anchor_seq
    )
}
