fn main() -> std::process::ExitCode {
    hookledger::cli::main()
}
