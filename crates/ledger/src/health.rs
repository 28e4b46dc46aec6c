/*!
What `doctor` asks of a ledger without changing it: could a hook write it right now, whether
its signing key is the one its genesis record names, what the export cursors say, and which
Claude Code version the newest records carry.
*/

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

use super::frame::{Frame, Hash};
use super::keys::{self, KeyStatus};
use super::{CHECKPOINT_FAILED_KIND, Ledger, LedgerError, bounded, check_identity, seq_sql};

/// Whether the next hook event can append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteProbe {
    /// No ledger yet, and the first hook event can create it.
    NotCreated,
    /// The write lock was taken and released.
    Writable,
    /// SQLite opened the file read-only: hooks spool every record.
    ReadOnly,
    /// Another connection held the write lock for the whole wait.
    Locked,
    /// No ledger yet, and it cannot be created where it belongs.
    CannotCreate(String),
}

/// Does what an append does, as far as it can without keeping anything: takes the append lock
/// and SQLite's write lock, waiting as long as a hook would, and inserts a record after the
/// head (through the triggers and constraints), then rolls back. A read-only file, a held
/// lock, a foreign file or a table that refuses inserts shows.
pub fn probe_write(path: &Path, busy_timeout: Duration) -> Result<WriteProbe, LedgerError> {
    if !path.exists() {
        return Ok(match creatable(path) {
            Ok(()) => WriteProbe::NotCreated,
            Err(why) => WriteProbe::CannotCreate(why),
        });
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| LedgerError::Open {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(busy_timeout)?;
    check_identity(&conn, path)?;
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Ok(WriteProbe::ReadOnly);
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let _lock = match bounded::DirLock::acquire(dir, std::time::Instant::now() + busy_timeout) {
        Ok(lock) => lock,
        Err(bounded::LockError::Busy { .. }) => return Ok(WriteProbe::Locked),
        Err(e) => return Err(e.into()),
    };
    let probe = || -> Result<(), LedgerError> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = insert_probe(&conn);
        conn.execute_batch("ROLLBACK")?;
        result
    };
    match probe() {
        Ok(()) => Ok(WriteProbe::Writable),
        Err(error) if error.is_busy() => Ok(WriteProbe::Locked),
        Err(LedgerError::Sqlite(e))
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) =>
        {
            Ok(WriteProbe::ReadOnly)
        }
        Err(error) => Err(error),
    }
}

/// Inserts a well-formed record after the head, as an append would (inside the caller's
/// transaction, which is rolled back).
fn insert_probe(conn: &Connection) -> Result<(), LedgerError> {
    let ledger_id = super::read_ledger_id(conn)?;
    let (seq, prev) = super::tip(conn)?;
    let payload = br#"{"probe":"hookledger doctor"}"#;
    let hash: Hash = Frame {
        ledger_id: &ledger_id,
        seq: seq + 1,
        ts_ns: super::now_ns(),
        prev_hash: &prev,
        kind: "probe",
        payload,
    }
    .hash()?;
    conn.execute(
        "INSERT INTO records (seq, ts_ns, kind, payload, prev_hash, hash) VALUES (?1, ?2, 'probe', ?3, ?4, ?5)",
        rusqlite::params![seq_sql(seq + 1), super::now_ns(), &payload[..], &prev[..], &hash[..]],
    )?;
    Ok(())
}

/// The ledger's signing key judged against its genesis record, and how many interval
/// checkpoints could not be signed. `None` when the ledger names no key (or has no genesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyHealth {
    pub path: PathBuf,
    pub status: KeyStatus,
    /// `checkpoint-failed` records, and the newest one's seq.
    pub failed_checkpoints: u64,
    pub last_failed_seq: Option<u64>,
}

pub fn signing_key(ledger: &Ledger) -> Result<Option<SigningKeyHealth>, LedgerError> {
    let Some(public) = ledger.genesis()?.and_then(|g| g.public_key()) else {
        return Ok(None);
    };
    let dir = keys::key_dir(ledger.path());
    let (failed, last): (i64, Option<i64>) = ledger
        .connection()
        .query_row(
            "SELECT count(*), max(seq) FROM records WHERE kind = ?1",
            [CHECKPOINT_FAILED_KIND],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, None));
    Ok(Some(SigningKeyHealth {
        path: keys::key_path(&dir, ledger.ledger_id()),
        status: keys::signing_key_status(&dir, ledger.ledger_id(), &public),
        failed_checkpoints: u64::try_from(failed).unwrap_or(0),
        last_failed_seq: last.and_then(|s| u64::try_from(s).ok()),
    }))
}

/// Whether the ledger's directory exists or can be made, and takes new files.
fn creatable(path: &Path) -> Result<(), String> {
    let mut existing = path.parent().unwrap_or(Path::new("."));
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => return Err("no part of its path exists".into()),
        }
    }
    if !existing.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    // Only a real attempt tells (permissions, ACLs, read-only mounts, root squashing).
    let probe = existing.join(format!(".hookledger-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot create files in {}: {e}",
            existing.display()
        )),
    }
}

/// Where a Claude Code version was seen in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenVersion {
    pub version: String,
    pub seq: u64,
    pub ts_ns: i64,
}

/// The `claude_code_version` of the newest record among the last `window` that carries one.
pub fn latest_claude_code_version(
    ledger: &Ledger,
    window: u64,
) -> Result<Option<SeenVersion>, LedgerError> {
    let (head, _) = ledger.head()?;
    let mut stmt = ledger
        .connection()
        .prepare("SELECT seq, ts_ns, payload FROM records WHERE seq > ?1 ORDER BY seq DESC")?;
    let mut rows = stmt.query([seq_sql(head.saturating_sub(window))])?;
    while let Some(row) = rows.next()? {
        let payload: Vec<u8> = row.get(2)?;
        let Ok(value) = serde_json::from_slice::<Value>(&payload) else {
            continue;
        };
        if let Some(version) = value.get("claude_code_version").and_then(Value::as_str) {
            return Ok(Some(SeenVersion {
                version: version.to_owned(),
                seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                ts_ns: row.get(1)?,
            }));
        }
    }
    Ok(None)
}

/// Whether the triggers that make `records` append-only are in place.
pub fn append_only_triggers_present(conn: &Connection) -> Result<bool, LedgerError> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN
         ('records_no_update', 'records_no_delete')",
        [],
        |r| r.get(0),
    )?;
    Ok(count == 2)
}

/// The owner of the ledger file, when the platform has one to compare.
#[cfg(unix)]
pub fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
pub fn owner_uid(_path: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRecord, OpenOptions, canonical_json};

    fn ledger_with(dir: &Path, payloads: &[Value]) -> Ledger {
        let path = dir.join("ledger.db");
        let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
        let records: Vec<NewRecord> = payloads
            .iter()
            .map(|p| NewRecord {
                ts_ns: 1,
                kind: "prompt".into(),
                payload: canonical_json(p),
            })
            .collect();
        ledger.append(&records).unwrap();
        ledger
    }

    #[test]
    fn probes_missing_writable_and_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ledger.db");
        assert_eq!(
            probe_write(&path, Duration::ZERO).unwrap(),
            WriteProbe::NotCreated
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            probe_write(&file.join("ledger.db"), Duration::ZERO).unwrap(),
            WriteProbe::CannotCreate(_)
        ));
        let ledger = ledger_with(dir.path(), &[]);
        assert_eq!(
            probe_write(ledger.path(), Duration::ZERO).unwrap(),
            WriteProbe::Writable
        );
        let holder = Connection::open(ledger.path()).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert_eq!(
            probe_write(ledger.path(), Duration::from_millis(50)).unwrap(),
            WriteProbe::Locked
        );
        let result = probe_write(&file, Duration::ZERO);
        assert!(
            matches!(result, Err(LedgerError::NotALedger { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn newest_version_and_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = ledger_with(
            dir.path(),
            &[
                serde_json::json!({"claude_code_version": "2.1.100"}),
                serde_json::json!({"claude_code_version": "2.1.328"}),
                serde_json::json!({"other": 1}),
            ],
        );
        let seen = latest_claude_code_version(&ledger, 10).unwrap().unwrap();
        assert_eq!((seen.version.as_str(), seen.seq), ("2.1.328", 3));
        assert_eq!(latest_claude_code_version(&ledger, 1).unwrap(), None);
        assert!(crate::export::cursors(&ledger).unwrap().is_empty());
        ledger
            .connection()
            .execute(
                "INSERT INTO export_cursor (sink, acked_seq, updated_ns) VALUES ('siem', 2, 7)",
                [],
            )
            .unwrap();
        let cursors = crate::export::cursors(&ledger).unwrap();
        assert_eq!(cursors[0].0, "siem");
        assert_eq!(cursors[0].1.acked, 2);
        assert!(append_only_triggers_present(ledger.connection()).unwrap());
    }
}
