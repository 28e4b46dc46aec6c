//! Ingest throughput of the real server: records/s through `POST /v1/ingest` with
//! verification into PostgreSQL, beside `COPY` of the same rows into the same PostgreSQL table
//! in the same run (the floor any ingest pays), and into SQLite; then the server's peak memory
//! under 100 concurrent senders. Run with `cargo bench -p hookledger-server`;
//! HOOKLEDGER_BENCH_RECORDS sets the records per ledger (4 ledgers, default 25,000).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[allow(dead_code)]
#[path = "../tests/server/support.rs"]
mod support;

use std::io::Write;
use std::time::Instant;

use hookledger_ledger::export::{Format, WriteOptions, write_records};
use hookledger_ledger::frame::to_hex;
use hookledger_ledger::{Ledger, NewRecord, OpenOptions, canonical_json};
use serde_json::json;

use support::*;

const LEDGERS: usize = 4;
const BATCH: usize = 2000;

/// A ledger of `n` tool-call-like records, exported as native lines in batches of [`BATCH`].
fn ledger(
    dir: &std::path::Path,
    name: &str,
    n: usize,
) -> (Vec<Vec<u8>>, Vec<hookledger_ledger::StoredRecord>, String) {
    let mut ledger = Ledger::open(&dir.join(name), &OpenOptions::default()).unwrap();
    let records: Vec<NewRecord> = (0..n)
        .map(|i| NewRecord {
            ts_ns: hookledger_ledger::now_ns(),
            kind: "tool-call".into(),
            payload: canonical_json(&json!({
                "event": "PostToolUse", "tool": "Bash", "session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d",
                "cwd": "/home/dev/src/project", "input": {"command": format!("cargo test --workspace -- case_{i}")},
                "decision": "allow", "rule": "no-match", "duration_ms": i % 97,
            })),
        })
        .collect();
    for chunk in records.chunks(1000) {
        ledger.append(chunk).unwrap();
    }
    let (head, _) = ledger.head().unwrap();
    let mut text = Vec::new();
    let options = WriteOptions {
        format: Format::Native,
        payload_b64: false,
    };
    write_records(&ledger, 1, head, options, &mut text).unwrap();
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let batches = lines
        .chunks(BATCH)
        .map(|c| {
            c.iter()
                .flat_map(|l| l.iter().copied().chain([b'\n']))
                .collect()
        })
        .collect();
    let stored = (1..=head)
        .map(|s| ledger.record(s).unwrap().unwrap())
        .collect();
    (batches, stored, to_hex(ledger.ledger_id()))
}

/// Ships every ledger's batches concurrently (one sender per ledger); returns seconds.
fn ingest(server: &Server, tokens: &[String], ledgers: &[Vec<Vec<u8>>]) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (token, batches) in tokens.iter().zip(ledgers) {
            scope.spawn(move || {
                for batch in batches {
                    let (status, body) = server.post(Some(token), batch);
                    assert_eq!(status, 200, "{body}");
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let per: usize = std::env::var("HOOKLEDGER_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25_000);
    let Some(pg) = Postgres::start() else {
        eprintln!("no PostgreSQL: nothing to compare with");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<_> = (0..LEDGERS)
        .map(|i| ledger(dir.path(), &format!("l{i}.db"), per))
        .collect();
    let batches: Vec<Vec<Vec<u8>>> = made.iter().map(|(b, _, _)| b.clone()).collect();
    let total: usize = made.iter().map(|(_, s, _)| s.len()).sum();
    let mut rows = Vec::new();

    // PostgreSQL through the server.
    let server = Server::start(&pg.url, dir.path(), free_port());
    let tokens: Vec<String> = (0..LEDGERS)
        .map(|i| enroll(&pg.url, &format!("pg-{i}")))
        .collect();
    let pg_secs = ingest(&server, &tokens, &batches);
    rows.push(("server ingest + verify -> PostgreSQL", pg_secs));
    let peak_pg = peak_rss_kib(server.child.id());
    drop(server);

    // COPY of the same rows into the same table (another ledger id, so nothing collides).
    let csv_dir = tempfile::Builder::new()
        .prefix("hl-bench-")
        .tempdir_in("/tmp")
        .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(csv_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let csv_path = csv_dir.path().join("rows.csv");
    // Received now: this month's partition, which the server made.
    let received = jiff::Timestamp::now().to_string();
    {
        let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
        for (_, stored, id) in &made {
            for r in stored {
                let payload = String::from_utf8_lossy(&r.payload).replace('"', "\"\"");
                writeln!(
                    csv,
                    "copy-{id},{},{},{},\"{payload}\",\\x{},\\x{},{received}",
                    r.seq,
                    r.ts_ns,
                    r.kind,
                    to_hex(&r.prev_hash),
                    to_hex(&r.hash)
                )
                .unwrap();
            }
        }
    }
    let started = Instant::now();
    pg.psql(&format!(
        "\\copy records (ledger_id, seq, ts_ns, kind, payload, prev_hash, hash, received_at) FROM '{}' WITH (FORMAT csv)",
        csv_path.display()
    ));
    rows.push((
        "COPY of the same rows -> PostgreSQL",
        started.elapsed().as_secs_f64(),
    ));

    // SQLite through the server.
    let sqlite = format!("sqlite:{}", dir.path().join("server.db").display());
    let server = Server::start(&sqlite, dir.path(), free_port());
    let tokens: Vec<String> = (0..LEDGERS)
        .map(|i| enroll(&sqlite, &format!("lite-{i}")))
        .collect();
    let lite_secs = ingest(&server, &tokens, &batches);
    rows.push(("server ingest + verify -> SQLite", lite_secs));
    drop(server);

    println!(
        "\n{total} records ({LEDGERS} ledgers x {per}, batches of {BATCH}, one sender per ledger)\n"
    );
    println!("| path | seconds | records/s |");
    println!("|---|---:|---:|");
    for (name, secs) in &rows {
        println!("| {name} | {secs:.2} | {:.0} |", total as f64 / secs);
    }
    let copy = rows[1].1;
    println!(
        "\ningest into PostgreSQL runs at {:.0}% of COPY's rate",
        100.0 * copy / pg_secs
    );
    println!(
        "server peak RSS during the PostgreSQL ingest: {} MiB",
        peak_pg / 1024
    );

    // 100 concurrent senders, one batch of 2,000 records each.
    let senders = 100;
    let small: Vec<Vec<Vec<u8>>> = (0..senders)
        .map(|i| ledger(dir.path(), &format!("s{i}.db"), 1999).0)
        .collect();
    let server = Server::start(&pg.url, dir.path(), free_port());
    let tokens: Vec<String> = (0..senders)
        .map(|i| enroll(&pg.url, &format!("many-{i}")))
        .collect();
    let before = peak_rss_kib(server.child.id());
    let secs = ingest(&server, &tokens, &small);
    let peak = peak_rss_kib(server.child.id());
    println!(
        "{senders} concurrent senders x 2,000 records into PostgreSQL: {secs:.2} s, {:.0} records/s; server peak RSS {} MiB (idle {} MiB)",
        (senders * 2000) as f64 / secs,
        peak / 1024,
        before / 1024
    );
}
