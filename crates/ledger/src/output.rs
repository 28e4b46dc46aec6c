/*!
Writing a file someone named: `export -o`, segments and manifests, `report -o`, Claude Code's
settings. One helper, so every command treats the node it is given the same way:

- **A regular file, or no file yet**, is replaced atomically: the bytes go to a temporary file in
  the same directory, which is fsynced, given the old file's permissions (and owner, when run as
  root), renamed over the name, and the directory is fsynced. Readers see the old file or the
  whole new one, never a partial one.
- **A character or block device, a FIFO, or any other node that is not a regular file** is
  written into in place, as a shell's `>` would: replacing it by rename would turn `/dev/null`
  into a regular file for every other program, or leave a FIFO's reader waiting forever. A FIFO
  without a reader blocks until one opens it, like `cat > fifo`.
- **A symbolic link** is followed: the rules above apply to the file it points to, and the link
  stays a link (a dotfile manager's link to a settings file keeps working). A link to nothing is
  refused: creating a file wherever a dangling link points is writing somewhere the command
  line does not name.
- **A directory** is refused.
*/

use std::io::Write;
use std::path::{Path, PathBuf};

/// How a file is created when nothing is at its name yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Permissions of a newly created file (Unix), else the process's default (umask).
    pub new_mode: Option<u32>,
}

/// Writes what `write` produces to `path`, by the rules in the module documentation.
pub fn write_file<T, E: From<std::io::Error>>(
    path: &Path,
    options: &Options,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    match target(path)? {
        Target::Replace(target, existing) => replace(&target, existing.as_ref(), options, write),
        Target::InPlace(target) => in_place(&target, write),
    }
}

/// Writes `bytes` to `path` (see [`write_file`]).
pub fn write_bytes(path: &Path, bytes: &[u8], options: &Options) -> std::io::Result<()> {
    write_file(path, options, |out| out.write_all(bytes))
}

enum Target {
    /// A regular file (with its metadata when it exists) to replace atomically.
    Replace(PathBuf, Option<std::fs::Metadata>),
    /// A node to write into as it is.
    InPlace(PathBuf),
}

fn target(path: &Path) -> std::io::Result<Target> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Target::Replace(path.to_owned(), None));
        }
        Err(e) => return Err(e),
    };
    let (path, meta) = if meta.file_type().is_symlink() {
        let resolved = std::fs::canonicalize(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "{} is a symbolic link to a file that does not exist (refusing to create a file through it)",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })?;
        let meta = std::fs::metadata(&resolved)?;
        (resolved, meta)
    } else {
        (path.to_owned(), meta)
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            format!("{} is a directory", path.display()),
        ));
    }
    if kind.is_file() {
        Ok(Target::Replace(path, Some(meta)))
    } else {
        Ok(Target::InPlace(path))
    }
}

/// Writes into a device, FIFO or other special file as it is: no temporary, no rename.
fn in_place<T, E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let value = write(&mut out)?;
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    // A block device holds what was written only once synced; FIFOs and character devices
    // cannot sync and say so with EINVAL, which is not a failure here.
    match file.sync_data() {
        Err(e) if e.kind() != std::io::ErrorKind::InvalidInput => Err(e.into()),
        _ => Ok(value),
    }
}

/// Writes a temporary file beside `path`, fsyncs it and renames it over `path`.
fn replace<T, E: From<std::io::Error>>(
    path: &Path,
    existing: Option<&std::fs::Metadata>,
    options: &Options,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let (handle, temp) = create_temp(dir, &name)?;
    let result = (|| {
        let written = write_synced(handle, write)?;
        match existing {
            Some(meta) => {
                std::fs::set_permissions(&temp, meta.permissions())?;
                keep_owner(&temp, meta);
            }
            None => set_mode(&temp, options.new_mode)?,
        }
        std::fs::rename(&temp, path)?;
        sync_dir(dir)?;
        Ok::<T, E>(written)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A new hidden file in `dir`, named after `name` and unique to this call.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(std::fs::File, PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    for _ in 0..16 {
        let temp = dir.join(format!(
            ".{name}.{}-{}-{}.partial",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            crate::now_ns()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Private until its final permissions are set: the bytes may be a ledger's.
            options.mode(0o600);
        }
        match options.open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Runs `write` into `handle` and fsyncs it. Write-back runs on a second thread while later
/// bytes are still being produced, so the final fsync of a large file only waits for the tail:
/// a large export costs about the larger of formatting and the disk, not their sum.
fn write_synced<T, E: From<std::io::Error>>(
    handle: std::fs::File,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let flusher_handle = handle.try_clone()?;
    let (ticks, tick) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| -> Result<T, E> {
        let flusher = scope.spawn(move || {
            while tick.recv().is_ok() {
                while tick.try_recv().is_ok() {}
                let _ = flusher_handle.sync_data();
            }
        });
        let mut counted = SyncEvery {
            out: handle,
            since_sync: 0,
            ticks: Some(ticks),
        };
        let written = (|| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut counted);
            let value = write(&mut out)?;
            out.flush()?;
            Ok::<T, E>(value)
        })();
        counted.ticks = None;
        let _ = flusher.join();
        let value = written?;
        counted.out.sync_all()?;
        Ok(value)
    })
}

/// Bytes written before the flusher is asked to start write-back.
const SYNC_EVERY_BYTES: u64 = 64 << 20;

/// A file that asks the flusher thread to sync every [`SYNC_EVERY_BYTES`].
struct SyncEvery {
    out: std::fs::File,
    since_sync: u64,
    ticks: Option<std::sync::mpsc::Sender<()>>,
}

impl Write for SyncEvery {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.since_sync += n as u64;
        if self.since_sync >= SYNC_EVERY_BYTES {
            self.since_sync = 0;
            if let Some(ticks) = &self.ticks {
                let _ = ticks.send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match mode {
        Some(mode) => mode,
        // What `File::create` would have given: 0666 less the umask, read without changing it.
        None => 0o666 & !current_umask(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: Option<u32>) -> std::io::Result<()> {
    Ok(())
}

/// The process umask, read from `/proc/self/status` (Linux); elsewhere the common 022.
#[cfg(unix)]
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Root rewriting a user's file must not leave it owned by root.
#[cfg(unix)]
fn keep_owner(path: &Path, original: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    let _ = std::os::unix::fs::chown(path, Some(original.uid()), Some(original.gid()));
}

#[cfg(not(unix))]
fn keep_owner(_path: &Path, _original: &std::fs::Metadata) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_replaced_and_keeps_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_bytes(&path, b"new", &Options::default()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary left behind");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "old").unwrap();
        let result: std::io::Result<()> = write_file(&path, &Options::default(), |out| {
            out.write_all(b"partial")?;
            Err(std::io::Error::other("the producer failed"))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_bytes(&link, b"new", &Options::default()).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = write_bytes(&dangling, b"x", &Options::default()).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_bytes(dir.path(), b"x", &Options::default()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }
}
