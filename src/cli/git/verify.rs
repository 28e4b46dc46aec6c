//! `hookledger git verify [REV-RANGE] [--ledger FILE | --export FILE…] [--json]`: exit 0 when
//! every commit checks out, 1 on any problem, 2 when it could not run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::git::verify::{RangeReport, Sources, verify_range};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Commits to check, as `git log` takes them (default: HEAD's last commit, `HEAD~1..HEAD`)
    pub range: Vec<String>,
    /// Shipped export batches (NDJSON) to check anchors against, instead of a local ledger
    #[arg(long = "export", value_name = "FILE", num_args = 1..)]
    pub exports: Vec<PathBuf>,
    /// The repository (default: the one containing the current directory)
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let repo = super::repository(args.repo.as_ref())?;
    // The local ledger is used when asked for, or when no exports are given and it exists.
    let ledger_path = match ledger {
        Some(path) => Some(path.to_owned()),
        None if args.exports.is_empty() => {
            Some(crate::config::ledger_path(None)?).filter(|p| p.exists())
        }
        None => None,
    };
    if ledger_path.is_none() && args.exports.is_empty() {
        anyhow::bail!(
            "nothing to verify against: no ledger at the default path; pass --ledger FILE or --export FILE…"
        );
    }
    let (sources, problems, names) = Sources::open(ledger_path, &args.exports)?;
    let range: Vec<&str> = if args.range.is_empty() {
        vec!["-1", "HEAD"]
    } else {
        args.range.iter().map(String::as_str).collect()
    };
    let report = verify_range(&repo, &range, &sources, problems, names)?;
    crate::cli::verdict(args.json, &report, render, report.ok)
}

fn render(report: &RangeReport) -> String {
    let mut text = String::new();
    for source in &report.sources {
        text.push_str(&format!("against  {source}\n"));
    }
    for problem in &report.problems {
        text.push_str(&format!("PROBLEM  {}: {}\n", problem.code, problem.message));
    }
    text.push_str(&format!(
        "{:<10} {:<5} {:>9}  {:<28} {}\n",
        "commit", "", "AI/added", "anchor", "subject"
    ));
    for commit in &report.commits {
        let anchor = commit.anchor.as_deref().map_or("-".to_owned(), |a| {
            let (id, rest) = a.split_once('@').unwrap_or((a, ""));
            format!(
                "{}…@{}",
                &id[..id.len().min(8)],
                &rest[..rest.len().min(18)]
            )
        });
        text.push_str(&format!(
            "{:<10} {:<5} {:>9}  {:<28} {}\n",
            &commit.commit[..commit.commit.len().min(10)],
            commit.status,
            format!("{}/{}", commit.ai_lines, commit.added_lines),
            anchor,
            commit.subject
        ));
        for problem in &commit.problems {
            text.push_str(&format!(
                "           {}: {}\n",
                problem.code, problem.message
            ));
        }
    }
    text.push_str(if report.ok {
        "OK       every commit checks out\n"
    } else {
        "FAILED   see the problems above\n"
    });
    text
}
