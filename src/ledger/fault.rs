/*!
A hook's last words: what it says and keeps when it dies before finishing.

SQLite maps the WAL index (`ledger.db-shm`) into memory (sqlite3.c `unixShmMap`). When
another process truncates that file, the next access to a mapped page past the new end raises
SIGBUS, and the hook would die with no answer and no record. A hook therefore *arms* its last
words before every step that can fault: the answer it would give, the answer if its record
cannot be kept, and its record already rendered as a spool file ([`SpoolShot`]). The signal
handler (installed by `hookledger hook`, the only code that answers on stdout) then needs only
pre-built bytes and async-signal-safe system calls: `mkdir`, `open`, `write`, `fsync`,
`rename`, `close`, `_exit`.

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

/// A spool file rendered in advance, written by [`SpoolShot::write`] without allocating.
#[derive(Debug)]
pub struct SpoolShot {
    dir: CString,
    tmp: CString,
    path: CString,
    bytes: Vec<u8>,
}

impl SpoolShot {
    /// `bytes` to become the spool file `dir/name` (through `dir/name.tmp`).
    pub fn new(dir: &Path, name: &str, bytes: Vec<u8>) -> Option<Self> {
        let c = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).ok();
        Some(SpoolShot {
            dir: c(dir)?,
            tmp: c(&dir.join(format!("{name}.tmp")))?,
            path: c(&dir.join(name))?,
            bytes,
        })
    }

    /// Writes the file and makes it durable. Async-signal-safe: only system calls on
    /// pre-built data. `true` when the file is in place.
    #[cfg(unix)]
    pub fn write(&self) -> bool {
        // SAFETY: every pointer is a valid NUL-terminated string or a live buffer owned by
        // self; these calls are on POSIX's async-signal-safe list.
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
            let mut done = 0usize;
            while done < self.bytes.len() {
                let n = libc::write(
                    fd,
                    self.bytes[done..].as_ptr().cast(),
                    self.bytes.len() - done,
                );
                if n < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    libc::close(fd);
                    libc::unlink(self.tmp.as_ptr());
                    return false;
                }
                done += n as usize;
            }
            let synced = libc::fsync(fd) == 0;
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
    use super::*;

    #[test]
    fn shot_writes_once_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("ledger.spool.d");
        let shot = SpoolShot::new(&spool, "00000000000000000001-1-ab", b"line\n".to_vec()).unwrap();
        assert!(shot.write());
        assert_eq!(
            std::fs::read(spool.join("00000000000000000001-1-ab")).unwrap(),
            b"line\n"
        );
        assert!(!spool.join("00000000000000000001-1-ab.tmp").exists());
    }
}
