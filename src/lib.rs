/*!
hookledger: a policy gate and tamper-evident ledger for Claude Code hooks.

- [`hook`]: handles one hook event (wire payload → record → answer).
- [`ledger`]: the append-only, BLAKE3-chained SQLite ledger, its spool and its verifier.
- [`policy`]: decisions and their stable rule codes.
- [`git`]: repository facts recorded with sessions and edits.
- [`config`]: where files live.
- [`doctor`]: `hookledger doctor`'s checks, each with a stable id.
- [`export`]: NDJSON export (native, ECS, OCSF), cursors, segments, shipping, the receiver.
- [`report`]: the auditor's evidence pack for a period.
- [`output`]: writing a file someone named (atomic for regular files, in place for devices and FIFOs).
- [`cli`]: the command line; the only layer that prints to stdout.
*/

// The command line prints by design: its output and its messages are what a command is for.
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod cli;
pub mod config;
pub mod doctor;
pub mod git;
pub mod hook;
pub mod report;

// The library crates, under the names the CLI's modules have always used.
pub use hookledger_ledger as ledger;
pub use hookledger_ledger::{export, output};
pub use hookledger_policy as policy;
