/*!
Shipping the ledger: NDJSON export with at-least-once cursors, and the receiver's check.

A native line carries everything a receiver needs to recompute the record's hash from the
exact stored bytes (`payload_b64`), so a pipeline that re-serializes the JSON (reorders keys,
changes whitespace, `jq -c .`) cannot break verification. `payload` repeats the same payload
as a JSON object for people and SIEM queries; it is not what is verified. Numbers that may
exceed 2^53 (`ts_ns`) travel as strings, since many JSON tools round them.
*/

pub mod receive;

use std::io::Write;

use base64::Engine;
use rusqlite::{OptionalExtension, params};

use crate::ledger::frame::{self, Hash};
use crate::ledger::{Ledger, LedgerError, StoredRecord, now_ns, seq_sql};

pub const NATIVE_FORMAT: &str = "hookledger-native/1";

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
}

/// Writes records `from..=to` as native NDJSON. Returns how many were written.
pub fn write_native(
    ledger: &Ledger,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let ledger_id = frame::to_hex(ledger.ledger_id());
    let mut stmt = ledger.connection().prepare(
        "SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records \
         WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![seq_sql(from), seq_sql(to)])?;
    let mut line = Vec::with_capacity(4096);
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let record = crate::ledger::stored_record_from_row(row)?;
        line.clear();
        native_line(&ledger_id, &record, &mut line);
        out.write_all(&line)?;
        count += 1;
    }
    Ok(count)
}

fn native_line(ledger_id: &str, r: &StoredRecord, line: &mut Vec<u8>) {
    line.extend_from_slice(b"{\"format\":\"");
    line.extend_from_slice(NATIVE_FORMAT.as_bytes());
    line.extend_from_slice(b"\",\"ledger_id\":\"");
    line.extend_from_slice(ledger_id.as_bytes());
    line.extend_from_slice(b"\",\"seq\":");
    line.extend_from_slice(r.seq.to_string().as_bytes());
    line.extend_from_slice(b",\"ts_ns\":\"");
    line.extend_from_slice(r.ts_ns.to_string().as_bytes());
    line.extend_from_slice(b"\",\"kind\":");
    line.extend_from_slice(
        serde_json::to_string(&r.kind)
            .unwrap_or_else(|_| "\"\"".into())
            .as_bytes(),
    );
    line.extend_from_slice(b",\"prev_hash\":\"");
    line.extend_from_slice(frame::to_hex(&r.prev_hash).as_bytes());
    line.extend_from_slice(b"\",\"hash\":\"");
    line.extend_from_slice(frame::to_hex(&r.hash).as_bytes());
    line.extend_from_slice(b"\",\"payload_b64\":\"");
    let mut b64 = String::with_capacity(r.payload.len() * 4 / 3 + 4);
    base64::engine::general_purpose::STANDARD.encode_string(&r.payload, &mut b64);
    line.extend_from_slice(b64.as_bytes());
    line.extend_from_slice(b"\"");
    // The stored payload is RFC 8785 JSON written by hookledger: embed it as is. (`verify`
    // catches a payload that was tampered into something else; receivers use payload_b64.)
    if r.payload.first() == Some(&b'{') && r.payload.last() == Some(&b'}') {
        line.extend_from_slice(b",\"payload\":");
        line.extend_from_slice(&r.payload);
    }
    line.extend_from_slice(b"}\n");
}

/// A named sink's position: acknowledged up to `acked`, and a written batch ending at
/// `pending` that is not acknowledged yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub acked: u64,
    pub pending: Option<u64>,
}

pub fn cursor(ledger: &Ledger, sink: &str) -> Result<Cursor, ExportError> {
    Ok(ledger
        .connection()
        .query_row(
            "SELECT acked_seq, pending_seq FROM export_cursor WHERE sink = ?1",
            [sink],
            |row| {
                Ok(Cursor {
                    acked: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                    pending: row
                        .get::<_, Option<i64>>(1)?
                        .and_then(|p| u64::try_from(p).ok()),
                })
            },
        )
        .optional()?
        .unwrap_or_default())
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

/// The receiver acknowledged the pending batch: the cursor moves to its end.
pub fn acknowledge(ledger: &Ledger, sink: &str) -> Result<u64, ExportError> {
    let current = cursor(ledger, sink)?;
    let Some(pending) = current.pending else {
        return Err(ExportError::NothingPending(sink.to_owned()));
    };
    let hash: Option<Hash> = ledger.record(pending)?.map(|r| r.hash);
    ledger.connection().execute(
        "UPDATE export_cursor SET acked_seq = ?2, acked_hash = ?3, pending_seq = NULL, \
         updated_ns = ?4 WHERE sink = ?1",
        params![sink, seq_sql(pending), hash.map(|h| h.to_vec()), now_ns()],
    )?;
    Ok(pending)
}
