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

/// Notifications written with an interval checkpoint every five records: genesis at 1, then
/// genuine signed checkpoints at seqs 6, 11 and 16 (covering 5, 10 and 15).
fn with_interval_checkpoints(home: &Home, n: usize) {
    for i in 0..n {
        assert_no_opinion(&home.hook_env(
            &payload("Notification", json!({"message": format!("m{i}")})),
            &[("HOOKLEDGER_CHECKPOINT_EVERY", "5")],
        ));
    }
}

/// Appends `payload` as a `prune` record with a correct chain hash, the way anyone who can
/// write the file can: the library computes the hash; the signing key is moved away first, so
/// nothing could have signed anything.
fn append_forged_prune(home: &Home, payload: Value) {
    let keys = home.home().join("keys");
    let hidden = home.path().join("keys-elsewhere");
    std::fs::rename(&keys, &hidden).unwrap();
    let options = hookledger::ledger::OpenOptions {
        checkpoint_every: 0,
        ..Default::default()
    };
    let mut ledger = hookledger::ledger::Ledger::open(&home.ledger(), &options).unwrap();
    ledger
        .append(&[hookledger::ledger::NewRecord {
            ts_ns: hookledger::ledger::now_ns(),
            kind: "prune".into(),
            payload: hookledger::ledger::canonical_json(&payload),
        }])
        .unwrap();
    drop(ledger);
    std::fs::rename(&hidden, &keys).unwrap();
}

fn codes_at(report: &Value, key: &str) -> Vec<(String, u64)> {
    report[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["code"].as_str().unwrap_or("").to_owned(),
                p["seq"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The fault-injection case: a shipped range that ends just before a genuine interval
/// checkpoint is deleted, and a `prune` record claiming it is appended with a correct chain
/// hash but no key. The release before signed prunes passed it everywhere.
#[test]
fn a_keyless_forged_prune_over_a_deleted_shipped_range_is_caught() {
    for signature in [
        None,
        Some(json!({"algorithm": "ed25519", "value": "00".repeat(64)})),
    ] {
        let home = Home::new();
        with_interval_checkpoints(&home, 14);
        let shipped = home.path().join("shipped.ndjson");
        let out = home.run(&["export", "-o", shipped.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let checkpoint = &home.records()[10];
        assert_eq!((checkpoint.0, checkpoint.1.as_str()), (11, "checkpoint"));
        assert_eq!(checkpoint.2["covers"]["seq"], 10);
        assert_eq!(home.verify_json().0, 0);

        let out = home.sqlite3(
            "DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq BETWEEN 2 AND 10;",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut forged = json!({
            "first_seq": 2, "last_seq": 10, "anchor_seq": 11, "removed": 9,
            "pruned_ns": "1", "before_ns": "1", "acknowledged_through": 11,
        });
        if let Some(signature) = &signature {
            let id = home.verify_json().1["ledger_id"]
                .as_str()
                .unwrap()
                .to_owned();
            forged["signature"] = signature.clone();
            forged["signed"] = json!(format!(
                "hookledger/prune/v1\nledger {id}\nfirst 2\nlast 10\nhead {}\nanchor 11\nanchor-hash {}\ntime 1\n",
                "00".repeat(32),
                "00".repeat(32)
            ));
        }
        append_forged_prune(&home, forged);
        let prune_seq = home.records().last().unwrap().0 as u64;

        let (code, report) = home.verify_json();
        assert_eq!(code, 1, "{report:#}");
        let found = codes_at(&report, "problems");
        assert!(
            found.contains(&("bad-prune".into(), prune_seq)),
            "{report:#}"
        );
        assert!(found.contains(&("missing-records".into(), 2)), "{report:#}");
        assert_eq!(report["first_bad_seq"], 2);
        assert!(report.get("pruned").is_none(), "{report:#}");
        let human = text(&home.run(&["verify"]).stdout);
        assert!(human.contains("bad-prune"), "{human}");

        let out = home.run(&["verify", "--json", "--against", shipped.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let against: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(against["intact"], false, "{against:#}");
        assert_eq!(
            codes_at(&against, "problems"),
            [("truncated".to_owned(), 2)],
            "the deleted records were shipped: {against:#}"
        );

        if let Some(out) = python_verifier(&home.ledger()) {
            assert_eq!(
                out.status.code(),
                Some(1),
                "{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            assert!(text(&out.stdout).contains("prune"), "{}", text(&out.stdout));
        }
    }
}

/// Releases before signed prunes wrote exactly such an unsigned record for a genuine removal:
/// it is reported the same way, and its owner can restate it with the key once the range is
/// checked against what was shipped.
#[test]
fn an_unsigned_prune_from_an_earlier_release_is_reported_and_can_be_adopted() {
    let home = Home::new();
    with_interval_checkpoints(&home, 14);
    // What `prune` of the earlier release did: delete 2..=10 up to the checkpoint at 11 and
    // append the unsigned record.
    let out =
        home.sqlite3("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq BETWEEN 2 AND 10; CREATE TRIGGER records_no_delete BEFORE DELETE ON records BEGIN SELECT RAISE(ABORT, 'hookledger: the ledger is append-only'); END;");
    assert!(out.status.success(), "{}", text(&out.stderr));
    append_forged_prune(
        &home,
        json!({"first_seq": 2, "last_seq": 10, "anchor_seq": 11, "removed": 9}),
    );
    let (code, report) = home.verify_json();
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["problems"].to_string().contains("no signature"),
        "{report:#}"
    );

    let (code, adopted, err) = run_json(&home, &["prune", "--adopt-unsigned", "--json"]);
    assert_eq!(code, 0, "{err}");
    let signed_seq = adopted["adopted"][0]["signed_seq"].as_u64().unwrap();
    assert_eq!(
        adopted["adopted"][0]["range"]["first_seq"], 2,
        "{adopted:#}"
    );
    let statement = home.records_of("prune").pop().unwrap();
    assert!(
        statement["signed"]
            .as_str()
            .unwrap()
            .starts_with("hookledger/prune/v1\n")
    );
    assert_eq!(statement["adopts"], signed_seq - 1);
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["pruned"][0]["first_seq"], 2);
    if let Some(out) = python_verifier(&home.ledger()) {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    }
    // A second run finds the range already stated and adds nothing.
    let before = home.records().len();
    let (_, again, _) = run_json(&home, &["prune", "--adopt-unsigned", "--json"]);
    assert!(again["adopted"][0]["signed_seq"].is_null(), "{again:#}");
    assert_eq!(home.records().len(), before);
}

/// A forged unsigned record whose gap the ledger does not bear out is never adopted.
#[test]
fn adopt_unsigned_refuses_a_claim_without_a_signed_anchor() {
    let home = Home::new();
    with_interval_checkpoints(&home, 14);
    // Records 2..=8 deleted: record 9 is an ordinary notification, not a checkpoint.
    let out = home
        .sqlite3("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq BETWEEN 2 AND 8;");
    assert!(out.status.success());
    append_forged_prune(
        &home,
        json!({"first_seq": 2, "last_seq": 8, "anchor_seq": 9, "removed": 7}),
    );
    let before = home.records().len();
    let (code, adopted, err) = run_json(&home, &["prune", "--adopt-unsigned", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(adopted["adopted"][0]["signed_seq"].is_null(), "{adopted:#}");
    assert!(
        adopted["adopted"][0]["outcome"]
            .as_str()
            .unwrap()
            .contains("not a valid checkpoint"),
        "{adopted:#}"
    );
    assert_eq!(home.records().len(), before);
    assert_eq!(home.verify_json().0, 1);
}

/// A genuine prune is a signed statement that verifies everywhere: locally, against what was
/// shipped, with the reference verifier, and at a receiver whose sink started after the prune
/// (its archive has the gap the statement excuses). Two prunes back to back too.
#[test]
fn a_genuine_signed_prune_verifies_everywhere() {
    let home = Home::new();
    let first_batch = shipped_then_more(&home);
    let (code, _, err) = run_json(&home, &["prune", "--before", "2099-01-01", "--json"]);
    assert_eq!(code, 0, "{err}");
    let statement = home.records_of("prune").pop().unwrap();
    assert!(
        statement["signed"]
            .as_str()
            .unwrap()
            .starts_with("hookledger/prune/v1\n"),
        "{statement:#}"
    );
    assert_eq!(statement["signature"]["algorithm"], "ed25519");

    // Ship the rest and prune again: the second range starts at the first one's anchor.
    let second_batch = home.path().join("b2.ndjson");
    let out = home.run(&[
        "export",
        "--sink",
        "siem",
        "-o",
        second_batch.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        home.run(&["export", "--sink", "siem", "--ack"])
            .status
            .success()
    );
    notify(&home, 2);
    let (code, second, err) = run_json(&home, &["prune", "--before", "2099-01-01", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(second["plan"]["range"][0], 12, "{second:#}");

    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    // The second statement names the whole gap (it removed the first one's record too).
    assert_eq!(
        report["pruned"],
        json!([{"first_seq": 2, "last_seq": 18, "anchor_seq": 19}]),
        "{report:#}"
    );
    for batch in [&first_batch, &second_batch] {
        let out = home.run(&["verify", "--json", "--against", batch.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    }
    if let Some(out) = python_verifier(&home.ledger()) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // A sink that starts now receives genesis, then the kept part: its gap is excused by the
    // signed statement, and the earlier batches fill it without a fork.
    let late = home.path().join("late.ndjson");
    let out = home.run(&["export", "--sink", "late", "-o", late.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = home.run(&["verify-export", "--json", late.to_str().unwrap()]);
    let receiver: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{receiver:#}");
    assert_eq!(
        receiver["ledgers"][0]["pruned"],
        json!([{"first_seq": 2, "last_seq": 18, "anchor_seq": 19}]),
        "{receiver:#}"
    );
    let all = [&first_batch, &second_batch, &late].map(|f| f.to_str().unwrap().to_owned());
    let mut args = vec!["verify-export", "--json"];
    args.extend(all.iter().map(String::as_str));
    let out = home.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // The same late export with the statements' signatures broken: the gap is a gap again.
    let tampered: String = std::fs::read_to_string(&late)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"kind\":\"prune\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let cut = home.path().join("late-without-prunes.ndjson");
    std::fs::write(&cut, tampered).unwrap();
    let out = home.run(&["verify-export", "--json", cut.to_str().unwrap()]);
    let receiver: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{receiver:#}");
    assert!(
        receiver["ledgers"][0]["problems"]
            .to_string()
            .contains("\"gap\""),
        "{receiver:#}"
    );
}
