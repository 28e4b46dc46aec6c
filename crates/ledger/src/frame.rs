/*!
The record frame: the exact bytes that are hashed for each ledger record.

The layout is documented for third-party verifiers in `schema/LEDGER-FORMAT.md`; any change to
it must change [`DOMAIN_TAG`], because old ledgers must stay verifiable with the old rules.
*/

/// Identifies the frame layout. Bumped on any change to what is hashed.
pub const DOMAIN_TAG: &[u8; 8] = b"HKLREC01";

pub const HASH_LEN: usize = 32;
pub const LEDGER_ID_LEN: usize = 16;

pub type Hash = [u8; HASH_LEN];
pub type LedgerId = [u8; LEDGER_ID_LEN];

/// The previous-hash of the genesis record.
pub const ZERO_HASH: Hash = [0; HASH_LEN];

/// Everything that goes into a record's hash.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ledger_id: &'a LedgerId,
    pub seq: u64,
    pub ts_ns: i64,
    pub prev_hash: &'a Hash,
    pub kind: &'a str,
    pub payload: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("record kind is {0} bytes long; the frame allows at most 65535")]
    KindTooLong(usize),
    #[error("record payload is {0} bytes long; the frame allows at most 4 GiB")]
    PayloadTooLong(usize),
}

impl Frame<'_> {
    /// BLAKE3 over: tag ‖ ledger_id ‖ seq(u64 BE) ‖ ts_ns(i64 BE) ‖ prev_hash ‖
    /// kind_len(u16 BE) ‖ kind ‖ payload_len(u32 BE) ‖ payload.
    pub fn hash(&self) -> Result<Hash, FrameError> {
        let kind_len =
            u16::try_from(self.kind.len()).map_err(|_| FrameError::KindTooLong(self.kind.len()))?;
        let payload_len = u32::try_from(self.payload.len())
            .map_err(|_| FrameError::PayloadTooLong(self.payload.len()))?;
        // The fixed-size fields go in as one piece: many tiny updates cost more than the
        // hashing of a typical header (verify and receivers run this for every record).
        let mut head = [0u8; 8 + LEDGER_ID_LEN + 8 + 8 + HASH_LEN + 2];
        let mut at = 0;
        for part in [
            &DOMAIN_TAG[..],
            self.ledger_id,
            &self.seq.to_be_bytes(),
            &self.ts_ns.to_be_bytes(),
            self.prev_hash,
            &kind_len.to_be_bytes(),
        ] {
            head[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&head);
        hasher.update(self.kind.as_bytes());
        hasher.update(&payload_len.to_be_bytes());
        hasher.update(self.payload);
        Ok(*hasher.finalize().as_bytes())
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    from_hex_bytes(text.as_bytes())
}

/// Hex digits (either case) to bytes; `None` unless there are exactly `2 * N` of them.
pub fn from_hex_bytes<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    // Branch-free per digit, so the loop vectorizes: receivers decode three hex fields for
    // every record they verify.
    fn value(digit: u8) -> u8 {
        (digit & 0x0f) + 9 * (digit >> 6)
    }
    fn is_digit(digit: u8) -> bool {
        let lower = digit | 0x20;
        digit.is_ascii_digit() | (b'a'..=b'f').contains(&lower)
    }
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    let mut valid = true;
    let (pairs, _) = bytes.as_chunks::<2>();
    for (slot, &[high, low]) in out.iter_mut().zip(pairs) {
        valid &= is_digit(high) & is_digit(low);
        *slot = value(high) << 4 | value(low);
    }
    valid.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN_HASH_HEX: &str =
        "d77fb711a270cdccf4e07f268697375fcf7c29d37d6a93027507aa4df1aae5d1";

    /// A golden vector: third-party verifiers check their implementation against it, and it
    /// pins the frame layout so an accidental change fails here first.
    #[test]
    fn golden_vector() {
        let ledger_id = [0x11; LEDGER_ID_LEN];
        let prev = [0x22; HASH_LEN];
        let frame = Frame {
            ledger_id: &ledger_id,
            seq: 2,
            ts_ns: 1_763_896_800_000_000_000,
            prev_hash: &prev,
            kind: "prompt",
            payload: br#"{"prompt":"hi"}"#,
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"HKLREC01");
        bytes.extend_from_slice(&ledger_id);
        bytes.extend_from_slice(&2u64.to_be_bytes());
        bytes.extend_from_slice(&1_763_896_800_000_000_000i64.to_be_bytes());
        bytes.extend_from_slice(&prev);
        bytes.extend_from_slice(&6u16.to_be_bytes());
        bytes.extend_from_slice(b"prompt");
        bytes.extend_from_slice(&15u32.to_be_bytes());
        bytes.extend_from_slice(br#"{"prompt":"hi"}"#);
        let expected = *blake3::hash(&bytes).as_bytes();
        assert_eq!(frame.hash().unwrap(), expected);
        assert_eq!(to_hex(&expected), GOLDEN_HASH_HEX);
    }

    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "0001abff");
        assert_eq!(from_hex::<4>("0001abff"), Some(bytes));
        assert_eq!(from_hex::<4>("0001abf"), None);
        assert_eq!(from_hex::<4>("0001abfz"), None);
    }
}
