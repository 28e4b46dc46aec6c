//! The report's tables, built once from the numbers and rendered by both the HTML and the
//! Markdown forms, so the two cannot drift apart.

use super::{Operation, Report};

pub enum Cell {
    Text(String),
    /// Identifiers, paths, hashes: monospace.
    Code(String),
    Number(u64),
    /// A verdict shown as a coloured tag: (`allow` | `ask` | `deny` | ``, text).
    Tag(&'static str, String),
}

pub struct Table {
    /// Column titles; a title starting with `#` is a numeric column (right-aligned).
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

pub struct Section {
    pub title: String,
    /// Shown instead of the table when it has no rows.
    pub when_empty: &'static str,
    pub table: Table,
    /// A sentence under the table.
    pub note: Option<String>,
}

fn text(value: &Option<String>) -> Cell {
    Cell::Text(value.clone().unwrap_or_else(|| "—".into()))
}

fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "allow" | "allowed" => "allow",
        "ask" => "ask",
        "deny" | "denied" | "not-allowed" => "deny",
        _ => "",
    }
}

pub fn daily(r: &Report) -> Section {
    Section {
        title: "Activity per day".into(),
        when_empty: "No activity in this period.",
        table: Table {
            columns: vec![
                "Date (UTC)",
                "#Sessions",
                "#Prompts",
                "#Tool calls",
                "#Edits",
                "#Refused",
                "#Asked",
            ],
            rows: r
                .daily
                .iter()
                .map(|d| {
                    vec![
                        Cell::Text(d.date.clone()),
                        Cell::Number(d.sessions),
                        Cell::Number(d.prompts),
                        Cell::Number(d.tool_calls),
                        Cell::Number(d.edits),
                        Cell::Number(d.denied),
                        Cell::Number(d.asked),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

fn activity_cells(a: &super::Activity) -> Vec<Cell> {
    vec![
        Cell::Number(a.sessions),
        Cell::Number(a.prompts),
        Cell::Number(a.tool_calls),
        Cell::Number(a.edits),
        Cell::Number(a.denied),
        Cell::Number(a.asked),
        Cell::Number(a.tokens.input_tokens),
        Cell::Number(a.tokens.output_tokens),
    ]
}

const ACTIVITY_COLUMNS: [&str; 8] = [
    "#Sessions",
    "#Prompts",
    "#Tool calls",
    "#Edits",
    "#Refused",
    "#Asked",
    "#Input tokens",
    "#Output tokens",
];

/// Activity per person: the Claude Code account, else the git identity, else user@host.
pub fn people(r: &Report) -> Section {
    let mut columns = vec!["Person", "Identified by", "Machines"];
    columns.extend(ACTIVITY_COLUMNS);
    Section {
        title: "People".into(),
        when_empty: "No session in this period.",
        table: Table {
            columns,
            rows: r
                .people
                .iter()
                .map(|p| {
                    let mut row = vec![
                        Cell::Code(p.person.clone()),
                        Cell::Text(p.identified_by.as_str().into()),
                        Cell::Text(p.machines.join(", ")),
                    ];
                    row.extend(activity_cells(&p.activity));
                    row
                })
                .collect(),
        },
        note: Some("A person is the Claude Code account each session-start recorded, else the repository's git user.email, else the OS user at the host.".into()),
    }
}

pub fn actors(r: &Report) -> Section {
    let mut columns = vec!["Person", "OS user", "Host"];
    columns.extend(ACTIVITY_COLUMNS);
    Section {
        title: "Users and hosts".into(),
        when_empty: "No session in this period.",
        table: Table {
            columns,
            rows: r
                .by_actor
                .iter()
                .map(|a| {
                    let mut row = vec![Cell::Code(a.person.clone()), text(&a.user), text(&a.host)];
                    row.extend(activity_cells(&a.activity));
                    row
                })
                .collect(),
        },
        note: Some(
            "From every session-start record: the OS user and host each session ran under.".into(),
        ),
    }
}

/// Tokens by `what` (model, person, day).
pub fn tokens(title: &str, what: &'static str, rows: &[super::TokenRow]) -> Section {
    Section {
        title: title.into(),
        when_empty: "No token usage was recorded in this period.",
        table: Table {
            columns: vec![
                what,
                "#Input",
                "#Output",
                "#Cache read",
                "#Cache creation",
                "#Messages",
            ],
            rows: rows
                .iter()
                .map(|row| {
                    vec![
                        Cell::Code(row.key.clone()),
                        Cell::Number(row.tokens.input_tokens),
                        Cell::Number(row.tokens.output_tokens),
                        Cell::Number(row.tokens.cache_read_input_tokens),
                        Cell::Number(row.tokens.cache_creation_input_tokens),
                        Cell::Number(row.tokens.messages),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

pub fn policies(r: &Report) -> Section {
    Section {
        title: "Policies in force".into(),
        when_empty: "No session of this period recorded a policy file: hookledger recorded everything and refused nothing but tools touching its own files.",
        table: Table {
            columns: vec![
                "Layer",
                "Path",
                "BLAKE3",
                "First seen (UTC)",
                "Last seen (UTC)",
                "#Sessions",
            ],
            rows: r
                .policies
                .iter()
                .map(|p| {
                    vec![
                        Cell::Text(p.layer.clone()),
                        Cell::Code(p.path.clone()),
                        Cell::Code(p.blake3.clone()),
                        Cell::Text(p.first_seen.clone()),
                        Cell::Text(p.last_seen.clone()),
                        Cell::Number(p.sessions),
                    ]
                })
                .collect(),
        },
        note: Some("As each session-start recorded them: a file's digest changes whenever its content does.".into()),
    }
}

pub fn models(r: &Report) -> Section {
    Section {
        title: "Models".into(),
        when_empty: "No tool calls in this period.",
        table: Table {
            columns: vec![
                "Model",
                "#Sessions",
                "#Prompts",
                "#Tool calls",
                "#Accepted edits",
            ],
            rows: r
                .models
                .iter()
                .map(|m| {
                    vec![
                        Cell::Code(m.model.clone()),
                        Cell::Number(m.sessions),
                        Cell::Number(m.prompts),
                        Cell::Number(m.tool_calls),
                        Cell::Number(m.edits),
                    ]
                })
                .collect(),
        },
        note: Some("The model of each tool call is the one Claude Code's transcript attests at the end of the turn, else the newest model seen when the call was made.".into()),
    }
}

pub fn versions(r: &Report) -> Section {
    Section {
        title: "Claude Code versions".into(),
        when_empty: "No record in this period names a Claude Code version.",
        table: Table {
            columns: vec!["Version", "#Sessions", "#Records"],
            rows: r
                .claude_code_versions
                .iter()
                .map(|v| {
                    vec![
                        Cell::Code(v.version.clone()),
                        Cell::Number(v.sessions),
                        Cell::Number(v.records),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

pub fn rules(r: &Report) -> Section {
    Section {
        title: "Refused and asked operations".into(),
        when_empty: "No operation was refused or sent for approval in this period.",
        table: Table {
            columns: vec!["Rule", "Verdict", "Policy layer", "#Count"],
            rows: r
                .decisions
                .by_rule
                .iter()
                .map(|c| {
                    vec![
                        Cell::Code(c.rule.clone()),
                        Cell::Tag(verdict_class(&c.action), c.action.clone()),
                        Cell::Text(c.layer.clone()),
                        Cell::Number(c.count),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

/// The refused (or asked) operations one by one.
pub fn operations(title: &str, list: &[Operation], unlisted: u64) -> Section {
    Section {
        title: format!("{title} ({})", list.len() as u64 + unlisted),
        when_empty: "None.",
        table: Table {
            columns: vec![
                "Time (UTC)",
                "#Seq",
                "Person",
                "Tool",
                "Model",
                "Target",
                "All targets",
                "Command",
                "Rule",
                "Reason",
            ],
            rows: list
                .iter()
                .map(|op| {
                    vec![
                        Cell::Text(op.time.get(..19).unwrap_or(&op.time).to_owned()),
                        Cell::Number(op.seq),
                        Cell::Text(op.person.clone()),
                        Cell::Text(op.tool.clone().unwrap_or_else(|| op.kind.clone())),
                        Cell::Code(op.model.clone().unwrap_or_else(|| "—".into())),
                        Cell::Code(op.subject.clone().unwrap_or_else(|| "—".into())),
                        Cell::Code(
                            op.targets
                                .iter()
                                .map(|t| {
                                    format!("{} {}", t.access.as_deref().unwrap_or("?"), t.path)
                                })
                                .collect::<Vec<_>>()
                                .join("; "),
                        ),
                        Cell::Code(op.command.clone().unwrap_or_else(|| "—".into())),
                        Cell::Code(if op.enforced {
                            op.rule.clone()
                        } else {
                            format!("{} (audit)", op.rule)
                        }),
                        text(&op.reason),
                    ]
                })
                .collect(),
        },
        note: (unlisted > 0).then(|| {
            format!("{unlisted} more are counted above and kept in the ledger (hookledger log --decision deny).")
        }),
    }
}

pub fn dlp(r: &Report) -> Section {
    Section {
        title: "Data loss prevention".into(),
        when_empty: "No secret was found in a prompt or in content the agent tried to write.",
        table: Table {
            columns: vec!["Kind of secret", "Found in", "#Findings", "#Refused"],
            rows: r
                .dlp
                .iter()
                .map(|f| {
                    vec![
                        Cell::Text(f.kind.clone()),
                        Cell::Text(f.found_in.into()),
                        Cell::Number(f.count),
                        Cell::Number(f.refused),
                    ]
                })
                .collect(),
        },
        note: (!r.dlp.is_empty()).then(|| {
            "Kinds and counts only: the secrets themselves are never stored in clear, nor reported.".into()
        }),
    }
}

pub fn edits(r: &Report) -> Section {
    Section {
        title: "Accepted AI edits per repository".into(),
        when_empty: "No edit was accepted in this period.",
        table: Table {
            columns: vec![
                "Repository",
                "Remotes",
                "#Edits",
                "#Files",
                "#Lines +",
                "#Lines −",
                "Models",
            ],
            rows: r
                .edits_by_repository
                .iter()
                .map(|e| {
                    vec![
                        Cell::Code(e.repository.clone()),
                        Cell::Text(e.remotes.join(", ")),
                        Cell::Number(e.edits),
                        Cell::Number(e.files),
                        Cell::Number(e.lines_added),
                        Cell::Number(e.lines_removed),
                        Cell::Text(e.models.join(", ")),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

pub fn repositories(r: &Report) -> Section {
    Section {
        title: "Repositories touched, against the allowlist".into(),
        when_empty: "No session worked in a git repository in this period.",
        table: Table {
            columns: vec![
                "Repository",
                "Remotes",
                "#Sessions",
                "#Edits",
                "#Refusals",
                "Allowlist then",
                "Judged from",
            ],
            rows: r
                .repositories
                .iter()
                .map(|repo| {
                    vec![
                        Cell::Code(repo.repository.clone()),
                        Cell::Text(repo.remotes.join(", ")),
                        Cell::Number(repo.sessions),
                        Cell::Number(repo.edits),
                        Cell::Number(repo.refusals),
                        Cell::Tag(
                            verdict_class(repo.allowlist.as_str()),
                            repo.allowlist.as_str().into(),
                        ),
                        Cell::Text(repo.basis.as_str().into()),
                    ]
                })
                .collect(),
        },
        note: (!r.repositories.is_empty()).then(|| {
            "“Allowlist then” is the verdict of the policy recorded when the sessions ran: from the repository decisions recorded on calls into it, else from the policy files each session-start recorded, re-read only when their bytes still have the recorded digest (`unknown` otherwise). Refusals count every refused operation with a target in the repository.".into()
        }),
    }
}

/// Reviews (`title` "Reviews") or reports made from an agent's tool call.
pub fn reviews(title: &str, list: &[super::Review], when_empty: &'static str) -> Section {
    Section {
        title: title.into(),
        when_empty,
        table: Table {
            columns: vec![
                "When (UTC)",
                "#Seq",
                "Reviewer",
                "Period reviewed",
                "Formats",
                "Note",
                "Report digest (BLAKE3)",
            ],
            rows: list
                .iter()
                .map(|review| {
                    vec![
                        Cell::Text(review.time.get(..19).unwrap_or(&review.time).to_owned()),
                        Cell::Number(review.seq),
                        text(&review.reviewer),
                        Cell::Text(format!(
                            "{} – {}",
                            review.period["since"].as_str().unwrap_or("?"),
                            review.period["until"].as_str().unwrap_or("?")
                        )),
                        Cell::Text(review.formats.join(", ")),
                        text(&review.note),
                        Cell::Code(review.digest.clone().unwrap_or_else(|| "—".into())),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

pub const NO_REVIEWS: &str = "No earlier report was made in this period. Each report leaves a record in the ledger, so the next one lists it here.";
pub const NO_AGENT_REPORTS: &str = "None.";

pub fn cursors(r: &Report) -> Section {
    Section {
        title: "Export cursors".into(),
        when_empty: "Nothing has been shipped off this machine: the ledger is only as trustworthy as the machine itself (see docs/shipping.md).",
        table: Table {
            columns: vec![
                "Sink",
                "#Acknowledged through",
                "#Behind head",
                "Pending",
                "Updated",
            ],
            rows: r
                .integrity
                .export_cursors
                .iter()
                .map(|c| {
                    vec![
                        Cell::Code(c.sink.clone()),
                        Cell::Number(c.acknowledged_through),
                        Cell::Number(c.behind_head),
                        Cell::Text(
                            c.pending_through
                                .map_or("—".into(), |p| format!("through seq {p}")),
                        ),
                        Cell::Text(c.updated.clone()),
                    ]
                })
                .collect(),
        },
        note: None,
    }
}

/// Controls in force, per session start.
pub fn controls(r: &Report) -> Section {
    let s = &r.controls.sandbox;
    let rows: Vec<Vec<Cell>> = [
        (
            "enforced by managed settings",
            "allow",
            s.enforced_by_managed,
        ),
        (
            "enforced by settings a user can change",
            "ask",
            s.enforced_elsewhere,
        ),
        ("enabled with a way out", "ask", s.enabled_not_enforced),
        ("off", "deny", s.off),
        ("not recorded (older hookledger)", "", s.unknown),
    ]
    .into_iter()
    .filter(|(_, _, n)| *n > 0)
    .map(|(state, class, n)| {
        vec![
            Cell::Text("OS sandbox for Bash".into()),
            Cell::Tag(class, state.into()),
            Cell::Number(n),
        ]
    })
    .chain(r.controls.lockdown.iter().flat_map(|l| {
        [
            ("on", "allow", l.on),
            ("off", "deny", l.off),
            ("not recorded", "", l.unknown),
        ]
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(state, class, n)| {
            vec![
                Cell::Code(l.setting.clone()),
                Cell::Tag(class, state.into()),
                Cell::Number(n),
            ]
        })
        .collect::<Vec<_>>()
    }))
    .collect();
    Section {
        title: "Controls".into(),
        when_empty: "No session started in this period.",
        table: Table {
            columns: vec!["Control", "State", "#Sessions"],
            rows,
        },
        note: Some(
            "Claude Code's OS sandbox (bubblewrap, Seatbelt) confines every Bash command whatever hookledger's analysis of it concludes; each session start records whether it was in force.".into(),
        ),
    }
}

/// The fleet's machines (fleet reports only): each machine's chain status as the server verified
/// it, what is wrong now, and its activity in the period.
pub fn fleet(r: &Report) -> Option<Section> {
    let fleet = r.fleet.as_ref()?;
    let mut columns = vec![
        "Machine",
        "Status",
        "Codes",
        "Last seen",
        "#Records verified",
        "#Records in period",
    ];
    columns.extend(ACTIVITY_COLUMNS);
    let counts: Vec<String> = fleet
        .statuses
        .iter()
        .map(|(status, n)| format!("{n} {}", status.as_str()))
        .collect();
    Some(Section {
        title: "Machines".into(),
        when_empty: "The store holds no machine.",
        table: Table {
            columns,
            rows: fleet
                .machines
                .iter()
                .map(|m| {
                    let status = m.status.as_str();
                    let class = match m.status {
                        super::fleet::MachineStatus::Verified => "allow",
                        super::fleet::MachineStatus::Silent => "ask",
                        _ => "deny",
                    };
                    let mut row = vec![
                        Cell::Code(m.name.clone()),
                        Cell::Tag(class, status.to_owned()),
                        Cell::Text(if m.codes.is_empty() {
                            "—".into()
                        } else {
                            m.codes.join(", ")
                        }),
                        text(&m.last_seen),
                        Cell::Number(m.records_verified),
                        Cell::Number(m.records_in_period),
                    ];
                    row.extend(activity_cells(&m.activity));
                    row
                })
                .collect(),
        },
        note: Some(format!(
            "From the store {}: {}. A status is the server's incremental verification (docs/server.md); only records the server verified are counted above.",
            fleet.store,
            if counts.is_empty() {
                "no machines".to_owned()
            } else {
                counts.join(", ")
            }
        )),
    })
}
