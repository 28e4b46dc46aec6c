//! The latency floor for a hook written in Rust: read the payload from stdin to EOF, parse it as
//! JSON, exit 0. `benches/hook_latency` spawns it exactly like `hookledger hook` and reports the
//! hook's latency as a multiple of this one's.

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut bytes = Vec::new();
    if std::io::stdin().lock().read_to_end(&mut bytes).is_err() {
        return ExitCode::from(2);
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        // Keep the parse from being optimized away.
        Ok(value) => ExitCode::from(u8::from(!value.is_object())),
        Err(_) => ExitCode::from(2),
    }
}
