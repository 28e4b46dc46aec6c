//! `hookledger git …`: the git hooks, their installation, and range verification for CI.

mod carry;
mod commit_msg;
mod install;
mod post_commit;
mod post_rewrite;
mod pre_commit;
mod status;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: GitCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum GitCommand {
    /// Install the git hook shims in a repository, keeping (and chaining) hooks already there
    Install(install::Args),
    /// Remove hookledger's git hook shims and restore the hooks they chained
    Uninstall(install::Args),
    /// Show, for each hook, whether hookledger's shim is installed and active
    Status(status::Args),
    /// Git hook: check the ledger, attribute the staged change, apply the policy
    PreCommit,
    /// Git hook: require the review trailer where the policy asks, add the ledger trailers
    CommitMsg(commit_msg::Args),
    /// Git hook: write the attribution note and the `commit` ledger record
    PostCommit,
    /// Git hook: carry notes across amend and rebase (commit pairs on stdin)
    PostRewrite(post_rewrite::Args),
    /// Check the commits of a range against the ledger or shipped exports (for CI)
    Verify(verify::Args),
    /// Give a commit the notes of the commits it replaced where no hook ran (squash-merge)
    Carry(carry::Args),
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        GitCommand::Install(a) => install::run_install(a),
        GitCommand::Uninstall(a) => install::run_uninstall(a),
        GitCommand::Status(a) => status::run(a),
        GitCommand::PreCommit => pre_commit::run(ledger),
        GitCommand::CommitMsg(a) => commit_msg::run(ledger, a),
        GitCommand::PostCommit => post_commit::run(ledger),
        GitCommand::PostRewrite(a) => post_rewrite::run(ledger, a),
        GitCommand::Verify(a) => verify::run(ledger, a),
        GitCommand::Carry(a) => carry::run(ledger, a),
    }
}

/// The repository a command works on: `--repo`, else the current directory's.
/// The git section of the policy, or, when it cannot be read, the refusal already printed.
fn policy_or_refusal() -> anyhow::Result<Result<crate::policy::git::GitPolicy, ExitCode>> {
    let home = crate::config::Paths::from_env()?.home;
    Ok(crate::policy::git::GitPolicy::load(&home).map_err(|e| {
        eprintln!(
            "hookledger: commit refused ({}): {e}; fix: correct the policy file",
            crate::git::gate::RefusalCode::PolicyError
        );
        ExitCode::from(1)
    }))
}

/// A commit record that could not be written is a warning: the note already holds the
/// attribution, and a git hook must not fail the commit over it.
fn warn_unrecorded(result: Result<(), String>) {
    if let Err(e) = result {
        eprintln!("hookledger: warning: the commit record could not be written: {e}");
    }
}

fn repository(repo: Option<&PathBuf>) -> anyhow::Result<crate::git::repo::Repo> {
    let start = repo.cloned().unwrap_or_else(|| PathBuf::from("."));
    Ok(crate::git::repo::Repo::discover(&start)?)
}

/// The one-screen summary pre-commit prints.
fn summary(analysis: &crate::git::provenance::Analysis) -> String {
    let s = analysis.summary();
    let mut text = format!(
        "hookledger: {} file(s), AI lines {}/{} added",
        s.files, s.ai_lines, s.added_lines
    );
    if s.human_changed_ai_lines > 0 {
        text.push_str(&format!(
            ", {} AI line(s) changed by a human",
            s.human_changed_ai_lines
        ));
    }
    if s.ai_touched_files > 0 {
        text.push_str(&format!(", AI touched {} file(s)", s.ai_touched_files));
    }
    if !s.models.is_empty() {
        text.push_str(&format!("; models {}", s.models.join(", ")));
    }
    if !s.sessions.is_empty() {
        let short: Vec<&str> = s.sessions.iter().map(|id| &id[..id.len().min(8)]).collect();
        text.push_str(&format!("; sessions {}", short.join(", ")));
    }
    text.push('\n');
    let listed: Vec<_> = analysis
        .files
        .iter()
        .filter(|f| f.ai_lines > 0 || f.ai_written || f.human_changed_ai_lines > 0)
        .collect();
    for file in listed.iter().take(10) {
        let fidelity = file
            .fidelity
            .and_then(|f| serde_json::to_value(f).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if file.binary {
            text.push_str(&format!("  {}  binary, written by the AI\n", file.path));
        } else {
            text.push_str(&format!(
                "  {}  AI {}/{} {}\n",
                file.path, file.ai_lines, file.added_lines, fidelity
            ));
        }
    }
    if listed.len() > 10 {
        text.push_str(&format!(
            "  … and {} more file(s) with AI lines\n",
            listed.len() - 10
        ));
    }
    let ledger = &analysis.ledger;
    if !ledger.present {
        text.push_str(&format!(
            "hookledger: no ledger at {}: nothing to attribute\n",
            ledger.path.display()
        ));
    } else if !ledger.intact {
        text.push_str(&format!(
            "hookledger: WARNING the ledger fails verification: {}\n",
            ledger.problems.first().map_or("unreadable", String::as_str)
        ));
    } else if ledger.spool_pending > 0 {
        text.push_str(&format!(
            "hookledger: WARNING {} record(s) wait in the spool, not yet in the ledger\n",
            ledger.spool_pending
        ));
    }
    text
}
