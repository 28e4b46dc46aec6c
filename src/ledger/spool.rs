/*!
The spool: where records go when the ledger cannot be written (locked past the busy timeout,
read-only, full disk, corrupt file, newer schema).

It is an append-only NDJSON file beside the ledger. Each line is `<blake3 hex> <json>`, written
with one `write` under an exclusive file lock and fsynced before the hook answers, so a torn
line from a killed process is detected rather than misread. The next successful append merges
every entry into the chain, marked as recovered and keeping its original timestamp, then
truncates the file while still holding the lock.
*/

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{NewRecord, canonical_json, frame::to_hex, now_ns};

pub const SPOOL_ENTRY_VERSION: u32 = 1;
pub const RECOVERED_KEY: &str = "recovered";
pub const SPOOL_DAMAGE_KIND: &str = "spool-damage";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot write spool {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read spool {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("record payload is not UTF-8 JSON")]
    NotUtf8,
}

/// `ledger.db` → `ledger.spool`, in the same directory.
pub fn spool_path(ledger_path: &Path) -> PathBuf {
    ledger_path.with_extension("spool")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpoolEntry {
    pub v: u32,
    pub spool_id: String,
    pub ts_ns: i64,
    pub kind: String,
    /// The canonical payload bytes, as text.
    pub payload: String,
    pub reason: String,
    pub spooled_ns: i64,
    pub pid: u32,
}

impl SpoolEntry {
    /// The record as it enters the chain: the original payload plus a `recovered` marker, at
    /// the original timestamp.
    pub fn to_recovered_record(&self) -> NewRecord {
        let marker = json!({
            "spool_id": self.spool_id,
            "spooled_ns": self.spooled_ns,
            "merged_ns": now_ns(),
            "reason": self.reason,
        });
        let payload = match serde_json::from_str::<Value>(&self.payload) {
            Ok(Value::Object(mut map)) => {
                map.insert(RECOVERED_KEY.to_owned(), marker);
                Value::Object(map)
            }
            Ok(other) => json!({ "original": other, RECOVERED_KEY: marker }),
            Err(_) => json!({ "original_text": self.payload, RECOVERED_KEY: marker }),
        };
        NewRecord {
            ts_ns: self.ts_ns,
            kind: self.kind.clone(),
            payload: canonical_json(&payload),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedLine {
    pub bytes: usize,
    pub blake3: String,
}

#[derive(Debug, Default)]
pub struct SpoolContents {
    pub entries: Vec<SpoolEntry>,
    pub damaged: Vec<DamagedLine>,
}

impl SpoolContents {
    /// A record saying some spool lines could not be read, so their loss is itself on record.
    pub fn damage_record(&self) -> NewRecord {
        let lines: Vec<Value> = self
            .damaged
            .iter()
            .map(|d| json!({ "bytes": d.bytes, "blake3": d.blake3 }))
            .collect();
        NewRecord {
            ts_ns: now_ns(),
            kind: SPOOL_DAMAGE_KIND.to_owned(),
            payload: canonical_json(&json!({ "damaged_lines": lines })),
        }
    }
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        super::create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes one record to the spool and fsyncs it. Returns the entry's spool id.
pub fn append(path: &Path, record: &NewRecord, reason: &str) -> Result<String, SpoolError> {
    let payload = String::from_utf8(record.payload.clone()).map_err(|_| SpoolError::NotUtf8)?;
    let mut id = [0u8; 16];
    if getrandom::fill(&mut id).is_err() {
        // Uniqueness only has to hold within one spool file: time and pid are enough then.
        id[..8].copy_from_slice(&now_ns().to_be_bytes());
        id[8..12].copy_from_slice(&std::process::id().to_be_bytes());
    }
    let entry = SpoolEntry {
        v: SPOOL_ENTRY_VERSION,
        spool_id: to_hex(&id),
        ts_ns: record.ts_ns,
        kind: record.kind.clone(),
        payload,
        reason: reason.to_owned(),
        spooled_ns: now_ns(),
        pid: std::process::id(),
    };
    let body = serde_json::to_string(&entry).map_err(|_| SpoolError::NotUtf8)?;
    let line = format!("{} {}\n", blake3::hash(body.as_bytes()).to_hex(), body);
    let write_err = |source| SpoolError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = open_for_append(path).map_err(write_err)?;
    file.lock().map_err(write_err)?;
    file.write_all(line.as_bytes()).map_err(write_err)?;
    file.sync_data().map_err(write_err)?;
    Ok(entry.spool_id)
}

/// An exclusive hold on a non-empty spool, taken by the appender that merges it.
pub struct SpoolGuard {
    file: File,
    path: PathBuf,
}

/// Locks the spool when it has anything in it; a missing or empty spool costs one `stat`.
pub fn lock_if_pending(path: &Path) -> Result<Option<SpoolGuard>, SpoolError> {
    let read_err = |source| SpoolError::Read {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > 0 => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(read_err)?;
    file.lock().map_err(read_err)?;
    Ok(Some(SpoolGuard {
        file,
        path: path.to_owned(),
    }))
}

impl SpoolGuard {
    pub fn read(&mut self) -> Result<SpoolContents, SpoolError> {
        let read_err = |source| SpoolError::Read {
            path: self.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        let mut bytes = Vec::new();
        self.file.read_to_end(&mut bytes).map_err(read_err)?;
        Ok(parse(&bytes))
    }

    /// Empties the spool; called only after the merge has committed.
    pub fn truncate(self) -> Result<(), SpoolError> {
        let write_err = |source| SpoolError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.set_len(0).map_err(write_err)?;
        self.file.sync_all().map_err(write_err)?;
        Ok(())
    }
}

pub fn parse(bytes: &[u8]) -> SpoolContents {
    let mut contents = SpoolContents::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, complete) = match memchr::memchr(b'\n', rest) {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = &[];
                (line, false)
            }
        };
        if line.is_empty() {
            continue;
        }
        match complete.then(|| parse_line(line)).flatten() {
            Some(entry) => contents.entries.push(entry),
            None => contents.damaged.push(DamagedLine {
                bytes: line.len(),
                blake3: blake3::hash(line).to_hex().to_string(),
            }),
        }
    }
    contents
}

fn parse_line(line: &[u8]) -> Option<SpoolEntry> {
    let space = memchr::memchr(b' ', line)?;
    let (check, body) = (&line[..space], &line[space + 1..]);
    if check != blake3::hash(body).to_hex().as_bytes() {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// What a reader (verify, doctor) sees in the spool without merging it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStatus {
    pub pending: usize,
    pub damaged: usize,
}

pub fn status(path: &Path) -> Result<SpoolStatus, SpoolError> {
    let read_err = |source| SpoolError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SpoolStatus::default()),
        Err(e) => return Err(read_err(e)),
    };
    file.lock_shared().map_err(read_err)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read_err)?;
    let contents = parse(&bytes);
    Ok(SpoolStatus {
        pending: contents.entries.len(),
        damaged: contents.damaged.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str) -> NewRecord {
        NewRecord {
            ts_ns: 42,
            kind: kind.into(),
            payload: br#"{"a":1}"#.to_vec(),
        }
    }

    #[test]
    fn round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.spool");
        append(&path, &record("prompt"), "locked").unwrap();
        append(&path, &record("tool-call"), "locked").unwrap();
        // A process killed in the middle of its write leaves a line without its newline.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"abc {\"v\":1").unwrap();
        let contents = parse(&std::fs::read(&path).unwrap());
        assert_eq!(contents.entries.len(), 2);
        assert_eq!(contents.entries[1].kind, "tool-call");
        assert_eq!(contents.damaged.len(), 1);
        assert_eq!(
            status(&path).unwrap(),
            SpoolStatus {
                pending: 2,
                damaged: 1
            }
        );
    }

    #[test]
    fn flipped_byte_is_damage_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.spool");
        append(&path, &record("prompt"), "locked").unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x01;
        let contents = parse(&bytes);
        assert!(contents.entries.is_empty());
        assert_eq!(contents.damaged.len(), 1);
    }

    #[test]
    fn recovered_record_keeps_timestamp_and_marks_origin() {
        let entry = SpoolEntry {
            v: 1,
            spool_id: "ab".into(),
            ts_ns: 7,
            kind: "prompt".into(),
            payload: r#"{"prompt":"x"}"#.into(),
            reason: "database is locked".into(),
            spooled_ns: 8,
            pid: 1,
        };
        let record = entry.to_recovered_record();
        assert_eq!(record.ts_ns, 7);
        let value: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(value["prompt"], "x");
        assert_eq!(value["recovered"]["spool_id"], "ab");
        assert_eq!(value["recovered"]["reason"], "database is locked");
    }
}
