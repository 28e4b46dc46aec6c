//! `hookledger hook [--event NAME]`: the entry Claude Code runs for every event.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::ledger::spool;

use crate::config::Paths;
use crate::hook::event::EventKind;
use crate::hook::wire::MAX_PAYLOAD_BYTES;
use crate::hook::{self, HookAnswer, HookEnv};
use crate::policy::rules;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event this registration is for; used when the payload cannot be read, to decide
    /// whether a failure must block
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    execute(args.event)
}

/// Hand-parsed so that a bad argument is still answered by the hook contract (a refusal on
/// stderr with exit 2) instead of clap's usage text.
pub fn run_from_args(args: &[OsString]) -> ExitCode {
    let mut event = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--event" {
            event = iter.next().map(|v| v.to_string_lossy().into_owned());
        } else if let Some(value) = arg.strip_prefix("--event=") {
            event = Some(value.to_owned());
        }
        // Unknown arguments are ignored: a newer registration must not break an older binary.
    }
    execute(event)
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

fn execute(event_hint: Option<String>) -> ExitCode {
    // A panic must become a one-line refusal, never a trace on stderr and exit 101 (which
    // Claude Code treats as "carry on").
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        if let Ok(mut slot) = PANIC_MESSAGE.lock() {
            *slot = Some(format!("{message}{location}"));
        }
    }));
    start_watchdog(event_hint.as_deref());
    let hint = event_hint.clone();
    let answer = std::panic::catch_unwind(move || {
        let stdin = read_stdin();
        if let Ok(bytes) = &stdin {
            let _ = STDIN.set(bytes.clone());
        }
        let env = match Paths::from_env() {
            Ok(paths) => HookEnv::new(paths),
            Err(e) => {
                let event = hint.as_deref().map(EventKind::from_name);
                return HookAnswer::refuse(
                    event.as_ref(),
                    &format!("hookledger [{}]: {e}", rules::HOOK_ERROR),
                );
            }
        };
        match stdin {
            Ok(bytes) => hook::handle(&bytes, hint.as_deref(), &env),
            Err(e) => hook::handle(&[], hint.as_deref(), &env).with_context(&e),
        }
    })
    .unwrap_or_else(|_| {
        let message = PANIC_MESSAGE
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .unwrap_or_default();
        let event = event_hint.as_deref().map(EventKind::from_name);
        let reason = format!(
            "hookledger [{}]: internal error: {message}",
            rules::HOOK_ERROR
        );
        match event {
            Some(e) if !e.is_gating() => HookAnswer::warn(&reason),
            e => HookAnswer::refuse(e.as_ref(), &reason),
        }
    });
    if !deliver(&answer) {
        // The watchdog answered first and is exiting the process.
        std::thread::sleep(Duration::from_secs(5));
    }
    ExitCode::from(answer.exit_code)
}

/// The payload, for the watchdog's record of an event it had to refuse.
static STDIN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// Set by whichever of the main thread and the watchdog answers first; the other stays quiet.
static ANSWERED: AtomicBool = AtomicBool::new(false);

fn deliver(answer: &HookAnswer) -> bool {
    if ANSWERED.swap(true, Ordering::SeqCst) {
        return false;
    }
    let _ = std::io::stdout().write_all(answer.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(answer.stderr.as_bytes());
    true
}

/// How long a gating hook may take before it refuses on its own.
pub const DEADLINE_ENV: &str = "HOOKLEDGER_DEADLINE_MS";
/// Below the 10 s timeout in the registration: Claude Code lets a timed-out hook through.
const DEFAULT_DEADLINE: Duration = Duration::from_millis(5000);

/// The gating deadline in force: `HOOKLEDGER_DEADLINE_MS`, else 5 s.
pub fn deadline() -> Duration {
    std::env::var(DEADLINE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_DEADLINE, Duration::from_millis)
}

/// Claude Code treats a hook that times out as "carry on". A gating hook (or one whose event
/// is unknown) therefore refuses by itself when its own work overruns, whatever is stuck (a
/// lock, a slow disk, a pathological input), and notes that in the spool.
fn start_watchdog(event_hint: Option<&str>) {
    let event = event_hint.map(EventKind::from_name);
    if event.as_ref().is_some_and(|e| !e.is_gating()) {
        return;
    }
    let deadline = deadline();
    let hint = event_hint.map(str::to_owned);
    let spawned = std::thread::Builder::new()
        .name("deadline".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            let reason = format!(
                "hookledger [{}]: no decision within {} ms, so the call is refused (fail closed)",
                rules::DEADLINE_EXCEEDED,
                deadline.as_millis()
            );
            if !deliver(&HookAnswer::refuse(event.as_ref(), &reason)) {
                return;
            }
            if let Ok(paths) = Paths::from_env() {
                let stdin = STDIN.get().map_or(&[][..], Vec::as_slice);
                let value = crate::hook::record::hook_error(stdin, &reason, hint.as_deref());
                let record = crate::ledger::NewRecord {
                    ts_ns: crate::ledger::now_ns(),
                    kind: crate::hook::record::kinds::HOOK_ERROR.to_owned(),
                    payload: crate::ledger::canonical_json(&value),
                };
                let _ = spool::append(
                    &spool::spool_path(&paths.ledger()),
                    &record,
                    "deadline exceeded",
                );
            }
            std::process::exit(i32::from(crate::hook::answer::BLOCK_EXIT));
        });
    // Without a watchdog thread the hook still works; it just cannot bound its own time.
    drop(spawned);
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    // One byte past the limit is enough to know it was exceeded, without buffering the rest.
    let limit = u64::try_from(MAX_PAYLOAD_BYTES).unwrap_or(u64::MAX) + 1;
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

trait WithContext {
    fn with_context(self, error: &std::io::Error) -> Self;
}

impl WithContext for HookAnswer {
    fn with_context(mut self, error: &std::io::Error) -> Self {
        if !self.stderr.is_empty() {
            self.stderr = format!(
                "{} (reading stdin failed: {error})\n",
                self.stderr.trim_end()
            );
        }
        self
    }
}
