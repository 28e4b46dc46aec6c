//! The hook's guard: whatever happens inside the handler, Claude Code gets an answer in time.
//!
//! A deadline (a watchdog thread for gating events, `SIGALRM` for the others), a panic hook
//! that turns a panic into a one-line refusal, and fault handlers (SIGBUS, SIGABRT, SIGSEGV)
//! that give the armed answer. Whoever answers first (the main thread, the watchdog, a signal
//! handler) writes the answer to stdout; the others stay quiet. This is the one place outside
//! `cli/` that writes to stdout, because the answer must go out even when the main thread is
//! stuck.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::ledger::{bounded, fault, spool};

use crate::config::Paths;
use crate::hook::event::EventKind;
use crate::hook::wire::MAX_PAYLOAD_BYTES;
use crate::hook::{self, HookAnswer, HookEnv};
use crate::policy::rules;

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Handles one event read from stdin under the guard, writes the answer, and returns the exit
/// code it promised. `event_hint` is `--event`: what to assume when the payload cannot be read.
pub fn execute(event_hint: Option<String>) -> ExitCode {
    let started = Instant::now();
    let budget = deadline();
    // Every wait of this process (locks, SQLite, the spool merge) ends before this.
    bounded::set_process_deadline(started, budget);
    install_fault_handlers();
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
    start_deadline(event_hint.as_deref(), started + budget, budget);
    let hint = event_hint.clone();
    let answer = std::panic::catch_unwind(move || {
        let stdin = read_stdin();
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

/// The payload as far as it has arrived, for the watchdog's record of an event it had to
/// answer itself (stdin may be what never finished).
static STDIN: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// What [`STDIN`] holds, without waiting long for the reader thread's lock.
fn stdin_so_far() -> Vec<u8> {
    for _ in 0..50 {
        if let Ok(bytes) = STDIN.try_lock() {
            return bytes.clone();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Vec::new()
}

/// Who answers: whichever of the main thread, the watchdog and a fault handler claims it
/// first ([`NOBODY`] → [`ANSWERING`] → [`ANSWERED`]); the others stay quiet. [`ANSWER_CODE`]
/// is the exit code that answer promised.
static ANSWER_STATE: AtomicU8 = AtomicU8::new(NOBODY);
static ANSWER_CODE: AtomicU8 = AtomicU8::new(0);
const NOBODY: u8 = 0;
const ANSWERING: u8 = 1;
const ANSWERED: u8 = 2;

fn claim_answer(code: u8) -> bool {
    let claimed = ANSWER_STATE
        .compare_exchange(NOBODY, ANSWERING, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if claimed {
        ANSWER_CODE.store(code, Ordering::SeqCst);
    }
    claimed
}

fn deliver(answer: &HookAnswer) -> bool {
    if !claim_answer(answer.exit_code) {
        return false;
    }
    let _ = std::io::stdout().write_all(answer.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(answer.stderr.as_bytes());
    ANSWER_STATE.store(ANSWERED, Ordering::SeqCst);
    true
}

/// Writes all of `bytes` to stdout (`fd` 1) or stderr (2) with plain `write(2)`: no lock (the
/// main thread may hold stdout's), no allocation. Async-signal-safe.
#[cfg(unix)]
fn write_fd(fd: libc::c_int, bytes: &[u8]) {
    let mut done = 0;
    while done < bytes.len() {
        // SAFETY: a live buffer and its length.
        let n = unsafe { libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        done += n.unsigned_abs();
    }
}

#[cfg(not(unix))]
fn write_fd(fd: i32, bytes: &[u8]) {
    if fd == 1 {
        let _ = std::io::stdout().write_all(bytes);
        let _ = std::io::stdout().flush();
    } else {
        let _ = std::io::stderr().write_all(bytes);
    }
}

/// Ends the process at once: `_exit` runs no exit handlers and flushes no stdio buffer, so it
/// waits on nothing. Async-signal-safe.
fn exit_now(code: u8) -> ! {
    #[cfg(unix)]
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe {
        libc::_exit(libc::c_int::from(code))
    }
    #[cfg(not(unix))]
    std::process::exit(i32::from(code))
}

/// Gives `answer` unless someone else already claimed it (then waits, at most a second, for
/// that answer to be written out), and ends the process ([`exit_now`]). Async-signal-safe.
fn answer_and_exit(stdout: &[u8], stderr: &[u8], code: u8) -> ! {
    let code = if claim_answer(code) {
        write_fd(1, stdout);
        write_fd(2, stderr);
        code
    } else {
        for _ in 0..1000 {
            if ANSWER_STATE.load(Ordering::SeqCst) == ANSWERED {
                break;
            }
            pause_1ms();
        }
        ANSWER_CODE.load(Ordering::SeqCst)
    };
    exit_now(code)
}

fn pause_1ms() {
    #[cfg(unix)]
    {
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        // SAFETY: nanosleep is async-signal-safe; a null remainder is allowed.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
    }
    #[cfg(not(unix))]
    std::thread::sleep(Duration::from_millis(1));
}

/// A signal that would kill the hook without an answer (SIGBUS when SQLite's mapped `-shm`
/// is truncated under it; the others for the same guarantee): keep the armed record, give the
/// armed answer, exit. Only pre-built bytes, BLAKE3 on stack buffers and async-signal-safe
/// calls.
#[cfg(unix)]
extern "C" fn on_fault(_signal: libc::c_int) {
    match fault::settle() {
        Some(answer) => answer_and_exit(&answer.stdout, &answer.stderr, answer.code),
        None => answer_and_exit(
            b"",
            UNARMED_FAULT.as_bytes(),
            crate::hook::answer::BLOCK_EXIT,
        ),
    }
}

#[cfg(unix)]
const UNARMED_FAULT: &str =
    "hookledger [hook-error]: the hook process was killed by a signal before it read its event\n";

#[cfg(unix)]
fn install_fault_handlers() {
    // SAFETY: sigaction with a zeroed struct and our handler.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        // SIGBUS from a truncated `-shm`, SIGABRT from an abort (a double panic, the allocator
        // finding its heap corrupt): the handler runs on the thread's own stack, which it needs
        // (BLAKE3 for the spool line's MAC uses a few KiB).
        for signal in [libc::SIGBUS, libc::SIGABRT] {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        // SIGSEGV may be a stack overflow: run on the small alternate stack Rust's runtime
        // sets up for each thread (if even that is too small, the process dies as it would
        // have without the handler).
        action.sa_flags = libc::SA_ONSTACK;
        libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
    }
}

/// Elsewhere there is no `-shm` mapping to lose; the deadline still holds.
#[cfg(not(unix))]
fn install_fault_handlers() {
    let _ = fault::last_words();
}

/// How long a hook may take before it answers on its own.
pub const DEADLINE_ENV: &str = "HOOKLEDGER_DEADLINE_MS";
/// Below the 10 s timeout in the registration: Claude Code lets a timed-out hook through.
const DEFAULT_DEADLINE: Duration = Duration::from_millis(5000);
/// The longest deadline accepted, a second below the registration's 10 s timeout.
const MAX_DEADLINE: Duration = Duration::from_millis(9000);

/// The deadline in force: `HOOKLEDGER_DEADLINE_MS`, else 5 s; never above 9 s.
pub fn deadline() -> Duration {
    std::env::var(DEADLINE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_DEADLINE, Duration::from_millis)
        .min(MAX_DEADLINE)
}

/// The deadline of this process. A gating (or unknown) event gets a watchdog thread, which
/// answers even when the main thread is stuck where no signal reaches it (a slow disk) and
/// records what arrived. Any other event gets a `SIGALRM` ([`arm_deadline_alarm`]): a thread
/// costs every event its start and teardown (about 0.1 ms here), and for an event that blocks
/// nothing the answer matters less than the record, which the alarm keeps.
fn start_deadline(event_hint: Option<&str>, at: Instant, budget: Duration) {
    #[cfg(unix)]
    if let Some(event) = event_hint.map(EventKind::from_name)
        && !event.is_gating()
        && arm_deadline_alarm(event_hint, &event, budget)
    {
        return;
    }
    start_watchdog(event_hint, at);
}

/// What the deadline alarm answers (a pre-built warning).
#[cfg(unix)]
static ALARM_ANSWER: std::sync::atomic::AtomicPtr<fault::Answer> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Arms `SIGALRM` at the deadline, with a warning as the answer and, until the event arms its
/// own, a `hook-error` record of the event as the last words. `false` when it cannot.
#[cfg(unix)]
fn arm_deadline_alarm(event_hint: Option<&str>, event: &EventKind, budget: Duration) -> bool {
    let reason = format!(
        "hookledger [{}]: this event was not handled within {} ms; what arrived is recorded",
        rules::DEADLINE_EXCEEDED,
        budget.as_millis()
    );
    let answer = HookAnswer::refuse(Some(event), &reason);
    let answer = fault::Answer {
        stdout: answer.stdout.into_bytes(),
        stderr: answer.stderr.into_bytes(),
        code: answer.exit_code,
    };
    if let Ok(paths) = Paths::from_env() {
        let value = crate::hook::record::hook_error(&[], &reason, event_hint);
        let record = crate::ledger::NewRecord {
            ts_ns: crate::ledger::now_ns(),
            kind: crate::ledger::Kind::HookError.as_str().to_owned(),
            payload: crate::ledger::canonical_json(&value),
        };
        if let Ok(prepared) = spool::prepare(&spool::spool_path(&paths.ledger()), &record) {
            fault::arm(fault::LastWords {
                shot: prepared.shot("deadline exceeded before the payload was read"),
                recorded: answer.clone(),
                unrecorded: answer.clone(),
            });
        }
    }
    ALARM_ANSWER.store(Box::into_raw(Box::new(answer)), Ordering::SeqCst);
    let micros = |d: Duration| libc::timeval {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(d.subsec_micros()),
    };
    // SAFETY: sigaction with a zeroed struct and our handler; setitimer with valid structs.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_deadline_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()) != 0 {
            return false;
        }
        let timer = libc::itimerval {
            it_interval: micros(Duration::ZERO),
            it_value: micros(budget.max(Duration::from_millis(1))),
        };
        libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) == 0
    }
}

/// The deadline of a non-gating event passed: keep the armed record, warn, exit.
/// Async-signal-safe.
#[cfg(unix)]
extern "C" fn on_deadline_alarm(_signal: libc::c_int) {
    let _ = fault::settle();
    // SAFETY: only `arm_deadline_alarm` stores here, a leaked Box that is never freed.
    match unsafe { ALARM_ANSWER.load(Ordering::SeqCst).as_ref() } {
        Some(answer) => answer_and_exit(&answer.stdout, &answer.stderr, answer.code),
        None => answer_and_exit(b"", b"", crate::hook::answer::WARN_EXIT),
    }
}

/// Claude Code treats a hook that times out as "carry on". A hook therefore answers by itself
/// when its own work overruns, whatever is stuck (a lock, a slow disk, a pathological input):
/// a gating (or unknown) event is refused, any other gets a visible warning. What arrived is
/// spooled as a `hook-error` record, written without any lock, and the process `_exit`s.
fn start_watchdog(event_hint: Option<&str>, at: Instant) {
    let event = event_hint.map(EventKind::from_name);
    let hint = event_hint.map(str::to_owned);
    let spawned = std::thread::Builder::new()
        .name("deadline".into())
        .spawn(move || {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            let budget = deadline();
            let reason = match &event {
                Some(e) if !e.is_gating() => format!(
                    "hookledger [{}]: this event was not handled within {} ms; what arrived is \
                     recorded",
                    rules::DEADLINE_EXCEEDED,
                    budget.as_millis()
                ),
                _ => format!(
                    "hookledger [{}]: no decision within {} ms, so the call is refused (fail \
                     closed)",
                    rules::DEADLINE_EXCEEDED,
                    budget.as_millis()
                ),
            };
            let answer = HookAnswer::refuse(event.as_ref(), &reason);
            if !claim_answer(answer.exit_code) {
                // The main thread is answering and on its way out.
                return;
            }
            // The answer goes out before anything else: Claude Code may be about to give up.
            write_fd(1, answer.stdout.as_bytes());
            write_fd(2, answer.stderr.as_bytes());
            ANSWER_STATE.store(ANSWERED, Ordering::SeqCst);
            if let Ok(paths) = Paths::from_env() {
                let stdin = stdin_so_far();
                let value = crate::hook::record::hook_error(&stdin, &reason, hint.as_deref());
                let record = crate::ledger::NewRecord {
                    ts_ns: crate::ledger::now_ns(),
                    kind: crate::ledger::Kind::HookError.as_str().to_owned(),
                    payload: crate::ledger::canonical_json(&value),
                };
                let _ = spool::append(
                    &spool::spool_path(&paths.ledger()),
                    &record,
                    "deadline exceeded",
                );
            }
            exit_now(answer.exit_code);
        });
    // Without a watchdog thread the hook still works; it just cannot bound its own time.
    drop(spawned);
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    // One byte past the limit is enough to know it was exceeded, without buffering the rest.
    let limit = MAX_PAYLOAD_BYTES + 1;
    let mut input = std::io::stdin().lock();
    // On the stack: a zeroed 64 KiB heap buffer cost every event 16 page faults.
    let mut chunk = [0u8; 8 << 10];
    loop {
        let room = limit.saturating_sub(STDIN.lock().map_or(0, |b| b.len()));
        if room == 0 {
            break;
        }
        let want = room.min(chunk.len());
        let n = match input.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Ok(mut bytes) = STDIN.lock() {
            bytes.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(STDIN.lock().map(|b| b.clone()).unwrap_or_default())
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
