//! `hookledger hook [--event NAME]`: the entry Claude Code runs for every event.

use std::ffi::OsString;
use std::process::ExitCode;

use crate::hook::guard::execute;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event this registration is for; used when the payload cannot be read, to decide
    /// whether a failure must block
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    execute(args.event)
}

/// Hand-parsed so that a bad argument is still answered by the hook contract (a refusal on
/// stderr with exit 2) instead of clap's usage text.
pub fn run_from_args(args: &[OsString]) -> ExitCode {
    // Help is for a person at a terminal: it reads no stdin, opens no ledger, creates nothing.
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return match super::out(&help()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    let mut event = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--event" {
            event = iter.next().map(|v| v.to_string_lossy().into_owned());
        } else if let Some(value) = arg.strip_prefix("--event=") {
            event = Some(value.to_owned());
        }
        // Unknown arguments are ignored: a newer registration must not break an older binary.
    }
    execute(event)
}

fn help() -> String {
    use clap::Args as _;
    let mut command = Args::augment_args(
        clap::Command::new("hookledger hook")
            .about("Handle one Claude Code hook event: reads the event's JSON payload on stdin, records it in the ledger and, for gating events, answers with the policy's decision")
            .after_help("Claude Code runs this for every registered event (see `hookledger install`); it is not meant to be run by hand."),
    );
    command.render_help().to_string()
}
