//! `hookledger git pre-commit`: exit 0 lets the commit proceed, 1 refuses it (one line each
//! reason, with the fix), 2 could not run (git aborts the commit either way).

use std::path::Path;
use std::process::ExitCode;

use crate::git::gate;

pub fn run(ledger: Option<&Path>) -> anyhow::Result<ExitCode> {
    let repo = super::repository(None)?;
    let policy = match super::policy_or_refusal()? {
        Ok(policy) => policy,
        Err(refused) => return Ok(refused),
    };
    let ledger_path = crate::config::ledger_path(ledger)?;
    let pending = gate::analyze_staged(&repo, &ledger_path)?;
    crate::cli::out(&super::summary(&pending.analysis))?;
    let refusals = gate::pre_commit_refusals(&policy, &pending.analysis);
    if !refusals.is_empty() {
        gate::clear_pending(&repo, &ledger_path);
        for refusal in refusals {
            eprintln!("hookledger: {refusal}");
        }
        return Ok(ExitCode::from(1));
    }
    gate::write_pending(&repo, &ledger_path, &pending)?;
    Ok(ExitCode::SUCCESS)
}
