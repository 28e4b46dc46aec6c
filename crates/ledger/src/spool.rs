/*!
The spool: where records go when the ledger cannot take them now (its append lock or SQLite's
write lock held past the deadline, a read-only or corrupt file, a full disk, a newer schema, a
process dying mid-append), until an append merges them into the chain.

**Files, no locks.** The spool is a directory beside the ledger (`ledger.spool.d/`). Each
process that spools writes its own file: under a temporary name, fsynced, then renamed into
place (and the directory fsynced), so a file that is there is complete. Writers take no lock at
all, so nothing another process holds can make a hook wait here. A merge runs inside the
ledger's append lock and write transaction; it deletes what it merged only after the commit,
and a crash in between is harmless because every merged entry's id is kept in `spool_merged`.

**Authenticated lines.** A line is `HLS2 <mac> <body>`: `body` is one JSON object (the record's
kind, time and exact payload bytes, why it was spooled, by which process), and `mac` the keyed
BLAKE3 of `body` under a key derived from `keys/spool.key` ([`super::keys`]), which the agent
cannot read. What merges:

- a line whose MAC holds becomes the record it carries, marked `recovered`, at its original
  time: unless its id was merged before, or an identical record (same `ts_ns`, kind and payload
  bytes) is already in the chain (a process that died *during* its commit spools its record
  and the commit may still have happened);
- a line whose MAC fails, or that is oversized, torn or malformed, becomes one
  `spool-rejected` record: where it was, its size, its BLAKE3 and why; never its content;
- a line that cannot be authenticated, because it is in the format of earlier versions
  (`<blake3> <json>`, the single-file `ledger.spool`, which is still merged) or because there was
  no spool key when it was written or is none now, becomes one `spool-unauthenticated`
  record that carries what the line claims under `claimed`, never as the record it claims to
  be: such a line cannot be told from a forgery.

**Bounded.** Every field has a hard limit ([`MAX_LINE_BYTES`], [`MAX_KIND_BYTES`],
[`MAX_REASON_BYTES`]); a merge takes at most [`MERGE_MAX_ENTRIES`] lines, about
[`MERGE_MAX_BYTES`] and [`MERGE_MAX_TIME`] (less when the hook's deadline is nearer), and
remembers how far it got in a file by renaming it to `<name>@<offset>`, so a spool of any size
drains over several appends and no append waits on it.
*/

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::frame::to_hex;
use super::{NewRecord, bounded, canonical_json, fault, keys, now_ns};

pub const SPOOL_ENTRY_VERSION: u32 = 2;
pub const RECOVERED_KEY: &str = "recovered";
/// Written by versions before 2 for unreadable lines of `ledger.spool`; no longer written.
pub const SPOOL_DAMAGE_KIND: &str = crate::Kind::SpoolDamage.as_str();
pub const SPOOL_REJECTED_KIND: &str = crate::Kind::SpoolRejected.as_str();
pub const SPOOL_UNAUTHENTICATED_KIND: &str = crate::Kind::SpoolUnauthenticated.as_str();

/// The first field of every line this version writes.
pub const LINE_TAG: &str = "HLS2";
/// BLAKE3 `derive_key` context for the MAC key; the spool key is the key material.
pub const MAC_CONTEXT: &str = "hookledger 2026-12-01 spool entry MAC v2";
/// The MAC field of a line written when no spool key could be read or made.
pub const NO_MAC: &str = "-";

/// Longest line, newline excluded.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Longest payload a line carries; a record with a longer one is spooled as a summary.
pub const MAX_PAYLOAD_BYTES: usize = MAX_LINE_BYTES - 4096;
pub const MAX_KIND_BYTES: usize = 64;
pub const MAX_REASON_BYTES: usize = 1024;
/// How far past [`MAX_LINE_BYTES`] a merge looks for the end of an oversized line before it
/// drops the rest of that file (recorded as one rejected piece).
const MAX_SCAN_BYTES: u64 = 64 << 20;
pub const MERGE_MAX_ENTRIES: usize = 20_000;
pub const MERGE_MAX_BYTES: u64 = 32 << 20;
pub const MERGE_MAX_TIME: Duration = Duration::from_millis(750);
/// Files considered per merge: listing a directory of a million files must stay cheap too.
const LIST_MAX: usize = 4096;
/// A temporary file this old was left by a writer that died before renaming it.
const STALE_TMP: Duration = Duration::from_secs(60);
const TMP_SUFFIX: &str = ".tmp";

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
    #[error("record kind {0:?} cannot be spooled (1 to 64 bytes of a-z, 0-9 and '-')")]
    BadKind(String),
}

/// `ledger.db` → `ledger.spool.d`, the spool directory, in the same directory.
pub fn spool_path(ledger_path: &Path) -> PathBuf {
    ledger_path.with_extension("spool.d")
}

/// The single spool file of versions before 2 (`ledger.spool`), still merged.
pub fn legacy_path(spool_dir: &Path) -> PathBuf {
    spool_dir.with_extension("")
}

fn key_dir(spool_dir: &Path) -> PathBuf {
    spool_dir.parent().unwrap_or(Path::new(".")).join("keys")
}

fn mac_key(secret: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key(MAC_CONTEXT, secret)
}

fn mac_hex(key: &[u8; 32], body: &[u8]) -> String {
    blake3::keyed_hash(key, body).to_hex().to_string()
}

/// Whether a record kind may be spooled: what hookledger writes, and nothing else.
pub fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= MAX_KIND_BYTES
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_spool_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `bytes` (at most 32) unique-enough bytes as hex: a per-process seed and a counter (every
/// hook event makes several ids; a system call each would show in its latency). Uniqueness
/// only has to hold within one spool directory.
fn random_hex(bytes: usize) -> String {
    static SEED: OnceLock<[u8; 32]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // No system call: the pid tells live processes apart, the clock a reused pid, and the
    // addresses (randomized per process) add what they have.
    let seed = SEED.get_or_init(|| {
        let local = 0u8;
        let text = format!("{}-{}-{:p}-{:p}", now_ns(), pid(), &local, &COUNTER);
        *blake3::hash(text.as_bytes()).as_bytes()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    to_hex(&blake3::keyed_hash(seed, &n.to_le_bytes()).as_bytes()[..bytes.min(32)])
}

/// This process's id, asked once (`getpid` is a system call).
fn pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// A spool file name: the spooling time first, so names sort roughly in spooling order.
fn new_file_name() -> String {
    format!("{:020}-{}-{}", now_ns().max(0), pid(), random_hex(8))
}

/// The MAC key for spool lines written by this process, loaded (or made) once: `None` when it
/// can be neither. Never waits: the deadline watchdog calls this while the main thread may be
/// in the middle of loading it, and then loads its own copy.
fn writer_key(spool_dir: &Path) -> Option<[u8; 32]> {
    static KEY: Mutex<Option<(PathBuf, Option<[u8; 32]>)>> = Mutex::new(None);
    let dir = key_dir(spool_dir);
    let load = |dir: &Path| {
        keys::load_or_create_spool_key(dir)
            .ok()
            .map(|s| mac_key(&s))
    };
    let Ok(mut cached) = KEY.try_lock() else {
        return load(&dir);
    };
    match cached.as_ref() {
        Some((cached_dir, key)) if *cached_dir == dir => *key,
        _ => {
            let key = load(&dir);
            *cached = Some((dir, key));
            key
        }
    }
}

/// A record made ready for the spool before anything can go wrong: the key is loaded and the
/// spool id chosen, so every copy of it (written now, by the deadline watchdog, or by a signal
/// handler) carries the same id and merges once.
#[derive(Debug, Clone)]
pub struct Prepared {
    dir: PathBuf,
    spool_id: String,
    ts_ns: i64,
    kind: String,
    payload: Vec<u8>,
}

/// Readies `record` for the spool at `spool_dir`. A payload over [`MAX_PAYLOAD_BYTES`] is
/// replaced by a summary (its size, BLAKE3 and first KiB): the event stays on record.
pub fn prepare(spool_dir: &Path, record: &NewRecord) -> Result<Prepared, SpoolError> {
    if !valid_kind(&record.kind) {
        return Err(SpoolError::BadKind(
            truncate_utf8(&record.kind, MAX_KIND_BYTES).to_owned(),
        ));
    }
    let payload = if record.payload.len() > MAX_PAYLOAD_BYTES {
        let head = String::from_utf8_lossy(&record.payload[..1024]).into_owned();
        canonical_json(&json!({
            "spool_summary": {
                "bytes": record.payload.len(),
                "blake3": blake3::hash(&record.payload).to_hex().to_string(),
                "head": head,
                "why": format!("the payload is over the spool's {MAX_PAYLOAD_BYTES}-byte limit"),
            }
        }))
    } else {
        // The payload goes into the line verbatim, so it must be one JSON object. Records are
        // canonical JSON already: a full parse here would cost every hook event its payload's
        // parse time, so only the shape is checked (a merge parses it, and rejects what fails).
        std::str::from_utf8(&record.payload).map_err(|_| SpoolError::NotUtf8)?;
        if record.payload.first() != Some(&b'{') || record.payload.last() != Some(&b'}') {
            return Err(SpoolError::NotUtf8);
        }
        record.payload.clone()
    };
    Ok(Prepared {
        dir: spool_dir.to_owned(),
        spool_id: random_hex(16),
        ts_ns: record.ts_ns,
        kind: record.kind.clone(),
        payload,
    })
}

impl Prepared {
    pub fn spool_id(&self) -> &str {
        &self.spool_id
    }

    fn body(&self, reason: &str) -> Vec<u8> {
        let reason = truncate_utf8(reason, MAX_REASON_BYTES);
        let mut body = format!(
            "{{\"v\":{SPOOL_ENTRY_VERSION},\"spool_id\":\"{}\",\"ts_ns\":{},\"kind\":\"{}\",\"reason\":{},\"spooled_ns\":{},\"pid\":{},\"payload\":",
            self.spool_id,
            self.ts_ns,
            self.kind,
            Value::String(reason.to_owned()),
            now_ns(),
            pid(),
        )
        .into_bytes();
        body.extend_from_slice(&self.payload);
        body.push(b'}');
        body
    }

    /// One spool line: `HLS2 <mac> <body>\n`. Loads (or makes) the spool key: only when a
    /// record really goes to the spool, never on the way to the ledger.
    pub fn line(&self, reason: &str) -> Vec<u8> {
        let body = self.body(reason);
        let mac =
            writer_key(&self.dir).map_or_else(|| NO_MAC.to_owned(), |key| mac_hex(&key, &body));
        let mut line = Vec::with_capacity(body.len() + 80);
        line.extend_from_slice(LINE_TAG.as_bytes());
        line.push(b' ');
        line.extend_from_slice(mac.as_bytes());
        line.push(b' ');
        line.extend_from_slice(&body);
        line.push(b'\n');
        line
    }

    /// Writes the record to a new spool file of its own and makes it durable.
    pub fn write(&self, reason: &str) -> Result<(), SpoolError> {
        write_file(&self.dir, &new_file_name(), &self.line(reason)).map_err(|source| {
            SpoolError::Write {
                path: self.dir.clone(),
                source,
            }
        })
    }

    /// The record as a spool file a signal handler can write ([`fault::SpoolShot`]): the body
    /// is rendered now, the MAC by the handler (reading the key costs a hook that never spools).
    pub fn shot(&self, reason: &str) -> Option<fault::SpoolShot> {
        fault::SpoolShot::new(
            &self.dir,
            &new_file_name(),
            &keys::spool_key_path(&key_dir(&self.dir)),
            self.body(reason),
        )
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let mut attempt = 0;
    loop {
        attempt += 1;
        super::create_private_dir(dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let mut file = match options.open(&tmp) {
            // A merge removed the (empty) directory between our mkdir and open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => continue,
            other => other?,
        };
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_data())
            .and_then(|()| std::fs::rename(&tmp, dir.join(name)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        bounded::sync_dir(dir);
        return Ok(());
    }
}

/// Writes one record to the spool and makes it durable. Returns the entry's spool id.
pub fn append(spool_dir: &Path, record: &NewRecord, reason: &str) -> Result<String, SpoolError> {
    let prepared = prepare(spool_dir, record)?;
    prepared.write(reason)?;
    Ok(prepared.spool_id)
}

/// An authenticated spool entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolEntry {
    pub spool_id: String,
    pub ts_ns: i64,
    pub kind: String,
    /// The canonical payload bytes.
    pub payload: Vec<u8>,
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
        let payload = match serde_json::from_slice::<Value>(&self.payload) {
            Ok(Value::Object(mut map)) => {
                map.insert(RECOVERED_KEY.to_owned(), marker);
                Value::Object(map)
            }
            Ok(other) => json!({ "original": other, RECOVERED_KEY: marker }),
            Err(_) => json!({
                "original_text": String::from_utf8_lossy(&self.payload),
                RECOVERED_KEY: marker,
            }),
        };
        NewRecord {
            ts_ns: self.ts_ns,
            kind: self.kind.clone(),
            payload: canonical_json(&payload),
        }
    }
}

/// Where a line was and what it was, for the records that stand in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFacts {
    /// The spool file's name (at most 255 bytes of it, lossily decoded).
    pub file: String,
    pub offset: u64,
    pub bytes: u64,
    pub blake3: String,
}

/// Stable codes for why a spool line merges unauthenticated or is rejected: the `reason` of a
/// `spool-unauthenticated` or `spool-rejected` record starts with one (a rejection's may go on
/// with `: ` and details). They are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpoolCode {
    /// Unauthenticated: the line was written when no spool key could be read or made (no MAC).
    WrittenWithoutSpoolKey,
    /// Unauthenticated: the line has a MAC, and the merging process has no spool key to check
    /// it with.
    NoSpoolKey,
    /// Unauthenticated: a line in the checksummed format of versions before 2.
    LegacyFormat,
    /// Rejected: the line's MAC does not verify with the spool key.
    BadMac,
    /// Rejected: a legacy line whose checksum does not match.
    BadChecksum,
    /// Rejected: the line cannot be parsed (followed by what is wrong).
    Malformed,
    /// Rejected: a line cut short (no newline at the end of the file).
    Torn,
    /// Rejected: a line over the spool's length limit.
    Oversized,
    /// Rejected: a spool file that cannot be read.
    Unreadable,
    /// Rejected: an entry of the spool directory that is not a regular file.
    NotARegularFile,
}

impl SpoolCode {
    pub const ALL: &[SpoolCode] = &[
        SpoolCode::WrittenWithoutSpoolKey,
        SpoolCode::NoSpoolKey,
        SpoolCode::LegacyFormat,
        SpoolCode::BadMac,
        SpoolCode::BadChecksum,
        SpoolCode::Malformed,
        SpoolCode::Torn,
        SpoolCode::Oversized,
        SpoolCode::Unreadable,
        SpoolCode::NotARegularFile,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpoolCode::WrittenWithoutSpoolKey => "written-without-spool-key",
            SpoolCode::NoSpoolKey => "no-spool-key",
            SpoolCode::LegacyFormat => "legacy-format",
            SpoolCode::BadMac => "bad-mac",
            SpoolCode::BadChecksum => "bad-checksum",
            SpoolCode::Malformed => "malformed",
            SpoolCode::Torn => "torn",
            SpoolCode::Oversized => "oversized",
            SpoolCode::Unreadable => "unreadable",
            SpoolCode::NotARegularFile => "not-a-regular-file",
        }
    }
}

impl std::fmt::Display for SpoolCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One line (or one odd directory entry) of the spool, judged.
#[derive(Debug, Clone)]
pub enum Item {
    Genuine(SpoolEntry),
    Unauthenticated {
        why: &'static str,
        facts: LineFacts,
        claimed: Value,
    },
    Rejected {
        why: String,
        facts: LineFacts,
    },
}

impl Item {
    /// The key under which the merge remembers this item in `spool_merged`: the spool id
    /// for an authenticated entry, else a digest of where the line was ('x' is not hex, so
    /// the two never collide).
    pub fn merge_key(&self) -> String {
        match self {
            Item::Genuine(entry) => entry.spool_id.clone(),
            Item::Unauthenticated { facts, .. } | Item::Rejected { facts, .. } => {
                let place = blake3::hash(format!("{}\0{}", facts.file, facts.offset).as_bytes());
                format!("x{}", &place.to_hex()[..31])
            }
        }
    }

    /// The record that enters the chain for this item.
    pub fn to_record(&self) -> NewRecord {
        let place = |facts: &LineFacts| {
            json!({
                "file": facts.file,
                "offset": facts.offset,
                "bytes": facts.bytes,
                "blake3": facts.blake3,
            })
        };
        match self {
            Item::Genuine(entry) => entry.to_recovered_record(),
            Item::Unauthenticated {
                why,
                facts,
                claimed,
            } => NewRecord {
                ts_ns: now_ns(),
                kind: SPOOL_UNAUTHENTICATED_KIND.to_owned(),
                payload: canonical_json(&json!({
                    "reason": why,
                    "line": place(facts),
                    "claimed": claimed,
                })),
            },
            Item::Rejected { why, facts } => NewRecord {
                ts_ns: now_ns(),
                kind: SPOOL_REJECTED_KIND.to_owned(),
                payload: canonical_json(&json!({
                    "reason": why,
                    "line": place(facts),
                })),
            },
        }
    }
}

#[derive(Deserialize)]
struct BodyV2<'a> {
    v: u32,
    spool_id: String,
    ts_ns: i64,
    kind: String,
    #[serde(default)]
    reason: String,
    spooled_ns: i64,
    pid: u32,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// A line of versions before 2: the payload is a JSON string.
#[derive(Deserialize)]
struct BodyV1 {
    v: u32,
    spool_id: String,
    ts_ns: i64,
    kind: String,
    payload: String,
    #[serde(default)]
    reason: String,
    spooled_ns: i64,
    pid: u32,
}

/// The key a merge or a status check judges lines with.
#[derive(Debug, Clone, Copy)]
enum Judge {
    Key([u8; 32]),
    /// No `spool.key`, or it cannot be read: MACs cannot be checked.
    NoKey,
}

/// Judges one complete line. `facts.blake3` is filled in here, and only for lines that do
/// not merge as what they are (a genuine line's digest would be hashing for nothing).
fn judge_line(judge: Judge, line: &[u8], facts: LineFacts) -> Item {
    let item = judge_line_inner(judge, line, facts);
    match item {
        Item::Genuine(_) => item,
        Item::Unauthenticated {
            why,
            mut facts,
            claimed,
        } => {
            facts.blake3 = blake3::hash(line).to_hex().to_string();
            Item::Unauthenticated {
                why,
                facts,
                claimed,
            }
        }
        Item::Rejected { why, mut facts } => {
            facts.blake3 = blake3::hash(line).to_hex().to_string();
            Item::Rejected { why, facts }
        }
    }
}

fn judge_line_inner(judge: Judge, line: &[u8], facts: LineFacts) -> Item {
    let reject = |why: String, facts: LineFacts| Item::Rejected { why, facts };
    if let Some(rest) = line
        .strip_prefix(LINE_TAG.as_bytes())
        .and_then(|r| r.strip_prefix(b" "))
    {
        let Some(space) = memchr::memchr(b' ', rest) else {
            return reject(format!("{}: no MAC field", SpoolCode::Malformed), facts);
        };
        let (mac, body) = (&rest[..space], &rest[space + 1..]);
        let unauthenticated = match (mac, judge) {
            (b"-", _) => Some(SpoolCode::WrittenWithoutSpoolKey.as_str()),
            (_, Judge::NoKey) => Some(SpoolCode::NoSpoolKey.as_str()),
            (_, Judge::Key(key)) => {
                let Some(claimed) = std::str::from_utf8(mac)
                    .ok()
                    .and_then(|m| blake3::Hash::from_hex(m).ok())
                else {
                    return reject(
                        format!("{}: the MAC is not 64 hex digits", SpoolCode::Malformed),
                        facts,
                    );
                };
                // blake3::Hash compares in constant time.
                if blake3::keyed_hash(&key, body) != claimed {
                    return reject(SpoolCode::BadMac.as_str().into(), facts);
                }
                None
            }
        };
        let entry = match parse_v2(body) {
            Ok(entry) => entry,
            Err(why) => return reject(format!("{}: {why}", SpoolCode::Malformed), facts),
        };
        return match unauthenticated {
            None => Item::Genuine(entry),
            Some(why) => Item::Unauthenticated {
                why,
                facts,
                claimed: claimed_value(&entry),
            },
        };
    }
    // `<blake3 hex> <json>`: the format of versions before 2, checksummed, not authenticated.
    if line.len() > 65 && line[64] == b' ' {
        let (check, body) = (&line[..64], &line[65..]);
        if check != blake3::hash(body).to_hex().as_bytes() {
            return reject(SpoolCode::BadChecksum.as_str().into(), facts);
        }
        return match serde_json::from_slice::<BodyV1>(body) {
            Ok(v1) if v1.v == 1 => {
                if let Err(why) = check_limits(&v1.kind, &v1.reason, v1.payload.len()) {
                    return reject(format!("{}: {why}", SpoolCode::Malformed), facts);
                }
                let entry = SpoolEntry {
                    spool_id: v1.spool_id,
                    ts_ns: v1.ts_ns,
                    kind: v1.kind,
                    payload: v1.payload.into_bytes(),
                    reason: v1.reason,
                    spooled_ns: v1.spooled_ns,
                    pid: v1.pid,
                };
                Item::Unauthenticated {
                    why: SpoolCode::LegacyFormat.as_str(),
                    facts,
                    claimed: claimed_value(&entry),
                }
            }
            Ok(_) => reject(format!("{}: unknown version", SpoolCode::Malformed), facts),
            Err(e) => reject(format!("{}: {e}", SpoolCode::Malformed), facts),
        };
    }
    reject(format!("{}: not a spool line", SpoolCode::Malformed), facts)
}

fn parse_v2(body: &[u8]) -> Result<SpoolEntry, String> {
    let parsed: BodyV2<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if parsed.v != SPOOL_ENTRY_VERSION {
        return Err(format!("version {}", parsed.v));
    }
    if !valid_spool_id(&parsed.spool_id) {
        return Err("spool_id is not 32 hex digits".into());
    }
    let payload = parsed.payload.get();
    check_limits(&parsed.kind, &parsed.reason, payload.len())?;
    if !payload.starts_with('{') {
        return Err("payload is not a JSON object".into());
    }
    Ok(SpoolEntry {
        spool_id: parsed.spool_id,
        ts_ns: parsed.ts_ns,
        kind: parsed.kind,
        payload: payload.as_bytes().to_vec(),
        reason: parsed.reason,
        spooled_ns: parsed.spooled_ns,
        pid: parsed.pid,
    })
}

/// The limits every entry is held to, authenticated or not.
fn check_limits(kind: &str, reason: &str, payload_len: usize) -> Result<(), String> {
    if !valid_kind(kind) {
        return Err(format!(
            "the kind ({} bytes) is not 1 to {MAX_KIND_BYTES} bytes of a-z, 0-9 and '-'",
            kind.len()
        ));
    }
    if reason.len() > MAX_REASON_BYTES {
        return Err(format!("the reason is over {MAX_REASON_BYTES} bytes"));
    }
    if payload_len > MAX_PAYLOAD_BYTES {
        return Err(format!("the payload is over {MAX_PAYLOAD_BYTES} bytes"));
    }
    Ok(())
}

/// What an unauthenticated line says about itself, kept as data.
fn claimed_value(entry: &SpoolEntry) -> Value {
    let payload = serde_json::from_slice::<Value>(&entry.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&entry.payload).into_owned()));
    json!({
        "spool_id": entry.spool_id,
        "ts_ns": entry.ts_ns,
        "kind": entry.kind,
        "reason": entry.reason,
        "spooled_ns": entry.spooled_ns,
        "pid": entry.pid,
        "payload": payload,
    })
}

/// A spool file name split into its base and the offset a merge already reached in it.
fn split_name(name: &str) -> (&str, u64) {
    match name.rsplit_once('@') {
        Some((base, offset)) => match offset.parse() {
            Ok(offset) => (base, offset),
            Err(_) => (name, 0),
        },
        None => (name, 0),
    }
}

fn shown_name(name: &std::ffi::OsStr) -> String {
    truncate_utf8(&name.to_string_lossy(), 255).to_owned()
}

#[derive(Debug)]
enum Candidate {
    File {
        name: OsString,
    },
    /// A directory entry that is not a regular file (directory, FIFO, link, device, socket).
    Odd {
        name: OsString,
        what: &'static str,
    },
}

struct Reading {
    name: OsString,
    base: String,
    reader: BufReader<File>,
    start: u64,
    offset: u64,
}

/// Reads spool lines in order and judges them; a merge takes items until its budget is spent,
/// then [`Scan::finish`]es (after its commit) by removing what it consumed.
pub struct Scan {
    dir: PathBuf,
    judge: Judge,
    queue: VecDeque<Candidate>,
    current: Option<Reading>,
    /// Fully consumed: removed by `finish`.
    consumed: Vec<OsString>,
    /// The legacy file, when a status check reads it in place.
    legacy_in_place: Option<PathBuf>,
    /// Bytes of lines handed out so far.
    pub bytes: u64,
}

/// Cheap check for the append path: is anything waiting? Two `stat`s when nothing is.
pub fn pending_hint(spool_dir: &Path) -> bool {
    std::fs::symlink_metadata(spool_dir).is_ok()
        || std::fs::symlink_metadata(legacy_path(spool_dir)).is_ok_and(|m| m.len() > 0)
}

impl Scan {
    /// Opens the spool for a merge: adopts the legacy file into the directory when its lock is
    /// free (never waiting for it), and lists up to `LIST_MAX` (4096) files. `None` when there is
    /// nothing to merge.
    pub fn for_merge(spool_dir: &Path) -> Result<Option<Scan>, SpoolError> {
        adopt_legacy(spool_dir);
        let mut scan = Scan::new(spool_dir, LIST_MAX)?;
        if scan.queue.is_empty() {
            // Empty: remove the directory, so the next append's check is one failing stat. A
            // writer that created a file meanwhile makes this fail, which is fine.
            let _ = std::fs::remove_dir(spool_dir);
            return Ok(None);
        }
        scan.judge = load_judge(spool_dir);
        Ok(Some(scan))
    }

    fn new(spool_dir: &Path, limit: usize) -> Result<Scan, SpoolError> {
        let mut scan = Scan {
            dir: spool_dir.to_owned(),
            judge: Judge::NoKey,
            queue: VecDeque::new(),
            current: None,
            consumed: Vec::new(),
            legacy_in_place: None,
            bytes: 0,
        };
        let entries = match std::fs::read_dir(spool_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(source) => {
                return Err(SpoolError::Read {
                    path: spool_dir.to_owned(),
                    source,
                });
            }
        };
        let now = SystemTime::now();
        let mut found: Vec<Candidate> = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            if found.len() >= limit {
                break;
            }
            let name = entry.file_name();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_file() {
                let fresh_tmp = name.to_string_lossy().ends_with(TMP_SUFFIX)
                    && entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| now.duration_since(t).unwrap_or_default() < STALE_TMP);
                if !fresh_tmp {
                    found.push(Candidate::File { name });
                }
            } else {
                let what = if file_type.is_dir() {
                    "a directory"
                } else if file_type.is_symlink() {
                    "a symbolic link"
                } else {
                    "not a regular file"
                };
                found.push(Candidate::Odd { name, what });
            }
        }
        let name_of = |c: &Candidate| match c {
            Candidate::File { name } | Candidate::Odd { name, .. } => name.clone(),
        };
        found.sort_by_key(name_of);
        scan.queue = found.into();
        Ok(scan)
    }

    fn remember_consumed(&mut self, name: OsString) {
        self.consumed.push(name);
    }

    /// The next judged item, or `None` when every listed file is consumed.
    pub fn next_item(&mut self) -> Option<Item> {
        loop {
            if self.current.is_none() {
                let candidate = self.queue.pop_front()?;
                match candidate {
                    Candidate::Odd { name, what } => {
                        let facts = LineFacts {
                            file: shown_name(&name),
                            offset: 0,
                            bytes: 0,
                            blake3: blake3::hash(name.as_encoded_bytes()).to_hex().to_string(),
                        };
                        self.remember_consumed(name);
                        return Some(Item::Rejected {
                            why: format!("{}: {what}", SpoolCode::NotARegularFile),
                            facts,
                        });
                    }
                    Candidate::File { name } => match self.open(&name) {
                        Ok(Some(reading)) => self.current = Some(reading),
                        Ok(None) => continue,
                        Err(e) => {
                            let facts = LineFacts {
                                file: shown_name(&name),
                                offset: 0,
                                bytes: 0,
                                blake3: blake3::hash(name.as_encoded_bytes()).to_hex().to_string(),
                            };
                            self.remember_consumed(name);
                            return Some(Item::Rejected {
                                why: format!("{}: {e}", SpoolCode::Unreadable),
                                facts,
                            });
                        }
                    },
                }
            }
            let reading = self.current.as_mut()?;
            match read_line(reading) {
                Ok(Some((line, start, len, complete))) => {
                    self.bytes += len;
                    let facts = LineFacts {
                        file: truncate_utf8(&reading.base, 255).to_owned(),
                        offset: start,
                        bytes: len,
                        blake3: String::new(),
                    };
                    match line {
                        LineRead::Empty => continue,
                        LineRead::Whole(bytes) if complete => {
                            return Some(judge_line(self.judge, &bytes, facts));
                        }
                        LineRead::Whole(bytes) => {
                            let facts = LineFacts {
                                blake3: blake3::hash(&bytes).to_hex().to_string(),
                                ..facts
                            };
                            return Some(Item::Rejected {
                                why: format!(
                                    "{}: no newline at the end of the file",
                                    SpoolCode::Torn
                                ),
                                facts,
                            });
                        }
                        LineRead::Oversized { digest, to_eof } => {
                            let facts = LineFacts {
                                blake3: digest,
                                ..facts
                            };
                            let why = if to_eof {
                                format!(
                                    "{}: no line end within {} bytes; the rest of the file is dropped",
                                    SpoolCode::Oversized,
                                    MAX_LINE_BYTES as u64 + MAX_SCAN_BYTES
                                )
                            } else {
                                format!("{}: over {MAX_LINE_BYTES} bytes", SpoolCode::Oversized)
                            };
                            return Some(Item::Rejected { why, facts });
                        }
                    }
                }
                Ok(None) => {
                    if let Some(done) = self.current.take() {
                        self.remember_consumed(done.name);
                    }
                }
                Err(e) => {
                    let Some(done) = self.current.take() else {
                        continue;
                    };
                    let facts = LineFacts {
                        file: truncate_utf8(&done.base, 255).to_owned(),
                        offset: done.offset,
                        bytes: 0,
                        blake3: String::new(),
                    };
                    self.remember_consumed(done.name);
                    return Some(Item::Rejected {
                        why: format!("{}: {e}", SpoolCode::Unreadable),
                        facts,
                    });
                }
            }
        }
    }

    /// `Ok(None)`: gone meanwhile (another merge took it).
    fn open(&self, name: &OsString) -> std::io::Result<Option<Reading>> {
        let path = self.dir.join(name);
        let file = match bounded::open_regular(&path, true) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let text = name.to_string_lossy().into_owned();
        let (base, offset) = split_name(&text);
        let base = base.to_owned();
        let mut reader = BufReader::with_capacity(256 << 10, file);
        reader.seek(SeekFrom::Start(offset))?;
        Ok(Some(Reading {
            name: name.clone(),
            base,
            reader,
            start: offset,
            offset,
        }))
    }

    /// After the merge committed: removes the files it consumed, and renames the one it
    /// stopped in to `<name>@<offset>`. Best effort: what stays is merged again, and the
    /// merge skips what `spool_merged` already holds.
    pub fn finish(self) {
        for name in &self.consumed {
            let path = self.dir.join(name);
            if std::fs::remove_file(&path).is_err() {
                let _ = std::fs::remove_dir(&path);
            }
        }
        if let Some(reading) = &self.current {
            let from = self.dir.join(&reading.name);
            let len = reading
                .reader
                .get_ref()
                .metadata()
                .map_or(u64::MAX, |m| m.len());
            if reading.offset >= len {
                let _ = std::fs::remove_file(from);
            } else if reading.offset > reading.start {
                let to = self
                    .dir
                    .join(format!("{}@{}", reading.base, reading.offset));
                let _ = std::fs::rename(from, to);
            }
        }
        // Succeeds only when the directory is empty: then the next append's check is one
        // failing stat.
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// Reads the legacy file where it is, without adopting it (status checks change nothing).
    fn include_legacy_in_place(&mut self) {
        let legacy = legacy_path(&self.dir);
        if std::fs::symlink_metadata(&legacy).is_ok_and(|m| m.is_file() && m.len() > 0) {
            self.legacy_in_place = Some(legacy);
        }
    }
}

enum LineRead {
    Empty,
    Whole(Vec<u8>),
    Oversized { digest: String, to_eof: bool },
}

/// Reads the next line of `reading`: `(line, its offset, its length including the newline,
/// whether it ended with a newline)`, or `None` at the end of the file.
fn read_line(reading: &mut Reading) -> std::io::Result<Option<(LineRead, u64, u64, bool)>> {
    let start = reading.offset;
    let mut line = Vec::new();
    let limit = MAX_LINE_BYTES as u64 + 1;
    let n = (&mut reading.reader)
        .take(limit)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    let complete = line.last() == Some(&b'\n');
    if complete {
        line.pop();
        reading.offset += n as u64;
        let read = if line.is_empty() {
            LineRead::Empty
        } else {
            LineRead::Whole(line)
        };
        return Ok(Some((read, start, n as u64, true)));
    }
    if (n as u64) < limit {
        reading.offset += n as u64;
        return Ok(Some((LineRead::Whole(line), start, n as u64, false)));
    }
    // Oversized: hash through to its end, as far as MAX_SCAN_BYTES.
    let mut hasher = blake3::Hasher::new();
    hasher.update(&line);
    let mut total = n as u64;
    let mut ended = false;
    loop {
        let buf = reading.reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (take, found) = match memchr::memchr(b'\n', buf) {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        hasher.update(&buf[..take]);
        reading.reader.consume(take);
        total += take as u64;
        if found {
            ended = true;
            break;
        }
        if total > MAX_LINE_BYTES as u64 + MAX_SCAN_BYTES {
            break;
        }
    }
    reading.offset += total;
    let to_eof = !ended;
    if to_eof {
        // Nothing after this in the file is read: the merge counts the file as consumed.
        let end = reading.reader.get_ref().metadata().map_or(0, |m| m.len());
        reading
            .reader
            .seek(SeekFrom::Start(end.max(reading.offset)))?;
        reading.offset = end.max(reading.offset);
        total = reading.offset - start;
    }
    Ok(Some((
        LineRead::Oversized {
            digest: hasher.finalize().to_hex().to_string(),
            to_eof,
        },
        start,
        total,
        ended,
    )))
}

fn load_judge(spool_dir: &Path) -> Judge {
    match keys::load_spool_key(&key_dir(spool_dir)) {
        Ok(Some(secret)) => Judge::Key(mac_key(&secret)),
        _ => Judge::NoKey,
    }
}

/// Moves the legacy `ledger.spool` into the spool directory, if no writer of an earlier
/// version holds its lock right now (this never waits: it is tried again at the next merge).
/// The old writers lock it for one `write`; one that had opened it before the move appends to
/// the moved file, which is merged like the rest.
fn adopt_legacy(spool_dir: &Path) {
    let legacy = legacy_path(spool_dir);
    let Ok(meta) = std::fs::symlink_metadata(&legacy) else {
        return;
    };
    if !meta.is_file() {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let Ok(file) = options.open(&legacy) else {
        return;
    };
    if file.try_lock().is_err() {
        return;
    }
    if file.metadata().is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&legacy);
        return;
    }
    if super::create_private_dir(spool_dir).is_err() {
        return;
    }
    let name = format!("{:020}-legacy-{}", now_ns().max(0), random_hex(8));
    if std::fs::rename(&legacy, spool_dir.join(name)).is_ok() {
        bounded::sync_dir(spool_dir);
    }
}

/// What a reader (verify, doctor) sees in the spool without merging it: lines that will
/// merge (authenticated or not) and lines that will be rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStatus {
    pub pending: usize,
    pub damaged: usize,
}

/// Counts what waits in the spool. Takes no lock and changes nothing.
pub fn status(spool_dir: &Path) -> Result<SpoolStatus, SpoolError> {
    let mut scan = Scan::new(spool_dir, usize::MAX)?;
    scan.judge = load_judge(spool_dir);
    scan.include_legacy_in_place();
    let mut counted = SpoolStatus::default();
    let count = |counted: &mut SpoolStatus, item: Item| match item {
        Item::Rejected { .. } => counted.damaged += 1,
        _ => counted.pending += 1,
    };
    while let Some(item) = scan.next_item() {
        count(&mut counted, item);
    }
    if let Some(legacy) = scan.legacy_in_place.take() {
        let file = bounded::open_regular(&legacy, true).map_err(|source| SpoolError::Read {
            path: legacy.clone(),
            source,
        })?;
        let mut reading = Reading {
            name: OsString::from("ledger.spool"),
            base: "ledger.spool".into(),
            reader: BufReader::new(file),
            start: 0,
            offset: 0,
        };
        while let Ok(Some((line, start, len, complete))) = read_line(&mut reading) {
            let facts = LineFacts {
                file: "ledger.spool".into(),
                offset: start,
                bytes: len,
                blake3: String::new(),
            };
            match line {
                LineRead::Empty => {}
                LineRead::Whole(bytes) if complete => {
                    count(&mut counted, judge_line(scan.judge, &bytes, facts))
                }
                _ => counted.damaged += 1,
            }
        }
    }
    Ok(counted)
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

    fn spool_in(dir: &Path) -> PathBuf {
        dir.join("ledger.spool.d")
    }

    fn drain(dir: &Path) -> Vec<Item> {
        let mut scan = Scan::for_merge(dir).unwrap().unwrap();
        let mut items = Vec::new();
        while let Some(item) = scan.next_item() {
            items.push(item);
        }
        scan.finish();
        items
    }

    #[test]
    fn round_trip_is_authenticated_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool_in(dir.path());
        let id = append(&spool, &record("prompt"), "locked").unwrap();
        append(&spool, &record("tool-call"), "locked").unwrap();
        assert_eq!(
            status(&spool).unwrap(),
            SpoolStatus {
                pending: 2,
                damaged: 0
            }
        );
        let items = drain(&spool);
        assert_eq!(items.len(), 2);
        let Item::Genuine(first) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(
            (first.spool_id.as_str(), first.kind.as_str()),
            (id.as_str(), "prompt")
        );
        assert_eq!(first.payload, br#"{"a":1}"#);
        assert!(!spool.exists(), "an empty spool directory is removed");
        assert_eq!(status(&spool).unwrap(), SpoolStatus::default());
    }

    #[test]
    fn forged_oversized_and_torn_lines_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool_in(dir.path());
        append(&spool, &record("prompt"), "locked").unwrap();
        let good = std::fs::read_dir(&spool)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let genuine = std::fs::read(&good).unwrap();
        // Same body, MAC made up: a forgery.
        let mut forged = genuine.clone();
        forged[5] = if forged[5] == b'0' { b'1' } else { b'0' };
        std::fs::write(spool.join("00-forged"), &forged).unwrap();
        let mut big = b"HLS2 ".to_vec();
        big.extend(std::iter::repeat_n(b'k', MAX_LINE_BYTES + 10));
        big.extend_from_slice(b"\n");
        big.extend_from_slice(&genuine);
        std::fs::write(spool.join("01-big"), &big).unwrap();
        std::fs::write(spool.join("02-torn"), &genuine[..genuine.len() - 1]).unwrap();
        let items = drain(&spool);
        let whys: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Genuine(e) => format!("genuine {}", e.kind),
                Item::Rejected { why, .. } => why.clone(),
                Item::Unauthenticated { why, .. } => why.to_string(),
            })
            .collect();
        assert_eq!(whys[0], "bad-mac");
        assert!(whys[1].starts_with("oversized"), "{whys:?}");
        assert_eq!(
            whys[2], "genuine prompt",
            "the line after the oversized one is read"
        );
        // The genuine file's name (its spooling time) sorts before "02-torn".
        assert_eq!(whys[3], "genuine prompt");
        assert!(whys[4].starts_with("torn"), "{whys:?}");
        assert_eq!(items.len(), 5);
    }

    #[test]
    fn legacy_lines_are_unauthenticated() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool_in(dir.path());
        let body = r#"{"v":1,"spool_id":"ab","ts_ns":7,"kind":"edit","payload":"{\"x\":1}","reason":"r","spooled_ns":8,"pid":1}"#;
        let line = format!(
            "{} {body}\n0000 torn",
            blake3::hash(body.as_bytes()).to_hex()
        );
        std::fs::write(legacy_path(&spool), line).unwrap();
        assert_eq!(
            status(&spool).unwrap(),
            SpoolStatus {
                pending: 1,
                damaged: 1
            }
        );
        let items = drain(&spool);
        assert!(!legacy_path(&spool).exists(), "adopted");
        match &items[0] {
            Item::Unauthenticated { why, claimed, .. } => {
                assert_eq!(*why, "legacy-format");
                assert_eq!(claimed["kind"], "edit");
                assert_eq!(claimed["payload"]["x"], 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&items[1], Item::Rejected { why, .. } if why == "bad-checksum" || why.starts_with("torn"))
        );
    }

    #[test]
    fn a_partial_merge_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool_in(dir.path());
        let prepared = prepare(&spool, &record("prompt")).unwrap();
        let mut lines = Vec::new();
        for _ in 0..5 {
            lines.extend(prepared.line("x"));
        }
        std::fs::create_dir_all(&spool).unwrap();
        std::fs::write(spool.join("00001-1-aa"), &lines).unwrap();
        let mut scan = Scan::for_merge(&spool).unwrap().unwrap();
        assert!(scan.next_item().is_some());
        assert!(scan.next_item().is_some());
        scan.finish();
        let names: Vec<String> = std::fs::read_dir(&spool)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [format!("00001-1-aa@{}", 2 * lines.len() / 5)]);
        assert_eq!(drain(&spool).len(), 3);
    }

    #[test]
    fn without_a_key_lines_are_unauthenticated() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool_in(dir.path());
        append(&spool, &record("prompt"), "locked").unwrap();
        std::fs::remove_file(keys::spool_key_path(&key_dir(&spool))).unwrap();
        let items = drain(&spool);
        assert!(matches!(
            &items[0],
            Item::Unauthenticated {
                why: "no-spool-key",
                ..
            }
        ));
    }

    #[test]
    fn kinds_are_limited() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool_in(dir.path());
        assert!(append(&spool, &record(&"k".repeat(70_000)), "x").is_err());
        assert!(append(&spool, &record("Tool Call"), "x").is_err());
        let mut huge = record("prompt");
        huge.payload = canonical_json(&json!({"p": "x".repeat(MAX_PAYLOAD_BYTES)}));
        append(&spool, &huge, "x").unwrap();
        let items = drain(&spool);
        let Item::Genuine(entry) = &items[0] else {
            panic!()
        };
        let value: Value = serde_json::from_slice(&entry.payload).unwrap();
        assert!(value["spool_summary"]["bytes"].as_u64().unwrap() > MAX_PAYLOAD_BYTES as u64);
    }

    #[test]
    fn recovered_record_keeps_timestamp_and_marks_origin() {
        let entry = SpoolEntry {
            spool_id: "ab".into(),
            ts_ns: 7,
            kind: "prompt".into(),
            payload: br#"{"prompt":"x"}"#.to_vec(),
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
