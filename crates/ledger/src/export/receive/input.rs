//! Reading batches in pieces that end at line ends, and parsing them on worker threads.

use std::io::Read;

use base64::Engine;
use serde_json::Value;

use super::{Limits, ProblemCode, Role, ShippedRecord};
use crate::canonical_json;
use crate::export::mapped;
use crate::export::native::{self, ChainFields};
use crate::frame::{self, Hash, LedgerId};

pub(super) struct Job {
    pub(super) index: usize,
    pub(super) work: Work,
}

/// One piece of input for a parsing thread.
pub(super) enum Work {
    /// Bytes read by the main thread: whole lines.
    Bytes(Vec<u8>),
    /// A single line longer than [`MAX_LINE_BYTES`], skipped.
    Oversized,
    /// The lines of a regular file that start in `start..end`, read by the worker.
    Range { start: u64, end: u64 },
}

pub(super) struct Done {
    pub(super) index: usize,
    pub(super) parsed: std::io::Result<Vec<Parsed>>,
    pub(super) lines: usize,
    /// A main-thread buffer to reuse.
    pub(super) buffer: Option<Vec<u8>>,
}

pub(super) fn oversized(limits: Limits) -> Parsed {
    Parsed::Malformed {
        line: 1,
        detail: format!("the line is longer than {} bytes: skipped", limits.max_line),
    }
}

/// Runs one job on a parsing thread; `own` is the thread's buffer for file ranges.
pub(super) fn work(
    job: Job,
    file: Option<&std::fs::File>,
    own: &mut Vec<u8>,
    keep: bool,
    limits: Limits,
) -> Done {
    let index = job.index;
    match job.work {
        Work::Bytes(bytes) => {
            let (parsed, lines) = parse_piece(&bytes, keep);
            Done {
                index,
                parsed: Ok(parsed),
                lines,
                buffer: Some(bytes),
            }
        }
        Work::Oversized => Done {
            index,
            parsed: Ok(vec![oversized(limits)]),
            lines: 1,
            buffer: None,
        },
        Work::Range { start, end } => {
            let result = file
                .ok_or_else(|| std::io::Error::other("no file to read a range of"))
                .and_then(|file| read_range(file, start, end, own, limits.max_line));
            match result {
                Ok(Region::Lines(range)) => {
                    let (parsed, lines) = parse_piece(&own[range], keep);
                    Done {
                        index,
                        parsed: Ok(parsed),
                        lines,
                        buffer: None,
                    }
                }
                Ok(Region::Oversized { before }) => {
                    let (mut parsed, lines) = parse_piece(&own[before], keep);
                    parsed.push(oversized(limits));
                    Done {
                        index,
                        parsed: Ok(parsed),
                        lines: lines + 1,
                        buffer: None,
                    }
                }
                Err(e) => Done {
                    index,
                    parsed: Err(e),
                    lines: 0,
                    buffer: None,
                },
            }
        }
    }
    .shrink(own, limits)
}

impl Done {
    /// Keeps a thread's own buffer from holding on to a huge line's worth of memory.
    fn shrink(self, own: &mut Vec<u8>, limits: Limits) -> Done {
        if own.capacity() > limits.piece * 2 {
            *own = Vec::new();
        }
        self
    }
}

/// What a worker found in its range of a file.
pub(super) enum Region {
    /// `own[range]` holds the whole lines that start in the range.
    Lines(std::ops::Range<usize>),
    /// The range's last line runs past the longest line allowed: `own[before]` holds the whole
    /// lines before it.
    Oversized { before: std::ops::Range<usize> },
}

/// Reads the lines that start in `start..end` of `file` into `buffer`: a line starts at 0 or
/// right after a line end, so the byte before `start` is read too, and the last line is
/// followed past `end` to its line end (or the end of the file).
#[cfg(unix)]
pub(super) fn read_range(
    file: &std::fs::File,
    start: u64,
    end: u64,
    buffer: &mut Vec<u8>,
    max_line: usize,
) -> std::io::Result<Region> {
    use std::os::unix::fs::FileExt;
    // `buffer` keeps its length between calls and only `valid` bytes count: shrinking and
    // regrowing it would zero a piece's worth of memory every time.
    let grow = |buffer: &mut Vec<u8>, to: usize| {
        if buffer.len() < to {
            buffer.resize(to, 0);
        }
    };
    let from = start.saturating_sub(1);
    let want = usize::try_from(end - from).unwrap_or(usize::MAX);
    grow(buffer, want);
    let mut valid = read_full_at(file, &mut buffer[..want], from)?;
    // The first line that starts at or after `start`.
    let first = if start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buffer[..valid]) {
            Some(i) => i + 1,
            None => return Ok(Region::Lines(0..0)),
        }
    };
    if first >= valid {
        return Ok(Region::Lines(0..0));
    }
    if valid < want {
        // The file ends inside the range.
        return Ok(Region::Lines(first..valid));
    }
    // The last line starting in the range ends at the first line end at or after `end - 1`.
    let mut searched = (valid - 1).max(first);
    let last_start = memchr::memrchr(b'\n', &buffer[..valid - 1]).map_or(first, |i| i + 1);
    loop {
        if let Some(i) = memchr::memchr(b'\n', &buffer[searched..valid]) {
            return Ok(Region::Lines(first..searched + i + 1));
        }
        searched = valid;
        if valid - last_start > max_line {
            return Ok(Region::Oversized {
                before: first..last_start.max(first),
            });
        }
        let more = (1 << 20).min(max_line + 1);
        grow(buffer, valid + more);
        let n = loop {
            match file.read_at(&mut buffer[valid..valid + more], from + valid as u64) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            return Ok(Region::Lines(first..valid));
        }
        valid += n;
    }
}

#[cfg(not(unix))]
pub(super) fn read_range(
    _file: &std::fs::File,
    _start: u64,
    _end: u64,
    _buffer: &mut Vec<u8>,
    _max_line: usize,
) -> std::io::Result<Region> {
    Err(std::io::Error::other("ranges are read only on Unix"))
}

/// Reads until `buffer` is full or the file ends; returns how much was read.
#[cfg(unix)]
pub(super) fn read_full_at(
    file: &std::fs::File,
    buffer: &mut [u8],
    offset: u64,
) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < buffer.len() {
        match file.read_at(&mut buffer[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Where the pipeline's pieces come from.
pub(super) enum Input<'a, 'r> {
    /// Read by the main thread.
    Stream(&'a mut PieceReader<'r>),
    /// A regular file, cut into ranges the workers read themselves.
    #[cfg_attr(not(unix), allow(dead_code))]
    Ranges {
        file: &'a std::fs::File,
        len: u64,
        next: u64,
        piece: usize,
    },
}

impl<'a> Input<'a, '_> {
    pub(super) fn file(&self) -> Option<&'a std::fs::File> {
        match self {
            Input::Ranges { file, .. } => Some(*file),
            Input::Stream(_) => None,
        }
    }

    pub(super) fn next_work(&mut self) -> std::io::Result<Option<Work>> {
        match self {
            Input::Stream(pieces) => Ok(pieces.next_piece()?.map(|piece| {
                if piece.oversized {
                    Work::Oversized
                } else {
                    Work::Bytes(piece.bytes)
                }
            })),
            Input::Ranges {
                len, next, piece, ..
            } => {
                if *next >= *len {
                    return Ok(None);
                }
                let start = *next;
                let end = (start + *piece as u64).min(*len);
                *next = end;
                Ok(Some(Work::Range { start, end }))
            }
        }
    }

    pub(super) fn recycle(&mut self, buffer: Vec<u8>) {
        if let Input::Stream(pieces) = self {
            pieces.recycle(buffer);
        }
    }
}

pub(super) enum Parsed {
    Record(ParsedRecord),
    /// A line that names its ledger and seq but does not verify.
    Rejected {
        ledger_id: LedgerId,
        seq: u64,
        code: ProblemCode,
        detail: String,
    },
    Malformed {
        line: usize,
        detail: String,
    },
}

/// Kept unboxed: one allocation per line would cost as much as the line's parsing.
pub(super) struct ParsedRecord {
    pub(super) ledger_id: LedgerId,
    pub(super) seq: u64,
    pub(super) hash: Hash,
    pub(super) prev: Hash,
    pub(super) kind: Role,
    pub(super) payload: Option<Box<[u8]>>,
    /// What only some records carry.
    pub(super) extra: Option<Box<RecordExtra>>,
}

pub(super) struct RecordExtra {
    pub(super) kept: Option<ShippedRecord>,
    /// ECS/OCSF fields that disagree with the verified payload.
    pub(super) mapped_mismatch: Option<Vec<String>>,
}

/// Parses the lines of one piece; returns them and how many lines the piece held.
pub(super) fn parse_piece(piece: &[u8], keep: bool) -> (Vec<Parsed>, usize) {
    let mut out = Vec::with_capacity(piece.len() / 512 + 1);
    let mut start = 0;
    let mut index = 0;
    while start < piece.len() {
        let end = memchr::memchr(b'\n', &piece[start..]).map_or(piece.len(), |i| start + i);
        let raw = &piece[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        index += 1;
        start = end + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(
            parse_line(raw, keep).unwrap_or_else(|detail| Parsed::Malformed {
                line: index,
                detail,
            }),
        );
    }
    (out, index)
}

pub(super) fn parse_line(raw: &[u8], keep: bool) -> Result<Parsed, String> {
    if let Some((fields, payload)) = native::parse_exact(raw)
        && fields.hash_of(payload).ok() == Some(fields.hash)
    {
        return Ok(accept(&fields, payload, None, keep));
    }
    // Not as written (or its bytes do not hash): read it as JSON and re-canonicalize.
    let value: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let located = mapped::locate_chain(&value).ok_or(
        "no hookledger chain fields (native line, ECS `hookledger`, or OCSF `unmapped.hookledger`)",
    )?;
    let chain = located.chain;
    let fields = chain_fields(chain)?;
    let reject = |code: ProblemCode, detail: String| Parsed::Rejected {
        ledger_id: fields.ledger_id,
        seq: fields.seq,
        code,
        detail,
    };
    let from_b64 = match chain.get("payload_b64") {
        None | Some(Value::Null) => None,
        Some(b64) => Some(
            b64.as_str()
                .and_then(|t| {
                    base64::engine::general_purpose::STANDARD
                        .decode(t.as_bytes())
                        .ok()
                })
                .ok_or("payload_b64 is not base64")?,
        ),
    };
    let from_json = chain.get("payload").map(canonical_json);
    let payload = match (from_b64, from_json) {
        (Some(exact), Some(parsed)) if exact != parsed => {
            return Ok(reject(
                ProblemCode::PayloadMismatch,
                format!(
                    "record {}: `payload` and `payload_b64` say different things: one of them was changed",
                    fields.seq
                ),
            ));
        }
        (Some(exact), _) => exact,
        (None, Some(parsed)) => parsed,
        (None, None) => return Err("no payload or payload_b64".into()),
    };
    if fields.hash_of(&payload).map_err(|e| e.to_string())? != fields.hash {
        return Ok(reject(
            ProblemCode::BadHash,
            format!(
                "record {} does not hash to the hash it carries: its content was changed",
                fields.seq
            ),
        ));
    }
    let mismatch = located.format.and_then(|format| {
        let view = crate::record::Mapped::parse(&payload)?;
        let differing = mapped::differing_fields(format, &value, &fields, view);
        (!differing.is_empty()).then_some(differing)
    });
    Ok(accept(&fields, &payload, mismatch, keep))
}

pub(super) fn accept(
    fields: &ChainFields<'_>,
    payload: &[u8],
    mapped_mismatch: Option<Vec<String>>,
    keep: bool,
) -> Parsed {
    let kind = Role::of(&fields.kind);
    let kept = keep.then(|| ShippedRecord {
        seq: fields.seq,
        ts_ns: fields.ts_ns,
        kind: fields.kind.clone().into_owned(),
        payload: payload.to_vec(),
        prev_hash: fields.prev_hash,
        hash: fields.hash,
    });
    Parsed::Record(ParsedRecord {
        ledger_id: fields.ledger_id,
        seq: fields.seq,
        hash: fields.hash,
        prev: fields.prev_hash,
        kind,
        payload: kind.keeps_payload().then(|| payload.into()),
        extra: (kept.is_some() || mapped_mismatch.is_some()).then(|| {
            Box::new(RecordExtra {
                kept,
                mapped_mismatch,
            })
        }),
    })
}

/// The chain fields from a parsed chain object, tolerating what pipelines do to scalars
/// (numbers as strings, strings as numbers).
pub(super) fn chain_fields(
    chain: &serde_json::Map<String, Value>,
) -> Result<ChainFields<'static>, String> {
    let text = |key: &str| -> Result<&str, String> {
        chain
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{key} is missing or not a string"))
    };
    let integer = |key: &str| -> Result<i128, String> {
        match chain.get(key) {
            Some(Value::Number(n)) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .ok_or_else(|| format!("{key} is not an integer")),
            Some(Value::String(s)) => s.parse().map_err(|_| format!("{key} is not an integer")),
            _ => Err(format!("{key} is missing")),
        }
    };
    Ok(ChainFields {
        ledger_id: frame::from_hex::<16>(text("ledger_id")?)
            .ok_or("ledger_id is not 32 hex digits")?,
        seq: u64::try_from(integer("seq")?).map_err(|_| "seq is out of range")?,
        ts_ns: i64::try_from(integer("ts_ns")?).map_err(|_| "ts_ns is out of range")?,
        kind: std::borrow::Cow::Owned(text("kind")?.to_owned()),
        prev_hash: frame::from_hex::<32>(text("prev_hash")?)
            .ok_or("prev_hash is not 64 hex digits")?,
        hash: frame::from_hex::<32>(text("hash")?).ok_or("hash is not 64 hex digits")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading input in pieces that end at line ends.

pub(super) struct Piece {
    bytes: Vec<u8>,
    /// A single line longer than the longest allowed, skipped: `bytes` is empty.
    oversized: bool,
}

pub(super) struct PieceReader<'r> {
    reader: &'r mut dyn Read,
    limits: Limits,
    /// Bytes read after the last line end handed out.
    carry: Vec<u8>,
    spare: Vec<Vec<u8>>,
    eof: bool,
}

impl<'r> PieceReader<'r> {
    pub(super) fn new(reader: &'r mut dyn Read, limits: Limits) -> Self {
        PieceReader {
            reader,
            limits,
            carry: Vec::new(),
            spare: Vec::new(),
            eof: false,
        }
    }

    /// Gives a piece's buffer back for reuse (no fresh pages for every piece).
    pub(super) fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < 4 && buffer.capacity() <= self.limits.piece * 2 {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// The next piece: whole lines, about a piece long; the last one may lack its line
    /// end. `None` at the end of input.
    pub(super) fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        let mut buffer = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.limits.piece + (64 << 10)));
        buffer.clear();
        buffer.append(&mut self.carry);
        loop {
            if buffer.len() >= self.limits.piece
                && let Some(end) = memchr::memrchr(b'\n', &buffer)
            {
                self.carry.extend_from_slice(&buffer[end + 1..]);
                buffer.truncate(end + 1);
                return Ok(Some(Piece {
                    bytes: buffer,
                    oversized: false,
                }));
            }
            if buffer.len() > self.limits.max_line {
                // One line with no end in sight: skip to its end without keeping it.
                self.skip_line()?;
                return Ok(Some(Piece {
                    bytes: Vec::new(),
                    oversized: true,
                }));
            }
            if self.eof {
                return Ok((!buffer.is_empty()).then_some(Piece {
                    bytes: buffer,
                    oversized: false,
                }));
            }
            // Read into spare capacity (no zero-filling a piece's worth of memory first), until
            // the piece is full or the input ends.
            let want = self
                .limits
                .piece
                .saturating_sub(buffer.len())
                .max((1 << 20).min(self.limits.max_line + 1));
            buffer.reserve(want);
            let n = (&mut *self.reader)
                .take(want as u64)
                .read_to_end(&mut buffer)?;
            if n < want {
                self.eof = true;
            }
        }
    }

    /// Reads and drops bytes up to and including the next line end.
    fn skip_line(&mut self) -> std::io::Result<()> {
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = match self.reader.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                return Ok(());
            }
            if let Some(end) = memchr::memchr(b'\n', &chunk[..n]) {
                self.carry.extend_from_slice(&chunk[end + 1..n]);
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::receive::LIMITS;

    #[test]
    fn pieces_end_at_line_ends_whatever_the_reads_return() {
        /// Returns at most 3 bytes per read, like a slow pipe.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"a\nbb\nccc\ndddd\nno newline";
        let mut source = Trickle(text);
        let mut reader = PieceReader::new(&mut source, LIMITS);
        let mut joined = Vec::new();
        while let Some(piece) = reader.next_piece().unwrap() {
            assert!(!piece.oversized);
            joined.extend_from_slice(&piece.bytes);
        }
        assert_eq!(joined, text);
        let (parsed, lines) = parse_piece(text, false);
        assert_eq!(lines, 5);
        assert_eq!(parsed.len(), 5, "every line is malformed here");
    }
}
