//! `hookledger git carry --from RANGE COMMIT`: gives COMMIT a note built from the notes of the
//! commits in RANGE, for rewrites that ran where no hook does (a forge's "squash and merge" or
//! "rebase and merge"). Prints what it carried; exit 1 when nothing could be carried.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::git::note::{NOTES_REF, Note};
use crate::git::provenance::{self, COMMIT_KIND};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commits that were rewritten, as `git log` takes them (`main..feature`)
    #[arg(long, value_name = "RANGE")]
    pub from: String,
    /// The commit that replaced them
    pub commit: String,
    /// The repository (default: the one containing the current directory)
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let repo = super::repository(args.repo.as_ref())?;
    let range = [args.from.as_str()];
    let sources: Vec<(String, Note)> = repo
        .commits(&range)?
        .into_iter()
        .filter_map(|c| Some((c.sha.clone(), Note::parse(&repo.note(NOTES_REF, &c.sha)?)?)))
        .collect();
    if sources.is_empty() {
        anyhow::bail!(
            "no commit in {} has a hookledger note (fetch refs/notes/hookledger first)",
            args.from
        );
    }
    let commit = repo.commit(&args.commit)?;
    let Some(note) = provenance::carry_notes(&repo, &sources, &commit, "carry")? else {
        crate::cli::out(&format!(
            "no AI-written line of {} commit(s) survives in {}\n",
            sources.len(),
            commit.sha
        ))?;
        return Ok(ExitCode::from(1));
    };
    let olds: Vec<String> = sources.iter().map(|(sha, _)| sha.clone()).collect();
    let payload = provenance::set_carried_note(&repo, &commit, &note, &olds)?;
    super::warn_unrecorded(provenance::record(
        &crate::config::ledger_path(ledger)?,
        COMMIT_KIND,
        &payload,
    ));
    let summary = &note.metadata.hookledger.summary;
    if args.json {
        crate::cli::out(&format!(
            "{}\n",
            serde_json::json!({"commit": commit.sha, "from": olds, "ai_lines": summary.ai_lines, "added_lines": summary.added_lines})
        ))?;
    } else {
        crate::cli::out(&format!(
            "carried {} AI line(s) from {} commit(s) to {}\n",
            summary.ai_lines,
            olds.len(),
            commit.sha
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
