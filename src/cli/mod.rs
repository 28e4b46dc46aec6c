/*!
The command line: clap definitions and dispatch. Each subcommand lives in its own file and
returns an exit code; this is the only layer that prints to stdout.
*/

mod blame;
mod checkpoint;
mod completions;
mod doctor;
mod export;
mod git;
mod hook;
mod install;
mod log;
mod man;
mod policy;
mod prune;
mod report;
mod ship;
mod show;
mod time;
mod verify;
mod verify_export;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hookledger",
    version,
    about = "Policy gate and tamper-evident ledger for Claude Code hooks"
)]
pub struct Cli {
    /// Ledger file to read [default: $HOOKLEDGER_HOME/ledger.db]
    #[arg(long, global = true, value_name = "PATH", env = "HOOKLEDGER_LEDGER")]
    pub ledger: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Handle one Claude Code hook event (reads the payload on stdin)
    Hook(hook::Args),
    /// Recompute the hash chain and report the first broken record
    Verify(verify::Args),
    /// List records, newest last, with filters for security review
    Log(log::Args),
    /// Print one record in full
    Show(show::Args),
    /// Export records as NDJSON for a SIEM (with a signed checkpoint and named cursors)
    Export(export::Args),
    /// Verify shipped export batches: hash links, gaps, forks, checkpoint signatures
    VerifyExport(verify_export::Args),
    /// Export straight to Splunk HEC or a JSON-lines HTTPS endpoint (cursor moves on 2xx)
    Ship(ship::Args),
    /// Append a signed checkpoint now (a heartbeat for timers)
    Checkpoint(checkpoint::Args),
    /// Remove old records every sink has acknowledged (retention); nothing prunes by default
    Prune(prune::Args),
    /// Validate the policy, or explain a decision without recording it
    Policy(policy::Args),
    /// Register hookledger's hooks in Claude Code's settings (merging, with a backup)
    Install(install::InstallArgs),
    /// Remove hookledger's hooks from Claude Code's settings, keeping everything else
    Uninstall(install::UninstallArgs),
    /// The auditor's evidence pack for a period (HTML, JSON or Markdown)
    Report(report::Args),
    /// Check that Claude Code really runs hookledger and that its ledger is healthy
    Doctor(doctor::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::Args),
    /// Print the manual page (roff)
    Man(man::Args),
    /// Git provenance: hook shims, the commit gate, notes, and `git verify` for CI
    Git(git::Args),
    /// Show a file line by line with the lines an AI wrote marked (model, session, prompt)
    Blame(blame::Args),
}

/// Exit code for "could not run" (bad arguments, unreadable files), as grep and verify use it.
pub const EXIT_ERROR: u8 = 2;

pub fn main() -> ExitCode {
    // Parse the hook's arguments by hand first: it is the hot path and must never print
    // clap's usage text to stdout, which Claude Code would read as its answer.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "hook") {
        return hook::run_from_args(&args[2..]);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &args),
    };
    let ledger = cli.ledger.as_deref();
    let result = match cli.command {
        Command::Hook(args) => Ok(hook::run(args)),
        Command::Verify(args) => verify::run(ledger, &args),
        Command::Log(args) => log::run(ledger, &args),
        Command::Show(args) => show::run(ledger, &args),
        Command::Export(args) => export::run(ledger, &args),
        Command::VerifyExport(args) => verify_export::run(&args),
        Command::Ship(args) => ship::run(ledger, &args),
        Command::Checkpoint(args) => checkpoint::run(ledger, &args),
        Command::Prune(args) => prune::run(ledger, &args),
        Command::Policy(args) => policy::run(&args),
        Command::Install(args) => install::run_install(&args),
        Command::Uninstall(args) => install::run_uninstall(&args),
        Command::Report(args) => report::run(ledger, &args),
        Command::Doctor(args) => doctor::run(ledger, &args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
        Command::Git(args) => git::run(ledger, &args),
        Command::Blame(args) => blame::run(ledger, &args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("{}", one_line(&error));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Help and version go to stdout; `hookledger` alone shows the help. Every other usage error
/// is one line on stderr that says where the usage is.
fn usage_error(error: &clap::Error, args: &[std::ffi::OsString]) -> ExitCode {
    use clap::error::ErrorKind;
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = error.print();
        return ExitCode::from(EXIT_ERROR);
    }
    let rendered = error.render().to_string();
    let mut message = Vec::new();
    let mut tips = Vec::new();
    let mut usage = subcommand_path(args);
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(format!("({tip})"));
        } else if let Some(rest) = line.strip_prefix("Usage: ") {
            usage = rest
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ");
        } else if !line.starts_with("For more information") {
            message.push(line.trim_start_matches("error: "));
        }
    }
    message.extend(tips.iter().map(String::as_str));
    let text = format!("hookledger: {}", message.join(" "));
    eprintln!("{text}; see `{usage} --help`");
    ExitCode::from(EXIT_ERROR)
}

/// `hookledger policy check` for `hookledger policy check --bogus`: the subcommands named in
/// the arguments, for pointing at the right `--help`.
fn subcommand_path(args: &[std::ffi::OsString]) -> String {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut path = vec!["hookledger".to_owned()];
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        let Some(sub) = command.find_subcommand(arg).cloned() else {
            continue;
        };
        path.push(arg.to_owned());
        command = sub;
    }
    path.join(" ")
}

/// The error as one line, with a hint for the failures whose own message has none.
fn one_line(error: &anyhow::Error) -> String {
    use crate::ledger::LedgerError;
    let hint = error.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<LedgerError>() {
            return match e {
                LedgerError::Missing(_) => Some(
                    "the first hook event creates it: check HOOKLEDGER_HOME or pass --ledger (`hookledger doctor` checks the setup)",
                ),
                LedgerError::NotALedger { .. } => {
                    Some("pass --ledger (or HOOKLEDGER_LEDGER) with a hookledger ledger")
                }
                LedgerError::Sqlite(e) | LedgerError::Open { source: e, .. }
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) =>
                {
                    Some("pass --ledger (or HOOKLEDGER_LEDGER) with a hookledger ledger")
                }
                LedgerError::Open { .. } | LedgerError::Io(_) => {
                    Some("check that the file and its directory exist and this user may read them")
                }
                e if e.is_busy() => {
                    Some("another process holds the ledger's write lock; try again in a moment")
                }
                _ => None,
            };
        }
        if cause.downcast_ref::<crate::policy::file::PolicyError>().is_some() {
            return Some("fix the policy file; `hookledger policy check` shows every error");
        }
        let io = cause.downcast_ref::<std::io::Error>()?;
        match io.kind() {
            std::io::ErrorKind::NotFound => Some("check the path"),
            std::io::ErrorKind::PermissionDenied => {
                Some("check the permissions, or run as the user who owns the file")
            }
            _ => None,
        }
    });
    // Each cause once: some (SQLite's) repeat the message of the error they wrap.
    let mut message = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !message.contains(&part) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&part);
        }
    }
    let text = match hint {
        Some(hint) => format!("hookledger: {message}; {hint}"),
        None => format!("hookledger: {message}"),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Colour for people at a terminal: never in a pipe or a file, never with `NO_COLOR` set
/// (anstream applies NO_COLOR, CLICOLOR, CLICOLOR_FORCE and TERM=dumb).
pub(crate) struct Paint {
    on: bool,
}

impl Paint {
    pub(crate) fn stdout() -> Self {
        Paint {
            on: anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
        }
    }

    fn paint(&self, style: anstyle::Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    pub(crate) fn good(&self, text: &str) -> String {
        let green = anstyle::AnsiColor::Green.on_default().bold();
        self.paint(green, text)
    }

    pub(crate) fn bad(&self, text: &str) -> String {
        let red = anstyle::AnsiColor::Red.on_default().bold();
        self.paint(red, text)
    }

    pub(crate) fn strong(&self, text: &str) -> String {
        self.paint(anstyle::Style::new().bold(), text)
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The ledger a command works on, which must exist already (only hooks create ledgers).
pub(crate) fn existing_ledger(explicit: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    let path = crate::config::ledger_path(explicit)?;
    if !path.exists() {
        anyhow::bail!(
            "ledger {} does not exist (hint: the first hook event creates it; check --ledger or HOOKLEDGER_HOME)",
            path.display()
        );
    }
    Ok(path)
}

/// Opens the (existing) ledger for appending.
pub(crate) fn writable_ledger(
    explicit: Option<&std::path::Path>,
) -> anyhow::Result<crate::ledger::Ledger> {
    use anyhow::Context;
    let path = existing_ledger(explicit)?;
    crate::ledger::Ledger::open(&path, &crate::ledger::OpenOptions::default())
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Writes to stdout, turning a closed pipe (`hookledger log | head`) into a quiet stop.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(())
}

/// A verification's answer: one JSON line with `--json`, else the rendered text; exit 0 when it
/// holds and 1 when it does not (what every `verify` command promises scripts).
pub(crate) fn verdict<T: serde::Serialize>(
    json: bool,
    report: &T,
    render: impl FnOnce(&T) -> String,
    holds: bool,
) -> anyhow::Result<ExitCode> {
    if json {
        out(&format!("{}\n", serde_json::to_string(report)?))?;
    } else {
        out(&render(report))?;
    }
    Ok(if holds {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
