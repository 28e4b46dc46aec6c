/*!
A git-blame view with the AI-written lines marked: `git blame --porcelain` says which commit
and which line of it each line comes from, and that commit's note says whether an AI edit
wrote that line (model, session, prompt; the prompt text from the ledger when it is at hand).
*/

use std::collections::HashMap;

use serde::Serialize;

use super::edits::EditLedger;
use super::note::{NOTES_REF, Note, NoteEdit};
use super::repo::{GitError, Repo};

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
) -> Result<Vec<BlameLine>, GitError> {
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
                        .or_insert_with(|| {
                            ledger.prompt_text(id, e.seq).ok().flatten().map(|p| {
                                let one_line = p.split_whitespace().collect::<Vec<_>>().join(" ");
                                match one_line.char_indices().nth(PROMPT_EXCERPT_CHARS) {
                                    Some((at, _)) => format!("{}…", &one_line[..at]),
                                    None => one_line,
                                }
                            })
                        })
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
    Ok(lines)
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
