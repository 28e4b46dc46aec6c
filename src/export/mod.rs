/*!
Shipping the ledger: NDJSON export in three formats, at-least-once cursors, rotated segment
files, and the receiver's check.

Every format carries the record's chain fields and its exact payload, so a receiver can
recompute each hash whatever format it was shipped in:

- `native` ([`native`]): the chain fields at the top level;
- `ecs` ([`ecs`]): Elastic Common Schema fields, chain fields under `hookledger`;
- `ocsf` ([`ocsf`]): OCSF classes, chain fields under `unmapped.hookledger`.
*/

pub mod ecs;
pub mod mapped;
pub mod native;
pub mod ocsf;
pub mod receive;
pub mod segments;

use std::io::Write;

use rusqlite::{OptionalExtension, params};

use crate::ledger::frame::{self, Hash};
use crate::ledger::{Ledger, LedgerError, StoredRecord, now_ns, seq_sql};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("sink {0:?} has no unacknowledged batch to acknowledge")]
    NothingPending(String),
    #[error("sink {sink:?}: the batch to acknowledge ends at seq {pending}, not {claimed}")]
    AckMismatch {
        sink: String,
        pending: u64,
        claimed: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// hookledger's own lines: chain fields and the exact payload
    Native,
    /// Elastic Common Schema (event.*, host.*, user.*, file.*, gen_ai.*), chain under `hookledger`
    Ecs,
    /// OCSF classes (1001 file, 1007 process, 6002 lifecycle, 6003 API), chain under `unmapped.hookledger`
    Ocsf,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Ecs => "ecs",
            Format::Ocsf => "ocsf",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub format: Format,
    /// Native lines also carry `payload_b64` (exact bytes for receivers without RFC 8785).
    pub payload_b64: bool,
}

/// Machine facts every ECS/OCSF line carries: who and where, from the genesis record (a ledger
/// belongs to one OS user on one host).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub host: Option<String>,
    pub user: Option<String>,
}

impl Context {
    pub fn of(ledger: &Ledger) -> Result<Context, ExportError> {
        let genesis: Option<serde_json::Value> = ledger
            .record(1)?
            .and_then(|r| serde_json::from_slice(&r.payload).ok());
        let field = |key: &str| {
            genesis
                .as_ref()
                .and_then(|g| g[key].as_str())
                .map(str::to_owned)
        };
        Ok(Context {
            host: field("host"),
            user: field("os_user"),
        })
    }
}

/// Lines are written out in blocks of about this size.
const WRITE_BLOCK: usize = 1 << 20;

/// Writes records `from..=to` in the chosen format. Returns how many were written and the last
/// record's (seq, hash).
pub fn write_records(
    ledger: &Ledger,
    from: u64,
    to: u64,
    options: WriteOptions,
    out: &mut dyn Write,
) -> Result<Written, ExportError> {
    let ledger_id = frame::to_hex(ledger.ledger_id());
    let context = match options.format {
        Format::Native => Context::default(),
        _ => Context::of(ledger)?,
    };
    let mut written = Written::default();
    let mut line = Vec::with_capacity(WRITE_BLOCK + (64 << 10));
    for_each_record(ledger, from, to, |record| {
        match options.format {
            Format::Native => {
                native::write_line(&ledger_id, record, options.payload_b64, &mut line)
            }
            Format::Ecs => ecs::write_line(&ledger_id, record, &context, &mut line),
            Format::Ocsf => ocsf::write_line(&ledger_id, record, &context, &mut line),
        }
        written.count += 1;
        written.last = Some((record.seq, record.hash));
        if line.len() >= WRITE_BLOCK {
            out.write_all(&line)?;
            line.clear();
        }
        Ok(())
    })?;
    out.write_all(&line)?;
    Ok(written)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub count: u64,
    pub last: Option<(u64, Hash)>,
}

/// Calls `each` for every record in `from..=to`, in order.
pub fn for_each_record(
    ledger: &Ledger,
    from: u64,
    to: u64,
    mut each: impl FnMut(&StoredRecord) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let mut stmt = ledger.connection().prepare(
        "SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records \
         WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![seq_sql(from), seq_sql(to)])?;
    while let Some(row) = rows.next()? {
        let record = crate::ledger::stored_record_from_row(row)?;
        each(&record)?;
    }
    Ok(())
}

/// A named sink's position: acknowledged up to `acked`, and a written batch ending at
/// `pending` that is not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    pub acked: u64,
    pub acked_hash: Option<Hash>,
    pub pending: Option<u64>,
    pub updated_ns: i64,
}

pub fn cursor(ledger: &Ledger, sink: &str) -> Result<Cursor, ExportError> {
    Ok(ledger
        .connection()
        .query_row(
            "SELECT acked_seq, acked_hash, pending_seq, updated_ns FROM export_cursor WHERE sink = ?1",
            [sink],
            cursor_from_row,
        )
        .optional()?
        .unwrap_or_default())
}

fn cursor_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Cursor> {
    Ok(Cursor {
        acked: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        acked_hash: row
            .get::<_, Option<Vec<u8>>>(1)?
            .and_then(|h| h.try_into().ok()),
        pending: row
            .get::<_, Option<i64>>(2)?
            .and_then(|p| u64::try_from(p).ok()),
        updated_ns: row.get(3)?,
    })
}

/// Every sink and its cursor, by name.
pub fn cursors(ledger: &Ledger) -> Result<Vec<(String, Cursor)>, ExportError> {
    let mut stmt = ledger.connection().prepare(
        "SELECT sink, acked_seq, acked_hash, pending_seq, updated_ns FROM export_cursor ORDER BY sink",
    )?;
    let rows = stmt.query_map([], |row| {
        let sink: String = row.get(0)?;
        let cursor = Cursor {
            acked: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
            acked_hash: row
                .get::<_, Option<Vec<u8>>>(2)?
                .and_then(|h| h.try_into().ok()),
            pending: row
                .get::<_, Option<i64>>(3)?
                .and_then(|p| u64::try_from(p).ok()),
            updated_ns: row.get(4)?,
        };
        Ok((sink, cursor))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records that a batch ending at `pending` was written for `sink`.
pub fn set_pending(ledger: &Ledger, sink: &str, pending: u64) -> Result<(), ExportError> {
    ledger.connection().execute(
        "INSERT INTO export_cursor (sink, acked_seq, acked_hash, pending_seq, updated_ns) \
         VALUES (?1, 0, NULL, ?2, ?3) \
         ON CONFLICT(sink) DO UPDATE SET pending_seq = max(?2, acked_seq), updated_ns = ?3",
        params![sink, seq_sql(pending), now_ns()],
    )?;
    Ok(())
}

/// The receiver acknowledged the pending batch: the cursor moves to its end. With `through`,
/// the caller states which batch it means, and a different pending batch is refused (an ack
/// for an older batch must not acknowledge a newer one it never saw).
pub fn acknowledge(ledger: &Ledger, sink: &str, through: Option<u64>) -> Result<u64, ExportError> {
    let current = cursor(ledger, sink)?;
    let Some(pending) = current.pending else {
        return Err(ExportError::NothingPending(sink.to_owned()));
    };
    if let Some(claimed) = through
        && claimed != pending
    {
        return Err(ExportError::AckMismatch {
            sink: sink.to_owned(),
            pending,
            claimed,
        });
    }
    advance(ledger, sink, pending)?;
    Ok(pending)
}

/// Moves `sink`'s acknowledged position to `seq` at once (a delivery confirmed in the same
/// step, as `ship` and `--rotate` do) and clears any pending batch it covers.
pub fn advance(ledger: &Ledger, sink: &str, seq: u64) -> Result<(), ExportError> {
    let hash: Option<Hash> = ledger.record(seq)?.map(|r| r.hash);
    ledger.connection().execute(
        "INSERT INTO export_cursor (sink, acked_seq, acked_hash, pending_seq, updated_ns) \
         VALUES (?1, ?2, ?3, NULL, ?4) \
         ON CONFLICT(sink) DO UPDATE SET acked_seq = max(acked_seq, ?2), \
           acked_hash = CASE WHEN ?2 >= acked_seq THEN ?3 ELSE acked_hash END, \
           pending_seq = CASE WHEN pending_seq IS NULL OR pending_seq <= ?2 THEN NULL ELSE pending_seq END, \
           updated_ns = ?4",
        params![sink, seq_sql(seq), hash.map(|h| h.to_vec()), now_ns()],
    )?;
    Ok(())
}

/// RFC 3339 UTC with nanoseconds.
pub fn rfc3339(ts_ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ts_ns))
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| ts_ns.to_string())
}

/// `3d 4h`, `12m`, `40s`: for messages about ages.
pub fn human_duration(ns: i64) -> String {
    let seconds = ns.max(0) / 1_000_000_000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let s = 1_000_000_000;
        assert_eq!(human_duration(40 * s), "40s");
        assert_eq!(human_duration(12 * 60 * s), "12m");
        assert_eq!(human_duration((2 * 3600 + 5 * 60) * s), "2h 5m");
        assert_eq!(human_duration((3 * 86_400 + 4 * 3600) * s), "3d 4h");
        assert_eq!(human_duration(-5), "0s");
    }
}
