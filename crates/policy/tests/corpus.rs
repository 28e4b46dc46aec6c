//! The policy and shell corpora, in process: `Policy::judge` against a fixture world on disk,
//! with repository facts from a `FakeWorld` (no git runs) and no analysis budget (no result
//! depends on how loaded the machine is). The hook's own path (payload shape, exit codes,
//! recording) keeps a smoke set through the binary in `tests/integration/policy.rs`.

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

#[path = "corpus/cases.rs"]
mod cases;
#[path = "corpus/classes.rs"]
mod classes;
#[path = "corpus/elsewhere.rs"]
mod elsewhere;
#[path = "corpus/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};

use hookledger_policy::file::{LoadedLayer, parse};
use hookledger_policy::protect::Context;
use hookledger_policy::{Action, Event, FakeWorld, Layer, Policy, Verdict};
use serde_json::{Map, Value, json};

/// The example policy from the issue, split over the managed and user layers (as the
/// integration tests' `World::standard`).
fn managed_policy() -> Value {
    json!({
        "version": 1,
        "enforcement": "enforce",
        "on_error": "deny",
        "unanalyzable": "ask",
        "paths": {
            "deny_read": ["**/.env", "**/.env.*", "!**/.env.example", "~/.ssh/**", "~/.aws/**"],
            "deny_write": [".github/workflows/**", "/etc/**"],
            "outside_repository": {"read": "allow", "write": "deny"}
        },
        "tools": {"deny": ["WebFetch", "mcp__*__delete_*"], "ask": []},
        "prompts": {"store": "full", "secrets": "block"},
        "content_secrets": "deny"
    })
}

fn user_policy() -> Value {
    json!({"paths": {"ask_write": ["**/migrations/**"]}, "tools": {"ask": ["WebSearch"]}})
}

/// A repository, a directory outside it, a home with secrets, hookledger's directory and the
/// managed policy directory, all under one temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    outside: PathBuf,
    user_home: PathBuf,
    hl: PathBuf,
    managed: PathBuf,
    world: FakeWorld,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical tempdir");
        let repo = root.join("repo");
        // What `git init` and `git remote add` leave behind that the evaluator looks at; the
        // remotes themselves come from the fake world.
        write(&repo.join(".git/HEAD"), "ref: refs/heads/main\n");
        write(
            &repo.join(".git/config"),
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote \"origin\"]\n\turl = git@github.com:Acme/widgets.git\n",
        );
        std::fs::create_dir_all(repo.join(".git/hooks")).expect("hooks dir");
        for (path, text) in [
            ("a.txt", "hello\n"),
            (".env", "A=1"),
            (".env.local", "A=2"),
            (".env.example", "A="),
            ("src/main.rs", "fn main() {}"),
            ("db/migrations/001.sql", "--"),
            (".github/workflows/ci.yml", "on: push"),
            (".claude/settings.json", "{}"),
        ] {
            write(&repo.join(path), text);
        }
        let outside = root.join("outside");
        write(&outside.join("notes.txt"), "x");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, repo.join("link")).expect("symlink");
            std::os::unix::fs::symlink(repo.join(".env"), repo.join("innocent.txt"))
                .expect("symlink");
            std::os::unix::fs::symlink(repo.join(".github/workflows"), repo.join("wf"))
                .expect("symlink");
        }
        let user_home = root.join("userhome");
        write(&user_home.join(".ssh/id_rsa"), "key");
        let managed = root.join("managed");
        std::fs::create_dir_all(&managed).expect("managed dir");
        let hl = root.join("hl");
        std::fs::create_dir_all(&hl).expect("hookledger home");
        write(&root.join("bin/hookledger"), "binary");
        let world =
            FakeWorld::with_repository(&repo, &[("origin", &["git@github.com:Acme/widgets.git"])]);
        Fixture {
            _dir: dir,
            root,
            repo,
            outside,
            user_home,
            hl,
            managed,
            world,
        }
    }

    /// The shell corpus's extra files: scripts the agent could have written a moment ago.
    fn with_scripts(self) -> Fixture {
        let repo = &self.repo;
        write(&repo.join("scripts/check.py"), "print(1)\n");
        let leak = repo.join("scripts/leak.sh");
        write(
            &leak,
            "#!/bin/sh\ncd \"$(dirname \"$0\")\"\ncat ~/.ssh/id_rsa\n",
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&leak, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        write(
            &repo.join("scripts/build.sh"),
            "#!/bin/sh\nset -eu\ncd \"$(dirname \"$0\")/..\"\ncargo build \"$@\"\n",
        );
        write(
            &repo.join("ci.patch"),
            "--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n@@ -1 +1 @@\n-on: push\n+on: pull_request_target\n",
        );
        write(
            &repo.join("src.patch"),
            "--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1 +1 @@\n-fn main() {}\n+fn main() { }\n",
        );
        self
    }

    fn context(&self) -> Context {
        Context {
            hookledger_home: self.hl.clone(),
            home: Some(self.user_home.clone()),
            claude_config_dir: None,
            managed_policy_dir: self.managed.clone(),
            binary: Some(self.root.join("bin/hookledger")),
        }
    }

    /// The managed and user layers, as the hook would load them.
    fn policy(&self) -> Policy {
        self.policy_with(managed_policy())
    }

    /// [`Fixture::policy`] with another managed layer.
    fn policy_with(&self, managed: Value) -> Policy {
        let layer = |layer: Layer, path: PathBuf, json: Value| LoadedLayer {
            layer,
            file: parse(&path, &json.to_string()).expect("valid policy"),
            path,
        };
        Policy::with_context(
            vec![
                layer(Layer::Managed, self.managed.join("policy.json"), managed),
                layer(Layer::User, self.hl.join("policy.json"), user_policy()),
            ],
            self.context(),
        )
    }

    fn expand(&self, text: &str) -> String {
        text.replace("$REPO", &self.repo.display().to_string())
            .replace("$OUT", &self.outside.display().to_string())
            .replace("$UHOME", &self.user_home.display().to_string())
            .replace("$HL", &self.hl.display().to_string())
            .replace("$MANAGED", &self.managed.display().to_string())
    }

    fn expand_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => json!(self.expand(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.expand_value(v)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.expand_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A tool call from the repository.
    fn judge(&self, policy: &Policy, tool: &str, input: &Map<String, Value>) -> Verdict {
        policy.judge(
            &Event::Tool {
                tool,
                input,
                cwd: &self.repo,
            },
            &self.world,
        )
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Allow => "allow",
        Action::Ask => "ask",
        Action::Deny => "deny",
    }
}

/// A case's outcome against what it expects: `None` when it matches.
fn mismatch(name: &str, action: &str, rule: &str, verdict: &Verdict) -> Option<String> {
    let got = (action_name(verdict.decision.action), verdict.decision.rule);
    (got != (action, rule)).then(|| {
        format!(
            "{name}: want {action}/{rule}, got {}/{} ({})",
            got.0, got.1, verdict.decision.reason
        )
    })
}

/// A shell case: name, tool (`Bash`), command, expected action and rule.
type ShellCase<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

impl Fixture {
    /// The mismatches of shell cases; `{…}` placeholders in commands are expanded.
    fn shell_mismatches<'a>(
        &self,
        policy: &Policy,
        cases: impl IntoIterator<Item = ShellCase<'a>>,
    ) -> Vec<String> {
        let mut failures = Vec::new();
        for (name, tool, command, action, rule) in cases {
            let mut input = Map::new();
            input.insert("command".into(), json!(self.expand(command)));
            let verdict = self.judge(policy, tool, &input);
            failures.extend(mismatch(name, action, rule, &verdict));
        }
        failures
    }

    /// The mismatches of tool cases whose input is JSON text.
    fn input_mismatches<'a>(
        &self,
        policy: &Policy,
        cases: impl IntoIterator<Item = ShellCase<'a>>,
    ) -> Vec<String> {
        let mut failures = Vec::new();
        for (name, tool, input, action, rule) in cases {
            let input: Value =
                serde_json::from_str(input).unwrap_or_else(|e| panic!("{name}: {e}"));
            let Value::Object(input) = self.expand_value(&input) else {
                panic!("{name}: the input is not an object");
            };
            let verdict = self.judge(policy, tool, &input);
            failures.extend(mismatch(name, action, rule, &verdict));
        }
        failures
    }
}

/// Bash cases given as (name, command, action, rule).
fn bash<'a>(
    cases: &'a [(&'a str, &'a str, &'a str, &'a str)],
) -> impl Iterator<Item = ShellCase<'a>> {
    cases
        .iter()
        .map(|&(name, command, action, rule)| (name, "Bash", command, action, rule))
}

/// Fails with every mismatch listed.
fn assert_all_pass(failures: &[String], total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn policy_corpus() {
    let fixture = Fixture::new();
    let policy = fixture.policy();
    let failures = fixture.input_mismatches(&policy, cases::CASES.iter().copied());
    assert_all_pass(&failures, cases::CASES.len());
}

#[test]
fn shell_corpus() {
    let fixture = Fixture::new().with_scripts();
    let policy = fixture.policy();
    let failures = fixture.shell_mismatches(&policy, cases::SHELL_CASES.iter().copied());
    assert_all_pass(&failures, cases::SHELL_CASES.len());
}

#[test]
fn shell_class_corpus() {
    let fixture = Fixture::new().with_scripts();
    write(
        &fixture.repo.join(".gitmodules"),
        "[submodule \"lib\"]\n\tpath = lib\n\turl = ../lib.git\n[submodule \"tools\"]\n\tpath = tools\n\turl = https://github.com/Acme/tools.git\n",
    );
    let mut managed = managed_policy();
    managed["repositories"] = json!({"allow": ["github.com/Acme/*"], "otherwise": "deny"});
    let policy = fixture.policy_with(managed);
    let failures = fixture.shell_mismatches(&policy, bash(classes::CLASS_CASES));
    assert_all_pass(&failures, classes::CLASS_CASES.len());
}

/// A ustar archive of (name, type flag, link target) members, each empty.
fn tar_bytes(members: &[(&str, u8, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, flag, link) in members {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[124..135].copy_from_slice(b"00000000000");
        h[156] = *flag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        out.extend(h);
    }
    out.extend(vec![0u8; 1024]);
    out
}

/// `bytes` as a gzip stream (header, deflate data, and a trailer nobody checks here).
fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(bytes, 6));
    out.extend([0u8; 8]);
    out
}

/// A zip archive of empty stored members.
fn zip_bytes(names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for name in names {
        let local = u32::try_from(out.len()).unwrap();
        let len = u16::try_from(name.len()).unwrap();
        out.extend(b"PK\x03\x04");
        out.extend([0u8; 22]);
        out.extend(len.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        central.extend(b"PK\x01\x02");
        central.extend([0u8; 24]);
        central.extend(len.to_le_bytes());
        central.extend([0u8; 12]);
        central.extend(local.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let offset = u32::try_from(out.len()).unwrap();
    let size = u32::try_from(central.len()).unwrap();
    let count = u16::try_from(names.len()).unwrap();
    out.extend(central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// Scripts, programs and archives that exist only in the fixture's world: the analyser must
/// read them through `World`.
fn elsewhere_world(fixture: &mut Fixture) {
    let repo = fixture.repo.clone();
    let text_files: &[(&str, &str)] = &[
        ("tools/w.sed", "1d\nw .github/workflows/x.yml\n"),
        ("tools/r.sed", "r .env\n"),
        ("tools/ok.sed", "s/a/b/\n"),
        ("tools/w.ed", "1d\nw .github/workflows/x.yml\nq\n"),
        ("tools/mk", "all:\n\t@cat .env\n"),
        ("tools/cron", "# m h dom mon dow\n*/5 * * * * cat .env\n"),
        ("tools/job.sh", "cat .env\n"),
        ("tools/p.awk", "{ print > \".github/workflows/y.yml\" }\n"),
        ("tools/sys.awk", "BEGIN { system(\"id\") }\n"),
        ("tools/leak.sh", "#!/bin/sh\ncat .env\n"),
        ("tools/outer.sh", "echo start\nbash tools/leak.sh\n"),
        ("tools/loop.sh", "source tools/loop.sh\nls src\n"),
        ("tools/ok.sh", "ls src\necho done\n"),
    ];
    for (path, text) in text_files {
        fixture
            .world
            .files
            .push((repo.join(path), text.as_bytes().to_vec()));
    }
    let archives: Vec<(&str, Vec<u8>)> = vec![
        (
            "evil.tar",
            tar_bytes(&[("docs/", b'5', ""), (".github/workflows/pwn.yml", b'0', "")]),
        ),
        (
            "nested.tar",
            tar_bytes(&[("pkg/.github/workflows/pwn.yml", b'0', "")]),
        ),
        (
            "ok.tar",
            tar_bytes(&[("workflows/", b'5', ""), ("workflows/x.yml", b'0', "")]),
        ),
        (
            "dotdot.tar",
            tar_bytes(&[("../.github/workflows/x.yml", b'0', "")]),
        ),
        (
            "hooks.tar",
            tar_bytes(&[(".git/hooks/pre-commit", b'0', "")]),
        ),
        ("link.tar", tar_bytes(&[("innocent-link", b'2', ".env")])),
        ("envfile.tar", tar_bytes(&[(".env", b'0', "")])),
        ("evil.zip", zip_bytes(&[".github/workflows/pwn.yml"])),
        (
            "evil.tgz",
            gzip_bytes(&tar_bytes(&[(".git/hooks/post-commit", b'0', "")])),
        ),
        (
            "release.tar.gz",
            gzip_bytes(&tar_bytes(&[
                ("release/", b'5', ""),
                ("release/bin", b'0', ""),
            ])),
        ),
        ("ok.zip", zip_bytes(&["docs/a.md", "x.yml"])),
    ];
    for (path, bytes) in archives {
        fixture.world.files.push((repo.join(path), bytes));
    }
}

#[test]
fn shell_elsewhere_corpus() {
    let mut fixture = Fixture::new().with_scripts();
    elsewhere_world(&mut fixture);
    let policy = fixture.policy();
    let failures = fixture.shell_mismatches(&policy, bash(elsewhere::ELSEWHERE_CASES));
    assert_all_pass(&failures, elsewhere::ELSEWHERE_CASES.len());
}

/// The policy with `**/*.pem` also denied for reading (the class 5 corpus).
fn pem_policy(fixture: &Fixture) -> Policy {
    let mut managed = managed_policy();
    managed["paths"]["deny_read"]
        .as_array_mut()
        .expect("deny_read")
        .push(json!("**/*.pem"));
    fixture.policy_with(managed)
}

#[test]
fn tool_class_corpus() {
    let fixture = Fixture::new();
    let policy = pem_policy(&fixture);
    let mut failures = fixture.input_mismatches(&policy, tools::TOOL_CASES.iter().copied());
    failures.extend(fixture.shell_mismatches(&policy, bash(tools::SEARCH_COMMANDS)));
    assert_all_pass(
        &failures,
        tools::TOOL_CASES.len() + tools::SEARCH_COMMANDS.len(),
    );
}

/// Arguments past the walk's bounds are not silently skipped: the call is unanalyzable (ask
/// under the corpus policy), and a denied path inside the bound is still denied.
#[test]
fn mcp_many_paths_still_judges_the_first() {
    let fixture = Fixture::new();
    let policy = fixture.policy();
    let mut paths: Vec<Value> = vec![json!(".env")];
    paths.extend((0..100).map(|i| json!(format!("src/f{i}.rs"))));
    let Value::Object(input) = json!({"paths": paths}) else {
        unreachable!()
    };
    let verdict = fixture.judge(&policy, "mcp__fs__read_many", &input);
    assert_eq!(
        (action_name(verdict.decision.action), verdict.decision.rule),
        ("deny", "path-deny-read"),
        "{}",
        verdict.decision.reason
    );
}

/// Arguments past the walk's bounds are not silently skipped: the call is unanalyzable (ask
/// under the corpus policy), and a path inside the bound is still judged.
#[test]
fn mcp_arguments_past_the_bounds_are_unanalyzable() {
    let fixture = Fixture::new();
    let policy = fixture.policy();
    let mut deep = json!({"path": "src/main.rs"});
    for _ in 0..40 {
        deep = json!({"next": deep});
    }
    let many: Vec<Value> = (0..5000).map(|i| json!(format!("word{i}"))).collect();
    let paths: Vec<Value> = (0..100).map(|i| json!(format!("src/f{i}.rs"))).collect();
    for (what, input) in [
        ("deep", deep),
        ("many", json!({"items": many})),
        ("many paths", json!({"paths": paths})),
    ] {
        let Value::Object(input) = input else {
            unreachable!()
        };
        let verdict = fixture.judge(&policy, "mcp__fs__read_text", &input);
        assert_eq!(
            (action_name(verdict.decision.action), verdict.decision.rule),
            ("ask", "unanalyzable-command"),
            "{what}: {}",
            verdict.decision.reason
        );
    }
}

/// `content_secrets` over what a Bash command writes from text it carries: every way of
/// putting a literal into a file is scanned; a command that writes a file but carries no
/// literal into it is not refused for a secret it sends elsewhere.
#[test]
fn bash_literal_writes_are_scanned() {
    let fixture = Fixture::new();
    let policy = fixture.policy();
    // Assembled at run time, so no string in the repository looks like a credential.
    let key = ["AKIA", "QX7ZEXAMPLE2345"].concat() + "6";
    let writes = [
        "echo KEY > src/k.py",
        "printf '%s\\n' KEY >> src/k.py",
        "echo KEY 1>src/k.py",
        "echo KEY >| src/k.py",
        "echo KEY &> src/k.py",
        "cat > src/k.py <<'EOF'\nAWS=KEY\nEOF",
        "cat <<EOF > src/k.py\nKEY\nEOF",
        "echo KEY | tee src/k.py",
        "echo KEY | tee -a src/k.py > /dev/null",
        "tee src/k.py <<< KEY",
        "echo KEY | dd of=src/k.py status=none",
        "echo KEY | cp /dev/stdin src/k.py",
        "printf KEY | install -m 600 /dev/stdin src/k.py",
        "sed -i 's/placeholder/KEY/' src/main.rs",
        "sed -i.bak -e 's/x/KEY/' src/main.rs",
    ];
    let mut failures = Vec::new();
    for template in writes {
        let command = template.replace("KEY", &key);
        let mut input = Map::new();
        input.insert("command".into(), json!(command));
        let verdict = fixture.judge(&policy, "Bash", &input);
        if (verdict.decision.action, verdict.decision.rule) != (Action::Deny, "content-secret") {
            failures.push(format!(
                "{template}: want deny/content-secret, got {}/{} ({})",
                action_name(verdict.decision.action),
                verdict.decision.rule,
                verdict.decision.reason
            ));
        }
    }
    for template in [
        "echo hello > src/k.py",
        "cat > src/k.py <<'EOF'\nprint(1)\nEOF",
        "echo KEY",
    ] {
        let command = template.replace("KEY", &key);
        let mut input = Map::new();
        input.insert("command".into(), json!(command));
        let verdict = fixture.judge(&policy, "Bash", &input);
        if verdict.decision.rule == "content-secret" {
            failures.push(format!("{template}: refused as content-secret"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The red-team variants of classes 4 to 6 (`cases::RED_TEAM_CASES`): the class corpus's
/// allowlist and `.gitmodules`, the archives of the elsewhere corpus, `**/*.pem` denied, and
/// a few ordinary trees (`dist/`, `certs/`) and archives (`pkg.zip`).
#[test]
fn red_team_corpus() {
    let mut fixture = Fixture::new().with_scripts();
    elsewhere_world(&mut fixture);
    write(
        &fixture.repo.join(".gitmodules"),
        "[submodule \"lib\"]\n\tpath = lib\n\turl = ../lib.git\n",
    );
    write(&fixture.repo.join("dist/app.js"), "x");
    write(&fixture.repo.join("certs/server.pem"), "x");
    let repo = fixture.repo.clone();
    fixture
        .world
        .files
        .push((repo.join("pkg.zip"), zip_bytes(&["lib/a.js", "README"])));
    let mut managed = managed_policy();
    managed["repositories"] = json!({"allow": ["github.com/Acme/*"], "otherwise": "deny"});
    managed["paths"]["deny_read"]
        .as_array_mut()
        .expect("deny_read")
        .push(json!("**/*.pem"));
    let policy = fixture.policy_with(managed);
    let failures = fixture.shell_mismatches(&policy, bash(cases::RED_TEAM_CASES));
    assert_all_pass(&failures, cases::RED_TEAM_CASES.len());
}
