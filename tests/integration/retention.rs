//! Retention and heartbeats: `prune` removes only what every sink acknowledged and leaves a
//! ledger that verifies from its anchor checkpoint; `checkpoint` signs an idle ledger.

use serde_json::{Value, json};

use crate::util::*;

fn notify(home: &Home, n: usize) {
    for i in 0..n {
        assert_no_opinion(&home.hook(&payload(
            "Notification",
            json!({"message": format!("m{i}")}),
        )));
    }
}

fn run_json(home: &Home, args: &[&str]) -> (i32, Value, String) {
    let out = home.run(args);
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), value, text(&out.stderr))
}

/// Ten notifications shipped to `siem` and acknowledged, then five more not shipped.
fn shipped_then_more(home: &Home) -> std::path::PathBuf {
    notify(home, 10);
    let batch = home.path().join("b1.ndjson");
    let out = home.run(&["export", "--sink", "siem", "-o", batch.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        home.run(&["export", "--sink", "siem", "--ack"])
            .status
            .success()
    );
    notify(home, 5);
    batch
}

#[test]
fn prune_removes_only_acknowledged_records_and_the_rest_verifies() {
    let home = Home::new();
    let batch = shipped_then_more(&home);
    let before = home.records().len();
    let (code, dry, err) = run_json(
        &home,
        &["prune", "--before", "2099-01-01", "--dry-run", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    // Genesis, ten notifications (2..=11), the export's checkpoint at 12: 2..=11 can go.
    assert_eq!(dry["plan"]["range"], json!([2, 11]), "{dry:#}");
    assert_eq!(dry["plan"]["anchor_seq"], 12);
    assert_eq!(home.records().len(), before, "a dry run changes nothing");

    let (code, done, err) = run_json(&home, &["prune", "--before", "2099-01-01", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(done["plan"]["range"], json!([2, 11]));
    let records = home.records();
    assert_eq!(
        records.len(),
        before - 10 + 1,
        "ten removed, one prune record added"
    );
    assert_eq!(records[0].1, "genesis");
    assert_eq!(records[1].0, 12, "the kept part starts at the anchor");
    let (last_seq, last_kind, last) = records.last().unwrap();
    assert_eq!((last_kind.as_str(), *last_seq), ("prune", 18));
    assert_eq!(last["first_seq"], 2);
    assert_eq!(last["last_seq"], 11);

    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["pruned"][0]["anchor_seq"], 12, "{report:#}");
    let human = home.run(&["verify"]);
    assert!(
        text(&human.stdout).contains("records 2..=11 were pruned"),
        "{}",
        text(&human.stdout)
    );
    // What was shipped before still matches what is left.
    let (code, against, _) = run_json(
        &home,
        &["verify", "--json", "--against", batch.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{against:#}");
    // The reference verifier, written from the format document, agrees.
    if let Some(out) = python_verifier(&home.ledger()) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // A second prune finds nothing new to remove: 13..=17 were never acknowledged.
    let (code, again, _) = run_json(&home, &["prune", "--before", "2099-01-01", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(again["plan"]["range"], Value::Null, "{again:#}");
}

#[test]
fn deletions_are_not_hidden_by_a_prune() {
    let home = Home::new();
    shipped_then_more(&home);
    assert!(
        home.run(&["prune", "--before", "2099-01-01"])
            .status
            .success()
    );
    // Someone deletes two kept records and appends a well-formed `prune` record claiming one
    // of them: without a signed checkpoint anchoring the gap, the claim excuses nothing.
    let out =
        home.sqlite3("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq IN (14, 16);");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut ledger = hookledger::ledger::Ledger::open(
        &home.ledger(),
        &hookledger::ledger::OpenOptions::default(),
    )
    .unwrap();
    ledger
        .append(&[hookledger::ledger::NewRecord {
            ts_ns: 1,
            kind: "prune".into(),
            payload: hookledger::ledger::canonical_json(
                &json!({"first_seq": 16, "last_seq": 16, "anchor_seq": 17, "removed": 1}),
            ),
        }])
        .unwrap();
    drop(ledger);
    let (code, report) = home.verify_json();
    assert_eq!(code, 1, "{report:#}");
    let missing: Vec<u64> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "missing-records")
        .map(|p| p["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(missing, [14, 16], "{report:#}");
    if let Some(out) = python_verifier(&home.ledger()) {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stdout).contains("seq 14"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn prune_refuses_without_shipping_and_on_a_broken_ledger() {
    let home = Home::new();
    notify(&home, 3);
    let (code, _, err) = run_json(&home, &["prune", "--before", "2099-01-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("no sink has acknowledged"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let home = Home::new();
    shipped_then_more(&home);
    let out =
        home.sqlite3("DROP TRIGGER records_no_update; UPDATE records SET ts_ns = 1 WHERE seq = 5;");
    assert!(out.status.success());
    let before = home.records().len();
    let (code, _, err) = run_json(&home, &["prune", "--before", "2099-01-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("does not verify"), "{err}");
    assert_eq!(home.records().len(), before);
    let bad_date = home.run(&["prune", "--before", "someday"]);
    assert_eq!(bad_date.status.code(), Some(2));
}

#[test]
fn a_heartbeat_checkpoint_signs_an_idle_ledger_once() {
    let home = Home::new();
    notify(&home, 2);
    let (code, first, err) = run_json(&home, &["checkpoint", "--json", "--if-older-than", "1h"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(first["appended"], true);
    let (_, second, _) = run_json(&home, &["checkpoint", "--json", "--if-older-than", "1h"]);
    assert_eq!(second["appended"], false, "recent and covering the head");
    let (_, third, _) = run_json(&home, &["checkpoint", "--json"]);
    assert_eq!(third["appended"], true, "without a limit it always signs");
    let checkpoints = home.records_of("checkpoint");
    assert_eq!(checkpoints.len(), 2);
    assert!(checkpoints.iter().all(|c| c["reason"] == "heartbeat"));
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["checkpoints"], 2);
}

#[test]
fn verify_catches_a_checkpoint_signed_with_another_key() {
    let home = Home::new();
    notify(&home, 2);
    assert!(home.run(&["checkpoint"]).status.success());
    // Replace the signing key: checkpoints made with it do not verify against genesis.
    let keys = home.home().join("keys");
    let key_file = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "ed25519"))
        .unwrap();
    std::fs::write(&key_file, "11".repeat(32)).unwrap();
    assert!(home.run(&["checkpoint"]).status.success());
    let (code, report) = home.verify_json();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["problems"][0]["code"], "bad-checkpoint",
        "{report:#}"
    );
    if let Some(out) = python_verifier(&home.ledger()) {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stdout).contains("checkpoint"),
            "{}",
            text(&out.stdout)
        );
    }
}
