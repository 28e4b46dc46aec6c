//! `hookledger-server records`: the stored, verified records of every machine for a period, as
//! one NDJSON stream that `hookledger report --store` reads (the hook binary links no database
//! client, so the report asks this binary). The envelope (docs/server.md, "Fleet reports"):
//!
//! - per machine, in name order: one `hookledger-fleet-machine/1` line, the machine as
//!   `machines --json` shows it (chain status, codes, findings), then its ledger's records as
//!   `hookledger-native/2` lines: those in `[since, until)` and every session-start before
//!   `until` (who ran a session is in its start, which may precede the period);
//! - last, one `hookledger-fleet-end/1` line with the counts, so a reader can tell a complete
//!   stream from a cut one.
//!
//! Only what the server stored is sent, and it stores only records that verified.

use std::io::Write;

use anyhow::Context;
use hookledger_ledger::export::{RecordRef, native};
use serde_json::json;

use crate::store::Store;

pub const MACHINE_FORMAT: &str = "hookledger-fleet-machine/1";
pub const END_FORMAT: &str = "hookledger-fleet-end/1";

pub async fn write(
    store: &Store,
    since_ns: i64,
    until_ns: i64,
    max_silence_ns: i64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let now = hookledger_ledger::now_ns();
    let machines = store.machines().await?;
    let mut records = 0u64;
    let mut line = Vec::new();
    for machine in &machines {
        let view = crate::cli::machine_json(machine, now, max_silence_ns);
        serde_json::to_writer(
            &mut *out,
            &json!({"format": MACHINE_FORMAT, "machine": view}),
        )?;
        out.write_all(b"\n")?;
        let Some(ledger_id) = &machine.ledger_id else {
            continue;
        };
        let stored = store
            .report_records(ledger_id, since_ns, until_ns)
            .await
            .with_context(|| format!("cannot read the records of {:?}", machine.name))?;
        for record in &stored {
            line.clear();
            native::write_line(ledger_id, &RecordRef::from(record), false, &mut line);
            out.write_all(&line)?;
        }
        records += stored.len() as u64;
    }
    serde_json::to_writer(
        &mut *out,
        &json!({
            "format": END_FORMAT,
            "machines": machines.len(),
            "records": records,
            "since_ns": since_ns.to_string(),
            "until_ns": until_ns.to_string(),
        }),
    )?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
