//! `hookledger git status [--repo PATH] [--json]`: exit 0 when all four hooks are active.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository (default: the one containing the current directory)
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let start = args.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    let statuses = crate::git::hooks::status(&start)?;
    let active = statuses.iter().all(|s| s.active);
    if args.json {
        crate::cli::out(&format!("{}\n", serde_json::to_string(&statuses)?))?;
    } else {
        let mut text = String::new();
        for s in &statuses {
            let state = if s.active {
                "active"
            } else if s.installed {
                "installed, inactive"
            } else {
                "missing"
            };
            text.push_str(&format!(
                "{:<13} {:<20} {}\n",
                s.hook,
                state,
                s.path.display()
            ));
            if let Some(problem) = &s.problem {
                text.push_str(&format!("              {problem}\n"));
            }
        }
        crate::cli::out(&text)?;
    }
    Ok(if active {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
