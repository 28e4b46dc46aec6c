//! Tampering with a real ledger file, the way a user with the sqlite3 CLI would.

use serde_json::{Value, json};

use crate::util::*;

/// A ledger with genesis plus 20 tool-call records.
fn ledger_with_records() -> Home {
    let home = Home::new();
    for i in 0..20 {
        assert_no_opinion(&home.hook(&pre_tool(
            "Bash",
            json!({"command": format!("echo {i}")}),
            &format!("toolu_{i}"),
        )));
    }
    assert_eq!(home.verify_json().0, 0);
    home
}

#[track_caller]
fn assert_broken_at(home: &Home, seq: u64, code: &str) -> Value {
    let (exit, report) = home.verify_json();
    assert_eq!(exit, 1, "{report:#}");
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_bad_seq"], seq, "{report:#}");
    assert_eq!(report["problems"][0]["code"], code, "{report:#}");
    let human = home.run(&["verify"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(
        text(&human.stdout).contains(&format!("first bad record: seq {seq}")),
        "{}",
        text(&human.stdout)
    );
    report
}

#[track_caller]
fn sql(home: &Home, statements: &str) {
    let out = home.sqlite3(statements);
    assert!(out.status.success(), "sqlite3: {}", text(&out.stderr));
}

#[test]
fn triggers_stop_naive_edits() {
    let home = ledger_with_records();
    for statement in [
        "UPDATE records SET kind = 'x' WHERE seq = 3",
        "DELETE FROM records WHERE seq = 3",
    ] {
        let out = home.sqlite3(statement);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("append-only"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(home.verify_json().0, 0);
}

#[test]
fn edited_payload_is_named() {
    let home = ledger_with_records();
    sql(
        &home,
        "DROP TRIGGER records_no_update; UPDATE records SET payload = CAST(replace(CAST(payload AS TEXT), 'echo 5', 'echo 6') AS BLOB) WHERE seq = 7;",
    );
    let report = assert_broken_at(&home, 7, "edited-record");
    assert!(
        report["warnings"].to_string().contains("triggers"),
        "{report}"
    );
}

#[test]
fn deleted_record_is_named() {
    let home = ledger_with_records();
    sql(
        &home,
        "DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq = 9;",
    );
    let report = assert_broken_at(&home, 9, "missing-records");
    assert_eq!(
        report["problem_count"], 1,
        "the gap explains the next record's link: {report:#}"
    );
}

#[test]
fn deleted_and_renumbered_record_is_named() {
    let home = ledger_with_records();
    sql(
        &home,
        "DROP TRIGGER records_no_delete; DROP TRIGGER records_no_update; DELETE FROM records WHERE seq = 9;
         UPDATE records SET seq = seq + 999999 WHERE seq > 9; UPDATE records SET seq = seq - 1000000 WHERE seq > 1000000;",
    );
    assert_broken_at(&home, 9, "reordered-record");
}

#[test]
fn inserted_record_is_named_even_with_a_valid_hash() {
    let home = ledger_with_records();
    // The attacker knows the format and computes a correct hash for the forged record.
    let conn = rusqlite::Connection::open(home.ledger()).unwrap();
    let ledger_id: Vec<u8> = conn
        .query_row("SELECT ledger_id FROM ledger_meta", [], |r| r.get(0))
        .unwrap();
    let prev: Vec<u8> = conn
        .query_row("SELECT hash FROM records WHERE seq = 10", [], |r| r.get(0))
        .unwrap();
    let (ts, kind, payload) = (1_i64, "tool-call", br#"{"forged":true}"#.to_vec());
    let mut frame = Vec::new();
    frame.extend_from_slice(b"HKLREC01");
    frame.extend_from_slice(&ledger_id);
    frame.extend_from_slice(&11u64.to_be_bytes());
    frame.extend_from_slice(&ts.to_be_bytes());
    frame.extend_from_slice(&prev);
    frame.extend_from_slice(&(kind.len() as u16).to_be_bytes());
    frame.extend_from_slice(kind.as_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    let hash = blake3::hash(&frame);
    conn.execute_batch(
        "DROP TRIGGER records_no_update;
         UPDATE records SET seq = seq + 1000001 WHERE seq >= 11; UPDATE records SET seq = seq - 1000000 WHERE seq > 1000000;",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO records (seq, ts_ns, kind, payload, prev_hash, hash) VALUES (11, ?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![ts, kind, payload, prev, hash.as_bytes().to_vec()],
    )
    .unwrap();
    drop(conn);
    let report = assert_broken_at(&home, 11, "inserted-record");
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("inserted")
    );
}

#[test]
fn swapped_records_are_named() {
    let home = ledger_with_records();
    sql(
        &home,
        "DROP TRIGGER records_no_update;
         UPDATE records SET seq = 1000000 WHERE seq = 5; UPDATE records SET seq = 5 WHERE seq = 6; UPDATE records SET seq = 6 WHERE seq = 1000000;",
    );
    assert_broken_at(&home, 5, "reordered-record");
}

#[test]
fn swapped_payloads_are_named() {
    let home = ledger_with_records();
    sql(
        &home,
        "DROP TRIGGER records_no_update;
         CREATE TEMP TABLE t AS SELECT seq, payload FROM records WHERE seq IN (12, 13);
         UPDATE records SET payload = (SELECT payload FROM t WHERE t.seq = 25 - records.seq) WHERE seq IN (12, 13);",
    );
    assert_broken_at(&home, 12, "edited-record");
}

#[test]
fn appended_forgery_is_named() {
    let home = ledger_with_records();
    sql(
        &home,
        "INSERT INTO records (seq, ts_ns, kind, payload, prev_hash, hash) SELECT 22, 0, 'prompt', CAST('{}' AS BLOB), hash, randomblob(32) FROM records WHERE seq = 21;",
    );
    assert_broken_at(&home, 22, "edited-record");
}

#[test]
fn unreadable_inputs_exit_2_and_garbage_exits_1() {
    let home = Home::new();
    let missing = home.run(&["verify"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("does not exist"),
        "{}",
        text(&missing.stderr)
    );
    // A real SQLite database that is not ours.
    let other = home.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let out = home.run(&["--ledger", other.to_str().unwrap(), "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a hookledger ledger"),
        "{}",
        text(&out.stderr)
    );
    // Garbage where the ledger should be: broken, not "could not run".
    let garbage = home.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let out = home.run(&["--ledger", garbage.to_str().unwrap(), "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["code"], "corrupt-file");
}

#[test]
fn log_and_show_read_the_ledger() {
    let home = ledger_with_records();
    assert_no_opinion(&home.hook(&payload("UserPromptSubmit", json!({"prompt": "deploy it"}))));
    let out = home.run(&["log", "--kind", "tool-call", "--limit", "3", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [19, 20, 21]
    );
    let table = text(
        &home
            .run(&["log", "--decision", "allow", "--since", "1h"])
            .stdout,
    );
    assert!(
        table.contains("deploy it") && table.contains("echo 19"),
        "{table}"
    );
    assert!(
        text(&home.run(&["log", "--tool", "Edit"]).stdout)
            .lines()
            .count()
            == 1,
        "header only"
    );
    let out = home.run(&["show", "3", "--json"]);
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["kind"], "tool-call");
    assert_eq!(record["payload"]["input"]["command"], "echo 1");
    let missing = home.run(&["show", "999"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("records 1..=22"),
        "{}",
        text(&missing.stderr)
    );
    let bad = home.run(&["log", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(text(&bad.stderr).lines().count(), 1);
}

/// The format document is enough: an independent Python verifier written from it agrees.
#[test]
fn reference_python_verifier_agrees() {
    let home = ledger_with_records();
    let Some(out) = python_verifier(&home.ledger()) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let (_, report) = home.verify_json();
    assert!(text(&out.stdout).contains(report["head"]["hash"].as_str().unwrap()));
    sql(
        &home,
        "DROP TRIGGER records_no_update; UPDATE records SET ts_ns = ts_ns + 1 WHERE seq = 13;",
    );
    let out = python_verifier(&home.ledger()).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("seq 13"),
        "{}",
        text(&out.stdout)
    );
}

/// Valid ledgers whose kinds or payloads are not ASCII (a spooled line can carry any kind; a
/// prompt any text) verify with both verifiers: the reference verifier once crashed on them.
#[test]
fn reference_python_verifier_takes_any_valid_kind_and_payload() {
    let home = ledger_with_records();
    let mut ledger = hookledger::ledger::Ledger::open(
        &home.ledger(),
        &hookledger::ledger::OpenOptions::default(),
    )
    .unwrap();
    ledger
        .append(&[
            hookledger::ledger::NewRecord {
                ts_ns: 1,
                kind: "événement-☃".into(),
                payload: hookledger::ledger::canonical_json(&json!({"texte": "déjà vu ✓"})),
            },
            hookledger::ledger::NewRecord {
                ts_ns: -1,
                kind: "k".repeat(300),
                payload: hookledger::ledger::canonical_json(&json!({"n": [1, "\u{0}"]})),
            },
        ])
        .unwrap();
    drop(ledger);
    assert!(home.run(&["checkpoint"]).status.success());
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    let Some(out) = python_verifier(&home.ledger()) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains(report["head"]["hash"].as_str().unwrap()));
    // An edit of the non-ASCII record is still caught, not a crash.
    sql(
        &home,
        "DROP TRIGGER records_no_update; UPDATE records SET payload = CAST('{\"texte\":\"jamais vu\"}' AS BLOB) WHERE seq = 22;",
    );
    let out = python_verifier(&home.ledger()).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("seq 22"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}
