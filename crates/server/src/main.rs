//! `hookledger-server`: the fleet receiver. Machines ship their ledgers to it with
//! `hookledger ship --url …/v1/ingest --bearer-token-env VAR`; it verifies every batch
//! incrementally (the checks of `verify-export`), stores what verified with the verification
//! state and the findings, and says per machine what it knows (`machines`).

mod alerts;
mod cli;
mod http;
mod records;
mod store;

fn main() -> std::process::ExitCode {
    cli::main()
}
