/*!
A git-blame view with the AI-written lines marked: `git blame --porcelain` says which commit
and which line of it each line comes from, and that commit's note says whether an AI edit
wrote that line (model, session, prompt; the prompt text from the ledger when it is at hand).
*/

use std::collections::HashMap;

use serde::Serialize;

use super::edits::EditLedger;
use super::note::{NOTES_REF, Note, NoteEdit};
use super::provenance::{self, ProvenanceError};
use super::repo::{Change, Repo};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlameLine {
    pub line: usize,
    pub commit: String,
    pub text: String,
    pub ai: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_seq: Option<u64>,
}

const PROMPT_EXCERPT_CHARS: usize = 80;

pub fn blame(
    repo: &Repo,
    file: &str,
    rev: Option<&str>,
    ledger: Option<&EditLedger>,
) -> Result<Vec<BlameLine>, ProvenanceError> {
    let mut args = vec!["blame", "--porcelain"];
    if let Some(rev) = rev {
        args.push(rev);
    }
    args.push("--");
    args.push(file);
    let out = repo.run(&args)?;
    let text = String::from_utf8_lossy(&out);
    let mut lines = Vec::new();
    let mut filenames: HashMap<String, String> = HashMap::new();
    let mut notes: HashMap<String, Option<Note>> = HashMap::new();
    let mut prompts: HashMap<String, Option<String>> = HashMap::new();
    let mut current: Option<(String, usize, usize)> = None;
    for raw in text.lines() {
        if let Some(content) = raw.strip_prefix('\t') {
            let Some((sha, original, final_line)) = current.take() else {
                continue;
            };
            let filename = filenames
                .get(&sha)
                .cloned()
                .unwrap_or_else(|| file.to_owned());
            let note = notes
                .entry(sha.clone())
                .or_insert_with(|| repo.note(NOTES_REF, &sha).and_then(|b| Note::parse(&b)));
            let edit = note.as_ref().and_then(|n| edit_for(n, &filename, original));
            let prompt = match (edit, ledger) {
                (Some(e), Some(ledger)) => e.prompt_id.as_ref().and_then(|id| {
                    prompts
                        .entry(id.clone())
                        .or_insert_with(|| excerpt(ledger.prompt_text(id, e.seq).ok().flatten()))
                        .clone()
                }),
                _ => None,
            };
            lines.push(BlameLine {
                line: final_line,
                commit: sha,
                text: content.to_owned(),
                ai: edit.is_some(),
                model: edit.and_then(|e| e.model.clone()),
                session_id: edit.and_then(|e| e.session_id.clone()),
                prompt_id: edit.and_then(|e| e.prompt_id.clone()),
                prompt,
                edit_seq: edit.map(|e| e.seq),
            });
            continue;
        }
        let fields: Vec<&str> = raw.split(' ').collect();
        if fields.len() >= 3
            && fields[0].len() >= 40
            && fields[0].bytes().all(|b| b.is_ascii_hexdigit())
        {
            let original = fields[1].parse().unwrap_or(0);
            let final_line = fields[2].parse().unwrap_or(0);
            current = Some((fields[0].to_owned(), original, final_line));
        } else if let Some(name) = raw.strip_prefix("filename ")
            && let Some((sha, _, _)) = &current
        {
            filenames.insert(sha.clone(), name.to_owned());
        }
    }
    if rev.is_none()
        && let Some(ledger) = ledger
        && lines.iter().any(|l| is_uncommitted(&l.commit))
    {
        mark_uncommitted(repo, file, ledger, &mut lines, &mut prompts)?;
    }
    Ok(lines)
}

fn is_uncommitted(sha: &str) -> bool {
    sha.bytes().all(|b| b == b'0')
}

/// Lines not committed yet get their attribution from the ledger directly: the working-tree
/// file attributed against HEAD, as pre-commit would.
fn mark_uncommitted(
    repo: &Repo,
    file: &str,
    ledger: &EditLedger,
    lines: &mut [BlameLine],
    prompts: &mut HashMap<String, Option<String>>,
) -> Result<(), ProvenanceError> {
    let target = std::fs::read(repo.root.join(file))?;
    let base = repo
        .read_blobs(&[format!("HEAD:{file}")])?
        .into_iter()
        .next()
        .flatten();
    let change = Change {
        status: if base.is_some() { 'M' } else { 'A' },
        old_path: base.as_ref().map(|_| file.to_owned()),
        new_path: Some(file.to_owned()),
        old_blob: None,
        new_blob: None,
        submodule: false,
    };
    let (through, _) = ledger
        .ledger()
        .head()
        .map_err(|e| ProvenanceError::Edits(e.into()))?;
    let analysis = provenance::analyze_contents(
        repo,
        Some(ledger),
        through,
        &change,
        base.as_deref(),
        &target,
    )?;
    let Some(attributed) = analysis.files.first() else {
        return Ok(());
    };
    for line in lines.iter_mut().filter(|l| is_uncommitted(&l.commit)) {
        let number = line.line as u64;
        let Some(edit) = attributed
            .lines
            .iter()
            .find(|[start, end, _]| *start <= number && number <= *end)
            .and_then(|[_, _, index]| analysis.edits.get(*index as usize))
        else {
            continue;
        };
        line.ai = true;
        line.model = edit.model.clone();
        line.session_id = edit.session_id.clone();
        line.prompt_id = edit.prompt_id.clone();
        line.edit_seq = Some(edit.seq);
        line.prompt = edit.prompt_id.as_ref().and_then(|id| {
            prompts
                .entry(id.clone())
                .or_insert_with(|| excerpt(ledger.prompt_text(id, edit.seq).ok().flatten()))
                .clone()
        });
    }
    Ok(())
}

fn excerpt(prompt: Option<String>) -> Option<String> {
    let one_line = prompt?.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(match one_line.char_indices().nth(PROMPT_EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    })
}

fn edit_for<'a>(note: &'a Note, path: &str, line: usize) -> Option<&'a NoteEdit> {
    let meta = &note.metadata.hookledger;
    let file = meta.files.iter().find(|f| f.path == path)?;
    let line = line as u64;
    let [_, _, index] = file
        .lines
        .iter()
        .find(|[start, end, _]| *start <= line && line <= *end)?;
    meta.edits.get(*index as usize)
}
