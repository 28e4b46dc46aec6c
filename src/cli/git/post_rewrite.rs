//! `hookledger git post-rewrite amend|rebase`: reads `<old> <new>` lines on stdin and gives
//! each new commit a note carried from the notes of the commits it replaces.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use crate::git::note::{NOTES_REF, Note};
use crate::git::provenance::{self, COMMIT_KIND};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What rewrote the commits: `amend` or `rebase`
    pub kind: String,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let repo = super::repository(None)?;
    let ledger_path = crate::config::ledger_path(ledger)?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    // Squashes map several old commits to one new one.
    let mut rewritten: Vec<(String, Vec<String>)> = Vec::new();
    for line in input.lines() {
        let mut fields = line.split_whitespace();
        let (Some(old), Some(new)) = (fields.next(), fields.next()) else {
            continue;
        };
        match rewritten.iter_mut().find(|(n, _)| n == new) {
            Some((_, olds)) => olds.push(old.to_owned()),
            None => rewritten.push((new.to_owned(), vec![old.to_owned()])),
        }
    }
    for (new, olds) in rewritten {
        if args.kind == "amend" && repo.note(NOTES_REF, &new).is_some() {
            // post-commit attributed the amended commit itself.
            continue;
        }
        let sources: Vec<(String, Note)> = olds
            .iter()
            .filter_map(|old| Some((old.clone(), Note::parse(&repo.note(NOTES_REF, old)?)?)))
            .collect();
        if sources.is_empty() {
            continue;
        }
        let commit = repo.commit(&new)?;
        let Some(note) = provenance::carry_notes(&repo, &sources, &commit, &args.kind)? else {
            continue;
        };
        let payload = provenance::set_carried_note(&repo, &commit, &note, &olds)?;
        super::warn_unrecorded(provenance::record(&ledger_path, COMMIT_KIND, &payload));
    }
    Ok(ExitCode::SUCCESS)
}
