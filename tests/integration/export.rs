//! Export batches and the receiver's check, with the real binary: re-sent, reordered,
//! missing and edited batches, re-serialized lines, forged checkpoints, and a local ledger
//! checked against what was shipped after truncation or a restore.

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
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    // As written (the exact bytes) and after a pipeline re-serialized it: caught both ways.
    lines[2] = lines[2].replace("note", "NOTE");
    let mut reparsed: Value = serde_json::from_str(&lines[3]).unwrap();
    reparsed["payload"]["message"] = json!("changed");
    lines[3] = reparsed.to_string();
    let edited_file = home.path().join("edited.ndjson");
    std::fs::write(&edited_file, lines.join("\n") + "\n").unwrap();
    let (code, report) = verify_export(&home, &[&edited_file]);
    assert_eq!(code, 1, "{report:#}");
    let found: Vec<(String, u64)> = report["ledgers"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_owned(),
                p["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [("bad-hash".to_owned(), 3), ("bad-hash".to_owned(), 4)],
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
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.len() - 1;
    assert_eq!(lines[last]["kind"], "checkpoint");
    // An attacker who can rewrite the file recomputes the hash, but cannot sign.
    let mut payload = lines[last]["payload"].clone();
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
    // Written in the exact layout, so the receiver hashes these very bytes.
    let forged_line = format!(
        r#"{{"format":"hookledger-native/2","ledger_id":{},"seq":{},"ts_ns":{},"kind":"checkpoint","prev_hash":{},"hash":"{hash}","payload":{}}}"#,
        l["ledger_id"],
        l["seq"],
        l["ts_ns"],
        l["prev_hash"],
        String::from_utf8(bytes).unwrap()
    );
    let mut text: Vec<String> = lines.iter().map(Value::to_string).collect();
    text[last] = forged_line;
    let forged = home.path().join("forged.ndjson");
    std::fs::write(&forged, text.join("\n") + "\n").unwrap();
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

/// A real session's payloads (every kind Claude Code 2.1.328 sent us) plus a refused read.
fn realistic_ledger(home: &Home) {
    let fixture = include_str!("../fixtures/cc-2.1.328-e2e-payloads.jsonl");
    for line in fixture.lines() {
        let p: Value = serde_json::from_str(line).unwrap();
        assert_no_opinion(&home.hook(&p));
    }
    std::fs::write(
        home.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}}"#,
    )
    .unwrap();
    let refused = home.hook(&pre_tool(
        "Read",
        json!({"file_path": "/srv/app/.env"}),
        "toolu_env",
    ));
    assert_refused(&refused, "path-deny-read");
}

fn lines_of(file: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What a pipeline may do to a line: parse it and write it back with its keys sorted.
fn reserialize(file: &std::path::Path, to: &std::path::Path) {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&map[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let text: String = lines_of(file)
        .iter()
        .map(|l| format!("{}\n", sorted(l)))
        .collect();
    std::fs::write(to, text).unwrap();
}

fn validate_schema(schema: &str, file: &std::path::Path) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(dir.join("tests/integration/support/validate_lines.py"))
        .arg(dir.join("schema"))
        .arg(schema)
        .arg(file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{schema}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The mapped formats speak the standards they declare: every line of a realistic session's
/// OCSF export validates against the official OCSF schema of its `metadata.version`, class and
/// profiles, and every ECS line uses only fields of its `ecs.version`, of their types. The
/// golden lines (records of odd shapes included) are checked too; the end-to-end test checks a
/// real Claude Code session's.
#[test]
fn ocsf_and_ecs_lines_validate_against_the_official_schemas() {
    let home = Home::new();
    realistic_ledger(&home);
    for format in ["ocsf", "ecs"] {
        let file = home.path().join(format!("{format}.ndjson"));
        export(&home, &["--format", format], &file);
        validate_official(format, &file);
    }
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/ledger/tests/fixtures");
    validate_official("ocsf", &fixtures.join("mapped-ocsf.ndjson"));
    validate_official("ecs", &fixtures.join("mapped-ecs.ndjson"));
}

#[test]
fn every_format_verifies_matches_its_schema_and_survives_reserialization() {
    let home = Home::new();
    realistic_ledger(&home);
    for format in ["native", "ecs", "ocsf"] {
        let file = home.path().join(format!("{format}.ndjson"));
        export(&home, &["--format", format], &file);
        validate_schema(&format!("export-{format}.schema.json"), &file);
        let (code, report) = verify_export(&home, &[&file]);
        assert_eq!(code, 0, "{format}: {report:#}");
        assert_eq!(report["ledgers"][0]["first_seq"], 1, "{format}");
        let resorted = home.path().join(format!("{format}-sorted.ndjson"));
        reserialize(&file, &resorted);
        let (code, report) = verify_export(&home, &[&resorted]);
        assert_eq!(code, 0, "{format} re-serialized: {report:#}");
    }
    let denied = |lines: Vec<Value>, chain: &dyn Fn(&Value) -> &Value| -> Value {
        lines
            .into_iter()
            .find(|l| chain(l)["payload"]["tool_use_id"] == "toolu_env")
            .expect("the refused read is exported")
    };
    let ecs = denied(
        lines_of(&home.path().join("ecs.ndjson")),
        &|l| &l["hookledger"],
    );
    assert_eq!(ecs["event"]["outcome"], "failure", "{ecs:#}");
    assert_eq!(ecs["event"]["category"], json!(["file"]));
    assert_eq!(ecs["event"]["type"], json!(["access", "denied"]));
    assert_eq!(ecs["rule"]["name"], "path-deny-read");
    assert_eq!(ecs["file"]["path"], "/srv/app/.env");
    assert_eq!(ecs["gen_ai"]["tool"]["name"], "Read");
    let ocsf = denied(lines_of(&home.path().join("ocsf.ndjson")), &|l| {
        &l["unmapped"]["hookledger"]
    });
    assert_eq!(ocsf["type_uid"], 100102, "{ocsf:#}");
    assert_eq!(ocsf["action_id"], 2);
    assert_eq!(ocsf["disposition"], "Blocked");
    assert_eq!(ocsf["policy"]["name"], "path-deny-read");
    // Edits are file updates and creations in both mapped formats.
    let ocsf_edits: Vec<Value> = lines_of(&home.path().join("ocsf.ndjson"))
        .into_iter()
        .filter(|l| l["unmapped"]["hookledger"]["kind"] == "edit")
        .collect();
    assert!(!ocsf_edits.is_empty());
    assert!(
        ocsf_edits
            .iter()
            .all(|e| e["class_uid"] == 1001 && e["file"]["path"].is_string())
    );
}

#[test]
fn mapped_fields_that_contradict_the_payload_are_reported() {
    let home = Home::new();
    realistic_ledger(&home);
    let file = home.path().join("ecs.ndjson");
    export(&home, &["--format", "ecs"], &file);
    let mut lines = lines_of(&file);
    // Pipelines add and drop fields: that is not tampering.
    for line in &mut lines {
        line["agent"] = json!({"type": "vector"});
        line.as_object_mut().unwrap().remove("gen_ai");
    }
    let enriched = home.path().join("enriched.ndjson");
    let write = |lines: &[Value], to: &std::path::Path| {
        std::fs::write(
            to,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    write(&lines, &enriched);
    assert_eq!(verify_export(&home, &[&enriched]).0, 0);
    // Someone makes a refusal look like an allowed read in the SIEM's fields.
    let at = lines
        .iter()
        .position(|l| l["hookledger"]["payload"]["tool_use_id"] == "toolu_env")
        .unwrap();
    lines[at]["event"]["outcome"] = json!("success");
    lines[at]["rule"]["name"] = json!("no-match");
    write(&lines, &enriched);
    let (code, report) = verify_export(&home, &[&enriched]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(codes(&report), ["mapped-field-mismatch"], "{report:#}");
    let detail = report["ledgers"][0]["problems"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("event.outcome") && detail.contains("rule.name"),
        "{detail}"
    );
}

#[test]
fn payload_b64_lines_verify_and_must_agree_with_the_payload() {
    let home = Home::new();
    notify(&home, 4);
    let file = home.path().join("b64.ndjson");
    export(&home, &["--payload-b64"], &file);
    let mut lines = lines_of(&file);
    assert!(
        lines
            .iter()
            .all(|l| l["payload_b64"].is_string() && l["payload"].is_object())
    );
    assert_eq!(verify_export(&home, &[&file]).0, 0);
    // The searchable copy is changed, the exact bytes are not.
    lines[2]["payload"]["message"] = json!("something else");
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let (code, report) = verify_export(&home, &[&file]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["payload-mismatch"], "{report:#}");
}

#[test]
fn rotate_writes_segments_with_manifests_and_moves_its_cursor() {
    let home = Home::new();
    notify(&home, 25);
    let dir = home.path().join("spool");
    let rotate = |home: &Home| -> Value {
        let out = home.run(&[
            "export",
            "--rotate",
            dir.to_str().unwrap(),
            "--segment-records",
            "10",
            "--format",
            "ecs",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = rotate(&home);
    // Genesis, 25 notifications and the export's checkpoint.
    let segments = first["segments"].as_array().unwrap();
    assert_eq!(
        segments
            .iter()
            .map(|m| m["records"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [10, 10, 7]
    );
    assert_eq!(segments[2]["last_seq"], 27);
    assert_eq!(segments[2]["checkpoint"]["covers"]["seq"], 26);
    for manifest in segments {
        let name = manifest["segment"].as_str().unwrap();
        assert!(dir.join(name).is_file() && dir.join(format!("{name}.manifest.json")).is_file());
        assert!(name.ends_with(".ecs.ndjson"));
    }
    notify(&home, 3);
    let second = rotate(&home);
    let more = second["segments"].as_array().unwrap();
    assert_eq!(more.len(), 1);
    assert_eq!(
        more[0]["first_seq"], 28,
        "starts after what was written: {second:#}"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no temporaries left: {names:?}"
    );
    let (code, report) = verify_export(&home, &[&dir]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ledgers"][0]["duplicates"], 0);
    // 27 written first, then three notifications and the second export's checkpoint.
    assert_eq!(report["ledgers"][0]["last_seq"], 31);
    // A segment changed after export no longer matches its manifest.
    let victim = dir.join(more[0]["segment"].as_str().unwrap());
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(&victim, bytes).unwrap();
    let (code, report) = verify_export(&home, &[&dir]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["manifest-mismatch"], "{report:#}");
}

#[test]
fn interval_checkpoints_sign_the_chain_as_it_grows() {
    let home = Home::new();
    for i in 0..12 {
        let out = home.hook_env(
            &payload("Notification", json!({"message": format!("n{i}")})),
            &[("HOOKLEDGER_CHECKPOINT_EVERY", "5")],
        );
        assert_no_opinion(&out);
    }
    let checkpoints = home.records_of("checkpoint");
    // Genesis is seq 1; a checkpoint takes a seq too, so boundaries 5, 10 and 15 are crossed.
    assert_eq!(checkpoints.len(), 3, "{checkpoints:#?}");
    assert!(checkpoints.iter().all(|c| c["reason"] == "interval"));
    let covered: Vec<u64> = checkpoints
        .iter()
        .map(|c| c["covers"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(covered, [5, 10, 15]);
    assert_eq!(home.verify_json().0, 0);
    let file = home.path().join("all.ndjson");
    export(&home, &["--no-checkpoint"], &file);
    let (code, report) = verify_export(&home, &[&file]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ledgers"][0]["checkpoints_verified"], 3);
}

#[test]
fn silence_is_reported_when_checkpoints_stop_arriving() {
    let home = Home::new();
    notify(&home, 2);
    let file = home.path().join("one.ndjson");
    export(&home, &[], &file);
    let run = |limit: &str| {
        let out = home.run(&[
            "verify-export",
            "--json",
            "--max-silence",
            limit,
            file.to_str().unwrap(),
        ]);
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        )
    };
    assert_eq!(run("1h").0, Some(0));
    let (code, report) = run("0s");
    assert_eq!(code, Some(1));
    assert_eq!(codes(&report), ["silent"], "{report:#}");
    let bad = home.run(&[
        "verify-export",
        "--max-silence",
        "soon",
        file.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("cannot read duration"));
}

#[test]
fn an_ack_must_name_the_batch_it_acknowledges() {
    let home = Home::new();
    notify(&home, 3);
    let file = home.path().join("b.ndjson");
    export(&home, &["--sink", "siem"], &file);
    let last = lines_of(&file).last().unwrap()["seq"].as_u64().unwrap();
    let wrong = home.run(&[
        "export",
        "--sink",
        "siem",
        "--ack",
        "--through",
        &(last - 1).to_string(),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains(&format!("ends at seq {last}")),
        "{}",
        text(&wrong.stderr)
    );
    let right = home.run(&[
        "export",
        "--sink",
        "siem",
        "--ack",
        "--through",
        &last.to_string(),
    ]);
    assert!(right.status.success(), "{}", text(&right.stderr));
    let again = home.run(&["export", "--sink", "siem", "--ack"]);
    assert_eq!(again.status.code(), Some(2), "nothing is pending any more");
}

/// `faketime` (libfaketime) runs the real binary under a faked clock; `None` outside CI when it
/// is missing (CI installs it: .ci/run).
fn faketime_available() -> bool {
    let ready = std::process::Command::new("faketime")
        .args(["-f", "+0d", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs faketime (.ci/run)"
        );
        eprintln!("notice: skipping a faked-clock test (apt-get install faketime)");
    }
    ready
}

/// Runs `hookledger args…` on `home` with the clock moved by `offset` (`-30d`, `+3650d`).
fn at(home: &Home, offset: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("faketime")
        .args(["-f", offset, BIN])
        .args(args)
        .env("HOOKLEDGER_HOME", home.home())
        .env_remove("HOOKLEDGER_LEDGER")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "faketime {offset} {args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// The fault-injection case: one checkpoint made with the real binary under a clock ten years
/// ahead, then 30 days of silence. The release before this one took the future checkpoint as
/// the newest proof of life and switched `--max-silence` off for good.
#[test]
fn a_future_dated_checkpoint_does_not_switch_silence_detection_off() {
    if !faketime_available() {
        return;
    }
    let home = Home::new();
    notify(&home, 2);
    // 30 days ago: a genuine checkpoint, then one signed under a clock ten years ahead, then
    // the export that ships them; nothing since.
    at(&home, "-30d", &["checkpoint"]);
    at(&home, "+3650d", &["checkpoint"]);
    let batch = home.path().join("batch.ndjson");
    at(
        &home,
        "-30d",
        &["export", "--no-checkpoint", "-o", batch.to_str().unwrap()],
    );
    let checkpoints: Vec<(i64, Value)> = home
        .records()
        .into_iter()
        .filter(|(_, k, _)| k == "checkpoint")
        .map(|(s, _, p)| (s, p))
        .collect();
    assert_eq!(checkpoints.len(), 2);
    let future_seq = checkpoints[1].0 as u64;

    let receive = |extra: &[&str]| -> (i32, Value) {
        let mut args = vec!["verify-export", "--json"];
        args.extend_from_slice(extra);
        args.push(batch.to_str().unwrap());
        let out = home.run(&args);
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| json!({"stderr": text(&out.stderr)})),
        )
    };
    let (code, report) = receive(&["--max-silence", "24h"]);
    assert_eq!(code, 1, "{report:#}");
    let ledger = &report["ledgers"][0];
    let problems = ledger["problems"].as_array().unwrap();
    let future = problems
        .iter()
        .find(|p| p["code"] == "future-checkpoint")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(future["seq"], future_seq, "{report:#}");
    let silent = problems
        .iter()
        .find(|p| p["code"] == "silent")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert!(
        silent["detail"].as_str().unwrap().contains("30d"),
        "{silent:#}"
    );
    assert_eq!(
        ledger["newest_plausible_checkpoint"]["seq"],
        checkpoints[0].1["covers"]["seq"]
    );
    // Within the silence allowed, the implausible checkpoint alone is reported; a clock skew
    // beyond ten years would accept it.
    let (code, report) = receive(&["--max-silence", "60d"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["future-checkpoint"], "{report:#}");
    let (code, report) = receive(&["--clock-skew", "4000d"]);
    assert_eq!(code, 0, "{report:#}");
    let human = home.run(&[
        "verify-export",
        "--max-silence",
        "24h",
        batch.to_str().unwrap(),
    ]);
    assert!(
        text(&human.stdout).contains(&format!("future-checkpoint at seq {future_seq}")),
        "{}",
        text(&human.stdout)
    );

    // The machine's own check says the same.
    let (code, local) = home.verify_json();
    assert_eq!(code, 1, "{local:#}");
    assert_eq!(local["problems"][0]["code"], "future-checkpoint");
    assert_eq!(local["problems"][0]["seq"], future_seq);
    if let Some(out) = python_verifier(&home.ledger()) {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains(&format!("seq {future_seq}")),
            "{}",
            text(&out.stdout)
        );
    }
    // The heartbeat does not take the future checkpoint for a recent one either.
    let out = home.run(&["checkpoint", "--json", "--if-older-than", "1h"]);
    let beat: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(beat["appended"], true, "{beat:#}");
}

/// Segment files of two machines' ledgers in one directory: each ledger is verified on its
/// own (no false fork between their equal seqs), and `verify --against` compares the local
/// ledger with its own lines only, naming the other ledger it skipped. The release before
/// this one reported forks.
#[test]
fn two_ledgers_exports_in_one_directory() {
    let (a, b) = (Home::new(), Home::new());
    let dir = a.path().join("archive");
    for (home, n) in [(&a, 5), (&b, 7)] {
        notify(home, n);
        let out = home.run(&[
            "export",
            "--rotate",
            dir.to_str().unwrap(),
            "--segment-records",
            "3",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let id = |home: &Home| {
        home.verify_json().1["ledger_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (id_a, id_b) = (id(&a), id(&b));
    let (code, report) = verify_export(&a, &[&dir]);
    assert_eq!(code, 0, "{report:#}");
    let ledgers = report["ledgers"].as_array().unwrap();
    assert_eq!(ledgers.len(), 2, "{report:#}");
    for ledger in ledgers {
        assert_eq!(ledger["first_seq"], 1);
        assert_eq!(ledger["problem_count"], 0, "{report:#}");
        assert_eq!(ledger["checkpoints_verified"], 1);
    }
    let last: Vec<u64> = ledgers
        .iter()
        .map(|l| l["last_seq"].as_u64().unwrap())
        .collect();
    let mut want = [(id_a.clone(), 7u64), (id_b.clone(), 9u64)];
    want.sort();
    assert_eq!(last, want.iter().map(|(_, n)| *n).collect::<Vec<_>>());

    let (code, against) = verify_against(&a, &dir);
    assert_eq!(code, 0, "{against:#}");
    assert_eq!(against["shipped_records"], 7);
    assert_eq!(
        against["skipped_ledgers"],
        json!([{"ledger_id": id_b, "records": 9}]),
        "{against:#}"
    );
    let human = text(
        &a.run(&["verify", "--against", dir.to_str().unwrap()])
            .stdout,
    );
    assert!(
        human.contains(&format!("skipped  9 records of ledger {id_b}")),
        "{human}"
    );
    // Batches that start after genesis, from both machines: each ledger gets its own key and
    // start; one key for both would make the other ledger's checkpoints fail.
    let tails: Vec<std::path::PathBuf> = [&a, &b]
        .iter()
        .enumerate()
        .map(|(i, home)| {
            let file = a.path().join(format!("tail{i}.ndjson"));
            export(home, &["--since-seq", "3"], &file);
            file
        })
        .collect();
    let key = |home: &Home| {
        home.records()[0].2["signing_key"]["public_key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let receive = |extra: Vec<String>| -> (i32, Value) {
        let mut cmd = a.command();
        cmd.args(["verify-export", "--json"])
            .args(&extra)
            .args(&tails);
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| json!({"stderr": text(&out.stderr)})),
        )
    };
    let (code, report) = receive(vec![
        format!("--public-key={id_a}={}", key(&a)),
        format!("--public-key={id_b}={}", key(&b)),
        format!("--start-seq={id_a}=4"),
        format!("--start-seq={id_b}=4"),
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["ledgers"][0]["checkpoints_verified"], 2,
        "{report:#}"
    );
    let (code, report) = receive(vec![
        format!("--public-key={}", key(&a)),
        "--start-seq=4".into(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        codes(&report),
        ["bad-signature", "bad-signature"],
        "B's checkpoints under A's key: {report:#}"
    );
    let bad = a.run(&[
        "verify-export",
        "--public-key",
        "nothex=00",
        tails[0].to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("ledger id"),
        "{}",
        text(&bad.stderr)
    );

    // Per ledger, a rewrite is still caught in the mixed directory.
    let out = a.sqlite3("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq > 4;");
    assert!(out.status.success());
    notify(&a, 4);
    let (code, against) = verify_against(&a, &dir);
    assert_eq!(code, 1, "{against:#}");
    assert_eq!(problem_codes(&against), ["forked"], "{against:#}");
    // Only another ledger's exports: this ledger was replaced, or the wrong files were given.
    let only_b = b.path().join("b.ndjson");
    export(&b, &["--no-checkpoint"], &only_b);
    let (code, against) = verify_against(&a, &only_b);
    assert_eq!(code, 1, "{against:#}");
    assert_eq!(
        problem_codes(&against),
        ["ledger-id-mismatch"],
        "{against:#}"
    );
}

/// Order-independent batches, duplicates, a gap and a fork, with a sort buffer so small that
/// the receiver spills many sorted runs and merges them: the verdicts are those of the
/// in-memory path.
#[test]
fn the_receiver_judges_the_same_when_it_spills_to_disk() {
    let home = Home::new();
    let [b1, b2, b3] = three_batches(&home);
    let run = |files: &[&std::path::Path], tiny: bool| -> (i32, Value) {
        let mut cmd = home.command();
        cmd.args(["verify-export", "--json"]);
        cmd.args(files);
        if tiny {
            cmd.env("HOOKLEDGER_SORT_BUFFER_BYTES", "4096");
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&out.stdout).unwrap(),
        )
    };
    // A fork: b2 rewritten with one record changed and its chain recomputed is not needed;
    // another ledger state is: truncate, regrow and export again.
    let out = home.sqlite3("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq > 6;");
    assert!(out.status.success());
    notify(&home, 3);
    let forked = home.path().join("forked.ndjson");
    export(&home, &["--since-seq", "5"], &forked);
    for files in [
        vec![&b3, &b1, &b2, &b1, &b3],
        vec![&b1, &b3],
        vec![&b1, &b2, &b3, &forked],
    ] {
        let files: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
        let (code, memory) = run(&files, false);
        let (tiny_code, spilled) = run(&files, true);
        assert_eq!(code, tiny_code, "{memory:#}\n{spilled:#}");
        assert_eq!(memory["ledgers"], spilled["ledgers"]);
    }
    let (code, report) = run(&[&b1, &b2, &b3, &forked], true);
    assert_eq!(code, 1);
    assert!(codes(&report).contains(&"fork".to_owned()), "{report:#}");
    // And from stdin, read in pieces.
    let mut cmd = home.command();
    cmd.args(["verify-export", "--json", "-"]);
    let all: Vec<u8> = [&b3, &b2, &b1]
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    let out = run_with_stdin(cmd, &all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

fn file_type(path: &std::path::Path) -> std::fs::FileType {
    std::fs::symlink_metadata(path).unwrap().file_type()
}

/// Reads a FIFO to its end on another thread, as a consumer would.
fn drain(fifo: &std::path::Path) -> std::thread::JoinHandle<Vec<u8>> {
    let fifo = fifo.to_owned();
    std::thread::spawn(move || std::fs::read(fifo).unwrap())
}

fn mkfifo(path: &std::path::Path) {
    let out = std::process::Command::new("mkfifo")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `-o` onto a character device or a FIFO writes into it; only a regular file is replaced by
/// rename. Run as root, the release before this one turned `/dev/null` into a regular file.
/// The device here is a private node for the null device (root can make one), so a regression
/// cannot break the machine's own `/dev/null`.
#[test]
fn export_onto_a_device_or_a_fifo_writes_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let home = Home::new();
    notify(&home, 3);
    let device = home.path().join("null");
    let made = std::process::Command::new("mknod")
        .args([device.to_str().unwrap(), "c", "1", "3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        for args in [
            vec!["export", "-o"],
            vec!["export", "--sink", "siem", "-o"],
            vec!["report", "--format", "json", "-o"],
        ] {
            let mut args = args.clone();
            args.push(device.to_str().unwrap());
            let out = home.run(&args);
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
            assert!(
                file_type(&device).is_char_device(),
                "{args:?} replaced the device"
            );
        }
    } else {
        eprintln!("notice: not root: the device case runs on a FIFO only");
    }

    let fifo = home.path().join("pipe");
    mkfifo(&fifo);
    for args in [vec!["export", "-o"], vec!["export", "--sink", "fifo", "-o"]] {
        let reader = drain(&fifo);
        let mut args = args.clone();
        args.push(fifo.to_str().unwrap());
        let out = home.run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let received = reader.join().unwrap();
        assert!(file_type(&fifo).is_fifo(), "{args:?} replaced the FIFO");
        let copy = home.path().join("received.ndjson");
        std::fs::write(&copy, &received).unwrap();
        let (code, report) = verify_export(&home, &[&copy]);
        assert_eq!(code, 0, "{args:?}: {report:#}");
        assert!(report["ledgers"][0]["records"].as_u64().unwrap() >= 4);
    }
    let reader = drain(&fifo);
    let out = home.run(&["report", "--format", "md", "-o", fifo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&reader.join().unwrap()).contains("# "));
    assert!(file_type(&fifo).is_fifo());
    // No temporary left beside them.
    let names: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
}

/// A symlink is written through (the link stays a link), a dangling one and a directory are
/// refused with one line, and a regular file is still replaced whole.
#[test]
fn export_onto_symlinks_directories_and_regular_files() {
    let home = Home::new();
    notify(&home, 2);
    let real = home.path().join("real.ndjson");
    std::fs::write(&real, "old\n").unwrap();
    let link = home.path().join("link.ndjson");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    export(&home, &[], &link);
    assert!(file_type(&link).is_symlink());
    assert_eq!(verify_export(&home, &[&real]).0, 0);

    let dangling = home.path().join("dangling.ndjson");
    let nowhere = home.path().join("nowhere.ndjson");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    for target in [&dangling, &home.path().to_path_buf()] {
        let out = home.run(&["export", "-o", target.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{target:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("does not exist") || err.contains("is a directory"),
            "{err}"
        );
    }
    assert!(
        !nowhere.exists(),
        "nothing is created through a dangling link"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        export(&home, &[], &real);
        let meta = std::fs::symlink_metadata(&real).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o640, "permissions kept");
    }
}
