//! `hookledger doctor [--json]`: is hookledger installed so that Claude Code really runs it, and
//! is what it keeps healthy?
//!
//! A list of named checks. Their ids are stable kebab-case API, like rule codes: scripts and
//! MDM compliance reports match on them. Each check passes or fails with one line saying what
//! it found, detail lines, and the fix. Exit 0 only when every check passes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::config::Paths;
use crate::config::claude::{
    self, HookSwitches, Locations, MIN_EXEC_FORM_VERSION, Registration, Scope, SettingsFile,
    Version,
};
use crate::hook::event::{EventKind, REGISTERED_EVENTS};
use crate::ledger::health::{self, WriteProbe};
use crate::ledger::{Ledger, OpenOptions, spool};
use crate::policy::file as policy_file;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
    /// The project whose .claude/settings.json and settings.local.json count
    /// [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Treat DIR as the filesystem root for managed settings and policy (a staged install)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// An export sink is stale when it lags the ledger and its cursor has not moved for this
    /// long (90s, 30m, 24h, 7d)
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub stale_after: String,
}

/// What every check may look at, gathered once.
struct Context {
    ledger: PathBuf,
    managed_policy_dir: PathBuf,
    hookledger_home: PathBuf,
    settings: Vec<SettingsFile>,
    registrations: Vec<Registration>,
    switches: HookSwitches,
    stale_after_secs: i64,
    now_ns: i64,
    /// Where git shims are checked: the project directory.
    project: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    Pass,
    Fail,
}

/// What one check found.
#[derive(Debug, Serialize)]
struct Finding {
    status: Status,
    message: String,
    details: Vec<String>,
    fix: Option<String>,
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

struct Check {
    id: &'static str,
    run: fn(&Context) -> Finding,
}

/// In the order a broken install is best repaired: what runs, where it is registered, what it
/// reads, what it writes.
const CHECKS: &[Check] = &[
    Check {
        id: "binary",
        run: binary,
    },
    Check {
        id: "settings-readable",
        run: settings_readable,
    },
    Check {
        id: "hooks-registered",
        run: hooks_registered,
    },
    Check {
        id: "hooks-enabled",
        run: hooks_enabled,
    },
    Check {
        id: "hooks-matcher",
        run: hooks_matcher,
    },
    Check {
        id: "hooks-unique",
        run: hooks_unique,
    },
    Check {
        id: "policy-valid",
        run: policy_valid,
    },
    Check {
        id: "ledger-writable",
        run: ledger_writable,
    },
    Check {
        id: "ledger-verifies",
        run: ledger_verifies,
    },
    Check {
        id: "signing-key",
        run: signing_key,
    },
    Check {
        id: "spool-empty",
        run: spool_empty,
    },
    Check {
        id: "export-cursors",
        run: export_cursors,
    },
    Check {
        id: "claude-code-version",
        run: claude_code_version,
    },
    Check {
        id: "git-shims",
        run: git_shims,
    },
];

const INSTALL_FIX: &str = "run `hookledger install` (your user) or `sudo hookledger install --managed` (every user); both write hookledger's entries in exec form with a timeout";
/// How long `--version` of another program may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    let stale_after_secs = super::time::parse_duration_arg(&args.stale_after)?;
    let paths = Paths::from_env()?;
    let project = match &args.project {
        Some(dir) => Some(dir.clone()),
        None => std::env::current_dir().ok(),
    };
    let settings = claude::load_layers(&Locations::discover(args.root.as_deref(), project.clone()));
    let context = Context {
        ledger: crate::config::ledger_path(ledger)?,
        managed_policy_dir: policy_file::managed_dir_under(args.root.as_deref()),
        hookledger_home: paths.home,
        registrations: claude::registrations(&settings),
        switches: claude::hook_switches(&settings),
        settings,
        stale_after_secs,
        now_ns: crate::ledger::now_ns(),
        project,
    };
    let results: Vec<(&str, Finding)> = CHECKS
        .iter()
        .map(|check| (check.id, (check.run)(&context)))
        .collect();
    let failed = results
        .iter()
        .filter(|(_, f)| f.status == Status::Fail)
        .count();
    if args.json {
        let checks: Vec<serde_json::Value> = results
            .iter()
            .map(|(id, finding)| {
                let mut check = serde_json::Map::new();
                check.insert("id".into(), serde_json::json!(id));
                if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(finding) {
                    check.extend(fields);
                }
                serde_json::Value::Object(check)
            })
            .collect();
        let report = serde_json::json!({
            "ok": failed == 0,
            "hookledger_version": env!("CARGO_PKG_VERSION"),
            "passed": results.len() - failed,
            "failed": failed,
            "checks": checks,
        });
        super::out(&format!("{report}\n"))?;
    } else {
        super::out(&render(&results, failed))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render(results: &[(&str, Finding)], failed: usize) -> String {
    let paint = super::Paint::stdout();
    let mut text = String::new();
    for (id, finding) in results {
        let status = match finding.status {
            Status::Pass => paint.good("PASS"),
            Status::Fail => paint.bad("FAIL"),
        };
        text.push_str(&format!("{status}  {id:<20} {}\n", finding.message));
        for detail in &finding.details {
            text.push_str(&format!("      {:<20} - {detail}\n", ""));
        }
        if let Some(fix) = &finding.fix {
            text.push_str(&format!(
                "      {:<20} {} {fix}\n",
                "",
                paint.strong("fix:")
            ));
        }
    }
    let summary = format!(
        "{} checks: {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    );
    text.push_str(&if failed == 0 {
        paint.good(&summary)
    } else {
        paint.bad(&summary)
    });
    text.push('\n');
    text
}

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
        super::hook::deadline().as_secs_f64()
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

fn ledger_verifies(ctx: &Context) -> Finding {
    let path = &ctx.ledger;
    if !path.exists() {
        return Finding::pass("no ledger yet: nothing to verify");
    }
    let bar = super::verify::progress_bar();
    let mut progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    };
    let report = crate::ledger::verify::verify(path, &mut progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
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
    let triggers = Ledger::open_read_only(path)
        .and_then(|l| health::append_only_triggers_present(l.connection()));
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
    let threshold = super::time::age(ctx.stale_after_secs);
    let mut stale = Vec::new();
    let mut fresh = Vec::new();
    for (sink, cursor) in &cursors {
        let idle_secs = (ctx.now_ns - cursor.updated_ns) / 1_000_000_000;
        let behind = head.saturating_sub(cursor.acked);
        if behind > 0 && idle_secs > ctx.stale_after_secs {
            stale.push(format!(
                "{sink}: acknowledged through seq {} of {head} ({behind} behind), cursor last moved {} ago",
                cursor.acked,
                super::time::age(idle_secs)
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

/// The project's git hook shims: every one installed and active where git looks, so commits
/// are attributed and anchored.
fn git_shims(ctx: &Context) -> Finding {
    let Some(project) = &ctx.project else {
        return Finding::pass("no project directory: no git shims to check");
    };
    let statuses = match crate::git::hooks::status(project) {
        Ok(statuses) => statuses,
        Err(crate::git::hooks::HooksError::Git(crate::git::repo::GitError::NotARepository(_))) => {
            return Finding::pass(format!(
                "{} is not in a git repository: no git shims to check",
                project.display()
            ));
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
        let age = super::time::age((ctx.now_ns - found.ts_ns) / 1_000_000_000);
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
        return Finding::pass(lines.join("; "));
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
