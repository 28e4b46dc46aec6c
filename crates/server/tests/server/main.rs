//! The fleet receiver end to end: the real server binary, real ledgers written and shipped by
//! the real `hookledger` binary, a SQLite store and a real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod report;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use hookledger_ledger::{Ledger, NewRecord, OpenOptions, canonical_json};
use serde_json::{Value, json};

use support::*;

/// Clean machines shipping side by side (HOOKLEDGER_FLEET_MACHINES overrides the 50).
fn clean_count() -> usize {
    std::env::var("HOOKLEDGER_FLEET_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn by_name(machines: &[Value]) -> BTreeMap<String, Value> {
    machines
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m.clone()))
        .collect()
}

fn codes(machine: &Value) -> Vec<String> {
    machine["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// The whole fleet against one store.
fn fleet(store: &str, pg: Option<&Postgres>) {
    let scratch = tempfile::tempdir().unwrap();
    let server = Server::start(store, scratch.path(), free_port());
    let url = server.url();

    // Clean machines: hook events, then `ship` concurrently (two batches each at least).
    let clean: Vec<Arc<Machine>> = (0..clean_count())
        .map(|i| {
            let name = format!("dev-{i:02}");
            Arc::new(Machine::new(&name, enroll(store, &name)))
        })
        .collect();
    let faulty = [
        "edited", "gapped", "forked", "pruned", "silent", "impostor", "garbled", "revoked",
    ];
    let faults: BTreeMap<&str, Arc<Machine>> = faulty
        .iter()
        .map(|name| (*name, Arc::new(Machine::new(name, enroll(store, name)))))
        .collect();
    let everyone: Vec<Arc<Machine>> = clean.iter().chain(faults.values()).cloned().collect();
    let workers: Vec<_> = everyone
        .chunks(everyone.len().div_ceil(4))
        .map(|group| {
            let group = group.to_vec();
            std::thread::spawn(move || {
                for m in group {
                    m.work(6);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    // Faults made on the machines before they ship.
    faults["edited"].tamper(
        "DROP TRIGGER records_no_update;
         UPDATE records SET payload = CAST(replace(CAST(payload AS TEXT), 'event 2', 'event 9') AS BLOB)
         WHERE CAST(payload AS TEXT) LIKE '%edited event 2%';",
    );
    faults["gapped"]
        .tamper("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq IN (3, 4);");
    {
        // A prune statement nobody signed, appended through the ledger library as a forger
        // holding the file would.
        let m = &faults["pruned"];
        let mut ledger = Ledger::open(&m.ledger(), &OpenOptions::default()).unwrap();
        ledger
            .append(&[NewRecord {
                ts_ns: hookledger_ledger::now_ns(),
                kind: hookledger_ledger::Kind::Prune.as_str().into(),
                payload: canonical_json(&json!({"first_seq": 2, "last_seq": 3, "anchor_seq": 4})),
            }])
            .unwrap();
    }
    // The forked machine: an old copy of its ledger is kept aside, the ledger goes on and
    // ships, then the old copy is restored and goes on differently.
    let forked = &faults["forked"];
    let backup = scratch.path().join("forked-backup");
    std::fs::create_dir_all(&backup).unwrap();
    copy_home(&forked.home(), &backup);
    forked.work(3);

    // Everyone ships at once (small batches: several requests each).
    let shippers: Vec<_> = everyone
        .iter()
        .filter(|m| m.name != "revoked" && m.name != "silent")
        .cloned()
        .map(|m| {
            let url = url.clone();
            std::thread::spawn(move || (m.name.clone(), m.ship(&url, &["--batch-records", "4"])))
        })
        .collect();
    for s in shippers {
        let (name, (code, out)) = s.join().unwrap();
        assert_eq!(code, 0, "{name}: {out}");
    }
    // The silent machine's last signed checkpoint is two hours old (its clock then): past
    // the one hour of silence this server allows.
    let silent_tested = match faults["silent"].ship_at("-2h", &url) {
        Some((code, out)) => {
            assert_eq!(code, 0, "{out}");
            true
        }
        None => false,
    };

    // The fork: the old copy comes back and goes on; its history disagrees with what was
    // received, so the batch is refused whole (409) and the machine flagged.
    copy_home(&backup, &forked.home());
    forked.work(2);
    let (code, out) = forked.ship(&url, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out["error"].as_str().unwrap().contains("409"), "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("rewrites-history"),
        "{out}"
    );

    // Tokens: none, unknown, revoked.
    assert_eq!(server.post(None, b"{}\n").0, 401);
    let (status, body) = server.post(Some("hlm_not-a-token"), b"{}\n");
    assert_eq!(status, 401, "{body}");
    assert!(body.starts_with("unknown-token:"), "{body}");
    let out = server_cmd(&["revoke", "--store", store, "revoked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, out) = faults["revoked"].ship(&url, &[]);
    assert_eq!(code, 1);
    assert!(
        out["error"].as_str().unwrap().contains("revoked-token"),
        "{out}"
    );

    // Another machine's ledger with the impostor's token: 403, a finding on the impostor.
    let lines = clean[0].export();
    let (status, body) = server.post(Some(&faults["impostor"].token), &lines);
    assert_eq!(status, 403, "{body}");
    assert!(body.starts_with("other-ledger:"), "{body}");

    // Malformed and oversized batches: 4xx, nothing stored.
    let garbled = &faults["garbled"];
    let mut bad = garbled.export();
    bad.extend_from_slice(b"{\"not\": \"a record\"}\n");
    let (status, body) = server.post(Some(&garbled.token), &bad);
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("malformed-batch:"), "{body}");
    let huge = vec![b' '; 9 << 20];
    let (status, body) = server.post(Some(&garbled.token), &huge);
    assert_eq!(status, 413, "{body}");
    assert!(body.starts_with("oversized-batch:"), "{body}");

    // A resend is harmless: everything is a duplicate, nothing new is stored.
    let again = clean[1].export();
    let (status, body) = server.post(Some(&clean[1].token), &again);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["duplicates"].as_u64().unwrap() >= clean[1].head() - 1,
        "{answer}"
    );
    assert!(
        answer["problems"].as_array().unwrap().is_empty(),
        "{answer}"
    );

    // Ship once more so every clean machine's last record (the ship's checkpoint) is there.
    for m in &clean {
        let (code, out) = m.ship(&url, &[]);
        assert_eq!(code, 0, "{out}");
    }

    let machines = by_name(&machines(store));
    assert_eq!(machines.len(), clean.len() + faulty.len());
    for m in &clean {
        let view = &machines[&m.name];
        assert_eq!(view["chain_status"], "verified", "{view:#}");
        assert!(codes(view).is_empty(), "{view:#}");
        assert_eq!(view["records"].as_u64().unwrap(), m.head(), "{view:#}");
        assert_eq!(view["next_seq"].as_u64().unwrap(), m.head() + 1);
        assert!(
            view["last_checkpoint"]["seq"].as_u64().is_some(),
            "{view:#}"
        );
    }
    let expect = [
        ("edited", "bad-hash", "broken"),
        ("gapped", "gap", "broken"),
        ("forked", "fork", "broken"),
        ("forked", "rewrites-history", "broken"),
        ("pruned", "bad-prune", "broken"),
        ("impostor", "other-ledger", "broken"),
        ("garbled", "malformed-batch", "broken"),
        ("garbled", "oversized-batch", "broken"),
    ];
    for (name, code, status) in expect {
        let view = &machines[name];
        assert!(
            codes(view).contains(&code.to_owned()),
            "{name} lacks {code}: {view:#}"
        );
        assert_eq!(view["chain_status"], status, "{name}: {view:#}");
    }
    assert_eq!(machines["revoked"]["chain_status"], "revoked");
    // Each fault machine is flagged for its own fault only.
    assert_eq!(codes(&machines["edited"]), ["bad-hash"]);
    assert_eq!(codes(&machines["gapped"]), ["gap"]);
    assert_eq!(codes(&machines["pruned"]), ["bad-prune"]);
    if silent_tested {
        assert_eq!(codes(&machines["silent"]), ["silent"]);
        assert_eq!(machines["silent"]["chain_status"], "silent");
    }
    assert_eq!(codes(&machines["forked"]), ["fork", "rewrites-history"]);
    // The edited record is not stored; the ones around it are.
    assert_eq!(
        machines["edited"]["records"].as_u64().unwrap(),
        faults["edited"].head() - 1
    );

    // The silence watcher (every second in this test) records the silent machine's finding.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let view = by_name(&machines_raw(store))["silent"].clone();
        if !silent_tested
            || view["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "silent")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no silent finding: {view:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // Metrics in Prometheus text.
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    for name in [
        "hookledger_server_batches_total{outcome=\"stored\"}",
        "hookledger_server_records_total",
        "hookledger_server_findings_total",
        "hookledger_server_lag_seconds_max",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }

    // Stored rows: each clean machine's records once.
    if let Some(pg) = pg {
        let rows = pg.psql("SELECT count(*), count(DISTINCT (ledger_id, seq)) FROM records");
        let (all, distinct) = rows.split_once('|').unwrap();
        assert_eq!(all, distinct, "duplicated rows");
        let partitions =
            pg.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'records'::regclass");
        assert!(partitions.parse::<u32>().unwrap() >= 2, "{partitions}");
    }
}

/// `machines --json` with the stored findings only (no live silence).
fn machines_raw(store: &str) -> Vec<Value> {
    machines(store)
}

fn copy_home(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_home(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
    // Files the old copy did not have (a newer WAL) go too: a restore is the old state.
    for entry in std::fs::read_dir(to).unwrap() {
        let entry = entry.unwrap();
        if !from.join(entry.file_name()).exists() && entry.file_type().unwrap().is_file() {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
}

/// `kill -9` of the server while a machine ships: after a restart and a resend, every record
/// is stored exactly once.
fn kill_mid_ingest(store: &str, pg: Option<&Postgres>) {
    let scratch = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(store, scratch.path(), port);
    let m = Machine::new("crashy", enroll(store, "crashy"));
    m.work(2);
    {
        let mut ledger = Ledger::open(&m.ledger(), &OpenOptions::default()).unwrap();
        let records: Vec<NewRecord> = (0..3000)
            .map(|i| NewRecord {
                ts_ns: hookledger_ledger::now_ns(),
                kind: "notification".into(),
                payload: canonical_json(&json!({"message": format!("bulk {i}")})),
            })
            .collect();
        for chunk in records.chunks(500) {
            ledger.append(chunk).unwrap();
        }
    }
    let url = server.url();
    let shipping = {
        let mut cmd = m.command();
        cmd.args([
            "ship",
            "--url",
            &url,
            "--bearer-token-env",
            "FLEET_TOKEN",
            "--batch-records",
            "50",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    // Kill the server once some batches are in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, metrics) = server.get("/metrics");
        let stored = metrics
            .lines()
            .find(|l| l.starts_with("hookledger_server_records_total "))
            .and_then(|l| l.split(' ').nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        if stored >= 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill9();
    let mut shipping = shipping;
    let _ = shipping.wait();
    let server = Server::start(store, scratch.path(), port);
    let (code, out) = m.ship(&server.url(), &["--batch-records", "500"]);
    assert_eq!(code, 0, "{out}");
    let view = by_name(&machines(store))["crashy"].clone();
    assert_eq!(view["chain_status"], "verified", "{view:#}");
    assert_eq!(view["records"].as_u64().unwrap(), m.head(), "{view:#}");
    if let Some(pg) = pg {
        let ledger = view["ledger_id"].as_str().unwrap();
        let rows = pg.psql(&format!(
            "SELECT count(*), count(DISTINCT seq), max(seq) FROM records WHERE ledger_id = '{ledger}'"
        ));
        assert_eq!(rows, format!("{0}|{0}|{0}", m.head()), "stored rows");
    } else {
        let path = store.strip_prefix("sqlite:").unwrap();
        let conn = rusqlite::Connection::open(path).unwrap();
        let (all, max): (i64, i64) = conn
            .query_row("SELECT count(*), max(seq) FROM records r JOIN machines m ON m.ledger_id = r.ledger_id WHERE m.name = 'crashy'", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((all as u64, max as u64), (m.head(), m.head()));
    }
}

#[test]
fn fleet_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("server.db").display());
    fleet(&store, None);
    kill_mid_ingest(&store, None);
}

#[test]
fn fleet_on_postgres() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let store = pg.url.clone();
    fleet(&store, Some(&pg));
    // The record alerts and the closing of gaps (migration 0002's columns) on PostgreSQL too.
    record_alerts(&store);
    late_records(&store);
    kill_mid_ingest(&store, Some(&pg));
    store_outage(&pg);
}

/// PostgreSQL goes away under a running server: batches get 503 (not stored, so `ship` keeps
/// its cursor and resends), health says so, and once the database is back the same ship
/// delivers everything, once.
fn store_outage(pg: &Postgres) {
    let scratch = tempfile::tempdir().unwrap();
    let server = Server::start(&pg.url, scratch.path(), free_port());
    let m = Machine::new("outage", enroll(&pg.url, "outage"));
    m.work(4);
    pg.stop();
    let (code, out) = m.ship(&server.url(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out["error"].as_str().unwrap().contains("503"), "{out}");
    assert_eq!(out["delivered_through"], 0, "{out}");
    assert_eq!(server.get("/healthz").0, 503);
    pg.restart();
    let (code, out) = m.ship(&server.url(), &[]);
    assert_eq!(code, 0, "{out}");
    let view = by_name(&machines(&pg.url))["outage"].clone();
    assert_eq!(view["chain_status"], "verified", "{view:#}");
    assert_eq!(view["records"].as_u64().unwrap(), m.head(), "{view:#}");
}

/// Bad `--store` values and plain HTTP off loopback are one-line errors.
#[test]
fn bad_arguments_are_one_line_errors() {
    let out = server_cmd(&["machines", "--store", "mysql://x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.starts_with("hookledger-server: unknown store"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = server_cmd(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--store",
        "sqlite:/nonexistent/x.db",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("refusing plain HTTP"),
        "{}",
        text(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    enroll(&store, "one");
    let out = server_cmd(&["enroll", "--store", &store, "one"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already enrolled"),
        "{}",
        text(&out.stderr)
    );
    let out = server_cmd(&["revoke", "--store", &store, "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no machine named"),
        "{}",
        text(&out.stderr)
    );
}

/// TLS from certificate files: `ship` delivers over https (curl trusting the test's own CA
/// through CURL_CA_BUNDLE), and a missing certificate is a one-line error.
#[test]
fn ships_over_tls_from_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", text(&out.stderr));
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let port = free_port();
    let mut child = std::process::Command::new(SERVER)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            &store,
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("https://127.0.0.1:{port}/healthz");
    let cacert = cert.display().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while curl(&["--cacert", &cacert, &health], None).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "no TLS server");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Plain HTTP on the TLS port is not served.
    assert_ne!(
        curl(&[&format!("http://127.0.0.1:{port}/healthz")], None).0,
        200
    );
    let m = Machine::new("tls", enroll(&store, "tls"));
    m.work(3);
    let out = m
        .command()
        .env("CURL_CA_BUNDLE", &cert)
        .args([
            "ship",
            "--url",
            &format!("https://127.0.0.1:{port}/v1/ingest"),
        ])
        .args(["--bearer-token-env", "FLEET_TOKEN", "--json"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "ship: {}", text(&out.stderr));
    let view = by_name(&machines(&store))["tls"].clone();
    assert_eq!(view["chain_status"], "verified", "{view:#}");
    assert_eq!(view["records"].as_u64().unwrap(), m.head());

    let out = server_cmd(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--store",
        &store,
        "--tls-cert",
        "/nonexistent.pem",
        "--tls-key",
        "/nonexistent.key",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("cannot load the TLS certificate"), "{err}");
}

/// What a webhook receiver got: (the status it answered, the JSON body).
type Received = Arc<std::sync::Mutex<Vec<(u16, Value)>>>;

/// A webhook receiver on loopback answering `statuses` in turn (then 200); the bodies it got.
fn webhook(statuses: Vec<u16>) -> (String, Received) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/services/T000/B000/secret-path",
        listener.local_addr().unwrap()
    );
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end().to_ascii_lowercase();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = statuses.next().unwrap_or(200);
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                    .as_bytes(),
            );
            log.lock()
                .unwrap()
                .push((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
    });
    (url, seen)
}

/// Chain problems reach a webhook (Slack-compatible body), a failed delivery is retried, and
/// every attempt is recorded without the webhook's secret URL.
#[test]
fn alerts_reach_a_webhook_with_retries() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let (url, seen) = webhook(vec![500]);
    let config = dir.path().join("alerts.json");
    std::fs::write(
        &config,
        json!({"webhooks": [{"url": url, "chain": true}]}).to_string(),
    )
    .unwrap();
    let server = Server::start_with(
        &store,
        dir.path(),
        free_port(),
        &["--alerts", config.to_str().unwrap()],
    );
    let m = Machine::new("gappy", enroll(&store, "gappy"));
    m.work(6);
    m.tamper("DROP TRIGGER records_no_delete; DELETE FROM records WHERE seq = 3;");
    let (code, out) = m.ship(&server.url(), &[]);
    assert_eq!(code, 0, "{out}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = seen.lock().unwrap().clone();
        if got.iter().any(|(status, _)| *status == 200) {
            assert_eq!(got.len(), 2, "{got:?}");
            assert_eq!(got[0].0, 500);
            let body = &got[1].1;
            assert_eq!(body["code"], "gap", "{body}");
            assert_eq!(body["machine"], "gappy");
            assert!(body["text"].as_str().unwrap().contains("[gap]"), "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no alert: {got:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(server);
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    let attempts: Vec<(i64, Option<i64>, String)> = conn
        .prepare("SELECT attempt, status, webhook FROM alert_deliveries ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!((attempts[0].0, attempts[0].1), (1, Some(500)));
    assert_eq!((attempts[1].0, attempts[1].1), (2, Some(200)));
    assert!(!attempts[0].2.contains("secret-path"), "{attempts:?}");

    // A rule the server cannot honour yet is refused, not ignored.
    std::fs::write(
        &config,
        r#"{"webhooks":[{"url":"http://x","dlp_alerts":true}]}"#,
    )
    .unwrap();
    let out = server_cmd(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--store",
        &store,
        "--alerts",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown field"),
        "{}",
        text(&out.stderr)
    );
}

/// Waits until the webhook answered 200 to `n` bodies; returns them (after a pause that lets an
/// extra, unwanted alert arrive too, so a test can see it).
fn delivered(seen: &Received, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ok: Vec<Value> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| body.clone())
            .collect();
        if ok.len() >= n {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            return seen
                .lock()
                .unwrap()
                .iter()
                .filter(|(status, _)| *status == 200)
                .map(|(_, body)| body.clone())
                .collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} alerts: {ok:?}",
            ok.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What verified records say reaches the webhooks whose rules select it: a refusal by the rule
/// listed (not one by another rule), a DLP finding, a session whose sandbox is off. The chain
/// stays verified: these describe the machine's sessions, not its ledger.
#[test]
fn record_alerts_reach_the_webhooks_that_select_them() {
    let dir = tempfile::tempdir().unwrap();
    record_alerts(&format!("sqlite:{}", dir.path().join("s.db").display()));
}

fn record_alerts(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = store.to_owned();
    let (refusals_url, refusals_seen) = webhook(vec![503]);
    let (controls_url, controls_seen) = webhook(vec![]);
    let config = dir.path().join("alerts.json");
    std::fs::write(
        &config,
        json!({"webhooks": [
            {"url": refusals_url, "refusals": ["path-deny-write"], "dlp": true},
            {"url": controls_url, "sandbox_off": true, "lockdown_off": true},
        ]})
        .to_string(),
    )
    .unwrap();
    let server = Server::start_with(
        &store,
        dir.path(),
        free_port(),
        &["--alerts", config.to_str().unwrap()],
    );
    let m = Machine::new("dev-7", enroll(&store, "dev-7"));
    std::fs::create_dir_all(m.home()).unwrap();
    std::fs::write(
        m.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"], "deny_write": ["**/*.pem"]}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(m.project().join(".claude")).unwrap();
    std::fs::write(
        m.project().join(".claude/settings.json"),
        r#"{"sandbox": {"enabled": false}}"#,
    )
    .unwrap();
    let project = m.project().display().to_string();
    let base =
        json!({"session_id": "5e55-1", "transcript_path": "/nonexistent/t.jsonl", "cwd": project});
    let with = |extra: Value| {
        let mut v = base.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    assert_eq!(
        m.hook(
            "SessionStart",
            &with(json!({"hook_event_name": "SessionStart", "source": "startup"}))
        ),
        0
    );
    // Refused by path-deny-read: no webhook lists that rule.
    assert_eq!(
        m.hook(
            "PreToolUse",
            &with(json!({"hook_event_name": "PreToolUse", "tool_name": "Read", "tool_use_id": "toolu_1",
                "tool_input": {"file_path": format!("{project}/.env")}}))
        ),
        2
    );
    // Refused by path-deny-write: the first webhook wants it.
    assert_eq!(
        m.hook(
            "PreToolUse",
            &with(json!({"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_use_id": "toolu_2",
                "tool_input": {"file_path": format!("{project}/server.pem"), "content": "x"}}))
        ),
        2
    );
    // A secret in a prompt: a DLP finding (allowed, redacted).
    assert_eq!(
        m.hook(
            "UserPromptSubmit",
            &with(json!({"hook_event_name": "UserPromptSubmit",
                "prompt": "deploy with AKIAIOSFODNN7EXAMPLE now"}))
        ),
        0
    );
    let (code, out) = m.ship(&server.url(), &[]);
    assert_eq!(code, 0, "{out}");

    let refusals = delivered(&refusals_seen, 2);
    let mut codes: Vec<(String, Value)> = refusals
        .iter()
        .map(|b| (b["code"].as_str().unwrap().to_owned(), b["rule"].clone()))
        .collect();
    codes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        codes,
        vec![
            ("dlp-finding".to_owned(), Value::Null),
            ("policy-refusal".to_owned(), json!("path-deny-write")),
        ],
        "{refusals:?}"
    );
    for body in &refusals {
        assert_eq!(body["machine"], "dev-7");
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("hookledger: dev-7 ["), "{text}");
        assert!(
            !text.contains("AKIAIOSFODNN7EXAMPLE"),
            "a secret in an alert: {text}"
        );
    }
    // The first attempt got 503 and was retried.
    assert_eq!(refusals_seen.lock().unwrap()[0].0, 503);
    let controls = delivered(&controls_seen, 1);
    assert_eq!(controls.len(), 1, "{controls:?}");
    assert_eq!(controls[0]["code"], "sandbox-off");
    assert!(
        controls[0]["detail"]
            .as_str()
            .unwrap()
            .contains("enabled: false"),
        "{}",
        controls[0]
    );

    // The chain is verified; the record alerts are kept as findings beside it.
    let listed = by_name(&machines(&store));
    let machine = &listed["dev-7"];
    assert_eq!(machine["chain_status"], "verified", "{machine}");
    assert_eq!(machine["records"].as_u64(), Some(m.head()));
    let kept: Vec<&str> = machine["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept.iter().filter(|c| **c == "policy-refusal").count(),
        2,
        "{kept:?}"
    );
    assert!(
        kept.contains(&"dlp-finding") && kept.contains(&"sandbox-off"),
        "{kept:?}"
    );
    // A resend finds nothing new and alerts nobody again.
    let (status, _) = server.post(Some(&m.token), &m.export());
    assert_eq!(status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        refusals_seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| *s == 200)
            .count(),
        2
    );
    assert_eq!(controls_seen.lock().unwrap().len(), 1);
    drop(server);
}

/// A gap closes when the missing records arrive late and link, and when a signed prune that
/// states it arrives in a later batch: the `gap` finding stays as history, resolved, and the
/// chain is verified again. The same codes as verify-export throughout.
#[test]
fn gaps_close_when_late_records_arrive() {
    let dir = tempfile::tempdir().unwrap();
    late_records(&format!("sqlite:{}", dir.path().join("s.db").display()));
}

fn late_records(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = store.to_owned();
    let server = Server::start(&store, dir.path(), free_port());
    let m = Machine::new("late", enroll(&store, "late"));
    m.work(12);
    let export = m.export();
    let lines: Vec<&[u8]> = export
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.len() > 1)
        .collect();
    assert!(lines.len() >= 12, "{}", lines.len());
    let (status, answer) = server.post(Some(&m.token), &lines[..4].concat());
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server.post(Some(&m.token), &lines[7..].concat());
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["problems"][0]["code"], "gap", "{answer}");
    let listed = by_name(&machines(&store));
    assert_eq!(listed["late"]["chain_status"], "broken");
    assert_eq!(codes(&listed["late"]), vec!["gap"]);
    // Record 6 alone: the gap is still open (5 and 7 missing).
    let (status, answer) = server.post(Some(&m.token), lines[5]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(by_name(&machines(&store))["late"]["chain_status"], "broken");
    // The rest: the gap closes.
    let (status, answer) = server.post(Some(&m.token), &[lines[4], lines[6]].concat());
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["resolved_gaps"], json!([[5, "filled"]]), "{answer}");
    let listed = by_name(&machines(&store));
    let late = &listed["late"];
    assert_eq!(late["chain_status"], "verified", "{late}");
    assert_eq!(late["records"].as_u64(), Some(lines.len() as u64));
    let gap = late["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "gap")
        .unwrap();
    assert!(gap["resolved_ns"].as_i64().is_some(), "{late}");

    // A machine whose old records were shipped elsewhere and pruned (signed) before it was
    // enrolled here: its first batch holds the genesis record and what it still keeps, the
    // prune record comes in the next batch and excuses the gap.
    let m = Machine::new("pruned-late", enroll(&store, "pruned-late"));
    m.work(12);
    let out = m.command().arg("checkpoint").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    m.work(2);
    let acked = m.head() - 2;
    m.tamper(&format!(
        "INSERT INTO export_cursor (sink, acked_seq, updated_ns) VALUES ('elsewhere', {acked}, 0)"
    ));
    let out = m
        .command()
        .args(["prune", "--before", "2099-01-01", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let export = m.export();
    let lines: Vec<&[u8]> = export
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.len() > 1)
        .collect();
    let prune_at = lines
        .iter()
        .position(|l| String::from_utf8_lossy(l).contains("\"kind\":\"prune\""))
        .expect("a prune record");
    let before: Vec<&[u8]> = lines[..prune_at].to_vec();
    let (status, answer) = server.post(Some(&m.token), &before.concat());
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["problems"][0]["code"], "gap", "{answer}");
    assert_eq!(
        by_name(&machines(&store))["pruned-late"]["chain_status"],
        "broken"
    );
    let (status, answer) = server.post(Some(&m.token), &lines[prune_at..].concat());
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["problems"], json!([]), "{answer}");
    assert_eq!(answer["resolved_gaps"][0][1], "pruned", "{answer}");
    let listed = by_name(&machines(&store));
    let machine = &listed["pruned-late"];
    assert_eq!(machine["chain_status"], "verified", "{machine}");
    assert_eq!(machine["pruned"].as_array().unwrap().len(), 1, "{machine}");
    drop(server);
}

/// A real shipper: syslog-ng tails the segments `export --rotate` writes and posts their lines
/// to `/v1/ingest` with its http() destination (the configuration docs/shipping.md gives).
#[test]
fn syslog_ng_delivers_rotated_segments() {
    let syslog_ng = std::path::Path::new("/usr/sbin/syslog-ng");
    // The http() destination is a module of its own package, under the version's directory.
    let http_module = std::fs::read_dir("/usr/lib/syslog-ng")
        .map(|dirs| {
            dirs.filter_map(Result::ok)
                .any(|d| d.path().join("libhttp.so").exists())
        })
        .unwrap_or(false);
    if !syslog_ng.exists() || !http_module {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs syslog-ng and syslog-ng-mod-http (.ci/run)"
        );
        eprintln!(
            "notice: skipping the syslog-ng test (apt-get install syslog-ng syslog-ng-mod-http)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let server = Server::start(&store, dir.path(), free_port());
    let m = Machine::new("syslogged", enroll(&store, "syslogged"));
    let outbox = dir.path().join("outbox");
    let rotate = |m: &Machine| {
        let out = m
            .command()
            .args(["export", "--rotate"])
            .arg(&outbox)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "export --rotate: {}",
            text(&out.stderr)
        );
    };
    m.work(6);
    rotate(&m);
    let config = dir.path().join("syslog-ng.conf");
    std::fs::write(
        &config,
        format!(
            r#"@version: 3.38
options {{ log-fifo-size(100000); }};
source s_hookledger {{
  wildcard-file(base-dir("{outbox}") filename-pattern("*.ndjson") recursive(no)
                flags(no-parse) follow-freq(0.2) log-msg-size(8388608) max-files(1000));
}};
destination d_fleet {{
  http(url("{url}") method("POST")
       headers("Authorization: Bearer {token}", "Content-Type: application/x-ndjson")
       body("${{MESSAGE}}") delimiter("\n") batch-lines(500) batch-timeout(300));
}};
log {{ source(s_hookledger); destination(d_fleet); }};
"#,
            outbox = outbox.display(),
            url = server.url(),
            token = m.token
        ),
    )
    .unwrap();
    let state = dir.path().join("syslog-ng-state");
    std::fs::create_dir_all(&state).unwrap();
    let mut shipper = std::process::Command::new(syslog_ng)
        .args(["-F", "--no-caps", "-f"])
        .arg(&config)
        .arg("-R")
        .arg(state.join("persist"))
        .arg("-c")
        .arg(state.join("ctl"))
        .arg("-p")
        .arg(state.join("pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(state.join("log")).unwrap())
        .spawn()
        .unwrap();
    let wait_for = |records: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let view = by_name(&machines(&store))["syslogged"].clone();
            if view["records"].as_u64() == Some(records) {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "syslog-ng delivered {} of {records}: {view:#} {}",
                view["records"],
                std::fs::read_to_string(state.join("log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let first = wait_for(m.head());
    assert_eq!(first["chain_status"], "verified", "{first:#}");
    // The next segment, in a new file, is picked up too.
    m.work(4);
    rotate(&m);
    let second = wait_for(m.head());
    let _ = shipper.kill();
    let _ = shipper.wait();
    assert_eq!(second["chain_status"], "verified", "{second:#}");
    assert!(codes(&second).is_empty(), "{second:#}");
}

/// Odd batches: two ledgers in one, an empty body, bytes that are not text, a truncated last
/// line; each gets its answer, and nothing from a refused batch is stored.
#[test]
fn odd_batches_get_their_answers_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let server = Server::start(&store, dir.path(), free_port());
    let a = Machine::new("a", enroll(&store, "a"));
    let b = Machine::new("b", enroll(&store, "b"));
    a.work(3);
    b.work(3);
    let (a_lines, b_lines) = (a.export(), b.export());

    let mixed = [a_lines.clone(), b_lines.clone()].concat();
    let (status, body) = server.post(Some(&a.token), &mixed);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.starts_with("other-ledger:") && body.contains("2 ledgers"),
        "{body}"
    );

    let (status, body) = server.post(Some(&a.token), b"");
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.post(Some(&a.token), b"\n\n   \n");
    assert_eq!(status, 200, "{body}");

    let (status, body) = server.post(Some(&a.token), b"\xff\xfe\x00garbage\n");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body.trim().lines().count(), 1, "{body}");

    let truncated = &a_lines[..a_lines.len() - 10];
    let (status, body) = server.post(Some(&a.token), truncated);
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("malformed-batch:"), "{body}");

    let view = by_name(&machines(&store))["a"].clone();
    assert_eq!(
        view["records"], 0,
        "nothing stored from refused batches: {view:#}"
    );
    let (status, body) = server.post(Some(&a.token), &a_lines);
    assert_eq!(status, 200, "{body}");
    let view = by_name(&machines(&store))["a"].clone();
    assert_eq!(view["records"].as_u64().unwrap(), a.head(), "{view:#}");
    assert_eq!(
        codes(&view),
        ["malformed-batch", "other-ledger"],
        "{view:#}"
    );
    // b's ledger was never pinned to a: b can still ship its own.
    let (status, body) = server.post(Some(&b.token), &b_lines);
    assert_eq!(status, 200, "{body}");
}
