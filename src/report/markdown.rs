//! The report as Markdown: the same sections and numbers as the HTML form, as tables.

use std::fmt::Write;

use super::Report;
use super::tables::{self, Cell, Section};

/// Escapes what would break a table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

fn opt(text: &Option<String>) -> String {
    text.as_deref().map_or_else(|| "—".to_owned(), cell)
}

fn section(md: &mut String, heading: &str, s: &Section) {
    let _ = writeln!(md, "\n{heading} {}\n", s.title);
    if s.table.rows.is_empty() {
        let _ = writeln!(md, "{}", s.when_empty);
        return;
    }
    let columns = &s.table.columns;
    let titles: Vec<&str> = columns.iter().map(|c| c.trim_start_matches('#')).collect();
    let _ = writeln!(md, "| {} |", titles.join(" | "));
    let rules: Vec<&str> = columns
        .iter()
        .map(|c| if c.starts_with('#') { "--:" } else { "---" })
        .collect();
    let _ = writeln!(md, "|{}|", rules.join("|"));
    for row in &s.table.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Text(text) | Cell::Tag(_, text) => cell(text),
                Cell::Code(text) => format!("`{}`", cell(text)),
                Cell::Number(n) => n.to_string(),
            })
            .collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    if let Some(note) = &s.note {
        let _ = writeln!(md, "\n{note}");
    }
}

pub fn render(r: &Report) -> String {
    let mut md = String::with_capacity(16 << 10);
    let t = &r.totals;
    let _ = writeln!(
        md,
        "# Claude Code evidence report, {} to {}\n",
        r.period.since.get(..10).unwrap_or(&r.period.since),
        r.period.until.get(..10).unwrap_or(&r.period.until)
    );
    let _ = writeln!(
        md,
        "Period {} to {} (UTC, end exclusive). Ledger `{}` (created on {} by {}): {} records in the period. Generated {} for reviewer {} on {} with hookledger {}.\n",
        r.period.since,
        r.period.until,
        r.scope.ledger_id,
        opt(&r.scope.host),
        opt(&r.scope.user),
        r.scope.records,
        r.generated.at,
        opt(&r.generated.by),
        r.generated.host,
        r.generated.hookledger_version
    );
    let i = &r.integrity;
    let _ = writeln!(
        md,
        "**Integrity: {}**",
        if let Some(fleet) = &r.fleet {
            let bad = i.problems.len() + i.warnings.len();
            format!(
                "{} of {} machines verified by the server ({} records verified){}",
                fleet.machines.len() - bad.min(fleet.machines.len()),
                fleet.machines.len(),
                i.records_verified,
                if bad == 0 {
                    ".".to_owned()
                } else {
                    format!(
                        "; {}.",
                        i.problems
                            .iter()
                            .chain(&i.warnings)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                }
            )
        } else if i.intact {
            format!(
                "the ledger verifies ({} records, {} signed checkpoints).",
                i.records_verified, i.checkpoints
            )
        } else {
            format!(
                "the ledger does NOT verify (first bad record: seq {}).",
                i.first_bad_seq.map_or("?".into(), |s| s.to_string())
            )
        }
    );
    md.push_str("\n## Summary\n\n| | |\n|---|--:|\n");
    for (name, n) in [
        ("Sessions", t.sessions),
        ("People", t.people),
        ("Hosts", t.hosts),
        ("Prompts", t.prompts),
        ("Prompts blocked", t.prompts_blocked),
        ("Tool calls", t.tool_calls),
        ("Refused operations", t.denied),
        ("Asked for approval", t.asked),
        (
            "Refusals in audit mode (not enforced)",
            t.denied_not_enforced,
        ),
        ("Accepted edits", t.edits),
        ("Files edited", t.files_edited),
        ("Lines added", t.lines_added),
        ("Lines removed", t.lines_removed),
        ("DLP findings", t.dlp_findings),
        ("Hook errors", t.hook_errors),
        ("Input tokens", t.tokens.input_tokens),
        ("Output tokens", t.tokens.output_tokens),
        ("Cache read tokens", t.tokens.cache_read_input_tokens),
        (
            "Cache creation tokens",
            t.tokens.cache_creation_input_tokens,
        ),
        ("Turns without token usage", t.turns_without_usage),
    ] {
        let _ = writeln!(md, "| {name} | {n} |");
    }
    if let Some(s) = tables::fleet(r) {
        section(&mut md, "##", &s);
    }
    for s in [
        tables::daily(r),
        tables::people(r),
        tables::actors(r),
        tables::models(r),
        tables::tokens("Tokens by model", "Model", &r.tokens.by_model),
        tables::tokens("Tokens by person", "Person", &r.tokens.by_person),
        tables::tokens("Tokens by day", "Date (UTC)", &r.tokens.by_day),
        tables::versions(r),
        tables::rules(r),
    ] {
        section(&mut md, "##", &s);
    }
    let d = &r.decisions;
    for (title, list, unlisted) in [
        ("Refused", &d.denied, d.denied_unlisted),
        ("Asked for approval", &d.asked, d.asked_unlisted),
    ] {
        if !list.is_empty() {
            section(&mut md, "###", &tables::operations(title, list, unlisted));
        }
    }
    for s in [
        tables::dlp(r),
        tables::edits(r),
        tables::repositories(r),
        tables::policies(r),
        tables::controls(r),
        tables::reviews("Reviews", &r.reviews, tables::NO_REVIEWS),
        tables::reviews(
            "Reports made by the agent (not reviews)",
            &r.agent_reports,
            tables::NO_AGENT_REPORTS,
        ),
    ] {
        section(&mut md, "##", &s);
    }
    md.push_str("\n## Integrity\n\n");
    let _ = writeln!(md, "- Ledger id: `{}`", i.ledger_id);
    if let Some(head) = &i.head {
        let _ = writeln!(md, "- Head: seq {} `{}`", head.seq, head.hash);
    }
    let _ = writeln!(
        md,
        "- Verification: {} ({} records)",
        if i.intact { "intact" } else { "BROKEN" },
        i.records_verified
    );
    match &i.last_checkpoint {
        Some(c) => {
            let _ = writeln!(
                md,
                "- Last signed checkpoint: seq {}, covering seq {}, {}",
                c.seq, c.covers, c.time
            );
        }
        None => md.push_str("- Last signed checkpoint: none yet\n"),
    }
    if let Some(key) = &i.public_key {
        let _ = writeln!(md, "- Signing key (Ed25519): `{key}`");
    }
    let _ = writeln!(md, "- Records waiting in the spool: {}", i.spool_pending);
    for line in i.problems.iter().chain(&i.warnings).chain(&i.pruned) {
        let _ = writeln!(md, "- {}", cell(line));
    }
    section(&mut md, "###", &tables::cursors(r));
    md.push_str("\nCheck it yourself:\n\n```sh\n");
    for command in &i.commands {
        md.push_str(command);
        md.push('\n');
    }
    md.push_str("```\n");
    md
}
