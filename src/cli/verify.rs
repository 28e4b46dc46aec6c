//! `hookledger verify [--json]`: exit 0 intact, 1 broken, 2 could not run.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::ledger::verify::{VerifyReport, verify};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
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
    if args.json {
        super::out(&format!("{}\n", serde_json::to_string(&report)?))?;
    } else {
        super::out(&render(&report))?;
    }
    Ok(if report.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
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
                kebab(&problem.code),
                problem.message
            ));
        }
        let unlisted = report.problem_count - report.problems.len();
        if unlisted > 0 {
            text.push_str(&format!("  … and {unlisted} more problem(s)\n"));
        }
    }
    for warning in &report.warnings {
        text.push_str(&format!("warning  {warning}\n"));
    }
    text
}

fn kebab(code: &crate::ledger::verify::ProblemCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
