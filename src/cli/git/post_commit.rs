//! `hookledger git post-commit`: writes the note and the `commit` record. It cannot undo the
//! commit, so problems are warnings on stderr and the exit code is 0.

use std::path::Path;
use std::process::ExitCode;

use crate::git::gate;
use crate::git::note::{NOTES_REF, Note};
use crate::git::provenance::{self, COMMIT_KIND};
use crate::policy::git::GitPolicy;

pub fn run(ledger: Option<&Path>) -> anyhow::Result<ExitCode> {
    let repo = super::repository(None)?;
    if repo.rebase_in_progress() {
        // post-rewrite carries the notes once the rebase is done.
        return Ok(ExitCode::SUCCESS);
    }
    let commit = repo.commit("HEAD")?;
    let home = crate::config::Paths::from_env()?.home;
    let policy = GitPolicy::load(&home).unwrap_or_default();
    let trailers = serde_json::to_value(policy.trailers)?
        .as_str()
        .unwrap_or("anchor")
        .to_owned();
    let ledger_path = crate::config::ledger_path(ledger)?;
    let pending = gate::read_pending(&repo, &ledger_path).filter(|p| p.tree == commit.tree);
    gate::clear_pending(&repo, &ledger_path);
    let parent = commit.parents.first().cloned();

    // A cherry-pick: carry the source commit's note.
    let cherry_source = std::fs::read_to_string(repo.git_dir.join("CHERRY_PICK_HEAD"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if pending.is_none()
        && let Some(source) = cherry_source
        && let Some(note) = repo.note(NOTES_REF, &source).and_then(|b| Note::parse(&b))
    {
        if let Some(carried) =
            provenance::carry_notes(&repo, &[(source.clone(), note)], &commit, "cherry-pick")?
        {
            let payload = provenance::set_carried_note(&repo, &commit, &carried, &[source])?;
            super::warn_unrecorded(provenance::record(&ledger_path, COMMIT_KIND, &payload));
        }
        return Ok(ExitCode::SUCCESS);
    }

    let (analysis, gate_name) = match pending {
        Some(p) if p.head == parent => (p.analysis, "pre-commit"),
        other => {
            // Amend (the base is the amended commit's parent) or a commit that skipped the
            // gate: attribute the commit as made, up to the anchor pre-commit chose if any.
            let gated = other.is_some();
            let anchor = other.and_then(|p| p.analysis.anchor);
            let (state, edit_ledger) = provenance::check_ledger(&ledger_path);
            let changes = repo.commit_changes(parent.as_deref(), &commit.sha)?;
            let merged = commit.parents.get(1).map(String::as_str);
            let analysis =
                gate::analyze_with(&repo, state, edit_ledger.as_ref(), &changes, merged, anchor)?;
            (analysis, if gated { "pre-commit" } else { "none" })
        }
    };
    let note = analysis.note(&commit.sha, commit.committer_time, gate_name, &trailers);
    let json = note.as_ref().map(Note::to_json);
    if let Some(json) = &json {
        repo.set_note(NOTES_REF, &commit.sha, json.as_bytes())?;
    }
    if analysis.ledger.present || ledger_path.exists() {
        let payload = provenance::commit_record(
            &repo,
            &commit.sha,
            &commit.parents,
            &analysis,
            json.as_deref(),
            gate_name,
            &[],
        );
        super::warn_unrecorded(provenance::record(&ledger_path, COMMIT_KIND, &payload));
    }
    Ok(ExitCode::SUCCESS)
}
