/*!
hookledger's ledger: the append-only, hash-chained SQLite ledger, its spool, checkpoints,
pruning and verification, and what leaves it — the export formats (native, ECS, OCSF), cursors,
segments, shipping and the receiver's verification of exports. The CLI/hook binary and the fleet
server both build on it; it knows nothing of policy or of Claude Code.

- [`record`]: the record vocabulary, every [`Kind`] and typed views of the payloads; [`query`]:
  reading records (ranges, kinds, genesis, hashes, [`Query`]) — nothing outside this crate runs
  SQL over `records`; [`canonical`]: the RFC 8785 form payloads are stored in;
  [`append_or_spool`]: how every writer records.
- [`frame`]: the record frame and its BLAKE3 chain hash; [`keys`] and [`checkpoint`]: signing.
- [`bounded`], [`spool`], [`fault`]: appends that never wait without a deadline and never lose
  a record; [`health`]: what `doctor` asks of a ledger.
- [`verify`], [`prune`]: the local verifier and signed pruning.
- [`export`]: export lines, cursors, shipping, and [`export::receive`] (`verify-export`).
- [`output`]: writing a file someone named (atomic for regular files, in place for devices).
- [`host`]: the machine facts recorded in genesis.

## The ledger

Many short-lived hook processes append concurrently. Each append runs in a `BEGIN IMMEDIATE`
transaction and reads the chain tip inside it, so SQLite's single write lock serializes the
chain. When the database cannot be written, records go to the spool (see [`spool`]) and are
merged by the next successful append.

**Nothing waits without a deadline** ([`bounded`]): the append lock, SQLite's busy wait and the
spool merge all end before the hook's deadline, leaving time to spool and answer.

**The append lock, and why SQLite's own is not enough.** SQLite's WAL locks are POSIX locks on
bytes of the `-shm` file, and its WAL index lives in that file's mapping. If `-shm` is
*replaced* (a new inode), processes that opened it before keep the old mapping and locks while
new ones use the new file: two processes can then both hold "the" write lock, or one writes
from a stale index over frames another committed. A record lost without a trace (the test
`under_faults::changed_shm_under_load_kills_no_hook_and_loses_nothing` lost records this way
until all of the below was in place). So:

- every append (and every other write, [`Ledger::with_write_lock`]) holds an exclusive `flock`
  on the ledger's directory ([`bounded::DirLock`]), and opening the ledger holds it shared.
  Replacing `-shm`, the WAL or the database cannot defeat a lock on the directory, and a
  directory descriptor never disturbs SQLite's POSIX locks (closing any descriptor of the
  *database file* would drop them all, which rules out locking that file). Holding it shared
  while opening means no process maps a new `-shm` (and rebuilds its index from the WAL) in
  the middle of another's append and WAL trim;
- under the exclusive lock, an append first checks that the database, `-wal` and `-shm` paths
  still name the files its connection has open (device and inode) and reopens if not, then
  commits, trims the WAL, and checks again. If they changed in between, the commit is
  *uncertain* ([`AppendOutcome::uncertain`]): the records are spooled as well and the spool
  files it merged are kept, and the merge keeps exactly one copy of each (it drops a spooled
  record identical to one in the chain, and skips what `spool_merged` holds);
- which files the connection has open is read from `/proc/self/fd` right after opening: ext4
  gives a freed inode number to the next new file at once, so a `stat` of the path before and
  after the open can match while SQLite opened a file that was replaced in between.

A writer that does not take the lock (an older hookledger, the sqlite3 CLI, and today `prune`
and the export cursor updates, which could use [`Ledger::with_write_lock`]) is not covered;
SQLite's own locking still serializes it with everyone else as long as nobody replaces files.

**Signals.** Truncating `-shm` makes SQLite's next access to a mapped page past the end raise
SIGBUS. The hook arms its answer and its record as a pre-rendered spool file before appending
([`fault`]); the append marks when its commit starts and ends so a committed record is not
spooled again.
*/

pub mod bounded;
pub mod canonical;
pub mod checkpoint;
pub mod export;
pub mod fault;
pub mod frame;
pub mod health;
pub mod host;
pub mod keys;
pub mod output;
pub mod prune;
pub mod query;
pub mod record;
pub mod spool;
pub mod verify;

/// The environment variable that overrides hookledger's data directory.
pub const HOME_ENV: &str = "HOOKLEDGER_HOME";
/// The ledger's file name inside the data directory.
pub const LEDGER_FILE: &str = "ledger.db";

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};

pub use frame::{Frame, Hash, LedgerId, ZERO_HASH};
pub use query::Query;
pub use record::Kind;

/// `'HKL1'`: marks the file as a hookledger ledger (SQLite header offset 68).
pub const APPLICATION_ID: i32 = 0x484B_4C31;
/// The record frame and payload conventions this build writes.
pub const FORMAT_VERSION: i64 = 1;

/// Numbered migrations, applied in order; `user_version` is the number of the last one applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../schema/migrations/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../schema/migrations/0002_export_cursor.sql"),
    ),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The consolidated schema, kept in `schema/ledger.sql` for readers; tests check the
/// migrations produce it.
pub const SCHEMA_SQL: &str = include_str!("../../../schema/ledger.sql");

pub const GENESIS_KIND: &str = Kind::Genesis.as_str();

/// How much of the database file a read-only connection maps instead of reading.
const READER_MMAP_BYTES: i64 = 1 << 34;

/// WAL size past which an append empties the WAL (about 18 hook events); see `Ledger::trim_wal`.
const WAL_TRIM_BYTES: u64 = 256 << 10;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot open ledger {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not a hookledger ledger (application_id {found:#010x})")]
    NotALedger { path: PathBuf, found: i32 },
    #[error(
        "ledger {path} has schema version {found}; this hookledger understands up to {known} \
         (upgrade hookledger)"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("ledger {0} does not exist")]
    Missing(PathBuf),
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ledger database: a record column has the wrong type: {0}")]
    Column(#[from] rusqlite::types::FromSqlError),
    #[error("could not switch the ledger to WAL mode (got {0}); is it on a network filesystem?")]
    NotWal(String),
    #[error("ledger has no identity row (ledger_meta)")]
    MissingMeta,
    #[error(transparent)]
    Frame(#[from] frame::FrameError),
    #[error("ledger signing key: {0}")]
    Key(#[from] keys::KeyError),
    #[error("spool: {0}")]
    Spool(#[from] spool::SpoolError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
    #[error(transparent)]
    Lock(#[from] bounded::LockError),
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("the ledger's files ({0}, -wal, -shm) kept being replaced while it was opened")]
    Unstable(PathBuf),
}

impl LedgerError {
    /// Busy/locked errors are expected under contention and handled by spooling.
    pub fn is_busy(&self) -> bool {
        if matches!(self, LedgerError::Lock(bounded::LockError::Busy { .. })) {
            return true;
        }
        let code = match self {
            LedgerError::Sqlite(e) | LedgerError::Open { source: e, .. } => e.sqlite_error_code(),
            _ => None,
        };
        matches!(
            code,
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// How hard a commit is pushed to stable storage. See the README's "Durability" section for the
/// measurement behind the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// WAL + `synchronous=NORMAL`: survives process crashes; a power loss may drop the newest
    /// commits as a clean prefix (the chain stays valid, only shorter).
    Normal,
    /// WAL + `synchronous=FULL`: one fsync per commit.
    Full,
}

#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub durability: Durability,
    pub busy_timeout: Duration,
    /// An append that crosses a multiple of this many records adds a signed checkpoint in the
    /// same transaction (0: never). Bounds how much of an unshipped tail goes unsigned.
    pub checkpoint_every: u64,
}

/// Default for [`OpenOptions::checkpoint_every`]; `HOOKLEDGER_CHECKPOINT_EVERY` overrides it.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 256;
pub const CHECKPOINT_EVERY_ENV: &str = "HOOKLEDGER_CHECKPOINT_EVERY";

/// Overrides [`OpenOptions::busy_timeout`] (milliseconds).
pub const BUSY_TIMEOUT_ENV: &str = "HOOKLEDGER_BUSY_TIMEOUT_MS";

impl Default for OpenOptions {
    fn default() -> Self {
        let env_number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            durability: Durability::Normal,
            busy_timeout: Duration::from_millis(env_number(BUSY_TIMEOUT_ENV).unwrap_or(3000)),
            checkpoint_every: env_number(CHECKPOINT_EVERY_ENV).unwrap_or(DEFAULT_CHECKPOINT_EVERY),
        }
    }
}

/// A record to append: the payload must already be canonical JSON (see [`canonical_json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub ts_ns: i64,
    pub kind: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub ts_ns: i64,
    pub kind: String,
    pub payload: Vec<u8>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub hash: Hash,
}

/// What one append did, including spool entries it merged on the way.
#[derive(Debug, Clone, Default)]
pub struct AppendOutcome {
    pub appended: Vec<Appended>,
    pub merged_from_spool: usize,
    /// The ledger's files were replaced while the commit ran: it may have gone to a file
    /// nobody reads, or been overwritten by a writer with a stale index. Spool the records too;
    /// the merge keeps one copy.
    pub uncertain: bool,
}

/// Kind of the record an append writes when an interval checkpoint was due and could not be
/// signed (no key, an unreadable one): signing never stops silently.
pub const CHECKPOINT_FAILED_KIND: &str = Kind::CheckpointFailed.as_str();

/// The identity (device, inode) of the database, `-wal` and `-shm` paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct LedgerFiles {
    db: Option<bounded::FileId>,
    wal: Option<bounded::FileId>,
    shm: Option<bounded::FileId>,
}

impl LedgerFiles {
    fn of(path: &Path) -> Self {
        let with = |suffix: &str| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            bounded::file_id(Path::new(&p))
        };
        LedgerFiles {
            db: bounded::file_id(path),
            wal: with("-wal"),
            shm: with("-shm"),
        }
    }

    /// Whether `self`, seen right after SQLite opened the files, names the files SQLite has
    /// open. Where the platform lists open files, each existing path must be one of them (a
    /// path that was replaced while SQLite opened it would otherwise pass when the new file
    /// got the old one's inode number, which ext4 hands out again at once). Elsewhere, each
    /// file that existed before the open must still be there.
    fn opened_by_us(&self, before: &LedgerFiles) -> bool {
        let wanted: Vec<bounded::FileId> = [self.db, self.wal, self.shm]
            .into_iter()
            .flatten()
            .collect();
        match bounded::has_open(&wanted) {
            Some(open) => open,
            None => [
                (before.db, self.db),
                (before.wal, self.wal),
                (before.shm, self.shm),
            ]
            .iter()
            .all(|(b, a)| b.is_none() || b == a),
        }
    }
}

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    ledger_id: LedgerId,
    busy_timeout: Duration,
    checkpoint_every: u64,
    durability: Durability,
    files: LedgerFiles,
    /// The genesis payload, parsed on first use ([`Ledger::genesis`]).
    genesis: std::cell::OnceCell<Option<record::Genesis>>,
}

pub fn now_ns() -> i64 {
    let now = std::time::SystemTime::now();
    match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// RFC 8785 canonical bytes: the form payloads are hashed and stored in (see [`canonical`]).
pub fn canonical_json(value: &Value) -> Vec<u8> {
    canonical::value_to_vec(value)
}

fn sqlite_flags(read_only: bool) -> OpenFlags {
    let base = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    if read_only {
        base | OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        base | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    }
}

impl Ledger {
    /// Opens the ledger for appending, creating it (with its genesis record and signing key)
    /// when it does not exist yet.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Self, LedgerError> {
        let existed = match std::fs::metadata(path) {
            // SQLite would block reading a FIFO.
            Ok(meta) if !meta.is_file() => return Err(LedgerError::NotAFile(path.to_owned())),
            Ok(_) => true,
            Err(_) => false,
        };
        let dir = dir_of(path);
        if !existed {
            create_private_dir(dir)?;
        }
        // Opening maps `-shm` (and may rebuild the WAL index from the WAL): never in the middle
        // of someone's append (see the module doc).
        let mut shared = Some(bounded::DirLock::acquire_shared(
            dir,
            bounded::wait_limit(options.busy_timeout),
        )?);
        Self::open_checked(path, options, &mut shared)
    }

    /// Opens until the database, `-wal` and `-shm` files are the same before and after (so the
    /// connection has the files whose identity it records). `shared`: the shared hold of the
    /// append lock, upgraded if the ledger must be created or migrated; `None` when the caller
    /// holds it exclusively.
    fn open_checked(
        path: &Path,
        options: &OpenOptions,
        shared: &mut Option<bounded::DirLock>,
    ) -> Result<Self, LedgerError> {
        for _ in 0..3 {
            // Only needed where the open files cannot be listed.
            let before = if cfg!(unix) {
                LedgerFiles::default()
            } else {
                LedgerFiles::of(path)
            };
            let mut ledger = Self::open_once(path, options, shared)?;
            let after = LedgerFiles::of(path);
            if after.opened_by_us(&before) {
                ledger.files = after;
                return Ok(ledger);
            }
        }
        Err(LedgerError::Unstable(path.to_owned()))
    }

    fn open_once(
        path: &Path,
        options: &OpenOptions,
        shared: &mut Option<bounded::DirLock>,
    ) -> Result<Self, LedgerError> {
        let existed = path.exists();
        let mut conn =
            Connection::open_with_flags(path, sqlite_flags(false)).map_err(|source| {
                LedgerError::Open {
                    path: path.to_owned(),
                    source,
                }
            })?;
        if !existed {
            restrict_file_mode(path);
        }
        // Every wait of this connection ends at the limit set for the operation at hand, and
        // never past the hook's deadline.
        bounded::set_busy_limit(bounded::wait_limit(options.busy_timeout));
        conn.busy_handler(Some(bounded::busy_handler))?;
        configure_writer(&conn, options.durability)?;
        let mut ledger = Ledger {
            conn,
            path: path.to_owned(),
            ledger_id: [0; 16],
            busy_timeout: options.busy_timeout,
            checkpoint_every: options.checkpoint_every,
            durability: options.durability,
            files: LedgerFiles::default(),
            genesis: std::cell::OnceCell::new(),
        };
        ledger.migrate(shared)?;
        ledger.ledger_id = read_ledger_id(&ledger.conn)?;
        Ok(ledger)
    }

    fn options(&self) -> OpenOptions {
        OpenOptions {
            durability: self.durability,
            busy_timeout: self.busy_timeout,
            checkpoint_every: self.checkpoint_every,
        }
    }

    fn dir(&self) -> &Path {
        dir_of(&self.path)
    }

    /// Takes the append lock, waiting at most the busy timeout and never past the hook's
    /// deadline, and makes sure the connection uses the files now at the ledger's paths.
    fn write_guard(&mut self) -> Result<(bounded::DirLock, Instant), LedgerError> {
        let limit = bounded::wait_limit(self.busy_timeout);
        let lock = bounded::DirLock::acquire(self.dir(), limit)?;
        self.ensure_current_files()?;
        bounded::set_busy_limit(limit);
        Ok((lock, limit))
    }

    /// Runs `write` (statements that change the ledger outside [`Ledger::append`], such as an
    /// export cursor's update) the way an append runs: under the append lock, on the files now
    /// at the ledger's paths, with SQLite's wait bounded by the deadline.
    pub fn with_write_lock<T>(
        &mut self,
        write: impl FnOnce(&Connection) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let (_lock, _) = self.write_guard()?;
        write(&self.conn)
    }

    /// Reopens when the database, `-wal` or `-shm` path no longer names the file this
    /// connection has open (see the module doc). Called with the append lock held.
    fn ensure_current_files(&mut self) -> Result<(), LedgerError> {
        for _ in 0..3 {
            if LedgerFiles::of(&self.path) == self.files {
                return Ok(());
            }
            // The old connection must be closed first: SQLite shares one `-shm` mapping per
            // database inode among a process's connections.
            let old = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
            drop(old);
            *self = Ledger::open_checked(&self.path, &self.options(), &mut None)?;
        }
        Err(LedgerError::Unstable(self.path.clone()))
    }

    /// Opens an existing ledger for reading only; never creates or migrates anything.
    pub fn open_read_only(path: &Path) -> Result<Self, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Missing(path.to_owned()));
        }
        let conn = Connection::open_with_flags(path, sqlite_flags(true)).map_err(|source| {
            LedgerError::Open {
                path: path.to_owned(),
                source,
            }
        })?;
        conn.busy_timeout(Duration::from_millis(5000))?;
        conn.pragma_update(None, "trusted_schema", "OFF")?;
        // Readers (verify, export, reports) scan the whole file: mapping it saves a system call
        // and a copy per page. Best effort: some platforms refuse mmap.
        let _ = conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES);
        check_identity(&conn, path)?;
        let ledger_id = read_ledger_id(&conn)?;
        Ok(Ledger {
            conn,
            path: path.to_owned(),
            ledger_id,
            busy_timeout: Duration::from_millis(5000),
            checkpoint_every: 0,
            durability: Durability::Normal,
            files: LedgerFiles::of(path),
            genesis: std::cell::OnceCell::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn ledger_id(&self) -> &LedgerId {
        &self.ledger_id
    }

    /// The SQLite connection, for a database of the caller's own attached to it (git
    /// provenance's edit index). Records are read through the methods of [`query`], never with
    /// SQL of the caller's: the table's layout stays this crate's business.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn migrate(&mut self, shared: &mut Option<bounded::DirLock>) -> Result<(), LedgerError> {
        let (app_id, version) = identity(&self.conn)?;
        if app_id == APPLICATION_ID && version == SCHEMA_VERSION {
            return Ok(());
        }
        // Creating or migrating is a write: it needs the append lock exclusively.
        if let Some(lock) = shared.take() {
            let limit = bounded::wait_limit(self.busy_timeout);
            *shared = Some(lock.upgrade(self.dir(), limit)?);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read inside the write lock: another process may have created the ledger meanwhile.
        let (app_id, version) = identity(&tx)?;
        let empty: bool =
            tx.query_row("SELECT count(*) = 0 FROM sqlite_schema", [], |r| r.get(0))?;
        if app_id != APPLICATION_ID && !(app_id == 0 && empty) {
            return Err(LedgerError::NotALedger {
                path: self.path.clone(),
                found: app_id,
            });
        }
        if version > SCHEMA_VERSION {
            return Err(LedgerError::TooNew {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        for (number, sql) in MIGRATIONS.iter().filter(|(n, _)| *n > version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", number)?;
        }
        if version == 0 {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            write_genesis(&tx, &self.path)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Appends records as one transaction, after merging a bounded chunk of spooled records
    /// (which are older, so they come first). Adds a signed checkpoint when the chain crosses a
    /// multiple of `checkpoint_every`, or a `checkpoint-failed` record when it cannot sign.
    pub fn append(&mut self, records: &[NewRecord]) -> Result<AppendOutcome, LedgerError> {
        let (lock, _) = self.write_guard()?;
        if !records.is_empty() {
            fault::set_phase(fault::Phase::Pending);
        }
        let spool_dir = spool::spool_path(&self.path);
        // A spool that cannot be read must not stop the chain: its entries wait.
        let mut scan = if spool::pending_hint(&spool_dir) {
            spool::Scan::for_merge(&spool_dir).ok().flatten()
        } else {
            None
        };
        let ledger_id = self.ledger_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (start, mut prev) = tip(&tx)?;
        let mut seq = start;
        let mut outcome = AppendOutcome::default();
        if let Some(pending) = scan.as_mut() {
            match merge_spool(&tx, &ledger_id, pending, &mut seq, &mut prev, false) {
                Ok(merged) => outcome.merged_from_spool = merged,
                Err(_) => {
                    // Something in this chunk cannot be appended as it is: redo it one entry
                    // at a time, each entry that fails becoming a rejection of its own.
                    (seq, prev) = (start, tip(&tx)?.1);
                    scan = spool::Scan::for_merge(&spool_dir).ok().flatten();
                    if let Some(pending) = scan.as_mut() {
                        match merge_spool(&tx, &ledger_id, pending, &mut seq, &mut prev, true) {
                            Ok(merged) => outcome.merged_from_spool = merged,
                            Err(_) => scan = None,
                        }
                    }
                }
            }
        }
        for record in records {
            seq += 1;
            prev = insert_record(&tx, &ledger_id, seq, prev, record)?;
            outcome.appended.push(Appended { seq, hash: prev });
        }
        let every = self.checkpoint_every;
        if every > 0
            && seq / every > start / every
            && records
                .last()
                .is_none_or(|r| r.kind != checkpoint::CHECKPOINT_KIND)
        {
            let record = match keys::load_signing_key(&keys::key_dir(&self.path), &ledger_id) {
                Ok(key) => {
                    checkpoint::signed_record(&key, ledger_id, seq, prev, now_ns(), "interval")
                }
                Err(e) => NewRecord {
                    ts_ns: now_ns(),
                    kind: CHECKPOINT_FAILED_KIND.to_owned(),
                    payload: canonical_json(&json!({
                        "covers": {"seq": seq, "head": frame::to_hex(&prev)},
                        "reason": "interval",
                        "error": e.to_string(),
                    })),
                },
            };
            insert_record(&tx, &ledger_id, seq + 1, prev, &record)?;
        }
        if !records.is_empty() {
            fault::set_phase(fault::Phase::Committing);
        }
        if let Err(e) = tx.commit() {
            fault::set_phase(fault::Phase::Pending);
            return Err(e.into());
        }
        self.trim_wal();
        if LedgerFiles::of(&self.path) == self.files {
            if !records.is_empty() {
                fault::set_phase(fault::Phase::Committed);
            }
            if let Some(scan) = scan {
                scan.finish();
            }
        } else {
            // The spool files stay too: merged again, they are skipped if this commit held.
            outcome.uncertain = true;
        }
        drop(lock);
        Ok(outcome)
    }

    /// Empties the WAL once it passes [`WAL_TRIM_BYTES`]. Every hook process is the only
    /// connection, so SQLite rebuilds the WAL index from the whole WAL on open and forgets what
    /// was checkpointed: the WAL is never restarted and each open reads all of it. Only a
    /// TRUNCATE checkpoint removes the frames from the file. Best effort: under contention it
    /// gives up at once and the next append tries again. Runs under the append lock.
    fn trim_wal(&self) {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if len <= WAL_TRIM_BYTES {
            return;
        }
        bounded::set_busy_limit(Instant::now());
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }

    /// The newest record's seq and hash.
    pub fn head(&self) -> Result<(u64, Hash), LedgerError> {
        tip(&self.conn)
    }

    pub fn record(&self, seq: u64) -> Result<Option<StoredRecord>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records WHERE seq = ?1",
        )?;
        Ok(stmt
            .query_row([seq_sql(seq)], stored_record_from_row)
            .optional()?)
    }

    pub fn session_model(&self, session_id: &str) -> Result<Option<SessionState>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT model, cli_version FROM session_state WHERE session_id = ?1")?;
        Ok(stmt
            .query_row([session_id], |r| {
                Ok(SessionState {
                    model: r.get(0)?,
                    cli_version: r.get(1)?,
                })
            })
            .optional()?)
    }

    pub fn remember_session(
        &mut self,
        session_id: &str,
        state: &SessionState,
    ) -> Result<(), LedgerError> {
        // A write like any other: under the append lock, on the current files.
        self.with_write_lock(|conn| {
            conn.execute(
                "INSERT INTO session_state (session_id, model, cli_version, updated_ns)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (session_id) DO UPDATE SET
                   model = coalesce(excluded.model, model),
                   cli_version = coalesce(excluded.cli_version, cli_version),
                   updated_ns = excluded.updated_ns",
                params![session_id, state.model, state.cli_version, now_ns()],
            )?;
            Ok(())
        })
    }
}

/// Where a record ended up ([`append_or_spool`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Ledger { seq: u64 },
    Spooled { reason: String },
}

/// A record that could be neither appended nor spooled.
#[derive(Debug, thiserror::Error)]
#[error("{failure}; and the spool failed too: {spool}")]
pub struct NotRecorded {
    /// Why the append failed.
    pub failure: String,
    pub spool: spool::SpoolError,
}

/// Appends `record`, or spools it when the ledger cannot take it now (it could not be opened,
/// the append failed, or the commit is uncertain because the ledger's files were replaced
/// meanwhile; the merge keeps one copy). Every writer goes through here, so a record is never
/// lost silently. `prepared`: the same record readied for the spool beforehand (see
/// [`fault`]), so every copy of it carries one spool id.
pub fn append_or_spool(
    ledger: Result<&mut Ledger, &mut LedgerError>,
    ledger_path: &Path,
    record: &NewRecord,
    prepared: Option<&spool::Prepared>,
) -> Result<Stored, NotRecorded> {
    let failure = match ledger {
        Ok(ledger) => match ledger.append(std::slice::from_ref(record)) {
            Ok(outcome) if !outcome.uncertain => {
                let seq = outcome.appended.first().map_or(0, |a| a.seq);
                return Ok(Stored::Ledger { seq });
            }
            Ok(_) => "the ledger's files were replaced while the record was committed, so it \
                      may not have been kept; spooled as well (the merge keeps one copy)"
                .to_owned(),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    };
    let spooled = match prepared {
        Some(prepared) => prepared.write(&failure),
        None => spool::append(&spool::spool_path(ledger_path), record, &failure).map(|_| ()),
    };
    match spooled {
        Ok(()) => {
            fault::set_phase(fault::Phase::Spooled);
            Ok(Stored::Spooled { reason: failure })
        }
        Err(spool) => Err(NotRecorded { failure, spool }),
    }
}

/// [`append_or_spool`] for a writer that has not opened the ledger (git hooks, `report`).
pub fn record_or_spool(
    ledger_path: &Path,
    options: &OpenOptions,
    record: &NewRecord,
) -> Result<Stored, NotRecorded> {
    let mut ledger = Ledger::open(ledger_path, options);
    append_or_spool(ledger.as_mut(), ledger_path, record, None)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionState {
    pub model: Option<String>,
    pub cli_version: Option<String>,
}

pub(crate) fn seq_sql(seq: u64) -> i64 {
    // seq never exceeds i64::MAX in practice: that is 9.2e18 records.
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(crate) fn stored_record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRecord> {
    let blob32 = |i: usize| -> rusqlite::Result<Hash> {
        let bytes: Vec<u8> = row.get(i)?;
        bytes.try_into().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Blob,
                "hash column is not 32 bytes".into(),
            )
        })
    };
    Ok(StoredRecord {
        seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        ts_ns: row.get(1)?,
        kind: row.get(2)?,
        payload: row.get(3)?,
        prev_hash: blob32(4)?,
        hash: blob32(5)?,
    })
}

fn identity(conn: &Connection) -> Result<(i32, i64), LedgerError> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok((app_id, version))
}

fn check_identity(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let (app_id, version) = identity(conn)?;
    if app_id != APPLICATION_ID {
        return Err(LedgerError::NotALedger {
            path: path.to_owned(),
            found: app_id,
        });
    }
    if version > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            path: path.to_owned(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn read_ledger_id(conn: &Connection) -> Result<LedgerId, LedgerError> {
    let bytes: Option<Vec<u8>> = conn
        .query_row(
            "SELECT ledger_id FROM ledger_meta WHERE singleton = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    bytes
        .and_then(|b| b.try_into().ok())
        .ok_or(LedgerError::MissingMeta)
}

fn configure_writer(conn: &Connection, durability: Durability) -> Result<(), LedgerError> {
    use rusqlite::config::DbConfig;
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::NotWal(mode));
    }
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    // Every hook process is the last connection to close; without these two settings each one
    // pays for a checkpoint and for deleting and recreating the WAL (about 1 ms per call).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    let mut persist = 1;
    conn.file_control(
        None::<&str>,
        rusqlite::FileControl::PersistWal(&mut persist),
    )?;
    Ok(())
}

fn tip(conn: &Connection) -> Result<(u64, Hash), LedgerError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1")?;
    let row: Option<(i64, Vec<u8>)> = stmt
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok((0, ZERO_HASH)),
        Some((seq, hash)) => {
            let hash: Hash = hash.try_into().map_err(|_| LedgerError::MissingMeta)?;
            Ok((u64::try_from(seq).unwrap_or(0), hash))
        }
    }
}

fn already_merged(conn: &Connection, spool_id: &str) -> Result<bool, LedgerError> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM spool_merged WHERE spool_id = ?1")?;
    Ok(stmt.exists([spool_id])?)
}

/// A record in the chain identical to a spooled entry: it was spooled by a process that died
/// (or saw the ledger's files change) while its commit ran, and the commit held.
fn identical_record(
    conn: &Connection,
    entry: &spool::SpoolEntry,
) -> Result<Option<u64>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq FROM records WHERE ts_ns = ?1 AND kind = ?2 AND payload = ?3 LIMIT 1",
    )?;
    let seq: Option<i64> = stmt
        .query_row(params![entry.ts_ns, entry.kind, entry.payload], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(seq.map(|s| u64::try_from(s).unwrap_or(0)))
}

/// Merges spool items into the open transaction until the chunk's budget is spent: entries,
/// bytes, and time (see [`spool::MERGE_MAX_TIME`]; less when the hook's deadline is near).
/// `careful`: each item in a savepoint of its own, an item that cannot be appended becoming a
/// `spool-rejected` record instead (the retry after a chunk failed as a whole).
fn merge_spool(
    conn: &Connection,
    ledger_id: &LedgerId,
    scan: &mut spool::Scan,
    seq: &mut u64,
    prev: &mut Hash,
    careful: bool,
) -> Result<usize, LedgerError> {
    let now = Instant::now();
    let mut until = now + spool::MERGE_MAX_TIME;
    if let Some(left) = bounded::remaining() {
        // Half of what is left: the commit, the checkpoint and the answer need the rest.
        until = until.min(now + left / 2);
    }
    conn.execute_batch("SAVEPOINT merge")?;
    let mut merged = 0;
    let mut taken = 0usize;
    let result = (|| -> Result<(), LedgerError> {
        while taken < spool::MERGE_MAX_ENTRIES && scan.bytes < spool::MERGE_MAX_BYTES {
            if taken.is_multiple_of(16) && Instant::now() >= until {
                break;
            }
            let Some(item) = scan.next_item() else {
                break;
            };
            taken += 1;
            if !careful {
                merged += usize::from(merge_item(conn, ledger_id, &item, seq, prev)?);
                continue;
            }
            let (seq0, prev0) = (*seq, *prev);
            conn.execute_batch("SAVEPOINT item")?;
            match merge_item(conn, ledger_id, &item, seq, prev) {
                Ok(inserted) => merged += usize::from(inserted),
                Err(e) => {
                    conn.execute_batch("ROLLBACK TO item")?;
                    (*seq, *prev) = (seq0, prev0);
                    let rejected = spool::Item::Rejected {
                        why: format!("append-failed: {e}"),
                        facts: item_facts(&item),
                    };
                    merged += usize::from(merge_item(conn, ledger_id, &rejected, seq, prev)?);
                }
            }
            conn.execute_batch("RELEASE item")?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            conn.execute_batch("RELEASE merge")?;
            Ok(merged)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO merge; RELEASE merge")?;
            Err(e)
        }
    }
}

fn item_facts(item: &spool::Item) -> spool::LineFacts {
    match item {
        spool::Item::Genuine(entry) => spool::LineFacts {
            file: format!("spool-id:{}", entry.spool_id),
            offset: 0,
            bytes: entry.payload.len() as u64,
            blake3: blake3::hash(&entry.payload).to_hex().to_string(),
        },
        spool::Item::Unauthenticated { facts, .. } | spool::Item::Rejected { facts, .. } => {
            facts.clone()
        }
    }
}

/// Appends the record for one spool item unless it is already in the chain. `Ok(true)` when
/// a record was added.
fn merge_item(
    conn: &Connection,
    ledger_id: &LedgerId,
    item: &spool::Item,
    seq: &mut u64,
    prev: &mut Hash,
) -> Result<bool, LedgerError> {
    let key = item.merge_key();
    if already_merged(conn, &key)? {
        return Ok(false);
    }
    let mut remember =
        conn.prepare_cached("INSERT INTO spool_merged (spool_id, seq) VALUES (?1, ?2)")?;
    if let spool::Item::Genuine(entry) = item
        && let Some(existing) = identical_record(conn, entry)?
    {
        remember.execute(params![key, seq_sql(existing)])?;
        return Ok(false);
    }
    let record = item.to_record();
    let hash = insert_record(conn, ledger_id, *seq + 1, *prev, &record)?;
    *seq += 1;
    *prev = hash;
    remember.execute(params![key, seq_sql(*seq)])?;
    Ok(true)
}

fn insert_record(
    conn: &Connection,
    ledger_id: &LedgerId,
    seq: u64,
    prev: Hash,
    record: &NewRecord,
) -> Result<Hash, LedgerError> {
    let hash = Frame {
        ledger_id,
        seq,
        ts_ns: record.ts_ns,
        prev_hash: &prev,
        kind: &record.kind,
        payload: &record.payload,
    }
    .hash()?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO records (seq, ts_ns, kind, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    stmt.execute(params![
        seq_sql(seq),
        record.ts_ns,
        record.kind,
        record.payload,
        &prev[..],
        &hash[..]
    ])?;
    Ok(hash)
}

fn write_genesis(conn: &Connection, ledger_path: &Path) -> Result<(), LedgerError> {
    let mut ledger_id = [0u8; frame::LEDGER_ID_LEN];
    getrandom::fill(&mut ledger_id).map_err(|e| LedgerError::Random(e.to_string()))?;
    let created_ns = now_ns();
    let public_key = keys::create_signing_key(&keys::key_dir(ledger_path), &ledger_id)?;
    // Made now so that a hook dying mid-append finds it: its signal handler reads the key but
    // cannot make one. Best effort: a spool line without a key merges as unauthenticated.
    let _ = keys::load_or_create_spool_key(&keys::key_dir(ledger_path));
    conn.execute(
        "INSERT INTO ledger_meta (singleton, ledger_id, format, created_ns) VALUES (1, ?1, ?2, ?3)",
        params![&ledger_id[..], FORMAT_VERSION, created_ns],
    )?;
    let payload = json!({
        "ledger_id": frame::to_hex(&ledger_id),
        "format": FORMAT_VERSION,
        "frame": std::str::from_utf8(frame::DOMAIN_TAG).unwrap_or("HKLREC01"),
        "hash": "blake3",
        "payload_encoding": "rfc8785",
        "created_ns": created_ns,
        "hookledger_version": env!("CARGO_PKG_VERSION"),
        "host": crate::host::host_name(),
        "os_user": crate::host::os_user(),
        "signing_key": { "algorithm": "ed25519", "public_key": frame::to_hex(&public_key) },
    });
    let record = NewRecord {
        ts_ns: created_ns,
        kind: GENESIS_KIND.to_owned(),
        payload: canonical_json(&payload),
    };
    insert_record(conn, &ledger_id, 1, ZERO_HASH, &record)?;
    Ok(())
}

/// The directory holding the ledger file (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

pub fn restrict_file_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Best effort: a ledger readable by others leaks prompts, but failing to chmod must not
        // stop the record from being written.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY type, name",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn migrations_produce_the_documented_schema() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db"), &OpenOptions::default()).unwrap();
        let documented = Connection::open_in_memory().unwrap();
        documented.execute_batch(SCHEMA_SQL).unwrap();
        assert_eq!(schema_of(ledger.connection()), schema_of(&documented));
        let (app_id, version) = identity(ledger.connection()).unwrap();
        assert_eq!((app_id, version), (APPLICATION_ID, SCHEMA_VERSION));
    }

    #[test]
    fn append_links_records_and_reopen_keeps_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let record = |i: i64| NewRecord {
            ts_ns: i,
            kind: "prompt".into(),
            payload: canonical_json(&json!({ "i": i })),
        };
        let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
        let id = *ledger.ledger_id();
        let first = ledger.append(&[record(1), record(2)]).unwrap();
        assert_eq!(
            first.appended.iter().map(|a| a.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        drop(ledger);
        let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
        assert_eq!(*ledger.ledger_id(), id);
        let next = ledger.append(&[record(3)]).unwrap();
        let stored = ledger.record(4).unwrap().unwrap();
        assert_eq!(stored.prev_hash, first.appended[1].hash);
        assert_eq!(stored.hash, next.appended[0].hash);
        let key = keys::load_signing_key(&keys::key_dir(&path), &id).unwrap();
        let genesis: Value =
            serde_json::from_slice(&ledger.record(1).unwrap().unwrap().payload).unwrap();
        assert_eq!(
            genesis["signing_key"]["public_key"],
            frame::to_hex(&key.verifying_key().to_bytes())
        );
    }

    #[test]
    fn append_or_spool_appends_spools_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let record = NewRecord {
            ts_ns: 7,
            kind: Kind::Prompt.as_str().into(),
            payload: canonical_json(&json!({ "i": 1 })),
        };
        let mut ledger = Ledger::open(&path, &OpenOptions::default());
        assert_eq!(
            append_or_spool(ledger.as_mut(), &path, &record, None).unwrap(),
            Stored::Ledger { seq: 2 }
        );
        drop(ledger);
        // The ledger cannot be opened: the record waits in the spool with the reason. (Another
        // record: the merge drops a spooled copy of one already in the chain.)
        let later = NewRecord {
            ts_ns: 8,
            ..record.clone()
        };
        let mut failed: Result<Ledger, LedgerError> = Err(LedgerError::Missing(path.clone()));
        let Stored::Spooled { reason } =
            append_or_spool(failed.as_mut(), &path, &later, None).unwrap()
        else {
            panic!("not spooled");
        };
        assert!(reason.contains("does not exist"), "{reason}");
        let spool_dir = spool::spool_path(&path);
        assert_eq!(spool::status(&spool_dir).unwrap().pending, 1);
        // The next writer merges it.
        let stored = record_or_spool(&path, &OpenOptions::default(), &record).unwrap();
        assert_eq!(stored, Stored::Ledger { seq: 4 });
        let merged = Ledger::open_read_only(&path)
            .unwrap()
            .record(3)
            .unwrap()
            .unwrap();
        assert_eq!(merged.ts_ns, 8);
        // Neither works: the error names both failures.
        let nowhere = dir.path().join("file");
        std::fs::write(&nowhere, b"").unwrap();
        let inside = nowhere.join("ledger.db");
        let mut failed: Result<Ledger, LedgerError> = Err(LedgerError::Missing(inside.clone()));
        let error = append_or_spool(failed.as_mut(), &inside, &record, None).unwrap_err();
        assert!(error.failure.contains("does not exist"), "{error}");
        assert!(
            error.to_string().contains("and the spool failed too"),
            "{error}"
        );
    }

    #[test]
    fn refuses_foreign_databases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let error = Ledger::open(&path, &OpenOptions::default()).err().unwrap();
        assert!(matches!(error, LedgerError::NotALedger { .. }), "{error}");
    }
}
