//! `hookledger checkpoint`: append a signed checkpoint now. Run it from a timer (systemd, cron,
//! launchd) together with an export, so the receiver hears from an idle ledger too: silence
//! and rollback are then visible centrally (`verify-export --max-silence`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::ledger::{Ledger, checkpoint, frame, now_ns};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only if the newest checkpoint is older than this (e.g. 1h) or does not cover the head
    #[arg(long, value_name = "DURATION")]
    pub if_older_than: Option<String>,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let mut ledger = super::writable_ledger(ledger)?;
    if let Some(age) = &args.if_older_than {
        let limit = super::time::parse_duration_ns(age)?;
        let (head, _) = ledger.head()?;
        let newest = checkpoint::newest(&ledger)?;
        // A newest checkpoint dated in the future (signed under a wrong or faked clock) is
        // never "recent": receivers do not count it as proof of life, so sign a true one.
        let now = now_ns();
        if let Some((seq, time_ns)) = newest
            && seq == head
            && !checkpoint::is_future(time_ns, now, checkpoint::CLOCK_SKEW_NS)
            && now.saturating_sub(time_ns) <= limit
        {
            report(args.json, false, seq, &ledger)?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let appended = checkpoint::append_checkpoint(&mut ledger, "heartbeat")
        .context("cannot append a checkpoint (is the signing key beside the ledger?)")?;
    report(args.json, true, appended.seq, &ledger)?;
    Ok(ExitCode::SUCCESS)
}

fn report(json_out: bool, appended: bool, seq: u64, ledger: &Ledger) -> anyhow::Result<()> {
    if json_out {
        super::out(&format!(
            "{}\n",
            json!({"appended": appended, "checkpoint_seq": seq, "ledger_id": frame::to_hex(ledger.ledger_id())})
        ))?;
    } else if appended {
        eprintln!("appended a signed checkpoint at seq {seq}");
    } else {
        eprintln!("the newest checkpoint (seq {seq}) is recent and covers the head: nothing to do");
    }
    Ok(())
}
