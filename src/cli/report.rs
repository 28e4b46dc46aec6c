//! `hookledger report`: the auditor's evidence pack for a period, as self-contained HTML,
//! JSON or Markdown. Making a report leaves a `report` record in the ledger (the period, who,
//! and the BLAKE3 of the JSON form), so later reports show that reviews happened.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::ledger::{Ledger, NewRecord, OpenOptions, canonical_json, now_ns};
use crate::report::{self, Inputs, REPORT_KIND};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
    Md,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start of the period (2026-10-01, RFC 3339, or an age like 90d)
    #[arg(long, value_name = "DATE", default_value = "30d")]
    pub since: String,
    /// End of the period, exclusive [default: now]
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Output format [default: from the -o extension, else html]
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write to FILE instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Do not record this report in the ledger
    #[arg(long)]
    pub no_record: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let path = super::existing_ledger(ledger)?;
    let now = jiff::Timestamp::now();
    let since_ns = super::time::parse_time_arg(&args.since, now)?;
    let until_ns = match &args.until {
        Some(text) => super::time::parse_time_arg(text, now)?,
        None => now_ns().saturating_add(1),
    };
    if until_ns <= since_ns {
        bail!("--until must be after --since");
    }
    let format = args.format.unwrap_or_else(|| {
        match args
            .output
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
        {
            Some("json") => ReportFormat::Json,
            Some("md" | "markdown") => ReportFormat::Md,
            _ => ReportFormat::Html,
        }
    });
    let verify = crate::ledger::verify::verify(&path, &mut |_, _| {})
        .with_context(|| format!("cannot verify {}", path.display()))?;
    let ledger =
        Ledger::open_read_only(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let policy = load_policy();
    let report = report::collect(&Inputs {
        ledger: &ledger,
        ledger_path: &path,
        since_ns,
        until_ns,
        policy: policy.as_ref(),
        verify: &verify,
    })?;
    drop(ledger);
    let json = serde_json::to_string_pretty(&report)?;
    let digest = blake3::hash(json.as_bytes()).to_hex().to_string();
    let text = match format {
        ReportFormat::Json => format!("{json}\n"),
        ReportFormat::Html => report::html::render(&report),
        ReportFormat::Md => report::markdown::render(&report),
    };
    match &args.output {
        Some(file) => {
            crate::output::write_bytes(file, text.as_bytes(), &crate::output::Options::default())
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        None => super::out(&text)?,
    }
    if !args.no_record {
        let record = NewRecord {
            ts_ns: now_ns(),
            kind: REPORT_KIND.into(),
            payload: canonical_json(&report::review_payload(
                &report,
                &digest,
                args.output.as_deref(),
            )),
        };
        // Spooled when the ledger is busy, like every other record.
        crate::ledger::record_or_spool(&path, &OpenOptions::default(), &record)
            .with_context(|| format!("cannot record the report in {}", path.display()))?;
    }
    eprintln!(
        "report for {} to {}: {} records, {} refused, {} asked; ledger {}; JSON digest {digest}",
        report.period.since,
        report.period.until,
        report.scope.records,
        report.totals.denied,
        report.totals.asked,
        if report.integrity.intact {
            "verifies"
        } else {
            "does NOT verify"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The policy in force, for the allowlist column; a broken policy leaves it empty.
fn load_policy() -> Option<crate::policy::Policy> {
    let paths = crate::config::Paths::from_env().ok()?;
    let (layers, _errors) = crate::policy::file::load_layers(&paths.home);
    Some(crate::policy::Policy::new(layers, &paths.home))
}
