//! `hookledger ship` against a collector on loopback: the cursor moves only after a 2xx, a
//! failed batch is resent, and what arrives verifies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::util::*;

struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Answers requests with `statuses` in turn (then 200), recording each one.
fn collector(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = statuses.next().unwrap_or(200);
            let reply = format!("{{\"text\":\"answer {status}\"}}\n");
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            log.lock().unwrap().push(Received {
                path: request_line.split(' ').nth(1).unwrap_or("").to_owned(),
                headers,
                body,
            });
        }
    });
    (base, seen)
}

fn notify(home: &Home, n: usize) {
    for i in 0..n {
        assert_no_opinion(&home.hook(&payload(
            "Notification",
            json!({"message": format!("s{i}")}),
        )));
    }
}

fn ship(home: &Home, url: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["ship", "--url", url, "--json", "--batch-records", "5"];
    args.extend_from_slice(extra);
    let out = home.run(&args);
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        text(&out.stderr),
    )
}

#[test]
fn the_cursor_moves_only_after_a_2xx_and_a_failed_batch_is_resent() {
    let home = Home::new();
    notify(&home, 8);
    // Genesis, eight notifications and the checkpoint: 10 records, two batches of five. The
    // second batch is refused once.
    let (base, seen) = collector(vec![200, 503]);
    let url = format!("{base}/ingest");
    let (code, first, err) = ship(&home, &url, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(first["delivered_through"], 5, "{first:#}");
    assert!(
        err.contains("503") && err.contains("stays at seq 5"),
        "{err}"
    );
    notify(&home, 2);
    let (code, second, err) = ship(&home, &url, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(second["delivered_through"], second["head"], "{second:#}");
    let requests = seen.lock().unwrap();
    // 200, 503, then the resent batch and the rest.
    assert!(requests.len() >= 4, "{}", requests.len());
    let delivered: Vec<u8> = requests
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .flat_map(|(_, r)| r.body.clone())
        .collect();
    assert!(requests.iter().all(|r| r.path == "/ingest"));
    assert!(requests.iter().all(|r| {
        r.headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/x-ndjson")
    }));
    let file = home.path().join("delivered.ndjson");
    std::fs::write(&file, delivered).unwrap();
    let out = home.run(&["verify-export", "--json", file.to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["ledgers"][0]["first_seq"], 1);
    assert_eq!(report["ledgers"][0]["last_seq"], second["head"]);
}

#[test]
fn splunk_hec_gets_envelopes_and_the_token() {
    let home = Home::new();
    notify(&home, 3);
    let (base, seen) = collector(vec![]);
    let url = format!("{base}/services/collector/event");
    std::fs::create_dir_all(home.path().join("tmp")).unwrap();
    let out = home
        .command()
        .args([
            "ship",
            "--url",
            &url,
            "--format",
            "ecs",
            "--splunk-token-env",
            "HEC_TOKEN",
        ])
        .env("HEC_TOKEN", "secret-token")
        .env("TMPDIR", home.path().join("tmp"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The token went through a private file that is gone afterwards.
    assert_eq!(
        std::fs::read_dir(home.path().join("tmp")).unwrap().count(),
        0,
        "no request config left behind"
    );
    let requests = seen.lock().unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request
            .headers
            .iter()
            .any(|(n, v)| n == "authorization" && v == "Splunk secret-token")
    );
    let events: Vec<Value> = String::from_utf8_lossy(&request.body)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 5, "genesis, three notifications, checkpoint");
    for event in &events {
        assert_eq!(event["sourcetype"], "hookledger:ecs");
        assert_eq!(event["source"], "hookledger");
        assert!(event["time"].as_f64().unwrap() > 1.7e9);
        assert_eq!(event["event"]["event"]["module"], "hookledger");
    }
    // What Splunk indexed (the `event` objects) verifies on its own.
    let file = home.path().join("indexed.ndjson");
    std::fs::write(
        &file,
        events
            .iter()
            .map(|e| format!("{}\n", e["event"]))
            .collect::<String>(),
    )
    .unwrap();
    assert_eq!(
        home.run(&["verify-export", file.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn unsafe_or_unusable_targets_are_refused_before_anything_is_sent() {
    let home = Home::new();
    notify(&home, 1);
    let (code, _, err) = ship(&home, "http://collector.example.com/ingest", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("plain http"), "{err}");
    let (code, _, err) = ship(
        &home,
        "https://collector.example.com/ingest",
        &["--bearer-token-env", "NO_SUCH_VAR_HL"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("NO_SUCH_VAR_HL"), "{err}");
    // Nothing listens on this port: the transport error is one line and the cursor stays.
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (code, report, err) = ship(&home, &format!("http://{dead}/x"), &["--timeout", "5s"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(report["delivered_through"], 0);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
