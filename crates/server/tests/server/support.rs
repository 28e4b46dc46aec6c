//! What the fleet tests run: the real `hookledger-server` binary on a loopback port, a real
//! PostgreSQL cluster made with `initdb`/`pg_ctl` in a temporary directory, and machines whose
//! ledgers the real `hookledger` binary writes and ships.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const SERVER: &str = env!("CARGO_BIN_EXE_hookledger-server");

/// The hook binary, built beside the server by the same workspace build.
pub fn hookledger() -> PathBuf {
    let path = Path::new(SERVER).with_file_name("hookledger");
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p hookledger; cargo test --workspace does)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A real PostgreSQL cluster, stopped when dropped.
pub struct Postgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pub url: String,
    as_postgres: bool,
    options: String,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

impl Postgres {
    /// Starts one, or returns `None` (with a message) when PostgreSQL is not installed and CI
    /// is unset; with CI set a missing PostgreSQL fails the test.
    pub fn start() -> Option<Postgres> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL 15 is not installed ({PG_BIN}/initdb); .ci/run installs it");
            }
            eprintln!(
                "skipping the PostgreSQL half: {PG_BIN}/initdb is absent (apt-get install postgresql)"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("hookledger-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        let data = dir.path().join("data");
        // initdb refuses root: run the cluster as the `postgres` user the package creates, in
        // a directory it owns.
        let as_postgres = is_root();
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "chown: {}", text(&out.stderr));
        }
        let port = free_port();
        let socket_dir = data.parent().unwrap().to_owned();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            socket_dir.display()
        );
        let pg = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            data: data.clone(),
            _dir: dir,
            as_postgres,
            options: options.clone(),
        };
        let out = pg
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", text(&out.stderr));
        let out = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(socket_dir.join("log"))
            .arg("-o")
            .arg(&options)
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Some(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let program = Path::new(PG_BIN).join(tool);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// Stops the cluster (fast shutdown: connections are cut).
    pub fn stop(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl stop: {}", text(&out.stderr));
    }

    /// Starts it again with the options it was started with.
    pub fn restart(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.parent().unwrap().join("log"))
            .arg("-o")
            .arg(self.options.clone())
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {}", text(&out.stderr));
    }

    /// Runs SQL with psql, returning its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = self
            .command("psql")
            .args(["-X", "-A", "-t", "-d", &self.url, "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// The real server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    pub fn start(store: &str, dir: &Path, port: u16) -> Server {
        Server::start_with(store, dir, port, &[])
    }

    pub fn start_with(store: &str, dir: &Path, port: u16, extra: &[&str]) -> Server {
        let log = dir.join(format!(
            "server-{port}-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let child = Command::new(SERVER)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--store",
                store,
            ])
            .args(["--max-silence", "1h", "--silence-check", "1s"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _) = server.get("/healthz");
            if status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/ingest", self.port)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        curl(&[&format!("http://127.0.0.1:{}{path}", self.port)], None)
    }

    /// POSTs `body` to the ingest endpoint with `token`.
    pub fn post(&self, token: Option<&str>, body: &[u8]) -> (u16, String) {
        let auth;
        let mut args = vec![
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-ndjson",
            "--data-binary",
            "@-",
        ];
        if let Some(token) = token {
            auth = format!("Authorization: Bearer {token}");
            args.extend(["-H", &auth]);
        }
        let url = self.url();
        args.push(&url);
        curl(&args, Some(body))
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs curl; returns the status and the body.
pub fn curl(args: &[&str], stdin: Option<&[u8]>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}"]).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("curl");
    if let Some(body) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let body = body.to_vec();
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut pipe, &body);
        });
    }
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

pub fn server_cmd(args: &[&str]) -> Output {
    Command::new(SERVER).args(args).output().unwrap()
}

/// Enrolls `name`; returns the token (the last line of stdout).
pub fn enroll(store: &str, name: &str) -> String {
    let out = server_cmd(&["enroll", "--store", store, name]);
    assert!(out.status.success(), "enroll: {}", text(&out.stderr));
    text(&out.stdout).lines().last().unwrap().trim().to_owned()
}

pub fn machines(store: &str) -> Vec<Value> {
    let out = server_cmd(&[
        "machines",
        "--store",
        store,
        "--json",
        "--max-silence",
        "1h",
    ]);
    assert!(out.status.success(), "machines: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A developer machine: a `HOOKLEDGER_HOME` the real hook binary writes.
pub struct Machine {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub token: String,
}

impl Machine {
    pub fn new(name: &str, token: String) -> Machine {
        Machine {
            dir: tempfile::tempdir().unwrap(),
            name: name.into(),
            token,
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("hl")
    }

    pub fn ledger(&self) -> PathBuf {
        self.home().join("ledger.db")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(hookledger());
        cmd.env("HOOKLEDGER_HOME", self.home())
            .env("HOOKLEDGER_ANALYSIS_BUDGET", "unlimited")
            .env_remove("HOOKLEDGER_LEDGER")
            .env("FLEET_TOKEN", &self.token);
        cmd
    }

    /// Runs `n` hook events (Notification and PostToolUse) through the real hook.
    pub fn work(&self, n: usize) {
        for i in 0..n {
            let payload = if i % 2 == 0 {
                json!({"session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d",
                       "transcript_path": "/nonexistent/t.jsonl", "cwd": "/tmp",
                       "hook_event_name": "Notification",
                       "message": format!("{} event {i}", self.name)})
            } else {
                json!({"session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d",
                       "transcript_path": "/nonexistent/t.jsonl", "cwd": "/tmp",
                       "hook_event_name": "PostToolUse", "tool_name": "Bash",
                       "tool_use_id": format!("toolu_{i}"),
                       "tool_input": {"command": format!("echo {i}")},
                       "tool_response": {"stdout": format!("{i}\n"), "stderr": ""}})
            };
            let event = payload["hook_event_name"].as_str().unwrap().to_owned();
            let mut cmd = self.command();
            cmd.args(["hook", "--event", &event])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            std::io::Write::write_all(
                &mut child.stdin.take().unwrap(),
                payload.to_string().as_bytes(),
            )
            .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "hook: {}", text(&out.stderr));
        }
    }

    /// One hook event through the real hook, with `HOME` and the project directory under the
    /// machine's own directory (so its Claude settings and policy are the test's); returns
    /// the hook's exit code.
    pub fn hook(&self, event: &str, payload: &Value) -> i32 {
        let home = self.dir.path().join("home");
        let project = self.project();
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        let mut child = self
            .command()
            .args(["hook", "--event", event])
            .env("HOME", &home)
            .env("CLAUDE_PROJECT_DIR", &project)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            payload.to_string().as_bytes(),
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        out.status.code().unwrap_or(-1)
    }

    /// The project directory [`Machine::hook`] runs in.
    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// `hookledger ship` to the server with this machine's token; returns (exit code, JSON).
    pub fn ship(&self, url: &str, extra: &[&str]) -> (i32, Value) {
        let out = self
            .command()
            .args([
                "ship",
                "--url",
                url,
                "--bearer-token-env",
                "FLEET_TOKEN",
                "--json",
            ])
            .args(extra)
            .output()
            .unwrap();
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "ship printed {:?} / {:?}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), value)
    }

    /// `hookledger ship` under a clock moved by `offset` (libfaketime), or `None` when faketime
    /// is missing and CI is unset (.ci/run installs it).
    pub fn ship_at(&self, offset: &str, url: &str) -> Option<(i32, Value)> {
        let ready = Command::new("faketime")
            .args(["-f", "+0d", "true"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ready {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI installs faketime (.ci/run)"
            );
            eprintln!("notice: skipping the silent machine (apt-get install faketime)");
            return None;
        }
        let cmd = self.command();
        let program = cmd.get_program().to_owned();
        let mut faked = Command::new("faketime");
        faked.args(["-f", offset]).arg(program);
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => faked.env(key, v),
                None => faked.env_remove(key),
            };
        }
        let out = faked
            .args([
                "ship",
                "--url",
                url,
                "--bearer-token-env",
                "FLEET_TOKEN",
                "--json",
            ])
            .output()
            .unwrap();
        let value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("ship printed {:?}", text(&out.stderr)));
        Some((out.status.code().unwrap_or(-1), value))
    }

    /// `hookledger export` of the whole ledger as native lines.
    pub fn export(&self) -> Vec<u8> {
        let out = self
            .command()
            .args(["export", "--format", "native", "--since-seq", "0"])
            .output()
            .unwrap();
        assert!(out.status.success(), "export: {}", text(&out.stderr));
        out.stdout
    }

    pub fn head(&self) -> u64 {
        let conn = rusqlite::Connection::open(self.ledger()).unwrap();
        conn.query_row("SELECT max(seq) FROM records", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    }

    /// SQL on the ledger file, as a user with the sqlite3 CLI would tamper with it.
    pub fn tamper(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.ledger()).unwrap();
        conn.execute_batch(sql).unwrap();
    }
}
