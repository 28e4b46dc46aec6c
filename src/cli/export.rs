//! `hookledger export`: the ledger as NDJSON for a SIEM (native, ECS or OCSF), with a signed
//! checkpoint on every export, at-least-once named cursors and rotated segment files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::export::{self, Format, WriteOptions, segments};
use crate::ledger::{Ledger, checkpoint, frame};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Line format
    #[arg(long, value_enum, default_value = "native")]
    pub format: Format,
    /// Export records after this sequence number (0: from the genesis record)
    #[arg(long, value_name = "N", conflicts_with = "sink")]
    pub since_seq: Option<u64>,
    /// A named cursor kept in the ledger: export what the sink has not acknowledged
    #[arg(long, value_name = "NAME")]
    pub sink: Option<String>,
    /// Record that the sink received the batch last written for it (moves its cursor)
    #[arg(long, requires = "sink")]
    pub ack: bool,
    /// With --ack: the last seq the receiver confirmed; refused if the pending batch differs
    #[arg(long, value_name = "SEQ", requires = "ack")]
    pub through: Option<u64>,
    /// Write to FILE (atomically: a temporary name, fsync, then rename) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "rotate")]
    pub output: Option<PathBuf>,
    /// Write segment files with manifests into DIR for a file shipper to tail; the sink's
    /// cursor (default `dir:DIR`) moves once they are durably there
    #[arg(long, value_name = "DIR")]
    pub rotate: Option<PathBuf>,
    /// Records per segment file with --rotate
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub segment_records: u64,
    /// Do not append a signed checkpoint before exporting
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Native lines also carry `payload_b64`, the exact payload bytes (for receivers that
    /// cannot re-canonicalize JSON with RFC 8785)
    #[arg(long)]
    pub payload_b64: bool,
    /// Print a summary as JSON on stdout (with -o or --rotate, where stdout is free)
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let mut ledger = super::writable_ledger(ledger)?;
    if args.json && args.output.is_none() && args.rotate.is_none() && !args.ack {
        bail!("--json prints a summary on stdout; use it with -o FILE or --rotate DIR");
    }
    if args.ack {
        let sink = args.sink.as_deref().unwrap_or_default();
        let seq = export::acknowledge(&ledger, sink, args.through)?;
        if args.json {
            super::out(&format!(
                "{}\n",
                json!({"sink": sink, "acknowledged_through": seq})
            ))?;
        }
        eprintln!("sink {sink:?} acknowledged through seq {seq}");
        return Ok(ExitCode::SUCCESS);
    }
    // Every export ends with a fresh signed checkpoint, so what ships commits to the head.
    if !args.no_checkpoint {
        checkpoint::append_checkpoint(&mut ledger, "export")
            .context("cannot append the export checkpoint")?;
    }
    let (head, _) = ledger.head()?;
    let sink = match (&args.sink, &args.rotate) {
        (Some(sink), _) => Some(sink.clone()),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Some(format!("dir:{}", absolute(dir).display()))
        }
        (None, None) => None,
    };
    let from = match (&sink, args.since_seq) {
        (Some(sink), _) => export::cursor(&ledger, sink)?.acked + 1,
        (None, Some(n)) => n + 1,
        (None, None) => 1,
    };
    let options = WriteOptions {
        format: args.format,
        payload_b64: args.payload_b64,
    };
    if let Some(dir) = &args.rotate {
        return rotate(
            &ledger,
            dir,
            sink.as_deref().unwrap_or_default(),
            from,
            head,
            args,
            options,
        );
    }
    let written = match &args.output {
        Some(file) => segments::write_file(file, |out| {
            export::write_records(&ledger, from, head, options, out)
        })
        .with_context(|| format!("cannot write {}", file.display()))?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let written = export::write_records(&ledger, from, head, options, &mut lock)?;
            lock.flush()?;
            written
        }
    };
    if let Some(sink) = &sink {
        export::set_pending(&ledger, sink, head)?;
    }
    if args.json {
        super::out(&format!(
            "{}\n",
            json!({
                "ledger_id": frame::to_hex(ledger.ledger_id()),
                "format": args.format.name(),
                "records": written.count,
                "first_seq": from,
                "last_seq": written.last.map(|(s, _)| s),
                "last_hash": written.last.map(|(_, h)| frame::to_hex(&h)),
                "sink": sink,
                "output": args.output.as_ref().map(|p| p.display().to_string()),
            })
        ))?;
    }
    match &sink {
        Some(sink) => eprintln!(
            "exported {} records (seq {from}..={head}) for sink {sink:?}; once they are delivered, run `hookledger export --sink {sink} --ack --through {head}`",
            written.count
        ),
        None => eprintln!("exported {} records (seq {from}..={head})", written.count),
    }
    Ok(ExitCode::SUCCESS)
}

fn rotate(
    ledger: &Ledger,
    dir: &Path,
    sink: &str,
    from: u64,
    head: u64,
    args: &Args,
    options: WriteOptions,
) -> anyhow::Result<ExitCode> {
    let manifests =
        segments::write_segments(ledger, dir, from, head, args.segment_records, options)
            .with_context(|| format!("cannot write segments into {}", dir.display()))?;
    // The files are durably in the directory the shipper tails: that is this sink's delivery.
    if let Some(last) = manifests.last() {
        export::advance(ledger, sink, last.last_seq)?;
    }
    let records: u64 = manifests.iter().map(|m| m.records).sum();
    if args.json {
        super::out(&format!(
            "{}\n",
            json!({"sink": sink, "directory": dir.display().to_string(), "records": records, "segments": manifests})
        ))?;
    }
    eprintln!(
        "wrote {} segment(s) with {records} records (seq {from}..={head}) into {}; sink {sink:?} is at seq {}",
        manifests.len(),
        dir.display(),
        manifests
            .last()
            .map_or(from.saturating_sub(1), |m| m.last_seq)
    );
    Ok(ExitCode::SUCCESS)
}

fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned())
}
