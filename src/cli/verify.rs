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
                kebab(&problem.code),
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
            super::time::local_time(last.time_ns)
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

fn kebab(code: &crate::ledger::verify::ProblemCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Compares the local ledger with what was shipped from it: this ledger's lines only (the
/// inputs may hold any mix of ledgers' exports; the others are named and skipped). Streams both
/// sides in seq order, so memory does not grow with the exports.
fn against(
    path: &Path,
    files: &[std::path::PathBuf],
    report: &VerifyReport,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use crate::ledger::frame::{self, Hash, LedgerId};
    let mut receiver = crate::export::receive::Receiver::new();
    for file in files {
        let parts = if file.is_dir() {
            crate::export::segments::segment_files(file)
                .with_context(|| format!("cannot list {}", file.display()))?
        } else {
            vec![file.clone()]
        };
        for part in parts {
            let handle = std::fs::File::open(&part)
                .with_context(|| format!("cannot read {}", part.display()))?;
            receiver
                .add_file(&handle, &part.display().to_string())
                .with_context(|| format!("cannot read {}", part.display()))?;
        }
    }
    let shown = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let ledger = crate::ledger::Ledger::open_read_only(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let local_id: LedgerId = *ledger.ledger_id();
    let (local_head, _) = ledger.head()?;
    let pruned = |seq: u64| {
        report
            .pruned
            .iter()
            .any(|r| (r.first_seq..=r.last_seq).contains(&seq))
    };
    // A hash of the wrong size reads as zeros, never equal to a shipped one: the comparison
    // reports it.
    let mut local_rows = ledger.hashes();
    let mut local_error: Option<crate::ledger::LedgerError> = None;
    let next_local = |rows: &mut crate::ledger::query::Hashes<'_>| rows.next().transpose();
    let mut local = next_local(&mut local_rows)?;
    let mut mine = 0u64;
    let mut shipped_max = 0u64;
    let mut last_seq: Option<u64> = None;
    let mut claims: Vec<(u64, Hash)> = Vec::new();
    let mut others: std::collections::BTreeMap<LedgerId, u64> = Default::default();
    // The first disagreement in seq order: (seq, code, detail).
    let mut first_problem: Option<(u64, &'static str, String)> = None;
    let differs = |seq: u64, here: &Hash, shipped: &Hash| {
        (
            seq,
            "forked",
            format!(
                "record {seq} differs from the one shipped ({} here, {} shipped): the ledger was rewritten or restored from an older copy and regrown",
                frame::to_hex(&here[..6]),
                frame::to_hex(&shipped[..6])
            ),
        )
    };
    let missing = |seq: u64| {
        (
            seq,
            "truncated",
            format!("record {seq} was shipped but is missing here"),
        )
    };
    receiver
        .for_each_record(&mut |id, entry| {
            if *id != local_id {
                *others.entry(*id).or_default() += 1;
                return;
            }
            if let Some(claim) = entry.covers() {
                claims.push(claim);
            }
            // Repeats (re-sent batches, or forks among the shipped lines, which is
            // `verify-export`'s business): the first one seen is what was shipped.
            if last_seq == Some(entry.seq) {
                return;
            }
            last_seq = Some(entry.seq);
            mine += 1;
            shipped_max = shipped_max.max(entry.seq);
            if first_problem.is_some() || entry.seq > local_head || pruned(entry.seq) {
                return;
            }
            while local.is_some_and(|(seq, _)| seq < entry.seq) {
                local = next_local(&mut local_rows).unwrap_or_else(|e| {
                    local_error.get_or_insert(e);
                    None
                });
            }
            first_problem = match local {
                Some((seq, hash)) if seq == entry.seq => {
                    (hash != entry.hash).then(|| differs(seq, &hash, &entry.hash))
                }
                _ => Some(missing(entry.seq)),
            };
        })
        .context("cannot sort the shipped records (temporary files go to $TMPDIR)")?;
    drop(local_rows);
    if let Some(e) = local_error.take() {
        return Err(e.into());
    }
    if mine == 0 && others.is_empty() {
        anyhow::bail!("{shown} holds no exported records");
    }
    // Checkpoint claims name records too; one before the first disagreement comes first.
    claims.sort();
    claims.dedup();
    for (seq, head) in &claims {
        shipped_max = shipped_max.max(*seq);
        if *seq > local_head || pruned(*seq) || first_problem.as_ref().is_some_and(|p| p.0 <= *seq)
        {
            continue;
        }
        match ledger.record(*seq)? {
            Some(record) if record.hash == *head => {}
            Some(record) => first_problem = Some(differs(*seq, &record.hash, head)),
            None => first_problem = Some(missing(*seq)),
        }
    }
    let mut problems: Vec<serde_json::Value> = Vec::new();
    if mine == 0 {
        problems.push(serde_json::json!({"code": "ledger-id-mismatch", "detail": format!(
            "the exports are from ledger(s) {}, none from this ledger {}: the ledger was replaced, or these are another machine's exports",
            others.keys().map(|i| frame::to_hex(i)).collect::<Vec<_>>().join(", "),
            frame::to_hex(&local_id))}));
    }
    if mine > 0 && local_head < shipped_max {
        problems.push(serde_json::json!({"code": "truncated", "seq": local_head + 1, "detail": format!(
            "the ledger ends at seq {local_head}, but records up to {shipped_max} were shipped: it was truncated or rolled back")}));
    }
    if let Some((seq, code, detail)) = first_problem {
        problems.push(serde_json::json!({"code": code, "seq": seq, "detail": detail}));
    }
    let skipped: Vec<serde_json::Value> = others
        .iter()
        .map(|(id, n)| serde_json::json!({"ledger_id": frame::to_hex(id), "records": n}))
        .collect();
    let intact = report.intact && problems.is_empty();
    if json {
        let out = serde_json::json!({"intact": intact, "chain": report, "against": files,
            "shipped_records": mine, "shipped_through": shipped_max,
            "skipped_ledgers": skipped, "problems": problems});
        super::out(&format!("{out}\n"))?;
    } else {
        let mut text = render(report);
        text.push_str(&format!(
            "against  {shown} ({mine} records of this ledger shipped, through seq {shipped_max})\n"
        ));
        for (id, n) in &others {
            text.push_str(&format!(
                "skipped  {n} records of ledger {} (another ledger's exports)\n",
                frame::to_hex(id)
            ));
        }
        for p in &problems {
            text.push_str(&format!(
                "  {}: {}\n",
                p["code"].as_str().unwrap_or("?"),
                p["detail"].as_str().unwrap_or("")
            ));
        }
        text.push_str(if intact {
            "consistent with what was shipped\n"
        } else {
            "NOT consistent with what was shipped\n"
        });
        super::out(&text)?;
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
