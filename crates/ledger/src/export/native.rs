/*!
The native export line (`hookledger-native/2`): one ledger record per line, carrying everything
a receiver needs to recompute its hash.

```text
{"format":"hookledger-native/2","ledger_id":"…","seq":7,"ts_ns":"…","kind":"edit",
 "prev_hash":"…","hash":"…","payload":{…}}
```

`payload` is the record's stored RFC 8785 bytes, embedded verbatim. A receiver reading the line
as it was written hashes exactly those bytes (no JSON parsing, no re-serialization). After a
pipeline re-serialized the line (keys reordered, whitespace, `jq -c .`), the receiver
re-canonicalizes the parsed `payload` with RFC 8785, which yields the stored bytes again as long
as the pipeline kept the JSON values (RFC 8785 fixes key order, number form and escapes). With
`--payload-b64` the line also carries `payload_b64`, the exact bytes in base64, for receivers
without an RFC 8785 implementation. `ts_ns` is a string because many JSON tools round integers
above 2^53.

Version 1 lines always carried `payload_b64`; receivers still accept them.
*/

use base64::Engine;

use super::RecordRef;
use crate::frame::{self, Frame, Hash, LedgerId};

pub const FORMAT: &str = "hookledger-native/2";
/// The previous layout: `payload_b64` always present. Still accepted by receivers.
pub const FORMAT_V1: &str = "hookledger-native/1";

/// Appends one native line (with its newline) to `line`.
pub fn write_line(ledger_id_hex: &str, r: &RecordRef<'_>, with_b64: bool, line: &mut Vec<u8>) {
    write_object(FORMAT, ledger_id_hex, r, with_b64, line);
    line.push(b'\n');
}

/// The chain object of a record: a native line's fields under the `format` name given (ECS and
/// OCSF lines embed the same object).
pub fn write_object(
    format: &str,
    ledger_id_hex: &str,
    r: &RecordRef<'_>,
    with_b64: bool,
    line: &mut Vec<u8>,
) {
    let embeddable = is_embeddable(r.payload);
    line.extend_from_slice(b"{\"format\":\"");
    line.extend_from_slice(format.as_bytes());
    line.extend_from_slice(b"\",\"ledger_id\":\"");
    line.extend_from_slice(ledger_id_hex.as_bytes());
    line.extend_from_slice(b"\",\"seq\":");
    line.extend_from_slice(itoa::Buffer::new().format(r.seq).as_bytes());
    line.extend_from_slice(b",\"ts_ns\":\"");
    line.extend_from_slice(itoa::Buffer::new().format(r.ts_ns).as_bytes());
    line.extend_from_slice(b"\",\"kind\":");
    if is_plain(r.kind.as_bytes()) {
        line.push(b'"');
        line.extend_from_slice(r.kind.as_bytes());
        line.push(b'"');
    } else {
        // Kinds are kebab-case names; anything else is escaped like any JSON string.
        line.extend_from_slice(
            serde_json::to_string(&r.kind)
                .unwrap_or_else(|_| "\"\"".into())
                .as_bytes(),
        );
    }
    line.extend_from_slice(b",\"prev_hash\":\"");
    push_hex(line, r.prev_hash);
    line.extend_from_slice(b"\",\"hash\":\"");
    push_hex(line, r.hash);
    line.push(b'"');
    if with_b64 || !embeddable {
        line.extend_from_slice(b",\"payload_b64\":\"");
        let mut b64 = String::with_capacity(r.payload.len() * 4 / 3 + 4);
        base64::engine::general_purpose::STANDARD.encode_string(r.payload, &mut b64);
        line.extend_from_slice(b64.as_bytes());
        line.push(b'"');
    }
    if embeddable {
        line.extend_from_slice(b",\"payload\":");
        line.extend_from_slice(r.payload);
    }
    line.push(b'}');
}

/// Whether the stored bytes can be embedded as the line's `payload` without breaking the line:
/// hookledger writes RFC 8785 objects, which never hold raw control bytes. A payload that is not
/// such an object (a damaged or tampered database) travels only as base64, so the export stays
/// one valid JSON object per line and the receiver reports the record instead.
fn is_embeddable(payload: &[u8]) -> bool {
    if payload.first() != Some(&b'{') || payload.last() != Some(&b'}') {
        return false;
    }
    // Folded without an early exit so the compiler vectorizes it: this runs once per exported
    // record.
    let (lowest, highest) = payload
        .iter()
        .fold((u8::MAX, 0u8), |(lo, hi), b| (lo.min(*b), hi.max(*b)));
    lowest >= 0x20 && (highest < 0x80 || std::str::from_utf8(payload).is_ok())
}

fn is_plain(text: &[u8]) -> bool {
    !text.is_empty()
        && text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn push_hex(line: &mut Vec<u8>, bytes: &[u8; 32]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 64];
    for (pair, byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    line.extend_from_slice(&text);
}

/// The chain fields of a line, as a receiver reads them.
#[derive(Debug, Clone)]
pub struct ChainFields<'a> {
    pub ledger_id: LedgerId,
    pub seq: u64,
    pub ts_ns: i64,
    pub kind: std::borrow::Cow<'a, str>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl ChainFields<'_> {
    pub fn hash_of(&self, payload: &[u8]) -> Result<Hash, frame::FrameError> {
        Frame {
            ledger_id: &self.ledger_id,
            seq: self.seq,
            ts_ns: self.ts_ns,
            prev_hash: &self.prev_hash,
            kind: &self.kind,
            payload,
        }
        .hash()
    }
}

/// Reads a line exactly as [`write_line`] wrote it (without `payload_b64`), returning its chain
/// fields and the embedded payload bytes. `None` for any other layout: the caller then parses
/// the line as JSON. Because the hash covers every field taken from the line, a line that
/// passes here and whose hash matches is byte-for-byte what the ledger holds.
pub fn parse_exact(line: &[u8]) -> Option<(ChainFields<'_>, &[u8])> {
    let mut rest = line.strip_prefix(b"{\"format\":\"hookledger-native/2\",\"ledger_id\":\"")?;
    let ledger_id = frame::from_hex_bytes::<16>(rest.get(..32)?)?;
    rest = rest.get(32..)?.strip_prefix(b"\",\"seq\":")?;
    let (seq, after) = parse_u64(rest)?;
    rest = after.strip_prefix(b",\"ts_ns\":\"")?;
    let (ts_ns, after) = parse_i64(rest)?;
    rest = after.strip_prefix(b"\",\"kind\":\"")?;
    let kind_end = memchr::memchr(b'"', rest)?;
    let kind = rest.get(..kind_end)?;
    if !is_plain(kind) {
        return None;
    }
    let kind = std::str::from_utf8(kind).ok()?;
    rest = rest.get(kind_end..)?.strip_prefix(b"\",\"prev_hash\":\"")?;
    let prev_hash = frame::from_hex_bytes::<32>(rest.get(..64)?)?;
    rest = rest.get(64..)?.strip_prefix(b"\",\"hash\":\"")?;
    let hash = frame::from_hex_bytes::<32>(rest.get(..64)?)?;
    rest = rest.get(64..)?.strip_prefix(b"\",\"payload\":")?;
    let payload = rest.strip_suffix(b"}")?;
    if payload.first() != Some(&b'{') || payload.last() != Some(&b'}') {
        return None;
    }
    Some((
        ChainFields {
            ledger_id,
            seq,
            ts_ns,
            kind: std::borrow::Cow::Borrowed(kind),
            prev_hash,
            hash,
        },
        payload,
    ))
}

/// Leading decimal digits (at most 19, so they fit a u64) and what follows them.
fn parse_u64(text: &[u8]) -> Option<(u64, &[u8])> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let value = text[..digits]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some((value, &text[digits..]))
}

fn parse_i64(text: &[u8]) -> Option<(i64, &[u8])> {
    let negative = text.first() == Some(&b'-');
    let (magnitude, rest) = parse_u64(&text[usize::from(negative)..])?;
    let value = if negative {
        0i64.checked_sub_unsigned(magnitude)?
    } else {
        i64::try_from(magnitude).ok()?
    };
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8], kind: &str) -> crate::StoredRecord {
        crate::StoredRecord {
            seq: 42,
            ts_ns: -5,
            kind: kind.into(),
            payload: payload.to_vec(),
            prev_hash: [7; 32],
            hash: [9; 32],
        }
    }

    #[test]
    fn exact_lines_round_trip() {
        let r = record(br#"{"a":"x\ny","b":[1,2]}"#, "tool-call");
        let mut line = Vec::new();
        write_line(&frame::to_hex(&[3; 16]), &(&r).into(), false, &mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        let body = &line[..line.len() - 1];
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(value["payload"]["b"][1], 2);
        let (fields, payload) = parse_exact(body).unwrap();
        assert_eq!(payload, r.payload.as_slice());
        assert_eq!(
            (fields.seq, fields.ts_ns, &*fields.kind),
            (42, -5, "tool-call")
        );
        assert_eq!((fields.prev_hash, fields.hash), ([7; 32], [9; 32]));
        assert_eq!(fields.ledger_id, [3; 16]);
    }

    #[test]
    fn payloads_that_would_break_the_line_travel_as_base64() {
        for payload in [&b"{\"a\":\"raw\nnewline\"}"[..], b"not json", b"{\xff}"] {
            let mut line = Vec::new();
            write_line(
                &frame::to_hex(&[3; 16]),
                &(&record(payload, "x")).into(),
                false,
                &mut line,
            );
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
            let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert!(value.get("payload").is_none());
            assert!(value["payload_b64"].is_string());
            assert!(parse_exact(&line[..line.len() - 1]).is_none());
        }
    }

    #[test]
    fn other_layouts_are_left_to_the_json_parser() {
        let mut line = Vec::new();
        write_line(
            &frame::to_hex(&[3; 16]),
            &(&record(b"{}", "k")).into(),
            true,
            &mut line,
        );
        assert!(parse_exact(&line[..line.len() - 1]).is_none(), "with b64");
        let spaced = String::from_utf8(line).unwrap().replace("\":", "\": ");
        assert!(parse_exact(spaced.trim_end().as_bytes()).is_none());
    }
}
