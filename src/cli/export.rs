//! `hookledger export`: the ledger as NDJSON for a SIEM, with at-least-once named cursors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::export::{self, ExportError};
use crate::ledger::{Ledger, OpenOptions, checkpoint};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(long, default_value = "native", value_parser = ["native"])]
    pub format: String,
    /// Export records after this sequence number (0: from the genesis record)
    #[arg(long, value_name = "N", conflicts_with = "sink")]
    pub since_seq: Option<u64>,
    /// A named cursor kept in the ledger: export what the sink has not acknowledged
    #[arg(long, value_name = "NAME")]
    pub sink: Option<String>,
    /// Record that the sink received the batch last written for it (moves its cursor)
    #[arg(long, requires = "sink")]
    pub ack: bool,
    /// Write to FILE (atomically: a temporary name, then rename) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Do not append a signed checkpoint before exporting
    #[arg(long)]
    pub no_checkpoint: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let path = crate::config::ledger_path(ledger)?;
    if !path.exists() {
        bail!("ledger {} does not exist", path.display());
    }
    let mut ledger = Ledger::open(&path, &OpenOptions::default())
        .with_context(|| format!("cannot open {}", path.display()))?;
    if args.ack {
        let sink = args.sink.as_deref().unwrap_or_default();
        let seq = export::acknowledge(&ledger, sink)?;
        eprintln!("sink {sink:?} acknowledged through seq {seq}");
        return Ok(ExitCode::SUCCESS);
    }
    // Every export ends with a fresh signed checkpoint, so what ships commits to the head.
    if !args.no_checkpoint {
        checkpoint::append_checkpoint(&mut ledger, "export")
            .context("cannot append the export checkpoint")?;
    }
    let (head, _) = ledger.head()?;
    let from = match (&args.sink, args.since_seq) {
        (Some(sink), _) => export::cursor(&ledger, sink)?.acked + 1,
        (None, Some(n)) => n + 1,
        (None, None) => 1,
    };
    let count = match &args.output {
        Some(file) => write_atomically(file, |out| export::write_native(&ledger, from, head, out))?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let n = export::write_native(&ledger, from, head, &mut lock)?;
            lock.flush()?;
            n
        }
    };
    if let Some(sink) = &args.sink {
        export::set_pending(&ledger, sink, head)?;
        eprintln!(
            "exported {count} records (seq {from}..={head}) for sink {sink:?}; once they are delivered, run `hookledger export --sink {sink} --ack`"
        );
    } else {
        eprintln!("exported {count} records (seq {from}..={head})");
    }
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(
    file: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<u64, ExportError>,
) -> anyhow::Result<u64> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let temp = dir.join(format!(".{name}.partial"));
    let handle = std::fs::File::create(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, handle);
    let count = write(&mut out)?;
    let handle = out.into_inner().map_err(|e| e.into_error())?;
    handle.sync_all()?;
    std::fs::rename(&temp, file).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(count)
}
