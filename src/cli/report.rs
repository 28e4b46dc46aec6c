//! `hookledger report`: the auditor's evidence pack for a period, as self-contained HTML,
//! JSON and/or Markdown. One run leaves ONE `report` record in the ledger, whatever formats
//! it writes: the period, the reviewer, the note, the files, and the BLAKE3 of the canonical
//! JSON of the report model (the same for every format), so later reports list the review.
//! A report made from within an agent's tool call is recorded as such and is not a review.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::ledger::record::Review;
use crate::ledger::{Kind, Ledger, NewRecord, OpenOptions, now_ns};
use crate::report::{self, Inputs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
    Md,
}

impl ReportFormat {
    fn name(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
            ReportFormat::Md => "md",
        }
    }

    fn of_extension(path: &Path) -> Option<ReportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "html" | "htm" => Some(ReportFormat::Html),
            "json" => Some(ReportFormat::Json),
            "md" | "markdown" => Some(ReportFormat::Md),
            _ => None,
        }
    }
}

/// Environment variables Claude Code sets in the processes its tools spawn (and, for
/// `CLAUDECODE`, in IDE terminals too: a report there is not counted as a review either,
/// since nothing tells a person's terminal from the agent's).
pub const AGENT_ENV: &[&str] = &[
    "CLAUDECODE",
    "CLAUDE_CODE_CHILD_SESSION",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SESSION_ID",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start of the period (2026-10-01, RFC 3339, or an age like 90d)
    #[arg(long, value_name = "DATE", default_value = "30d")]
    pub since: String,
    /// End of the period, exclusive [default: now]
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Output formats, comma-separated (html,json,md) [default: from each -o extension, else
    /// html]
    #[arg(long, value_enum, value_delimiter = ',')]
    pub format: Vec<ReportFormat>,
    /// Write to FILE instead of stdout (repeatable; the format comes from the extension).
    /// With several --format and one -o, FILE's extension is replaced by each format's
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Who signs off this review [default: the OS user]
    #[arg(long, value_name = "NAME")]
    pub reviewer: Option<String>,
    /// A note kept with the review (what was looked at, follow-ups)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Do not record this report in the ledger
    #[arg(long)]
    pub no_record: bool,
    /// A fleet report: every machine in a hookledger-server store (sqlite:PATH or
    /// postgres://…), read through `hookledger-server records`
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,
    /// The hookledger-server binary that reads --store [default: beside this executable, else
    /// on PATH]
    #[arg(
        long,
        value_name = "FILE",
        env = "HOOKLEDGER_SERVER_BIN",
        requires = "store"
    )]
    pub server_bin: Option<PathBuf>,
    /// With --store: a machine with no plausible signed checkpoint for this long is `silent`
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "24h",
        requires = "store"
    )]
    pub max_silence: String,
}

/// Which formats go where: `None` is standard output.
fn plan(args: &Args) -> anyhow::Result<Vec<(ReportFormat, Option<PathBuf>)>> {
    let mut formats = args.format.clone();
    formats.dedup();
    let mut seen = std::collections::BTreeSet::new();
    if formats.iter().any(|f| !seen.insert(*f)) {
        bail!("--format names a format twice");
    }
    let plan: Vec<(ReportFormat, Option<PathBuf>)> = match (formats.len(), args.output.len()) {
        (0, 0) => vec![(ReportFormat::Html, None)],
        (1, 0) => vec![(formats[0], None)],
        (_, 0) => bail!(
            "several formats cannot all go to standard output: add -o FILE (one name, or one file per format)"
        ),
        (0, _) => args
            .output
            .iter()
            .map(|o| {
                (
                    ReportFormat::of_extension(o).unwrap_or(ReportFormat::Html),
                    Some(o.clone()),
                )
            })
            .collect(),
        (1, 1) => vec![(formats[0], Some(args.output[0].clone()))],
        (_, 1) => {
            let base = &args.output[0];
            let stem = if ReportFormat::of_extension(base).is_some() {
                base.with_extension("")
            } else {
                base.clone()
            };
            formats
                .iter()
                .map(|f| {
                    let mut name = stem.clone().into_os_string();
                    name.push(".");
                    name.push(f.name());
                    (*f, Some(PathBuf::from(name)))
                })
                .collect()
        }
        (_, _) => {
            let mut plan = Vec::new();
            for output in &args.output {
                match ReportFormat::of_extension(output) {
                    Some(f) if formats.contains(&f) => plan.push((f, Some(output.clone()))),
                    _ => bail!(
                        "{}: with several -o, each file's extension (.html, .json, .md) must name one of the --format formats",
                        output.display()
                    ),
                }
            }
            for f in &formats {
                if !plan.iter().any(|(p, _)| p == f) {
                    bail!("--format {} has no -o FILE with that extension", f.name());
                }
            }
            plan
        }
    };
    let mut paths = std::collections::BTreeSet::new();
    for (_, output) in &plan {
        if let Some(path) = output
            && !paths.insert(path.clone())
        {
            bail!("{} is given twice", path.display());
        }
    }
    Ok(plan)
}

/// The variables of [`AGENT_ENV`] set in this process.
fn agent_env() -> Vec<String> {
    AGENT_ENV
        .iter()
        .filter(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0"))
        .map(|var| (*var).to_owned())
        .collect()
}

/// What `--since`, `--until` and `--reviewer` say, as a local and a fleet report read them.
struct Period {
    since_ns: i64,
    until_ns: i64,
    /// `--reviewer`, else the OS user.
    reviewer: Option<String>,
}

fn period(args: &Args) -> anyhow::Result<Period> {
    let now = jiff::Timestamp::now();
    let since_ns = super::time::parse_time_arg(&args.since, now)?;
    let until_ns = match &args.until {
        Some(text) => super::time::parse_time_arg(text, now)?,
        None => now_ns().saturating_add(1),
    };
    if until_ns <= since_ns {
        bail!("--until must be after --since");
    }
    let reviewer = args
        .reviewer
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(crate::config::os_user);
    Ok(Period {
        since_ns,
        until_ns,
        reviewer,
    })
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let plan = plan(args)?;
    if let Some(store) = &args.store {
        return run_fleet(ledger, store, args, &plan);
    }
    let path = super::existing_ledger(ledger)?;
    let Period {
        since_ns,
        until_ns,
        reviewer,
    } = period(args)?;
    let verify = crate::ledger::verify::verify(&path, &mut |_, _| {})
        .with_context(|| format!("cannot verify {}", path.display()))?;
    let ledger =
        Ledger::open_read_only(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let home = crate::config::Paths::from_env().ok().map(|p| p.home);
    let report = report::collect(&Inputs {
        ledger: &ledger,
        ledger_path: &path,
        since_ns,
        until_ns,
        hookledger_home: home.as_deref(),
        verify: &verify,
        reviewer: reviewer.clone(),
    })?;
    drop(ledger);
    let agent = agent_env();
    write_and_record(&report, args, &plan, Some(&path), &reviewer, &agent)?;
    eprintln!(
        "report for {} to {}: {} records, {} refused, {} asked; ledger {}; digest {}{}",
        report.period.since,
        report.period.until,
        report.scope.records,
        report.totals.denied,
        report.totals.asked,
        if report.integrity.intact {
            "verifies"
        } else {
            "does NOT verify"
        },
        report::digest(&report),
        recorded_note(args.no_record, &agent, reviewer.as_deref()),
    );
    Ok(ExitCode::SUCCESS)
}

fn recorded_note(no_record: bool, agent: &[String], reviewer: Option<&str>) -> String {
    match (no_record, agent.is_empty()) {
        (true, _) => String::from("; not recorded"),
        (false, true) => format!("; recorded as a review by {}", reviewer.unwrap_or("?")),
        (false, false) => format!(
            "; recorded, NOT as a review: made from within a Claude Code tool call ({})",
            agent.join(", ")
        ),
    }
}

/// Writes every planned format and, unless `--no-record` or there is no ledger, leaves the one
/// review record in `ledger`.
fn write_and_record(
    report: &report::Report,
    args: &Args,
    plan: &[(ReportFormat, Option<PathBuf>)],
    ledger: Option<&Path>,
    reviewer: &Option<String>,
    agent: &[String],
) -> anyhow::Result<()> {
    let digest = report::digest(report);
    for (format, output) in plan {
        let text = match format {
            ReportFormat::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
            ReportFormat::Html => report::html::render(report),
            ReportFormat::Md => report::markdown::render(report),
        };
        match output {
            Some(file) => crate::output::write_bytes(
                file,
                text.as_bytes(),
                &crate::output::Options::default(),
            )
            .with_context(|| format!("cannot write {}", file.display()))?,
            None => super::out(&text)?,
        }
    }
    let Some(path) = ledger else {
        return Ok(());
    };
    if !args.no_record {
        let note = Review {
            by: reviewer.clone(),
            reviewer: reviewer.clone(),
            host: Some(crate::config::host_name()),
            note: args.note.clone(),
            period: serde_json::json!({"since": report.period.since, "until": report.period.until}),
            digest: Some(digest),
            records: report.scope.records,
            denied: report.totals.denied,
            asked: report.totals.asked,
            formats: Some(plan.iter().map(|(f, _)| f.name().to_owned()).collect()),
            outputs: Some(
                plan.iter()
                    .filter_map(|(_, o)| o.as_ref().map(|p| p.display().to_string()))
                    .collect(),
            ),
            by_agent: Some(!agent.is_empty()),
            agent_env: (!agent.is_empty()).then(|| agent.to_vec()),
            ..Review::default()
        };
        let record = NewRecord::of(now_ns(), Kind::Report, &note)?;
        // Spooled when the ledger is busy, like every other record.
        crate::ledger::record_or_spool(path, &OpenOptions::default(), &record)
            .with_context(|| format!("cannot record the report in {}", path.display()))?;
    }
    Ok(())
}

/// The hookledger-server binary: `--server-bin`/`HOOKLEDGER_SERVER_BIN`, else beside this
/// executable, else on PATH.
fn server_binary(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(bin) = &args.server_bin {
        return Ok(bin.clone());
    }
    let name = format!("hookledger-server{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.is_file());
    if let Some(path) = beside {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
        .with_context(|| {
            "hookledger-server not found (beside hookledger or on PATH): report --store reads the store through it; install it or give --server-bin FILE"
        })
}

/// `report --store`: the fleet report. The records come from `hookledger-server records` (this
/// binary links no database client); the review is recorded in the local ledger when there is
/// one (the reviewer's workstation), else not recorded.
fn run_fleet(
    ledger: Option<&Path>,
    store: &str,
    args: &Args,
    plan: &[(ReportFormat, Option<PathBuf>)],
) -> anyhow::Result<ExitCode> {
    let Period {
        since_ns,
        until_ns,
        reviewer,
    } = period(args)?;
    let bin = server_binary(args)?;
    let mut child = std::process::Command::new(&bin)
        .arg("records")
        // Through the environment, not the command line: a PostgreSQL URL may carry a
        // password, and command lines are visible to every user of the machine.
        .env("HOOKLEDGER_SERVER_STORE", store)
        .arg(format!("--since-ns={since_ns}"))
        .arg(format!("--until-ns={until_ns}"))
        .arg("--max-silence")
        .arg(&args.max_silence)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let stdout = child
        .stdout
        .take()
        .context("hookledger-server's output is not readable")?;
    // Its messages are read on the side so a chatty child cannot block on a full pipe.
    let stderr = child.stderr.take();
    let messages = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text
    });
    let read = report::fleet::read_stream(std::io::BufReader::new(stdout));
    let status = child
        .wait()
        .with_context(|| format!("{} did not finish", bin.display()))?;
    let messages = messages.join().unwrap_or_default();
    if !status.success() {
        let last = messages
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        bail!(
            "cannot read the store {}: {last}",
            report::fleet::display_store(store)
        );
    }
    let ledgers = read?;
    let home = crate::config::Paths::from_env().ok().map(|p| p.home);
    let shown = report::fleet::display_store(store);
    let report = report::fleet::collect_fleet(
        &report::Window {
            since_ns,
            until_ns,
            hookledger_home: home.as_deref(),
            reviewer: reviewer.clone(),
        },
        &shown,
        ledgers,
    )?;
    // The reviewer's own ledger, if this workstation has one: the review is evidence too.
    let local = super::existing_ledger(ledger).ok();
    let agent = agent_env();
    write_and_record(&report, args, plan, local.as_deref(), &reviewer, &agent)?;
    let fleet = report.fleet.as_ref();
    let not_verified = fleet.map_or(0, |f| {
        f.machines
            .iter()
            .filter(|m| m.status != report::fleet::MachineStatus::Verified)
            .count()
    });
    eprintln!(
        "fleet report for {} to {}: {} machines ({} not verified), {} records, {} refused, {} asked; digest {}{}",
        report.period.since,
        report.period.until,
        fleet.map_or(0, |f| f.machines.len()),
        not_verified,
        report.scope.records,
        report.totals.denied,
        report.totals.asked,
        report::digest(&report),
        match &local {
            Some(path) if !args.no_record => format!(
                "{} (in {})",
                recorded_note(false, &agent, reviewer.as_deref()),
                path.display()
            ),
            _ if args.no_record => recorded_note(true, &agent, None),
            _ => "; not recorded: no local ledger".to_owned(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(format: &[ReportFormat], output: &[&str]) -> Args {
        Args {
            since: "30d".into(),
            until: None,
            format: format.to_vec(),
            output: output.iter().map(PathBuf::from).collect(),
            reviewer: None,
            note: None,
            no_record: false,
            store: None,
            server_bin: None,
            max_silence: "24h".into(),
        }
    }

    #[test]
    fn formats_and_outputs_pair_up() {
        use ReportFormat::*;
        assert_eq!(plan(&args(&[], &[])).unwrap(), [(Html, None)]);
        assert_eq!(plan(&args(&[Md], &[])).unwrap(), [(Md, None)]);
        assert!(plan(&args(&[Html, Json], &[])).is_err());
        assert_eq!(
            plan(&args(&[], &["a.json", "b.md", "c.txt"])).unwrap(),
            [
                (Json, Some("a.json".into())),
                (Md, Some("b.md".into())),
                (Html, Some("c.txt".into()))
            ]
        );
        assert_eq!(
            plan(&args(&[Html, Json, Md], &["out/ev.html"])).unwrap(),
            [
                (Html, Some("out/ev.html".into())),
                (Json, Some("out/ev.json".into())),
                (Md, Some("out/ev.md".into()))
            ]
        );
        assert_eq!(
            plan(&args(&[Json, Md], &["r.md", "r.json"])).unwrap(),
            [(Md, Some("r.md".into())), (Json, Some("r.json".into()))]
        );
        assert!(plan(&args(&[Json, Md], &["r.md", "r.html"])).is_err());
        assert!(plan(&args(&[], &["r.md", "r.md"])).is_err());
        assert!(plan(&args(&[Json, Json], &["r.json"])).is_ok());
    }
}
