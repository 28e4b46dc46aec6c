//! Export batches and the receiver's check, with the real binary: re-sent, reordered,
//! missing and edited batches, re-serialized lines, forged checkpoints, and a local ledger
//! checked against what was shipped after truncation or a restore.

use base64::Engine;
use serde_json::{Value, json};

use crate::util::*;

fn notify(home: &Home, n: usize) {
    for i in 0..n {
        let out = home.hook(&payload(
            "Notification",
            json!({"message": format!("note {i}")}),
        ));
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

fn export(home: &Home, args: &[&str], file: &std::path::Path) {
    let mut all = vec!["export", "-o", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = home.run(&all);
    assert!(
        out.status.success(),
        "export {args:?}: {}",
        text(&out.stderr)
    );
}

fn verify_export(home: &Home, files: &[&std::path::Path]) -> (i32, Value) {
    let mut args = vec!["verify-export", "--json"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = home.run(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| json!({"stderr": text(&out.stderr)}));
    (out.status.code().unwrap_or(-1), report)
}

fn codes(report: &Value) -> Vec<String> {
    report["ledgers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["problems"].as_array().cloned().unwrap_or_default())
        .chain(report["problems"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["code"].as_str().map(str::to_owned))
        .collect()
}

/// Three batches through a named sink, each acknowledged.
fn three_batches(home: &Home) -> [std::path::PathBuf; 3] {
    let dir = home.path().to_path_buf();
    let files = [
        dir.join("b1.ndjson"),
        dir.join("b2.ndjson"),
        dir.join("b3.ndjson"),
    ];
    for file in &files {
        notify(home, 4);
        export(home, &["--sink", "siem"], file);
        let ack = home.run(&["export", "--sink", "siem", "--ack"]);
        assert!(ack.status.success(), "{}", text(&ack.stderr));
    }
    files
}

#[test]
fn batches_in_any_order_and_resent_verify() {
    let home = Home::new();
    let [b1, b2, b3] = three_batches(&home);
    let (code, report) = verify_export(&home, &[&b3, &b1, &b2, &b1, &b3]);
    assert_eq!(code, 0, "{report:#}");
    let ledger = &report["ledgers"][0];
    assert_eq!(ledger["first_seq"], 1);
    assert!(ledger["duplicates"].as_u64().unwrap() > 0, "{ledger:#}");
    assert_eq!(ledger["checkpoints_verified"], 3);
    // Each batch starts where the acknowledged one ended: no overlap, no gap.
    let seqs = |f: &std::path::Path| -> Vec<u64> {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(seqs(&b2)[0], seqs(&b1).last().unwrap() + 1);
    assert_eq!(seqs(&b3)[0], seqs(&b2).last().unwrap() + 1);
}

#[test]
fn a_missing_middle_batch_is_a_gap() {
    let home = Home::new();
    let [b1, _b2, b3] = three_batches(&home);
    let (code, report) = verify_export(&home, &[&b1, &b3]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(codes(&report), ["gap"], "{report:#}");
}

#[test]
fn an_edited_line_is_caught() {
    let home = Home::new();
    let [b1, ..] = three_batches(&home);
    let original = std::fs::read_to_string(&b1).unwrap();
    let mut lines: Vec<Value> = original
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let engine = base64::engine::general_purpose::STANDARD;
    let payload = engine
        .decode(lines[2]["payload_b64"].as_str().unwrap())
        .unwrap();
    let edited = String::from_utf8(payload).unwrap().replace("note", "NOTE");
    lines[2]["payload_b64"] = json!(engine.encode(edited));
    let edited_file = home.path().join("edited.ndjson");
    std::fs::write(
        &edited_file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let (code, report) = verify_export(&home, &[&edited_file]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        codes(&report).contains(&"bad-hash".to_owned()),
        "{report:#}"
    );
}

#[test]
fn reserialized_lines_still_verify() {
    let home = Home::new();
    let [b1, b2, _] = three_batches(&home);
    // What a pipeline does: parse, reorder keys, change whitespace, and turn ts_ns into a
    // number where it fits (here: it stays exact because we rewrite it from the string).
    let mut out = String::new();
    for file in [&b1, &b2] {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let mut value: Value = serde_json::from_str(line).unwrap();
            let obj = value.as_object_mut().unwrap();
            let ts: i64 = obj["ts_ns"].as_str().unwrap().parse().unwrap();
            obj.insert("ts_ns".into(), json!(ts));
            obj.insert("@timestamp".into(), json!("2026-11-23T00:00:00Z"));
            let mut keys: Vec<(String, Value)> = obj.clone().into_iter().collect();
            keys.sort_by(|a, b| b.0.cmp(&a.0));
            let pretty: String = keys
                .iter()
                .map(|(k, v)| format!("{} :  {}", json!(k), v))
                .collect::<Vec<_>>()
                .join(" ,  ");
            out.push_str(&format!("{{ {pretty} }}\r\n"));
        }
    }
    let file = home.path().join("reserialized.ndjson");
    std::fs::write(&file, out).unwrap();
    let (code, report) = verify_export(&home, &[&file]);
    assert_eq!(code, 0, "{report:#}");
}

/// The frame hash, computed independently of the binary (schema/LEDGER-FORMAT.md).
fn frame_hash(
    ledger_id: &str,
    seq: u64,
    ts_ns: i64,
    prev: &str,
    kind: &str,
    payload: &[u8],
) -> String {
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let mut h = blake3::Hasher::new();
    h.update(b"HKLREC01");
    h.update(&hex(ledger_id));
    h.update(&seq.to_be_bytes());
    h.update(&ts_ns.to_be_bytes());
    h.update(&hex(prev));
    h.update(&(kind.len() as u16).to_be_bytes());
    h.update(kind.as_bytes());
    h.update(&(payload.len() as u32).to_be_bytes());
    h.update(payload);
    h.finalize().to_hex().to_string()
}

#[test]
fn a_forged_checkpoint_signature_is_caught() {
    let home = Home::new();
    notify(&home, 3);
    let file = home.path().join("one.ndjson");
    export(&home, &[], &file);
    let mut lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.len() - 1;
    assert_eq!(lines[last]["kind"], "checkpoint");
    // An attacker who can rewrite the file recomputes the hash, but cannot sign.
    let engine = base64::engine::general_purpose::STANDARD;
    let mut payload: Value = serde_json::from_slice(
        &engine
            .decode(lines[last]["payload_b64"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let sig = payload["signature"]["value"].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    payload["signature"]["value"] = json!(flipped);
    let bytes = serde_json::to_vec(&payload).unwrap();
    let l = &lines[last];
    let hash = frame_hash(
        l["ledger_id"].as_str().unwrap(),
        l["seq"].as_u64().unwrap(),
        l["ts_ns"].as_str().unwrap().parse().unwrap(),
        l["prev_hash"].as_str().unwrap(),
        "checkpoint",
        &bytes,
    );
    lines[last]["payload_b64"] = json!(engine.encode(&bytes));
    lines[last]["hash"] = json!(hash);
    let forged = home.path().join("forged.ndjson");
    std::fs::write(
        &forged,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let (code, report) = verify_export(&home, &[&forged]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(codes(&report), ["bad-signature"], "{report:#}");
    // The untouched file verifies.
    assert_eq!(verify_export(&home, &[&file]).0, 0);
}

fn verify_against(home: &Home, file: &std::path::Path) -> (i32, Value) {
    let out = home.run(&["verify", "--json", "--against", file.to_str().unwrap()]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| json!({"stderr": text(&out.stderr)}));
    (out.status.code().unwrap_or(-1), report)
}

fn problem_codes(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["code"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn truncated_and_regrown_ledger_is_caught_against_the_shipped_export() {
    let home = Home::new();
    notify(&home, 6);
    let shipped = home.path().join("shipped.ndjson");
    export(&home, &[], &shipped);
    assert_eq!(verify_against(&home, &shipped).0, 0);
    // Someone deletes the tail (dropping the guard triggers) and the ledger grows again.
    let out = home.sqlite3("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq > 4;");
    assert!(out.status.success(), "{}", text(&out.stderr));
    notify(&home, 5);
    let (local_code, _) = home.verify_json();
    assert_eq!(local_code, 0, "the regrown chain is internally consistent");
    let (code, report) = verify_against(&home, &shipped);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(problem_codes(&report), ["forked"], "{report:#}");
}

#[test]
fn ledger_restored_from_an_older_copy_is_caught() {
    let home = Home::new();
    notify(&home, 3);
    // An older copy, taken cleanly.
    let backup = home.path().join("backup.db");
    let out = home.sqlite3(&format!(".backup '{}'", backup.display()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    notify(&home, 4);
    let shipped = home.path().join("shipped.ndjson");
    export(&home, &[], &shipped);
    // Restore it over the live ledger.
    let ledger = home.ledger();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", ledger.display()));
    }
    std::fs::copy(&backup, &ledger).unwrap();
    let (code, report) = verify_against(&home, &shipped);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(problem_codes(&report), ["truncated"], "{report:#}");
}

#[test]
fn a_crash_between_export_and_ack_loses_nothing() {
    let home = Home::new();
    notify(&home, 5);
    let first = home.path().join("first.ndjson");
    export(&home, &["--sink", "siem"], &first);
    let ack = home.run(&["export", "--sink", "siem", "--ack"]);
    assert!(ack.status.success());
    notify(&home, 5);
    // The next export is killed before it can be acknowledged (or even finish).
    let lost = home.path().join("lost.ndjson");
    let mut child = home
        .command()
        .args(["export", "--sink", "siem", "-o", lost.to_str().unwrap()])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let _ = child.kill();
    let _ = child.wait();
    notify(&home, 2);
    // Never a partial file under the real name: it is written aside and renamed.
    if lost.exists() {
        let text = std::fs::read_to_string(&lost).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
    }
    let second = home.path().join("second.ndjson");
    export(&home, &["--sink", "siem"], &second);
    let (code, report) = verify_export(&home, &[&first, &second]);
    assert_eq!(code, 0, "{report:#}");
    let (_, local) = home.verify_json();
    let ledger = &report["ledgers"][0];
    assert_eq!(
        ledger["last_seq"], local["records"],
        "{report:#}\n{local:#}"
    );
}
