//! Drives the real Claude Code CLI (pinned) in headless `-p` mode for end-to-end tests.
//!
//! * [`ensure_claude_version`] finds (or npm-installs) `@anthropic-ai/claude-code@VERSION` under
//!   `<crate>/.e2e-cache/` and returns the native executable; [`ensure_claude`] does so for the
//!   current release. When it cannot: panics if `CI` is set, otherwise prints a notice and
//!   returns `None` (the caller skips the test).
//! * [`run_claude`] runs `claude -p PROMPT --settings FILE --output-format json` with a clean
//!   environment (temp `HOME`, `ANTHROPIC_BASE_URL` = the fake API, no telemetry), a timeout
//!   (the CLI and every descendant are killed on expiry), and collects the transcripts.
//! * [`init_git_repo`] makes a deterministic one-commit git repo.
//!
//! ```ignore
//! let Some(claude) = ensure_claude() else { return };          // skipped locally without npm
//! let project = tempfile::tempdir().unwrap();
//! init_git_repo(project.path(), &[("README.md", "# Demo\n\nHello.\n")]);
//! let api = FakeApi::start(script);
//! let mut opts = ClaudeOpts::new(&claude, project.path(), api.port(), "please update the readme");
//! opts.settings = serde_json::json!({"hooks": {...}});
//! let run = run_claude(&opts);
//! assert!(run.success(), "{}\n{}", run.describe(), api.dump());
//! ```

#![allow(dead_code)]

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The Claude Code versions the end-to-end tests run on: the previous release stays in the
/// matrix so a fleet that has not upgraded keeps its coverage.
pub const CLAUDE_CODE_VERSIONS: &[&str] = &[PREVIOUS_VERSION, CURRENT_VERSION];
/// The current release: the new hook surface (PreSkillShellCommand, model-switch events,
/// `onFailure`) and the OS sandbox are tested on it.
pub const CURRENT_VERSION: &str = "2.1.332";
pub const PREVIOUS_VERSION: &str = "2.1.328";
/// npm package name.
pub const CLAUDE_CODE_PACKAGE: &str = "@anthropic-ai/claude-code";
/// Upper bound for the npm install.
const NPM_TIMEOUT: Duration = Duration::from_secs(600);

/// `<crate>/.e2e-cache`
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".e2e-cache")
}

/// Install prefix of one pinned CLI: `<crate>/.e2e-cache/claude-code-<version>`.
pub fn install_dir(version: &str) -> PathBuf {
    cache_dir().join(format!("claude-code-{version}"))
}

/// The current release's native executable (see [`ensure_claude_version`]).
pub fn ensure_claude() -> Option<PathBuf> {
    ensure_claude_version(CURRENT_VERSION)
}

/// Returns the native executable of Claude Code `version`, installing it with npm if needed.
///
/// On failure: panics when the `CI` environment variable is set (the e2e tests must run in CI);
/// otherwise prints a notice to stderr and returns `None`.
pub fn ensure_claude_version(version: &str) -> Option<PathBuf> {
    static RESULTS: Mutex<Vec<(String, Result<PathBuf, String>)>> = Mutex::new(Vec::new());
    // One lock for lookups and installs: two tests asking for the same version install it once.
    let mut results = RESULTS.lock().unwrap_or_else(|e| e.into_inner());
    let res = match results.iter().find(|(v, _)| v == version) {
        Some((_, res)) => res.clone(),
        None => {
            let res = find_installed(&install_dir(version), version)
                .map(Ok)
                .unwrap_or_else(|| {
                    npm_install(version).and_then(|()| {
                        find_installed(&install_dir(version), version).ok_or_else(|| {
                            format!(
                                "npm installed {CLAUDE_CODE_PACKAGE}@{version} into {} but no working native `claude` executable was found there",
                                install_dir(version).display()
                            )
                        })
                    })
                });
            results.push((version.to_owned(), res.clone()));
            res
        }
    };
    drop(results);
    match res {
        Ok(p) => Some(p),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "e2e: cannot provide Claude Code {version} and CI is set, so the end-to-end test must not be skipped: {e}"
                );
            }
            eprintln!(
                "e2e: NOTICE: skipping a Claude Code {version} end-to-end test: {e}\n\
                 e2e: (install it with `npm install --prefix {} {CLAUDE_CODE_PACKAGE}@{version}`)",
                install_dir(version).display()
            );
            None
        }
    }
}

/// Candidate executables inside an install prefix, best first: the platform package's binary
/// (`node_modules/@anthropic-ai/claude-code-<platform>/claude`), then the wrapper's
/// `bin/claude.exe` (the postinstall script hard-links the native binary over it).
fn candidates(prefix: &Path) -> Vec<PathBuf> {
    let scope = prefix.join("node_modules").join("@anthropic-ai");
    let mut out = Vec::new();
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => vec!["linux-x64", "linux-x64-musl"],
        ("linux", "aarch64") => vec!["linux-arm64", "linux-arm64-musl"],
        ("macos", "x86_64") => vec!["darwin-x64"],
        ("macos", "aarch64") => vec!["darwin-arm64"],
        _ => vec![],
    };
    for p in platform {
        out.push(scope.join(format!("claude-code-{p}")).join("claude"));
    }
    // Any other platform package npm chose.
    if let Ok(rd) = std::fs::read_dir(&scope) {
        let mut extra: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("claude"))
            .filter(|p| !out.contains(p))
            .collect();
        extra.sort();
        out.extend(extra);
    }
    out.push(scope.join("claude-code").join("bin").join("claude.exe"));
    out
}

/// First candidate that exists and reports `version`.
fn find_installed(prefix: &Path, version: &str) -> Option<PathBuf> {
    candidates(prefix).into_iter().filter(|p| p.is_file()).find(|p| {
        let out = run_bounded(
            Command::new(p).arg("--version").env("HOME", std::env::temp_dir()).env("DISABLE_TELEMETRY", "1"),
            Duration::from_secs(30),
        );
        matches!(out, Ok((Some(st), ref so, _)) if st.success() && so.trim_start().starts_with(version))
    })
}

fn npm_install(version: &str) -> Result<(), String> {
    let target = install_dir(version);
    std::fs::create_dir_all(cache_dir())
        .map_err(|e| format!("cannot create {}: {e}", cache_dir().display()))?;
    // Install into a private staging dir, then rename: concurrent test processes never see a
    // half-installed tree.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let staging = cache_dir().join(format!("staging-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let spec = format!("{CLAUDE_CODE_PACKAGE}@{version}");
    eprintln!(
        "e2e: installing {spec} with npm into {} ...",
        target.display()
    );
    let mut cmd = Command::new("npm");
    cmd.arg("install")
        .arg("--prefix")
        .arg(&staging)
        .arg(&spec)
        .args([
            "--include=optional",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            "--no-update-notifier",
        ])
        .current_dir(&staging);
    let res = run_bounded(&mut cmd, NPM_TIMEOUT);
    let cleanup = |p: &Path| {
        let _ = std::fs::remove_dir_all(p);
    };
    match res {
        Err(e) => {
            cleanup(&staging);
            return Err(format!("cannot run npm: {e}"));
        }
        Ok((None, _, _)) => {
            cleanup(&staging);
            return Err(format!(
                "`npm install {spec}` timed out after {NPM_TIMEOUT:?}"
            ));
        }
        Ok((Some(st), out, err)) if !st.success() => {
            cleanup(&staging);
            return Err(format!("`npm install {spec}` failed ({st}):\n{out}\n{err}"));
        }
        Ok(_) => {}
    }
    if find_installed(&staging, version).is_none() {
        cleanup(&staging);
        return Err(format!(
            "`npm install {spec}` succeeded but no native executable works (unsupported platform?)"
        ));
    }
    if std::fs::rename(&staging, &target).is_err() {
        // Someone else won the race (or a stale, broken tree is there).
        if find_installed(&target, version).is_some() {
            cleanup(&staging);
        } else {
            cleanup(&target);
            std::fs::rename(&staging, &target).map_err(|e| {
                format!(
                    "cannot move {} to {}: {e}",
                    staging.display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Runs a command with piped output and a deadline. `Ok((None, ..))` = timed out (killed).
fn run_bounded(
    cmd: &mut Command,
    timeout: Duration,
) -> std::io::Result<(Option<ExitStatus>, String, String)> {
    let mut child = spawn_in_group(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let out_reader = read_in_thread(child.stdout.take());
    let err_reader = read_in_thread(child.stderr.take());
    let status = wait_deadline(&mut child, timeout);
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    Ok((status, out, err))
}

fn spawn_in_group(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn()
}

fn read_in_thread<R: Read + Send + 'static>(r: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` until `timeout`; on expiry kills its whole process group and returns None.
fn wait_deadline(child: &mut std::process::Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => {}
            Err(_) => break,
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    kill_group(child);
    None
}

fn kill_group(child: &mut std::process::Child) {
    // The child leads its own process group (process_group(0)), but the CLI starts hooks in
    // sessions of their own, so also kill every descendant found through /proc (Linux).
    let mut pids = descendants(child.id());
    pids.push(child.id());
    for pid in &pids {
        for target in [format!("-{pid}"), pid.to_string()] {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &target])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Pids of all live descendants of `root` (empty where /proc is unavailable).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.remove(0);
    out
}

// ---------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------

/// Options for one headless run.
#[derive(Clone, Debug)]
pub struct ClaudeOpts {
    /// The executable from [`ensure_claude`].
    pub claude: PathBuf,
    /// cwd of the run (a git repo, see [`init_git_repo`]).
    pub project_dir: PathBuf,
    /// `$HOME` for the run; `None` = a fresh temp dir, kept alive in [`ClaudeRun::home_guard`].
    pub home: Option<PathBuf>,
    /// Port of the fake API (127.0.0.1).
    pub api_port: u16,
    pub prompt: String,
    /// Written to `$HOME/e2e-settings.json` and passed with `--settings`.
    pub settings: Value,
    /// `--permission-mode` (default `acceptEdits`; with the default settings' allow rules this
    /// lets Edit/Write/Bash run unattended, as root too).
    pub permission_mode: Option<String>,
    /// `--model` (None = CLI default; the fake answers with its own model id either way).
    pub model: Option<String>,
    /// Extra CLI arguments (appended after the standard ones).
    pub extra_args: Vec<String>,
    /// Extra environment variables (added after the standard ones, so they can override).
    pub extra_env: Vec<(String, String)>,
    /// Kill the run after this long (default 120 s).
    pub timeout: Duration,
}

impl ClaudeOpts {
    pub fn new(claude: &Path, project_dir: &Path, api_port: u16, prompt: &str) -> Self {
        ClaudeOpts {
            claude: claude.to_path_buf(),
            project_dir: project_dir.to_path_buf(),
            home: None,
            api_port,
            prompt: prompt.to_string(),
            settings: default_settings(),
            permission_mode: Some("acceptEdits".to_string()),
            model: None,
            extra_args: Vec::new(),
            extra_env: Vec::new(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// Permission allow rules that let the scenario's tools run unattended in `-p` mode.
pub fn default_settings() -> Value {
    serde_json::json!({
        "permissions": {"allow": ["Read", "Edit", "Write", "Bash", "Agent", "Glob", "Grep"]}
    })
}

/// Adds `permissions.allow` (from [`default_settings`]) to a settings object that has none.
pub fn with_default_permissions(mut settings: Value) -> Value {
    if let Some(obj) = settings.as_object_mut()
        && !obj.contains_key("permissions")
    {
        obj.insert(
            "permissions".into(),
            default_settings()["permissions"].clone(),
        );
    }
    settings
}

/// Builds a `hooks` settings object registering one exec-form command hook (`command` + `args`,
/// CLI 2.1.139+) for each of `events`, matcher `"*"`, with `timeout` seconds.
/// `args_for(event)` gives the args for each event.
pub fn hooks_settings(
    events: &[&str],
    command: &Path,
    args_for: impl Fn(&str) -> Vec<String>,
    timeout_secs: u64,
) -> Value {
    let mut hooks = serde_json::Map::new();
    for ev in events {
        hooks.insert(
            (*ev).to_string(),
            serde_json::json!([{
                "matcher": "*",
                "hooks": [{
                    "type": "command",
                    "command": command.to_string_lossy(),
                    "args": args_for(ev),
                    "timeout": timeout_secs,
                }]
            }]),
        );
    }
    with_default_permissions(serde_json::json!({ "hooks": Value::Object(hooks) }))
}

/// Every hook event hookledger registers (Claude Code 2.1.332; older versions ignore the names
/// they do not know).
pub const ALL_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "PreCompact",
    "SessionEnd",
    "PreSkillShellCommand",
    "PreModelSwitch",
    "PostModelSwitch",
    "ConfigChange",
    "UserPromptExpansion",
    "InstructionsLoaded",
    "StopFailure",
    "PostCompact",
    "CwdChanged",
    "DirectoryAdded",
    "Setup",
    "TaskCreated",
    "TaskCompleted",
    "Elicitation",
    "ElicitationResult",
];

/// Result of one run.
#[derive(Debug)]
pub struct ClaudeRun {
    /// None = killed on timeout (see `timed_out`) or not spawned (see `stderr`).
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// `--output-format json` result, if stdout parsed.
    pub json: Option<Value>,
    pub home: PathBuf,
    /// Keeps a temp HOME alive as long as the run (None if the caller gave `home`).
    pub home_guard: Option<tempfile::TempDir>,
    pub settings_path: PathBuf,
    /// Main transcripts: `$HOME/.claude/projects/<project>/<session>.jsonl`.
    pub transcripts: Vec<PathBuf>,
    /// Subagent transcripts: `.../<session>/subagents/agent-<id>.jsonl`.
    pub subagent_transcripts: Vec<PathBuf>,
    pub duration: Duration,
    /// The command line, for messages.
    pub command_line: String,
}

impl ClaudeRun {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
    /// Exit code (None if killed / by signal).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    /// The single main transcript (panics with details if there is not exactly one).
    pub fn transcript(&self) -> &Path {
        assert_eq!(
            self.transcripts.len(),
            1,
            "expected one main transcript\n{}",
            self.describe()
        );
        &self.transcripts[0]
    }
    /// Parsed JSONL lines of a transcript (unparsable lines skipped).
    pub fn read_jsonl(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    /// Multi-line description for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "claude run: {}\nstatus={:?} timed_out={} duration={:?}\nhome={}\ntranscripts={:?}\nsubagent_transcripts={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command_line,
            self.status,
            self.timed_out,
            self.duration,
            self.home.display(),
            self.transcripts,
            self.subagent_transcripts,
            tail(&self.stdout, 4000),
            tail(&self.stderr, 4000),
        )
    }
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = s.len() - max;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Runs `claude -p` once. Never hangs: the CLI and all its descendants are killed after
/// `opts.timeout`.
pub fn run_claude(opts: &ClaudeOpts) -> ClaudeRun {
    let (home, home_guard) = match &opts.home {
        Some(h) => {
            std::fs::create_dir_all(h).expect("create HOME");
            (h.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("e2e-home-")
                .tempdir()
                .expect("temp HOME");
            (t.path().to_path_buf(), Some(t))
        }
    };
    let settings_path = home.join("e2e-settings.json");
    std::fs::write(
        &settings_path,
        serde_json::to_vec_pretty(&opts.settings).unwrap(),
    )
    .expect("write settings");

    let mut args: Vec<String> = vec![
        "-p".into(),
        opts.prompt.clone(),
        "--settings".into(),
        settings_path.to_string_lossy().into_owned(),
        "--output-format".into(),
        "json".into(),
    ];
    if let Some(m) = &opts.permission_mode {
        args.push("--permission-mode".into());
        args.push(m.clone());
    }
    if let Some(m) = &opts.model {
        args.push("--model".into());
        args.push(m.clone());
    }
    args.extend(opts.extra_args.iter().cloned());

    let mut cmd = Command::new(&opts.claude);
    cmd.args(&args).current_dir(&opts.project_dir).env_clear();
    // A clean, reproducible environment: nothing from an outer Claude Code session
    // (CLAUDECODE, CLAUDE_CODE_*, ANTHROPIC_*) or the developer's config leaks in.
    for var in ["PATH", "LANG", "LC_ALL", "TERM", "USER", "LOGNAME", "SHELL"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    if std::env::var_os("PATH").is_none() {
        cmd.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    // The CLI keeps per-session scratch (`$TMPDIR/claude-<uid>/<project>/<session>/tasks/…`, the
    // background agents' output files) under TMPDIR: keep it inside HOME so it goes with it.
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).expect("create $HOME/tmp");
    cmd.env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env(
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{}", opts.api_port),
        )
        .env("ANTHROPIC_API_KEY", "test-key")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        // The debug hook's shell analysis without its 15 ms budget (Claude Code passes its
        // environment to hooks): a loaded machine must not turn a refusal into "ask".
        .env("HOOKLEDGER_ANALYSIS_BUDGET", "unlimited");
    for (k, v) in &opts.extra_env {
        cmd.env(k, v);
    }
    let command_line = format!(
        "(cd {} && {} {})",
        opts.project_dir.display(),
        opts.claude.display(),
        shell_words(&args)
    );

    let start = Instant::now();
    let res = run_bounded(&mut cmd, opts.timeout);
    let duration = start.elapsed();
    let spawned = res.is_ok();
    let (status, stdout, stderr) = match res {
        Ok(r) => r,
        Err(e) => (
            None,
            String::new(),
            format!("e2e: cannot spawn {}: {e}", opts.claude.display()),
        ),
    };
    let (transcripts, subagent_transcripts) = find_transcripts(&home);
    ClaudeRun {
        status,
        timed_out: spawned && status.is_none(),
        json: serde_json::from_str(stdout.trim()).ok(),
        stdout,
        stderr,
        home,
        home_guard,
        settings_path,
        transcripts,
        subagent_transcripts,
        duration,
        command_line,
    }
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// (main transcripts, subagent transcripts) under `$HOME/.claude/projects/`, sorted.
pub fn find_transcripts(home: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut main = Vec::new();
    let mut subs = Vec::new();
    let root = home.join(".claude").join("projects");
    let mut stack = vec![(root, 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth < 6 {
                stack.push((p, depth + 1));
            } else if ft.is_file() && p.extension().is_some_and(|x| x == "jsonl") {
                if p.parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|n| n == "subagents")
                {
                    subs.push(p);
                } else if depth == 1 {
                    main.push(p);
                }
            }
        }
    }
    main.sort();
    subs.sort();
    (main, subs)
}

// ---------------------------------------------------------------------------------------------
// Git repo
// ---------------------------------------------------------------------------------------------

/// Fixed identity and dates for reproducible commits.
pub const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "E2E Tester"),
    ("GIT_AUTHOR_EMAIL", "e2e@example.invalid"),
    ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
    ("GIT_COMMITTER_NAME", "E2E Tester"),
    ("GIT_COMMITTER_EMAIL", "e2e@example.invalid"),
    ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
];

/// Runs `git args...` in `dir` with [`GIT_ENV`]; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(dir);
    for (k, v) in GIT_ENV {
        cmd.env(k, v);
    }
    let (st, out, err) = run_bounded(&mut cmd, Duration::from_secs(60)).expect("run git");
    assert!(
        st.is_some_and(|s| s.success()),
        "git {args:?} failed in {}: {st:?}\n{out}\n{err}",
        dir.display()
    );
    out
}

/// Makes `dir` a git repo (branch `main`) holding `files` (relative path, content) in one commit.
pub fn init_git_repo(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("create repo dir");
    git(dir, &["init", "-q", "-b", "main", "."]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    for (rel, content) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&p, content).expect("write repo file");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "initial commit"]);
}

/// A temp dir holding a git repo with a committed README.md.
pub fn temp_git_repo(readme: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("e2e-proj-")
        .tempdir()
        .expect("temp project dir");
    init_git_repo(dir.path(), &[("README.md", readme)]);
    dir
}
