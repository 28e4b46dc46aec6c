//! `hookledger verify-export FILE|DIR…`: the receiver's check of shipped batches, in any
//! format. Exit 0 intact, 1 problems found, 2 could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::export::receive::{Problem, ReceiveOptions, Receiver, Report};
use crate::export::segments;
use crate::ledger::frame;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NDJSON batches or directories of segment files, in any order, duplicates allowed
    /// ("-" for stdin)
    #[arg(required = true, value_name = "FILE|DIR")]
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
    /// Report a ledger whose newest signed checkpoint is older than this (e.g. 24h, 7d):
    /// silence means its machine stopped exporting
    #[arg(long, value_name = "DURATION")]
    pub max_silence: Option<String>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let public_key = match &args.public_key {
        Some(hex) => Some(
            frame::from_hex::<32>(hex.trim())
                .context("--public-key must be 64 hex digits (an Ed25519 public key)")?,
        ),
        None => None,
    };
    let now_ns = crate::ledger::now_ns();
    let max_silence_ns = match &args.max_silence {
        Some(text) => Some(super::time::parse_duration_ns(text)?),
        None => None,
    };
    let mut receiver = Receiver::new();
    let mut manifest_problems = Vec::new();
    for file in expand(&args.files)? {
        if file.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
            receiver.add_batch(&buf, "stdin");
            continue;
        }
        let handle = std::fs::File::open(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        // Mapped, not read: a batch of a million records is most of a gigabyte, and the pages
        // are only touched once.
        // SAFETY: the map is read-only and dropped before this function returns; a file
        // truncated underneath would fault (SIGBUS), which shippers do not do to delivered files.
        let map = if handle.metadata()?.len() == 0 {
            None
        } else {
            Some(
                unsafe { memmap2::Mmap::map(&handle) }
                    .with_context(|| format!("cannot map {}", file.display()))?,
            )
        };
        let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
        if let Some(Err(detail)) = segments::check_manifest(&file, bytes) {
            manifest_problems.push(Problem {
                code: "manifest-mismatch",
                seq: None,
                detail,
            });
        }
        receiver.add_batch(bytes, &file.display().to_string());
    }
    let mut report = receiver.finish(&ReceiveOptions {
        public_key,
        start_seq: args.start_seq,
        max_silence_ns,
        now_ns,
    });
    if !manifest_problems.is_empty() {
        report.intact = false;
        report.problems.extend(manifest_problems);
    }
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

/// Files as given, directories as the segment files in them (sorted by name).
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = segments::segment_files(path)
                .with_context(|| format!("cannot list {}", path.display()))?;
            if found.is_empty() {
                bail!("{} holds no *.ndjson segment files", path.display());
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
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
