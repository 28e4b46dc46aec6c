/*!
Signed checkpoints: a record in the chain that commits, under the ledger's Ed25519 key, to
the ledger id, a sequence number and the hash of the record at that number.

Once a checkpoint has been shipped off the machine, rewriting, truncating or rolling back
anything up to its sequence number is detectable by whoever holds it, and the absence of
newer checkpoints (silence) is visible too. The signed text is fixed and line-based, so a
receiver checks it without re-serializing JSON:

```text
hookledger/checkpoint/v1
ledger <ledger id, 32 hex>
seq <covered sequence number>
head <hash of that record, 64 hex>
time <unix nanoseconds>
```
*/

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};

use super::frame::{self, Hash, LedgerId};
use super::{Appended, Ledger, LedgerError, NewRecord, canonical_json, keys, now_ns};

pub const CHECKPOINT_KIND: &str = crate::Kind::Checkpoint.as_str();
const HEADER: &str = "hookledger/checkpoint/v1";

/// What a checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub ledger_id: LedgerId,
    pub seq: u64,
    pub head: Hash,
    pub time_ns: i64,
}

impl Claim {
    pub fn signed_text(&self) -> String {
        format!(
            "{HEADER}\nledger {}\nseq {}\nhead {}\ntime {}\n",
            frame::to_hex(&self.ledger_id),
            self.seq,
            frame::to_hex(&self.head),
            self.time_ns
        )
    }
}

/// Appends a checkpoint covering the current head, signed with the ledger's key.
pub fn append_checkpoint(ledger: &mut Ledger, reason: &str) -> Result<Appended, LedgerError> {
    let key = keys::load_signing_key(&keys::key_dir(ledger.path()), ledger.ledger_id())?;
    let (seq, head) = ledger.head()?;
    let record = signed_record(&key, *ledger.ledger_id(), seq, head, now_ns(), reason);
    let outcome = ledger.append(&[record])?;
    outcome
        .appended
        .last()
        .copied()
        .ok_or(LedgerError::MissingMeta)
}

/// The newest checkpoint record: its seq and time.
pub fn newest(ledger: &Ledger) -> Result<Option<(u64, i64)>, LedgerError> {
    use rusqlite::OptionalExtension;
    Ok(ledger
        .connection()
        .query_row(
            "SELECT seq, ts_ns FROM records WHERE kind = ?1 ORDER BY seq DESC LIMIT 1",
            [CHECKPOINT_KIND],
            |r| Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?)),
        )
        .optional()?)
}

/// A checkpoint record claiming that record `seq` of ledger `ledger_id` has hash `head`.
pub fn signed_record(
    key: &SigningKey,
    ledger_id: LedgerId,
    seq: u64,
    head: Hash,
    time_ns: i64,
    reason: &str,
) -> NewRecord {
    let claim = Claim {
        ledger_id,
        seq,
        head,
        time_ns,
    };
    let text = claim.signed_text();
    let payload = json!({
        "ledger_id": frame::to_hex(&claim.ledger_id),
        "covers": {"seq": claim.seq, "head": frame::to_hex(&claim.head)},
        "time_ns": claim.time_ns.to_string(),
        "reason": reason,
        "signature": signature_json(key, &text),
        "signed": text,
    });
    NewRecord {
        ts_ns: claim.time_ns,
        kind: CHECKPOINT_KIND.to_owned(),
        payload: canonical_json(&payload),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint payload is not valid: {0}")]
    Malformed(&'static str),
    #[error("checkpoint signature does not verify")]
    BadSignature,
    #[error("checkpoint was signed by a key other than the ledger's")]
    UnknownKey,
}

/// How far ahead of the verifier's clock a checkpoint's signed time may be and still count.
/// Clocks of machines kept by NTP agree within seconds; five minutes absorbs a machine that
/// resumed from sleep before its clock was corrected, and nothing an attacker gains from.
pub const CLOCK_SKEW_NS: i64 = 5 * 60 * 1_000_000_000;

/// Whether a checkpoint signed at `time_ns` claims a time that has not come yet at `now_ns`
/// (the verifier's own clock), allowing `skew_ns`. Such a checkpoint was made under a wrong or
/// faked clock: it proves nothing about when the ledger was last alive.
pub fn is_future(time_ns: i64, now_ns: i64, skew_ns: i64) -> bool {
    time_ns > now_ns.saturating_add(skew_ns.max(0))
}

/// Parses a checkpoint record's payload and checks its signature against `trusted` (the
/// public key from the ledger's genesis record). Returns what it commits to.
pub fn verify_payload(payload: &[u8], trusted: &[u8; 32]) -> Result<Claim, CheckpointError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|_| CheckpointError::Malformed("not JSON"))?;
    let text = verify_signed_text(&value, trusted)?;
    let claim = parse_signed_text(text).ok_or(CheckpointError::Malformed("signed text"))?;
    // The JSON fields next to the signed text must say the same, or a reader of the JSON
    // would be misled by an unsigned claim.
    let covers_seq = value["covers"]["seq"].as_u64();
    let covers_head = value["covers"]["head"]
        .as_str()
        .and_then(frame::from_hex::<32>);
    if covers_seq != Some(claim.seq) || covers_head != Some(claim.head) {
        return Err(CheckpointError::Malformed(
            "JSON fields disagree with the signed text",
        ));
    }
    Ok(claim)
}

/// The `signed` text of a signed record's payload (a checkpoint or a prune statement), once its
/// `signature` verifies under `trusted`.
pub(crate) fn verify_signed_text<'v>(
    value: &'v Value,
    trusted: &[u8; 32],
) -> Result<&'v str, CheckpointError> {
    let text = value["signed"]
        .as_str()
        .ok_or(CheckpointError::Malformed("no signed text"))?;
    let signature_hex = value["signature"]["value"]
        .as_str()
        .ok_or(CheckpointError::Malformed("no signature"))?;
    let signature = frame::from_hex::<64>(signature_hex)
        .ok_or(CheckpointError::Malformed("signature is not 64 hex bytes"))?;
    if let Some(claimed) = value["signature"]["public_key"].as_str()
        && frame::from_hex::<32>(claimed).as_ref() != Some(trusted)
    {
        return Err(CheckpointError::UnknownKey);
    }
    let key = VerifyingKey::from_bytes(trusted).map_err(|_| CheckpointError::UnknownKey)?;
    key.verify(text.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| CheckpointError::BadSignature)?;
    Ok(text)
}

/// The `signature` object of a signed record: what [`verify_signed_text`] checks.
pub(crate) fn signature_json(key: &SigningKey, text: &str) -> Value {
    json!({
        "algorithm": "ed25519",
        "public_key": frame::to_hex(&key.verifying_key().to_bytes()),
        "value": frame::to_hex(&key.sign(text.as_bytes()).to_bytes()),
    })
}

fn parse_signed_text(text: &str) -> Option<Claim> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let ledger_id = frame::from_hex::<16>(lines.next()?.strip_prefix("ledger ")?)?;
    let seq = lines.next()?.strip_prefix("seq ")?.parse().ok()?;
    let head = frame::from_hex::<32>(lines.next()?.strip_prefix("head ")?)?;
    let time_ns = lines.next()?.strip_prefix("time ")?.parse().ok()?;
    Some(Claim {
        ledger_id,
        seq,
        head,
        time_ns,
    })
}

/// The public key a genesis payload names.
pub fn genesis_public_key(genesis_payload: &[u8]) -> Option<[u8; 32]> {
    serde_json::from_slice::<crate::record::Genesis>(genesis_payload)
        .ok()?
        .public_key()
}
