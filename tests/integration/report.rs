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
    let digest = blake3_hex(serde_json::to_string_pretty(&first).unwrap().as_bytes());
    assert_eq!(note["digest"], digest, "the digest is over the JSON form");
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

#[test]
fn repositories_are_judged_against_the_allowlist_in_force() {
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
    for (session, dir) in [("s-widgets", &allowed), ("s-else", &other)] {
        let mut start = payload("SessionStart", json!({"source": "startup"}));
        start["session_id"] = json!(session);
        start["cwd"] = json!(dir);
        assert_no_opinion(&home.hook(&start));
    }
    std::fs::write(
        home.home().join("policy.json"),
        r#"{"version": 1, "repositories": {"allow": ["github.com/Acme/*"], "otherwise": "deny"}}"#,
    )
    .unwrap();
    let r = json_report(&home, &["--no-record"]);
    let verdicts: Vec<(String, String, Vec<Value>)> = r["repositories"]
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
                repo["remotes"].as_array().unwrap().clone(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "elsewhere".to_owned(),
                "not-allowed".to_owned(),
                vec![json!("github.com/someone/else")]
            ),
            (
                "widgets".to_owned(),
                "allowed".to_owned(),
                vec![json!("github.com/Acme/widgets")]
            ),
        ],
        "{:#}",
        r["repositories"]
    );
    assert!(
        r["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|repo| repo["sessions"] == 1)
    );
}
