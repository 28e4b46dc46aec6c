/*!
A hook's last words: what it says and keeps when it dies before finishing.

SQLite maps the WAL index (`ledger.db-shm`) into memory (sqlite3.c `unixShmMap`). When
another process truncates that file, the next access to a mapped page past the new end raises
SIGBUS, and the hook would die with no answer and no record. A hook therefore *arms* its last
words before every step that can fault: the answer it would give, the answer if its record
cannot be kept, and its record already rendered as the body of a spool line ([`SpoolShot`]).
The signal handler (installed by `hookledger hook`, the only code that answers on stdout) then
needs only pre-built bytes, BLAKE3 over stack buffers (the line's MAC: the key is read only
then, so a hook that never spools never reads it) and async-signal-safe system calls: `mkdir`,
`open`, `read`, `write`, `fsync`, `rename`, `close`, `_exit`. The spool key is made with the
ledger; a handler that finds none writes the line unauthenticated.

[`Phase`] tracks whether the record already reached the chain, so a committed record is not
spooled again. A fault *during* the commit leaves that open (SQLite may have written the commit
frame and faulted updating the index); the spooled copy is then dropped by the merge if an
identical record (same `ts_ns`, kind and payload bytes) is in the chain (see [`super::spool`]).
*/

use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// Where this process's record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Not in the chain nor in the spool (not built yet, or the append has not committed).
    Pending = 0,
    /// `COMMIT` is running: it may or may not have happened.
    Committing = 1,
    /// Committed, and the ledger's files were the same ones after the commit.
    Committed = 2,
    /// Durably in the spool.
    Spooled = 3,
}

static PHASE: AtomicU8 = AtomicU8::new(Phase::Pending as u8);

pub fn set_phase(phase: Phase) {
    PHASE.store(phase as u8, Ordering::SeqCst);
}

pub fn phase() -> Phase {
    match PHASE.load(Ordering::SeqCst) {
        1 => Phase::Committing,
        2 => Phase::Committed,
        3 => Phase::Spooled,
        _ => Phase::Pending,
    }
}

/// Whether the armed record is safe: in the chain for sure, or in the spool.
pub fn record_is_safe() -> bool {
    matches!(phase(), Phase::Committed | Phase::Spooled)
}

/// Bytes for stdout and stderr, and the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: u8,
}

/// A spool file rendered in advance, written by [`SpoolShot::write`] without allocating: the
/// line's body is ready, and the MAC is computed when it is written (from `keys/spool.key`,
/// read then), so a hook that never needs it never reads the key.
#[derive(Debug)]
pub struct SpoolShot {
    dir: CString,
    tmp: CString,
    path: CString,
    key: CString,
    body: Vec<u8>,
}

impl SpoolShot {
    /// `body` to become the one line of spool file `dir/name` (through `dir/name.tmp`), its MAC
    /// keyed by the spool key at `key`.
    pub fn new(dir: &Path, name: &str, key: &Path, body: Vec<u8>) -> Option<Self> {
        let c = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).ok();
        Some(SpoolShot {
            dir: c(dir)?,
            tmp: c(&dir.join(format!("{name}.tmp")))?,
            path: c(&dir.join(name))?,
            key: c(key)?,
            body,
        })
    }

    /// Writes the file and makes it durable. Async-signal-safe: system calls on pre-built data,
    /// and BLAKE3 (computation on stack buffers). `true` when the file is in place.
    #[cfg(unix)]
    pub fn write(&self) -> bool {
        let mut mac = [b'-'; 64];
        let mac: &[u8] = match read_spool_key(&self.key) {
            Some(secret) => {
                let key = blake3::derive_key(super::spool::MAC_CONTEXT, &secret);
                let hash = blake3::keyed_hash(&key, &self.body);
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                for (i, byte) in hash.as_bytes().iter().enumerate() {
                    mac[2 * i] = DIGITS[usize::from(byte >> 4)];
                    mac[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
                }
                &mac
            }
            None => super::spool::NO_MAC.as_bytes(),
        };
        // SAFETY: every pointer is a valid NUL-terminated string or a live buffer owned by
        // self or this frame; these calls are on POSIX's async-signal-safe list.
        unsafe {
            libc::mkdir(self.dir.as_ptr(), 0o700);
            let fd = libc::open(
                self.tmp.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o600 as libc::c_uint,
            );
            if fd < 0 {
                return false;
            }
            let tag = super::spool::LINE_TAG.as_bytes();
            let written = [tag, b" ", mac, b" ", &self.body, b"\n"]
                .iter()
                .all(|part| write_all(fd, part));
            let synced = written && libc::fsync(fd) == 0;
            libc::close(fd);
            if !synced || libc::rename(self.tmp.as_ptr(), self.path.as_ptr()) != 0 {
                libc::unlink(self.tmp.as_ptr());
                return false;
            }
            let dir = libc::open(self.dir.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if dir >= 0 {
                libc::fsync(dir);
                libc::close(dir);
            }
            true
        }
    }

    #[cfg(not(unix))]
    pub fn write(&self) -> bool {
        false
    }
}

/// `write(2)` until all of `bytes` is written. Async-signal-safe.
#[cfg(unix)]
fn write_all(fd: libc::c_int, bytes: &[u8]) -> bool {
    let mut done = 0usize;
    while done < bytes.len() {
        // SAFETY: a live buffer and its length.
        let n = unsafe { libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        if n == 0 {
            return false;
        }
        done += n.unsigned_abs();
    }
    true
}

/// The spool key as [`super::keys`] stores it (64 hex digits), read with system calls into a
/// stack buffer: only a regular file, never blocking. Async-signal-safe.
#[cfg(unix)]
fn read_spool_key(path: &CString) -> Option<[u8; 32]> {
    let mut text = [0u8; 64];
    // SAFETY: a valid path; a zeroed stat buffer; a stack buffer and its length.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY,
        );
        if fd < 0 {
            return None;
        }
        let mut stat: libc::stat = std::mem::zeroed();
        let regular =
            libc::fstat(fd, &mut stat) == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFREG;
        let n = if regular {
            libc::read(fd, text.as_mut_ptr().cast(), text.len())
        } else {
            -1
        };
        libc::close(fd);
        if n != 64 {
            return None;
        }
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut secret = [0u8; 32];
    for (i, out) in secret.iter_mut().enumerate() {
        *out = (nibble(text[2 * i])? << 4) | nibble(text[2 * i + 1])?;
    }
    Some(secret)
}

/// What to do if the process dies now.
#[derive(Debug, Default)]
pub struct LastWords {
    /// The record (or, before it exists, a `hook-error` saying what arrived), as a spool file.
    pub shot: Option<SpoolShot>,
    /// The answer when the record is safe.
    pub recorded: Answer,
    /// The answer when it could not be kept (a gating event is then refused).
    pub unrecorded: Answer,
}

static ARMED: AtomicPtr<LastWords> = AtomicPtr::new(std::ptr::null_mut());

/// Replaces the armed last words. The previous ones are leaked on purpose: a signal handler
/// may be reading them, and a hook arms two or three small plans in its life.
pub fn arm(words: LastWords) {
    ARMED.store(Box::into_raw(Box::new(words)), Ordering::SeqCst);
}

pub fn last_words() -> Option<&'static LastWords> {
    let ptr = ARMED.load(Ordering::SeqCst);
    // SAFETY: only `arm` stores here, always a leaked Box that is never freed.
    unsafe { ptr.as_ref() }
}

/// Keeps the armed record if it is not safe yet and returns the answer that fits.
/// Async-signal-safe.
pub fn settle() -> Option<&'static Answer> {
    let words = last_words()?;
    let safe = record_is_safe()
        || words.shot.as_ref().is_some_and(|shot| {
            let written = shot.write();
            if written {
                set_phase(Phase::Spooled);
            }
            written
        });
    Some(if safe {
        &words.recorded
    } else {
        &words.unrecorded
    })
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn shot_writes_one_authenticated_line() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("ledger.spool.d");
        let keys = dir.path().join("keys");
        let key = keys.join(crate::keys::SPOOL_KEY_FILE);
        let record = crate::NewRecord {
            ts_ns: 5,
            kind: "stop".into(),
            payload: br#"{"a":1}"#.to_vec(),
        };
        // Without a key the line is written, marked as such.
        let prepared = crate::spool::prepare(&spool, &record).unwrap();
        assert!(prepared.shot("fault").unwrap().write());
        crate::keys::load_or_create_spool_key(&keys).unwrap();
        assert!(key.exists());
        assert!(prepared.shot("fault").unwrap().write());
        let mut texts: Vec<String> = std::fs::read_dir(&spool)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        texts.sort_by_key(|t| t.starts_with("HLS2 -"));
        assert!(texts[1].starts_with("HLS2 - {"), "{texts:?}");
        // With the key, the handler's MAC is the one a merge checks.
        let items = {
            let mut scan = crate::spool::Scan::for_merge(&spool).unwrap().unwrap();
            std::iter::from_fn(|| scan.next_item()).collect::<Vec<_>>()
        };
        let genuine = |i: &crate::spool::Item| matches!(i, crate::spool::Item::Genuine(e) if e.payload == br#"{"a":1}"#);
        assert_eq!(items.iter().filter(|i| genuine(i)).count(), 1, "{items:?}");
        assert_eq!(
            items.len(),
            2,
            "the key-less line is unauthenticated: {items:?}"
        );
    }
}
