//! The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
//! external resources, so it can be mailed, archived and opened offline as it is.

use std::fmt::Write;

use super::{Day, Report};

pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(64 << 10);
    let title = format!(
        "Claude Code evidence report, {} to {}",
        day_of(&report.period.since),
        day_of(&report.period.until)
    );
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"hookledger {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        report.generated.hookledger_version,
        esc(&title)
    );
    header(&mut page, report, &title);
    summary(&mut page, report);
    activity(&mut page, report);
    actors(&mut page, report);
    models(&mut page, report);
    decisions(&mut page, report);
    dlp(&mut page, report);
    edits(&mut page, report);
    repositories(&mut page, report);
    reviews(&mut page, report);
    integrity(&mut page, report);
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;margin:0 auto;max-width:1080px;padding:24px 32px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:2px solid #e3e7ef}
.meta{color:#5b6475;margin:0 0 16px}.meta b{color:#1d2330}
.banner{padding:12px 16px;border-radius:6px;font-weight:600;margin:16px 0}
.ok{background:#e6f4ea;color:#14532d;border:1px solid #a7d7b5}.bad{background:#fde8e8;color:#7f1d1d;border:1px solid #f5b5b5}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:16px 0}
.card{border:1px solid #e3e7ef;border-radius:6px;padding:10px 14px}.card .n{font-size:24px;font-weight:700}.card .l{color:#5b6475;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.alert .n{color:#b42318}
table{border-collapse:collapse;width:100%;margin:8px 0 4px;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f4;vertical-align:top}
th{background:#f6f7fa;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f6f7fa;border:1px solid #e3e7ef;border-radius:6px;padding:10px;white-space:pre-wrap;word-break:break-all}
.muted{color:#5b6475}.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600}
.deny{background:#fde8e8;color:#b42318}.ask{background:#fff4e5;color:#9a3412}.allow{background:#e6f4ea;color:#14532d}
svg{display:block;margin:8px 0}svg text{font:11px system-ui,sans-serif;fill:#5b6475}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
@media print{body{padding:0}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}}
";

const COLORS: [(&str, &str); 4] = [
    ("prompts", "#4f6bed"),
    ("tool calls", "#1aa39a"),
    ("edits", "#9b59b6"),
    ("refused", "#d64545"),
];

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn opt(text: &Option<String>) -> String {
    text.as_deref().map_or_else(|| "—".to_owned(), esc)
}

fn day_of(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

fn header(page: &mut String, r: &Report, title: &str) {
    let _ = writeln!(
        page,
        "<h1>{}</h1>\n<p class=\"meta\">Period <b>{}</b> to <b>{}</b> (UTC, end exclusive) · ledger <code>{}</code> on <b>{}</b>, user <b>{}</b> · {} records in the period (seq {}–{}) · generated {} by {} on {} with hookledger {}</p>",
        esc(title),
        esc(&r.period.since),
        esc(&r.period.until),
        esc(&r.scope.ledger_id),
        opt(&r.scope.host),
        opt(&r.scope.user),
        r.scope.records,
        r.scope.first_seq.map_or("—".into(), |s| s.to_string()),
        r.scope.last_seq.map_or("—".into(), |s| s.to_string()),
        esc(&r.generated.at),
        opt(&r.generated.by),
        esc(&r.generated.host),
        r.generated.hookledger_version
    );
    let i = &r.integrity;
    if i.intact {
        let _ = writeln!(
            page,
            "<div class=\"banner ok\">The ledger verifies: {} records from genesis to head, hash chain intact, {} signed checkpoint(s) valid.</div>",
            i.records_verified, i.checkpoints
        );
    } else {
        let _ = writeln!(
            page,
            "<div class=\"banner bad\">The ledger does NOT verify: first bad record at seq {}. The numbers below come from a ledger that was altered; see Integrity.</div>",
            i.first_bad_seq.map_or("?".into(), |s| s.to_string())
        );
    }
}

fn summary(page: &mut String, r: &Report) {
    let t = &r.totals;
    let cards = [
        ("sessions", t.sessions, false),
        ("prompts", t.prompts, false),
        ("tool calls", t.tool_calls, false),
        ("accepted edits", t.edits, false),
        ("refused operations", t.denied, t.denied > 0),
        ("asked for approval", t.asked, false),
        ("DLP findings", t.dlp_findings, t.dlp_findings > 0),
        ("files edited", t.files_edited, false),
    ];
    page.push_str("<div class=\"cards\">\n");
    for (label, n, alert) in cards {
        let _ = writeln!(
            page,
            "<div class=\"card{}\"><div class=\"n\">{n}</div><div class=\"l\">{label}</div></div>",
            if alert { " alert" } else { "" }
        );
    }
    page.push_str("</div>\n");
    let _ = writeln!(
        page,
        "<p class=\"muted\">Lines added by accepted AI edits: {}, removed: {}. Prompts blocked: {}. Refusals recorded in audit mode (not enforced): {}. Hook errors and damaged spool lines: {}.</p>",
        t.lines_added, t.lines_removed, t.prompts_blocked, t.denied_not_enforced, t.hook_errors
    );
}

fn activity(page: &mut String, r: &Report) {
    page.push_str("<h2>Activity per day</h2>\n");
    if r.daily.is_empty() {
        page.push_str("<p class=\"muted\">No activity in this period.</p>\n");
        return;
    }
    page.push_str(&day_chart(&r.daily));
    page.push_str("<table><tr><th>Date (UTC)</th><th class=\"n\">Sessions</th><th class=\"n\">Prompts</th><th class=\"n\">Tool calls</th><th class=\"n\">Edits</th><th class=\"n\">Refused</th><th class=\"n\">Asked</th></tr>\n");
    for d in &r.daily {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&d.date),
            d.sessions,
            d.prompts,
            d.tool_calls,
            d.edits,
            d.denied,
            d.asked
        );
    }
    page.push_str("</table>\n");
}

/// Grouped bars per day: prompts, tool calls, edits and refusals.
fn day_chart(days: &[Day]) -> String {
    let (width, height, left, bottom, top) = (1000.0, 240.0, 44.0, 36.0, 12.0);
    let max = days
        .iter()
        .map(|d| d.prompts.max(d.tool_calls).max(d.edits).max(d.denied))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_w = width - left - 8.0;
    let plot_h = height - bottom - top;
    // A few days must not turn into a few slabs: a day's group is at most 120 units wide.
    let slot = (plot_w / days.len() as f64).min(120.0);
    let bar = (slot * 0.8 / 4.0).max(1.0);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"Activity per day\" width=\"100%\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n"
    );
    for step in 0..=4 {
        let value = max * f64::from(step) / 4.0;
        let y = top + plot_h - plot_h * f64::from(step) / 4.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eef0f4\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - 8.0,
            left - 6.0,
            y + 4.0,
            value.round()
        );
    }
    let label_every = (days.len() / 12).max(1);
    for (i, day) in days.iter().enumerate() {
        let x0 = left + slot * i as f64 + slot * 0.1;
        for (j, value) in [day.prompts, day.tool_calls, day.edits, day.denied]
            .into_iter()
            .enumerate()
        {
            let h = plot_h * value as f64 / max;
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{} {}: {value}</title></rect>",
                x0 + bar * j as f64,
                top + plot_h - h,
                COLORS[j].1,
                esc(&day.date),
                COLORS[j].0
            );
        }
        if i % label_every == 0 {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x0 + bar * 2.0,
                height - bottom + 16.0,
                esc(day.date.get(5..).unwrap_or(&day.date))
            );
        }
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9aa3b2\"/>\n</svg>",
        width - 8.0,
        top + plot_h,
        top + plot_h
    );
    svg.push_str("<div class=\"legend\">");
    for (name, color) in COLORS {
        let _ = write!(
            svg,
            "<span><i style=\"background:{color}\"></i>{name}</span>"
        );
    }
    svg.push_str("</div>\n");
    svg
}

/// Horizontal bars for labelled counts.
fn bar_list(items: &[(String, u64)], color: &str, label: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let row = 22.0;
    let (width, left) = (1000.0, 320.0);
    let height = row * items.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{}\" width=\"100%\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n",
        esc(label)
    );
    for (i, (name, n)) in items.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let w = (width - left - 60.0) * *n as f64 / max;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\" rx=\"2\"><title>{}: {n}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{n}</text>",
            left - 8.0,
            y + 14.0,
            esc(name),
            row - 6.0,
            esc(name),
            left + w + 6.0,
            y + 14.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn actors(page: &mut String, r: &Report) {
    page.push_str("<h2>Users and hosts</h2>\n<table><tr><th>User</th><th>Host</th><th class=\"n\">Sessions</th><th class=\"n\">Prompts</th><th class=\"n\">Tool calls</th><th class=\"n\">Edits</th><th class=\"n\">Refused</th><th class=\"n\">Asked</th></tr>\n");
    for a in &r.by_actor {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
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
    page.push_str("</table>\n");
}

fn models(page: &mut String, r: &Report) {
    page.push_str("<h2>Models and Claude Code versions</h2>\n");
    if r.models.is_empty() {
        page.push_str("<p class=\"muted\">No tool calls in this period.</p>\n");
    } else {
        let items: Vec<(String, u64)> = r
            .models
            .iter()
            .map(|m| (m.model.clone(), m.tool_calls + m.edits))
            .collect();
        page.push_str(&bar_list(
            &items,
            "#4f6bed",
            "Tool calls and edits per model",
        ));
        page.push_str("<table><tr><th>Model</th><th class=\"n\">Sessions</th><th class=\"n\">Tool calls</th><th class=\"n\">Accepted edits</th></tr>\n");
        for m in &r.models {
            let _ = writeln!(
                page,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&m.model),
                m.sessions,
                m.tool_calls,
                m.edits
            );
        }
        page.push_str("</table>\n<p class=\"muted\">The model of each tool call is the one Claude Code's transcript attests at the end of the turn, else the newest model seen when the call was made.</p>\n");
    }
    page.push_str("<table><tr><th>Claude Code version</th><th class=\"n\">Sessions</th><th class=\"n\">Records</th></tr>\n");
    if r.claude_code_versions.is_empty() {
        page.push_str("<tr><td colspan=\"3\" class=\"muted\">No record in this period names a Claude Code version.</td></tr>\n");
    }
    for v in &r.claude_code_versions {
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&v.version),
            v.sessions,
            v.records
        );
    }
    page.push_str("</table>\n");
}

fn decisions(page: &mut String, r: &Report) {
    let d = &r.decisions;
    page.push_str("<h2>Refused and asked operations</h2>\n");
    if d.by_rule.is_empty() {
        page.push_str("<p class=\"muted\">No operation was refused or sent for approval in this period.</p>\n");
        return;
    }
    let items: Vec<(String, u64)> = d
        .by_rule
        .iter()
        .map(|c| (format!("{} ({})", c.rule, c.action), c.count))
        .collect();
    page.push_str(&bar_list(&items, "#d64545", "Refusals and asks per rule"));
    page.push_str("<table><tr><th>Rule</th><th>Verdict</th><th>Policy layer</th><th class=\"n\">Count</th></tr>\n");
    for c in &d.by_rule {
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td><span class=\"tag {}\">{}</span></td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&c.rule),
            esc(&c.action),
            esc(&c.action),
            esc(&c.layer),
            c.count
        );
    }
    page.push_str("</table>\n");
    for (title, list, unlisted) in [
        ("Refused", &d.denied, d.denied_unlisted),
        ("Asked for approval", &d.asked, d.asked_unlisted),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            page,
            "<h3>{title} ({})</h3>\n<table><tr><th>Time (UTC)</th><th>Seq</th><th>Tool</th><th>Target</th><th>Rule</th><th>Reason</th></tr>",
            list.len() as u64 + unlisted
        );
        for op in list {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code>{}</td><td>{}</td></tr>",
                esc(op.time.get(..19).unwrap_or(&op.time)),
                op.seq,
                op.tool.as_deref().map_or_else(|| esc(&op.kind), esc),
                opt(&op.subject),
                esc(&op.rule),
                if op.enforced {
                    ""
                } else {
                    " <span class=\"muted\">(audit)</span>"
                },
                opt(&op.reason)
            );
        }
        page.push_str("</table>\n");
        if unlisted > 0 {
            let _ = writeln!(
                page,
                "<p class=\"muted\">{unlisted} more are in the JSON form's counts and in the ledger (<code>hookledger log --decision deny</code>).</p>"
            );
        }
    }
}

fn dlp(page: &mut String, r: &Report) {
    page.push_str("<h2>Data loss prevention</h2>\n");
    if r.dlp.is_empty() {
        page.push_str("<p class=\"muted\">No secret was found in a prompt or in content the agent tried to write.</p>\n");
        return;
    }
    page.push_str("<table><tr><th>Kind of secret</th><th>Found in</th><th class=\"n\">Findings</th><th class=\"n\">Refused</th></tr>\n");
    for f in &r.dlp {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&f.kind),
            f.found_in,
            f.count,
            f.refused
        );
    }
    page.push_str("</table>\n<p class=\"muted\">Kinds and counts only: the secrets themselves are never stored in clear, nor reported.</p>\n");
}

fn edits(page: &mut String, r: &Report) {
    page.push_str("<h2>Accepted AI edits per repository</h2>\n");
    if r.edits_by_repository.is_empty() {
        page.push_str("<p class=\"muted\">No edit was accepted in this period.</p>\n");
        return;
    }
    page.push_str("<table><tr><th>Repository</th><th>Remotes</th><th class=\"n\">Edits</th><th class=\"n\">Files</th><th class=\"n\">Lines +</th><th class=\"n\">Lines −</th><th>Models</th></tr>\n");
    for e in &r.edits_by_repository {
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&e.repository),
            esc(&e.remotes.join(", ")),
            e.edits,
            e.files,
            e.lines_added,
            e.lines_removed,
            esc(&e.models.join(", "))
        );
    }
    page.push_str("</table>\n");
}

fn repositories(page: &mut String, r: &Report) {
    page.push_str("<h2>Repositories touched, against the allowlist</h2>\n");
    if r.repositories.is_empty() {
        page.push_str(
            "<p class=\"muted\">No session worked in a git repository in this period.</p>\n",
        );
        return;
    }
    page.push_str("<table><tr><th>Repository</th><th>Remotes</th><th class=\"n\">Sessions</th><th class=\"n\">Edits</th><th class=\"n\">Refusals</th><th>Allowlist today</th></tr>\n");
    for repo in &r.repositories {
        let class = match repo.allowlist.as_str() {
            "allowed" => "allow",
            "ask" => "ask",
            "no-allowlist" => "",
            _ => "deny",
        };
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><span class=\"tag {class}\">{}</span></td></tr>",
            esc(&repo.repository),
            esc(&repo.remotes.join(", ")),
            repo.sessions,
            repo.edits,
            repo.refusals,
            esc(&repo.allowlist)
        );
    }
    page.push_str("</table>\n<p class=\"muted\">“Allowlist today” is the verdict of the policy in force when this report was made, on the remotes recorded when each session started.</p>\n");
}

fn reviews(page: &mut String, r: &Report) {
    page.push_str("<h2>Reviews</h2>\n");
    if r.reviews.is_empty() {
        page.push_str("<p class=\"muted\">No earlier report was made in this period. Each report leaves a signed-over record in the ledger, so the next one lists it here.</p>\n");
        return;
    }
    page.push_str("<table><tr><th>When (UTC)</th><th>Seq</th><th>By</th><th>Period reviewed</th><th>Report digest (BLAKE3)</th></tr>\n");
    for review in &r.reviews {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{} – {}</td><td><code>{}</code></td></tr>",
            esc(review.time.get(..19).unwrap_or(&review.time)),
            review.seq,
            opt(&review.by),
            esc(review.period["since"].as_str().unwrap_or("?")),
            esc(review.period["until"].as_str().unwrap_or("?")),
            opt(&review.digest)
        );
    }
    page.push_str("</table>\n");
}

fn integrity(page: &mut String, r: &Report) {
    let i = &r.integrity;
    page.push_str("<h2>Integrity</h2>\n<table>\n");
    let rows = [
        ("Ledger id", format!("<code>{}</code>", esc(&i.ledger_id))),
        (
            "Head",
            i.head.as_ref().map_or("—".into(), |h| {
                format!("seq {} <code>{}</code>", h.seq, esc(&h.hash))
            }),
        ),
        (
            "Verification",
            if i.intact {
                format!(
                    "<span class=\"tag allow\">intact</span> {} records",
                    i.records_verified
                )
            } else {
                format!(
                    "<span class=\"tag deny\">broken</span> first bad seq {}",
                    i.first_bad_seq.map_or("?".into(), |s| s.to_string())
                )
            },
        ),
        (
            "Last signed checkpoint",
            i.last_checkpoint
                .as_ref()
                .map_or("none yet (every export adds one)".into(), |c| {
                    format!("seq {}, covering seq {}, {}", c.seq, c.covers, esc(&c.time))
                }),
        ),
        ("Signed checkpoints verified", i.checkpoints.to_string()),
        (
            "Signing key (Ed25519, from genesis)",
            i.public_key
                .as_deref()
                .map_or("—".into(), |k| format!("<code>{}</code>", esc(k))),
        ),
        ("Records waiting in the spool", i.spool_pending.to_string()),
    ];
    for (name, value) in rows {
        let _ = writeln!(page, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    page.push_str("</table>\n");
    for line in i.problems.iter().chain(&i.warnings).chain(&i.pruned) {
        let _ = writeln!(page, "<p class=\"muted\">{}</p>", esc(line));
    }
    page.push_str("<h3>Export cursors</h3>\n");
    if i.export_cursors.is_empty() {
        page.push_str("<p class=\"muted\">Nothing has been shipped off this machine: the ledger is only as trustworthy as the machine itself. See docs/shipping.md.</p>\n");
    } else {
        page.push_str("<table><tr><th>Sink</th><th class=\"n\">Acknowledged through</th><th class=\"n\">Behind head</th><th>Pending</th><th>Updated</th></tr>\n");
        for c in &i.export_cursors {
            let _ = writeln!(
                page,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.sink),
                c.acknowledged_through,
                c.behind_head,
                c.pending_through
                    .map_or("—".into(), |p| format!("through seq {p}")),
                esc(&c.updated)
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("<h3>Check it yourself</h3>\n<pre>");
    for command in &i.commands {
        page.push_str(&esc(command));
        page.push('\n');
    }
    page.push_str("</pre>\n<p class=\"muted\">The JSON form of this report (<code>--format json</code>) carries the same numbers; its BLAKE3 digest is recorded in the ledger when the report is made.</p>\n");
}
