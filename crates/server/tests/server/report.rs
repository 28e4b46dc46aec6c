//! `hookledger report --store`: the fleet report over a real server's store. Machines with
//! different people, repositories, refusals and token usage write their ledgers through the
//! real hook and ship them; the fleet report's numbers must be the sums of each machine's own
//! `hookledger report`, and the machines that are broken, silent or never shipped are listed
//! with their codes, never as verified.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use hookledger_ledger::{Ledger, NewRecord, OpenOptions, canonical_json};
use serde_json::{Value, json};

use crate::support::*;

fn git_repo(dir: &Path, remote: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("a.txt"), "hello\n").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "init"]);
    git(&["remote", "add", "origin", remote]);
}

/// One person's work on one machine, through the real hook: `prompts` prompts, `refusals`
/// refused reads of the repository's `.env`, one allowed command, and a turn end whose usage
/// (`model`, input, output) is recorded as the hook's stop record carries it.
struct Work<'a> {
    email: &'a str,
    repo: &'a str,
    prompts: usize,
    refusals: usize,
    model: &'a str,
    tokens: (u64, u64),
}

fn hook(m: &Machine, user_home: &Path, payload: &Value) -> i32 {
    let event = payload["hook_event_name"].as_str().unwrap().to_owned();
    let mut cmd = m.command();
    cmd.args(["hook", "--event", &event])
        .env("HOME", user_home)
        .env("CLAUDE_PROJECT_DIR", payload["cwd"].as_str().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        payload.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 2,
        "hook {event}: {}",
        text(&out.stderr)
    );
    code
}

fn work(m: &Machine, w: &Work<'_>) {
    let root = m.dir.path().join(w.repo);
    git_repo(&root, &format!("git@github.com:Acme/{}.git", w.repo));
    let user_home = m.dir.path().join("user");
    std::fs::create_dir_all(&user_home).unwrap();
    std::fs::write(
        user_home.join(".claude.json"),
        json!({"oauthAccount": {"emailAddress": w.email}}).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(m.home()).unwrap();
    std::fs::write(
        m.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}}"#,
    )
    .unwrap();
    let session = format!("{}-session", m.name);
    let base = |event: &str| {
        json!({"session_id": session, "transcript_path": "/nonexistent/t.jsonl",
               "cwd": root, "hook_event_name": event})
    };
    let mut start = base("SessionStart");
    start["source"] = json!("startup");
    start["model"] = json!(w.model);
    hook(m, &user_home, &start);
    // Who, where: the hook's session-start again with the identity fields of the record
    // contract (this build's hook does not record them yet; tests/integration/report.rs adds
    // them the same way), each person on their own host.
    let recorded: String = rusqlite::Connection::open(m.ledger())
        .unwrap()
        .query_row(
            "SELECT CAST(payload AS TEXT) FROM records WHERE kind = 'session-start' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut identified: Value = serde_json::from_str(&recorded).unwrap();
    let user = w.email.split('@').next().unwrap();
    identified["host"] = json!(m.name);
    identified["os_user"] = json!(user);
    identified["identity"] = json!({"claude": {"email": w.email}, "os_user": {"name": user},
        "git": null, "host": m.name});
    Ledger::open(&m.ledger(), &OpenOptions::default())
        .unwrap()
        .append(&[NewRecord {
            ts_ns: hookledger_ledger::now_ns(),
            kind: hookledger_ledger::Kind::SessionStart.as_str().into(),
            payload: canonical_json(&identified),
        }])
        .unwrap();
    for i in 0..w.prompts {
        let mut p = base("UserPromptSubmit");
        p["prompt"] = json!(format!("task {i} for {}", w.repo));
        hook(m, &user_home, &p);
    }
    for i in 0..w.refusals {
        let mut p = base("PreToolUse");
        p["tool_name"] = json!("Read");
        p["tool_input"] = json!({"file_path": root.join(".env")});
        p["tool_use_id"] = json!(format!("toolu_env_{i}"));
        hook(m, &user_home, &p);
    }
    let mut p = base("PreToolUse");
    p["tool_name"] = json!("Bash");
    p["tool_input"] = json!({"command": "ls"});
    p["tool_use_id"] = json!("toolu_ls");
    hook(m, &user_home, &p);
    // An accepted edit in the repository (lines added counted per machine and repository).
    let mut p = base("PostToolUse");
    p["tool_name"] = json!("Write");
    p["tool_input"] = json!({"file_path": root.join("notes.md"), "content": "one\ntwo\nthree\n"});
    p["tool_response"] = json!({"type": "create", "filePath": root.join("notes.md")});
    p["tool_use_id"] = json!("toolu_write");
    hook(m, &user_home, &p);
    let mut stop = base("Stop");
    stop["stop_hook_active"] = json!(false);
    hook(m, &user_home, &stop);
    // The turn's usage as a stop record carries it (the hook does not read transcripts' usage
    // in this build; tests/integration/report.rs adds it the same way).
    let mut ledger = Ledger::open(&m.ledger(), &OpenOptions::default()).unwrap();
    ledger
        .append(&[NewRecord {
            ts_ns: hookledger_ledger::now_ns(),
            kind: hookledger_ledger::Kind::Stop.as_str().into(),
            payload: canonical_json(&json!({"event": "Stop", "session_id": session,
                "cwd": root, "usage_source": "transcript",
                "usage": [{"model": w.model, "input_tokens": w.tokens.0,
                           "output_tokens": w.tokens.1, "cache_read_input_tokens": 7,
                           "cache_creation_input_tokens": 3, "messages": 2}]})),
        }])
        .unwrap();
}

fn report_json(cmd: &mut Command, args: &[&str]) -> Value {
    let out = cmd
        .args(["report", "--since", "2020-01-01", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "report: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every number of a report's `totals` (tokens flattened), by name.
fn numbers(v: &Value, prefix: &str, out: &mut BTreeMap<String, u64>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                numbers(x, &format!("{prefix}{k}."), out);
            }
        }
        Value::Number(n) => {
            *out.entry(prefix.trim_end_matches('.').to_owned())
                .or_default() += n.as_u64().unwrap();
        }
        _ => {}
    }
}

/// `list` as key → summed numeric fields.
fn keyed(list: &Value, key: &[&str], out: &mut BTreeMap<String, BTreeMap<String, u64>>) {
    for row in list.as_array().unwrap() {
        let k: Vec<String> = key.iter().map(|f| row[*f].to_string()).collect();
        let entry = out.entry(k.join("|")).or_default();
        for (field, x) in row.as_object().unwrap() {
            if key.contains(&field.as_str()) {
                continue;
            }
            if let Some(n) = x.as_u64() {
                *entry.entry(field.clone()).or_default() += n;
            }
            if let Some(tokens) = x.as_object() {
                for (t, n) in tokens {
                    if let Some(n) = n.as_u64() {
                        *entry.entry(format!("{field}.{t}")).or_default() += n;
                    }
                }
            }
        }
    }
}

#[test]
fn the_fleet_report_is_the_sum_of_the_machines_sqlite() {
    let scratch = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", scratch.path().join("fleet.db").display());
    fleet_report(&store);
}

/// The same on PostgreSQL (JSONB payloads come back re-serialized: the report reads them
/// re-canonicalized, and their hashes are checked again on read).
#[test]
fn the_fleet_report_is_the_sum_of_the_machines_postgres() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    fleet_report(&pg.url);
}

fn fleet_report(store: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let store = store.to_owned();
    let server = Server::start(&store, scratch.path(), free_port());
    let url = server.url();
    let plans = [
        (
            "alice-laptop",
            Work {
                email: "alice@example.com",
                repo: "widgets",
                prompts: 3,
                refusals: 2,
                model: "claude-sonnet-4-5",
                tokens: (1200, 340),
            },
        ),
        (
            "bob-desktop",
            Work {
                email: "bob@example.com",
                repo: "gadgets",
                prompts: 1,
                refusals: 1,
                model: "claude-opus-4-1",
                tokens: (3000, 1500),
            },
        ),
        (
            "carol-vm",
            Work {
                email: "carol@example.com",
                repo: "widgets-api",
                prompts: 2,
                refusals: 0,
                model: "claude-sonnet-4-5",
                tokens: (90, 45),
            },
        ),
        (
            "dave-broken",
            Work {
                email: "dave@example.com",
                repo: "tools",
                prompts: 1,
                refusals: 3,
                model: "claude-haiku-4-5",
                tokens: (10, 5),
            },
        ),
        (
            "erin-silent",
            Work {
                email: "erin@example.com",
                repo: "infra",
                prompts: 2,
                refusals: 1,
                model: "claude-opus-4-1",
                tokens: (700, 70),
            },
        ),
    ];
    let machines: BTreeMap<&str, Machine> = plans
        .iter()
        .map(|(name, _)| (*name, Machine::new(name, enroll(&store, name))))
        .collect();
    let never = Machine::new("frank-never", enroll(&store, "frank-never"));
    for (name, plan) in &plans {
        work(&machines[name], plan);
    }
    // A review on alice's machine before it ships: the fleet report lists who reviewed.
    let out = machines["alice-laptop"]
        .command()
        .args([
            "report",
            "--since",
            "2020-01-01",
            "--format",
            "json",
            "--reviewer",
            "sec-lead",
        ])
        .args(["-o", scratch.path().join("alice.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    for (name, m) in &machines {
        if *name == "erin-silent" {
            continue;
        }
        let (code, out) = m.ship(&url, &[]);
        assert_eq!(code, 0, "{name}: {out}");
    }
    // Erin ships under a clock two hours back: her newest signed checkpoint is older than the
    // hour of silence allowed below.
    let silent_tested = match machines["erin-silent"].ship_at("-2h", &url) {
        Some((code, out)) => {
            assert_eq!(code, 0, "{out}");
            true
        }
        None => {
            let (code, out) = machines["erin-silent"].ship(&url, &[]);
            assert_eq!(code, 0, "{out}");
            false
        }
    };
    // Dave's token carries another machine's ledger: refused, and a finding on dave (his own
    // ledger, shipped before, stays stored and verified).
    let (status, body) = server.post(
        Some(&machines["dave-broken"].token),
        &machines["bob-desktop"].export(),
    );
    assert_eq!(status, 403, "{body}");
    // That export added a checkpoint to bob's ledger: bob ships it.
    let (code, out) = machines["bob-desktop"].ship(&url, &[]);
    assert_eq!(code, 0, "{out}");

    // Each machine's own report, made where its ledger is.
    let own: BTreeMap<&str, Value> = machines
        .iter()
        .map(|(name, m)| (*name, report_json(&mut m.command(), &["--no-record"])))
        .collect();

    // The fleet report, made on a reviewer's workstation with a ledger of its own.
    let reviewer = Machine::new("reviewer", String::new());
    std::fs::create_dir_all(reviewer.home()).unwrap();
    reviewer.work(1);
    let out = reviewer
        .command()
        .args([
            "report",
            "--since",
            "2020-01-01",
            "--format",
            "json",
            "--store",
            &store,
        ])
        .args(["--max-silence", "1h", "--reviewer", "auditor"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("recorded as a review by auditor"),
        "{stderr}"
    );
    let fleet: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reviewer_reports = reviewer
        .command()
        .args(["log", "--kind", "report", "--json"])
        .output()
        .unwrap();
    assert!(
        text(&reviewer_reports.stdout).contains("auditor"),
        "{}",
        text(&reviewer_reports.stderr)
    );

    // Every total is the sum of the machines' totals; distinct counts are the union's size.
    let mut summed = BTreeMap::new();
    for r in own.values() {
        numbers(&r["totals"], "", &mut summed);
    }
    let mut fleet_totals = BTreeMap::new();
    numbers(&fleet["totals"], "", &mut fleet_totals);
    let union = |field: &str, key: &str| -> u64 {
        own.values()
            .flat_map(|r| {
                r[field]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x[key].to_string())
            })
            .collect::<BTreeSet<String>>()
            .len() as u64
    };
    summed.insert("hosts".into(), union("by_actor", "host"));
    assert_eq!(fleet_totals, summed, "fleet totals vs the machines' sum");
    assert_eq!(fleet_totals["people"], 5, "{fleet_totals:?}");
    assert_eq!(fleet_totals["sessions"], 5, "{fleet_totals:?}");
    assert_eq!(fleet_totals["hosts"], 5, "{fleet_totals:?}");
    assert_eq!(fleet_totals["edits"], 5, "{fleet_totals:?}");
    assert_eq!(fleet_totals["files_edited"], 5, "{fleet_totals:?}");
    let scope_sum: u64 = own
        .values()
        .map(|r| r["scope"]["records"].as_u64().unwrap())
        .sum();
    assert!(fleet_totals["denied"] >= 7, "{fleet_totals:?}");
    assert_eq!(
        fleet_totals["tokens.input_tokens"],
        1200 + 3000 + 90 + 10 + 700
    );

    // Per person, per repository, tokens by model, rules, policies: keyed sums.
    for (field, key) in [
        ("people", &["person"][..]),
        ("repositories", &["repository"][..]),
        ("edits_by_repository", &["repository"][..]),
        ("models", &["model"][..]),
        ("policies", &["path", "blake3"][..]),
        ("dlp", &["kind", "found_in"][..]),
    ] {
        let mut want = BTreeMap::new();
        for r in own.values() {
            keyed(&r[field], key, &mut want);
        }
        let mut got = BTreeMap::new();
        keyed(&fleet[field], key, &mut got);
        assert_eq!(got, want, "{field}");
    }
    for (field, key) in [("by_model", "key"), ("by_person", "key"), ("by_day", "key")] {
        let mut want = BTreeMap::new();
        for r in own.values() {
            keyed(&r["tokens"][field], &[key], &mut want);
        }
        let mut got = BTreeMap::new();
        keyed(&fleet["tokens"][field], &[key], &mut got);
        assert_eq!(got, want, "tokens.{field}");
    }
    let mut want = BTreeMap::new();
    for r in own.values() {
        keyed(
            &r["decisions"]["by_rule"],
            &["rule", "action", "layer"],
            &mut want,
        );
    }
    let mut got = BTreeMap::new();
    keyed(
        &fleet["decisions"]["by_rule"],
        &["rule", "action", "layer"],
        &mut got,
    );
    assert_eq!(got, want, "refusals by rule");
    let refused: usize = own
        .values()
        .map(|r| r["decisions"]["denied"].as_array().unwrap().len())
        .sum();
    let listed = fleet["decisions"]["denied"].as_array().unwrap();
    assert_eq!(listed.len(), refused);
    assert!(
        listed.iter().all(|d| d["machine"].is_string()),
        "each refusal names its machine"
    );
    // Who reviewed: alice's review is in the fleet's reviews.
    let reviews = fleet["reviews"].as_array().unwrap();
    let own_reviews: usize = own
        .values()
        .map(|r| r["reviews"].as_array().unwrap().len())
        .sum();
    assert_eq!(reviews.len(), own_reviews);
    assert!(
        reviews.iter().any(|r| r["reviewer"] == "sec-lead"),
        "{reviews:#?}"
    );

    // The fleet section: every machine, its status and codes from the server's verification.
    let listed: BTreeMap<String, Value> = fleet["fleet"]["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m.clone()))
        .collect();
    assert_eq!(listed.len(), 6, "{listed:#?}");
    for name in ["alice-laptop", "bob-desktop", "carol-vm"] {
        assert_eq!(listed[name]["status"], "verified", "{name}");
        assert_eq!(listed[name]["codes"], json!([]));
    }
    assert_eq!(listed["dave-broken"]["status"], "broken");
    assert_eq!(listed["dave-broken"]["codes"], json!(["other-ledger"]));
    assert_eq!(listed["frank-never"]["status"], "no-data");
    if silent_tested {
        assert_eq!(listed["erin-silent"]["status"], "silent");
        assert_eq!(listed["erin-silent"]["codes"], json!(["silent"]));
    }
    for (name, r) in &own {
        let m = &listed[*name];
        let t = &r["totals"];
        for field in ["prompts", "tool_calls", "denied", "asked", "sessions"] {
            assert_eq!(m[field], t[field], "{name}.{field}");
        }
        assert_eq!(m["tokens"], t["tokens"], "{name}");
        assert_eq!(m["records_in_period"], r["scope"]["records"], "{name}");
    }
    assert_eq!(fleet["scope"]["records"], scope_sum);
    // The fleet is not presented as verified while a machine is not.
    assert_eq!(fleet["integrity"]["intact"], false);
    let problems = fleet["integrity"]["problems"].to_string();
    assert!(
        problems.contains("dave-broken: broken (other-ledger)"),
        "{problems}"
    );
    assert!(problems.contains("frank-never: no-data"), "{problems}");
    drop(never);

    // HTML and Markdown render the same fleet.
    let html = scratch.path().join("fleet.html");
    let out = reviewer
        .command()
        .args([
            "report",
            "--since",
            "2020-01-01",
            "--store",
            &store,
            "--no-record",
        ])
        .args(["--format", "html,md", "-o", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for ext in ["html", "md"] {
        let page = std::fs::read_to_string(html.with_extension(ext)).unwrap();
        for needle in [
            "Machines",
            "dave-broken",
            "other-ledger",
            "no-data",
            "alice@example.com",
        ] {
            assert!(page.contains(needle), "{ext} lacks {needle}");
        }
    }

    // Without the server binary: one line naming it. A store it cannot open: one line.
    let out = reviewer
        .command()
        .args([
            "report",
            "--store",
            &store,
            "--no-record",
            "--format",
            "json",
        ])
        .env("HOOKLEDGER_SERVER_BIN", "/nonexistent/hookledger-server")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent/hookledger-server"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = reviewer
        .command()
        .args([
            "report",
            "--store",
            "mysql://x",
            "--no-record",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("cannot read the store"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
