/*!
Bounded waits and bounded opens: nothing a hook does may wait past its deadline, whatever other
processes hold or put in its way.

- **The process deadline.** A hook process sets it once ([`set_process_deadline`]); every wait
  below ends [`margin`] before it, which leaves time to spool the record and answer.
- **SQLite's busy wait** goes through [`busy_handler`]: it sleeps like SQLite's own
  `busy_timeout` but stops at the limit the ledger set for the current operation
  ([`set_busy_limit`]), so a sequence of statements cannot add up their timeouts.
- **The append lock** ([`DirLock`]) is `flock(2)` on the ledger's directory, taken with a
  deadline (a blocking `flock` in a helper thread that the caller stops waiting for).
- **Opens** of files another process may have replaced with a FIFO or a device
  ([`open_regular`], [`read_small`]) never block and only read regular files.
*/

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The hook's deadline and its total length.
static PROCESS_DEADLINE: OnceLock<(Instant, Duration)> = OnceLock::new();

/// Sets the deadline of this process (once; later calls are ignored): `budget` from `start`.
pub fn set_process_deadline(start: Instant, budget: Duration) {
    let _ = PROCESS_DEADLINE.set((start + budget, budget));
}

/// What is kept between the end of any wait and the process deadline: time to spool the record
/// (a few file operations and two fsyncs) and answer. A tenth of the budget, between 100 ms and
/// 1 s.
pub fn margin(budget: Duration) -> Duration {
    (budget / 10).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

/// The latest instant a wait may end: `wanted` from now, but never past the process deadline
/// minus its margin. May be in the past (then waits give up at once).
pub fn wait_limit(wanted: Duration) -> Instant {
    let now = Instant::now();
    let limit = now + wanted;
    match PROCESS_DEADLINE.get() {
        Some(&(deadline, budget)) => limit.min(deadline.checked_sub(margin(budget)).unwrap_or(now)),
        None => limit,
    }
}

/// How long is left before [`wait_limit`]'s bound, or `None` without a process deadline.
pub fn remaining() -> Option<Duration> {
    PROCESS_DEADLINE.get().map(|&(deadline, budget)| {
        deadline
            .checked_sub(margin(budget))
            .map_or(Duration::ZERO, |end| {
                end.saturating_duration_since(Instant::now())
            })
    })
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The busy handler's limit, in nanoseconds after [`epoch`]. One per process: a hook process
/// has one writing connection.
static BUSY_LIMIT_NS: AtomicU64 = AtomicU64::new(0);

pub fn set_busy_limit(limit: Instant) {
    let ns = limit.saturating_duration_since(epoch()).as_nanos();
    BUSY_LIMIT_NS.store(u64::try_from(ns).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// SQLite's own schedule (sqlite3.c `sqliteDefaultBusyCallback`), in milliseconds.
const BUSY_DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// Registered with `sqlite3_busy_handler` on writing connections: retries until the limit
/// set by [`set_busy_limit`].
pub fn busy_handler(count: i32) -> bool {
    let limit = epoch() + Duration::from_nanos(BUSY_LIMIT_NS.load(Ordering::Relaxed));
    let now = Instant::now();
    if now >= limit {
        return false;
    }
    let step = usize::try_from(count)
        .unwrap_or(0)
        .min(BUSY_DELAYS_MS.len() - 1);
    std::thread::sleep(Duration::from_millis(BUSY_DELAYS_MS[step]).min(limit - now));
    true
}

/// An exclusive `flock` on a directory, released on drop. Independent of SQLite's own locks
/// (fcntl locks on the database and `-shm` files), so replacing those files cannot defeat it,
/// and opening the directory never disturbs SQLite's POSIX locks (which closing any descriptor
/// of the *database file* would).
pub struct DirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another process held the ledger's append lock ({dir}) for {waited_ms} ms")]
    Busy { dir: String, waited_ms: u128 },
    #[error("cannot take the ledger's append lock ({dir}): {source}")]
    Io { dir: String, source: std::io::Error },
}

impl DirLock {
    /// Takes the lock exclusively (an append), waiting until `limit` at most.
    pub fn acquire(dir: &Path, limit: Instant) -> Result<DirLock, LockError> {
        Self::open_and_take(dir, limit, true)
    }

    /// Takes the lock shared (opening the ledger), waiting until `limit` at most.
    pub fn acquire_shared(dir: &Path, limit: Instant) -> Result<DirLock, LockError> {
        Self::open_and_take(dir, limit, false)
    }

    fn open_and_take(dir: &Path, limit: Instant, exclusive: bool) -> Result<DirLock, LockError> {
        let file = File::open(dir).map_err(|source| LockError::Io {
            dir: dir.display().to_string(),
            source,
        })?;
        Ok(DirLock {
            _file: take(file, exclusive, dir, limit)?,
        })
    }

    /// Turns a shared hold into an exclusive one (`flock` converts the lock of the same open
    /// file, dropping the shared one first, so two upgraders cannot deadlock). On failure the
    /// lock is gone altogether.
    pub fn upgrade(self, dir: &Path, limit: Instant) -> Result<DirLock, LockError> {
        Ok(DirLock {
            _file: take(self._file, true, dir, limit)?,
        })
    }
}

fn take(file: File, exclusive: bool, dir: &Path, limit: Instant) -> Result<File, LockError> {
    let started = Instant::now();
    let tried = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match tried {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(LockError::Io {
                dir: dir.display().to_string(),
                source,
            });
        }
    }
    let busy = || LockError::Busy {
        dir: dir.display().to_string(),
        waited_ms: started.elapsed().as_millis(),
    };
    let Some(wait) = limit.checked_duration_since(Instant::now()) else {
        return Err(busy());
    };
    // flock has no timeout. A helper thread blocks in it and hands the locked file over; if
    // this thread has stopped waiting by then, the file is dropped with the channel and the
    // lock released at once.
    let (tx, rx) = std::sync::mpsc::sync_channel::<File>(1);
    let spawned = std::thread::Builder::new()
        .name("ledger-lock".into())
        .spawn(move || {
            let locked = if exclusive {
                file.lock()
            } else {
                file.lock_shared()
            };
            if locked.is_ok() {
                let _ = tx.send(file);
            }
        });
    if spawned.is_err() {
        return Err(busy());
    }
    rx.recv_timeout(wait).map_err(|_| busy())
}

/// `(device, inode)` of a path, or `None` when it does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
pub fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
pub fn file_id(_path: &Path) -> Option<FileId> {
    None
}

/// Whether this process has every one of `wanted` open, where the platform can tell: `None`
/// elsewhere. An open file's inode cannot be freed, so unlike a path's `stat`, a match
/// here cannot be an inode number that was handed out again.
///
/// `fstat` of the lowest descriptors first (a hook process has a handful, SQLite's among the
/// first), which costs a few system calls; `/proc/self/fd` when they are not there.
#[cfg(unix)]
pub fn has_open(wanted: &[FileId]) -> Option<bool> {
    let mut found = vec![false; wanted.len()];
    for fd in 3..256 {
        // SAFETY: `stat` is plain old data, for which all zeroes is a valid value.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on any descriptor number is harmless (EBADF when it is not open).
        if unsafe { libc::fstat(fd, &mut stat) } != 0 {
            continue;
        }
        #[allow(clippy::unnecessary_cast)] // dev_t and ino_t are not u64 everywhere
        let id = FileId {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
        };
        for (slot, want) in found.iter_mut().zip(wanted) {
            *slot |= *want == id;
        }
        if found.iter().all(|f| *f) {
            return Some(true);
        }
    }
    // Not among the first 256: more descriptors than a hook has, or really not open.
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Some(false);
    };
    let open: Vec<FileId> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| file_id(&entry.path()))
        .collect();
    Some(wanted.iter().all(|w| open.contains(w)))
}

#[cfg(not(unix))]
pub fn has_open(_wanted: &[FileId]) -> Option<bool> {
    None
}

/// Opens `path` for reading without blocking (a FIFO with no writer, a device) and only if
/// it is a regular file. `nofollow` also refuses a symbolic link.
pub fn open_regular(path: &Path, nofollow: bool) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if nofollow {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    #[cfg(not(unix))]
    let _ = nofollow;
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// The whole of a small regular file, refusing anything larger than `max` bytes.
pub fn read_small(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path, false)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {max} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

/// Makes a directory's entries (a new or renamed file) durable. Best effort.
pub fn sync_dir(dir: &Path) {
    if let Ok(file) = File::open(dir) {
        let _ = file.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_lock_waits_until_its_limit_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path(), Instant::now()).unwrap();
        let started = Instant::now();
        let second = DirLock::acquire(dir.path(), Instant::now() + Duration::from_millis(150));
        assert!(matches!(second, Err(LockError::Busy { .. })));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(140), "{waited:?}");
        drop(held);
        // The abandoned helper released what it got: the lock is free again.
        std::thread::sleep(Duration::from_millis(50));
        let shared = DirLock::acquire_shared(dir.path(), Instant::now()).unwrap();
        let other = DirLock::acquire_shared(dir.path(), Instant::now()).unwrap();
        assert!(
            DirLock::acquire(dir.path(), Instant::now()).is_err(),
            "readers hold it"
        );
        drop(other);
        let upgraded = shared.upgrade(dir.path(), Instant::now()).unwrap();
        assert!(DirLock::acquire_shared(dir.path(), Instant::now()).is_err());
        drop(upgraded);
        assert!(DirLock::acquire(dir.path(), Instant::now()).is_ok());
    }

    #[test]
    fn dir_lock_is_handed_over_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path(), Instant::now()).unwrap();
        let path = dir.path().to_owned();
        let waiter = std::thread::spawn(move || {
            DirLock::acquire(&path, Instant::now() + Duration::from_secs(5)).is_ok()
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert!(waiter.join().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path that lives through the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(open_regular(&fifo, false).is_err());
        assert!(read_small(Path::new("/dev/zero"), 10).is_err());
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 20]).unwrap();
        assert!(read_small(&big, 10).is_err());
        assert_eq!(read_small(&big, 20).unwrap().len(), 20);
    }
}
