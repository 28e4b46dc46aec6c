/*!
The command line: clap definitions and dispatch. Each subcommand lives in its own file and
returns an exit code; this is the only layer that prints to stdout.
*/

mod blame;
mod export;
mod git;
mod hook;
mod install;
mod log;
mod policy;
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
    /// Validate the policy, or explain a decision without recording it
    Policy(policy::Args),
    /// Register hookledger's hooks in Claude Code's settings (merging, with a backup)
    Install(install::InstallArgs),
    /// Remove hookledger's hooks from Claude Code's settings, keeping everything else
    Uninstall(install::UninstallArgs),
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
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let ledger = cli.ledger.as_deref();
    let result = match cli.command {
        Command::Hook(args) => Ok(hook::run(args)),
        Command::Verify(args) => verify::run(ledger, &args),
        Command::Log(args) => log::run(ledger, &args),
        Command::Show(args) => show::run(ledger, &args),
        Command::Export(args) => export::run(ledger, &args),
        Command::VerifyExport(args) => verify_export::run(&args),
        Command::Policy(args) => policy::run(&args),
        Command::Install(args) => install::run_install(&args),
        Command::Uninstall(args) => install::run_uninstall(&args),
        Command::Git(args) => git::run(ledger, &args),
        Command::Blame(args) => blame::run(ledger, &args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("hookledger: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes to stdout, turning a closed pipe (`hookledger log | head`) into a quiet stop.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(())
}
