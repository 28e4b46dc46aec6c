/*!
Rotated segment files for file shippers (Vector, Fluent Bit, Splunk's forwarder, Filebeat).

`export --rotate DIR` writes the records a sink has not received yet as segment files of at
most N records, each with a manifest beside it:

```text
hookledger-<ledger id>-<first seq>-<last seq>.<format>.ndjson
hookledger-<ledger id>-<first seq>-<last seq>.<format>.ndjson.manifest.json
```

Sequence numbers are zero-padded, so names sort in seq order. Each file is written under a
hidden temporary name, fsynced and renamed into place, so a tailer never sees a partial line;
the directory is fsynced before the sink's cursor moves. A crash before that rewrites the same
range next time: duplicates, never gaps. Every segment's first line names its ledger and seq,
so tailers that fingerprint files by their first bytes never confuse two segments.
*/

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::{ExportError, Format, WriteOptions, write_records};
use crate::frame;
use crate::{Ledger, now_ns, seq_sql};

pub const MANIFEST_FORMAT: &str = "hookledger-manifest/1";

/// What a manifest says about its segment.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub ledger_id: String,
    pub segment: String,
    pub export_format: String,
    pub records: u64,
    pub first_seq: u64,
    pub first_prev_hash: String,
    pub last_seq: u64,
    pub last_hash: String,
    pub bytes: u64,
    pub blake3: String,
    /// The newest signed checkpoint at or before `last_seq`: the record itself (its payload
    /// carries the signed text and signature) so a shipper can forward it on its own.
    pub checkpoint: Option<Value>,
    pub created_ns: String,
}

pub fn segment_name(ledger_id: &str, first: u64, last: u64, format: Format) -> String {
    format!(
        "hookledger-{ledger_id}-{first:020}-{last:020}.{}.ndjson",
        format.name()
    )
}

/// Writes `from..=to` as segments of at most `per_segment` records into `dir`. Returns the
/// manifests written, in order.
pub fn write_segments(
    ledger: &Ledger,
    dir: &Path,
    from: u64,
    to: u64,
    per_segment: u64,
    options: WriteOptions,
) -> Result<Vec<Manifest>, ExportError> {
    std::fs::create_dir_all(dir)?;
    let ledger_id = frame::to_hex(ledger.ledger_id());
    let mut manifests = Vec::new();
    let mut first = from;
    while first <= to {
        let last = to.min(first.saturating_add(per_segment.max(1) - 1));
        let name = segment_name(&ledger_id, first, last, options.format);
        let path = dir.join(&name);
        let mut hasher = blake3::Hasher::new();
        let mut bytes = 0u64;
        let written = write_file(&path, |out| {
            let mut tee = Tee {
                out,
                hasher: &mut hasher,
                bytes: &mut bytes,
            };
            write_records(ledger, first, last, options, &mut tee)
        })?;
        let Some((last_seq, last_hash)) = written.last else {
            // Nothing in the range (records pruned, or seq numbers past the head).
            std::fs::remove_file(&path)?;
            first = last.saturating_add(1);
            continue;
        };
        let first_record = ledger.record(first)?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            ledger_id: ledger_id.clone(),
            segment: name.clone(),
            export_format: options.format.name().into(),
            records: written.count,
            first_seq: first_record.as_ref().map_or(first, |r| r.seq),
            first_prev_hash: first_record
                .map(|r| frame::to_hex(&r.prev_hash))
                .unwrap_or_default(),
            last_seq,
            last_hash: frame::to_hex(&last_hash),
            bytes,
            blake3: hasher.finalize().to_hex().to_string(),
            checkpoint: latest_checkpoint(ledger, last_seq)?,
            created_ns: now_ns().to_string(),
        };
        let manifest_path = dir.join(format!("{name}.manifest.json"));
        write_file(&manifest_path, |out| {
            let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
            out.write_all(&text)?;
            out.write_all(b"\n")?;
            Ok(())
        })?;
        manifests.push(manifest);
        first = last.saturating_add(1);
    }
    sync_dir(dir)?;
    Ok(manifests)
}

/// The newest checkpoint record at or before `seq`, as the export line's chain object holds it.
fn latest_checkpoint(ledger: &Ledger, seq: u64) -> Result<Option<Value>, ExportError> {
    use rusqlite::OptionalExtension;
    let found: Option<(i64, Vec<u8>)> = ledger
        .connection()
        .query_row(
            "SELECT seq, payload FROM records WHERE kind = 'checkpoint' AND seq <= ?1 \
             ORDER BY seq DESC LIMIT 1",
            [seq_sql(seq)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(found.and_then(|(seq, payload)| {
        let mut value: Value = serde_json::from_slice(&payload).ok()?;
        value["record_seq"] = seq.into();
        Some(value)
    }))
}

struct Tee<'a> {
    out: &'a mut dyn Write,
    hasher: &'a mut blake3::Hasher,
    bytes: &'a mut u64,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        *self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes `file` by the rules of [`crate::output`]: a regular file is replaced atomically
/// (temporary name, fsync, rename), so a tailer never sees a partial segment.
pub fn write_file<T>(
    file: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, ExportError>,
) -> Result<T, ExportError> {
    crate::output::write_file(file, &crate::output::Options::default(), write)
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    crate::output::sync_dir(dir)
}

/// The segment files in `dir` (not manifests, not temporaries), sorted by name = seq order.
pub fn segment_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".ndjson"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The manifest beside a segment file, when there is one (`Err`: it is there but unreadable).
pub fn read_manifest(segment: &Path) -> Option<Result<Manifest, String>> {
    let manifest_path = PathBuf::from(format!("{}.manifest.json", segment.display()));
    let text = std::fs::read(&manifest_path).ok()?;
    Some(serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", manifest_path.display())))
}

/// Checks what was read from a segment file (its size and BLAKE3, computed while streaming it)
/// against its manifest. Returns what disagrees.
pub fn compare_manifest(
    segment: &Path,
    manifest: &Manifest,
    bytes: u64,
    blake3_hex: &str,
) -> Result<(), String> {
    if manifest.bytes != bytes {
        return Err(format!(
            "{} holds {bytes} bytes, its manifest says {}: the file was cut or appended to",
            segment.display(),
            manifest.bytes
        ));
    }
    if blake3_hex != manifest.blake3 {
        return Err(format!(
            "{} does not match the BLAKE3 in its manifest: the file was changed after export",
            segment.display()
        ));
    }
    Ok(())
}
