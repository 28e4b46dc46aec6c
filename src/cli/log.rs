//! `hookledger log`: the security reviewer's view of the ledger.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::ledger::query::QueryError;
use crate::ledger::record::{AnyPayload, Edit};
use crate::ledger::{Kind, Ledger, Query, StoredRecord};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only records of this kind (prompt, tool-call, edit, session-start, …)
    #[arg(long)]
    pub kind: Option<String>,
    /// Only records of sessions whose id starts with this
    #[arg(long)]
    pub session: Option<String>,
    /// Only records at or after this time: 7d, 2h, 30m, 2026-11-01, 2026-11-01T10:00:00Z
    #[arg(long)]
    pub since: Option<String>,
    /// Only records at or before this time (same forms as --since)
    #[arg(long)]
    pub until: Option<String>,
    /// Only records of this tool, in any case (Bash, bash, Edit, mcp__server__tool, …)
    #[arg(long)]
    pub tool: Option<String>,
    /// Only decisions with this outcome
    #[arg(long, value_parser = ["deny", "ask", "allow"])]
    pub decision: Option<String>,
    /// Only records naming a path matching this glob (`*.rs`, `src/**`, `/etc/**`): edited
    /// files, tool inputs, and every target of a call (Bash and MCP tools included)
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Show at most this many records, the newest ones [default: 50 in the table, all with
    /// --json]; how many were left out is said on stderr
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print one JSON object per record instead of a table
    #[arg(long)]
    pub json: bool,
}

/// The table's default: a screenful.
const TABLE_LIMIT: usize = 50;

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let path = crate::config::ledger_path(ledger)?;
    let ledger =
        Ledger::open_read_only(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let now = jiff::Timestamp::now();
    let since = args
        .since
        .as_deref()
        .map(|t| super::time::parse_time_arg(t, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| super::time::parse_time_arg(t, now))
        .transpose()?;
    let limit = args
        .limit
        .unwrap_or(if args.json { usize::MAX } else { TABLE_LIMIT });
    let (picked, left_out) = Query {
        kind: args.kind.clone(),
        session_prefix: args.session.clone(),
        since_ns: since,
        until_ns: until,
        tool: args.tool.clone(),
        decision: args.decision.clone(),
        path_glob: args.path.clone(),
        limit,
    }
    .run_counted(&ledger)
    .map_err(|e| match e {
        QueryError::Glob { pattern, source } => anyhow::Error::new(source).context(format!(
            "invalid --path glob {pattern:?} (globs look like *.rs, src/**, /etc/**)"
        )),
        other => other.into(),
    })?;
    // A kind this build does not know may still be in a ledger written by a newer one: it is
    // an error only when nothing matched it.
    if let Some(kind) = &args.kind
        && Kind::parse(kind).is_none()
        && picked.is_empty()
    {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        anyhow::bail!(
            "unknown record kind {kind:?}; the kinds are: {}",
            known.join(", ")
        );
    }
    let mut text = String::new();
    if args.json {
        for (record, _) in &picked {
            text.push_str(&super::show::record_json(record).to_string());
            text.push('\n');
        }
    } else {
        text.push_str(&format!(
            "{:>7}  {:<20}  {:<17}  {:<8}  {}\n",
            "SEQ", "TIME (UTC)", "KIND", "SESSION", "DETAIL"
        ));
        for (record, payload) in &picked {
            let session = payload.common.session_id.as_deref().unwrap_or("-");
            text.push_str(&format!(
                "{:>7}  {:<20}  {:<17}  {:<8}  {}\n",
                record.seq,
                utc_time(record.ts_ns),
                record.kind,
                session.get(..8).unwrap_or(session),
                detail(record, payload)
            ));
        }
    }
    super::out(&text)?;
    if left_out > 0 {
        eprintln!(
            "{left_out} more matching record{} not shown (--limit {limit}; older ones are left out)",
            if left_out == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `2026-11-01T10:00:00Z`: UTC, to the second, with the zone, whatever the machine's zone.
fn utc_time(ts_ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ts_ns))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| format!("@{ts_ns}ns"))
}

fn clip(text: &str, chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// One line that tells a reviewer what happened.
fn detail(record: &StoredRecord, p: &AnyPayload) -> String {
    let s = |path: &[&str]| p.str_at(path).unwrap_or("");
    let decision = || match p.decision() {
        Some(d) => format!(
            "  → {} [{}]",
            d.action.as_deref().unwrap_or("?"),
            d.rule.as_deref().unwrap_or("?")
        ),
        None => String::new(),
    };
    match record.kind() {
        Some(Kind::Prompt) => format!(
            "{:?} ({}){}",
            clip(s(&["prompt"]), 60),
            s(&["model"]),
            decision()
        ),
        Some(Kind::ToolCall | Kind::PermissionRequest) => {
            let target = [
                "command",
                "file_path",
                "notebook_path",
                "path",
                "url",
                "pattern",
            ]
            .iter()
            .map(|key| s(&["input", key]))
            .find(|t| !t.is_empty())
            .unwrap_or("");
            format!("{} {}{}", s(&["tool"]), clip(target, 60), decision())
        }
        Some(Kind::Edit) => {
            let edit: Edit = record.view().unwrap_or_default();
            format!(
                "{} {} (+{} -{})",
                edit.tool.as_deref().unwrap_or(""),
                edit.path.as_deref().unwrap_or(""),
                edit.lines_added,
                edit.lines_removed
            )
        }
        Some(Kind::ToolResult | Kind::ToolFailure) => {
            format!("{} {}", s(&["tool"]), s(&["status"]))
        }
        Some(Kind::SessionStart) => format!(
            "{} in {} ({})",
            s(&["source"]),
            p.common.cwd.as_deref().unwrap_or(""),
            s(&["repository", "branch"])
        ),
        Some(Kind::SessionEnd) => s(&["reason"]).to_owned(),
        Some(Kind::HookError) => clip(s(&["error"]), 80),
        _ => p.common.event.as_deref().unwrap_or("").to_owned(),
    }
}
