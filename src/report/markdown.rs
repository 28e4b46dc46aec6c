//! The report as Markdown: the same sections and numbers as the HTML form, as tables.

use std::fmt::Write;

use super::Report;

/// Escapes what would break a table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

fn opt(text: &Option<String>) -> String {
    text.as_deref().map_or_else(|| "—".to_owned(), cell)
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
        "Period {} to {} (UTC, end exclusive). Ledger `{}` on {}, user {}: {} records in the period. Generated {} by {} on {} with hookledger {}.\n",
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
        "**Integrity: {}**\n",
        if i.intact {
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
    md.push_str("## Summary\n\n| | |\n|---|--:|\n");
    for (name, n) in [
        ("Sessions", t.sessions),
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
    ] {
        let _ = writeln!(md, "| {name} | {n} |");
    }
    md.push_str("\n## Activity per day (UTC)\n\n| Date | Sessions | Prompts | Tool calls | Edits | Refused | Asked |\n|---|--:|--:|--:|--:|--:|--:|\n");
    for d in &r.daily {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            d.date, d.sessions, d.prompts, d.tool_calls, d.edits, d.denied, d.asked
        );
    }
    md.push_str("\n## Users and hosts\n\n| User | Host | Sessions | Prompts | Tool calls | Edits | Refused | Asked |\n|---|---|--:|--:|--:|--:|--:|--:|\n");
    for a in &r.by_actor {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            opt(&a.user),
            opt(&a.host),
            a.sessions,
            a.prompts,
            a.tool_calls,
            a.edits,
            a.denied,
            a.asked
        );
    }
    md.push_str(
        "\n## Models\n\n| Model | Sessions | Tool calls | Accepted edits |\n|---|--:|--:|--:|\n",
    );
    for m in &r.models {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            cell(&m.model),
            m.sessions,
            m.tool_calls,
            m.edits
        );
    }
    md.push_str("\n## Claude Code versions\n\n| Version | Sessions | Records |\n|---|--:|--:|\n");
    for v in &r.claude_code_versions {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} |",
            cell(&v.version),
            v.sessions,
            v.records
        );
    }
    let d = &r.decisions;
    md.push_str("\n## Refused and asked operations\n\n| Rule | Verdict | Layer | Count |\n|---|---|---|--:|\n");
    for c in &d.by_rule {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            cell(&c.rule),
            c.action,
            cell(&c.layer),
            c.count
        );
    }
    for (title, list, unlisted) in [
        ("Refused", &d.denied, d.denied_unlisted),
        ("Asked", &d.asked, d.asked_unlisted),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "\n### {title}\n\n| Time (UTC) | Seq | Tool | Target | Rule | Reason |\n|---|--:|---|---|---|---|"
        );
        for op in list {
            let _ = writeln!(
                md,
                "| {} | {} | {} | `{}` | `{}`{} | {} |",
                op.time.get(..19).unwrap_or(&op.time),
                op.seq,
                op.tool.as_deref().map_or_else(|| cell(&op.kind), cell),
                opt(&op.subject),
                cell(&op.rule),
                if op.enforced { "" } else { " (audit)" },
                opt(&op.reason)
            );
        }
        if unlisted > 0 {
            let _ = writeln!(
                md,
                "\n{unlisted} more are counted above and kept in the ledger."
            );
        }
    }
    md.push_str("\n## Data loss prevention\n\n| Kind | Found in | Findings | Refused |\n|---|---|--:|--:|\n");
    for f in &r.dlp {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&f.kind),
            f.found_in,
            f.count,
            f.refused
        );
    }
    md.push_str("\n## Accepted AI edits per repository\n\n| Repository | Remotes | Edits | Files | Lines + | Lines − | Models |\n|---|---|--:|--:|--:|--:|---|\n");
    for e in &r.edits_by_repository {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            cell(&e.repository),
            cell(&e.remotes.join(", ")),
            e.edits,
            e.files,
            e.lines_added,
            e.lines_removed,
            cell(&e.models.join(", "))
        );
    }
    md.push_str("\n## Repositories against the allowlist\n\n| Repository | Remotes | Sessions | Edits | Refusals | Allowlist today |\n|---|---|--:|--:|--:|---|\n");
    for repo in &r.repositories {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} |",
            cell(&repo.repository),
            cell(&repo.remotes.join(", ")),
            repo.sessions,
            repo.edits,
            repo.refusals,
            repo.allowlist
        );
    }
    md.push_str("\n## Reviews\n\n| When | Seq | By | Period | Digest |\n|---|--:|---|---|---|\n");
    for review in &r.reviews {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} – {} | `{}` |",
            review.time.get(..19).unwrap_or(&review.time),
            review.seq,
            opt(&review.by),
            review.period["since"].as_str().unwrap_or("?"),
            review.period["until"].as_str().unwrap_or("?"),
            opt(&review.digest)
        );
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
    md.push_str(
        "\n| Export sink | Acknowledged through | Behind head | Updated |\n|---|--:|--:|---|\n",
    );
    for c in &i.export_cursors {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            cell(&c.sink),
            c.acknowledged_through,
            c.behind_head,
            c.updated
        );
    }
    md.push_str("\nCheck it yourself:\n\n```sh\n");
    for command in &i.commands {
        md.push_str(command);
        md.push('\n');
    }
    md.push_str("```\n");
    md
}
