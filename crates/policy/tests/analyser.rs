//! The shell analyser in process: its time budget (deterministically, through the `World`),
//! and properties over generated input: it never panics (nor falls back on its panic guard),
//! and quoting a word differently but equivalently never changes the decision.

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

use std::path::{Path, PathBuf};

use hookledger_policy::file::{LoadedLayer, parse};
use hookledger_policy::protect::Context;
use hookledger_policy::shell::analyze_bash;
use hookledger_policy::{Action, Budget, Event, FakeWorld, Layer, Policy, Verdict};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// A repository with a `.env` and sources, and a policy that denies reading `.env` and asks
/// about unanalyzable commands. Built once per test; the files only need to exist.
struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    home: PathBuf,
    policy: Policy,
    world: FakeWorld,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let repo = root.join("repo");
    for (path, text) in [
        (".git/HEAD", "ref: refs/heads/main\n"),
        (".env", "A=1"),
        ("src/main.rs", ""),
    ] {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".ssh")).expect("mkdir");
    let policy_json = json!({
        "version": 1,
        "unanalyzable": "ask",
        "paths": {"deny_read": ["**/.env", "~/.ssh/**"], "deny_write": [".github/workflows/**"]},
        "tools": {"deny": ["WebFetch"]}
    });
    let layer = LoadedLayer {
        layer: Layer::Managed,
        path: root.join("managed/policy.json"),
        file: parse(Path::new("policy.json"), &policy_json.to_string()).expect("valid"),
    };
    let cx = Context {
        hookledger_home: root.join("hl"),
        home: Some(home.clone()),
        claude_config_dir: None,
        managed_policy_dir: root.join("managed"),
        binary: Some(root.join("bin/hookledger")),
    };
    let world = FakeWorld::with_repository(&repo, &[("origin", &["https://github.com/a/b"])]);
    Setup {
        _dir: dir,
        repo,
        home,
        policy: Policy::with_context(vec![layer], cx),
        world,
    }
}

impl Setup {
    fn bash(&self, command: &str) -> Verdict {
        let mut input = Map::new();
        input.insert("command".into(), Value::String(command.to_owned()));
        self.tool("Bash", &input)
    }

    fn tool(&self, tool: &str, input: &Map<String, Value>) -> Verdict {
        self.policy.judge(
            &Event::Tool {
                tool,
                input,
                cwd: &self.repo,
            },
            &self.world,
        )
    }
}

const PANIC_GUARD: &str = "the shell parser failed on this command";

#[test]
fn a_spent_budget_makes_the_command_unanalyzable() {
    let s = setup();
    let command = "git status --short && cargo test 2>&1 | tail -20";
    // No budget: fully analysed.
    let free = analyze_bash(command, &s.repo, Some(&s.home), &s.world);
    assert!(free.unanalyzable.is_empty(), "{:?}", free.unanalyzable);
    // A zero budget is spent at the first check, whatever the clock or the machine's load.
    let spent = FakeWorld {
        budget: Budget::Wall(std::time::Duration::ZERO),
        ..s.world.clone()
    };
    let analysis = analyze_bash(command, &s.repo, Some(&s.home), &spent);
    assert_eq!(
        analysis.unanalyzable,
        vec!["analysing the command took longer than 0 ms".to_owned()]
    );
    assert!(analysis.opaque_beyond_reads);
    // And the policy's `unanalyzable` setting decides.
    let mut input = Map::new();
    input.insert("command".into(), json!(command));
    let verdict = s.policy.judge(
        &Event::Tool {
            tool: "Bash",
            input: &input,
            cwd: &s.repo,
        },
        &spent,
    );
    assert_eq!(
        (verdict.decision.action, verdict.decision.rule),
        (Action::Ask, "unanalyzable-command")
    );
    assert_eq!(verdict.unanalyzable, analysis.unanalyzable);
    // A generous wall-clock budget is not spent by a short command.
    let generous = FakeWorld {
        budget: Budget::Wall(std::time::Duration::from_secs(3600)),
        ..s.world.clone()
    };
    assert!(
        analyze_bash(command, &s.repo, Some(&s.home), &generous)
            .unanalyzable
            .is_empty()
    );
}

#[test]
fn remotes_come_from_the_world() {
    let s = setup();
    let verdict = s.bash("git push");
    assert_eq!(
        verdict
            .remotes
            .iter()
            .map(|r| r.url.as_str())
            .collect::<Vec<_>>(),
        vec!["github.com/a/b"]
    );
    let mut elsewhere = s.world.clone();
    elsewhere.repositories.clear();
    elsewhere.add_repository(&s.repo, &[("origin", &["git@gitlab.com:c/d.git"])]);
    let verdict = s.policy.judge(
        &Event::Tool {
            tool: "Bash",
            input: &serde_json::from_value(json!({"command": "git push"})).expect("map"),
            cwd: &s.repo,
        },
        &elsewhere,
    );
    assert_eq!(verdict.remotes[0].url, "gitlab.com/c/d");
}

#[test]
fn symlinks_of_the_world_are_followed_without_touching_the_disk() {
    let s = setup();
    let alias = s.repo.join("alias.txt");
    let read = |world: &FakeWorld, tool: &str, input: Value| {
        let Value::Object(input) = input else {
            panic!("an object");
        };
        let verdict = s.policy.judge(
            &Event::Tool {
                tool,
                input: &input,
                cwd: &s.repo,
            },
            world,
        );
        (verdict.decision.action, verdict.decision.rule)
    };
    let file = json!({"file_path": alias.display().to_string()});
    let command = json!({"command": "cat alias.txt"});
    // Nothing is there on disk: a plain new file.
    assert_eq!(
        read(&s.world, "Read", file.clone()),
        (Action::Allow, "no-match")
    );
    assert_eq!(
        read(&s.world, "Bash", command.clone()),
        (Action::Allow, "no-match")
    );
    // In a world where it is a link to the secret (relative, from the link's directory).
    let mut linked = s.world.clone();
    linked.links.push((alias.clone(), PathBuf::from(".env")));
    assert_eq!(
        read(&linked, "Read", file),
        (Action::Deny, "path-deny-read")
    );
    assert_eq!(
        read(&linked, "Bash", command),
        (Action::Deny, "path-deny-read")
    );
    assert!(!alias.exists() && std::fs::symlink_metadata(&alias).is_err());
}

/// Words made of characters that need no quoting, with the secret's name among them often.
fn plain_word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(".env".to_owned()),
        1 => Just("src/main.rs".to_owned()),
        1 => Just("~/.ssh/id_rsa".to_owned()),
        1 => Just("../repo/.env".to_owned()),
        4 => "[a-zA-Z0-9._/-]{1,12}",
    ]
}

/// The same word, quoted in ways the shell reads as that word.
fn spellings(word: &str) -> Vec<String> {
    let mut out = vec![
        word.to_owned(),
        format!("\"{word}\""),
        // A leading `~` is only expanded unquoted.
        if let Some(rest) = word.strip_prefix('~') {
            format!("~'{rest}'")
        } else {
            format!("'{word}'")
        },
        word.chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 && c == '~' {
                    "~".to_owned()
                } else {
                    format!("\\{c}")
                }
            })
            .collect(),
    ];
    if word.len() > 1 && !word.starts_with('~') {
        let (a, b) = word.split_at(1);
        out.push(format!("{a}''{b}"));
        out.push(format!("{a}\"\"{b}"));
        out.push(format!("$'{word}'"));
    }
    out
}

fn decided(v: &Verdict) -> (Action, &'static str) {
    (v.decision.action, v.decision.rule)
}

#[test]
fn the_brief_s_spellings_of_cat_env_are_all_denied() {
    let s = setup();
    for command in [
        "cat .env",
        "cat '.env'",
        "cat \".env\"",
        "cat \\.env",
        "c''at .env",
        "\"cat\" .env",
    ] {
        assert_eq!(
            decided(&s.bash(command)),
            (Action::Deny, "path-deny-read"),
            "{command}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any command text: no panic, and not the panic guard's "parser failed" either.
    #[test]
    fn any_command_is_judged_without_panicking(command in "\\PC{0,80}") {
        let s = setup();
        let verdict = s.bash(&command);
        prop_assert!(!verdict.unanalyzable.iter().any(|u| u == PANIC_GUARD), "{:?}", command);
    }

    /// Shell-heavy text: operators, quotes, substitutions, heredocs, in any order.
    #[test]
    fn shell_shaped_commands_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("cat"), Just(".env"), Just("'"), Just("\""), Just("$("), Just(")"),
                Just("`"), Just("|"), Just("&&"), Just(";"), Just("<<EOF\n"), Just("\nEOF\n"),
                Just("${a:-"), Just("}"), Just("{a,b}"), Just("*"), Just("\\"), Just("$'\\x"),
                Just("cd "), Just("git "), Just("-C "), Just("bash -c "), Just("python3 -c "),
                Just("> "), Just("2>&1"), Just("(("), Just("))"), Just("for i in a; do "),
                Just("; done"), Just("~"), Just("$HOME/"), Just(" "), Just("\n"), Just("#"),
                Just("<("), Just("<<<"), Just("/dev/stdin"), Just("a[$("), Just("]=1"),
                Just("let "), Just("alias x="), Just("sh -s"), Just("tar -xf "),
                Just("find . -name "), Just(" -exec "), Just("{} +"), Just("| xargs "),
                Just("PS4="), Just("set -x"), Just("f(){ "), Just("}; f "), Just("$(("),
                Just("sed -f "), Just("awk -f "), Just("make -f - "), Just("ed -s "),
                Just("printf '%s\\n' "), Just("LESSOPEN="), Just("trap "), Just(" DEBUG"),
                Just("set -- "), Just("shift "), Just("\"$@\""), Just("$*"), Just("a=("),
                Just("\"${a[@]}\""), Just("${a[1]}"), Just("${x:3:9223372036854775807}"),
                Just("${x%.*}"), Just("${x//a/b}"), Just("${!x}"), Just("${X:-.env}"),
                Just("read -r x <<< "), Just("printf -v x "), Just("| base64 -d "),
                Just("| tr a-z n-za-m "), Just("| xxd -r -p "), Just("xargs -0 "),
                Just("xargs -I{} sh -c {} "), Just("tmux new -d "), Just("sqlite3 x.db "),
                Just("'.shell "), Just("psql -c "), Just("uv run "), Just("shopt -s globstar "),
                Just("**/"), Just("BASH_ALIASES[c]="), Just("pwsh -enc "), Just("$(<"),
            ],
            0..24,
        )
    ) {
        let s = setup();
        let command: String = parts.concat();
        let verdict = s.bash(&command);
        prop_assert!(!verdict.unanalyzable.iter().any(|u| u == PANIC_GUARD), "{:?}", command);
    }

    /// Any tool name and input object: no panic.
    #[test]
    fn any_tool_input_is_judged_without_panicking(
        tool in prop_oneof![
            Just("Read".to_owned()), Just("Write".to_owned()), Just("Edit".to_owned()),
            Just("MultiEdit".to_owned()), Just("Glob".to_owned()), Just("Grep".to_owned()),
            Just("NotebookEdit".to_owned()), Just("Bash".to_owned()), Just("PowerShell".to_owned()),
            Just("mcp__fs__delete_file".to_owned()), "[A-Za-z_]{0,12}",
        ],
        entries in proptest::collection::vec(
            (
                prop_oneof![
                    Just("file_path"), Just("path"), Just("paths"), Just("pattern"),
                    Just("command"), Just("content"), Just("old_string"), Just("new_string"),
                    Just("edits"), Just("notebook_path"), Just("op"), Just("x"),
                ],
                prop_oneof![
                    "\\PC{0,40}".prop_map(Value::String),
                    plain_word().prop_map(Value::String),
                    any::<i64>().prop_map(Value::from),
                    proptest::collection::vec(plain_word(), 0..3).prop_map(|v| json!(v)),
                    Just(json!([{"old_string": "a", "new_string": "b"}])),
                    Just(Value::Null),
                ],
            ),
            0..5,
        ),
    ) {
        let s = setup();
        let input: Map<String, Value> =
            entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let _ = s.tool(&tool, &input);
    }

    /// `cat NAME`, `cat 'NAME'`, `cat "NAME"`, `cat \N\A\M\E`, `cat N''AME`, `c''at NAME` …
    /// all decide the same.
    #[test]
    fn equivalent_quoting_gives_the_same_decision(
        verb in prop_oneof![Just("cat"), Just("head -n 1"), Just("rm -f"), Just("touch"), Just("cp src/main.rs")],
        word in plain_word(),
    ) {
        let s = setup();
        let plain = decided(&s.bash(&format!("{verb} {word}")));
        for spelled in spellings(&word) {
            let got = decided(&s.bash(&format!("{verb} {spelled}")));
            prop_assert_eq!(got, plain, "{} {} vs {} {}", verb, spelled, verb, word);
        }
        // Quoting the command name changes nothing either.
        let (head, rest) = verb.split_once(' ').unwrap_or((verb, ""));
        let quoted_verb = format!("{}''{} {rest}", &head[..1], &head[1..]);
        let got = decided(&s.bash(&format!("{quoted_verb} {word}")));
        prop_assert_eq!(got, plain, "{} {}", quoted_verb, word);
    }

    /// A command decides the same wherever its text is run from: a `-c` string, a process
    /// substitution, a here-string, a heredoc on `/dev/stdin`, a pipe from echo or printf,
    /// `source`, `eval`, a function, `script -c`, arithmetic and an array subscript.
    #[test]
    fn code_run_from_elsewhere_decides_like_the_command(
        verb in prop_oneof![Just("cat"), Just("head -n 1"), Just("rm -f"), Just("touch"), Just("cp src/main.rs")],
        word in plain_word(),
    ) {
        let s = setup();
        let command = format!("{verb} {word}");
        let plain = decided(&s.bash(&command));
        for carried in [
            format!("bash -c '{command}'"),
            format!("bash <(echo '{command}')"),
            format!("bash <<< '{command}'"),
            format!("bash /dev/stdin <<'EOF'\n{command}\nEOF"),
            format!("sh - <<EOF\n{command}\nEOF"),
            format!("echo '{command}' | sh"),
            format!("printf '%s\\n' '{command}' | bash -s"),
            format!("source <(echo '{command}')"),
            format!("eval '{command}'"),
            format!("f(){{ {command}; }}; f"),
            format!("g(){{ {verb} \"$1\"; }}; g {word}"),
            format!("sh -c '{verb} \"$1\"' _ {word}"),
            format!("script -qc '{command}' /dev/null"),
            format!("echo $(( $({command}) ))"),
            format!("a[$({command})]=1"),
        ] {
            let got = decided(&s.bash(&carried));
            prop_assert_eq!(got, plain, "{:?} vs {:?}", carried, command);
        }
    }

    /// A word hidden behind an expansion decides like the word itself: a variable, a
    /// positional parameter set with `set --` or a function call, an array, a command
    /// substitution that prints it, a here-string read into a variable, `printf -v`.
    #[test]
    fn words_behind_expansions_decide_like_the_word(
        verb in prop_oneof![Just("cat"), Just("head -n 1"), Just("rm -f"), Just("touch"), Just("cp src/main.rs")],
        word in plain_word(),
    ) {
        let s = setup();
        let command = format!("{verb} {word}");
        let plain = decided(&s.bash(&command));
        for hidden in [
            format!("x={word}; {verb} $x"),
            format!("x={word}; y=\"$x\"; {verb} \"$y\""),
            format!("set -- {word}; {verb} \"$1\""),
            format!("set -- a {word}; shift; {verb} \"$@\""),
            format!("f() {{ {verb} \"$@\"; }}; f {word}"),
            format!("a=({word}); {verb} \"${{a[@]}}\""),
            format!("a=(x {word}); {verb} \"${{a[1]}}\""),
            format!("{verb} \"$(printf %s {word})\""),
            format!("{verb} `printf %s {word}`"),
            format!("read -r x <<< {word}; {verb} \"$x\""),
            format!("printf -v x %s {word}; {verb} \"$x\""),
            format!("{verb} \"$@\" {word}"),
        ] {
            let got = decided(&s.bash(&hidden));
            prop_assert_eq!(got, plain, "{:?} vs {:?}", hidden, command);
        }
    }
}
