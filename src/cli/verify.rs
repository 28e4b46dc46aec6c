//! `hookledger verify [--json]`: exit 0 intact, 1 broken, 2 could not run.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::ledger::verify::{VerifyReport, against, verify};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Also compare the ledger with what was shipped from it (export files, or directories of
    /// segment files): detects truncation, rollback to an older copy, and forks
    #[arg(long, value_name = "FILE|DIR", num_args = 1..)]
    pub against: Vec<std::path::PathBuf>,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let path = crate::config::ledger_path(ledger)?;
    let bar = progress_bar();
    let mut progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    };
    let report = verify(&path, &mut progress)
        .with_context(|| format!("cannot verify {}", path.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !args.against.is_empty() {
        return against(&path, &args.against, &report, args.json);
    }
    super::verdict(args.json, &report, render, report.intact)
}

pub(crate) fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "verifying {bar:40} {pos}/{len} records ({per_sec})",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn render(report: &VerifyReport) -> String {
    let mut text = format!("ledger   {}\n", report.ledger);
    if let Some(id) = &report.ledger_id {
        text.push_str(&format!("id       {id}\n"));
    }
    if let Some(head) = &report.head {
        text.push_str(&format!("head     seq {} {}\n", head.seq, head.hash));
    }
    if report.intact {
        text.push_str(&format!(
            "OK       chain intact: {} records from genesis to head\n",
            report.records
        ));
    } else {
        let first = report.first_bad_seq.unwrap_or(0);
        text.push_str(&format!("BROKEN   first bad record: seq {first}\n"));
        for problem in &report.problems {
            text.push_str(&format!(
                "  seq {:<8} {:<18} {}\n",
                problem.seq,
                problem.code.as_str(),
                problem.message
            ));
        }
        let unlisted = report.problem_count - report.problems.len();
        if unlisted > 0 {
            text.push_str(&format!("  … and {unlisted} more problem(s)\n"));
        }
    }
    match &report.last_checkpoint {
        Some(last) => text.push_str(&format!(
            "signed   {} checkpoint(s) verified; the newest (seq {}) covers seq {}, {}\n",
            report.checkpoints,
            last.seq,
            last.covers,
            super::time::rfc3339(last.time_ns)
        )),
        None => text.push_str("signed   no checkpoint yet (one is added by every export)\n"),
    }
    for range in &report.pruned {
        text.push_str(&format!(
            "pruned   {}\n",
            crate::ledger::prune::describe(range)
        ));
    }
    for warning in &report.warnings {
        text.push_str(&format!("warning  {warning}\n"));
    }
    text
}

/// Compares the local ledger with what was shipped from it ([`against::compare`]) and
/// renders the chain's report with the comparison.
fn against(
    path: &Path,
    files: &[std::path::PathBuf],
    report: &VerifyReport,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let found = against::compare(path, files, &report.pruned)?;
    let intact = report.intact && found.problems.is_empty();
    let answer = serde_json::json!({"intact": intact, "chain": report, "against": files,
        "shipped_records": found.shipped_records, "shipped_through": found.shipped_through,
        "skipped_ledgers": found.skipped_ledgers, "problems": found.problems});
    let text = |_: &serde_json::Value| {
        let shown = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut text = render(report);
        text.push_str(&format!(
            "against  {shown} ({} records of this ledger shipped, through seq {})\n",
            found.shipped_records, found.shipped_through
        ));
        for skipped in &found.skipped_ledgers {
            text.push_str(&format!(
                "skipped  {} records of ledger {} (another ledger's exports)\n",
                skipped.records, skipped.ledger_id
            ));
        }
        for p in &found.problems {
            text.push_str(&format!("  {}: {}\n", p.code.as_str(), p.detail));
        }
        text.push_str(if intact {
            "consistent with what was shipped\n"
        } else {
            "NOT consistent with what was shipped\n"
        });
        text
    };
    super::verdict(json, &answer, text, intact)
}
