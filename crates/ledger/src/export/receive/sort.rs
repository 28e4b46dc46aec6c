//! Sorting compact items by (ledger, seq) with bounded memory: sorted runs spilled to an
//! anonymous temporary file and merged back.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;

use super::{MERGE_FAN_IN, RUN_BUFFER_BYTES, Role};
use crate::frame::{Hash, ZERO_HASH};

/// One verified (or rejected) line, reduced to what the checks need.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) ledger: u32,
    /// Arrival order within a sort buffer: ties in (ledger, seq) keep it.
    pub(super) order: u32,
    pub(super) seq: u64,
    pub(super) hash: Hash,
    pub(super) prev: Hash,
    pub(super) kind: Role,
    pub(super) payload: Option<Box<[u8]>>,
}

impl Item {
    fn key(&self) -> (u32, u64) {
        (self.ledger, self.seq)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        out.extend_from_slice(&self.ledger.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        if self.kind != Role::Rejected {
            out.extend_from_slice(&self.hash);
            out.extend_from_slice(&self.prev);
        }
        if self.kind.keeps_payload() {
            let payload = self.payload.as_deref().unwrap_or(&[]);
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&payload[..len as usize]);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    offset: u64,
    len: u64,
    /// How many buffers' worth it holds, as a power of [`MERGE_FAN_IN`].
    level: u32,
}

#[derive(Debug)]
pub(super) struct Sorter {
    buffer: Vec<Item>,
    buffered_bytes: usize,
    limit_bytes: usize,
    spill: Option<Spill>,
    runs: Vec<Run>,
    sealed: bool,
}

impl Sorter {
    pub(super) fn new(limit_bytes: usize) -> Sorter {
        Sorter {
            buffer: Vec::new(),
            buffered_bytes: 0,
            limit_bytes,
            spill: None,
            runs: Vec::new(),
            sealed: false,
        }
    }

    pub(super) fn push(&mut self, mut item: Item) -> std::io::Result<()> {
        if self.buffer.capacity() == 0 {
            self.buffer
                .reserve_exact(self.limit_bytes / std::mem::size_of::<Item>() + 1);
        }
        item.order = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
        self.buffered_bytes +=
            std::mem::size_of::<Item>() + item.payload.as_ref().map_or(0, |p| p.len());
        self.buffer.push(item);
        if self.buffered_bytes >= self.limit_bytes || self.buffer.len() >= u32::MAX as usize {
            self.spill_buffer()?;
        }
        Ok(())
    }

    fn sort_buffer(&mut self) {
        self.buffer
            .sort_unstable_by_key(|item| (item.ledger, item.seq, item.order));
    }

    /// Sorts the buffer and writes it as a run, then merges runs while [`MERGE_FAN_IN`] of one
    /// level sit at the end.
    fn spill_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.sort_buffer();
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => self.spill.insert(Spill::create()?),
        };
        let mut writer = spill.writer();
        for item in self.buffer.drain(..) {
            writer.push(&item)?;
        }
        let (offset, len) = writer.finish()?;
        self.buffered_bytes = 0;
        self.runs.push(Run {
            offset,
            len,
            level: 0,
        });
        while let Some(last) = self.runs.last().copied() {
            let same = self
                .runs
                .iter()
                .rev()
                .take_while(|r| r.level == last.level)
                .count();
            if same < MERGE_FAN_IN {
                break;
            }
            let from = self.runs.len() - same;
            let merged = self.merge_runs(from)?;
            self.runs.truncate(from);
            self.runs.push(Run {
                level: last.level + 1,
                ..merged
            });
        }
        Ok(())
    }

    /// Merges `runs[from..]` into one new run at the end of the spill file.
    fn merge_runs(&mut self, from: usize) -> std::io::Result<Run> {
        let Some(spill) = &self.spill else {
            return Err(std::io::Error::other("no spill file"));
        };
        let mut merged = Merged::from_runs(spill, &self.runs[from..])?;
        let mut writer = spill.writer();
        while let Some(item) = merged.next_item()? {
            writer.push(&item)?;
        }
        let (offset, len) = writer.finish()?;
        Ok(Run {
            offset,
            len,
            level: 0,
        })
    }

    /// Ends input: what is buffered is sorted in memory, or spilled when runs exist already.
    pub(super) fn seal(&mut self) -> std::io::Result<()> {
        if self.sealed {
            return Ok(());
        }
        self.sealed = true;
        if self.runs.is_empty() {
            self.sort_buffer();
            Ok(())
        } else {
            self.spill_buffer()
        }
    }

    /// Every item in (ledger, seq) order, ties in arrival order. Can be called more than once.
    pub(super) fn merged(&self) -> std::io::Result<Merged<'_>> {
        match &self.spill {
            Some(spill) if !self.runs.is_empty() => Merged::from_runs(spill, &self.runs),
            _ => Ok(Merged::Memory(self.buffer.iter())),
        }
    }
}

pub(super) enum Merged<'a> {
    Memory(std::slice::Iter<'a, Item>),
    Runs {
        readers: Vec<RunReader<'a>>,
        heads: Vec<Option<Item>>,
        heap: BinaryHeap<Reverse<(u32, u64, usize)>>,
        /// The run items are taken from while they come before every other run's head: runs
        /// of input that arrived in order are read straight through, without the heap.
        current: Option<usize>,
    },
}

impl<'a> Merged<'a> {
    fn from_runs(spill: &'a Spill, runs: &[Run]) -> std::io::Result<Merged<'a>> {
        let mut readers: Vec<RunReader<'a>> = runs.iter().map(|r| spill.reader(*r)).collect();
        let mut heads = Vec::with_capacity(readers.len());
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            let head = reader.next_item()?;
            if let Some(item) = &head {
                let (ledger, seq) = item.key();
                heap.push(Reverse((ledger, seq, i)));
            }
            heads.push(head);
        }
        Ok(Merged::Runs {
            readers,
            heads,
            heap,
            current: None,
        })
    }

    pub(super) fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        match self {
            Merged::Memory(items) => Ok(items.next().cloned()),
            Merged::Runs {
                readers,
                heads,
                heap,
                current,
            } => {
                let run = match current.take() {
                    Some(run) => run,
                    None => match heap.pop() {
                        Some(Reverse((_, _, run))) => run,
                        None => return Ok(None),
                    },
                };
                let (Some(slot), Some(reader)) = (heads.get_mut(run), readers.get_mut(run)) else {
                    return Ok(None);
                };
                let item = slot.take();
                *slot = reader.next_item()?;
                if let Some(next) = slot.as_ref() {
                    let (ledger, seq) = next.key();
                    // Ties go to the earlier run: arrival order.
                    let first = heap
                        .peek()
                        .is_none_or(|Reverse(other)| (ledger, seq, run) < *other);
                    if first {
                        *current = Some(run);
                    } else {
                        heap.push(Reverse((ledger, seq, run)));
                    }
                }
                Ok(item)
            }
        }
    }
}

/// The anonymous temporary file sorted runs are spilled to: removed from its directory as soon
/// as it is open (Unix), or when dropped.
#[derive(Debug)]
pub(super) struct Spill {
    file: std::fs::File,
    end: std::sync::atomic::AtomicU64,
    path: Option<PathBuf>,
}

impl Spill {
    fn create() -> std::io::Result<Spill> {
        let dir = std::env::temp_dir();
        let mut last = None;
        for attempt in 0..16 {
            let path = dir.join(format!(
                ".hookledger-receive-{}-{}-{attempt}",
                std::process::id(),
                crate::now_ns()
            ));
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(file) => {
                    #[cfg(unix)]
                    let path = std::fs::remove_file(&path).err().map(|_| path);
                    #[cfg(not(unix))]
                    let path = Some(path);
                    return Ok(Spill {
                        file,
                        end: std::sync::atomic::AtomicU64::new(0),
                        path,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create a temporary file in {} to sort the records in: {e}",
                            dir.display()
                        ),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
    }

    fn writer(&self) -> RunWriter<'_> {
        let start = self.end.load(std::sync::atomic::Ordering::Relaxed);
        RunWriter {
            spill: self,
            start,
            at: start,
            buffer: Vec::with_capacity(RUN_BUFFER_BYTES * 2),
        }
    }

    fn reader(&self, run: Run) -> RunReader<'_> {
        RunReader {
            spill: self,
            at: run.offset,
            end: run.offset + run.len,
            buffer: Vec::new(),
            pos: 0,
            filled: 0,
        }
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub(super) struct RunWriter<'a> {
    spill: &'a Spill,
    start: u64,
    at: u64,
    buffer: Vec<u8>,
}

impl RunWriter<'_> {
    pub(super) fn push(&mut self, item: &Item) -> std::io::Result<()> {
        item.encode(&mut self.buffer);
        if self.buffer.len() >= RUN_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        write_at(&self.spill.file, &self.buffer, self.at)?;
        self.at += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// The run's offset and length.
    fn finish(mut self) -> std::io::Result<(u64, u64)> {
        self.flush()?;
        self.spill
            .end
            .store(self.at, std::sync::atomic::Ordering::Relaxed);
        Ok((self.start, self.at - self.start))
    }
}

pub(super) struct RunReader<'a> {
    spill: &'a Spill,
    /// File offset of the first byte not yet in `buffer`.
    at: u64,
    end: u64,
    /// Only `buffer[pos..filled]` is unread; the buffer keeps its length, so refilling it never
    /// zeroes memory.
    buffer: Vec<u8>,
    pos: usize,
    filled: usize,
}

impl RunReader<'_> {
    /// `n` more bytes of the run, or `None` at its end.
    fn take(&mut self, n: usize) -> std::io::Result<Option<&[u8]>> {
        if self.filled - self.pos < n {
            let left = self.filled - self.pos;
            self.buffer.copy_within(self.pos..self.filled, 0);
            self.pos = 0;
            self.filled = left;
            let want = (self.end - self.at).min(RUN_BUFFER_BYTES.max(n) as u64) as usize;
            if left + want < n {
                return if left == 0 && want == 0 {
                    Ok(None)
                } else {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "a sorted run of the temporary file ends early",
                    ))
                };
            }
            if self.buffer.len() < left + want {
                self.buffer.resize(left + want, 0);
            }
            read_at(
                &self.spill.file,
                &mut self.buffer[left..left + want],
                self.at,
            )?;
            self.at += want as u64;
            self.filled = left + want;
        }
        let bytes = &self.buffer[self.pos..self.pos + n];
        self.pos += n;
        Ok(Some(bytes))
    }

    pub(super) fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        let Some(head) = self.take(13)? else {
            return Ok(None);
        };
        let corrupt = || std::io::Error::other("a sorted run of the temporary file is corrupt");
        let kind = Role::from_byte(head[0]).ok_or_else(corrupt)?;
        let ledger = u32::from_le_bytes(head[1..5].try_into().map_err(|_| corrupt())?);
        let seq = u64::from_le_bytes(head[5..13].try_into().map_err(|_| corrupt())?);
        let (mut hash, mut prev) = (ZERO_HASH, ZERO_HASH);
        if kind != Role::Rejected {
            let bytes = self.take(64)?.ok_or_else(corrupt)?;
            hash.copy_from_slice(&bytes[..32]);
            prev.copy_from_slice(&bytes[32..]);
        }
        let payload = if kind.keeps_payload() {
            let len = self.take(4)?.ok_or_else(corrupt)?;
            let len = u32::from_le_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
            Some(Box::from(self.take(len)?.ok_or_else(corrupt)?))
        } else {
            None
        };
        Ok(Some(Item {
            ledger,
            order: 0,
            seq,
            hash,
            prev,
            kind,
            payload,
        }))
    }
}

#[cfg(unix)]
pub(super) fn write_at(file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
pub(super) fn read_at(file: &std::fs::File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(windows)]
pub(super) fn write_at(
    file: &std::fs::File,
    mut bytes: &[u8],
    mut offset: u64,
) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, bytes, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
pub(super) fn read_at(
    file: &std::fs::File,
    mut bytes: &mut [u8],
    mut offset: u64,
) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, bytes, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes = &mut bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::receive::SORT_BUFFER_BYTES;

    fn item(ledger: u32, seq: u64, tag: u8) -> Item {
        Item {
            ledger,
            order: 0,
            seq,
            hash: [tag; 32],
            prev: [tag.wrapping_add(1); 32],
            kind: if tag.is_multiple_of(7) {
                Role::Checkpoint
            } else {
                Role::Other
            },
            payload: (tag.is_multiple_of(7)).then(|| vec![tag; usize::from(tag)].into()),
        }
    }

    /// With a tiny sort buffer, items go through many spilled runs and multi-level merges and
    /// still come back in (ledger, seq) order, ties in arrival order, payloads intact.
    #[test]
    fn spilled_runs_merge_back_in_order() {
        let mut sorter = Sorter::new(std::mem::size_of::<Item>() * 3);
        let mut expected = Vec::new();
        for i in 0..2000u64 {
            let ledger = (i % 3) as u32;
            let seq = (i * 7919) % 500;
            let tag = (i % 251) as u8;
            expected.push((ledger, seq, i, tag));
            sorter.push(item(ledger, seq, tag)).unwrap();
        }
        sorter.seal().unwrap();
        assert!(
            sorter.runs.len() < 2 * MERGE_FAN_IN,
            "runs are merged: {}",
            sorter.runs.len()
        );
        expected.sort_by_key(|(l, s, i, _)| (*l, *s, *i));
        for _ in 0..2 {
            let mut merged = sorter.merged().unwrap();
            let mut got = Vec::new();
            while let Some(item) = merged.next_item().unwrap() {
                if item.kind == Role::Checkpoint {
                    assert_eq!(
                        item.payload.as_deref().unwrap(),
                        &vec![item.hash[0]; usize::from(item.hash[0])][..]
                    );
                }
                got.push((item.ledger, item.seq, item.hash[0]));
            }
            let want: Vec<_> = expected.iter().map(|(l, s, _, t)| (*l, *s, *t)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_small_input_stays_in_memory() {
        let mut sorter = Sorter::new(SORT_BUFFER_BYTES);
        for seq in [3, 1, 2] {
            sorter.push(item(0, seq, 1)).unwrap();
        }
        sorter.seal().unwrap();
        assert!(sorter.spill.is_none());
        let mut merged = sorter.merged().unwrap();
        let mut seqs = Vec::new();
        while let Some(item) = merged.next_item().unwrap() {
            seqs.push(item.seq);
        }
        assert_eq!(seqs, [1, 2, 3]);
    }
}
