//! `hookledger verify-export FILE…`: the receiver's check of shipped batches. Exit 0 intact,
//! 1 problems found, 2 could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::export::receive::{ReceiveOptions, Receiver, Report};
use crate::ledger::frame;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NDJSON batches, in any order, duplicates allowed ("-" for stdin)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
    /// The ledger's public key (hex), when its genesis record is not among the files
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
    /// Records before this sequence number were verified earlier (not a gap)
    #[arg(long, value_name = "N")]
    pub start_seq: Option<u64>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let public_key = match &args.public_key {
        Some(hex) => Some(
            frame::from_hex::<32>(hex.trim())
                .context("--public-key must be 64 hex digits (an Ed25519 public key)")?,
        ),
        None => None,
    };
    let mut receiver = Receiver::new();
    for file in &args.files {
        let bytes = if file.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
            buf
        } else {
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
        };
        receiver.add_batch(&bytes, &file.display().to_string());
    }
    let report = receiver.finish(&ReceiveOptions {
        public_key,
        start_seq: args.start_seq,
    });
    if report.ledgers.is_empty() && report.problems.is_empty() {
        bail!("no records in the files given");
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

fn render(report: &Report) -> String {
    let mut text = String::new();
    for problem in &report.problems {
        text.push_str(&format!("{}: {}\n", problem.code, problem.detail));
    }
    for ledger in &report.ledgers {
        text.push_str(&format!(
            "ledger {}: {} records (seq {}..={}), {} duplicates, {} checkpoints verified{}\n",
            ledger.ledger_id,
            ledger.records,
            ledger.first_seq,
            ledger.last_seq,
            ledger.duplicates,
            ledger.checkpoints_verified,
            ledger
                .last_checkpoint
                .as_ref()
                .map(|c| format!(", last covers seq {}", c.seq))
                .unwrap_or_default()
        ));
        for problem in &ledger.problems {
            text.push_str(&format!(
                "  {}{}: {}\n",
                problem.code,
                problem
                    .seq
                    .map(|s| format!(" at seq {s}"))
                    .unwrap_or_default(),
                problem.detail
            ));
        }
    }
    text.push_str(if report.intact {
        "intact\n"
    } else {
        "NOT intact\n"
    });
    text
}
