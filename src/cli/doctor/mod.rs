//! `hookledger doctor [--json]`: runs [`crate::doctor`]'s checks and renders them. Exit 0 only
//! when every check passes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Paths;
use crate::doctor::{CheckId, Context, Finding, Progress, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
    /// The project whose .claude/settings.json and settings.local.json count
    /// [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Also check the git hook shims of the repository at PATH (repeatable); without it no
    /// repository is checked, so the verdict does not depend on the current directory
    #[arg(long, value_name = "PATH")]
    pub repo: Vec<PathBuf>,
    /// Treat DIR as the filesystem root for managed settings and policy (a staged install)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// An export sink is stale when it lags the ledger and its cursor has not moved for this
    /// long (90s, 30m, 24h, 7d)
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub stale_after: String,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let stale_after_secs = super::time::parse_duration_arg(&args.stale_after)?;
    let paths = Paths::from_env()?;
    let project = match &args.project {
        Some(dir) => Some(dir.clone()),
        None => std::env::current_dir().ok(),
    };
    let context = Context::gather(
        crate::config::ledger_path(ledger)?,
        paths.home,
        args.root.as_deref(),
        project,
        args.repo.clone(),
        stale_after_secs,
    );
    let results = crate::doctor::run(&context, &mut Bar(None));
    let failed = results
        .iter()
        .filter(|(_, f)| f.status == Status::Fail)
        .count();
    if args.json {
        let checks: Vec<serde_json::Value> = results
            .iter()
            .map(|(id, finding)| {
                let mut check = serde_json::Map::new();
                check.insert("id".into(), serde_json::json!(id.as_str()));
                if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(finding) {
                    check.extend(fields);
                }
                serde_json::Value::Object(check)
            })
            .collect();
        let report = serde_json::json!({
            "ok": failed == 0,
            "hookledger_version": env!("CARGO_PKG_VERSION"),
            "passed": results.len() - failed,
            "failed": failed,
            "checks": checks,
        });
        super::out(&format!("{report}\n"))?;
    } else {
        super::out(&render(&results, failed))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The verification progress bar, on a terminal only, cleared when the check ends.
struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn start(&mut self) {
        self.0 = super::verify::progress_bar();
    }

    fn update(&mut self, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

fn render(results: &[(CheckId, Finding)], failed: usize) -> String {
    let paint = super::Paint::stdout();
    let mut text = String::new();
    for (id, finding) in results {
        let status = match finding.status {
            Status::Pass => paint.good("PASS"),
            Status::Fail => paint.bad("FAIL"),
        };
        text.push_str(&format!(
            "{status}  {:<20} {}\n",
            id.as_str(),
            finding.message
        ));
        for detail in &finding.details {
            text.push_str(&format!("      {:<20} - {detail}\n", ""));
        }
        if let Some(fix) = &finding.fix {
            text.push_str(&format!(
                "      {:<20} {} {fix}\n",
                "",
                paint.strong("fix:")
            ));
        }
    }
    let summary = format!(
        "{} checks: {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    );
    text.push_str(&if failed == 0 {
        paint.good(&summary)
    } else {
        paint.bad(&summary)
    });
    text.push('\n');
    text
}
