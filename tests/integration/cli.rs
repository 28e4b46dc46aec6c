//! The command line as a whole: completions and man page from the clap definitions, colour only
//! for a terminal, one-line errors with a hint, and `--json` wherever data is printed.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::util::*;

fn run(args: &[&str]) -> Output {
    Home::new().run(args)
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef hookledger"),
        ("fish", "complete -c hookledger"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[hookledger]"),
    ] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {marker:?} missing");
        for subcommand in ["doctor", "verify", "install", "completions"] {
            assert!(script.contains(subcommand), "{shell} lacks {subcommand}");
        }
    }
    // The bash script is valid bash.
    let out = run(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hookledger.bash");
    std::fs::write(&file, &out.stdout).unwrap();
    let status = Command::new("bash").arg("-n").arg(&file).status().unwrap();
    assert!(status.success());
    let out = run(&["completions", "tcsh"]);
    assert_refused(&out, "invalid value 'tcsh'");
}

/// Runs groff over a page with warnings on; a malformed page warns.
fn groff_warnings(page: &[u8]) -> Option<String> {
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child.stdin.take()?.write_all(page).ok()?;
    let out = child.wait_with_output().ok()?;
    Some(text(&out.stderr))
}

#[test]
fn man_page_is_roff_for_every_subcommand() {
    let out = run(&["man"]);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.contains(".TH hookledger 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"));
    assert!(page.contains("hookledger\\-doctor"), "{page}");
    if let Some(warnings) = groff_warnings(&out.stdout) {
        assert_eq!(warnings, "", "groff warnings");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for page in [
        "hookledger.1",
        "hookledger-doctor.1",
        "hookledger-policy-check.1",
    ] {
        let bytes = std::fs::read(dir.path().join(page)).unwrap_or_else(|_| panic!("{page}"));
        assert!(text(&bytes).contains(".TH"), "{page}");
    }
}

/// Runs `args` on a pseudo-terminal (util-linux `script`), as a person at a terminal would.
fn on_terminal(home: &Home, args: &str, no_color: bool) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .env("HOOKLEDGER_HOME", home.home())
        .env("TERM", "xterm-256color")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .stdin(Stdio::null());
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let out = cmd.output().expect("script (util-linux)");
    text(&out.stdout)
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let home = Home::new();
    let root = home.path().join("root");
    let doctor = format!("doctor --root {}", root.display());
    let coloured = on_terminal(&home, &doctor, false);
    assert!(
        coloured.contains("\u{1b}["),
        "a terminal gets colour: {coloured:?}"
    );
    assert!(coloured.contains("FAIL"));
    let plain = on_terminal(&home, &doctor, true);
    assert!(plain.contains("FAIL"), "{plain:?}");
    assert!(!plain.contains("\u{1b}["), "NO_COLOR: {plain:?}");
    // clap's help follows the same rules.
    assert!(on_terminal(&home, "--help", false).contains("\u{1b}["));
    assert!(!on_terminal(&home, "--help", true).contains("\u{1b}["));
    let piped = home.run(&["doctor", "--root", root.to_str().unwrap()]);
    assert!(!text(&piped.stdout).contains('\u{1b}'));
}

#[test]
fn errors_are_one_line_with_a_hint() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&payload("Stop", json!({}))));
    let missing = home.path().join("missing.db");
    let not_a_ledger = home.path().join("not-a-ledger.db");
    std::fs::write(&not_a_ledger, "hello").unwrap();
    let m = missing.to_str().unwrap();
    let n = not_a_ledger.to_str().unwrap();
    for (args, hint) in [
        (vec!["verify", "--bogus"], "see `hookledger verify --help`"),
        (
            vec!["log", "--decision", "maybe"],
            "see `hookledger log --help`",
        ),
        (
            vec!["policy", "check", "--bogus"],
            "see `hookledger policy check --help`",
        ),
        (vec!["show"], "see `hookledger show --help`"),
        (
            vec!["log", "--ledger", m],
            "the first hook event creates it",
        ),
        (
            vec!["verify", "--ledger", m],
            "the first hook event creates it",
        ),
        (vec!["show", "1", "--ledger", n], "pass --ledger"),
        (vec!["show", "999"], "the ledger has records 1..="),
        (
            vec!["log", "--since", "yesterday-ish"],
            "use a duration like 7d",
        ),
        (vec!["log", "--path", "a/[b"], "invalid --path glob"),
        (
            vec!["policy", "explain", "--tool", "Read", "--input", "[1]"],
            "must be a JSON object",
        ),
        (
            vec!["doctor", "--stale-after", "soon"],
            "use a number and a unit",
        ),
        (vec!["completions", "tcsh"], "possible values"),
    ] {
        let out = home.run(&args);
        assert_refused(&out, hint);
    }
}

/// Every command that prints data can print it as JSON.
#[test]
fn json_everywhere() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&payload("UserPromptSubmit", json!({"prompt": "hi"}))));
    let stable = stable_tempdir();
    let binary = install_binary(stable.path());
    let settings = home.path().join("settings.json");
    let s = settings.to_str().unwrap();
    let root = home.path().join("root");
    let r = root.to_str().unwrap();
    for args in [
        vec!["verify", "--json"],
        vec!["log", "--json"],
        vec!["show", "2", "--json"],
        vec!["policy", "check", "--json"],
        vec![
            "policy",
            "explain",
            "--tool",
            "Read",
            "--path",
            "/etc/passwd",
            "--json",
        ],
        vec![
            "install",
            "--settings",
            s,
            "--binary",
            binary.to_str().unwrap(),
            "--json",
        ],
        vec!["uninstall", "--settings", s, "--json"],
        vec!["doctor", "--root", r, "--json"],
    ] {
        let out = home.run(&args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            text(&out.stderr)
        );
        for line in text(&out.stdout).lines() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{args:?} printed non-JSON {line:?}: {e}"));
            assert!(value.is_object(), "{args:?}");
        }
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    assert!(!Path::new(s).exists());
}

/// `show` and `verify` print times as UTC RFC 3339, as the JSON and the exports do, whatever
/// the machine's zone.
#[test]
fn show_and_verify_print_utc_rfc3339() {
    let home = Home::new();
    assert_no_opinion(&home.hook(&payload("UserPromptSubmit", json!({"prompt": "hi"}))));
    let out = home.run(&["checkpoint"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let in_new_york = |args: &[&str]| {
        let mut cmd = home.command();
        cmd.args(args).env("TZ", "America/New_York");
        run_with_stdin(cmd, b"")
    };
    let shown: Value = serde_json::from_slice(&home.run(&["show", "2", "--json"]).stdout).unwrap();
    let ts = shown["ts"].as_str().unwrap();
    assert!(ts.ends_with('Z'), "{ts}");
    let out = in_new_york(&["show", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("\ntime       {ts}\n")),
        "{}",
        text(&out.stdout)
    );

    let (code, report) = home.verify_json();
    assert_eq!(code, 0, "{report}");
    let time_ns = report["last_checkpoint"]["time_ns"].as_i64().unwrap();
    let out = in_new_york(&["verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signed = text(&out.stdout)
        .lines()
        .find(|l| l.starts_with("signed"))
        .unwrap()
        .to_owned();
    let printed = signed.rsplit(", ").next().unwrap();
    let parsed: jiff::Timestamp = printed.parse().unwrap();
    assert_eq!(parsed.as_nanosecond(), i128::from(time_ns), "{signed}");
    assert!(printed.ends_with('Z'), "{signed}");
}
