/*!
Commit-time provenance: checking the ledger, attributing a change, the anchor, the note and
the `commit` record, and carrying notes across rewrites.
*/

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::attribute::{self, FileLines, content_hashes, is_binary, split_lines};
use super::edits::{EditLedger, EditRecord, EditsError, IndexedEdit, replay_window};
use super::note::{
    self, AGENT_TRACE_VERSION, Contributor, Conversation, HookledgerMeta, Metadata, NOTE_FORMAT,
    Note, NoteAnchor, NoteEdit, NoteFile, Related, Summary, Tool, TraceFile, TraceRange, Vcs,
};
use super::repo::{Change, GitError, Repo};
use crate::ledger::frame::{from_hex, to_hex};
use crate::ledger::spool;

pub const ANCHOR_TRAILER: &str = "AI-Ledger";
pub const MODEL_TRAILER: &str = "Assisted-by";
pub const LINES_TRAILER: &str = "AI-Lines";
pub const COMMIT_KIND: &str = crate::ledger::Kind::Commit.as_str();
/// Hex digits of the anchored record's hash kept in the trailer: 128 bits, so a rewritten
/// ledger cannot be made to match it.
pub const ANCHOR_HASH_HEX: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Edits(#[from] EditsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What the pre-commit check found about the ledger.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerState {
    pub path: PathBuf,
    pub present: bool,
    pub intact: bool,
    pub spool_pending: usize,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

impl LedgerState {
    pub fn valid(&self) -> bool {
        self.present && self.intact && self.spool_pending == 0
    }
}

/// Checks the ledger at `path` the way pre-commit does: merges spooled records if it can,
/// verifies the chain (incrementally after the first full check, after confirming that what
/// was verified before is unchanged), and opens it for lookups.
pub fn check_ledger(path: &Path) -> (LedgerState, Option<EditLedger>) {
    let mut state = LedgerState {
        path: path.to_owned(),
        ..LedgerState::default()
    };
    if !path.exists() {
        return (state, None);
    }
    state.present = true;
    let spool_path = spool::spool_path(path);
    if spool::status(&spool_path).is_ok_and(|s| s.pending > 0) {
        // Merging is what the next hook event would do; doing it here keeps a developer who
        // commits right after a locked moment from being refused.
        let options = crate::ledger::OpenOptions {
            busy_timeout: std::time::Duration::from_millis(1000),
            ..Default::default()
        };
        if let Ok(mut ledger) = crate::ledger::Ledger::open(path, &options) {
            let _ = ledger.append(&[]);
        }
    }
    match spool::status(&spool_path) {
        Ok(status) => state.spool_pending = status.pending,
        Err(e) => state.warnings.push(e.to_string()),
    }
    let ledger = match EditLedger::open(path) {
        Ok(ledger) => ledger,
        Err(e) => {
            state.problems.push(format!("cannot read the ledger: {e}"));
            return (state, None);
        }
    };
    let from = match ledger.verified_through() {
        Ok(Some((seq, hash))) => match ledger.ledger().record(seq) {
            Ok(Some(record)) if record.hash == hash => seq + 1,
            Ok(Some(_)) => {
                state.problems.push(format!(
                    "ledger-rewritten: record {seq} no longer has the hash it had when it was \
                     verified: the ledger's history was rewritten"
                ));
                return (state, Some(ledger));
            }
            _ => {
                state.problems.push(format!(
                    "ledger-truncated: record {seq} was verified before and is gone"
                ));
                return (state, Some(ledger));
            }
        },
        _ => 1,
    };
    match crate::ledger::verify::verify_from(path, from) {
        Ok(report) => {
            state.warnings.extend(report.warnings.iter().cloned());
            for problem in &report.problems {
                state
                    .problems
                    .push(format!("{}: {}", problem.code.as_str(), problem.message));
            }
            state.intact = report.intact;
            if report.intact
                && let Ok((seq, hash)) = ledger.ledger().head()
            {
                let _ = ledger.set_verified_through(seq, &hash);
            }
        }
        Err(e) => state
            .problems
            .push(format!("cannot verify the ledger: {e}")),
    }
    (state, Some(ledger))
}

/// The ledger record a commit is anchored to: the ledger's head when it was attributed.
pub fn anchor_of(ledger: &EditLedger) -> Option<NoteAnchor> {
    let (seq, hash) = ledger.ledger().head().ok()?;
    Some(NoteAnchor {
        ledger_id: to_hex(ledger.ledger_id()),
        seq,
        hash: to_hex(&hash),
    })
}

pub fn trailer_value(anchor: &NoteAnchor) -> String {
    format!(
        "{}@{}:{}",
        anchor.ledger_id,
        anchor.seq,
        &anchor.hash[..ANCHOR_HASH_HEX.min(anchor.hash.len())]
    )
}

/// An `AI-Ledger` trailer's value: ledger id, seq and hash prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailerAnchor {
    pub ledger_id: [u8; 16],
    pub seq: u64,
    pub hash_prefix: String,
}

pub fn parse_trailer(value: &str) -> Option<TrailerAnchor> {
    let (id, rest) = value.trim().split_once('@')?;
    let (seq, prefix) = rest.split_once(':')?;
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() < 16 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(TrailerAnchor {
        ledger_id: from_hex::<16>(id)?,
        seq: seq.parse().ok()?,
        hash_prefix: prefix,
    })
}

/// The attribution of a change (staged or committed).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Analysis {
    pub anchor: Option<NoteAnchor>,
    pub ledger: LedgerState,
    pub files: Vec<NoteFile>,
    pub trace: Vec<TraceFile>,
    pub edits: Vec<NoteEdit>,
    /// Changed paths with AI edits behind them, whether or not AI lines survived.
    pub touched: Vec<String>,
}

impl Analysis {
    pub fn summary(&self) -> Summary {
        let models: BTreeSet<String> = self.used_edits().filter_map(|e| e.model.clone()).collect();
        let sessions: BTreeSet<String> = self
            .used_edits()
            .filter_map(|e| e.session_id.clone())
            .collect();
        Summary {
            files: self.files.len(),
            ai_touched_files: self.touched.len(),
            ai_lines: self.files.iter().map(|f| f.ai_lines).sum(),
            added_lines: self.files.iter().map(|f| f.added_lines).sum(),
            removed_lines: self.files.iter().map(|f| f.removed_lines).sum(),
            human_changed_ai_lines: self.files.iter().map(|f| f.human_changed_ai_lines).sum(),
            models: models.into_iter().collect(),
            sessions: sessions.into_iter().collect(),
        }
    }

    /// Edits that wrote at least one committed line.
    pub fn used_edits(&self) -> impl Iterator<Item = &NoteEdit> {
        let used: BTreeSet<u64> = self
            .files
            .iter()
            .flat_map(|f| f.lines.iter().map(|l| l[2]))
            .collect();
        self.edits
            .iter()
            .enumerate()
            .filter(move |(i, _)| used.contains(&(*i as u64)))
            .map(|(_, e)| e)
    }

    pub fn ai_lines(&self) -> usize {
        self.files.iter().map(|f| f.ai_lines).sum()
    }

    pub fn has_ai_content(&self) -> bool {
        self.ai_lines() > 0 || self.files.iter().any(|f| f.ai_written)
    }

    /// The note for `revision`, or `None` when nothing AI-written was committed or there is no
    /// ledger to anchor to.
    pub fn note(
        &self,
        revision: &str,
        commit_time: i64,
        gate: &str,
        trailers: &str,
    ) -> Option<Note> {
        let anchor = self.anchor.clone()?;
        if !self.has_ai_content() {
            return None;
        }
        Some(Note {
            version: AGENT_TRACE_VERSION.into(),
            id: note::note_id(revision, &anchor),
            timestamp: note::timestamp(commit_time),
            vcs: Vcs {
                kind: "git".into(),
                revision: revision.to_owned(),
            },
            tool: Tool {
                name: "hookledger".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            files: self.trace.clone(),
            metadata: Metadata {
                hookledger: HookledgerMeta {
                    format: NOTE_FORMAT.into(),
                    anchor,
                    gate: gate.to_owned(),
                    trailers: trailers.to_owned(),
                    ledger_intact: self.ledger.intact,
                    rewrite: None,
                    rewritten_from: Vec::new(),
                    summary: self.summary(),
                    edits: self.edits.clone(),
                    files: self
                        .files
                        .iter()
                        .filter(|f| f.ai_lines > 0 || f.ai_written || f.human_changed_ai_lines > 0)
                        .cloned()
                        .collect(),
                },
            },
        })
    }
}

/// The repository root as the edit index stores it.
pub fn index_root(repo: &Repo) -> String {
    std::fs::canonicalize(&repo.root)
        .unwrap_or_else(|_| repo.root.clone())
        .display()
        .to_string()
}

/// Attributes `changes` (from [`Repo::staged_changes`] or [`Repo::commit_changes`]) using the
/// edits recorded up to `through`. `merged` names the other parent of a merge.
pub fn analyze(
    repo: &Repo,
    ledger: Option<&EditLedger>,
    through: u64,
    changes: &[Change],
    merged: Option<&str>,
) -> Result<Analysis, ProvenanceError> {
    let changes: Vec<&Change> = changes.iter().filter(|c| !c.submodule).collect();
    let mut names = Vec::with_capacity(changes.len() * 3);
    for change in &changes {
        names.push(change.old_blob.clone().unwrap_or_default());
        names.push(change.new_blob.clone().unwrap_or_default());
        names.push(match (merged, &change.new_path) {
            (Some(rev), Some(path)) => format!("{rev}:{path}"),
            _ => String::new(),
        });
    }
    let wanted: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    let fetched = repo.read_blobs(&wanted)?;
    let mut blobs: HashMap<&str, Option<Vec<u8>>> = HashMap::new();
    for (name, blob) in wanted.iter().zip(fetched) {
        blobs.insert(name.as_str(), blob);
    }
    let blob = |name: &str| -> Option<&[u8]> { blobs.get(name).and_then(|b| b.as_deref()) };
    let mut attributor = Attributor::new(repo, ledger, through)?;
    for (i, change) in changes.iter().enumerate() {
        let base = blob(&names[i * 3]);
        let target = blob(&names[i * 3 + 1]).unwrap_or_default();
        let merged_version = merged.map(|_| blob(&names[i * 3 + 2]));
        attributor.file(change, base, merged_version, target)?;
    }
    Ok(attributor.analysis)
}

/// Attributes one file given its contents directly (the working tree, for `blame`).
pub fn analyze_contents(
    repo: &Repo,
    ledger: Option<&EditLedger>,
    through: u64,
    change: &Change,
    base: Option<&[u8]>,
    target: &[u8],
) -> Result<Analysis, ProvenanceError> {
    let mut attributor = Attributor::new(repo, ledger, through)?;
    attributor.file(change, base, None, target)?;
    Ok(attributor.analysis)
}

/// Per-file attribution sharing the records it loads and the edit table it builds.
struct Attributor<'a> {
    ledger: Option<&'a EditLedger>,
    root: String,
    through: u64,
    has_edits: bool,
    analysis: Analysis,
    loaded: HashMap<u64, Option<EditRecord>>,
    global: HashMap<u64, usize>,
}

impl<'a> Attributor<'a> {
    fn new(
        repo: &Repo,
        ledger: Option<&'a EditLedger>,
        through: u64,
    ) -> Result<Self, ProvenanceError> {
        let root = index_root(repo);
        let has_edits = match ledger {
            Some(l) => l.repository_has_edits(&root)?,
            None => false,
        };
        Ok(Attributor {
            ledger,
            root,
            through,
            has_edits,
            analysis: Analysis::default(),
            loaded: HashMap::new(),
            global: HashMap::new(),
        })
    }

    fn file(
        &mut self,
        change: &Change,
        base: Option<&[u8]>,
        merged_version: Option<Option<&[u8]>>,
        target: &[u8],
    ) -> Result<(), ProvenanceError> {
        let ledger = self.ledger;
        let analysis = &mut self.analysis;
        let Some(new_path) = change.new_path.clone() else {
            let removed = base.map_or(0, |b| split_lines(b).len());
            analysis.files.push(file_entry(change, 0, removed));
            return Ok(());
        };
        let candidates = match (ledger, self.has_edits) {
            (Some(ledger), true) => {
                candidate_edits(ledger, &self.root, change, target, self.through)?
            }
            _ => Vec::new(),
        };
        let base_hashes = base.map(content_hashes);
        let target_hashes = content_hashes(target);
        let (window, synced) = replay_window(&candidates, base_hashes.as_deref(), &target_hashes);
        let window = &candidates[window];
        if !window.is_empty() {
            analysis.touched.push(new_path.clone());
        }
        if is_binary(target) || base.is_some_and(is_binary) {
            let mut entry = file_entry(change, 0, 0);
            entry.binary = true;
            if let Some(last) = window.last()
                && last
                    .after
                    .as_ref()
                    .is_some_and(|a| target_hashes.contains(a))
                && let Some(Some(edit)) = load(
                    ledger,
                    &mut self.loaded,
                    &mut analysis.ledger.problems,
                    last.seq,
                )?
            {
                entry.ai_written = true;
                let index = global_edit(&mut analysis.edits, &mut self.global, edit);
                entry.lines.push([0, 0, index as u64]);
            }
            analysis.files.push(entry);
            return Ok(());
        }
        let mut records: Vec<EditRecord> = Vec::with_capacity(window.len());
        for indexed in window {
            if let Some(Some(edit)) = load(
                ledger,
                &mut self.loaded,
                &mut analysis.ledger.problems,
                indexed.seq,
            )? {
                records.push(edit.clone());
            }
        }
        let refs: Vec<&EditRecord> = records.iter().collect();
        let lines = attribute::attribute(base, merged_version, target, &refs, synced);
        let mut entry = file_entry(change, lines.added_count(), lines.removed);
        entry.ai_lines = lines.ai_count();
        entry.human_changed_ai_lines = lines.human_changed;
        if !refs.is_empty() {
            entry.fidelity = Some(lines.fidelity);
        }
        let texts: Vec<&[u8]> = target.split(|b| *b == b'\n').collect();
        for (start, end, local) in runs(&lines) {
            let index = global_edit(&mut analysis.edits, &mut self.global, &records[local]);
            entry.lines.push([start as u64, end as u64, index as u64]);
        }
        if !entry.lines.is_empty() {
            analysis
                .trace
                .push(trace_file(&new_path, &entry.lines, &analysis.edits, &texts));
        }
        analysis.files.push(entry);
        Ok(())
    }
}

/// Loads an edit record once. A record that no longer matches its stored hash is not
/// believed: it is left out and reported as a ledger problem.
fn load<'a>(
    ledger: Option<&EditLedger>,
    loaded: &'a mut HashMap<u64, Option<EditRecord>>,
    problems: &mut Vec<String>,
    seq: u64,
) -> Result<Option<&'a Option<EditRecord>>, EditsError> {
    let Some(ledger) = ledger else {
        return Ok(None);
    };
    if let std::collections::hash_map::Entry::Vacant(slot) = loaded.entry(seq) {
        let edit = match ledger.load_edit(seq) {
            Ok(edit) => edit,
            Err(EditsError::Tampered(seq)) => {
                problems.push(format!(
                    "edited-record: record {seq} does not match its stored hash"
                ));
                None
            }
            Err(e) => return Err(e),
        };
        slot.insert(edit);
    }
    Ok(loaded.get(&seq))
}

fn file_entry(change: &Change, added: usize, removed: usize) -> NoteFile {
    NoteFile {
        path: change.path().to_owned(),
        old_path: match change.status {
            'R' | 'C' => change.old_path.clone(),
            _ => None,
        },
        added_lines: added,
        removed_lines: removed,
        ai_lines: 0,
        human_changed_ai_lines: 0,
        fidelity: None,
        binary: false,
        ai_written: false,
        lines: Vec::new(),
    }
}

/// The edits that may have written `change`'s new content: those recorded under its path (and
/// its old path for a rename), or, for a new file with none, under the path of the newest edit
/// that produced exactly this content (a file the AI wrote and a human moved).
fn candidate_edits(
    ledger: &EditLedger,
    root: &str,
    change: &Change,
    target: &[u8],
    through: u64,
) -> Result<Vec<IndexedEdit>, EditsError> {
    let Some(new_path) = &change.new_path else {
        return Ok(Vec::new());
    };
    let mut edits = ledger.edits_for_path(root, new_path, through)?;
    if let Some(old_path) = change.old_path.as_ref().filter(|old| *old != new_path) {
        edits.extend(ledger.edits_for_path(root, old_path, through)?);
        edits.sort_by_key(|e| e.seq);
    }
    if edits.is_empty()
        && change.status == 'A'
        && let Some(found) = ledger.edit_with_after(root, &content_hashes(target), through)?
    {
        edits = ledger.edits_for_path(root, &found.path, found.seq)?;
    }
    Ok(edits)
}

fn global_edit(
    edits: &mut Vec<NoteEdit>,
    global: &mut HashMap<u64, usize>,
    edit: &EditRecord,
) -> usize {
    *global.entry(edit.seq).or_insert_with(|| {
        edits.push(NoteEdit {
            seq: edit.seq,
            hash: to_hex(&edit.hash),
            session_id: edit.session_id.clone(),
            prompt_id: edit.prompt_id.clone(),
            model: edit.model.clone(),
            model_source: edit.model_source.clone(),
            tool: edit.tool.clone(),
            tool_use_id: edit.tool_use_id.clone(),
            agent_type: edit.agent_type.clone(),
        });
        edits.len() - 1
    })
}

/// Runs of added AI lines from one edit: `(start, end, edit)`, 1-based inclusive.
fn runs(lines: &FileLines) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (i, (added, origin)) in lines.added.iter().zip(&lines.origin).enumerate() {
        let (true, Some(edit)) = (*added, *origin) else {
            continue;
        };
        let line = i + 1;
        match out.last_mut() {
            Some((_, end, e)) if *end + 1 == line && *e == edit => *end = line,
            _ => out.push((line, line, edit)),
        }
    }
    out
}

/// The Agent Trace view of a file's AI lines: one conversation per session and model.
pub fn trace_file(
    path: &str,
    lines: &[[u64; 3]],
    edits: &[NoteEdit],
    texts: &[&[u8]],
) -> TraceFile {
    // Keyed by (session, model): one Agent Trace conversation each.
    type Key = (Option<String>, Option<String>);
    let mut conversations: Vec<(Key, Conversation)> = Vec::new();
    for [start, end, index] in lines {
        let Some(edit) = edits.get(*index as usize) else {
            continue;
        };
        let key = (edit.session_id.clone(), edit.model.clone());
        let position = match conversations.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                let mut related = Vec::new();
                if let Some(session) = &edit.session_id {
                    related.push(Related {
                        kind: "claude-code-session".into(),
                        url: format!("urn:uuid:{session}"),
                    });
                }
                conversations.push((
                    key,
                    Conversation {
                        contributor: Contributor {
                            kind: "ai".into(),
                            model_id: edit.model.as_deref().map(note::model_id),
                        },
                        ranges: Vec::new(),
                        related,
                    },
                ));
                conversations.len() - 1
            }
        };
        let conversation = &mut conversations[position].1;
        if let Some(prompt) = &edit.prompt_id {
            let url = format!("urn:uuid:{prompt}");
            if !conversation.related.iter().any(|r| r.url == url) {
                conversation.related.push(Related {
                    kind: "claude-code-prompt".into(),
                    url,
                });
            }
        }
        let (start, end) = (*start, *end);
        let merged = conversation
            .ranges
            .last()
            .filter(|r| r.end_line + 1 == start)
            .map(|r| r.start_line);
        let from = merged.unwrap_or(start);
        let range = TraceRange {
            start_line: from,
            end_line: end,
            content_hash: note::content_hash(
                texts
                    .iter()
                    .skip(from as usize - 1)
                    .take((end + 1 - from) as usize)
                    .copied(),
            ),
        };
        if merged.is_some() {
            conversation.ranges.pop();
        }
        conversation.ranges.push(range);
    }
    TraceFile {
        path: path.to_owned(),
        conversations: conversations.into_iter().map(|(_, c)| c).collect(),
    }
}

/// The `commit` record linking a commit to the ledger.
pub fn commit_record(
    repo: &Repo,
    sha: &str,
    parents: &[String],
    analysis: &Analysis,
    note_json: Option<&str>,
    gate: &str,
    rewritten_from: &[String],
) -> serde_json::Value {
    let summary = analysis.summary();
    json!({
        "repository": {"root": repo.root.display().to_string()},
        "branch": repo.try_text(&["symbolic-ref", "--quiet", "--short", "HEAD"]),
        "commit": sha,
        "parents": parents,
        "anchor": analysis.anchor,
        "gate": gate,
        "ai_lines": summary.ai_lines,
        "added_lines": summary.added_lines,
        "removed_lines": summary.removed_lines,
        "human_changed_ai_lines": summary.human_changed_ai_lines,
        "files": analysis.files.iter().map(|f| json!({"path": f.path, "added_lines": f.added_lines, "ai_lines": f.ai_lines})).collect::<Vec<_>>(),
        "models": summary.models,
        "sessions": summary.sessions,
        "edit_seqs": analysis.used_edits().map(|e| e.seq).collect::<Vec<_>>(),
        "note_blake3": note_json.map(|n| blake3::hash(n.as_bytes()).to_hex().to_string()),
        "rewritten_from": rewritten_from,
        "ledger_intact": analysis.ledger.intact,
    })
}

/// Appends a record to the ledger, or spools it when the ledger cannot take it now: a commit
/// is never lost from the record. A missing ledger is not created.
pub fn record(ledger_path: &Path, kind: &str, payload: &serde_json::Value) -> Result<(), String> {
    if !ledger_path.exists() {
        return Ok(());
    }
    let record = crate::ledger::NewRecord {
        ts_ns: crate::ledger::now_ns(),
        kind: kind.to_owned(),
        payload: crate::ledger::canonical_json(payload),
    };
    crate::ledger::record_or_spool(ledger_path, &crate::ledger::OpenOptions::default(), &record)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Rebuilds a note for `new_commit` from the notes of the commits it replaces (amend, rebase,
/// cherry-pick, squash): an AI line survives where the same text is still an added line of the
/// new commit, at the place a line diff of the two versions maps it to.
/// Puts `note`, carried from the commits `rewritten_from`, on `commit`, and returns the
/// `commit` record that says so (for [`record`]).
pub fn set_carried_note(
    repo: &Repo,
    commit: &super::repo::CommitInfo,
    note: &Note,
    rewritten_from: &[String],
) -> Result<serde_json::Value, ProvenanceError> {
    let json = note.to_json();
    repo.set_note(note::NOTES_REF, &commit.sha, json.as_bytes())?;
    let analysis = Analysis {
        anchor: Some(note.metadata.hookledger.anchor.clone()),
        ..Default::default()
    };
    Ok(commit_record(
        repo,
        &commit.sha,
        &commit.parents,
        &analysis,
        Some(&json),
        &note.metadata.hookledger.gate,
        rewritten_from,
    ))
}

pub fn carry_notes(
    repo: &Repo,
    sources: &[(String, Note)],
    new_commit: &super::repo::CommitInfo,
    rewrite: &str,
) -> Result<Option<Note>, ProvenanceError> {
    let Some((_, first)) = sources.first() else {
        return Ok(None);
    };
    let parent = new_commit.parents.first().map(String::as_str);
    let changes = repo.commit_changes(parent, &new_commit.sha)?;
    let mut names = Vec::new();
    for change in &changes {
        names.push(change.old_blob.clone().unwrap_or_default());
        names.push(change.new_blob.clone().unwrap_or_default());
    }
    for (sha, note) in sources {
        for file in &note.metadata.hookledger.files {
            names.push(format!("{sha}:{}", file.path));
        }
    }
    let wanted: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    let fetched = repo.read_blobs(&wanted)?;
    let blobs: HashMap<String, Option<Vec<u8>>> = wanted.into_iter().zip(fetched).collect();
    let blob = |name: &str| blobs.get(name).and_then(|b| b.as_deref());

    // Every carried edit precedes its own note's anchor, so the newest anchor (of the same
    // ledger) covers them all.
    let anchor = sources
        .iter()
        .map(|(_, n)| &n.metadata.hookledger.anchor)
        .filter(|a| a.ledger_id == first.metadata.hookledger.anchor.ledger_id)
        .max_by_key(|a| a.seq)
        .cloned();
    let mut analysis = Analysis {
        anchor,
        ledger: LedgerState {
            intact: sources
                .iter()
                .all(|(_, n)| n.metadata.hookledger.ledger_intact),
            ..LedgerState::default()
        },
        ..Analysis::default()
    };
    let mut global: HashMap<u64, usize> = HashMap::new();
    for change in &changes {
        let Some(path) = &change.new_path else {
            continue;
        };
        let base = change.old_blob.as_deref().and_then(&blob);
        let target = change
            .new_blob
            .as_deref()
            .and_then(&blob)
            .unwrap_or_default();
        let added = attribute::attribute(base, None, target, &[], true);
        let mut entry = file_entry(change, added.added_count(), added.removed);
        let mut origin: Vec<Option<usize>> = vec![None; added.keys.len()];
        for (sha, note) in sources {
            let meta = &note.metadata.hookledger;
            let Some(file) = meta
                .files
                .iter()
                .find(|f| f.path == *path || change.old_path.as_ref() == Some(&f.path))
            else {
                continue;
            };
            if file.binary {
                if file.ai_written && blob(&format!("{sha}:{}", file.path)) == Some(target) {
                    entry.binary = true;
                    entry.ai_written = true;
                    if let Some([_, _, e]) = file.lines.first()
                        && let Some(edit) = meta.edits.get(*e as usize)
                    {
                        let index = carried_edit(&mut analysis.edits, &mut global, edit);
                        entry.lines.push([0, 0, index as u64]);
                    }
                }
                continue;
            }
            let Some(old) = blob(&format!("{sha}:{}", file.path)) else {
                continue;
            };
            let old_keys: Vec<_> = split_lines(old).iter().map(|l| l.key).collect();
            let (new_unmatched, old_unmatched) = attribute::diff_lines(&old_keys, &added.keys);
            let mut old_to_new = vec![None; old_keys.len()];
            let (mut o, mut n) = (0, 0);
            while o < old_keys.len() && n < added.keys.len() {
                match (old_unmatched[o], new_unmatched[n]) {
                    (true, _) => o += 1,
                    (_, true) => n += 1,
                    _ => {
                        old_to_new[o] = Some(n);
                        o += 1;
                        n += 1;
                    }
                }
            }
            for [start, end, e] in &file.lines {
                let Some(edit) = meta.edits.get(*e as usize) else {
                    continue;
                };
                let index = carried_edit(&mut analysis.edits, &mut global, edit);
                for line in *start..=*end {
                    if let Some(Some(n)) = old_to_new.get((line as usize).wrapping_sub(1))
                        && added.added[*n]
                    {
                        origin[*n] = Some(index);
                    }
                }
            }
        }
        let carried = FileLines { origin, ..added };
        entry.ai_lines = carried.ai_count();
        for (start, end, index) in runs(&carried) {
            entry.lines.push([start as u64, end as u64, index as u64]);
        }
        if entry.ai_lines > 0 || entry.ai_written {
            analysis.touched.push(path.clone());
        }
        if !entry.lines.is_empty() && !entry.binary {
            let texts: Vec<&[u8]> = target.split(|b| *b == b'\n').collect();
            analysis
                .trace
                .push(trace_file(path, &entry.lines, &analysis.edits, &texts));
        }
        analysis.files.push(entry);
    }
    let meta = &first.metadata.hookledger;
    let mut note = match analysis.note(
        &new_commit.sha,
        new_commit.committer_time,
        &meta.gate,
        &meta.trailers,
    ) {
        Some(note) => note,
        None => return Ok(None),
    };
    note.metadata.hookledger.rewrite = Some(rewrite.to_owned());
    note.metadata.hookledger.rewritten_from = sources.iter().map(|(sha, _)| sha.clone()).collect();
    Ok(Some(note))
}

fn carried_edit(
    edits: &mut Vec<NoteEdit>,
    global: &mut HashMap<u64, usize>,
    edit: &NoteEdit,
) -> usize {
    *global.entry(edit.seq).or_insert_with(|| {
        edits.push(edit.clone());
        edits.len() - 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_values_round_trip() {
        let anchor = NoteAnchor {
            ledger_id: "0123456789abcdef0123456789abcdef".into(),
            seq: 42,
            hash: "ab".repeat(32),
        };
        let value = trailer_value(&anchor);
        assert_eq!(
            value,
            format!("0123456789abcdef0123456789abcdef@42:{}", "ab".repeat(16))
        );
        let parsed = parse_trailer(&value).unwrap();
        assert_eq!((parsed.seq, parsed.hash_prefix.len()), (42, 32));
        assert_eq!(parse_trailer("nonsense"), None);
        assert_eq!(
            parse_trailer("0123456789abcdef0123456789abcdef@x:abcd"),
            None
        );
        assert_eq!(
            parse_trailer("0123456789abcdef0123456789abcdef@1:abc"),
            None,
            "too short to mean anything"
        );
    }
}
