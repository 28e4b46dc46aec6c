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
pub mod ship;

use std::io::Write;

use rusqlite::{OptionalExtension, params};

use crate::frame::{self, Hash};
use crate::{Ledger, LedgerError, StoredRecord, now_ns, seq_sql};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ledger database: a record column has the wrong type: {0}")]
    Column(#[from] rusqlite::types::FromSqlError),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
        let genesis = ledger.genesis()?;
        Ok(Context {
            host: genesis.and_then(|g| g.host.clone()),
            user: genesis.and_then(|g| g.os_user.clone()),
        })
    }
}

/// One stored record, borrowed from the row it was read from.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub seq: u64,
    pub ts_ns: i64,
    pub kind: &'a str,
    pub payload: &'a [u8],
    pub prev_hash: &'a Hash,
    pub hash: &'a Hash,
}

impl<'a> From<&'a StoredRecord> for RecordRef<'a> {
    fn from(r: &'a StoredRecord) -> Self {
        RecordRef {
            seq: r.seq,
            ts_ns: r.ts_ns,
            kind: &r.kind,
            payload: &r.payload,
            prev_hash: &r.prev_hash,
            hash: &r.hash,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub count: u64,
    pub last: Option<(u64, Hash)>,
}

/// Records per unit of work: big enough to amortize a query, small enough to keep memory flat.
/// Ranges under four chunks are done by one thread.
const CHUNK_RECORDS: u64 = 8192;

/// Writes records `from..=to` in the chosen format, in seq order. Large ranges are read and
/// formatted in chunks on all cores (each worker with its own read connection) while this
/// thread writes the finished chunks in order. Returns how many were written and the last
/// record's (seq, hash).
pub fn write_records(
    ledger: &Ledger,
    from: u64,
    to: u64,
    options: WriteOptions,
    out: &mut dyn Write,
) -> Result<Written, ExportError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    write_records_on(ledger, (from, to), options, out, (workers, CHUNK_RECORDS))
}

fn write_records_on(
    ledger: &Ledger,
    (from, to): (u64, u64),
    options: WriteOptions,
    out: &mut dyn Write,
    (workers, chunk): (usize, u64),
) -> Result<Written, ExportError> {
    let ledger_id = frame::to_hex(ledger.ledger_id());
    let context = match options.format {
        Format::Native => Context::default(),
        _ => Context::of(ledger)?,
    };
    if to < from || to - from < 4 * chunk || workers < 2 {
        let mut buffer = Vec::with_capacity(WRITE_BLOCK + (64 << 10));
        let written = format_range(
            ledger,
            (from, to),
            options,
            &ledger_id,
            &context,
            &mut buffer,
            Some(&mut |block: &[u8]| Ok(out.write_all(block)?)),
        )?;
        out.write_all(&buffer)?;
        return Ok(written);
    }
    let chunks: Vec<(u64, u64)> = (from..=to)
        .step_by(chunk as usize)
        .map(|lo| (lo, to.min(lo + chunk - 1)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::sync_channel::<ChunkResult>(workers * 2);
    // Written buffers come back for reuse: a fresh multi-megabyte buffer per chunk costs a page
    // fault per 4 KiB, which was a third of the export's time.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let path = ledger.path().to_owned();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (chunks, next, path, ledger_id, context, spare) =
                (&chunks, &next, &path, &ledger_id, &context, &spare);
            scope.spawn(move || {
                let reader = match Ledger::open_read_only(path) {
                    Ok(reader) => reader,
                    Err(e) => {
                        let _ = sender.send((usize::MAX, Err(e.into())));
                        return;
                    }
                };
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(lo, hi)) = chunks.get(index) else {
                        break;
                    };
                    // The whole chunk stays in one buffer, handed over at the end.
                    let reused = spare.lock().ok().and_then(|mut pool| pool.pop());
                    let mut lines =
                        reused.unwrap_or_else(|| Vec::with_capacity((hi - lo + 1) as usize * 1024));
                    let result = format_range(
                        &reader,
                        (lo, hi),
                        options,
                        ledger_id,
                        context,
                        &mut lines,
                        None,
                    )
                    .map(|written| (lines, written));
                    let failed = result.is_err();
                    if sender.send((index, result)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Chunks finish out of order; hold the early ones until their turn.
        let mut waiting = std::collections::BTreeMap::new();
        let mut turn = 0;
        let mut total = Written::default();
        for (index, result) in receiver {
            let (lines, written) = result?;
            waiting.insert(index, (lines, written));
            while let Some((mut lines, written)) = waiting.remove(&turn) {
                out.write_all(&lines)?;
                lines.clear();
                if let Ok(mut pool) = spare.lock() {
                    pool.push(lines);
                }
                total.count += written.count;
                total.last = written.last.or(total.last);
                turn += 1;
            }
        }
        if turn < chunks.len() {
            return Err(ExportError::Io(std::io::Error::other(
                "an export worker stopped before its chunk was written",
            )));
        }
        Ok(total)
    })
}

type ChunkResult = (usize, Result<(Vec<u8>, Written), ExportError>);

/// Where finished blocks of lines go.
type Emit<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), ExportError>;

/// Formats records `range` read through `ledger` into `line`. With `emit`, each block of
/// [`WRITE_BLOCK`] bytes is handed to it as it fills; what is left at the end (everything,
/// without `emit`) stays in `line` for the caller.
fn format_range(
    ledger: &Ledger,
    (from, to): (u64, u64),
    options: WriteOptions,
    ledger_id: &str,
    context: &Context,
    line: &mut Vec<u8>,
    mut emit: Option<Emit<'_>>,
) -> Result<Written, ExportError> {
    let mut written = Written::default();
    for_each_record(ledger, from, to, |record| {
        match options.format {
            Format::Native => native::write_line(ledger_id, record, options.payload_b64, line),
            Format::Ecs => ecs::write_line(ledger_id, record, context, line),
            Format::Ocsf => ocsf::write_line(ledger_id, record, context, line),
        }
        written.count += 1;
        written.last = Some((record.seq, *record.hash));
        if let Some(emit) = emit.as_mut()
            && line.len() >= WRITE_BLOCK
        {
            emit(line)?;
            line.clear();
        }
        Ok(())
    })?;
    Ok(written)
}

/// Lines are handed on in blocks of about this size.
const WRITE_BLOCK: usize = 1 << 20;

/// Calls `each` for every record in `from..=to`, in order, borrowing each row.
pub fn for_each_record(
    ledger: &Ledger,
    from: u64,
    to: u64,
    each: impl FnMut(&RecordRef<'_>) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    ledger.for_each_between(from, to, each)
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

/// Every sink and its cursor, by name; none for a ledger older than export cursors (opened
/// read-only, so not migrated).
pub fn cursors(ledger: &Ledger) -> Result<Vec<(String, Cursor)>, ExportError> {
    let has_table: bool = ledger.connection().query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'export_cursor'",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut stmt = ledger.connection().prepare(
        "SELECT acked_seq, acked_hash, pending_seq, updated_ns, sink FROM export_cursor ORDER BY sink",
    )?;
    let rows = stmt.query_map([], |row| Ok((row.get(4)?, cursor_from_row(row)?)))?;
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

    /// Chunks formatted on several threads come out exactly as one thread writes them.
    #[test]
    fn parallel_export_writes_what_one_thread_writes() {
        use crate::{NewRecord, OpenOptions, canonical_json};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
        let batch: Vec<NewRecord> = (0..1234)
            .map(|i| NewRecord {
                ts_ns: i as i64,
                kind: "tool-call".into(),
                payload: canonical_json(&serde_json::json!({"i": i, "tool": "Bash"})),
            })
            .collect();
        ledger.append(&batch).unwrap();
        let (head, head_hash) = ledger.head().unwrap();
        for format in [Format::Native, Format::Ecs] {
            let options = WriteOptions {
                format,
                payload_b64: false,
            };
            let mut one = Vec::new();
            let mut many = Vec::new();
            let a = write_records_on(&ledger, (1, head), options, &mut one, (1, 100)).unwrap();
            let b = write_records_on(&ledger, (1, head), options, &mut many, (3, 100)).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.count, head);
            assert_eq!(a.last, Some((head, head_hash)));
            assert!(one == many, "{format:?} output differs");
        }
    }

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
