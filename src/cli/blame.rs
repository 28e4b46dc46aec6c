//! `hookledger blame FILE [--rev REV] [--json]`: git blame with AI-written lines marked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file, relative to the current directory
    pub file: PathBuf,
    /// Blame as of this revision (default: the working tree)
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let dir = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let repo = crate::git::repo::Repo::discover(dir)?;
    let absolute = std::path::absolute(&args.file)?;
    let root = std::fs::canonicalize(&repo.root).unwrap_or_else(|_| repo.root.clone());
    let parent = absolute
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_default();
    let name = absolute.file_name().unwrap_or_default();
    let relative = parent.join(name);
    let relative = relative
        .strip_prefix(&root)
        .map_err(|_| {
            anyhow::anyhow!(
                "{} is not inside {}",
                args.file.display(),
                repo.root.display()
            )
        })?
        .to_string_lossy()
        .replace('\\', "/");
    let ledger_path = crate::config::ledger_path(ledger)?;
    let edit_ledger = ledger_path
        .exists()
        .then(|| crate::git::edits::EditLedger::open(&ledger_path).ok())
        .flatten();
    let lines =
        crate::git::blame::blame(&repo, &relative, args.rev.as_deref(), edit_ledger.as_ref())?;
    let mut text = String::new();
    for line in &lines {
        if args.json {
            text.push_str(&serde_json::to_string(line)?);
            text.push('\n');
            continue;
        }
        let mark = if line.ai {
            let session = line
                .session_id
                .as_deref()
                .map_or("", |s| &s[..s.len().min(8)]);
            format!(
                "AI {} {session}",
                line.model.as_deref().unwrap_or("unknown-model")
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "{} {:<44} {:>5}) {}\n",
            &line.commit[..line.commit.len().min(8)],
            mark,
            line.line,
            line.text
        ));
    }
    if !args.json {
        let mut seen = std::collections::BTreeSet::new();
        for line in lines.iter().filter(|l| l.prompt.is_some()) {
            if let (Some(id), Some(prompt)) = (&line.prompt_id, &line.prompt)
                && seen.insert(id.clone())
            {
                text.push_str(&format!("prompt {}: {prompt}\n", &id[..id.len().min(8)]));
            }
        }
    }
    crate::cli::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
