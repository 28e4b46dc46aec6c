/*!
What the ledger says about edits in a repository, read the way the git hooks need it.

`edit` records are found through `git_edit_index` (`schema/git-index.sql`): repository root and
relative path → seq. The index lives in a file of its own beside the ledger
(`<ledger>.git-index`, attached as `gitidx`), so the Claude Code hooks neither write nor parse
it. It is derived from the chain by these commands only, in one incremental pass over the
records appended since the last one (through the `(kind, seq)` index). A ledger that cannot be
written (a copy on a read-only disk in CI) gets the same index as a TEMP table. Every record
used for attribution is re-hashed against its stored hash before it is believed.
*/

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

use crate::ledger::frame::{Frame, Hash, LedgerId, from_hex};
use crate::ledger::record::{Edit, Hunk, Prompt, Stop};
use crate::ledger::{Kind, Ledger, LedgerError};

/// Edit records further back than this for one path are not replayed when no record starts
/// from the committed content (the chain of content hashes is broken anyway).
const FALLBACK_WINDOW: usize = 200;

/// Where an edit landed and the file hashes around it: one `git_edit_index` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEdit {
    pub seq: u64,
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ts_ns: i64,
}

/// One line of a recorded hunk. Keys are the BLAKE3 of the line's text without its line
/// ending (and without a trailing CR), so CRLF files and digested hunks compare alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(LineKey),
    Removed(LineKey),
    Added(LineKey, Option<Box<[u8]>>),
    /// `\ No newline at end of file`: the line before it has no line ending.
    NoNewline,
}

pub type LineKey = [u8; 32];

pub fn line_key(text: &[u8]) -> LineKey {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    *blake3::hash(text).as_bytes()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditHunk {
    pub old_start: usize,
    pub old_lines: usize,
    pub lines: Vec<HunkLine>,
}

/// An accepted edit as attribution uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct EditRecord {
    pub seq: u64,
    pub hash: Hash,
    pub ts_ns: i64,
    pub path: String,
    pub session_id: Option<String>,
    pub prompt_id: Option<String>,
    pub tool: Option<String>,
    pub tool_use_id: Option<String>,
    pub agent_type: Option<String>,
    pub model: Option<String>,
    /// `transcript-tool-use`, …, or `stop-attestation` when the end-of-turn record named it.
    pub model_source: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub create: bool,
    pub hunks: Vec<EditHunk>,
}

impl EditRecord {
    /// Keys of the lines this edit added.
    pub fn added_keys(&self) -> impl Iterator<Item = &LineKey> {
        self.hunks.iter().flat_map(|h| {
            h.lines.iter().filter_map(|l| match l {
                HunkLine::Added(key, _) => Some(key),
                _ => None,
            })
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EditsError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("record {0} does not match its stored hash: the ledger was edited")]
    Tampered(u64),
}

/// The ledger opened for provenance lookups.
pub struct EditLedger {
    ledger: Ledger,
    ledger_id: LedgerId,
}

#[derive(Deserialize)]
struct IndexFields<'a> {
    #[serde(borrow)]
    repository: Option<RepositoryFields<'a>>,
    before_blake3: Option<&'a str>,
    after_blake3: Option<&'a str>,
}

#[derive(Deserialize)]
struct RepositoryFields<'a> {
    root: std::borrow::Cow<'a, str>,
    relative_path: std::borrow::Cow<'a, str>,
}

/// A seq as the index stores it (an SQLite integer; seqs never reach i64::MAX).
fn index_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn canonical_root(root: &str) -> String {
    std::fs::canonicalize(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| root.to_owned())
}

impl EditLedger {
    /// Opens an existing ledger (never creates one) and brings the edit index up to date.
    /// Writable when possible, so the index persists; read-only (the index then lives in TEMP
    /// tables for this process) when the file cannot be written or another process holds the
    /// write lock.
    pub fn open(path: &Path) -> Result<EditLedger, EditsError> {
        if !path.exists() {
            return Err(LedgerError::Missing(path.to_owned()).into());
        }
        let writable = std::fs::OpenOptions::new().write(true).open(path).is_ok();
        if writable {
            let options = crate::ledger::OpenOptions {
                busy_timeout: std::time::Duration::from_millis(1000),
                ..Default::default()
            };
            if let Ok(ledger) = Ledger::open(path, &options) {
                let ledger_id = *ledger.ledger_id();
                attach_index(&ledger, true)?;
                let mut this = EditLedger { ledger, ledger_id };
                match this.refresh_index() {
                    Ok(()) => return Ok(this),
                    Err(EditsError::Sqlite(e)) if is_busy(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let ledger = Ledger::open_read_only(path)?;
        let ledger_id = *ledger.ledger_id();
        attach_index(&ledger, false)?;
        let mut this = EditLedger { ledger, ledger_id };
        this.refresh_index()?;
        Ok(this)
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    pub fn ledger_id(&self) -> &LedgerId {
        &self.ledger_id
    }

    fn conn(&self) -> &Connection {
        self.ledger.connection()
    }

    fn has_persistent_index(&self) -> Result<bool, EditsError> {
        let attached: bool = self.conn().query_row(
            "SELECT count(*) = 1 FROM pragma_database_list WHERE name = 'gitidx'",
            [],
            |r| r.get(0),
        )?;
        Ok(attached
            && self.conn().query_row(
                "SELECT count(*) = 2 FROM gitidx.sqlite_schema WHERE type = 'table'
                 AND name IN ('git_edit_index', 'git_state')",
                [],
                |r| r.get(0),
            )?)
    }

    /// Indexes the `edit` records appended since the last pass.
    fn refresh_index(&mut self) -> Result<(), EditsError> {
        let persistent = self.has_persistent_index()? && !self.conn().is_readonly("gitidx")?;
        let conn = self.ledger.connection();
        if !persistent {
            conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS git_edit_index (
                     seq INTEGER PRIMARY KEY, root TEXT NOT NULL, path TEXT NOT NULL,
                     before_blake3 TEXT, after_blake3 TEXT, ts_ns INTEGER NOT NULL);
                 CREATE INDEX IF NOT EXISTS temp.git_edit_index_by_path
                     ON git_edit_index (root, path, seq);
                 CREATE INDEX IF NOT EXISTS temp.git_edit_index_by_after
                     ON git_edit_index (root, after_blake3);
                 CREATE TEMP TABLE IF NOT EXISTS git_state (
                     singleton INTEGER PRIMARY KEY, indexed_through INTEGER NOT NULL,
                     verified_seq INTEGER, verified_hash BLOB, updated_ns INTEGER NOT NULL);",
            )?;
            if self.has_persistent_index()? {
                // Start from what an earlier writable pass indexed.
                conn.execute_batch(
                    "INSERT OR IGNORE INTO temp.git_edit_index
                         SELECT seq, root, path, before_blake3, after_blake3, ts_ns
                         FROM gitidx.git_edit_index;
                     INSERT OR IGNORE INTO temp.git_state
                         SELECT singleton, indexed_through, verified_seq, verified_hash, updated_ns
                         FROM gitidx.git_state;",
                )?;
            }
        }
        let tx = conn.unchecked_transaction()?;
        let through: i64 = tx
            .query_row(
                "SELECT indexed_through FROM git_state WHERE singleton = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let mut newest = through;
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO git_edit_index
                 (seq, root, path, before_blake3, after_blake3, ts_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut roots: std::collections::HashMap<String, String> = Default::default();
            let after = u64::try_from(through).unwrap_or(0);
            self.ledger
                .for_each_of_kind_after(Kind::Edit, after, |record| {
                    let seq = index_seq(record.seq);
                    newest = newest.max(seq);
                    let Ok(fields) = serde_json::from_slice::<IndexFields<'_>>(record.payload)
                    else {
                        return Ok(());
                    };
                    let Some(repository) = fields.repository else {
                        return Ok(());
                    };
                    let root = roots
                        .entry(repository.root.to_string())
                        .or_insert_with(|| canonical_root(&repository.root))
                        .clone();
                    insert.execute(params![
                        seq,
                        root,
                        repository.relative_path.as_ref(),
                        fields.before_blake3,
                        fields.after_blake3,
                        record.ts_ns
                    ])?;
                    Ok::<_, EditsError>(())
                })?;
        }
        // A head whose hash cannot be read still has a seq; the chain check reports the rest.
        let head = self
            .ledger
            .head()
            .map_or_else(|_| newest, |(seq, _)| index_seq(seq));
        newest = newest.max(head);
        tx.execute(
            "INSERT INTO git_state (singleton, indexed_through, updated_ns) VALUES (1, ?1, ?2)
             ON CONFLICT (singleton) DO UPDATE SET indexed_through = excluded.indexed_through,
             updated_ns = excluded.updated_ns",
            params![newest, crate::ledger::now_ns()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Edits recorded for `path` in the repository at `root`, oldest first, up to `through`.
    pub fn edits_for_path(
        &self,
        root: &str,
        path: &str,
        through: u64,
    ) -> Result<Vec<IndexedEdit>, EditsError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, path, before_blake3, after_blake3, ts_ns FROM git_edit_index
             WHERE root = ?1 AND path = ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![root, path, index_seq(through)], indexed_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest edit in the repository whose result had exactly this content.
    pub fn edit_with_after(
        &self,
        root: &str,
        after: &[String],
        through: u64,
    ) -> Result<Option<IndexedEdit>, EditsError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, path, before_blake3, after_blake3, ts_ns FROM git_edit_index
             WHERE root = ?1 AND after_blake3 = ?2 AND seq <= ?3 ORDER BY seq DESC LIMIT 1",
        )?;
        let mut best: Option<IndexedEdit> = None;
        for hash in after {
            if let Some(found) = stmt
                .query_row(params![root, hash, index_seq(through)], indexed_from_row)
                .optional()?
                && best.as_ref().is_none_or(|b| b.seq < found.seq)
            {
                best = Some(found);
            }
        }
        Ok(best)
    }

    /// Whether the repository has any indexed edit at all (cheap: one index probe).
    pub fn repository_has_edits(&self, root: &str) -> Result<bool, EditsError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM git_edit_index WHERE root = ?1 LIMIT 1")?
            .exists([root])?)
    }

    /// Loads one edit record in full, after checking its stored hash.
    pub fn load_edit(&self, seq: u64) -> Result<Option<EditRecord>, EditsError> {
        let Some(record) = self.ledger.record(seq)? else {
            return Ok(None);
        };
        let computed = Frame {
            ledger_id: &self.ledger_id,
            seq: record.seq,
            ts_ns: record.ts_ns,
            prev_hash: &record.prev_hash,
            kind: &record.kind,
            payload: &record.payload,
        }
        .hash()
        .map_err(LedgerError::from)?;
        if computed != record.hash || record.kind() != Some(Kind::Edit) {
            return Err(EditsError::Tampered(seq));
        }
        let Some(payload) = record.view::<Edit>() else {
            return Ok(None);
        };
        let digested = payload.digested();
        let hunks = payload
            .hunks
            .iter()
            .map(|h| parse_hunk(h, digested))
            .collect();
        let mut edit = EditRecord {
            seq,
            hash: record.hash,
            ts_ns: record.ts_ns,
            path: payload
                .repository
                .map(|r| r.relative_path)
                .unwrap_or_default(),
            session_id: payload.common.session_id,
            prompt_id: payload.common.prompt_id,
            tool: payload.tool,
            tool_use_id: payload.tool_use_id,
            agent_type: payload.common.agent.and_then(|a| a.agent_type),
            model: payload.model.model,
            model_source: payload.model.model_source,
            before: payload.before_blake3,
            after: payload.after_blake3,
            create: payload.change == "create",
            hunks,
        };
        if let Some(tool_use_id) = edit.tool_use_id.clone()
            && let Some(model) = self.attested_model(seq, &tool_use_id)?
        {
            edit.model = Some(model);
            edit.model_source = Some("stop-attestation".into());
        }
        Ok(Some(edit))
    }

    /// The model the end-of-turn record (`stop` / `subagent-stop`) names for a tool call: the
    /// authority, preferred over the edit record's own best guess.
    fn attested_model(
        &self,
        after_seq: u64,
        tool_use_id: &str,
    ) -> Result<Option<String>, EditsError> {
        let stop: Option<Stop> = self
            .ledger
            .first_mentioning(&[Kind::Stop, Kind::SubagentStop], after_seq, tool_use_id)?
            .and_then(|r| r.view());
        Ok(stop
            .and_then(|s| s.tool_models)
            .into_iter()
            .flatten()
            .find(|m| m.tool_use_id.as_deref() == Some(tool_use_id))
            .and_then(|m| m.model))
    }

    /// The prompt text (or its redacted form) of a prompt id, newest record before `seq`.
    pub fn prompt_text(
        &self,
        prompt_id: &str,
        before_seq: u64,
    ) -> Result<Option<String>, EditsError> {
        Ok(self
            .ledger
            .last_mentioning(&[Kind::Prompt], before_seq, prompt_id)?
            .and_then(|r| r.view::<Prompt>())
            .and_then(|p| p.prompt))
    }

    /// The last record a chain check found intact, if any.
    pub fn verified_through(&self) -> Result<Option<(u64, Hash)>, EditsError> {
        let row: Option<(Option<i64>, Option<Vec<u8>>)> = self
            .conn()
            .query_row(
                "SELECT verified_seq, verified_hash FROM git_state WHERE singleton = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((Some(seq), Some(hash))) => hash
                .try_into()
                .ok()
                .map(|h: Hash| (u64::try_from(seq).unwrap_or(0), h)),
            _ => None,
        })
    }

    pub fn set_verified_through(&self, seq: u64, hash: &Hash) -> Result<(), EditsError> {
        self.conn().execute(
            "UPDATE git_state SET verified_seq = ?1, verified_hash = ?2, updated_ns = ?3
             WHERE singleton = 1",
            params![index_seq(seq), &hash[..], crate::ledger::now_ns()],
        )?;
        Ok(())
    }
}

/// The git index file of the ledger at `ledger_path`.
pub fn index_path(ledger_path: &Path) -> std::path::PathBuf {
    let mut name = ledger_path.as_os_str().to_owned();
    name.push(".git-index");
    std::path::PathBuf::from(name)
}

/// Attaches the ledger's git index file as `gitidx`: created with its tables when `writable`,
/// else attached (read-only) only if it exists. Without it the index lives in TEMP tables.
fn attach_index(ledger: &Ledger, writable: bool) -> Result<(), EditsError> {
    let path = index_path(ledger.path());
    if !writable && !path.exists() {
        return Ok(());
    }
    let conn = ledger.connection();
    let attached = conn
        .execute(
            "ATTACH DATABASE ?1 AS gitidx",
            [path.to_string_lossy().as_ref()],
        )
        .is_ok();
    if attached && writable {
        crate::ledger::restrict_file_mode(&path);
        if conn
            .execute_batch(include_str!("../../schema/git-index.sql"))
            .is_err()
        {
            // A read-only directory or a damaged file: fall back to TEMP tables.
            let _ = conn.execute_batch("DETACH DATABASE gitidx");
        }
    }
    Ok(())
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn indexed_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<IndexedEdit> {
    Ok(IndexedEdit {
        seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        path: row.get(1)?,
        before: row.get(2)?,
        after: row.get(3)?,
        ts_ns: row.get(4)?,
    })
}

fn parse_hunk(hunk: &Hunk, digested: bool) -> EditHunk {
    let number = |n: u64| usize::try_from(n).unwrap_or(0);
    EditHunk {
        old_start: number(hunk.old_start),
        old_lines: number(hunk.old_lines),
        lines: hunk
            .lines
            .iter()
            .filter_map(|line| parse_line(line, digested))
            .collect(),
    }
}

fn parse_line(line: &str, digested: bool) -> Option<HunkLine> {
    let mut chars = line.chars();
    let prefix = chars.next()?;
    let rest = chars.as_str();
    if prefix == '\\' {
        return Some(HunkLine::NoNewline);
    }
    let key = if digested {
        from_hex::<32>(rest)?
    } else {
        line_key(rest.as_bytes())
    };
    let text = (!digested).then(|| rest.as_bytes().into());
    match prefix {
        ' ' => Some(HunkLine::Context(key)),
        '-' => Some(HunkLine::Removed(key)),
        '+' => Some(HunkLine::Added(key, text)),
        _ => None,
    }
}

/// Which of `edits` (one path, oldest first) a replay from `base` should apply: from the newest
/// edit that started from the base content (or created the file) through the newest one that
/// produced the target content. `true` when such a starting edit exists.
pub fn replay_window(
    edits: &[IndexedEdit],
    base_hashes: Option<&[String]>,
    target_hashes: &[String],
) -> (std::ops::Range<usize>, bool) {
    let starts_from_base = |e: &IndexedEdit| match (base_hashes, &e.before) {
        (None, None) => true,
        (Some(hashes), Some(before)) => hashes.contains(before),
        _ => false,
    };
    let start = edits.iter().rposition(starts_from_base);
    let (start, synced) = match start {
        Some(i) => (i, true),
        None => (edits.len().saturating_sub(FALLBACK_WINDOW), false),
    };
    let end = edits[start..]
        .iter()
        .rposition(|e| e.after.as_ref().is_some_and(|a| target_hashes.contains(a)))
        .map_or(edits.len(), |i| start + i + 1);
    (start..end, synced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(seq: u64, before: Option<&str>, after: &str) -> IndexedEdit {
        IndexedEdit {
            seq,
            path: "f".into(),
            before: before.map(str::to_owned),
            after: Some(after.to_owned()),
            ts_ns: 0,
        }
    }

    #[test]
    fn the_window_starts_at_the_last_edit_from_the_base_and_ends_at_the_target() {
        let edits = [
            edit(1, Some("B"), "X"),
            edit(2, Some("X"), "B"),
            edit(3, Some("B"), "Y"),
            edit(4, Some("Y"), "Z"),
            edit(5, Some("Z"), "W"),
        ];
        let b = ["B".to_owned()];
        assert_eq!(replay_window(&edits, Some(&b), &["Z".into()]), (2..4, true));
        assert_eq!(replay_window(&edits, Some(&b), &["Q".into()]), (2..5, true));
        assert_eq!(
            replay_window(&edits, Some(&["none".into()]), &[]),
            (0..5, false)
        );
        let created = [edit(7, None, "A"), edit(8, Some("A"), "C")];
        assert_eq!(replay_window(&created, None, &["C".into()]), (0..2, true));
    }

    #[test]
    fn hunk_lines_in_text_and_digest_form_share_keys() {
        let text = parse_line("+let x = 1;\r", false).unwrap();
        let digest =
            parse_line(&format!("+{}", blake3::hash(b"let x = 1;").to_hex()), true).unwrap();
        match (text, digest) {
            (HunkLine::Added(a, Some(_)), HunkLine::Added(b, None)) => assert_eq!(a, b),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_line("\\ No newline at end of file", false),
            Some(HunkLine::NoNewline)
        );
    }
}
