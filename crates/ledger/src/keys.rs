/*!
The ledger's secrets, in `keys/` beside it (read-protected from the agent by self-protection):

- the per-ledger Ed25519 signing key, made at genesis (`<ledger id>.ed25519`). Its public key
  goes into the genesis record, so anyone holding a shipped copy of that record can check
  checkpoint signatures later. It proves nothing against the machine's own user (see the threat
  model), only against later tampering once checkpoints have been shipped.
- the spool key (`spool.key`), 32 random bytes from which the MAC key of spool entries is
  derived (see [`super::spool`]). It is separate from the signing key because a record may have
  to be spooled when the ledger cannot even be opened (a corrupt file, a newer schema), that
  is when its id, and so its signing key, is unknown; and before the ledger exists at all.

Both are read through [`super::bounded::read_small`]: a key path replaced by a FIFO or a device
must not hang a hook.
*/

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::bounded;
use super::frame::{LedgerId, from_hex, to_hex};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot create key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {0} is malformed (expected 64 hex digits)")]
    Malformed(PathBuf),
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
}

impl KeyError {
    /// The key file does not exist (as opposed to unreadable or malformed).
    pub fn is_missing(&self) -> bool {
        matches!(self, KeyError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A key file holds 64 hex digits and a newline; anything much longer is not a key file.
const KEY_FILE_MAX: u64 = 4096;

pub fn key_dir(ledger_path: &Path) -> PathBuf {
    ledger_path.parent().unwrap_or(Path::new(".")).join("keys")
}

pub fn key_path(dir: &Path, ledger_id: &LedgerId) -> PathBuf {
    dir.join(format!("{}.ed25519", to_hex(ledger_id)))
}

pub const SPOOL_KEY_FILE: &str = "spool.key";

pub fn spool_key_path(dir: &Path) -> PathBuf {
    dir.join(SPOOL_KEY_FILE)
}

fn random_secret() -> Result<[u8; 32], KeyError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(secret)
}

/// Writes `secret` as a new 0600 key file at `path`, complete or not at all: written and
/// synced under a temporary name, then linked into place, so a concurrent reader never sees
/// a half-written key and two creators cannot both win. `Ok(false)`: the file already existed.
fn install_secret(path: &Path, secret: &[u8; 32]) -> Result<bool, KeyError> {
    let create_err = |source| KeyError::Create {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    super::create_private_dir(dir).map_err(create_err)?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), to_hex(&nonce)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(format!("{}\n", to_hex(secret)).as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            bounded::sync_dir(dir);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(create_err(e)),
    }
}

fn read_secret(path: &Path) -> Result<[u8; 32], KeyError> {
    let bytes = bounded::read_small(path, KEY_FILE_MAX).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::Malformed(path.to_owned()))?;
    from_hex::<32>(text.trim()).ok_or_else(|| KeyError::Malformed(path.to_owned()))
}

/// Creates the signing key for a new ledger and returns its public key.
pub fn create_signing_key(dir: &Path, ledger_id: &LedgerId) -> Result<[u8; 32], KeyError> {
    let path = key_path(dir, ledger_id);
    let secret = random_secret()?;
    if !install_secret(&path, &secret)? {
        return Err(KeyError::Create {
            path,
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    Ok(SigningKey::from_bytes(&secret).verifying_key().to_bytes())
}

pub fn load_signing_key(dir: &Path, ledger_id: &LedgerId) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&read_secret(&key_path(
        dir, ledger_id,
    ))?))
}

/// The spool key, or `None` when there is none.
pub fn load_spool_key(dir: &Path) -> Result<Option<[u8; 32]>, KeyError> {
    match read_secret(&spool_key_path(dir)) {
        Ok(secret) => Ok(Some(secret)),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The spool key, made now if there is none yet (the first spooled record may come before the
/// ledger exists). When two processes make it at once, both end up with the one that was
/// linked first.
pub fn load_or_create_spool_key(dir: &Path) -> Result<[u8; 32], KeyError> {
    if let Some(secret) = load_spool_key(dir)? {
        return Ok(secret);
    }
    let secret = random_secret()?;
    if install_secret(&spool_key_path(dir), &secret)? {
        return Ok(secret);
    }
    load_spool_key(dir)?.ok_or_else(|| KeyError::Read {
        path: spool_key_path(dir),
        source: std::io::ErrorKind::NotFound.into(),
    })
}

/// The key of the digests DLP findings carry in records: derived from the spool key, so it
/// lives only in `keys/` and leaves with no export; a separate derivation, so a digest never
/// helps forge a spool MAC.
pub fn load_or_create_dlp_key(dir: &Path) -> Result<[u8; 32], KeyError> {
    let spool = load_or_create_spool_key(dir)?;
    Ok(blake3::derive_key(
        "hookledger 2026-12 dlp finding digest",
        &spool,
    ))
}

/// The signing key on disk, judged against the public key in the ledger's genesis record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key file holds the secret of the genesis public key.
    Matches,
    /// No key file: interval checkpoints cannot be signed.
    Missing,
    /// The key file's public key is not the genesis record's: checkpoints it signs would not
    /// verify. Someone replaced it.
    Replaced { file_public_key: [u8; 32] },
    /// The key file cannot be read or parsed.
    Unreadable(String),
}

impl KeyStatus {
    pub fn code(&self) -> KeyStatusCode {
        match self {
            KeyStatus::Matches => KeyStatusCode::Matches,
            KeyStatus::Missing => KeyStatusCode::Missing,
            KeyStatus::Replaced { .. } => KeyStatusCode::Replaced,
            KeyStatus::Unreadable(_) => KeyStatusCode::Unreadable,
        }
    }
}

/// The stable code of a [`KeyStatus`] (`verify --json`'s `signing_key.status`); API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatusCode {
    /// The key file is the key the genesis record names.
    Matches,
    /// There is no key file: checkpoints are not being signed.
    Missing,
    /// The key file's public key is not the genesis record's: someone replaced it.
    Replaced,
    /// The key file cannot be read or parsed.
    Unreadable,
}

impl KeyStatusCode {
    pub const ALL: &[KeyStatusCode] = &[
        KeyStatusCode::Matches,
        KeyStatusCode::Missing,
        KeyStatusCode::Replaced,
        KeyStatusCode::Unreadable,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyStatusCode::Matches => "matches",
            KeyStatusCode::Missing => "missing",
            KeyStatusCode::Replaced => "replaced",
            KeyStatusCode::Unreadable => "unreadable",
        }
    }
}

impl std::fmt::Display for KeyStatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

pub fn signing_key_status(
    dir: &Path,
    ledger_id: &LedgerId,
    genesis_public: &[u8; 32],
) -> KeyStatus {
    match load_signing_key(dir, ledger_id) {
        Ok(key) => {
            let file_public_key = key.verifying_key().to_bytes();
            if file_public_key == *genesis_public {
                KeyStatus::Matches
            } else {
                KeyStatus::Replaced { file_public_key }
            }
        }
        Err(e) if e.is_missing() => KeyStatus::Missing,
        Err(e) => KeyStatus::Unreadable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_key_is_made_once_and_shared() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        assert_eq!(load_spool_key(&keys).unwrap(), None);
        let first = load_or_create_spool_key(&keys).unwrap();
        assert_eq!(load_or_create_spool_key(&keys).unwrap(), first);
        assert_eq!(load_spool_key(&keys).unwrap(), Some(first));
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(&keys)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SPOOL_KEY_FILE]);
    }

    #[test]
    fn status_tells_missing_from_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let id = [7u8; 16];
        let public = create_signing_key(dir.path(), &id).unwrap();
        assert_eq!(
            signing_key_status(dir.path(), &id, &public),
            KeyStatus::Matches
        );
        assert!(matches!(
            signing_key_status(dir.path(), &id, &[1; 32]),
            KeyStatus::Replaced { .. }
        ));
        std::fs::remove_file(key_path(dir.path(), &id)).unwrap();
        assert_eq!(
            signing_key_status(dir.path(), &id, &public),
            KeyStatus::Missing
        );
        std::fs::write(key_path(dir.path(), &id), "zz\n").unwrap();
        assert!(matches!(
            signing_key_status(dir.path(), &id, &public),
            KeyStatus::Unreadable(_)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_place_of_a_key_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = spool_key_path(dir.path());
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path that lives through the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(load_spool_key(dir.path()).is_err());
    }
}
