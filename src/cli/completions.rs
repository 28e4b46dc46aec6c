//! `hookledger completions SHELL`: a completion script, generated from the clap definitions so
//! it never falls behind the commands.

use std::process::ExitCode;

use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "hookledger", &mut script);
    super::out(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}
