//! `hookledger show SEQ [--json]`: one record in full.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::ledger::{Ledger, StoredRecord, frame::to_hex};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The record's sequence number
    pub seq: u64,
    /// Print the record as one JSON object
    #[arg(long)]
    pub json: bool,
}

/// The JSON view of a record shared by `log --json` and `show --json`.
pub fn record_json(record: &StoredRecord) -> serde_json::Value {
    let payload =
        serde_json::from_slice::<serde_json::Value>(&record.payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&record.payload).into_owned())
        });
    serde_json::json!({
        "seq": record.seq,
        "ts": super::time::rfc3339(record.ts_ns),
        "ts_ns": record.ts_ns,
        "kind": record.kind,
        "prev_hash": to_hex(&record.prev_hash),
        "hash": to_hex(&record.hash),
        "payload": payload,
    })
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let path = crate::config::ledger_path(ledger)?;
    let ledger =
        Ledger::open_read_only(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(record) = ledger.record(args.seq)? else {
        let (head, _) = ledger.head()?;
        anyhow::bail!(
            "no record {} in {} (the ledger has records 1..={head})",
            args.seq,
            path.display()
        );
    };
    let json = record_json(&record);
    if args.json {
        super::out(&format!("{json}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = format!(
        "seq        {}\ntime       {}\nkind       {}\nhash       {}\nprev_hash  {}\npayload\n{}\n",
        record.seq,
        super::time::rfc3339(record.ts_ns),
        record.kind,
        to_hex(&record.hash),
        to_hex(&record.prev_hash),
        serde_json::to_string_pretty(&json["payload"])?,
    );
    super::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
