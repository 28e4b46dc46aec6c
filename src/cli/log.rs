//! `hookledger log`: the security reviewer's view of the ledger.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::ledger::{Ledger, stored_record_from_row};

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
    /// Only records of this tool (Bash, Edit, mcp__server__tool, …)
    #[arg(long)]
    pub tool: Option<String>,
    /// Only decisions with this outcome
    #[arg(long, value_parser = ["deny", "ask", "allow"])]
    pub decision: Option<String>,
    /// Only records touching a path matching this glob (`*.rs`, `src/**`, `/etc/**`)
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Show at most this many records (the newest ones)
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print one JSON object per record instead of a table
    #[arg(long)]
    pub json: bool,
}

struct PathFilter {
    glob: globset::GlobMatcher,
    file_name_only: bool,
}

impl PathFilter {
    fn new(pattern: &str) -> anyhow::Result<Self> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .with_context(|| {
                format!("invalid --path glob {pattern:?} (globs look like *.rs, src/**, /etc/**)")
            })?
            .compile_matcher();
        Ok(PathFilter {
            glob,
            file_name_only: !pattern.contains('/'),
        })
    }

    fn matches(&self, path: &str) -> bool {
        if self.file_name_only {
            return Path::new(path)
                .file_name()
                .is_some_and(|name| self.glob.is_match(name));
        }
        self.glob.is_match(path)
    }
}

/// Every path a record names: edited files, tool inputs, repository-relative paths.
fn record_paths(payload: &Value) -> Vec<&str> {
    let input = payload.get("input");
    [
        payload.get("path"),
        payload.pointer("/repository/relative_path"),
        input.and_then(|i| i.get("file_path")),
        input.and_then(|i| i.get("path")),
        input.and_then(|i| i.get("notebook_path")),
    ]
    .into_iter()
    .filter_map(|v| v.and_then(Value::as_str))
    .collect()
}

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
    let path_filter = args.path.as_deref().map(PathFilter::new).transpose()?;

    let mut sql =
        String::from("SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records WHERE 1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(kind) = &args.kind {
        sql.push_str(" AND kind = ?");
        params.push(SqlValue::Text(kind.clone()));
    }
    if let Some(since) = since {
        sql.push_str(" AND ts_ns >= ?");
        params.push(SqlValue::Integer(since));
    }
    if let Some(until) = until {
        sql.push_str(" AND ts_ns <= ?");
        params.push(SqlValue::Integer(until));
    }
    sql.push_str(" ORDER BY seq DESC");
    let conn = ledger.connection();
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut picked = Vec::new();
    while picked.len() < args.limit {
        let Some(row) = rows.next()? else { break };
        let record = stored_record_from_row(row)?;
        let payload: Value = serde_json::from_slice(&record.payload).unwrap_or(Value::Null);
        let text = |key: &str| payload.get(key).and_then(Value::as_str);
        if args
            .session
            .as_deref()
            .is_some_and(|s| !text("session_id").is_some_and(|id| id.starts_with(s)))
        {
            continue;
        }
        if args
            .tool
            .as_deref()
            .is_some_and(|t| text("tool") != Some(t))
        {
            continue;
        }
        if args
            .decision
            .as_deref()
            .is_some_and(|d| payload.pointer("/decision/action").and_then(Value::as_str) != Some(d))
        {
            continue;
        }
        if path_filter
            .as_ref()
            .is_some_and(|f| !record_paths(&payload).into_iter().any(|p| f.matches(p)))
        {
            continue;
        }
        picked.push((record, payload));
    }
    picked.reverse();
    let mut text = String::new();
    if args.json {
        for (record, _) in &picked {
            text.push_str(&super::show::record_json(record).to_string());
            text.push('\n');
        }
    } else {
        text.push_str(&format!(
            "{:>7}  {:<19}  {:<17}  {:<8}  {}\n",
            "SEQ", "TIME", "KIND", "SESSION", "DETAIL"
        ));
        for (record, payload) in &picked {
            let session = payload
                .get("session_id")
                .and_then(Value::as_str)
                .unwrap_or("-");
            text.push_str(&format!(
                "{:>7}  {:<19}  {:<17}  {:<8}  {}\n",
                record.seq,
                super::time::local_time(record.ts_ns),
                record.kind,
                session.get(..8).unwrap_or(session),
                detail(&record.kind, payload)
            ));
        }
    }
    super::out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn clip(text: &str, chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// One line that tells a reviewer what happened.
fn detail(kind: &str, p: &Value) -> String {
    let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).unwrap_or("");
    let decision = || match p.get("decision") {
        Some(d) => format!(
            "  → {} [{}]",
            d.get("action").and_then(Value::as_str).unwrap_or("?"),
            d.get("rule").and_then(Value::as_str).unwrap_or("?")
        ),
        None => String::new(),
    };
    match kind {
        "prompt" => format!(
            "{:?} ({}){}",
            clip(s("/prompt"), 60),
            s("/model"),
            decision()
        ),
        "tool-call" | "permission-request" => {
            let target = [
                "/input/command",
                "/input/file_path",
                "/input/notebook_path",
                "/input/path",
                "/input/url",
                "/input/pattern",
            ]
            .iter()
            .map(|ptr| s(ptr))
            .find(|t| !t.is_empty())
            .unwrap_or("");
            format!("{} {}{}", s("/tool"), clip(target, 60), decision())
        }
        "edit" => format!(
            "{} {} (+{} -{})",
            s("/tool"),
            s("/path"),
            p.get("lines_added").and_then(Value::as_u64).unwrap_or(0),
            p.get("lines_removed").and_then(Value::as_u64).unwrap_or(0)
        ),
        "tool-result" | "tool-failure" => format!("{} {}", s("/tool"), s("/status")),
        "session-start" => format!(
            "{} in {} ({})",
            s("/source"),
            s("/cwd"),
            s("/repository/branch")
        ),
        "session-end" => s("/reason").to_owned(),
        "hook-error" => clip(s("/error"), 80),
        _ => s("/event").to_owned(),
    }
}
