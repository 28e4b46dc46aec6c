//! `hookledger prune --before DATE`: retention. Removes old records every sink has
//! acknowledged, keeping the ledger verifiable from the signed checkpoint where the kept part
//! begins. Nothing prunes by default; a ledger that does not verify is never pruned.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::ledger::{Ledger, OpenOptions, prune};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove records older than this (a date like 2026-08-01, RFC 3339, or an age like 90d)
    #[arg(long, value_name = "DATE", required_unless_present = "adopt_unsigned")]
    pub before: Option<String>,
    /// Restate, signed with the ledger's key, removals that unsigned `prune` records from
    /// releases before signed prunes claim (`verify` reports those as `bad-prune`). Such a
    /// record cannot be told from a forgery: run this only after checking the range against
    /// what was shipped
    #[arg(long, conflicts_with_all = ["before", "dry_run", "vacuum"])]
    pub adopt_unsigned: bool,
    /// Show what would be removed, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite the database file afterwards to give the space back (takes a while)
    #[arg(long)]
    pub vacuum: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let path = super::existing_ledger(ledger)?;
    if args.adopt_unsigned {
        return adopt(&path, args.json);
    }
    let before = args.before.as_deref().unwrap_or_default();
    let before_ns = super::time::parse_time_arg(before, jiff::Timestamp::now())?;
    let report = crate::ledger::verify::verify(&path, &mut |_, _| {})
        .with_context(|| format!("cannot verify {}", path.display()))?;
    if !report.intact {
        bail!(
            "the ledger does not verify (first bad record: seq {}); pruning would destroy the evidence (hint: run `hookledger verify` and keep this file as it is)",
            report.first_bad_seq.unwrap_or(0)
        );
    }
    let mut ledger = Ledger::open(&path, &OpenOptions::default())
        .with_context(|| format!("cannot open {}", path.display()))?;
    let outcome = if args.dry_run {
        prune::plan(&ledger, before_ns)?
    } else {
        prune::prune(&mut ledger, before_ns)?
    };
    if args.vacuum && !args.dry_run && outcome.range.is_some() {
        ledger.vacuum().context("cannot vacuum the ledger")?;
    }
    if args.json {
        super::out(&format!(
            "{}\n",
            json!({"dry_run": args.dry_run, "plan": outcome})
        ))?;
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let text = match outcome.range {
            Some((first, last)) => format!(
                "{verb} records {first}..={last} ({} records); {}\n",
                last - first + 1,
                outcome.reason
            ),
            None => format!("nothing to prune: {}\n", outcome.reason),
        };
        super::out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn adopt(path: &Path, json_out: bool) -> anyhow::Result<ExitCode> {
    let mut ledger = Ledger::open(path, &OpenOptions::default())
        .with_context(|| format!("cannot open {}", path.display()))?;
    let adoptions = prune::adopt_unsigned(&mut ledger)?;
    if json_out {
        super::out(&format!("{}\n", json!({ "adopted": adoptions })))?;
    } else if adoptions.is_empty() {
        super::out("no unsigned prune records: nothing to adopt\n")?;
    } else {
        let mut text = String::new();
        for a in &adoptions {
            let range = a
                .range
                .map(|r| format!("records {}..={}", r.first_seq, r.last_seq))
                .unwrap_or_else(|| "no range".into());
            let signed = a
                .signed_seq
                .map(|s| format!(" (signed record at seq {s})"))
                .unwrap_or_default();
            text.push_str(&format!(
                "prune record at seq {} ({range}): {}{signed}\n",
                a.seq, a.outcome
            ));
        }
        super::out(&text)?;
    }
    if adoptions.iter().any(|a| a.signed_seq.is_some()) {
        eprintln!(
            "the ledger's key now vouches for these removals; `hookledger verify` accepts their gaps"
        );
    }
    Ok(ExitCode::SUCCESS)
}
