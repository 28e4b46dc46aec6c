//! One integration-test binary (ripgrep's layout): each module runs the real `hookledger`
//! binary on real SQLite files in temp dirs.

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

mod support;
mod util;

// Completions, man page, colour, one-line errors, --json.
mod cli;
// Every stable code family: unique, and documented in docs/codes.md.
mod codes;
// install.sh: user and managed installs, upgrades, uninstall.
mod deploy;
// Every doctor check, healthy and broken on purpose.
mod doctor;
// The real Claude Code CLI driving the real binary.
mod e2e;
// The real Claude Code trying to switch hookledger off.
mod e2e_selfprot;
// Hook events in, records and answers out; every bad input.
mod hook_events;
// The settings merge behind install/uninstall.
mod install;
// No DLP-detected secret in any file the ledger leaves.
mod dlp_at_rest;
// Policy decisions, table-driven.
mod policy;
// Self-protection by identity, in process and through the hook.
mod selfprot;
// Gating payloads of an unexpected shape get `on_error`.
mod payload_shape;
// Concurrency, kill -9, and a ledger that cannot be written.
mod robustness;

// Export batches, cursors and the receiver's check.
mod export;
// Shipping over HTTP to a collector on loopback.
mod ship;
// A real Claude Code session shipped into the fleet server (hookledger-server).
mod fleet;
// The auditor's evidence report.
mod report;
// Retention (prune) and heartbeat checkpoints.
mod retention;
// Git hooks, notes, rewrites and `git verify` on real repositories.
mod git_provenance;
// Edited, deleted, inserted and swapped records.
mod tamper;
// The hook's path to the ledger under fault injection: held locks, a huge or forged spool,
// a changed -shm, FIFO transcripts, a lost signing key, 64 writers. Named to sort last: libtest
// starts tests in name order, and its load tests would starve the policy tests' 15 ms budgets.
mod under_faults;
