//! `hookledger doctor`'s checks: is hookledger installed so that Claude Code really runs it,
//! and is what it keeps healthy?
//!
//! A list of named checks. Their ids ([`CheckId`]) are stable kebab-case API, like rule codes:
//! scripts and MDM compliance reports match on them. Each check passes or fails with one line
//! saying what it found, detail lines, and the fix. The CLI renders the results.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::claude::{
    self, HookSwitches, Locations, MIN_EXEC_FORM_VERSION, Registration, Scope, SettingsFile,
    Version,
};
use crate::hook::event::{EventKind, REGISTERED_EVENTS};
use crate::ledger::health::{self, WriteProbe};
use crate::ledger::{Ledger, OpenOptions, spool};
use crate::policy::file as policy_file;

/// What every check may look at, gathered once.
pub struct Context {
    ledger: PathBuf,
    managed_policy_dir: PathBuf,
    hookledger_home: PathBuf,
    settings: Vec<SettingsFile>,
    registrations: Vec<Registration>,
    switches: HookSwitches,
    stale_after_secs: i64,
    now_ns: i64,
    /// Where git shims are checked: only the repositories asked for (`doctor --repo`), so
    /// the overall verdict does not depend on the directory doctor runs in.
    repos: Vec<PathBuf>,
}

impl Context {
    /// Reads the settings files once. `root` stands in for `/` (a staged install); `project`
    /// is the directory whose project settings count; `repos` the repositories whose git
    /// shims are checked.
    pub fn gather(
        ledger: PathBuf,
        hookledger_home: PathBuf,
        root: Option<&Path>,
        project: Option<PathBuf>,
        repos: Vec<PathBuf>,
        stale_after_secs: i64,
    ) -> Self {
        let settings = claude::load_layers(&Locations::discover(root, project));
        Context {
            ledger,
            managed_policy_dir: policy_file::managed_dir_under(root),
            hookledger_home,
            registrations: claude::registrations(&settings),
            switches: claude::hook_switches(&settings),
            settings,
            stale_after_secs,
            now_ns: crate::ledger::now_ns(),
            repos,
        }
    }
}

/// The stable id of each check. The order of [`CheckId::ALL`] is the order checks run in,
/// the order a broken install is best repaired: what runs, where it is registered, what it
/// reads, what it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// The registered binary exists, is executable, on a stable path, and is this build.
    Binary,
    /// Every Claude Code settings file parses.
    SettingsReadable,
    /// Every event has a usable registration (exec form, timeout above the deadline).
    HooksRegistered,
    /// No setting turns hookledger's hooks off.
    HooksEnabled,
    /// Every registration sees every call of its event.
    HooksMatcher,
    /// One hookledger runs per event.
    HooksUnique,
    /// Gating registrations carry `onFailure: block`.
    HooksFailClosed,
    /// What `install --lock-hooks` sets (reported, never failed).
    LockDown,
    /// The policy files are valid.
    PolicyValid,
    /// Claude Code's OS sandbox, where required or enabled, is in force.
    Sandbox,
    /// The ledger takes writes.
    LedgerWritable,
    /// The chain verifies and the append-only triggers are in place.
    LedgerVerifies,
    /// The signing key is the one the genesis record names.
    SigningKey,
    /// No records wait in the spool.
    SpoolEmpty,
    /// No export sink lags for long.
    ExportCursors,
    /// Claude Code is new enough for the hooks.
    ClaudeCodeVersion,
    /// The project's git hook shims are active.
    GitShims,
}

impl CheckId {
    /// Every check, in the order they run.
    pub const ALL: &[CheckId] = &[
        CheckId::Binary,
        CheckId::SettingsReadable,
        CheckId::HooksRegistered,
        CheckId::HooksEnabled,
        CheckId::HooksMatcher,
        CheckId::HooksUnique,
        CheckId::HooksFailClosed,
        CheckId::LockDown,
        CheckId::PolicyValid,
        CheckId::Sandbox,
        CheckId::LedgerWritable,
        CheckId::LedgerVerifies,
        CheckId::SigningKey,
        CheckId::SpoolEmpty,
        CheckId::ExportCursors,
        CheckId::ClaudeCodeVersion,
        CheckId::GitShims,
    ];

    /// The stable kebab-case id.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckId::Binary => "binary",
            CheckId::SettingsReadable => "settings-readable",
            CheckId::HooksRegistered => "hooks-registered",
            CheckId::HooksEnabled => "hooks-enabled",
            CheckId::HooksMatcher => "hooks-matcher",
            CheckId::HooksUnique => "hooks-unique",
            CheckId::HooksFailClosed => "hooks-fail-closed",
            CheckId::LockDown => "lock-down",
            CheckId::PolicyValid => "policy-valid",
            CheckId::Sandbox => "sandbox",
            CheckId::LedgerWritable => "ledger-writable",
            CheckId::LedgerVerifies => "ledger-verifies",
            CheckId::SigningKey => "signing-key",
            CheckId::SpoolEmpty => "spool-empty",
            CheckId::ExportCursors => "export-cursors",
            CheckId::ClaudeCodeVersion => "claude-code-version",
            CheckId::GitShims => "git-shims",
        }
    }

    fn check(self) -> fn(&Context, &mut dyn Progress) -> Finding {
        match self {
            CheckId::Binary => |ctx, _| binary(ctx),
            CheckId::SettingsReadable => |ctx, _| settings_readable(ctx),
            CheckId::HooksRegistered => |ctx, _| hooks_registered(ctx),
            CheckId::HooksEnabled => |ctx, _| hooks_enabled(ctx),
            CheckId::HooksMatcher => |ctx, _| hooks_matcher(ctx),
            CheckId::HooksUnique => |ctx, _| hooks_unique(ctx),
            CheckId::HooksFailClosed => |ctx, _| hooks_fail_closed(ctx),
            CheckId::LockDown => |ctx, _| lock_down(ctx),
            CheckId::PolicyValid => |ctx, _| policy_valid(ctx),
            CheckId::Sandbox => |ctx, _| sandbox(ctx),
            CheckId::LedgerWritable => |ctx, _| ledger_writable(ctx),
            CheckId::LedgerVerifies => ledger_verifies,
            CheckId::SigningKey => |ctx, _| signing_key(ctx),
            CheckId::SpoolEmpty => |ctx, _| spool_empty(ctx),
            CheckId::ExportCursors => |ctx, _| export_cursors(ctx),
            CheckId::ClaudeCodeVersion => |ctx, _| claude_code_version(ctx),
            CheckId::GitShims => |ctx, _| git_shims(ctx),
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a long check (verifying a large ledger) shows that it is working; the CLI draws a bar
/// on a terminal.
pub trait Progress {
    /// The long part begins.
    fn start(&mut self) {}
    /// `done` of `total` records.
    fn update(&mut self, done: u64, total: u64);
    /// The long part is over.
    fn finish(&mut self) {}
}

/// No progress shown.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _done: u64, _total: u64) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
}

/// What one check found.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub status: Status,
    pub message: String,
    pub details: Vec<String>,
    pub fix: Option<String>,
}

impl Finding {
    fn pass(message: impl Into<String>) -> Self {
        Finding {
            status: Status::Pass,
            message: message.into(),
            details: Vec::new(),
            fix: None,
        }
    }

    fn fail(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            status: Status::Fail,
            message: message.into(),
            details: Vec::new(),
            fix: Some(fix.into()),
        }
    }

    fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

/// Runs every check in [`CheckId::ALL`] order.
pub fn run(ctx: &Context, progress: &mut dyn Progress) -> Vec<(CheckId, Finding)> {
    CheckId::ALL
        .iter()
        .map(|&id| (id, (id.check())(ctx, progress)))
        .collect()
}

/// The first Claude Code with PreSkillShellCommand and `onFailure`.
const CURRENT_SURFACE_VERSION: Version = Version(2, 1, 332);

const INSTALL_FIX: &str = "run `hookledger install` (your user) or `sudo hookledger install --managed` (every user); both write hookledger's entries in exec form with a timeout";
/// How long `--version` of another program may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

fn scope_list(scopes: impl IntoIterator<Item = Scope>) -> String {
    let set: BTreeSet<Scope> = scopes.into_iter().collect();
    set.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
}

fn binary(ctx: &Context) -> Finding {
    let registered: BTreeSet<&str> = ctx
        .registrations
        .iter()
        .map(|r| r.binary.as_str())
        .collect();
    let fix = "install to a stable path and register that: ./install.sh (or sudo ./install.sh --managed), or `hookledger install --binary PATH` for a binary already installed";
    if registered.is_empty() {
        return match std::env::current_exe() {
            Ok(exe) => match crate::config::volatile_location(&exe) {
                Some(why) => Finding::fail(
                    format!(
                        "nothing registers a hookledger binary, and this one runs from {}, {why}",
                        exe.display()
                    ),
                    fix,
                ),
                None => Finding::pass(format!(
                    "{} is on a stable path; no settings file registers a binary yet (see hooks-registered)",
                    exe.display()
                )),
            },
            Err(e) => Finding::fail(format!("cannot find this binary's path: {e}"), fix),
        };
    }
    let ours = format!("hookledger {}", env!("CARGO_PKG_VERSION"));
    let mut problems = Vec::new();
    for binary in &registered {
        let path = Path::new(binary);
        if !path.is_absolute() {
            problems.push(format!(
                "{binary} is not an absolute path: hooks run from each session's directory"
            ));
        } else if !crate::config::is_executable_file(path) {
            problems.push(format!(
                "{binary} does not exist or is not executable: Claude Code lets every call through when a hook cannot start"
            ));
        } else if let Some(why) = crate::config::volatile_location(path) {
            problems.push(format!("{binary} is in {why}"));
        } else {
            match crate::config::version_output(path, VERSION_TIMEOUT) {
                Ok(said) if said == ours => {}
                Ok(said) => problems.push(format!(
                    "{binary} is {said:?}, this doctor is {ours:?}: re-run the installer so both are the same build"
                )),
                Err(e) => problems.push(format!("{binary} --version failed: {e}")),
            }
        }
    }
    let list = registered.iter().copied().collect::<Vec<_>>().join(", ");
    if problems.is_empty() {
        Finding::pass(format!("{list}: {ours}, executable, on a stable path"))
    } else {
        Finding::fail(
            format!("the registered binary cannot be relied on: {list}"),
            fix,
        )
        .with_details(problems)
    }
}

fn settings_readable(ctx: &Context) -> Finding {
    let broken: Vec<String> = ctx
        .settings
        .iter()
        .filter_map(|f| {
            f.error
                .as_ref()
                .map(|e| format!("{} settings: {e}", f.scope.label()))
        })
        .collect();
    let present: Vec<&SettingsFile> = ctx.settings.iter().filter(|f| f.exists).collect();
    if !broken.is_empty() {
        return Finding::fail(
            format!("{} settings file(s) cannot be parsed", broken.len()),
            "fix the JSON by hand: Claude Code ignores a settings file it cannot parse, hooks and all",
        )
        .with_details(broken);
    }
    if present.is_empty() {
        return Finding::pass("no Claude Code settings files exist yet");
    }
    Finding::pass(format!(
        "{} settings file(s) read ({})",
        present.len(),
        scope_list(present.iter().map(|f| f.scope))
    ))
}

fn needed_timeout_secs(event: &str) -> f64 {
    if EventKind::from_name(event).is_gating() {
        crate::hook::guard::deadline().as_secs_f64()
    } else {
        0.0
    }
}

/// Why one registration cannot do its job, if it cannot.
fn registration_problem(r: &Registration) -> Option<String> {
    let where_ = format!("{} settings ({})", r.scope.label(), r.file.display());
    if !r.exec_form {
        return Some(format!(
            "{where_} runs it through a shell (`command` string): exec form avoids shell profiles printing into the answer"
        ));
    }
    if r.event_arg.as_deref() != Some(r.event.as_str()) {
        return Some(format!(
            "{where_} passes --event {}",
            r.event_arg.as_deref().unwrap_or("(nothing)")
        ));
    }
    let needed = needed_timeout_secs(&r.event);
    match r.timeout_secs {
        None => Some(format!(
            "{where_} has no timeout: a stuck hook would hold Claude Code for 10 minutes"
        )),
        Some(t) if t <= needed => Some(format!(
            "{where_} times out after {t} s, before hookledger's own {needed} s deadline: Claude Code would cancel the hook and let the call through"
        )),
        Some(_) => None,
    }
}

fn hooks_registered(ctx: &Context) -> Finding {
    // Events grouped by what is wrong with them, so one cause is one line.
    let mut problems: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for event in REGISTERED_EVENTS {
        let found: Vec<&Registration> = ctx
            .registrations
            .iter()
            .filter(|r| r.event == *event)
            .collect();
        if found.is_empty() {
            problems
                .entry("not registered in any settings file".into())
                .or_default()
                .push(event);
        } else if found.iter().all(|r| registration_problem(r).is_some()) {
            let why = found
                .iter()
                .filter_map(|r| registration_problem(r))
                .collect::<Vec<_>>()
                .join("; ");
            problems.entry(why).or_default().push(event);
        }
    }
    if problems.is_empty() {
        return Finding::pass(format!(
            "all {} events are registered in exec form with a timeout ({} settings)",
            REGISTERED_EVENTS.len(),
            scope_list(ctx.registrations.iter().map(|r| r.scope))
        ));
    }
    let broken: usize = problems.values().map(Vec::len).sum();
    let details = problems
        .iter()
        .map(|(why, events)| format!("{}: {why}", events.join(", ")))
        .collect();
    Finding::fail(
        format!(
            "{broken} of {} events have no usable hookledger registration",
            REGISTERED_EVENTS.len()
        ),
        INSTALL_FIX,
    )
    .with_details(details)
}

fn hooks_enabled(ctx: &Context) -> Finding {
    // Per switch, the events whose every registration it turns off.
    let mut blocked: BTreeMap<(String, PathBuf), Vec<&str>> = BTreeMap::new();
    for event in REGISTERED_EVENTS {
        let switches: Vec<_> = ctx
            .registrations
            .iter()
            .filter(|r| r.event == *event)
            .map(|r| ctx.switches.blocking(r.scope))
            .collect();
        if let Some(Some(switch)) = switches.first()
            && switches.iter().all(Option::is_some)
        {
            blocked
                .entry((switch.key.clone(), switch.file.clone()))
                .or_default()
                .push(event);
        }
    }
    if blocked.is_empty() {
        let note = match (&ctx.switches.managed_only, &ctx.switches.disable_all) {
            (Some(s), _) | (None, Some(s)) => format!(
                "; {} is set in {}, and hookledger is registered where it still runs",
                s.key,
                s.file.display()
            ),
            _ => String::new(),
        };
        return Finding::pass(format!("nothing turns hookledger's hooks off{note}"));
    }
    let details: Vec<String> = blocked
        .iter()
        .map(|((key, file), events)| {
            format!(
                "{key} in {} turns off hookledger for {}",
                file.display(),
                events.join(", ")
            )
        })
        .collect();
    let fix = if ctx.switches.managed_disable_all.is_some() {
        "remove `disableAllHooks` from the managed settings: it turns off every hook, managed ones too"
    } else if blocked.keys().any(|(key, _)| key == "disableAllHooks") {
        "remove `disableAllHooks` from that settings file, or register hookledger in managed settings (sudo hookledger install --managed), which it cannot turn off"
    } else {
        "register hookledger in managed settings, the only hooks that still run: sudo hookledger install --managed"
    };
    Finding::fail("a setting turns hookledger's hooks off", fix).with_details(details)
}

fn hooks_matcher(ctx: &Context) -> Finding {
    let mut problems = Vec::new();
    for event in REGISTERED_EVENTS {
        let found: Vec<&Registration> = ctx
            .registrations
            .iter()
            .filter(|r| r.event == *event)
            .collect();
        if found.is_empty() || found.iter().any(|r| r.sees_everything()) {
            continue;
        }
        for r in found {
            let narrowing = match (&r.condition, &r.matcher) {
                (Some(condition), _) => format!("the `if` filter {condition:?}"),
                (None, matcher) => format!("matcher {:?}", matcher.as_deref().unwrap_or("")),
            };
            problems.push(format!(
                "{event} in {} settings ({}): {narrowing} lets calls it does not match bypass hookledger",
                r.scope.label(),
                r.file.display()
            ));
        }
    }
    if problems.is_empty() {
        return Finding::pass(if ctx.registrations.is_empty() {
            "no hookledger registrations to check"
        } else {
            "every registration sees every call of its event (matcher \"*\")"
        });
    }
    Finding::fail(
        "hookledger's matchers let some calls through unseen",
        "use matcher \"*\" and no `if` on hookledger's entries: `hookledger install` (or `--managed`) rewrites them",
    )
    .with_details(problems)
}

fn hooks_unique(ctx: &Context) -> Finding {
    let mut binaries: BTreeMap<&str, BTreeSet<Scope>> = BTreeMap::new();
    for r in &ctx.registrations {
        binaries.entry(&r.binary).or_default().insert(r.scope);
    }
    let mut problems = Vec::new();
    if binaries.len() > 1 {
        for (binary, scopes) in &binaries {
            problems.push(format!(
                "{binary} in {} settings",
                scope_list(scopes.iter().copied())
            ));
        }
    }
    // Claude Code runs identical handlers once; differing ones each run.
    for event in REGISTERED_EVENTS {
        let forms: BTreeSet<(&str, bool, Option<&str>)> = ctx
            .registrations
            .iter()
            .filter(|r| r.event == *event)
            .map(|r| (r.binary.as_str(), r.exec_form, r.event_arg.as_deref()))
            .collect();
        if binaries.len() <= 1 && forms.len() > 1 {
            problems.push(format!(
                "{event} is registered {} different ways, so it runs (and is recorded) {} times",
                forms.len(),
                forms.len()
            ));
        }
    }
    if problems.is_empty() {
        return match binaries.keys().next() {
            Some(binary) => Finding::pass(format!("each event runs one hookledger: {binary}")),
            None => Finding::pass("no hookledger registrations to compare"),
        };
    }
    Finding::fail(
        "hookledger is registered more than once: every event runs (and is recorded) repeatedly",
        "keep one registration: `hookledger uninstall` removes yours from user settings, `sudo hookledger uninstall --managed` the managed one; then install again where it belongs",
    )
    .with_details(problems)
}

/// Every gating registration says `onFailure: "block"`: without it a binary that is missing,
/// cannot start, crashes or times out lets the action through (Claude Code ≥ 2.1.332 honours
/// it; older versions ignore it).
fn hooks_fail_closed(ctx: &Context) -> Finding {
    let mut problems = Vec::new();
    for event in REGISTERED_EVENTS
        .iter()
        .filter(|e| crate::hook::event::registers_as_gate(e))
    {
        for r in ctx.registrations.iter().filter(|r| r.event == *event) {
            if r.on_failure.as_deref() != Some("block") {
                problems.push(format!(
                    "{event} in {} settings ({}) has {}: a hookledger that cannot start or times out lets the action through",
                    r.scope.label(),
                    r.file.display(),
                    r.on_failure
                        .as_deref()
                        .map_or("no onFailure".to_owned(), |v| format!("onFailure {v:?}"))
                ));
            }
        }
    }
    if problems.is_empty() {
        return Finding::pass(if ctx.registrations.is_empty() {
            "no hookledger registrations to check"
        } else {
            "every gating registration has onFailure: block: a hook that cannot run is a refusal"
        });
    }
    Finding::fail(
        "gating registrations do not fail closed in Claude Code",
        "re-run `hookledger install` (or `sudo hookledger install --managed`): the registrations it writes carry onFailure: block",
    )
    .with_details(problems)
}

/// What `install --lock-hooks` sets, each reported.
fn lock_down(ctx: &Context) -> Finding {
    let state = claude::lock_down_state(&ctx.settings);
    let mut details: Vec<String> = state
        .iter()
        .map(|(lock, on)| {
            let key = lock.path.join(".");
            match on {
                Some(file) => format!("{key}: on ({}): no {}", file.display(), lock.what),
                None => format!("{key}: off: {} may run", lock.what),
            }
        })
        .collect();
    let skill_shell = claude::managed_value(&ctx.settings, &[claude::SKILL_SHELL_KEY])
        .filter(|(v, _)| **v == serde_json::Value::Bool(true));
    details.push(match skill_shell {
        Some((_, file)) => format!(
            "{}: on ({}): skills' inline commands do not run",
            claude::SKILL_SHELL_KEY,
            file.display()
        ),
        None => format!(
            "{}: off: skills' inline commands run, gated by hookledger on Claude Code 2.1.332 and later",
            claude::SKILL_SHELL_KEY
        ),
    });
    let on = state.iter().filter(|(_, on)| on.is_some()).count();
    // Reported, not judged: how far to lock Claude Code down is the organisation's choice.
    let message = match on {
        0 => "not locked down: user and project hooks, mods and plugins run beside hookledger's (sudo hookledger install --managed --lock-hooks locks them out)".to_owned(),
        n if n == state.len() => "locked down: only what managed settings allow runs".to_owned(),
        n => format!(
            "partly locked down: {n} of {} lock-down settings are on (sudo hookledger install --managed --lock-hooks sets all of them)",
            state.len()
        ),
    };
    Finding::pass(message).with_details(details)
}

/// bubblewrap's first version that can stop a sandboxed command from creating a user
/// namespace (`--disable-userns`), through which it could undo the sandbox's write denials.
const MIN_BWRAP: (u64, u64, u64) = (0, 8, 0);

/// What the OS sandbox needs on this machine, as problems (none: it can run).
fn sandbox_dependencies() -> Vec<String> {
    let mut problems = Vec::new();
    if cfg!(target_os = "linux") {
        match find_on_path("bwrap") {
            None => problems.push(
                "bubblewrap (bwrap) is not on PATH: Claude Code refuses to start with the sandbox required".into(),
            ),
            Some(bwrap) => {
                match crate::config::version_output(&bwrap, VERSION_TIMEOUT) {
                    Ok(said) => {
                        let version = said.rsplit(' ').next().and_then(Version::parse);
                        match version {
                            Some(Version(a, b, c)) if (a, b, c) >= MIN_BWRAP => {}
                            Some(v) => problems.push(format!(
                                "{} is bubblewrap {v}: older than 0.8.0, it cannot keep a sandboxed command from undoing the write denials in a user namespace",
                                bwrap.display()
                            )),
                            None => problems.push(format!("cannot read a version from `{} --version`: {said:?}", bwrap.display())),
                        }
                    }
                    Err(e) => problems.push(format!("{} --version failed: {e}", bwrap.display())),
                }
                if is_setuid(&bwrap) {
                    problems.push(format!(
                        "{} is setuid root: Claude Code's sandbox needs unprivileged user namespaces instead",
                        bwrap.display()
                    ));
                }
            }
        }
        if find_on_path("socat").is_none() {
            problems.push(
                "socat is not on PATH: Claude Code's Linux sandbox needs it for the network proxy"
                    .into(),
            );
        }
    } else if cfg!(target_os = "macos") {
        if !Path::new("/usr/bin/sandbox-exec").exists() {
            problems.push("/usr/bin/sandbox-exec is missing: Seatbelt cannot run".into());
        }
    } else {
        problems.push("hookledger does not check the sandbox on this platform".into());
    }
    problems
}

#[cfg(unix)]
fn is_setuid(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o4000 != 0)
}

#[cfg(not(unix))]
fn is_setuid(_path: &Path) -> bool {
    false
}

/// Claude Code's OS sandbox for Bash: whether the managed policy requires it, whether the
/// effective settings enforce it (managed tier, no way out, no start without it), whether this
/// machine can run it, and whether it covers this user's hookledger directory.
fn sandbox(ctx: &Context) -> Finding {
    let (layers, _) = policy_file::load_layers_from(&ctx.managed_policy_dir, &ctx.hookledger_home);
    let options = crate::policy::sandbox::managed_options(&layers);
    let required = options.mode == Some(policy_file::SandboxMode::Require);
    let state = claude::sandbox_state(&ctx.settings);
    let install_fix =
        "sudo hookledger install --managed --sandbox (and install bubblewrap and socat on Linux)";
    if !required && !state.enabled {
        return Finding::pass(
            "not enabled, and the managed policy does not require it: Bash is confined by hookledger's analysis only",
        );
    }
    let mut problems = sandbox_dependencies();
    let mut details = Vec::new();
    let where_ = |s: &claude::SandboxState| match (&s.source, &s.file) {
        (Some(scope), Some(file)) => format!("{} settings ({})", scope.label(), file.display()),
        _ => "no settings file".into(),
    };
    if !state.enforced_by_managed() {
        let mut missing = Vec::new();
        if !state.enabled {
            missing.push("sandbox.enabled is not true".to_owned());
        } else if state.source != Some(Scope::Managed) {
            missing.push(format!(
                "it is enabled by {}, which a user can change",
                where_(&state)
            ));
        }
        if state.allow_unsandboxed_commands {
            missing
                .push("allowUnsandboxedCommands is not false: a call can ask to leave it".into());
        }
        if !state.fail_if_unavailable {
            missing.push(
                "failIfUnavailable is not true: where it cannot start, commands run unsandboxed"
                    .into(),
            );
        }
        problems.push(format!(
            "not enforced by managed settings: {}",
            missing.join("; ")
        ));
    } else {
        details.push(format!("enforced by {}", where_(&state)));
        // The per-user spelling a managed install writes must name this user's directory.
        let home = crate::config::user_home();
        let covered = ["denyWrite"].iter().all(|list| {
            managed_list(&ctx.settings, list).iter().any(|entry| {
                let path = expand_home(entry, home.as_deref());
                ctx.hookledger_home.starts_with(&path)
            })
        });
        if !covered {
            problems.push(format!(
                "{} (this user's hookledger directory) is not in sandbox.filesystem.denyWrite: a sandboxed command can write the ledger (HOOKLEDGER_HOME or XDG_DATA_HOME moved it)",
                ctx.hookledger_home.display()
            ));
        }
    }
    for (scope, command) in &state.excluded_commands {
        details.push(format!(
            "excludedCommands {command:?} ({} settings) runs outside the sandbox, with hookledger's analysis only",
            scope.label()
        ));
    }
    match claude::managed_value(&ctx.settings, &["sandbox", "network"]) {
        Some((network, file)) => details.push(format!(
            "network: {} ({})",
            network,
            file.display()
        )),
        None => details.push(
            "network: not configured: sandboxed commands reach only domains a user approves when asked, and not the host's localhost (Linux)".into(),
        ),
    }
    if problems.is_empty() {
        let why = if required {
            "required by the managed policy, "
        } else {
            ""
        };
        return Finding::pass(format!(
            "{why}enforced: Bash runs in Claude Code's OS sandbox, and this machine can run it"
        ))
        .with_details(details);
    }
    let message = if required {
        "the managed policy requires Claude Code's OS sandbox, and it is not in force here"
    } else {
        "Claude Code's OS sandbox is enabled but not in force here"
    };
    Finding::fail(message, install_fix).with_details(problems.into_iter().chain(details).collect())
}

/// Every entry of `sandbox.filesystem.<list>` across the managed tier (Claude Code merges them).
fn managed_list(files: &[SettingsFile], list: &str) -> Vec<String> {
    files
        .iter()
        .filter(|f| f.scope == Scope::Managed)
        .filter_map(|f| claude::get_path(&f.settings, &["sandbox", "filesystem", list]))
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn expand_home(entry: &str, home: Option<&Path>) -> PathBuf {
    match (entry.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(entry.trim_end_matches("/**")),
    }
}

fn policy_valid(ctx: &Context) -> Finding {
    let (layers, errors) =
        policy_file::load_layers_from(&ctx.managed_policy_dir, &ctx.hookledger_home);
    if !errors.is_empty() {
        return Finding::fail(
            format!("{} policy file(s) are invalid: gating hooks decide by `on_error` (deny unless a valid layer says allow)", errors.len()),
            "fix the file at the line and column shown; `hookledger policy check` validates it",
        )
        .with_details(errors.iter().map(ToString::to_string).collect());
    }
    if layers.is_empty() {
        return Finding::pass(format!(
            "no policy ({} or {}): everything is recorded, only hookledger's own files are protected",
            ctx.managed_policy_dir
                .join(policy_file::POLICY_FILE)
                .display(),
            ctx.hookledger_home.join(policy_file::POLICY_FILE).display()
        ));
    }
    let list: Vec<String> = layers
        .iter()
        .map(|l| format!("{:?} {}", l.layer, l.path.display()).to_lowercase())
        .collect();
    Finding::pass(format!("valid: {}", list.join(", ")))
}

fn ledger_writable(ctx: &Context) -> Finding {
    let path = &ctx.ledger;
    let fix_home = "set HOOKLEDGER_HOME (for Claude Code too) to a directory this user can write, or fix the permissions";
    if let (Some(owner), Some(me)) = (health::owner_uid(path), crate::config::effective_uid())
        && owner != me
    {
        // Probing would leave -wal/-shm files the hooks' user cannot open.
        return Finding::fail(
            format!(
                "{} belongs to uid {owner}, and doctor runs as uid {me}",
                path.display()
            ),
            "run doctor as the user who runs Claude Code",
        );
    }
    match health::probe_write(path, OpenOptions::default().busy_timeout) {
        Ok(WriteProbe::Writable) => Finding::pass(format!("{} takes writes", path.display())),
        Ok(WriteProbe::NotCreated) => Finding::pass(format!(
            "no ledger yet: the first hook event creates {}",
            path.display()
        )),
        Ok(WriteProbe::CannotCreate(why)) => Finding::fail(
            format!("hooks cannot create {}: {why}", path.display()),
            fix_home,
        ),
        Ok(WriteProbe::ReadOnly) => Finding::fail(
            format!(
                "{} is read-only for this user: every record goes to the spool",
                path.display()
            ),
            "give the user who runs Claude Code write access to the ledger and its directory (chmod u+w, chown)",
        ),
        Ok(WriteProbe::Locked) => Finding::fail(
            format!(
                "{} stayed locked for {} ms, as long as a hook waits: hooks are spooling",
                path.display(),
                OpenOptions::default().busy_timeout.as_millis()
            ),
            "find the process holding the write lock (`fuser` or `lsof` on the ledger) and end it",
        ),
        Err(e) => {
            let fix = match &e {
                crate::ledger::LedgerError::TooNew { .. } => {
                    "upgrade hookledger: a newer version wrote this ledger"
                }
                crate::ledger::LedgerError::NotALedger { .. } => {
                    "point --ledger / HOOKLEDGER_LEDGER / HOOKLEDGER_HOME at a hookledger ledger; this file is something else"
                }
                _ => fix_home,
            };
            Finding::fail(format!("{e}"), fix)
        }
    }
}

fn ledger_verifies(ctx: &Context, progress: &mut dyn Progress) -> Finding {
    let path = &ctx.ledger;
    if !path.exists() {
        return Finding::pass("no ledger yet: nothing to verify");
    }
    progress.start();
    let report = crate::ledger::verify::verify(path, &mut |done, total| {
        progress.update(done, total);
    });
    progress.finish();
    let tamper_fix = "keep the file as it is (it is evidence); `hookledger verify` lists every problem, and `hookledger verify --against FILE` compares with what was shipped";
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            return Finding::fail(format!("cannot verify {}: {e}", path.display()), tamper_fix);
        }
    };
    if !report.intact {
        let details = report
            .problems
            .iter()
            .take(5)
            .map(|p| format!("seq {}: {}", p.seq, p.message))
            .collect();
        return Finding::fail(
            format!(
                "the chain is broken: first bad record seq {} ({} problem(s))",
                report.first_bad_seq.unwrap_or(0),
                report.problem_count
            ),
            tamper_fix,
        )
        .with_details(details);
    }
    let triggers = Ledger::open_read_only(path).and_then(|l| l.append_only_triggers_present());
    if !matches!(triggers, Ok(true)) {
        return Finding::fail(
            "the chain verifies, but the append-only triggers were dropped: someone opened the ledger to change it",
            tamper_fix,
        );
    }
    let head = report
        .head
        .as_ref()
        .map(|h| format!(", head seq {} {}", h.seq, &h.hash[..16.min(h.hash.len())]))
        .unwrap_or_default();
    Finding::pass(format!(
        "{} records verify from genesis{head}",
        report.records
    ))
}

fn signing_key(ctx: &Context) -> Finding {
    if !ctx.ledger.exists() {
        return Finding::pass("no ledger yet: its key is made with it");
    }
    let health = Ledger::open_read_only(&ctx.ledger).and_then(|l| health::signing_key(&l));
    let health = match health {
        Ok(Some(health)) => health,
        Ok(None) => {
            return Finding::fail(
                "the genesis record names no signing key: checkpoints cannot be checked",
                "see ledger-verifies",
            );
        }
        Err(e) => {
            return Finding::fail(
                format!("cannot read the genesis record: {e}"),
                "see ledger-verifies",
            );
        }
    };
    let path = health.path.display();
    let failed = (health.failed_checkpoints > 0).then(|| {
        format!(
            "{} interval checkpoint(s) could not be signed (checkpoint-failed records, the newest at seq {})",
            health.failed_checkpoints,
            health.last_failed_seq.unwrap_or(0)
        )
    });
    let new_ledger = "if it is lost, this ledger cannot be signed any more: keep it as evidence (ship or archive it), move ledger.db and its -wal, -shm and spool aside, and the next hook event starts a new ledger with a new key";
    let finding = match &health.status {
        crate::ledger::keys::KeyStatus::Matches => {
            return Finding::pass(format!("{path} is the key the genesis record names"))
                .with_details(failed.into_iter().collect());
        }
        crate::ledger::keys::KeyStatus::Missing => Finding::fail(
            format!("the signing key {path} is missing: checkpoints are not being signed"),
            format!(
                "restore the key file from a backup (mode 0600, in a directory only this user can read); {new_ledger}"
            ),
        ),
        crate::ledger::keys::KeyStatus::Replaced { file_public_key } => Finding::fail(
            format!(
                "the signing key {path} was replaced: its public key {} is not the genesis record's, so checkpoints it signs do not verify",
                crate::ledger::frame::to_hex(file_public_key)
            ),
            format!(
                "keep the replaced file as evidence and restore the original key from a backup; {new_ledger}"
            ),
        ),
        crate::ledger::keys::KeyStatus::Unreadable(why) => Finding::fail(
            format!("the signing key cannot be read: {why}"),
            "give the user who runs Claude Code read access to its keys directory (mode 0700, key files 0600)",
        ),
    };
    finding.with_details(failed.into_iter().collect())
}

fn spool_empty(ctx: &Context) -> Finding {
    let spool_path = spool::spool_path(&ctx.ledger);
    if !spool_path.parent().is_some_and(Path::is_dir) {
        return Finding::pass(
            "no spool: the ledger's directory does not exist (see ledger-writable)",
        );
    }
    let status = match spool::status(&spool_path) {
        Ok(status) => status,
        Err(e) => {
            return Finding::fail(
                format!("cannot read the spool: {e}"),
                "give this user read access to the spool file next to the ledger",
            );
        }
    };
    let mut details = Vec::new();
    if status.pending > 0 {
        details.push(format!(
            "{} record(s) wait in {}: the ledger could not be written when they were made",
            status.pending,
            spool_path.display()
        ));
    }
    if status.damaged > 0 {
        details.push(format!(
            "{} spool line(s) cannot merge as they are (they fail their MAC, are damaged or oversized)",
            status.damaged
        ));
    }
    if details.is_empty() {
        return Finding::pass("no records wait in the spool");
    }
    Finding::fail(
        "records wait outside the chain",
        "the next hook event merges them (a line that fails its MAC or is damaged becomes a spool-rejected record); if they stay, fix what ledger-writable reports",
    )
    .with_details(details)
}

fn export_cursors(ctx: &Context) -> Finding {
    if !ctx.ledger.exists() {
        return Finding::pass("no ledger yet: nothing to ship");
    }
    let ledger = match Ledger::open_read_only(&ctx.ledger) {
        Ok(ledger) => ledger,
        Err(e) => {
            return Finding::fail(
                format!("cannot read the export cursors: {e}"),
                "see ledger-writable and ledger-verifies",
            );
        }
    };
    let cursors = match crate::export::cursors(&ledger) {
        Ok(cursors) => cursors,
        Err(e) => {
            return Finding::fail(
                format!("cannot read the export cursors: {e}"),
                "see ledger-verifies",
            );
        }
    };
    let head = ledger.head().map(|(seq, _)| seq).unwrap_or(0);
    if cursors.is_empty() {
        return Finding::pass("no export sinks: nothing ships this ledger yet");
    }
    let threshold = age(ctx.stale_after_secs);
    let mut stale = Vec::new();
    let mut fresh = Vec::new();
    for (sink, cursor) in &cursors {
        let idle_secs = (ctx.now_ns - cursor.updated_ns) / 1_000_000_000;
        let behind = head.saturating_sub(cursor.acked);
        if behind > 0 && idle_secs > ctx.stale_after_secs {
            stale.push(format!(
                "{sink}: acknowledged through seq {} of {head} ({behind} behind), cursor last moved {} ago",
                cursor.acked,
                age(idle_secs)
            ));
        } else {
            fresh.push(sink.as_str());
        }
    }
    if stale.is_empty() {
        return Finding::pass(format!(
            "{} sink(s) current within {threshold}: {}",
            fresh.len(),
            fresh.join(", ")
        ));
    }
    Finding::fail(
        format!(
            "{} sink(s) lag and have not moved for over {threshold}",
            stale.len()
        ),
        "ship and acknowledge: `hookledger export --sink NAME -o FILE`, deliver FILE, then `hookledger export --sink NAME --ack`; check the job that does this",
    )
    .with_details(stale)
}

/// The git hook shims of the repositories asked for (`--repo`): every one installed and
/// active where git looks, so commits there are attributed and anchored.
fn git_shims(ctx: &Context) -> Finding {
    if ctx.repos.is_empty() {
        return Finding::pass("not checked: pass --repo PATH to check a repository's git shims");
    }
    let mut passes = Vec::new();
    for repo in &ctx.repos {
        let finding = repo_shims(repo);
        if finding.status == Status::Fail {
            return finding;
        }
        passes.push(finding.message);
    }
    Finding::pass(passes.join("; "))
}

fn repo_shims(project: &Path) -> Finding {
    let statuses = match crate::git::hooks::status(project) {
        Ok(statuses) => statuses,
        Err(crate::git::hooks::HooksError::Git(crate::git::repo::GitError::NotARepository(_))) => {
            return Finding::fail(
                format!("{} is not in a git repository", project.display()),
                "pass the directory of a git repository to --repo",
            );
        }
        Err(e) => {
            return Finding::fail(
                format!("cannot inspect the git hooks of {}: {e}", project.display()),
                "check that git works in this directory",
            );
        }
    };
    let inactive: Vec<String> = statuses
        .iter()
        .filter(|s| !s.active)
        .map(|s| {
            format!(
                "{}: {}",
                s.hook,
                s.problem.as_deref().unwrap_or("not active")
            )
        })
        .collect();
    if inactive.is_empty() {
        Finding::pass(format!(
            "all {} git shims are active in {}",
            statuses.len(),
            project.display()
        ))
    } else {
        Finding::fail(
            format!(
                "{} of {} git shims are not active in {}: commits there are neither attributed nor anchored",
                inactive.len(),
                statuses.len(),
                project.display()
            ),
            format!(
                "run `hookledger git install --repo {}` (existing hooks keep running first)",
                project.display()
            ),
        )
        .with_details(inactive)
    }
}

fn claude_code_version(ctx: &Context) -> Finding {
    let mut seen: Vec<(String, String)> = Vec::new();
    if let Ok(ledger) = Ledger::open_read_only(&ctx.ledger)
        && let Ok(Some(found)) = health::latest_claude_code_version(&ledger, 5000)
    {
        let age = age((ctx.now_ns - found.ts_ns) / 1_000_000_000);
        seen.push((
            found.version,
            format!("ledger record seq {}, {age} ago", found.seq),
        ));
    }
    if let Some(dir) = crate::config::claude_config_dir() {
        let newest = crate::hook::transcript::recent_session_transcripts(&dir.join("projects"), 5)
            .into_iter()
            .find_map(|path| {
                let facts = crate::hook::transcript::scan(&path, None, 256 << 10).ok()?;
                Some((facts.cli_version?, path))
            });
        if let Some((version, path)) = newest {
            seen.push((version, format!("transcript {}", path.display())));
        }
    }
    if let Some(claude) = find_on_path("claude") {
        match crate::config::version_output(&claude, VERSION_TIMEOUT) {
            Ok(said) => seen.push((said, format!("{} --version", claude.display()))),
            Err(e) => seen.push((
                String::new(),
                format!("{} --version failed: {e}", claude.display()),
            )),
        }
    }
    let upgrade = format!(
        "upgrade Claude Code to {MIN_EXEC_FORM_VERSION} or later (`claude update`, or your package manager): older versions run hookledger without its arguments, which refuses every tool call"
    );
    if seen.is_empty() {
        return Finding::fail(
            "no Claude Code seen: no version in the ledger or in transcripts, and no `claude` on PATH",
            format!(
                "install Claude Code {MIN_EXEC_FORM_VERSION} or later and run a session (set CLAUDE_CONFIG_DIR if it keeps its files elsewhere)"
            ),
        );
    }
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    for (version, source) in &seen {
        match Version::parse(version) {
            Some(v) if v < MIN_EXEC_FORM_VERSION => problems.push(format!(
                "{v} ({source}) is older than {MIN_EXEC_FORM_VERSION}, the first to run exec-form hooks"
            )),
            Some(v) => lines.push(format!("{v} ({source})")),
            None => problems.push(format!("cannot read a version from {source}: {version:?}")),
        }
    }
    if problems.is_empty() {
        let older: Vec<String> = seen
            .iter()
            .filter_map(|(version, _)| Version::parse(version))
            .filter(|v| *v < CURRENT_SURFACE_VERSION)
            .map(|v| format!(
                "{v} is older than {CURRENT_SURFACE_VERSION}: skills' inline commands reach no hook (set disableSkillShellExecution: sudo hookledger install --managed --disable-skill-shell), and a hook that cannot start lets the action through (onFailure is ignored)"
            ))
            .collect();
        return Finding::pass(lines.join("; ")).with_details(older);
    }
    Finding::fail(
        "Claude Code is too old for hookledger's hooks, or cannot be asked",
        upgrade,
    )
    .with_details(problems.into_iter().chain(lines).collect())
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| crate::config::is_executable_file(candidate))
}

/// A short age for people: `45 s`, `12 min`, `5 h`, `3 d`.
fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}
