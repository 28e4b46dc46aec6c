//! `hookledger git commit-msg FILE`: exit 1 refuses the commit (a review trailer is missing).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::git::gate;
use crate::git::provenance::{ANCHOR_TRAILER, LINES_TRAILER, MODEL_TRAILER, trailer_value};
use crate::policy::file::TrailerMode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit message file git passes to the hook
    pub file: PathBuf,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let repo = super::repository(None)?;
    let policy = match super::policy_or_refusal()? {
        Ok(policy) => policy,
        Err(refused) => return Ok(refused),
    };
    let ledger_path = crate::config::ledger_path(ledger)?;
    let tree = gate::index_tree(&repo)?;
    let pending = match gate::read_pending(&repo, &ledger_path).filter(|p| p.tree == tree) {
        Some(pending) => pending,
        None => {
            // pre-commit did not run for this tree (another tool's shim, or it was skipped):
            // the same checks apply here.
            let pending = gate::analyze_staged(&repo, &ledger_path)?;
            let refusals = gate::pre_commit_refusals(&policy, &pending.analysis);
            if !refusals.is_empty() {
                for refusal in refusals {
                    eprintln!("hookledger: {refusal}");
                }
                return Ok(ExitCode::from(1));
            }
            gate::write_pending(&repo, &ledger_path, &pending)?;
            pending
        }
    };
    let trailers = gate::message_trailers(&repo, &args.file)?;
    let refusals = gate::review_refusals(&policy, &pending.analysis, &trailers);
    if !refusals.is_empty() {
        for refusal in refusals {
            eprintln!("hookledger: {refusal}");
        }
        return Ok(ExitCode::from(1));
    }
    let text = std::fs::read_to_string(&args.file).unwrap_or_default();
    let comment = repo
        .config("core.commentChar")
        .and_then(|c| c.chars().next())
        .filter(|c| *c != 'a')
        .unwrap_or('#');
    let analysis = &pending.analysis;
    if policy.trailers == TrailerMode::None
        || !analysis.has_ai_content()
        || gate::message_is_empty(&text, comment)
    {
        return Ok(ExitCode::SUCCESS);
    }
    let Some(anchor) = &analysis.anchor else {
        return Ok(ExitCode::SUCCESS);
    };
    let file = args.file.to_string_lossy().into_owned();
    let mut command: Vec<String> = vec![
        "interpret-trailers".into(),
        "--in-place".into(),
        "--if-exists".into(),
        "replace".into(),
        "--trailer".into(),
        format!("{ANCHOR_TRAILER}: {}", trailer_value(anchor)),
    ];
    if policy.trailers == TrailerMode::Full {
        let summary = analysis.summary();
        command.push("--trailer".into());
        command.push(format!(
            "{LINES_TRAILER}: {}/{}",
            summary.ai_lines, summary.added_lines
        ));
        command.push("--if-exists".into());
        command.push("addIfDifferent".into());
        for model in &summary.models {
            command.push("--trailer".into());
            command.push(format!("{MODEL_TRAILER}: {model}"));
        }
    }
    command.push(file);
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    repo.run(&args)?;
    Ok(ExitCode::SUCCESS)
}
