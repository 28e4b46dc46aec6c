/*!
`hookledger git verify`: checks a range of commits against the ledger or shipped exports, for
CI and central review.

For each commit: its `AI-Ledger` anchor (trailer and note) names a record that exists with
that hash; the note's AI lines are still added lines of the commit with the content hashes it
states; the edit records it cites exist with their hashes, precede the anchor and did add
those lines; and a commit with no anchor does not carry lines the ledger knows an AI wrote
(a `--no-verify` commit). The ledger's whole chain is verified, or the exports' links and
checkpoint signatures.
*/

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use super::attribute;
use super::edits::{EditLedger, line_key};
use super::note::{NOTES_REF, Note};
use super::provenance::{self, ANCHOR_TRAILER, ProvenanceError, parse_trailer};
use super::repo::{CommitInfo, Repo};
use crate::ledger::frame::{Hash, LedgerId, from_hex, to_hex};

/// Stable problem codes (API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemCode {
    /// An `AI-Ledger` trailer value is not `<ledger-id>@<seq>:<hash>`.
    AnchorMalformed,
    /// The anchored record is not in the ledger or exports given.
    AnchorMissing,
    /// The anchored record's hash is not the one the trailer or note states: the ledger was altered.
    AnchorMismatch,
    /// The anchor's ledger is not among the sources given (`--ledger`, `--export`).
    AnchorUnverifiable,
    /// The `refs/notes/hookledger` note is not a hookledger note.
    NoteMalformed,
    /// The note's AI lines are not added lines of the commit with the content hashes it states.
    NoteMismatch,
    /// An edit record the note cites is missing, altered, newer than the anchor, or did not add those lines.
    EditMismatch,
    /// The note says an `AI-Ledger` trailer was added; the message has none.
    TrailerMissing,
    /// AI-written lines committed without the pre-commit gate and without an `AI-Ledger` trailer.
    UnanchoredAiLines,
    /// The ledger given fails verification.
    LedgerBroken,
    /// A checkpoint in the sources does not verify.
    CheckpointInvalid,
    /// The exports given fail verification.
    ExportBroken,
}

impl ProblemCode {
    pub const ALL: &[ProblemCode] = &[
        ProblemCode::AnchorMalformed,
        ProblemCode::AnchorMissing,
        ProblemCode::AnchorMismatch,
        ProblemCode::AnchorUnverifiable,
        ProblemCode::NoteMalformed,
        ProblemCode::NoteMismatch,
        ProblemCode::EditMismatch,
        ProblemCode::TrailerMissing,
        ProblemCode::UnanchoredAiLines,
        ProblemCode::LedgerBroken,
        ProblemCode::CheckpointInvalid,
        ProblemCode::ExportBroken,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProblemCode::AnchorMalformed => "anchor-malformed",
            ProblemCode::AnchorMissing => "anchor-missing",
            ProblemCode::AnchorMismatch => "anchor-mismatch",
            ProblemCode::AnchorUnverifiable => "anchor-unverifiable",
            ProblemCode::NoteMalformed => "note-malformed",
            ProblemCode::NoteMismatch => "note-mismatch",
            ProblemCode::EditMismatch => "edit-mismatch",
            ProblemCode::TrailerMissing => "trailer-missing",
            ProblemCode::UnanchoredAiLines => "unanchored-ai-lines",
            ProblemCode::LedgerBroken => "ledger-broken",
            ProblemCode::CheckpointInvalid => "checkpoint-invalid",
            ProblemCode::ExportBroken => "export-broken",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub code: ProblemCode,
    pub message: String,
}

/// The verdict on one commit (`git verify`'s `commits[].status`); API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitStatus {
    /// Something AI-written is known (lines or a note), and every check holds.
    Ok,
    /// Nothing AI-written is known in this commit.
    NoAi,
    /// At least one problem (listed with its code).
    Fail,
}

impl CommitStatus {
    pub const ALL: &[CommitStatus] = &[CommitStatus::Ok, CommitStatus::NoAi, CommitStatus::Fail];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            CommitStatus::Ok => "ok",
            CommitStatus::NoAi => "no-ai",
            CommitStatus::Fail => "fail",
        }
    }
}

impl std::fmt::Display for CommitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitReport {
    pub commit: String,
    pub subject: String,
    pub status: CommitStatus,
    pub ai_lines: usize,
    pub added_lines: usize,
    pub anchor: Option<String>,
    pub gate: Option<String>,
    pub problems: Vec<Problem>,
    /// What could not be checked, without failing the commit (a note not fetched).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RangeReport {
    pub ok: bool,
    pub commits: Vec<CommitReport>,
    pub sources: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Where anchored records can be checked.
#[derive(Default)]
pub struct Sources {
    /// The local ledger (`--ledger`), then one rebuilt from the exports per shipped ledger, so
    /// edits can be checked and commits without notes re-derived from shipped records too.
    pub ledgers: Vec<EditLedger>,
    /// Per ledger id: shipped record hashes and signed checkpoint claims.
    pub shipped: HashMap<LedgerId, BTreeMap<u64, Hash>>,
    /// Where the rebuilt ledgers live; removed on drop.
    scratch: Option<PathBuf>,
    /// `ledgers[0]` is the local ledger (`--ledger`).
    has_local: bool,
}

impl Drop for Sources {
    fn drop(&mut self) {
        self.ledgers.clear();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Sources {
    /// Opens the ledger (its chain verified in full) and reads the exports (links and
    /// checkpoint signatures checked by the receiver). Problems found are returned.
    pub fn open(
        ledger: Option<PathBuf>,
        exports: &[PathBuf],
    ) -> Result<(Sources, Vec<Problem>, Vec<String>), ProvenanceError> {
        let mut sources = Sources::default();
        let mut problems = Vec::new();
        let mut names = Vec::new();
        if let Some(path) = ledger {
            let report = crate::ledger::verify::verify(&path, &mut |_, _| {})
                .map_err(|e| ProvenanceError::Edits(e.into()))?;
            if !report.intact {
                let first = report
                    .problems
                    .first()
                    .map(|p| p.message.clone())
                    .unwrap_or_default();
                problems.push(Problem {
                    code: ProblemCode::LedgerBroken,
                    message: format!("the ledger {} fails verification: {first}", path.display()),
                });
            }
            names.push(format!("ledger {}", path.display()));
            let ledger = EditLedger::open(&path)?;
            problems.extend(checkpoint_problems(&ledger));
            sources.ledgers.push(ledger);
            sources.has_local = true;
        }
        if !exports.is_empty() {
            let mut receiver = crate::export::receive::Receiver::new();
            for file in exports {
                let bytes = std::fs::read(file)?;
                receiver.add_batch(&bytes, &file.display().to_string())?;
                for (id, shipped) in crate::export::receive::read_shipped(&bytes)? {
                    let map = sources.shipped.entry(id).or_default();
                    map.extend(shipped.records);
                    for (seq, hash) in shipped.claims {
                        map.entry(seq).or_insert(hash);
                    }
                }
                names.push(format!("export {}", file.display()));
            }
            for ledger in rebuild_from_exports(&mut sources, exports)? {
                if !sources
                    .ledgers
                    .iter()
                    .any(|l| l.ledger_id() == ledger.ledger_id())
                {
                    sources.ledgers.push(ledger);
                }
            }
            let report = receiver.finish(&crate::export::receive::ReceiveOptions::default())?;
            if !report.intact {
                let detail = report
                    .ledgers
                    .iter()
                    .flat_map(|l| l.problems.iter())
                    .chain(report.problems.iter())
                    .next()
                    .map(|p| format!("{}: {}", p.code, p.detail))
                    .unwrap_or_default();
                problems.push(Problem {
                    code: ProblemCode::ExportBroken,
                    message: format!("the exports fail verification ({detail})"),
                });
            }
        }
        Ok((sources, problems, names))
    }

    /// The hash of record `seq` of ledger `id` in each source that has that ledger: the local
    /// ledger and the exports are both asked, so either one disagreeing is caught.
    fn lookups(&self, id: &LedgerId, seq: u64) -> Vec<Lookup> {
        let mut found = Vec::new();
        if self.has_local
            && let Some(ledger) = self.ledgers.first()
            && ledger.ledger_id() == id
        {
            found.push(match ledger.ledger().record(seq) {
                Ok(Some(record)) => Lookup::Found(record.hash),
                _ => Lookup::Missing,
            });
        }
        if let Some(records) = self.shipped.get(id) {
            found.push(
                records
                    .get(&seq)
                    .map_or(Lookup::Missing, |h| Lookup::Found(*h)),
            );
        }
        if found.is_empty() {
            found.push(Lookup::UnknownLedger);
        }
        found
    }
}

/// The ledger's signed checkpoints: each signature verifies under the genesis key and names
/// the hash the ledger has at that seq.
fn checkpoint_problems(ledger: &EditLedger) -> Vec<Problem> {
    use crate::ledger::{Kind, checkpoint::verify_payload};
    let inner = ledger.ledger();
    let Some(key) = inner.genesis().ok().flatten().and_then(|g| g.public_key()) else {
        return Vec::new();
    };
    let seqs = inner.seqs_of_kind(Kind::Checkpoint).unwrap_or_default();
    let mut problems = Vec::new();
    for seq in seqs {
        let Ok(Some(record)) = inner.record(seq) else {
            continue;
        };
        let message = match verify_payload(&record.payload, &key) {
            Err(e) => Some(format!("checkpoint record {seq}: {e}")),
            Ok(claim) => match inner.record(claim.seq) {
                Ok(Some(covered)) if covered.hash == claim.head => None,
                _ => Some(format!(
                    "checkpoint record {seq} signs a hash for record {} that the ledger does not have",
                    claim.seq
                )),
            },
        };
        if let Some(message) = message {
            problems.push(Problem {
                code: ProblemCode::CheckpointInvalid,
                message,
            });
        }
    }
    problems
}

enum Lookup {
    Found(Hash),
    Missing,
    UnknownLedger,
}

pub fn verify_range(
    repo: &Repo,
    range: &[&str],
    sources: &Sources,
    source_problems: Vec<Problem>,
    names: Vec<String>,
) -> Result<RangeReport, ProvenanceError> {
    let commits = repo.commits(range)?;
    // Every note in one pass: `notes list` for the blobs, one `cat-file --batch` to read them.
    let listed: HashMap<String, String> = repo.notes(NOTES_REF).into_iter().collect();
    let wanted: Vec<String> = commits
        .iter()
        .filter_map(|c| listed.get(&c.sha).cloned())
        .collect();
    let mut notes: HashMap<String, Vec<u8>> = HashMap::new();
    for (blob, body) in wanted.iter().zip(repo.read_blobs(&wanted)?) {
        if let Some(body) = body {
            notes.insert(blob.clone(), body);
        }
    }
    let mut reports = Vec::with_capacity(commits.len());
    for commit in &commits {
        let note = listed.get(&commit.sha).and_then(|blob| notes.get(blob));
        reports.push(verify_commit(
            repo,
            commit,
            note.map(Vec::as_slice),
            sources,
        )?);
    }
    let ok = source_problems.is_empty() && reports.iter().all(|r| r.problems.is_empty());
    Ok(RangeReport {
        ok,
        commits: reports,
        sources: names,
        problems: source_problems,
    })
}

fn verify_commit(
    repo: &Repo,
    commit: &CommitInfo,
    note_bytes: Option<&[u8]>,
    sources: &Sources,
) -> Result<CommitReport, ProvenanceError> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut problem = |code, message: String| problems.push(Problem { code, message });
    let trailer_values = &commit.anchor_trailers;
    let note = match note_bytes {
        Some(bytes) => match Note::parse(bytes) {
            Some(note) => Some(note),
            None => {
                problem(
                    ProblemCode::NoteMalformed,
                    "the refs/notes/hookledger note is not a hookledger note".into(),
                );
                None
            }
        },
        None => None,
    };

    let mut anchor_text = None;
    for value in trailer_values {
        anchor_text = Some(value.clone());
        let Some(anchor) = parse_trailer(value) else {
            problem(
                ProblemCode::AnchorMalformed,
                format!("{ANCHOR_TRAILER}: {value} is not <ledger-id>@<seq>:<hash>"),
            );
            continue;
        };
        for lookup in sources.lookups(&anchor.ledger_id, anchor.seq) {
            match lookup {
                Lookup::Found(hash) if to_hex(&hash).starts_with(&anchor.hash_prefix) => {}
                Lookup::Found(hash) => problem(
                    ProblemCode::AnchorMismatch,
                    format!(
                        "record {} of ledger {} has hash {}…, the trailer says {}…: the ledger was altered",
                        anchor.seq,
                        to_hex(&anchor.ledger_id),
                        &to_hex(&hash)[..16],
                        &anchor.hash_prefix[..16]
                    ),
                ),
                Lookup::Missing => problem(
                    ProblemCode::AnchorMissing,
                    format!(
                        "record {} of ledger {} is not in the ledger or exports given",
                        anchor.seq,
                        to_hex(&anchor.ledger_id)
                    ),
                ),
                Lookup::UnknownLedger => problem(
                    ProblemCode::AnchorUnverifiable,
                    format!(
                        "ledger {} is not among the sources given (pass --ledger or --export)",
                        to_hex(&anchor.ledger_id)
                    ),
                ),
            }
        }
    }

    let (mut ai_lines, mut added_lines) = (0, 0);
    let mut gate = None;
    if let Some(note) = &note {
        let meta = &note.metadata.hookledger;
        gate = Some(meta.gate.clone());
        ai_lines = meta.summary.ai_lines;
        added_lines = meta.summary.added_lines;
        let anchor_id = from_hex::<16>(&meta.anchor.ledger_id);
        let anchor_hash = from_hex::<32>(&meta.anchor.hash);
        if anchor_text.is_none() {
            anchor_text = Some(provenance::trailer_value(&meta.anchor));
        }
        match (anchor_id, anchor_hash) {
            (Some(id), Some(hash)) => {
                if let Some(value) = trailer_values.first()
                    && parse_trailer(value)
                        .is_some_and(|t| t.ledger_id != id || t.seq != meta.anchor.seq)
                {
                    problem(
                        ProblemCode::AnchorMismatch,
                        "the note and the trailer name different anchors".into(),
                    );
                }
                for lookup in sources.lookups(&id, meta.anchor.seq) {
                    match lookup {
                        Lookup::Found(found) if found == hash => {}
                        Lookup::Found(_) => problem(
                            ProblemCode::AnchorMismatch,
                            format!(
                                "the note's anchor record {} has a different hash in the ledger: the ledger was altered",
                                meta.anchor.seq
                            ),
                        ),
                        Lookup::Missing => problem(
                            ProblemCode::AnchorMissing,
                            format!(
                                "the note's anchor record {} is not in the ledger or exports given",
                                meta.anchor.seq
                            ),
                        ),
                        Lookup::UnknownLedger => {
                            if trailer_values.is_empty() {
                                problem(
                                    ProblemCode::AnchorUnverifiable,
                                    format!(
                                        "ledger {} is not among the sources given (pass --ledger or --export)",
                                        meta.anchor.ledger_id
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            _ => problem(
                ProblemCode::NoteMalformed,
                "the note's anchor is not a ledger id and hash".into(),
            ),
        }
        // A note carried to a forge's squash commit cannot expect the forge to keep trailers.
        let carried = meta.rewrite.as_deref() == Some("carry");
        if trailer_values.is_empty() && meta.trailers != "none" && ai_lines > 0 && !carried {
            if meta.gate == "pre-commit" {
                problem(
                    ProblemCode::TrailerMissing,
                    format!(
                        "the note says an {ANCHOR_TRAILER} trailer was added, the message has none (was it rewritten?)"
                    ),
                );
            } else {
                problem(
                    ProblemCode::UnanchoredAiLines,
                    format!(
                        "{ai_lines} AI-written line(s) committed without the pre-commit gate (--no-verify?) and without an {ANCHOR_TRAILER} trailer"
                    ),
                );
            }
        }
        for p in check_note_lines(repo, commit, note, sources)? {
            problems.push(p);
        }
    } else if !trailer_values.is_empty() {
        warnings.push(format!(
            "the commit has an {ANCHOR_TRAILER} trailer but no note: fetch them with \
             `git fetch origin refs/notes/hookledger:refs/notes/hookledger`"
        ));
    }
    if note.is_none() && !sources.ledgers.is_empty() {
        let (ai, added) = rederive(repo, commit, sources)?;
        added_lines = added;
        if ai > 0 {
            ai_lines = ai;
            if trailer_values.is_empty() {
                problems.push(Problem {
                    code: ProblemCode::UnanchoredAiLines,
                    message: format!(
                        "the ledger shows {ai} AI-written line(s) in this commit, which has no {ANCHOR_TRAILER} trailer and no note (committed with --no-verify or without hookledger's hooks)"
                    ),
                });
            }
        }
    }
    let status = if !problems.is_empty() {
        CommitStatus::Fail
    } else if ai_lines == 0 && note.is_none() {
        CommitStatus::NoAi
    } else {
        CommitStatus::Ok
    };
    Ok(CommitReport {
        commit: commit.sha.clone(),
        subject: commit.message.lines().next().unwrap_or("").to_owned(),
        status,
        ai_lines,
        added_lines,
        anchor: anchor_text,
        gate,
        problems,
        warnings,
    })
}

/// The note's AI lines must still be added lines of the commit with the stated content, and
/// (with the ledger) come from the cited edit records.
fn check_note_lines(
    repo: &Repo,
    commit: &CommitInfo,
    note: &Note,
    sources: &Sources,
) -> Result<Vec<Problem>, ProvenanceError> {
    let mut problems = Vec::new();
    let meta = &note.metadata.hookledger;
    let parent = commit.parents.first().map(String::as_str);
    let changes = repo.commit_changes(parent, &commit.sha)?;
    let merged = commit.parents.get(1);
    let mut names = Vec::new();
    for file in &meta.files {
        names.push(format!("{}:{}", commit.sha, file.path));
        let change = changes
            .iter()
            .find(|c| c.new_path.as_deref() == Some(file.path.as_str()));
        names.push(change.and_then(|c| c.old_blob.clone()).unwrap_or_default());
        names.push(
            merged
                .map(|m| format!("{m}:{}", file.path))
                .unwrap_or_default(),
        );
    }
    let wanted: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    let blobs: HashMap<String, Option<Vec<u8>>> = wanted
        .iter()
        .cloned()
        .zip(repo.read_blobs(&wanted)?)
        .collect();
    let blob = |name: &str| blobs.get(name).and_then(|b| b.as_deref());
    let anchor_id = from_hex::<16>(&meta.anchor.ledger_id);
    let ledger = sources
        .ledgers
        .iter()
        .find(|l| Some(*l.ledger_id()) == anchor_id);
    let mut edit_keys: HashMap<usize, Option<std::collections::HashSet<[u8; 32]>>> = HashMap::new();
    for (i, file) in meta.files.iter().enumerate() {
        let Some(target) = blob(&names[i * 3]) else {
            problems.push(Problem {
                code: ProblemCode::NoteMismatch,
                message: format!("{} is not in the commit", file.path),
            });
            continue;
        };
        if file.binary {
            continue;
        }
        let base = blob(&names[i * 3 + 1]);
        let merged_version = merged.map(|_| blob(&names[i * 3 + 2]));
        let lines = attribute::attribute(base, merged_version, target, &[], true);
        let texts: Vec<&[u8]> = target.split(|b| *b == b'\n').collect();
        for [start, end, edit] in &file.lines {
            let (start, end) = (*start as usize, *end as usize);
            if start == 0 || end < start || end > lines.keys.len() {
                problems.push(Problem {
                    code: ProblemCode::NoteMismatch,
                    message: format!("{}: lines {start}-{end} are outside the file", file.path),
                });
                continue;
            }
            if let Some(line) = (start..=end).find(|l| !lines.added[l - 1]) {
                problems.push(Problem {
                    code: ProblemCode::NoteMismatch,
                    message: format!(
                        "{}:{line} is attributed to the AI but is not a line this commit added",
                        file.path
                    ),
                });
            }
            if let Some(ledger) = ledger {
                let keys = edit_keys.entry(*edit as usize).or_insert_with(|| {
                    let cited = meta.edits.get(*edit as usize)?;
                    let record = ledger.load_edit(cited.seq).ok().flatten()?;
                    (to_hex(&record.hash) == cited.hash && cited.seq <= meta.anchor.seq)
                        .then(|| record.added_keys().copied().collect())
                });
                match keys {
                    None => {
                        let seq = meta.edits.get(*edit as usize).map_or(0, |e| e.seq);
                        problems.push(Problem {
                            code: ProblemCode::EditMismatch,
                            message: format!("edit record {seq} cited for {} is missing, altered, or newer than the anchor", file.path),
                        });
                    }
                    Some(keys) => {
                        if let Some(line) =
                            (start..=end).find(|l| !keys.contains(&line_key(texts[l - 1])))
                        {
                            problems.push(Problem {
                                code: ProblemCode::EditMismatch,
                                message: format!(
                                    "{}:{line} is not a line the cited edit record added",
                                    file.path
                                ),
                            });
                        }
                    }
                }
            }
        }
        let trace = note.files.iter().find(|f| f.path == file.path);
        for range in trace
            .iter()
            .flat_map(|t| t.conversations.iter().flat_map(|c| c.ranges.iter()))
        {
            let (start, end) = (range.start_line as usize, range.end_line as usize);
            let ok = start >= 1
                && end >= start
                && end <= texts.len()
                && super::note::content_hash(texts[start - 1..end].iter().copied())
                    == range.content_hash;
            if !ok {
                problems.push(Problem {
                    code: ProblemCode::NoteMismatch,
                    message: format!(
                        "{}: lines {start}-{end} do not have the content hash the note states",
                        file.path
                    ),
                });
            }
        }
    }
    problems.dedup();
    Ok(problems)
}

/// AI lines the ledgers know in a commit that carries no note: (AI lines, added lines), from
/// the ledger that attributes the most.
fn rederive(
    repo: &Repo,
    commit: &CommitInfo,
    sources: &Sources,
) -> Result<(usize, usize), ProvenanceError> {
    let parent = commit.parents.first().map(String::as_str);
    let changes = repo.commit_changes(parent, &commit.sha)?;
    let mut best = (0, 0);
    for ledger in &sources.ledgers {
        let (head, _) = ledger
            .ledger()
            .head()
            .map_err(|e| ProvenanceError::Edits(e.into()))?;
        let analysis = provenance::analyze(
            repo,
            Some(ledger),
            head,
            &changes,
            commit.parents.get(1).map(String::as_str),
        )?;
        let summary = analysis.summary();
        best = best.max((summary.ai_lines, summary.added_lines));
    }
    Ok(best)
}

/// Rebuilds a ledger file per shipped ledger from the export lines (exactly the shipped bytes,
/// in any export format; only records whose hash verifies), so the git checks that need
/// record contents work from exports alone.
fn rebuild_from_exports(
    sources: &mut Sources,
    exports: &[PathBuf],
) -> Result<Vec<EditLedger>, ProvenanceError> {
    let mut receiver = crate::export::receive::Receiver::keeping_records();
    for file in exports {
        let bytes = std::fs::read(file)?;
        receiver.add_batch(&bytes, &file.display().to_string())?;
    }
    let by_ledger = receiver.into_records();
    if by_ledger.is_empty() {
        return Ok(Vec::new());
    }
    let dir = std::env::temp_dir().join(format!(
        "hookledger-verify-{}-{}",
        std::process::id(),
        crate::ledger::now_ns()
    ));
    std::fs::create_dir_all(&dir)?;
    sources.scratch = Some(dir.clone());
    let mut ledgers = Vec::new();
    for (id, records) in by_ledger {
        let path = dir.join(format!("{}.db", to_hex(&id)));
        crate::export::receive::write_ledger(&path, &id, &records)
            .map_err(|e| ProvenanceError::Edits(e.into()))?;
        ledgers.push(EditLedger::open(&path)?);
    }
    Ok(ledgers)
}
