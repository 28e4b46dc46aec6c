//! The hook's path to the ledger under fault injection (issue 12): locks held by other
//! processes, a huge or forged spool, `-shm` truncated or replaced under load, a FIFO as the
//! transcript, a deleted signing key, and 64 concurrent writers. Every hook answers within
//! its deadline, no hook dies of a signal, and every event ends up in one chain.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::*;

fn call(id: &str) -> Value {
    pre_tool("Bash", json!({"command": format!("echo {id}")}), id)
}

/// Runs `cmd` with `stdin`, killing it after 15 s: a hook that hangs fails the test instead of
/// hanging the suite. Returns the output and how long the hook took.
fn run_bounded(mut cmd: Command, stdin: &[u8]) -> (Output, Duration) {
    use std::io::Read;
    use std::process::Stdio;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&bytes);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let readers = std::thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = stdout.read_to_end(&mut out);
        let _ = stderr.read_to_end(&mut err);
        (out, err)
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let took = started.elapsed();
    let _ = writer.join();
    let (stdout, stderr) = readers.join().unwrap();
    (
        Output {
            status,
            stdout,
            stderr,
        },
        took,
    )
}

/// The tests that keep both cores busy for long (a huge spool, 64 writers, `-shm` churn) run
/// one at a time, so their timing bounds measure hookledger rather than each other.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn timed_hook(home: &Home, payload: &Value) -> (Output, Duration) {
    timed_hook_env(home, payload, &[])
}

fn timed_hook_env(home: &Home, payload: &Value, env: &[(&str, &str)]) -> (Output, Duration) {
    let mut cmd = home.command();
    cmd.arg("hook").envs(env.iter().copied());
    if let Some(event) = payload["hook_event_name"].as_str() {
        cmd.args(["--event", event]);
    }
    run_bounded(cmd, payload.to_string().as_bytes())
}

/// The MAC key of spool lines, derived as `schema/LEDGER-FORMAT.md` says.
fn spool_mac_key(home: &Home) -> [u8; 32] {
    let text = std::fs::read_to_string(home.home().join("keys/spool.key")).unwrap();
    let secret: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&text.trim()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    blake3::derive_key("hookledger 2026-12-01 spool entry MAC v2", &secret)
}

/// A spool line body as hookledger writes it.
fn body(spool_id: u64, kind: &str, payload: &Value) -> String {
    format!(
        r#"{{"v":2,"spool_id":"{spool_id:032x}","ts_ns":{},"kind":{},"reason":"test","spooled_ns":1,"pid":1,"payload":{}}}"#,
        1_700_000_000_000_000_000i64 + spool_id as i64,
        Value::String(kind.into()),
        payload
    )
}

fn signed_line(key: &[u8; 32], body: &str) -> String {
    format!(
        "HLS2 {} {body}\n",
        blake3::keyed_hash(key, body.as_bytes()).to_hex()
    )
}

fn write_spool_file(home: &Home, name: &str, contents: &[u8]) {
    std::fs::create_dir_all(home.spool()).unwrap();
    std::fs::write(home.spool().join(name), contents).unwrap();
}

/// Runs hook events until the spool is gone, each within its deadline. Returns how many ran.
fn drain(home: &Home) -> usize {
    let mut runs = 0;
    while home.spool().exists() || home.legacy_spool().exists() {
        let (out, took) = timed_hook(home, &payload("Notification", json!({"message": "m"})));
        assert_no_opinion(&out);
        assert!(
            took < Duration::from_secs(5),
            "a merging hook took {took:?}"
        );
        runs += 1;
        assert!(runs < 500, "the spool does not drain");
    }
    runs
}

/// Every `tool_use_id` in tool-call records, and in hook-error records (a hook killed before
/// it built its record keeps the event's id there), with how often each appears.
fn recorded_ids(home: &Home) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for (_, kind, payload) in home.records() {
        if (kind == "tool-call" || kind == "hook-error")
            && let Some(id) = payload["tool_use_id"].as_str()
        {
            *ids.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    ids
}

#[track_caller]
fn assert_intact(home: &Home) -> Value {
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["spool_pending"], 0, "{report:#}");
    // One chain: seq 1..=n without a gap.
    let seqs: Vec<i64> = home.records().iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    report
}

#[derive(Clone, Copy, Debug)]
enum Hold {
    /// SQLite's write lock, by a connection of another process.
    SqliteWrite,
    /// hookledger's append lock (flock on the ledger directory), through a read-only
    /// descriptor.
    AppendLock,
    /// The lock of an earlier version's single spool file, through a read-only descriptor.
    LegacySpool,
}

fn held_lock_case(hold: Hold) {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_before")));
    // Something waits in the spool, so every hook below would try to merge it.
    if let Hold::LegacySpool = hold {
        let v1 = r#"{"v":1,"spool_id":"0123456789abcdef0123456789abcdef","ts_ns":5,"kind":"stop","payload":"{\"event\":\"Stop\"}","reason":"r","spooled_ns":6,"pid":7}"#;
        std::fs::write(
            home.legacy_spool(),
            format!("{} {v1}\n", blake3_hex(v1.as_bytes())),
        )
        .unwrap();
    } else {
        let key = spool_mac_key(&home);
        let line = signed_line(&key, &body(1, "stop", &json!({"event": "Stop"})));
        write_spool_file(&home, "00000000000000000001-1-aa", line.as_bytes());
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let home_dir = home.home();
    let legacy = home.legacy_spool();
    let holder = std::thread::spawn(move || {
        let _held: Box<dyn std::any::Any> = match hold {
            Hold::SqliteWrite => {
                let conn = rusqlite::Connection::open(home_dir.join("ledger.db")).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                Box::new(conn)
            }
            Hold::AppendLock => {
                let dir = File::open(&home_dir).unwrap();
                dir.lock().unwrap();
                Box::new(dir)
            }
            Hold::LegacySpool => {
                let file = File::open(&legacy).unwrap();
                file.lock().unwrap();
                Box::new(file)
            }
        };
        ready_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(12));
    });
    ready_rx.recv().unwrap();
    let held_since = Instant::now();
    let events: Vec<Value> = (0..4)
        .map(|i| call(&format!("toolu_held_{i}")))
        .chain([payload(
            "UserPromptSubmit",
            json!({"prompt": format!("prompt under {hold:?}")}),
        )])
        .collect();
    let answers: Vec<(Output, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .iter()
            .map(|event| scope.spawn(|| timed_hook(&home, event)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (out, took) in &answers {
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{hold:?}: {:?} {}",
            out.status,
            text(&out.stderr)
        );
        assert!(
            *took < Duration::from_secs(6),
            "{hold:?}: answered after {took:?}"
        );
    }
    assert!(
        held_since.elapsed() < Duration::from_secs(12),
        "{hold:?}: the hooks waited for the lock to go"
    );
    holder.join().unwrap();
    drain(&home);
    assert_intact(&home);
    let ids = recorded_ids(&home);
    for i in 0..4 {
        assert_eq!(
            ids.get(&format!("toolu_held_{i}")),
            Some(&1),
            "{hold:?}: {ids:?}"
        );
    }
    let prompts = home.records_of("prompt");
    assert_eq!(prompts.len(), 1, "{hold:?}");
    match hold {
        Hold::LegacySpool => {
            let old = home.records_of("spool-unauthenticated");
            assert_eq!(old.len(), 1, "{old:#?}");
            assert_eq!(old[0]["reason"], "legacy-format");
        }
        _ => assert_eq!(home.records_of("stop").len(), 1, "{hold:?}"),
    }
}

/// A lock held for 12 s by another process: every gating hook answers within 6 s, and every
/// event is in the ledger once the lock is gone.
#[test]
fn held_locks_never_stall_gating_hooks() {
    std::thread::scope(|scope| {
        for hold in [Hold::SqliteWrite, Hold::AppendLock, Hold::LegacySpool] {
            scope.spawn(move || held_lock_case(hold));
        }
    });
}

const HUGE_SPOOL: u64 = 300_000;

/// 300,000 spooled lines (in three files) drain over several hook invocations, each within
/// its deadline, also with two hooks merging at once; genuine lines become their records,
/// forged ones `spool-rejected` records only.
#[test]
fn huge_spool_drains_in_bounded_chunks() {
    let _heavy = heavy();
    std::thread::scope(|scope| {
        for forged in [false, true] {
            scope.spawn(move || huge_spool_case(forged));
        }
    });
}

fn huge_spool_case(forged: bool) {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_first")));
    let key = if forged {
        [7u8; 32]
    } else {
        spool_mac_key(&home)
    };
    let per_file = HUGE_SPOOL / 3;
    for file in 0..3 {
        let mut out = std::io::BufWriter::new(
            File::create({
                std::fs::create_dir_all(home.spool()).unwrap();
                home.spool().join(format!("0000000000000000000{file}-1-bb"))
            })
            .unwrap(),
        );
        for i in file * per_file..(file + 1) * per_file {
            let payload = json!({"event": "PreToolUse", "tool_use_id": format!("toolu_s{i}")});
            out.write_all(signed_line(&key, &body(i, "tool-call", &payload)).as_bytes())
                .unwrap();
        }
        out.flush().unwrap();
    }
    let (_, report) = home.verify_json();
    let waiting = if forged {
        "spool_damaged"
    } else {
        "spool_pending"
    };
    assert_eq!(
        report[waiting], HUGE_SPOOL,
        "verify reports what waits: {report:#}"
    );
    let started = Instant::now();
    let mut runs = 0;
    let mut slowest = Duration::ZERO;
    while home.spool().exists() {
        // Two at once: one merges, the other must not wait for it past its deadline.
        let answers: Vec<(Output, Duration)> = std::thread::scope(|scope| {
            let a = scope.spawn(|| timed_hook(&home, &call(&format!("toolu_a{runs}"))));
            let b = scope.spawn(|| timed_hook(&home, &call(&format!("toolu_b{runs}"))));
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        for (out, took) in answers {
            assert_no_opinion(&out);
            assert!(took < Duration::from_secs(5), "a hook took {took:?}");
            slowest = slowest.max(took);
        }
        runs += 1;
        assert!(runs < 400, "the spool does not drain");
    }
    eprintln!(
        "huge spool ({}): drained by {runs} pairs of hooks in {:.1?}, slowest hook {slowest:?}",
        if forged { "forged" } else { "genuine" },
        started.elapsed()
    );
    assert!(runs > 1, "a 300,000-line spool is merged in several chunks");
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["spool_pending"], 0);
    // Counted in SQL: parsing 300,000 payloads in a debug build is most of a minute.
    let conn = rusqlite::Connection::open(home.ledger()).unwrap();
    let count =
        |sql: &str| -> u64 { conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64 };
    assert_eq!(
        count("SELECT max(seq) - count(*) FROM records"),
        0,
        "one chain without gaps"
    );
    let own_calls = 1 + 2 * runs as u64;
    if forged {
        assert_eq!(
            count("SELECT count(*) FROM records WHERE kind = 'spool-rejected'"),
            HUGE_SPOOL
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM records WHERE kind = 'spool-rejected' AND json_extract(payload, '$.reason') = 'bad-mac'"
            ),
            HUGE_SPOOL
        );
        // Only this test's own calls are tool calls: nothing forged got in as one, and no
        // rejection carries the content of its line.
        assert_eq!(
            count("SELECT count(*) FROM records WHERE kind = 'tool-call'"),
            own_calls
        );
        assert_eq!(
            count("SELECT count(*) FROM records WHERE CAST(payload AS TEXT) LIKE '%toolu_s%'"),
            0
        );
    } else {
        assert_eq!(
            count(
                "SELECT count(DISTINCT json_extract(payload, '$.tool_use_id')) FROM records WHERE kind = 'tool-call' AND json_extract(payload, '$.recovered') IS NOT NULL"
            ),
            HUGE_SPOOL
        );
        assert_eq!(
            count("SELECT count(*) FROM records WHERE kind = 'tool-call'"),
            HUGE_SPOOL + own_calls
        );
        assert_eq!(
            count("SELECT count(*) FROM records WHERE kind LIKE 'spool-%'"),
            0
        );
        // The merges crossed many multiples of 256 records: each chunk's crossing is signed.
        assert!(
            report["checkpoints"].as_u64().unwrap() >= runs as u64,
            "{report:#}"
        );
    }
}

/// Truncates or replaces `ledger.db-shm` in a loop while writers run: no hook dies of a
/// signal, and every event is in one chain, once.
#[test]
fn changed_shm_under_load_kills_no_hook_and_loses_nothing() {
    let _heavy = heavy();
    std::thread::scope(|scope| {
        for replace in [false, true] {
            scope.spawn(move || shm_case(replace));
        }
    });
}

fn shm_case(replace: bool) {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_first")));
    let shm = home.home().join("ledger.db-shm");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut changes = 0;
    std::thread::scope(|scope| {
        let changer = scope.spawn(|| {
            let mut n = 0u64;
            let spare = home.home().join("spare-shm");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if replace {
                    // A copy of the current index (stale a moment later) or an empty file,
                    // renamed over it: a new inode.
                    if n.is_multiple_of(2) {
                        let _ = std::fs::copy(&shm, &spare);
                    } else {
                        let _ = std::fs::write(&spare, b"");
                    }
                    let _ = std::fs::rename(&spare, &shm);
                } else if let Ok(file) = std::fs::OpenOptions::new().write(true).open(&shm) {
                    let _ = file.set_len(0);
                }
                n += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            n
        });
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let home = &home;
                scope.spawn(move || {
                    (0..50)
                        .map(|i| {
                            let out = home.hook(&call(&format!("toolu_{w}_{i}")));
                            format!("{:?}", out.status.code())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for writer in writers {
            for code in writer.join().unwrap() {
                *codes.entry(code).or_insert(0) += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        changes = changer.join().unwrap();
    });
    eprintln!(
        "-shm {} {changes} times under 200 hooks: exit codes {codes:?}",
        if replace { "replaced" } else { "truncated" }
    );
    assert!(changes > 50, "the file was changed {changes} times");
    assert!(
        codes.keys().all(|c| c == "Some(0)"),
        "every hook answered (allowed) and exited normally: {codes:?}"
    );
    drain(&home);
    assert_no_opinion(&home.hook(&call("toolu_last")));
    assert_intact(&home);
    let ids = recorded_ids(&home);
    for w in 0..4 {
        for i in 0..50 {
            let id = format!("toolu_{w}_{i}");
            assert_eq!(ids.get(&id), Some(&1), "{id} must be recorded exactly once");
        }
    }
}

/// A forged line (any kind, any time) never enters the chain as what it claims.
#[test]
fn forged_spool_lines_become_rejections() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_0")));
    let key = spool_mac_key(&home);
    let claim = json!({"event": "PostToolUse", "file_path": "/forged/marker.rs"});
    // A made-up MAC; a genuine line whose body was changed afterwards; a line with no MAC.
    let made_up = format!("HLS2 {} {}\n", "ab".repeat(32), body(1, "edit", &claim));
    let genuine = signed_line(&key, &body(2, "edit", &json!({"event": "PostToolUse"})));
    let altered = genuine.replace(
        "\"event\":\"PostToolUse\"",
        "\"event\":\"PostToolUse\",\"file_path\":\"/forged/marker.rs\"",
    );
    write_spool_file(
        &home,
        "00000000000000000001-1-cc",
        format!("{made_up}{altered}garbage without a MAC\n").as_bytes(),
    );
    // The single-file format of earlier versions: checksummed, so unauthenticated at best.
    let v1 = format!(
        r#"{{"v":1,"spool_id":"ff","ts_ns":1,"kind":"edit","payload":{},"reason":"r","spooled_ns":1,"pid":1}}"#,
        Value::String(claim.to_string())
    );
    std::fs::write(
        home.legacy_spool(),
        format!("{} {v1}\n", blake3_hex(v1.as_bytes())),
    )
    .unwrap();
    let (_, report) = home.verify_json();
    assert_eq!(
        (
            report["spool_pending"].as_u64(),
            report["spool_damaged"].as_u64()
        ),
        (Some(1), Some(3)),
        "{report:#}"
    );
    assert_no_opinion(&home.hook(&call("toolu_1")));
    assert_intact(&home);
    assert!(
        home.records_of("edit").is_empty(),
        "nothing forged is an edit"
    );
    let rejected = home.records_of("spool-rejected");
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons[..2], ["bad-mac", "bad-mac"], "{rejected:#?}");
    assert!(reasons[2].starts_with("malformed"), "{reasons:?}");
    assert_eq!(rejected[0]["line"]["bytes"], made_up.len());
    assert_eq!(
        rejected[0]["line"]["blake3"],
        blake3_hex(made_up.trim_end().as_bytes())
    );
    for r in &rejected {
        assert!(
            !r.to_string().contains("marker"),
            "a rejection never carries content: {r}"
        );
    }
    let unauthenticated = home.records_of("spool-unauthenticated");
    assert_eq!(unauthenticated.len(), 1);
    assert_eq!(unauthenticated[0]["reason"], "legacy-format");
    assert_eq!(unauthenticated[0]["claimed"]["kind"], "edit");
}

/// One line with a 70,000-byte kind (authenticated or not) and one over the line limit are
/// rejected one by one; the chain keeps taking records and `doctor` agrees.
#[test]
fn oversized_spool_lines_never_block_the_chain() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_0")));
    let key = spool_mac_key(&home);
    let huge_kind = "k".repeat(70_000);
    let signed = signed_line(&key, &body(1, &huge_kind, &json!({})));
    let v1 = format!(
        r#"{{"v":1,"spool_id":"ab","ts_ns":1,"kind":"{huge_kind}","payload":"{{}}","reason":"x","spooled_ns":1,"pid":1}}"#
    );
    std::fs::write(
        home.legacy_spool(),
        format!("{} {v1}\n", blake3_hex(v1.as_bytes())),
    )
    .unwrap();
    let mut long_line = b"HLS2 ".to_vec();
    long_line.resize(17 << 20, b'x');
    long_line.push(b'\n');
    long_line.extend_from_slice(
        signed_line(&key, &body(2, "stop", &json!({"event": "Stop"}))).as_bytes(),
    );
    write_spool_file(&home, "00000000000000000001-1-dd", signed.as_bytes());
    write_spool_file(&home, "00000000000000000002-1-dd", &long_line);
    for i in 1..4 {
        assert_no_opinion(&home.hook(&call(&format!("toolu_{i}"))));
    }
    assert_intact(&home);
    let calls = home.records_of("tool-call");
    assert_eq!(calls.len(), 4);
    assert!(
        calls.iter().all(|c| c.get("recovered").is_none()),
        "appended directly, not spooled"
    );
    let rejected = home.records_of("spool-rejected");
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().filter(|r| r.contains("kind")).count() == 2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("oversized")),
        "{reasons:?}"
    );
    assert_eq!(
        home.records_of("stop").len(),
        1,
        "the line after the oversized one merged"
    );
    let out = home.run(&["doctor", "--json"]);
    let doctor: Value = serde_json::from_slice(&out.stdout).unwrap();
    for id in ["ledger-writable", "spool-empty", "signing-key"] {
        let check = doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap();
        assert_eq!(check["status"], "pass", "{check:#}");
    }
}

/// A merge that carries the chain across a multiple of 256 records signs a checkpoint.
#[test]
fn spool_merge_crossing_a_boundary_writes_a_checkpoint() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_0")));
    let key = spool_mac_key(&home);
    let lines: String = (0..300)
        .map(|i| signed_line(&key, &body(i, "stop", &json!({"event": "Stop", "i": i}))))
        .collect();
    write_spool_file(&home, "00000000000000000001-1-ee", lines.as_bytes());
    // A merge with no record of its own (what git's pre-commit does) counts too.
    let mut cmd = home.command();
    cmd.args(["hook", "--event", "Notification"]);
    assert_no_opinion(&run_with_stdin(
        cmd,
        payload("Notification", json!({"message": "m"}))
            .to_string()
            .as_bytes(),
    ));
    let report = assert_intact(&home);
    assert_eq!(home.records_of("stop").len(), 300);
    assert_eq!(report["checkpoints"], 1, "{report:#}");
    let records = home.records();
    let (seq, _, checkpoint) = records.iter().find(|r| r.1 == "checkpoint").unwrap();
    assert_eq!(checkpoint["covers"]["seq"], seq - 1);
    assert!(*seq > 256);
}

/// With the signing key deleted, every interval checkpoint that was due is a
/// `checkpoint-failed` record, `verify` warns, and `doctor` fails its `signing-key` check with
/// the fix; a replaced key is told apart.
#[test]
fn deleted_or_replaced_key_is_reported() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_0")));
    let keys: Vec<PathBuf> = std::fs::read_dir(home.home().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ed25519"))
        .collect();
    assert_eq!(keys.len(), 1);
    let original = std::fs::read(&keys[0]).unwrap();
    std::fs::remove_file(&keys[0]).unwrap();
    for i in 1..=10 {
        let out = home.hook_env(
            &call(&format!("toolu_{i}")),
            &[("HOOKLEDGER_CHECKPOINT_EVERY", "4")],
        );
        assert_no_opinion(&out);
    }
    let failed = home.records_of("checkpoint-failed");
    assert_eq!(failed.len(), 3, "crossings of 4, 8 and 12: {failed:#?}");
    assert!(failed[0]["error"].as_str().unwrap().contains("ed25519"));
    assert!(home.records_of("checkpoint").is_empty());
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "the chain itself is intact: {report:#}");
    assert_eq!(report["signing_key"]["status"], "missing");
    assert_eq!(report["signing_key"]["failed_checkpoints"], 3);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("is missing") && warnings.contains("3 interval"),
        "{warnings}"
    );
    let human = text(&home.run(&["verify"]).stdout);
    assert!(
        human.contains("signing key") && human.contains("missing"),
        "{human}"
    );
    let doctor_check = |home: &Home| {
        let out = home.run(&["doctor", "--json"]);
        let doctor: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1));
        doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "signing-key")
            .unwrap()
            .clone()
    };
    let check = doctor_check(&home);
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["message"].as_str().unwrap().contains("missing"),
        "{check:#}"
    );
    assert!(
        check["fix"].as_str().unwrap().contains("restore"),
        "{check:#}"
    );
    assert!(
        check["details"][0].as_str().unwrap().contains("3 interval"),
        "{check:#}"
    );
    // Another key in its place: told apart from a missing one.
    std::fs::write(&keys[0], format!("{}\n", "11".repeat(32))).unwrap();
    let (_, report) = home.verify_json();
    assert_eq!(report["signing_key"]["status"], "replaced", "{report:#}");
    let check = doctor_check(&home);
    assert!(
        check["message"].as_str().unwrap().contains("replaced"),
        "{check:#}"
    );
    // The original back: signing resumes, and the next crossing is a real checkpoint.
    std::fs::write(&keys[0], original).unwrap();
    for i in 11..=14 {
        let out = home.hook_env(
            &call(&format!("toolu_{i}")),
            &[("HOOKLEDGER_CHECKPOINT_EVERY", "4")],
        );
        assert_no_opinion(&out);
    }
    assert!(!home.records_of("checkpoint").is_empty());
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["signing_key"]["status"], "matches");
}

/// A transcript path that is a FIFO (or a device) must not hang any event: the hook answers
/// in time and records the event without the transcript's facts.
#[test]
fn fifo_transcript_does_not_hang_events() {
    let home = Home::new();
    let fifo = home.path().join("transcript.jsonl");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path that lives through the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let fifo = fifo.to_str().unwrap();
    let events = [
        payload(
            "Stop",
            json!({"transcript_path": fifo, "stop_hook_active": false}),
        ),
        payload(
            "SubagentStop",
            json!({"transcript_path": fifo, "agent_transcript_path": fifo, "agent_id": "a1"}),
        ),
        payload(
            "PostToolUse",
            json!({"transcript_path": fifo, "tool_name": "Edit", "tool_use_id": "toolu_e",
                   "tool_input": {"file_path": "/tmp/x", "old_string": "a", "new_string": "b"},
                   "tool_response": {"filePath": "/tmp/x"}}),
        ),
        payload(
            "PreToolUse",
            json!({"transcript_path": "/dev/zero", "tool_name": "Bash", "tool_use_id": "toolu_z",
                   "tool_input": {"command": "true"}}),
        ),
    ];
    for event in &events {
        let (out, took) = timed_hook_env(&home, event, &[("HOOKLEDGER_DEADLINE_MS", "3000")]);
        assert_no_opinion(&out);
        assert!(
            took < Duration::from_secs(2),
            "{}: {took:?}",
            event["hook_event_name"]
        );
    }
    assert_intact(&home);
    for kind in ["stop", "subagent-stop", "edit", "tool-call"] {
        assert_eq!(home.records_of(kind).len(), 1, "{kind}");
    }
    assert!(home.records_of("hook-error").is_empty());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// 64 concurrent hook writers × 200 events each: no hook over 5 s, nothing lost, one chain.
#[test]
fn sixty_four_writers_lose_nothing() {
    let _heavy = heavy();
    const WRITERS: usize = 64;
    const EVENTS: usize = 200;
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_first")));
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let home = &home;
                scope.spawn(move || {
                    (0..EVENTS)
                        .map(|i| {
                            let (out, took) = timed_hook(home, &call(&format!("toolu_{w}_{i}")));
                            assert_no_opinion(&out);
                            took
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = started.elapsed();
    latencies.sort();
    let max = *latencies.last().unwrap();
    eprintln!(
        "{WRITERS} writers x {EVENTS} events in {wall:.1?}: p50 {:?}, p99 {:?}, max {max:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    assert!(max < Duration::from_secs(5), "a hook took {max:?}");
    drain(&home);
    let report = assert_intact(&home);
    let ids = recorded_ids(&home);
    let recovered = home
        .records_of("tool-call")
        .iter()
        .filter(|r| r.get("recovered").is_some())
        .count();
    eprintln!("{recovered} of them waited in the spool (an append lock wait hit its limit)");
    assert_eq!(ids.len(), 1 + WRITERS * EVENTS);
    assert!(ids.values().all(|n| *n == 1), "every event exactly once");
    assert!(report["checkpoints"].as_u64().unwrap() >= 50, "{report:#}");
}

/// The reference verifier takes a non-ASCII kind (earlier versions could merge one from a
/// spool line; the frame holds its UTF-8 bytes) and, given the key directory, checks the MAC
/// of every spool line: a forged one fails it.
#[test]
fn python_verifier_checks_spool_macs_and_utf8_kinds() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_0")));
    {
        let mut ledger =
            hookledger::ledger::Ledger::open(&home.ledger(), &Default::default()).unwrap();
        ledger
            .append(&[hookledger::ledger::NewRecord {
                ts_ns: 1,
                kind: "événement-🦀".into(),
                payload: br#"{"x":1}"#.to_vec(),
            }])
            .unwrap();
    }
    let key = spool_mac_key(&home);
    let genuine = signed_line(&key, &body(1, "stop", &json!({"event": "Stop"})));
    write_spool_file(&home, "00000000000000000001-1-ff", genuine.as_bytes());
    let run = |with_keys: bool| -> Option<Output> {
        python_verifier(&home.ledger())?;
        let mut cmd = Command::new("python3");
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/verify_ledger.py"
        ))
        .arg(home.ledger());
        if with_keys {
            cmd.arg("--spool-keys").arg(home.home().join("keys"));
        }
        Some(cmd.output().unwrap())
    };
    let Some(out) = run(true) else {
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("1 authenticated, 0 bad-mac"),
        "{}",
        text(&out.stdout)
    );
    let forged = format!("HLS2 {} {}\n", "00".repeat(32), body(2, "edit", &json!({})));
    write_spool_file(&home, "00000000000000000002-1-ff", forged.as_bytes());
    let out = run(true).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("fails its MAC"),
        "{}",
        text(&out.stdout)
    );
    // Without the key directory only the chain is checked.
    assert_eq!(run(false).unwrap().status.code(), Some(0));
    // hookledger agrees: the chain verifies, one line waits and one will be rejected.
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        (
            report["spool_pending"].as_u64(),
            report["spool_damaged"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

/// `doctor`'s `ledger-writable` goes through what an append does: with the append lock held
/// by another process, it fails (hooks are spooling), and passes once it is released.
#[test]
fn doctor_probes_the_append_lock() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call("toolu_0")));
    let writable = |home: &Home| {
        let mut cmd = home.command();
        cmd.env("HOOKLEDGER_BUSY_TIMEOUT_MS", "200")
            .args(["doctor", "--json"])
            .stdin(std::process::Stdio::null());
        let out = cmd.output().unwrap();
        let doctor: Value = serde_json::from_slice(&out.stdout).unwrap();
        doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "ledger-writable")
            .unwrap()
            .clone()
    };
    let held = File::open(home.home()).unwrap();
    held.lock().unwrap();
    let check = writable(&home);
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["message"].as_str().unwrap().contains("locked"),
        "{check:#}"
    );
    drop(held);
    assert_eq!(writable(&home)["status"], "pass");
}
