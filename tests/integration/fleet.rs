//! A real Claude Code session shipped into the real fleet server: `hookledger-server` (its own
//! binary, built by the same workspace build) on loopback with a SQLite store, the session's
//! ledger delivered by `hookledger ship`, and a webhook receiver on loopback for its alerts.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::claude_cli::{
    CURRENT_VERSION, ClaudeOpts, ensure_claude_version, run_claude, temp_git_repo,
    with_default_permissions,
};
use crate::support::fake_api::{FakeApi, Script, Turn};
use crate::util::*;

const MODEL: &str = "claude-test-opus-9-20261101";

/// The server binary: the workspace build puts it beside `hookledger` (this package cannot name
/// another package's binary with `CARGO_BIN_EXE_`).
fn server_bin() -> PathBuf {
    let path = std::path::Path::new(BIN).with_file_name("hookledger-server");
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p hookledger-server; cargo test --workspace does)",
        path.display()
    );
    path
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(args: &[&str]) -> std::process::Output {
    Command::new(server_bin()).args(args).output().unwrap()
}

/// A webhook receiver on loopback answering 200; the bodies it got.
fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/fleet", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
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
            let _ = reader.read_exact(&mut body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            log.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
    });
    (url, seen)
}

/// Claude Code 2.1.332 runs a session on a machine with a policy (one read refused); the
/// machine ships its ledger to the fleet server with `hookledger ship`; the server verifies the
/// machine, stores every record, and the refusal reaches the security team's webhook.
#[test]
fn real_claude_code_session_is_shipped_verified_and_its_refusal_alerted_2_1_332() {
    let Some(claude) = ensure_claude_version(CURRENT_VERSION) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("fleet.db").display());
    let (hook_url, alerts) = webhook();
    let config = dir.path().join("alerts.json");
    std::fs::write(
        &config,
        json!({"webhooks": [{"url": hook_url, "refusals": ["path-deny-read"], "chain": true}]})
            .to_string(),
    )
    .unwrap();
    let enrolled = server(&["enroll", "--store", &store, "laptop-ada"]);
    assert!(enrolled.status.success(), "{}", text(&enrolled.stderr));
    let token = text(&enrolled.stdout).lines().last().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Server(
        Command::new(server_bin())
            .args(["serve", "--listen", &listen, "--store", &store])
            .args(["--alerts", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The developer's machine: hookledger's hooks, a policy that keeps .env files from the
    // agent, and a real Claude Code session that tries to read one.
    let home = Home::new();
    std::fs::create_dir_all(home.home()).unwrap();
    std::fs::write(
        home.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env"]}}"#,
    )
    .unwrap();
    let project = temp_git_repo("# Demo\n\nThe readme.\n");
    std::fs::write(project.path().join(".env"), "TOKEN=do-not-read\n").unwrap();
    let api = FakeApi::start(
        Script::new(MODEL)
            .turn(Turn::tool(
                "Read",
                json!({"file_path": project.path().join(".env")}),
            ))
            .turn(Turn::tool(
                "Bash",
                json!({"command": "git status --short", "description": "Status"}),
            ))
            .turn(Turn::text("Done.")),
    );
    let out = home.run(&[
        "install",
        "--dry-run",
        "--settings",
        "/nonexistent/settings.json",
        "--binary",
        BIN,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), "check the project");
    opts.settings = with_default_permissions(serde_json::from_slice(&out.stdout).unwrap());
    opts.extra_env
        .push(("HOOKLEDGER_HOME".into(), home.home().display().to_string()));
    let run = run_claude(&opts);
    assert!(run.success(), "{}\n{}", run.describe(), api.dump());
    let refused = home
        .records_of("tool-call")
        .into_iter()
        .find(|p| p["decision"]["action"] == "deny")
        .expect("the .env read was refused");
    assert_eq!(refused["decision"]["rule"], "path-deny-read");
    let session_records = home.records().len();
    assert!(
        session_records >= 6,
        "a whole session: {session_records} records"
    );

    // Shipped with the existing command, to the server's ingest endpoint.
    let ship = home
        .command()
        .args(["ship", "--url", &format!("http://{listen}/v1/ingest")])
        .args(["--bearer-token-env", "FLEET_TOKEN", "--json"])
        .env("FLEET_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        ship.status.success(),
        "{}{}",
        text(&ship.stdout),
        text(&ship.stderr)
    );

    // The machine is verified and every record is stored (ship signs a checkpoint of what it
    // sends first, so the head is read after it).
    let head = home.records().last().map_or(0, |(seq, _, _)| *seq as u64);
    assert!(head > session_records as u64, "{head}");
    let listed = server(&["machines", "--store", &store, "--json"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let machine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "laptop-ada")
        .unwrap()
        .clone();
    assert_eq!(machine["chain_status"], "verified", "{machine:#}");
    assert_eq!(machine["records"].as_u64(), Some(head), "{machine:#}");
    assert_eq!(machine["next_seq"].as_u64(), Some(head + 1));
    assert!(machine["checkpoints_verified"].as_u64().unwrap() >= 1);
    let conn = rusqlite::Connection::open(dir.path().join("fleet.db")).unwrap();
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored as u64, head);
    let (session,): (String,) = conn
        .query_row(
            "SELECT payload FROM records WHERE kind = 'session-start'",
            [],
            |r| Ok((r.get(0)?,)),
        )
        .unwrap();
    assert!(session.contains("sandbox"), "{session}");

    // The refusal reached the webhook, as a Slack-compatible body naming the machine and rule.
    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        let got = alerts.lock().unwrap().clone();
        if let Some(a) = got.iter().find(|a| a["code"] == "policy-refusal") {
            break a.clone();
        }
        assert!(Instant::now() < deadline, "no refusal alert: {got:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(alert["machine"], "laptop-ada");
    assert_eq!(alert["rule"], "path-deny-read");
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.contains("[policy-refusal]")
            && text.contains("path-deny-read")
            && text.contains("Read"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let got = alerts.lock().unwrap().clone();
    assert!(
        got.iter().all(|a| a["code"] == "policy-refusal"),
        "a clean chain raises no chain alert: {got:?}"
    );
    assert_eq!(got.len(), 1, "one refusal, one alert: {got:?}");
}
