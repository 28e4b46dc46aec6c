//! `hookledger git install` / `uninstall [--repo PATH] [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::git::hooks::{self, Action, HookDir};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository (default: the one containing the current directory)
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Print what was done as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run_install(args: &Args) -> anyhow::Result<ExitCode> {
    let repo = super::repository(args.repo.as_ref())?;
    let (dir, actions) = hooks::install(&repo)?;
    print(&dir, &actions, args.json)
}

pub fn run_uninstall(args: &Args) -> anyhow::Result<ExitCode> {
    let repo = super::repository(args.repo.as_ref())?;
    let (dir, actions) = hooks::uninstall(&repo)?;
    print(&dir, &actions, args.json)
}

fn print(dir: &HookDir, actions: &[Action], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let value = serde_json::json!({"hooks_dir": dir.dir, "layout": dir.layout, "manager": dir.manager, "hooks": actions});
        crate::cli::out(&format!("{value}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!("hooks in {}", dir.dir.display());
    if let Some(manager) = dir.manager {
        text.push_str(&format!(" (managed by {manager})"));
    }
    text.push('\n');
    for action in actions {
        text.push_str(&format!("  {:<13} {}\n", action.hook, action.action));
    }
    crate::cli::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
