//! Many writers, killed writers, and ledgers that cannot be written: nothing is lost.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::*;

fn call(i: usize) -> Value {
    pre_tool(
        "Bash",
        json!({"command": format!("echo {i}")}),
        &format!("toolu_{i}"),
    )
}

#[test]
fn sixteen_concurrent_writers_make_one_linear_chain() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&payload("SessionStart", json!({"source": "startup"}))));
    std::thread::scope(|scope| {
        for writer in 0..16 {
            let home = &home;
            scope.spawn(move || {
                for i in 0..100 {
                    assert_no_opinion(&home.hook(&call(writer * 1000 + i)));
                }
            });
        }
    });
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    // Genesis, session start, 1,600 calls, and a signed checkpoint each time the chain
    // crossed a multiple of 256 records (six times on the way to ~1,608).
    let checkpoints = home.records_of("checkpoint");
    assert_eq!(checkpoints.len(), 6, "{checkpoints:#?}");
    assert_eq!(report["records"], 2 + 1600 + 6);
    assert_eq!(report["checkpoints"], 6);
    let mut ids: Vec<String> = home
        .records_of("tool-call")
        .iter()
        .map(|r| r["tool_use_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1600, "every event recorded exactly once");
    assert_eq!(report["spool_pending"], 0);
}

/// A cheap deterministic PRNG: the test needs varied timings, not randomness quality.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn kill_9_during_appends_never_breaks_the_chain() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    let mut rng = Lcg(0x5eed);
    // Big payloads make the write window wide enough to land kills inside it.
    let big = json!({"command": "x".repeat(200_000)});
    for round in 0..40 {
        let mut children = Vec::new();
        for j in 0..3 {
            let mut cmd = home.command();
            cmd.args(["hook", "--event", "PreToolUse"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let mut child = cmd.spawn().unwrap();
            let payload = pre_tool("Bash", big.clone(), &format!("toolu_{round}_{j}")).to_string();
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(payload.as_bytes());
            });
            children.push(child);
        }
        std::thread::sleep(Duration::from_micros(rng.next(8000)));
        for child in &mut children {
            let _ = child.kill(); // SIGKILL
        }
        for mut child in children {
            let _ = child.wait();
        }
        let (code, report) = home.verify_json();
        assert_eq!(code, 0, "round {round}: {report:#}");
    }
    // Whatever was spooled by a killed writer merges cleanly into the chain.
    assert_no_opinion(&home.hook(&call(1)));
    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["spool_pending"], 0);
}

/// `pending` records wait in the spool; the next hook event merges them into an intact chain.
#[track_caller]
fn assert_spool_merges(home: &Home, pending: u64) {
    let (_, report) = home.verify_json();
    assert_eq!(report["spool_pending"], pending, "{report:#}");
    assert_no_opinion(&home.hook(&call(2)));
    let (code, report) = home.verify_json();
    assert_eq!(
        (code, report["spool_pending"].as_u64()),
        (0, Some(0)),
        "{report:#}"
    );
}

#[test]
fn locked_ledger_spools_then_merges() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    let conn = rusqlite::Connection::open(home.ledger()).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut cmd = home.command();
    cmd.env("HOOKLEDGER_BUSY_TIMEOUT_MS", "100")
        .args(["hook", "--event", "PreToolUse"]);
    assert_no_opinion(&run_with_stdin(cmd, call(1).to_string().as_bytes()));
    let mut cmd = home.command();
    cmd.env("HOOKLEDGER_BUSY_TIMEOUT_MS", "100")
        .args(["hook", "--event", "Stop"]);
    assert_no_opinion(&run_with_stdin(
        cmd,
        payload("Stop", json!({})).to_string().as_bytes(),
    ));
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    assert_spool_merges(&home, 2);
    let records = home.records();
    let kinds: Vec<&str> = records.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["genesis", "tool-call", "tool-call", "stop", "tool-call"]
    );
    let recovered = &records[2].2["recovered"];
    assert!(
        recovered["reason"].as_str().unwrap().contains("locked"),
        "{recovered}"
    );
    assert_eq!(records[2].2["tool_use_id"], "toolu_1");
    assert!(records[4].2.get("recovered").is_none());
}

#[test]
fn read_only_ledger_spools_then_merges() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let run_hook = |payload: &Value| {
        if is_root {
            // Root ignores file modes; run the hook as an unprivileged user who owns the
            // directory (so the spool can be written) but not the ledger.
            let mut cmd = Command::new("setpriv");
            cmd.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                BIN,
                "hook",
            ])
            .env("HOOKLEDGER_HOME", home.home());
            run_with_stdin(cmd, payload.to_string().as_bytes())
        } else {
            home.hook(payload)
        }
    };
    let db_files = ["ledger.db", "ledger.db-wal", "ledger.db-shm"];
    let chmod = |mode: &str| {
        for f in db_files {
            let _ = Command::new("chmod")
                .arg(mode)
                .arg(home.home().join(f))
                .status();
        }
    };
    if is_root {
        // The user owns everything (its keys too), as when one user runs Claude Code; only
        // the database files are read-only for it.
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(home.home())
            .status()
            .unwrap();
        assert!(status.success());
        // Everyone must reach the temp dir to reach the home inside it.
        Command::new("chmod")
            .arg("755")
            .arg(home.path())
            .status()
            .unwrap();
    }
    chmod("0444");
    let out = run_hook(&call(1));
    assert_no_opinion(&out);
    chmod("0600");
    if is_root {
        Command::new("chown")
            .arg("-R")
            .arg("0:0")
            .arg(home.home())
            .status()
            .unwrap();
    }
    assert_spool_merges(&home, 1);
    let recovered = home.records_of("tool-call");
    assert_eq!(recovered.len(), 3);
    assert!(
        recovered[1]["recovered"]["reason"]
            .as_str()
            .unwrap()
            .contains("readonly"),
        "{}",
        recovered[1]
    );
}

#[test]
fn corrupt_ledger_spools_and_verify_says_so() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    for f in ["ledger.db-wal", "ledger.db-shm"] {
        let _ = std::fs::remove_file(home.home().join(f));
    }
    std::fs::write(home.ledger(), vec![0xa5; 16384]).unwrap();
    assert_no_opinion(&home.hook(&call(1)));
    let (code, report) = home.verify_json();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["problems"][0]["code"], "corrupt-file");
    assert_eq!(report["spool_pending"], 1);
}

#[test]
fn newer_schema_is_not_written_but_nothing_is_lost() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    let out = home.sqlite3("PRAGMA user_version = 99;");
    assert!(out.status.success());
    assert_no_opinion(&home.hook(&call(1)));
    let spool = home.spool_text();
    assert!(spool.contains("upgrade hookledger"), "{spool}");
}

/// A torn line in the single-file spool of earlier versions (a writer killed mid-write) is
/// rejected on the record, by size and digest; the file is consumed.
#[test]
fn damaged_legacy_spool_lines_are_rejected_on_record() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    std::fs::write(home.legacy_spool(), "0000 {\"torn\":").unwrap();
    assert_no_opinion(&home.hook(&call(1)));
    let rejected = home.records_of("spool-rejected");
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0]["line"]["bytes"], 13);
    assert_eq!(
        rejected[0]["line"]["blake3"],
        blake3_hex(b"0000 {\"torn\":")
    );
    assert!(rejected[0]["reason"].as_str().unwrap().starts_with("torn"));
    assert_eq!(home.verify_json().0, 0);
    assert!(!home.legacy_spool().exists() && !home.spool().exists());
}

/// A full disk: a tiny tmpfs (needs root, as in CI; skipped with a notice elsewhere).
#[test]
fn full_disk_refuses_gating_events_and_loses_no_committed_record() {
    let home = Home::new();
    let mount = home.path().join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mount)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !mounted {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("notice: skipping the full-disk test (cannot mount a tmpfs without root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mount.clone());
    let hl = mount.join("hl");
    let hook = |payload: &Value| {
        let mut cmd = Command::new(BIN);
        cmd.env("HOOKLEDGER_HOME", &hl).args([
            "hook",
            "--event",
            payload["hook_event_name"].as_str().unwrap(),
        ]);
        run_with_stdin(cmd, payload.to_string().as_bytes())
    };
    assert_no_opinion(&hook(&call(0)));
    // Fill the rest of the filesystem.
    let filler = mount.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 512 << 10]);
    let big = pre_tool("Bash", json!({"command": "y".repeat(6000)}), "toolu_full");
    let out = hook(&big);
    assert_refused(&out, "ledger-unavailable");
    let out = hook(&payload("Stop", json!({})));
    assert_eq!(
        out.status.code(),
        Some(1),
        "non-gating: visible but not blocking"
    );
    std::fs::remove_file(&filler).unwrap();
    assert_no_opinion(&hook(&call(2)));
    let mut verify = Command::new(BIN);
    verify
        .env("HOOKLEDGER_HOME", &hl)
        .args(["verify", "--json"]);
    let out = verify.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
}

/// Every hook process is the ledger's only connection, so SQLite replays the whole WAL on each
/// open: an unbounded WAL made each call slower than the last (+750% over 3,000 events).
#[test]
fn wal_stays_bounded_across_many_hook_processes() {
    let home = Home::new();
    let big = json!({"command": "z".repeat(6000)});
    for i in 0..120 {
        assert_no_opinion(&home.hook(&pre_tool("Bash", big.clone(), &format!("toolu_{i}"))));
    }
    let wal = std::fs::metadata(home.home().join("ledger.db-wal")).map_or(0, |m| m.len());
    assert!(wal <= 512 << 10, "WAL grew to {wal} bytes");
    assert_eq!(home.verify_json().0, 0);
}

/// Runs `cmd` with `partial` on stdin and stdin left open (a payload that never finishes
/// arriving); kills it after 12 s. Returns its output and how long it took.
pub fn run_with_open_stdin(mut cmd: Command, partial: &[u8]) -> (std::process::Output, Duration) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(partial).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(12) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    drop(stdin);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    (
        std::process::Output {
            status,
            stdout,
            stderr,
        },
        elapsed,
    )
}

/// Claude Code lets a hook that times out through, so a stuck hook answers by itself before
/// that (gating: refused; other events: a warning), and what arrived is on record.
#[test]
fn internal_deadline_refuses_and_is_recorded() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    // A payload that never finishes arriving: nothing but the deadline ends the wait.
    let partial = &call(1).to_string().into_bytes()[..40];
    let mut cmd = home.command();
    cmd.env("HOOKLEDGER_DEADLINE_MS", "300")
        .args(["hook", "--event", "PreToolUse"]);
    let (out, elapsed) = run_with_open_stdin(cmd, partial);
    assert_refused(&out, "deadline-exceeded");
    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
    // A non-gating event gets a deadline too: a visible warning, not a block.
    let mut cmd = home.command();
    cmd.env("HOOKLEDGER_DEADLINE_MS", "300")
        .args(["hook", "--event", "Stop"]);
    let (out, elapsed) = run_with_open_stdin(cmd, b"{\"hook_event_name\":");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("deadline-exceeded"));
    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );
    assert_no_opinion(&home.hook(&call(2)));
    let errors = home.records_of("hook-error");
    assert_eq!(errors.len(), 2, "both events are on record: {errors:#?}");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("deadline-exceeded")
    );
    assert_eq!(errors[0]["stdin_blake3"], blake3_hex(partial));
    assert_eq!(errors[1]["event_hint"], "Stop");
    assert_eq!(home.verify_json().0, 0);
}

/// A busy timeout longer than the deadline is cut to what the deadline leaves: the hook gives
/// its real answer in time and spools the record, instead of being refused by the watchdog.
#[test]
fn busy_timeout_is_bounded_by_the_deadline() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&call(0)));
    let conn = rusqlite::Connection::open(home.ledger()).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for (event, input) in [
        ("PreToolUse", call(1)),
        ("Stop", payload("Stop", json!({}))),
    ] {
        let started = std::time::Instant::now();
        let mut cmd = home.command();
        cmd.env("HOOKLEDGER_BUSY_TIMEOUT_MS", "10000")
            .env("HOOKLEDGER_DEADLINE_MS", "400")
            .args(["hook", "--event", event]);
        assert_no_opinion(&run_with_stdin(cmd, input.to_string().as_bytes()));
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(2000),
            "{event} answered after {elapsed:?}"
        );
    }
    conn.execute_batch("COMMIT").unwrap();
    drop(conn);
    assert_no_opinion(&home.hook(&call(2)));
    let calls = home.records_of("tool-call");
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert_eq!(calls[1]["tool_use_id"], "toolu_1");
    assert!(
        calls[1]["recovered"]["reason"]
            .as_str()
            .unwrap()
            .contains("locked")
    );
    assert_eq!(home.records_of("stop").len(), 1);
    assert!(home.records_of("hook-error").is_empty());
    assert_eq!(home.verify_json().0, 0);
}
