//! The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
//! external resources, so it can be mailed, archived and opened offline as it is.

use std::fmt::Write;

use super::tables::{self, Cell, Section};
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
    if let Some(section) = tables::fleet(report) {
        titled(&mut page, &section);
    }
    activity(&mut page, report);
    titled(&mut page, &tables::people(report));
    titled(&mut page, &tables::actors(report));
    models(&mut page, report);
    for section in token_sections(report) {
        titled(&mut page, &section);
    }
    decisions(&mut page, report);
    for section in [
        tables::dlp(report),
        tables::edits(report),
        tables::repositories(report),
        tables::policies(report),
        tables::controls(report),
        tables::reviews("Reviews", &report.reviews, tables::NO_REVIEWS),
        tables::reviews(
            "Reports made by the agent (not reviews)",
            &report.agent_reports,
            tables::NO_AGENT_REPORTS,
        ),
    ] {
        titled(&mut page, &section);
    }
    integrity(&mut page, report);
    page.push_str("</body>\n</html>\n");
    page
}

fn token_sections(r: &Report) -> [Section; 3] {
    [
        tables::tokens("Tokens by model", "Model", &r.tokens.by_model),
        tables::tokens("Tokens by person", "Person", &r.tokens.by_person),
        tables::tokens("Tokens by day", "Date (UTC)", &r.tokens.by_day),
    ]
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
        "<h1>{}</h1>\n<p class=\"meta\">Period <b>{}</b> to <b>{}</b> (UTC, end exclusive) · ledger <code>{}</code> (created on <b>{}</b> by <b>{}</b>) · {} records in the period (seq {}–{}) · generated {} for reviewer <b>{}</b> on {} with hookledger {}</p>",
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
    if let Some(fleet) = &r.fleet {
        let bad = i.problems.len() + i.warnings.len();
        let _ = writeln!(
            page,
            "<div class=\"banner {}\">{} of {} machines verified by the server ({} records verified); {}</div>",
            if bad == 0 { "ok" } else { "bad" },
            fleet.machines.len() - bad.min(fleet.machines.len()),
            fleet.machines.len(),
            i.records_verified,
            if bad == 0 {
                "no machine is silent or broken.".to_owned()
            } else {
                esc(&i
                    .problems
                    .iter()
                    .chain(&i.warnings)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "))
            }
        );
    } else if i.intact {
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
    let _ = writeln!(
        page,
        "<p class=\"muted\">People: {}, on {} hosts. Tokens: {} input, {} output, {} cache read, {} cache creation; turns without token usage: {}.</p>",
        t.people,
        t.hosts,
        t.tokens.input_tokens,
        t.tokens.output_tokens,
        t.tokens.cache_read_input_tokens,
        t.tokens.cache_creation_input_tokens,
        t.turns_without_usage
    );
}

fn activity(page: &mut String, r: &Report) {
    let section = tables::daily(r);
    let _ = writeln!(page, "<h2>{}</h2>", esc(&section.title));
    if !r.daily.is_empty() {
        page.push_str(&day_chart(&r.daily));
    }
    table(page, &section);
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

/// A section's table, or its sentence when there are no rows, and its note.
fn table(page: &mut String, section: &Section) {
    if section.table.rows.is_empty() {
        let _ = writeln!(page, "<p class=\"muted\">{}</p>", esc(section.when_empty));
        return;
    }
    page.push_str("<table><tr>");
    for column in &section.table.columns {
        match column.strip_prefix('#') {
            Some(title) => {
                let _ = write!(page, "<th class=\"n\">{}</th>", esc(title));
            }
            None => {
                let _ = write!(page, "<th>{}</th>", esc(column));
            }
        }
    }
    page.push_str("</tr>\n");
    for row in &section.table.rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = match cell {
                Cell::Text(text) => write!(page, "<td>{}</td>", esc(text)),
                Cell::Code(text) => write!(page, "<td><code>{}</code></td>", esc(text)),
                Cell::Number(n) => write!(page, "<td class=\"n\">{n}</td>"),
                Cell::Tag(class, text) => {
                    write!(
                        page,
                        "<td><span class=\"tag {class}\">{}</span></td>",
                        esc(text)
                    )
                }
            };
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
    if let Some(note) = &section.note {
        let _ = writeln!(page, "<p class=\"muted\">{}</p>", esc(note));
    }
}

fn titled(page: &mut String, section: &Section) {
    let _ = writeln!(page, "<h2>{}</h2>", esc(&section.title));
    table(page, section);
}

fn models(page: &mut String, r: &Report) {
    let section = tables::models(r);
    let _ = writeln!(page, "<h2>Models and Claude Code versions</h2>");
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
    table(page, &section);
    table(page, &tables::versions(r));
}

fn decisions(page: &mut String, r: &Report) {
    let d = &r.decisions;
    let section = tables::rules(r);
    let _ = writeln!(page, "<h2>{}</h2>", esc(&section.title));
    let items: Vec<(String, u64)> = d
        .by_rule
        .iter()
        .map(|c| (format!("{} ({})", c.rule, c.action), c.count))
        .collect();
    page.push_str(&bar_list(&items, "#d64545", "Refusals and asks per rule"));
    table(page, &section);
    for (title, list, unlisted) in [
        ("Refused", &d.denied, d.denied_unlisted),
        ("Asked for approval", &d.asked, d.asked_unlisted),
    ] {
        if list.is_empty() {
            continue;
        }
        let section = tables::operations(title, list, unlisted);
        let _ = writeln!(page, "<h3>{}</h3>", esc(&section.title));
        table(page, &section);
    }
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
    let cursors = tables::cursors(r);
    let _ = writeln!(page, "<h3>{}</h3>", esc(&cursors.title));
    table(page, &cursors);
    page.push_str("<h3>Check it yourself</h3>\n<pre>");
    for command in &i.commands {
        page.push_str(&esc(command));
        page.push('\n');
    }
    page.push_str("</pre>\n<p class=\"muted\">The JSON form of this report (<code>--format json</code>) carries the same numbers; its BLAKE3 digest is recorded in the ledger when the report is made.</p>\n");
}
