//! `hookledger verify-export FILE|DIR…`: the receiver's check of shipped batches, in any
//! format, from any mix of ledgers. Exit 0 intact, 1 problems found, 2 could not run.
//!
//! Files are streamed, never read whole: memory stays bounded whatever their size.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::export::receive::{Problem, ProblemCode, ReceiveOptions, Receiver, Report};
use crate::export::segments;
use crate::ledger::frame::{self, LedgerId};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NDJSON batches or directories of segment files, in any order, duplicates allowed, from
    /// any number of ledgers ("-" for stdin)
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
    /// A ledger's public key (hex), when its genesis record is not among the files; LEDGER=HEX
    /// for one ledger (repeatable), a bare HEX for every ledger
    #[arg(long, value_name = "[LEDGER=]HEX")]
    pub public_key: Vec<String>,
    /// Records before this sequence number were verified earlier (not a gap); LEDGER=N for one
    /// ledger (repeatable), a bare N for every ledger
    #[arg(long, value_name = "[LEDGER=]N")]
    pub start_seq: Vec<String>,
    /// Report a ledger whose newest plausible signed checkpoint is older than this (e.g. 24h,
    /// 7d): silence means its machine stopped exporting
    #[arg(long, value_name = "DURATION")]
    pub max_silence: Option<String>,
    /// How far a checkpoint's signed time may be ahead of this machine's clock; later ones are
    /// reported (`future-checkpoint`) and do not count as proof of life
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub clock_skew: String,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (public_key, public_keys) = per_ledger(&args.public_key, "--public-key", |text| {
        frame::from_hex::<32>(text.trim())
            .context("--public-key must be 64 hex digits (an Ed25519 public key)")
    })?;
    let (start_seq, start_seqs) = per_ledger(&args.start_seq, "--start-seq", |text| {
        text.trim()
            .parse::<u64>()
            .context("--start-seq must be a sequence number")
    })?;
    let max_silence_ns = match &args.max_silence {
        Some(text) => Some(super::time::parse_duration_ns(text)?),
        None => None,
    };
    let clock_skew_ns = super::time::parse_duration_ns(&args.clock_skew)?;
    let mut receiver = Receiver::new();
    let mut manifest_problems = Vec::new();
    for file in expand(&args.files)? {
        if file.as_os_str() == "-" {
            receiver
                .add_reader(&mut std::io::stdin().lock(), "stdin")
                .context("cannot read stdin")?;
            continue;
        }
        let handle = std::fs::File::open(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let name = file.display().to_string();
        match segments::read_manifest(&file) {
            None => receiver
                .add_file(&handle, &name)
                .with_context(|| format!("cannot read {name}"))?,
            Some(Err(detail)) => {
                manifest_problems.push(manifest_problem(detail));
                receiver
                    .add_file(&handle, &name)
                    .with_context(|| format!("cannot read {name}"))?;
            }
            // Streamed once, hashed on the way for the manifest.
            Some(Ok(manifest)) => {
                let mut hashing = Hashing {
                    inner: handle,
                    hasher: blake3::Hasher::new(),
                    bytes: 0,
                };
                receiver
                    .add_reader(&mut hashing, &name)
                    .with_context(|| format!("cannot read {name}"))?;
                let digest = hashing.hasher.finalize().to_hex();
                if let Err(detail) =
                    segments::compare_manifest(&file, &manifest, hashing.bytes, digest.as_str())
                {
                    manifest_problems.push(manifest_problem(detail));
                }
            }
        }
    }
    let mut report = receiver
        .finish(&ReceiveOptions {
            public_key,
            public_keys,
            start_seq,
            start_seqs,
            max_silence_ns,
            now_ns: crate::ledger::now_ns(),
            clock_skew_ns,
        })
        .context("cannot sort the records (temporary files go to $TMPDIR)")?;
    if !manifest_problems.is_empty() {
        report.intact = false;
        report.problem_count += manifest_problems.len() as u64;
        report.problems.extend(manifest_problems);
    }
    if report.ledgers.is_empty() && report.problems.is_empty() {
        bail!("no records in the files given");
    }
    super::verdict(args.json, &report, render, report.intact)
}

fn manifest_problem(detail: String) -> Problem {
    Problem {
        code: ProblemCode::ManifestMismatch,
        seq: None,
        detail,
    }
}

/// Values given as `LEDGER=VALUE` (one ledger) or `VALUE` (every ledger).
fn per_ledger<T>(
    given: &[String],
    flag: &str,
    parse: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<(Option<T>, HashMap<LedgerId, T>)> {
    let mut every = None;
    let mut one = HashMap::new();
    for text in given {
        match text.split_once('=') {
            Some((ledger, value)) => {
                let id = frame::from_hex::<16>(ledger.trim()).with_context(|| {
                    format!("{flag} {text}: the ledger id must be 32 hex digits")
                })?;
                one.insert(id, parse(value)?);
            }
            None if every.is_none() => every = Some(parse(text)?),
            None => bail!("{flag} without a ledger id was given twice; use LEDGER=VALUE"),
        }
    }
    Ok((every, one))
}

/// Counts and hashes what passes through, for the segment's manifest.
struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
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
    more(&mut text, report.problem_count, report.problems.len());
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
        for range in &ledger.pruned {
            text.push_str(&format!(
                "  pruned: {}\n",
                crate::ledger::prune::describe(range)
            ));
        }
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
        more(&mut text, ledger.problem_count, ledger.problems.len());
    }
    text.push_str(if report.intact {
        "intact\n"
    } else {
        "NOT intact\n"
    });
    text
}

fn more(text: &mut String, count: u64, listed: usize) {
    let unlisted = count.saturating_sub(listed as u64);
    if unlisted > 0 {
        text.push_str(&format!("  … and {unlisted} more problem(s)\n"));
    }
}
