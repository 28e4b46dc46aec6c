/*!
The per-ledger Ed25519 signing key, made at genesis.

The public key goes into the genesis record, so anyone holding a shipped copy of that record can
check checkpoint signatures later. The secret stays in a 0600 file beside the ledger: it proves
nothing against the machine's own user (see the threat model), only against later tampering
once checkpoints have been shipped.
*/

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

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

pub fn key_dir(ledger_path: &Path) -> PathBuf {
    ledger_path.parent().unwrap_or(Path::new(".")).join("keys")
}

pub fn key_path(dir: &Path, ledger_id: &LedgerId) -> PathBuf {
    dir.join(format!("{}.ed25519", to_hex(ledger_id)))
}

/// Creates the signing key for a new ledger and returns its public key.
pub fn create_signing_key(dir: &Path, ledger_id: &LedgerId) -> Result<[u8; 32], KeyError> {
    let path = key_path(dir, ledger_id);
    let create_err = |source| KeyError::Create {
        path: path.clone(),
        source,
    };
    super::create_private_dir(dir).map_err(create_err)?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(create_err)?;
    file.write_all(format!("{}\n", to_hex(&secret)).as_bytes())
        .map_err(create_err)?;
    file.sync_all().map_err(create_err)?;
    Ok(key.verifying_key().to_bytes())
}

pub fn load_signing_key(dir: &Path, ledger_id: &LedgerId) -> Result<SigningKey, KeyError> {
    let path = key_path(dir, ledger_id);
    let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Read {
        path: path.clone(),
        source,
    })?;
    let secret = from_hex::<32>(text.trim()).ok_or_else(|| KeyError::Malformed(path.clone()))?;
    Ok(SigningKey::from_bytes(&secret))
}
