//! `hookledger report`: the evidence pack's numbers match what the ledger holds, in every
//! format, and an altered ledger is called out.

use serde_json::{Value, json};

use crate::util::*;

/// A real session's payloads, a refused read, a blocked prompt carrying a cloud key, a refused
/// write of a secret, and one acknowledged export.
fn evidence_ledger(home: &Home) {
    let fixture = include_str!("../fixtures/cc-2.1.328-e2e-payloads.jsonl");
    for line in fixture.lines() {
        let p: Value = serde_json::from_str(line).unwrap();
        assert_no_opinion(&home.hook(&p));
    }
    let out = home.run(&[
        "export",
        "--sink",
        "siem",
        "-o",
        home.path().join("b.ndjson").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        home.run(&["export", "--sink", "siem", "--ack"])
            .status
            .success()
    );
    std::fs::write(
        home.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}, "prompts": {"secrets": "block"},
            "content_secrets": "deny", "repositories": {"allow": ["github.com/acme/*"], "otherwise": "ask"}}"#,
    )
    .unwrap();
    assert_refused(
        &home.hook(&pre_tool(
            "Read",
            json!({"file_path": "/srv/app/.env"}),
            "toolu_env",
        )),
        "path-deny-read",
    );
    assert_refused(
        &home.hook(&payload(
            "UserPromptSubmit",
            json!({"prompt": "deploy with AKIAQ3EGRZLN5XKT7WPM please"}),
        )),
        "AWS",
    );
    assert_refused(
        &home.hook(&pre_tool(
            "Write",
            json!({"file_path": "/tmp/k.rs", "content": "const K: &str = \"AKIAIOSFODNN7EXAMPLE\";"}),
            "toolu_write",
        )),
        "content-secret",
    );
}

fn report(home: &Home, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["report"];
    if !args.contains(&"--since") {
        all.extend(["--since", "2020-01-01"]);
    }
    all.extend_from_slice(args);
    let out = home.run(&all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn json_report(home: &Home, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = report(home, &args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_numbers_are_the_ledgers_numbers() {
    let home = Home::new();
    evidence_ledger(&home);
    let records = home.records();
    let count = |kind: &str| records.iter().filter(|(_, k, _)| k == kind).count() as u64;
    let r = json_report(&home, &["--no-record"]);
    let totals = &r["totals"];
    assert_eq!(totals["prompts"], count("prompt"), "{totals:#}");
    assert_eq!(totals["tool_calls"], count("tool-call"));
    assert_eq!(totals["edits"], count("edit"));
    assert_eq!(totals["prompts_blocked"], 1);
    assert_eq!(totals["denied"], 3, "the read, the prompt and the write");
    assert_eq!(totals["dlp_findings"], 2, "{r:#}");
    let sessions: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|(_, _, p)| p["session_id"].as_str())
        .collect();
    assert_eq!(totals["sessions"], sessions.len() as u64);
    assert_eq!(r["scope"]["records"], records.len() as u64);
    let rules: Vec<(String, u64)> = r["decisions"]["by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["rule"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(rules.contains(&("path-deny-read".into(), 1)), "{rules:?}");
    assert!(rules.contains(&("prompt-secret".into(), 1)), "{rules:?}");
    assert!(rules.contains(&("content-secret".into(), 1)), "{rules:?}");
    let read = r["decisions"]["denied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "path-deny-read")
        .unwrap();
    assert_eq!(read["subject"], "/srv/app/.env");
    assert_eq!(read["tool"], "Read");
    // The prompt's text never appears, only its size; the key appears nowhere.
    let text = serde_json::to_string(&r).unwrap();
    assert!(!text.contains("AKIA"), "a secret leaked into the report");
    let kinds: Vec<(&str, &str)> = r["dlp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["found_in"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        kinds.iter().any(|(_, place)| *place == "prompt")
            && kinds.iter().any(|(_, place)| *place == "content")
    );
    // Daily numbers add up to the totals.
    let daily_prompts: u64 = r["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["prompts"].as_u64().unwrap())
        .sum();
    assert_eq!(daily_prompts, totals["prompts"].as_u64().unwrap());
    let edits = &r["edits_by_repository"];
    let edit_sum: u64 = edits
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["edits"].as_u64().unwrap())
        .sum();
    assert_eq!(edit_sum, totals["edits"].as_u64().unwrap());
    // Integrity: the chain verifies and the acknowledged export is listed.
    let integrity = &r["integrity"];
    assert_eq!(integrity["intact"], true);
    assert_eq!(integrity["export_cursors"][0]["sink"], "siem");
    assert!(integrity["last_checkpoint"]["seq"].as_u64().unwrap() > 1);
    assert!(
        integrity["commands"][0]
            .as_str()
            .unwrap()
            .starts_with("hookledger verify --ledger")
    );
    let (_, local) = home.verify_json();
    assert_eq!(integrity["head"]["hash"], local["head"]["hash"]);
}

#[test]
fn each_report_is_recorded_and_listed_by_the_next() {
    let home = Home::new();
    evidence_ledger(&home);
    let before = home.records().len();
    let first = json_report(&home, &[]);
    assert!(first["reviews"].as_array().unwrap().is_empty());
    let after = home.records();
    assert_eq!(after.len(), before + 1);
    let (_, kind, note) = after.last().unwrap();
    assert_eq!(kind, "report");
    let digest = blake3_hex(&hookledger::ledger::canonical_json(&first));
    assert_eq!(
        note["digest"], digest,
        "the digest is over the canonical JSON of the report model"
    );
    let second = json_report(&home, &["--no-record"]);
    assert_eq!(second["reviews"][0]["digest"], digest);
    assert_eq!(
        home.records().len(),
        before + 1,
        "--no-record records nothing"
    );
    assert_eq!(home.verify_json().0, 0);
}

#[test]
fn html_and_markdown_carry_the_same_numbers_and_nothing_active() {
    let home = Home::new();
    evidence_ledger(&home);
    let dir = home.path();
    let html_file = dir.join("r.html");
    let md_file = dir.join("r.md");
    for file in [&html_file, &md_file] {
        let (code, _, err) = report(&home, &["--no-record", "-o", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
    }
    let r = json_report(&home, &["--no-record"]);
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let lower = html.to_ascii_lowercase();
    for active in [
        "<script",
        "javascript:",
        "<link",
        "<iframe",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!lower.contains(active), "{active} in the HTML");
    }
    assert!(html.matches("<svg").count() >= 2, "charts are inline SVG");
    assert!(html.contains("The ledger verifies"));
    assert!(html.contains("/srv/app/.env") && html.contains("path-deny-read"));
    assert!(!html.contains("AKIA"));
    let md = std::fs::read_to_string(&md_file).unwrap();
    for (name, value) in [
        ("Prompts", &r["totals"]["prompts"]),
        ("Tool calls", &r["totals"]["tool_calls"]),
        ("Refused operations", &r["totals"]["denied"]),
    ] {
        assert!(
            md.contains(&format!("| {name} | {value} |")),
            "{name} {value}\n{md}"
        );
    }
    assert!(md.contains("`path-deny-read`"));
}

#[test]
fn the_period_bounds_what_is_counted() {
    let home = Home::new();
    evidence_ledger(&home);
    let future = json_report(
        &home,
        &[
            "--no-record",
            "--since",
            "2099-01-01",
            "--until",
            "2099-02-01",
        ],
    );
    assert_eq!(future["scope"]["records"], 0);
    assert_eq!(future["totals"]["tool_calls"], 0);
    assert!(future["daily"].as_array().unwrap().is_empty());
    let (code, _, err) = report(&home, &["--until", "2019-01-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("--until must be after --since"), "{err}");
    let (code, _, err) = report(&home, &["--since", "last tuesday"]);
    assert_eq!(code, 2);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let empty = Home::new();
    let (code, _, err) = report(&empty, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn an_altered_ledger_is_called_out() {
    let home = Home::new();
    evidence_ledger(&home);
    let out = home.sqlite3(
        "DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq = (SELECT min(seq) FROM records WHERE kind = 'tool-call');",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = json_report(&home, &["--no-record"]);
    assert_eq!(r["integrity"]["intact"], false);
    assert!(r["integrity"]["first_bad_seq"].as_u64().is_some());
    let (code, html, _) = report(&home, &["--no-record", "--format", "html"]);
    assert_eq!(code, 0);
    assert!(html.contains("does NOT verify"), "the banner says so");
}

/// The allowlist verdict is the one of the policy recorded when the sessions ran, whatever
/// policy the shell running `report` can read (or not) now.
#[test]
fn repositories_are_judged_against_the_policy_recorded_then() {
    let home = Home::new();
    let allowed = home.path().join("widgets");
    git_repo(&allowed);
    let other = home.path().join("elsewhere");
    git_repo(&other);
    let out = std::process::Command::new("git")
        .current_dir(&other)
        .args([
            "remote",
            "set-url",
            "origin",
            "https://github.com/someone/else.git",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let start = |session: &str, dir: &std::path::Path| {
        let mut start = payload("SessionStart", json!({"source": "startup"}));
        start["session_id"] = json!(session);
        start["cwd"] = json!(dir);
        assert_no_opinion(&home.hook(&start));
    };
    let verdicts = |home: &Home| -> Vec<(String, String, String)> {
        let r = json_report(home, &["--no-record"]);
        r["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|repo| {
                (
                    repo["repository"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_owned(),
                    repo["allowlist"].as_str().unwrap().to_owned(),
                    repo["basis"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let row = |name: &str, verdict: &str, basis: &str| {
        (name.to_owned(), verdict.to_owned(), basis.to_owned())
    };
    // Sessions that ran with no policy: no allowlist then, whatever is written afterwards.
    start("s-widgets", &allowed);
    start("s-else", &other);
    let policy = home.home().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"version": 1, "repositories": {"allow": ["github.com/Acme/*"], "otherwise": "deny"}}"#,
    )
    .unwrap();
    assert_eq!(
        verdicts(&home),
        [
            row("elsewhere", "no-allowlist", "policy-recorded"),
            row("widgets", "no-allowlist", "policy-recorded"),
        ]
    );
    // Sessions under the policy: judged by it (its file still has the recorded digest).
    let later = Home::new();
    std::fs::create_dir_all(later.home()).unwrap();
    std::fs::copy(&policy, later.home().join("policy.json")).unwrap();
    let start_later = |session: &str, dir: &std::path::Path| {
        let mut start = payload("SessionStart", json!({"source": "startup"}));
        start["session_id"] = json!(session);
        start["cwd"] = json!(dir);
        assert_no_opinion(&later.hook(&start));
    };
    start_later("s-widgets", &allowed);
    start_later("s-else", &other);
    assert_eq!(
        verdicts(&later),
        [
            row("elsewhere", "not-allowed", "policy-recorded"),
            row("widgets", "allowed", "policy-recorded"),
        ]
    );
    // A call refused by the allowlist is the verdict itself; the policy changed since then
    // cannot be re-read with the recorded digest, so the other repository is unknown.
    let mut write = pre_tool(
        "Write",
        json!({"file_path": other.join("a.txt"), "content": "x"}),
        "toolu_else",
    );
    write["session_id"] = json!("s-else");
    write["cwd"] = json!(other);
    assert_refused(&later.hook(&write), "repository-not-allowed");
    std::fs::write(
        later.home().join("policy.json"),
        r#"{"version": 1, "repositories": {"allow": ["github.com/someone/*"], "otherwise": "deny"}}"#,
    )
    .unwrap();
    assert_eq!(
        verdicts(&later),
        [
            row("elsewhere", "not-allowed", "decision-recorded"),
            row("widgets", "unknown", "policy-not-readable"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 15: a ledger of three people on two hosts, two repositories, refusals of several
// rules, DLP findings, model switches and known token counts; every number of the report is
// re-derived here from `hookledger log --json`, and HTML and Markdown show the same.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Claude Code's variables for the processes its tools spawn: a report made with any of them
/// is an agent's, not a review. The tests' own runs are made without them.
const AGENT_VARS: [&str; 4] = [
    "CLAUDECODE",
    "CLAUDE_CODE_CHILD_SESSION",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SESSION_ID",
];

fn run_clean(home: &Home, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = home.command();
    for var in AGENT_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Appends a record as a hookledger of another host (or one recording fields this build's
/// hook does not write yet) would have: through the ledger crate, chained like any other.
fn append(home: &Home, ts_ns: i64, kind: &str, payload: &Value) {
    use hookledger::ledger::{NewRecord, OpenOptions, canonical_json, record_or_spool};
    let record = NewRecord {
        ts_ns,
        kind: kind.into(),
        payload: canonical_json(payload),
    };
    let options = OpenOptions {
        checkpoint_every: 0,
        ..OpenOptions::default()
    };
    record_or_spool(&home.ledger(), &options, &record).unwrap();
}

fn now_ns() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

/// One assistant message of a transcript, written (as Claude Code does) once per content
/// block, each line with the message's usage.
fn assistant_lines(id: &str, model: &str, usage: [u64; 4], blocks: usize) -> Vec<Value> {
    (0..blocks)
        .map(|i| {
            json!({"type": "assistant", "version": "2.1.332", "uuid": format!("{id}-{i}"),
                "message": {"id": id, "model": model, "role": "assistant",
                    "content": [{"type": "text", "text": format!("block {i}")}],
                    "usage": {"input_tokens": usage[0], "output_tokens": usage[1],
                              "cache_read_input_tokens": usage[2],
                              "cache_creation_input_tokens": usage[3]}}})
        })
        .collect()
}

/// The usage of the last turn of a transcript (entries after the last user line), summed per
/// model over distinct message ids: what the stop record must carry.
fn turn_usage(lines: &[Value]) -> Value {
    let start = lines
        .iter()
        .rposition(|l| l["type"] == "user")
        .map_or(0, |i| i + 1);
    let mut seen = BTreeSet::new();
    let mut per_model: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    for line in &lines[start..] {
        let message = &line["message"];
        if line["type"] != "assistant" || !seen.insert(message["id"].as_str().unwrap().to_owned()) {
            continue;
        }
        let entry = per_model
            .entry(message["model"].as_str().unwrap().to_owned())
            .or_default();
        for (i, key) in [
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ]
        .iter()
        .enumerate()
        {
            entry[i] += message["usage"][key].as_u64().unwrap();
        }
        entry[4] += 1;
    }
    Value::Array(
        per_model
            .into_iter()
            .map(|(model, n)| {
                json!({"model": model, "input_tokens": n[0], "output_tokens": n[1],
                    "cache_read_input_tokens": n[2], "cache_creation_input_tokens": n[3],
                    "messages": n[4]})
            })
            .collect(),
    )
}

struct Scenario {
    home: Home,
    /// The token counts the transcripts hold, per model (input, output).
    known_tokens: BTreeMap<String, (u64, u64)>,
}

/// A person's session driven through the real hook: payloads carry the session, cwd and
/// transcript, and the hook runs with the person's HOME.
struct Session<'a> {
    scenario: &'a Scenario,
    id: String,
    cwd: PathBuf,
    user_home: PathBuf,
    transcript: PathBuf,
    lines: Vec<Value>,
}

impl Session<'_> {
    fn payload(&self, event: &str, extra: Value) -> Value {
        let mut p = payload(event, extra);
        p["session_id"] = json!(self.id);
        p["cwd"] = json!(self.cwd);
        p["transcript_path"] = json!(self.transcript);
        p
    }

    fn hook(&self, event: &str, extra: Value) -> std::process::Output {
        let p = self.payload(event, extra);
        self.scenario.home.hook_env(
            &p,
            &[
                ("HOME", self.user_home.to_str().unwrap()),
                ("CLAUDE_PROJECT_DIR", self.cwd.to_str().unwrap()),
            ],
        )
    }

    fn tool(&self, tool: &str, input: Value, id: &str) -> std::process::Output {
        self.hook(
            "PreToolUse",
            json!({"tool_name": tool, "tool_input": input, "tool_use_id": id}),
        )
    }

    fn prompt(&mut self, text: &str) -> std::process::Output {
        self.lines
            .push(json!({"type": "user", "message": {"role": "user", "content": text}}));
        self.flush();
        self.hook("UserPromptSubmit", json!({"prompt": text}))
    }

    fn flush(&self) {
        let text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&self.transcript, text).unwrap();
    }

    /// The assistant answers (messages of `model` with `usage`), then the turn ends. When this
    /// build's hook does not record the turn's usage yet, the record it would carry is added
    /// through the ledger crate, computed from the same transcript.
    fn turn(&mut self, messages: &[(&str, &str, [u64; 4], usize)]) {
        for (id, model, usage, blocks) in messages {
            self.lines
                .extend(assistant_lines(id, model, *usage, *blocks));
        }
        self.flush();
        let home = &self.scenario.home;
        let before = home.records_of("stop").len();
        assert_no_opinion(&self.hook("Stop", json!({"stop_hook_active": false})));
        let stops = home.records_of("stop");
        assert_eq!(stops.len(), before + 1);
        if stops.last().unwrap().get("usage").is_none() {
            append(
                home,
                now_ns(),
                "stop",
                &json!({"event": "Stop", "session_id": self.id, "cwd": self.cwd,
                    "usage": turn_usage(&self.lines), "usage_source": "transcript",
                    "note": "stand-in for a hook recording usage"}),
            );
        }
    }
}

fn repo_root_of(home: &Home, session: &str) -> String {
    home.records_of("session-start")
        .iter()
        .find(|s| s["session_id"] == session)
        .and_then(|s| s["repository"]["root"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no repository recorded for {session}"))
}

fn build_scenario() -> Scenario {
    let home = Home::new();
    let repo_a = home.path().join("widgets");
    git_repo(&repo_a);
    let repo_b = home.path().join("gadgets");
    git_repo(&repo_b);
    let out = std::process::Command::new("git")
        .current_dir(&repo_b)
        .args([
            "remote",
            "set-url",
            "origin",
            "https://github.com/Acme/gadgets.git",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::create_dir_all(home.home()).unwrap();
    let policy_path = home.home().join("policy.json");
    std::fs::write(
        &policy_path,
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}, "prompts": {"secrets": "block"},
            "content_secrets": "deny",
            "repositories": {"allow": ["github.com/Acme/widgets"], "otherwise": "deny"}}"#,
    )
    .unwrap();
    let mut scenario = Scenario {
        home,
        known_tokens: BTreeMap::new(),
    };
    // Ada: Claude Code signed in with her account; two sessions on this machine, through the
    // real hook (whose session-start records what it finds: account, OS user, git identity).
    let ada_home = scenario.home.path().join("home-ada");
    std::fs::create_dir_all(&ada_home).unwrap();
    std::fs::write(
        ada_home.join(".claude.json"),
        json!({"oauthAccount": {"emailAddress": "ada@example.com", "accountUuid": "a0a0a0a0-0000-4000-8000-000000000001",
            "organizationUuid": "0e0e0e0e-0000-4000-8000-0000000000aa", "organizationName": "Acme",
            "displayName": "Ada"}, "userID": "x"})
        .to_string(),
    )
    .unwrap();
    let transcripts = scenario.home.path().join("transcripts");
    std::fs::create_dir_all(&transcripts).unwrap();
    fn session<'a>(scenario: &'a Scenario, id: &str, cwd: &Path, user_home: &Path) -> Session<'a> {
        Session {
            id: id.into(),
            cwd: cwd.to_owned(),
            user_home: user_home.to_owned(),
            transcript: scenario
                .home
                .path()
                .join("transcripts")
                .join(format!("{id}.jsonl")),
            lines: Vec::new(),
            scenario,
        }
    }
    let mut known: Vec<(&str, [u64; 4])> = Vec::new();
    {
        let mut s1 = session(&scenario, "s1-ada-widgets", &repo_a, &ada_home);
        assert_no_opinion(&s1.hook(
            "SessionStart",
            json!({"source": "startup", "model": "claude-sonnet-4-5"}),
        ));
        assert_no_opinion(&s1.prompt("add a helper to the widgets"));
        assert_refused(&s1.prompt("deploy with AKIAQ3EGRZLN5XKT7WPM please"), "AWS");
        assert_refused(
            &s1.tool("Read", json!({"file_path": "/srv/app/.env"}), "toolu_s1_1"),
            "path-deny-read",
        );
        // From a session in widgets, a write into gadgets: the refusal is gadgets'.
        let into_b = repo_b.join("notes.txt");
        assert_refused(
            &s1.tool(
                "Bash",
                json!({"command": format!("cat README.md > {}", into_b.display())}),
                "toolu_s1_2",
            ),
            "repository-not-allowed",
        );
        assert_no_opinion(&s1.tool("Bash", json!({"command": "ls"}), "toolu_s1_3"));
        s1.turn(&[
            ("msg_s1_1", "claude-sonnet-4-5", [1200, 340, 5000, 800], 3),
            ("msg_s1_2", "claude-sonnet-4-5", [90, 45, 6200, 0], 1),
        ]);
        known.push(("claude-sonnet-4-5", [1290, 385, 0, 0]));
        assert_no_opinion(&s1.hook(
            "PostModelSwitch",
            json!({"from_model": "claude-sonnet-4-5", "to_model": "claude-opus-4-1",
                "requested_model": "opus", "source": "command"}),
        ));
        assert_no_opinion(&s1.prompt("now think harder"));
        assert_no_opinion(&s1.tool("Bash", json!({"command": "git status"}), "toolu_s1_4"));
        s1.turn(&[("msg_s1_3", "claude-opus-4-1", [3000, 1500, 0, 2500], 2)]);
        known.push(("claude-opus-4-1", [3000, 1500, 0, 0]));
    }
    {
        let mut s2 = session(&scenario, "s2-ada-gadgets", &repo_b, &ada_home);
        assert_no_opinion(&s2.hook(
            "SessionStart",
            json!({"source": "startup", "model": "claude-sonnet-4-5"}),
        ));
        // The session works in a repository the allowlist does not allow: prompts blocked.
        assert_refused(&s2.prompt("look at the gadgets"), "repository-not-allowed");
        assert_refused(
            &s2.tool(
                "Write",
                json!({"file_path": repo_b.join("a.txt"), "content": "hello\n"}),
                "toolu_s2_1",
            ),
            "repository-not-allowed",
        );
        s2.turn(&[("msg_s2_1", "claude-sonnet-4-5", [400, 20, 0, 0], 1)]);
        known.push(("claude-sonnet-4-5", [400, 20, 0, 0]));
    }
    let root_a = repo_root_of(&scenario.home, "s1-ada-widgets");
    let root_b = repo_root_of(&scenario.home, "s2-ada-gadgets");
    let policy_digest = blake3_hex(&std::fs::read(&policy_path).unwrap());
    // Bob and Carol: session starts as hookledger records them on their machines (host
    // `alpha` and `beta`), with the identity fields of the record contract.
    let start = |id: &str, root: &str, remote: &str, identity: Value, lockdown: Value| {
        json!({"event": "SessionStart", "session_id": id, "cwd": root, "source": "startup",
            "model": "claude-sonnet-4-5", "model_source": "session-start",
            "claude_code_version": "2.1.332",
            "repository": {"root": root, "remotes": [{"name": "origin", "normalized": remote}]},
            "sandbox": {"enabled": true, "enforced": true, "source": "managed"},
            "host": identity["host"], "os_user": identity["os_user"]["name"],
            "identity": identity,
            "policy_digests": [{"layer": "user", "path": policy_path, "blake3": policy_digest}],
            "policy": {"files": [{"layer": "user", "path": policy_path, "blake3": policy_digest}]},
            "lockdown": lockdown})
    };
    append(
        &scenario.home,
        now_ns(),
        "session-start",
        &start(
            "s3-bob-widgets",
            &root_a,
            "github.com/Acme/widgets",
            json!({"claude": null, "os_user": {"name": "bob", "uid": 1001},
                "git": {"name": "Bob", "email": "Bob@Example.com"}, "host": "alpha"}),
            json!({"allow_managed_hooks_only": false, "allow_managed_mods_only": null}),
        ),
    );
    append(
        &scenario.home,
        now_ns(),
        "session-start",
        &start(
            "s4-carol-gadgets",
            &root_b,
            "github.com/Acme/gadgets",
            json!({"claude": null, "os_user": {"name": "carol", "uid": 1002},
                "git": null, "host": "beta"}),
            json!({"allow_managed_hooks_only": true, "allow_managed_mods_only": true}),
        ),
    );
    let bob_home = scenario.home.path().join("home-bob");
    let carol_home = scenario.home.path().join("home-carol");
    std::fs::create_dir_all(&bob_home).unwrap();
    std::fs::create_dir_all(&carol_home).unwrap();
    {
        let mut s3 = session(&scenario, "s3-bob-widgets", &repo_a, &bob_home);
        assert_no_opinion(&s3.prompt("write the key file"));
        assert_refused(
            &s3.tool(
                "Write",
                json!({"file_path": "/tmp/k.rs", "content": "const K: &str = \"AKIAIOSFODNN7EXAMPLE\";"}),
                "toolu_s3_1",
            ),
            "content-secret",
        );
        assert_refused(
            &s3.tool(
                "Bash",
                json!({"command": format!("cat {}/.env", repo_a.display())}),
                "toolu_s3_2",
            ),
            "path-deny-read",
        );
        assert_no_opinion(&s3.tool(
            "Read",
            json!({"file_path": repo_a.join("a.txt")}),
            "toolu_s3_3",
        ));
        s3.turn(&[
            ("msg_s3_1", "claude-haiku-4-5", [700, 70, 100, 10], 2),
            ("msg_s3_2", "claude-sonnet-4-5", [50, 5, 0, 0], 1),
        ]);
        known.push(("claude-haiku-4-5", [700, 70, 0, 0]));
        known.push(("claude-sonnet-4-5", [50, 5, 0, 0]));
    }
    {
        let mut s4 = session(&scenario, "s4-carol-gadgets", &repo_b, &carol_home);
        assert_refused(&s4.prompt("tidy the gadgets"), "repository-not-allowed");
        assert_refused(
            &s4.tool(
                "Edit",
                json!({"file_path": repo_b.join("a.txt"), "old_string": "hello", "new_string": "bye"}),
                "toolu_s4_1",
            ),
            "repository-not-allowed",
        );
        assert_no_opinion(&s4.tool(
            "Read",
            json!({"file_path": repo_a.join("a.txt")}),
            "toolu_s4_2",
        ));
        s4.turn(&[("msg_s4_1", "claude-sonnet-4-5", [10, 1, 0, 0], 1)]);
        known.push(("claude-sonnet-4-5", [10, 1, 0, 0]));
    }
    // A turn whose transcript could not be read: counted as such, no tokens.
    append(
        &scenario.home,
        now_ns(),
        "stop",
        &json!({"event": "Stop", "session_id": "s4-carol-gadgets", "usage": [],
            "usage_source": "unavailable"}),
    );
    for (model, n) in known {
        let entry = scenario.known_tokens.entry(model.into()).or_default();
        entry.0 += n[0];
        entry.1 += n[1];
    }
    scenario
}

/// Every record, as `hookledger log --json` prints it.
fn log_json(home: &Home) -> Vec<Value> {
    let out = run_clean(home, &["log", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A refused operation's targets, as (access, path), and its command.
type RefusedOp = (Vec<(String, String)>, Option<String>);

/// What the test derives from the log on its own, per the record contract.
#[derive(Default, Debug)]
struct Derived {
    sessions: BTreeSet<String>,
    /// person → [sessions, prompts, tool calls, denied, asked, edits, input, output]
    people: BTreeMap<String, [u64; 8]>,
    hosts: BTreeSet<String>,
    denied: u64,
    asked: u64,
    prompts: u64,
    tool_calls: u64,
    dlp: u64,
    refusals_by_repo: BTreeMap<String, u64>,
    by_rule: BTreeMap<(String, String), u64>,
    tokens_by_model: BTreeMap<String, (u64, u64, u64, u64, u64)>,
    tokens_by_day: BTreeMap<String, (u64, u64)>,
    /// model → (prompts, tool calls): a call's model is the one its turn's end attests,
    /// else the one recorded with it.
    models: BTreeMap<String, (u64, u64)>,
    policies: BTreeSet<(String, String, String)>,
    turns_without_usage: u64,
    /// seq → (targets as (access, path), command) of each refused operation
    refused: BTreeMap<u64, RefusedOp>,
}

fn derive(log: &[Value]) -> Derived {
    let mut d = Derived::default();
    let mut attested: BTreeMap<String, String> = BTreeMap::new();
    for r in log
        .iter()
        .filter(|r| r["kind"] == "stop" || r["kind"] == "subagent-stop")
    {
        for pair in r["payload"]["tool_models"].as_array().into_iter().flatten() {
            if let (Some(id), Some(model)) = (pair["tool_use_id"].as_str(), pair["model"].as_str())
            {
                attested.insert(id.to_owned(), model.to_owned());
            }
        }
    }
    let mut person_of: BTreeMap<String, String> = BTreeMap::new();
    for r in log.iter().filter(|r| r["kind"] == "session-start") {
        let p = &r["payload"];
        let id = &p["identity"];
        let email = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_lowercase);
        let user = id["os_user"]["name"]
            .as_str()
            .or(p["os_user"].as_str())
            .unwrap_or("?");
        let host = id["host"].as_str().or(p["host"].as_str()).unwrap_or("?");
        d.hosts.insert(host.to_owned());
        let person = email(&id["claude"]["email"])
            .or_else(|| email(&id["git"]["email"]))
            .unwrap_or_else(|| format!("{user}@{host}"));
        person_of.insert(p["session_id"].as_str().unwrap().to_owned(), person);
        let files = p
            .get("policy_digests")
            .or_else(|| p["policy"].get("files"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for f in files {
            d.policies.insert((
                f["layer"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
                f["blake3"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for r in log {
        let p = &r["payload"];
        let kind = r["kind"].as_str().unwrap();
        let Some(session) = p["session_id"].as_str() else {
            continue;
        };
        d.sessions.insert(session.to_owned());
        let person = person_of[session].clone();
        let row = d.people.entry(person.clone()).or_default();
        let decision = &p["decision"];
        let action = decision["action"].as_str();
        let enforced = decision["enforced"] != false;
        match kind {
            "prompt" => {
                d.prompts += 1;
                row[1] += 1;
                let model = p["model"].as_str().unwrap_or("unknown");
                d.models.entry(model.to_owned()).or_default().0 += 1;
                d.dlp += p["secret_findings"].as_array().map_or(0, Vec::len) as u64;
            }
            "tool-call" => {
                d.tool_calls += 1;
                row[2] += 1;
                let model = p["tool_use_id"]
                    .as_str()
                    .and_then(|id| attested.get(id).map(String::as_str))
                    .or(p["model"].as_str())
                    .unwrap_or("unknown");
                d.models.entry(model.to_owned()).or_default().1 += 1;
            }
            "edit" => row[5] += 1,
            "stop" | "subagent-stop" => {
                if p["usage_source"] == "unavailable" {
                    d.turns_without_usage += 1;
                }
                for u in p["usage"].as_array().into_iter().flatten() {
                    let n = |k: &str| u[k].as_u64().unwrap();
                    let m = d
                        .tokens_by_model
                        .entry(u["model"].as_str().unwrap().to_owned())
                        .or_default();
                    m.0 += n("input_tokens");
                    m.1 += n("output_tokens");
                    m.2 += n("cache_read_input_tokens");
                    m.3 += n("cache_creation_input_tokens");
                    m.4 += n("messages");
                    row[6] += n("input_tokens");
                    row[7] += n("output_tokens");
                    let day = d
                        .tokens_by_day
                        .entry(r["ts"].as_str().unwrap()[..10].to_owned())
                        .or_default();
                    day.0 += n("input_tokens");
                    day.1 += n("output_tokens");
                }
            }
            _ => {}
        }
        if matches!(action, Some("deny" | "ask")) {
            *d.by_rule
                .entry((
                    decision["rule"].as_str().unwrap().to_owned(),
                    action.unwrap().to_owned(),
                ))
                .or_default() += 1;
            if decision["rule"] == "content-secret" {
                d.dlp += 1;
            }
        }
        if action == Some("ask") {
            d.asked += 1;
            row[4] += 1;
        }
        if action == Some("deny") && enforced {
            d.denied += 1;
            row[3] += 1;
            let targets: Vec<&Value> = p["targets"].as_array().into_iter().flatten().collect();
            // The targets the refusal is about: named by the reason (path, else repository),
            // else written, else all.
            let reason = decision["reason"].as_str().unwrap_or("");
            let named = |t: &&&Value| reason.contains(t["path"].as_str().unwrap());
            let in_repo =
                |t: &&&Value| t["repository"].as_str().is_some_and(|r| reason.contains(r));
            let written = |t: &&&Value| t["access"] == "write";
            let refused: Vec<&&Value> = [
                targets.iter().filter(named).collect::<Vec<_>>(),
                targets.iter().filter(in_repo).collect(),
                targets.iter().filter(written).collect(),
                targets.iter().collect(),
            ]
            .into_iter()
            .find(|set| !set.is_empty())
            .unwrap_or_default();
            let repos: BTreeSet<&str> = refused
                .iter()
                .filter_map(|t| t["repository"].as_str())
                .collect();
            for repo in repos {
                *d.refusals_by_repo.entry(repo.to_owned()).or_default() += 1;
            }
            d.refused.insert(
                r["seq"].as_u64().unwrap(),
                (
                    targets
                        .iter()
                        .map(|t| {
                            (
                                t["access"].as_str().unwrap().to_owned(),
                                t["path"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect(),
                    p["input"]["command"]
                        .as_str()
                        .map(|c| c.chars().take(200).collect()),
                ),
            );
        }
    }
    for (session, person) in &person_of {
        if d.sessions.contains(session) {
            d.people.get_mut(person).unwrap()[0] += 1;
        }
    }
    d
}

/// The tables of a rendered report, by title: rows of cell texts.
type Tables = BTreeMap<String, Vec<Vec<String>>>;

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(out.trim())
}

fn html_tables(html: &str) -> Tables {
    let mut tables = Tables::new();
    let mut title = String::new();
    for chunk in html.split("<h") {
        if let Some(rest) = chunk.strip_prefix('2').or_else(|| chunk.strip_prefix('3'))
            && let Some(end) = rest.find("</h")
        {
            title = strip_tags(&rest[1..end]);
        }
        let Some(start) = chunk.find("<table>") else {
            continue;
        };
        let body = &chunk[start..chunk.find("</table>").unwrap()];
        let rows = body
            .split("<tr>")
            .skip(2) // before the table, the header row
            .map(|row| {
                row.split("<td")
                    .skip(1)
                    .map(|cell| strip_tags(&format!("<td{}", cell.split("</td>").next().unwrap())))
                    .collect()
            })
            .collect();
        tables.insert(title.clone(), rows);
    }
    tables
}

fn md_tables(md: &str) -> Tables {
    let mut tables = Tables::new();
    let mut title = String::new();
    let mut rows: Option<Vec<Vec<String>>> = None;
    for line in md.lines() {
        if let Some(heading) = line
            .strip_prefix("## ")
            .or_else(|| line.strip_prefix("### "))
        {
            title = heading.trim().to_owned();
            continue;
        }
        if !line.starts_with('|') {
            if let Some(done) = rows.take() {
                tables.insert(title.clone(), done);
            }
            continue;
        }
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut chars = line.trim().trim_matches('|').chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cell.extend(chars.next()),
                '|' => cells.push(std::mem::take(&mut cell)),
                c => cell.push(c),
            }
        }
        cells.push(cell);
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.trim().trim_matches('`').to_owned())
            .collect();
        match &mut rows {
            None => rows = Some(Vec::new()), // the header row
            Some(_) if cells.iter().all(|c| c.chars().all(|ch| "-:".contains(ch))) => {}
            Some(rows) => rows.push(cells),
        }
    }
    if let Some(done) = rows.take() {
        tables.insert(title, done);
    }
    tables
}

#[test]
fn every_number_of_the_report_is_rederived_from_the_log() {
    let scenario = build_scenario();
    let home = &scenario.home;
    let log = log_json(home);
    let d = derive(&log);
    // The scenario is what it says: three people, two hosts besides this one, two
    // repositories, four rules, DLP findings in a prompt and in content.
    assert_eq!(d.people.len(), 3, "{:?}", d.people);
    assert!(
        d.hosts.contains("alpha") && d.hosts.contains("beta"),
        "{:?}",
        d.hosts
    );
    let rules: BTreeSet<&str> = d.by_rule.keys().map(|(r, _)| r.as_str()).collect();
    for rule in [
        "path-deny-read",
        "repository-not-allowed",
        "prompt-secret",
        "content-secret",
    ] {
        assert!(rules.contains(rule), "{rule} not in {rules:?}");
    }
    assert!(d.dlp >= 2);

    let base = home.path().join("out").join("evidence");
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    let out = run_clean(
        home,
        &[
            "report",
            "--since",
            "2020-01-01",
            "--format",
            "html,json,md",
            "-o",
            base.to_str().unwrap(),
            "--reviewer",
            "Dana Auditor",
            "--note",
            "Q4 sign-off",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |ext: &str| std::fs::read_to_string(base.with_extension(ext)).unwrap();
    let r: Value = serde_json::from_str(&read("json")).unwrap();
    let t = &r["totals"];

    // Totals.
    assert_eq!(t["sessions"], d.sessions.len() as u64);
    assert_eq!(t["people"], d.people.len() as u64);
    assert_eq!(t["hosts"], d.hosts.len() as u64);
    assert_eq!(t["prompts"], d.prompts);
    assert_eq!(t["tool_calls"], d.tool_calls);
    assert_eq!(t["denied"], d.denied);
    assert_eq!(t["asked"], d.asked);
    assert_eq!(t["dlp_findings"], d.dlp);
    assert_eq!(t["turns_without_usage"], d.turns_without_usage);
    assert_eq!(d.turns_without_usage, 1);

    // People, each with what their sessions did.
    let people: BTreeMap<String, [u64; 8]> = r["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let n = |k: &str| p[k].as_u64().unwrap();
            (
                p["person"].as_str().unwrap().to_owned(),
                [
                    n("sessions"),
                    n("prompts"),
                    n("tool_calls"),
                    n("denied"),
                    n("asked"),
                    n("edits"),
                    p["tokens"]["input_tokens"].as_u64().unwrap(),
                    p["tokens"]["output_tokens"].as_u64().unwrap(),
                ],
            )
        })
        .collect();
    assert_eq!(people, d.people);
    assert!(people.contains_key("bob@example.com") && people.contains_key("carol@beta"));

    // Models: prompts and tool calls per model; the switch shows.
    let models: BTreeMap<String, (u64, u64)> = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap().to_owned(),
                (
                    m["prompts"].as_u64().unwrap(),
                    m["tool_calls"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(models, d.models);
    assert!(
        d.models.get("claude-opus-4-1").is_some_and(|m| m.0 >= 1),
        "the prompt after the switch: {:?}",
        d.models
    );

    // Tokens: the known counts of the transcripts, by model, and re-derived by person and day.
    let by_model: BTreeMap<String, (u64, u64, u64, u64, u64)> = r["tokens"]["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let n = |k: &str| m[k].as_u64().unwrap();
            (
                m["key"].as_str().unwrap().to_owned(),
                (
                    n("input_tokens"),
                    n("output_tokens"),
                    n("cache_read_input_tokens"),
                    n("cache_creation_input_tokens"),
                    n("messages"),
                ),
            )
        })
        .collect();
    assert_eq!(by_model, d.tokens_by_model);
    let known: BTreeMap<String, (u64, u64)> = by_model
        .iter()
        .map(|(m, n)| (m.clone(), (n.0, n.1)))
        .collect();
    assert_eq!(
        known, scenario.known_tokens,
        "one count per message, not per line"
    );
    let by_person: BTreeMap<String, (u64, u64)> = r["tokens"]["by_person"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_owned(),
                (
                    m["input_tokens"].as_u64().unwrap(),
                    m["output_tokens"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (u64, u64)> = d
        .people
        .iter()
        .filter(|(_, n)| n[6] + n[7] > 0)
        .map(|(p, n)| (p.clone(), (n[6], n[7])))
        .collect();
    assert_eq!(by_person, expected);
    let by_day: BTreeMap<String, (u64, u64)> = r["tokens"]["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_owned(),
                (
                    m["input_tokens"].as_u64().unwrap(),
                    m["output_tokens"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(by_day, d.tokens_by_day);

    // Refusals per repository: by the repository of each refused target. The write into
    // gadgets from a session in widgets counts for gadgets.
    let repos: BTreeMap<String, u64> = r["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["repository"].as_str().unwrap().to_owned(),
                x["refusals"].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(repos, d.refusals_by_repo);
    let root_b = repo_root_of(home, "s2-ada-gadgets");
    assert_eq!(
        d.refusals_by_repo.get(&root_b),
        Some(&3),
        "{:?}",
        d.refusals_by_repo
    );
    // The allowlist verdict comes from what was recorded then, not from the policy now.
    let verdicts: BTreeMap<String, (String, String)> = r["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["repository"].as_str().unwrap().to_owned(),
                (
                    x["allowlist"].as_str().unwrap().to_owned(),
                    x["basis"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        verdicts[&root_b],
        ("not-allowed".to_owned(), "decision-recorded".to_owned())
    );
    assert_eq!(
        verdicts[&repo_root_of(home, "s1-ada-widgets")],
        ("allowed".to_owned(), "policy-recorded".to_owned())
    );

    // Rules, and each refused operation with every target and the command.
    let by_rule: BTreeMap<(String, String), u64> = r["decisions"]["by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["rule"].as_str().unwrap().to_owned(),
                    c["action"].as_str().unwrap().to_owned(),
                ),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_rule, d.by_rule);
    let refused: BTreeMap<u64, RefusedOp> = r["decisions"]["denied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["enforced"] == true)
        .map(|o| {
            (
                o["seq"].as_u64().unwrap(),
                (
                    o["targets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| {
                            (
                                t["access"].as_str().unwrap().to_owned(),
                                t["path"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect(),
                    o["command"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect();
    assert_eq!(refused, d.refused);
    let cross = r["decisions"]["denied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["session_id"] == "s1-ada-widgets" && o["tool"] == "Bash")
        .unwrap();
    assert!(
        cross["subject"].as_str().unwrap().ends_with("notes.txt"),
        "the target the reason names, the write: {cross:#}"
    );
    assert!(
        cross["command"]
            .as_str()
            .unwrap()
            .starts_with("cat README.md >")
    );

    // Policies in force: each recorded digest, once.
    let policies: BTreeSet<(String, String, String)> = r["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["layer"].as_str().unwrap().to_owned(),
                p["path"].as_str().unwrap().to_owned(),
                p["blake3"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(policies, d.policies);
    assert!(!policies.is_empty());
    let lockdown = &r["controls"]["lockdown"];
    let hooks_only = lockdown
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["setting"] == "allow_managed_hooks_only")
        .unwrap();
    assert_eq!(
        (&hooks_only["on"], &hooks_only["off"]),
        (&json!(1), &json!(1))
    );

    // HTML and Markdown show the same numbers: their tables, parsed, equal the JSON's.
    let html = html_tables(&read("html"));
    let md = md_tables(&read("md"));
    for (format, tables) in [("html", &html), ("md", &md)] {
        let people_rows: BTreeMap<String, Vec<u64>> = tables["People"]
            .iter()
            .map(|row| {
                (
                    row[0].clone(),
                    row[3..].iter().map(|c| c.parse().unwrap()).collect(),
                )
            })
            .collect();
        let expected: BTreeMap<String, Vec<u64>> = d
            .people
            .iter()
            .map(|(p, n)| {
                (
                    p.clone(),
                    vec![n[0], n[1], n[2], n[5], n[3], n[4], n[6], n[7]],
                )
            })
            .collect();
        assert_eq!(people_rows, expected, "{format}");
        let tokens: BTreeMap<String, (u64, u64)> = tables["Tokens by model"]
            .iter()
            .map(|row| {
                (
                    row[0].clone(),
                    (row[1].parse().unwrap(), row[2].parse().unwrap()),
                )
            })
            .collect();
        assert_eq!(tokens, scenario.known_tokens, "{format}");
        let repo_rows: BTreeMap<String, u64> =
            tables["Repositories touched, against the allowlist"]
                .iter()
                .map(|row| (row[0].clone(), row[4].parse().unwrap()))
                .filter(|(_, n)| *n > 0)
                .collect();
        assert_eq!(repo_rows, d.refusals_by_repo, "{format}");
        let rule_rows: BTreeMap<(String, String), u64> = tables["Refused and asked operations"]
            .iter()
            .map(|row| ((row[0].clone(), row[1].clone()), row[3].parse().unwrap()))
            .collect();
        assert_eq!(rule_rows, d.by_rule, "{format}");
        let refused_title = format!(
            "Refused ({})",
            r["decisions"]["denied"].as_array().unwrap().len()
        );
        let listed = &tables[&refused_title];
        assert_eq!(listed.len(), d.refused.len(), "{format}");
        for row in listed {
            let seq: u64 = row[1].parse().unwrap();
            let (targets, command) = &d.refused[&seq];
            for (_, path) in targets {
                assert!(
                    row[6].contains(path.as_str()),
                    "{format}: {path} not in {row:?}"
                );
            }
            if let Some(command) = command {
                assert_eq!(&row[7], command, "{format}");
            }
        }
        let policy_rows: BTreeSet<String> = tables["Policies in force"]
            .iter()
            .map(|row| row[2].clone())
            .collect();
        let expected: BTreeSet<String> = d.policies.iter().map(|p| p.2.clone()).collect();
        assert_eq!(policy_rows, expected, "{format}");
    }
    let md_text = read("md");
    for (name, value) in [
        ("People", &t["people"]),
        ("Refused operations", &t["denied"]),
        ("Input tokens", &t["tokens"]["input_tokens"]),
        ("Output tokens", &t["tokens"]["output_tokens"]),
    ] {
        assert!(md_text.contains(&format!("| {name} | {value} |")), "{name}");
    }

    // One review record for the three formats, with the digest of the canonical JSON model.
    let reviews = home.records_of("report");
    assert_eq!(reviews.len(), 1, "{reviews:#?}");
    let review = &reviews[0];
    let canonical = hookledger::ledger::canonical_json(&r);
    assert_eq!(review["digest"], blake3_hex(&canonical));
    assert_eq!(review["reviewer"], "Dana Auditor");
    assert_eq!(review["note"], "Q4 sign-off");
    assert_eq!(review["formats"], json!(["html", "json", "md"]));
    assert_eq!(review["outputs"].as_array().unwrap().len(), 3);
    assert_eq!(review["by_agent"], false);
}

#[test]
fn the_next_report_lists_who_reviewed_which_period_and_agent_reports_do_not_count() {
    let home = Home::new();
    evidence_ledger(&home);
    let dir = home.path();
    let (a, b) = (dir.join("r.json"), dir.join("r.md"));
    let out = run_clean(
        &home,
        &[
            "report",
            "--since",
            "2020-01-01",
            "-o",
            a.to_str().unwrap(),
            "-o",
            b.to_str().unwrap(),
            "--reviewer",
            "Erin",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("recorded as a review by Erin"));
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    // From within an agent's Bash call: recorded, but not as a review.
    let out = run_clean(
        &home,
        &[
            "report",
            "--since",
            "2020-01-01",
            "--format",
            "json",
            "--note",
            "by the agent",
        ],
        &[("CLAUDECODE", "1"), ("CLAUDE_CODE_CHILD_SESSION", "1")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("NOT as a review"),
        "{}",
        text(&out.stderr)
    );
    // The default reviewer is the OS user.
    let out = run_clean(
        &home,
        &["report", "--since", "2020-01-01", "--format", "md"],
        &[("USER", "frank")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let notes = home.records_of("report");
    assert_eq!(notes.len(), 3, "one record per run");
    assert_eq!(notes[1]["by_agent"], true);
    assert_eq!(
        notes[1]["agent_env"],
        json!(["CLAUDECODE", "CLAUDE_CODE_CHILD_SESSION"])
    );
    let out = run_clean(
        &home,
        &[
            "report",
            "--since",
            "2020-01-01",
            "--format",
            "json",
            "--no-record",
        ],
        &[],
    );
    let next: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reviews = next["reviews"].as_array().unwrap();
    let who: Vec<(&str, &str)> = reviews
        .iter()
        .map(|r| {
            (
                r["reviewer"].as_str().unwrap(),
                r["period"]["since"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(who.len(), 2, "{reviews:#?}");
    assert_eq!(who[0].0, "Erin");
    assert!(who[1].0 == "frank" || !who[1].0.is_empty());
    assert!(who[0].1.starts_with("2020-01-01"));
    assert_eq!(
        reviews[0]["digest"],
        blake3_hex(&hookledger::ledger::canonical_json(&first)),
        "the digest of the model both formats were written from"
    );
    assert_eq!(reviews[0]["formats"], json!(["json", "md"]));
    let agent = next["agent_reports"].as_array().unwrap();
    assert_eq!(agent.len(), 1);
    assert_eq!(agent[0]["note"], "by the agent");
    assert_eq!(
        home.records_of("report").len(),
        3,
        "--no-record records nothing"
    );
}

#[test]
fn report_bad_inputs_are_one_line_errors_and_record_nothing() {
    let home = Home::new();
    evidence_ledger(&home);
    let before = home.records().len();
    let blocked = home.path().join("no-such-dir").join("r.html");
    for args in [
        vec!["report", "-o", blocked.to_str().unwrap()],
        vec!["report", "--since", "yesterday-ish"],
        vec!["report", "--format", "html,pdf", "-o", "x"],
        vec!["report", "--format", "html,json"],
        vec![
            "report", "--format", "json,md", "-o", "a.json", "-o", "b.html",
        ],
    ] {
        let out = run_clean(&home, &args, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = run_clean(&home, &["report", "-o", blocked.to_str().unwrap()], &[]);
    assert!(
        text(&out.stderr).contains("cannot write"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        home.records().len(),
        before,
        "a failed report is not a review"
    );
}

#[test]
fn log_finds_every_target_and_says_what_it_leaves_out() {
    let home = Home::new();
    evidence_ledger(&home);
    std::fs::create_dir_all("/tmp/hl-log-test").ok();
    assert_no_opinion(&home.hook(&pre_tool(
        "Bash",
        json!({"command": "cp /etc/hostname /tmp/hl-log-test/copied-by-bash"}),
        "toolu_cp",
    )));
    for i in 0..20 {
        assert_no_opinion(&home.hook(&pre_tool(
            "Bash",
            json!({"command": format!("echo {i}")}),
            &format!("toolu_echo_{i}"),
        )));
    }
    assert_no_opinion(&home.hook(&pre_tool(
        "mcp__files__write_file",
        json!({"path": "/tmp/hl-log-test/written-by-mcp", "content": "x"}),
        "toolu_mcp",
    )));
    let log = |args: &[&str]| {
        let mut all = vec!["log"];
        all.extend_from_slice(args);
        let out = run_clean(&home, &all, &[]);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    // --path: a Bash command's and an MCP tool's targets.
    let (code, out, err) = log(&["--json", "--path", "/tmp/hl-log-test/*"]);
    assert_eq!(code, Some(0), "{err}");
    let tools: BTreeSet<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["payload"]["tool"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        tools,
        ["Bash", "mcp__files__write_file"].map(String::from).into(),
        "{out}"
    );
    // --tool in any case.
    let (_, lower, _) = log(&["--json", "--tool", "bash"]);
    let (_, exact, _) = log(&["--json", "--tool", "Bash"]);
    assert!(!lower.is_empty());
    assert_eq!(lower, exact);
    // Unknown --kind and --decision values are errors that list the valid ones.
    let (code, _, err) = log(&["--kind", "tool_call"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown record kind")
            && err.contains("tool-call")
            && err.contains("session-start"),
        "{err}"
    );
    let (code, _, err) = log(&["--decision", "refuse"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("deny") && err.contains("ask") && err.contains("allow"),
        "{err}"
    );
    let (code, _, err) = log(&["--since", "last tuesday"]);
    assert_eq!(code, Some(2));
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // --json prints everything; --limit keeps the newest and says how many it left out.
    let total = home.records().len();
    assert!(total > 50, "more than the table's default ({total})");
    let (_, all, err) = log(&["--json"]);
    assert_eq!(all.lines().count(), total);
    assert!(err.is_empty(), "{err}");
    let (_, some, err) = log(&["--json", "--limit", "5"]);
    assert_eq!(some.lines().count(), 5);
    assert!(
        err.contains(&format!("{} more matching records not shown", total - 5)),
        "{err}"
    );
    let (_, table, err) = log(&[]);
    assert_eq!(table.lines().count(), 51, "header and 50 rows");
    assert!(err.contains(&format!("{} more", total - 50)), "{err}");
    // Times in UTC, with the zone, whatever the machine's zone.
    let out = run_clean(
        &home,
        &["log", "--limit", "1"],
        &[("TZ", "America/New_York")],
    );
    let row = text(&out.stdout).lines().nth(1).unwrap().to_owned();
    let last = home.records().last().unwrap().0;
    let records = log_json(&home);
    let ts = &records.last().unwrap()["ts"];
    assert!(
        row.contains(&format!("{}Z", &ts.as_str().unwrap()[..19])),
        "{row} / {ts} / {last}"
    );
    assert!(text(&out.stdout).contains("TIME (UTC)"));
}

#[test]
fn hook_help_prints_help_and_creates_nothing() {
    let home = Home::new();
    for flag in ["--help", "-h"] {
        let mut cmd = home.command();
        cmd.args(["hook", flag]);
        let out = run_with_stdin(cmd, b"");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Usage: hookledger hook"));
        assert!(
            !home.home().exists(),
            "hook {flag} created {}",
            home.home().display()
        );
    }
}
