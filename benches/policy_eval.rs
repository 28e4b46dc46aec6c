//! In-process policy evaluation with a 200-rule policy: p50/p95/p99 per typical call, against
//! the target p99 ≤ 100 µs; then pathological shell commands (deep nesting, thousands of
//! `$(`), in process and through the real hook binary, against 50 ms with a deny or ask.
//! Run: `cargo bench --bench policy_eval` (`BENCH_QUICK=1` for fewer samples).

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

use std::path::Path;
use std::time::{Duration, Instant};

use hookledger::policy::Layer;
use hookledger::policy::Policy;
use hookledger::policy::file::{LoadedLayer, parse};
use serde_json::{Map, Value, json};

fn policy_with_200_rules(dir: &Path) -> Policy {
    let mut deny_read = vec![
        "**/.env".to_owned(),
        "**/.env.*".to_owned(),
        "!**/.env.example".to_owned(),
        "~/.ssh/**".to_owned(),
        "~/.aws/**".to_owned(),
    ];
    let mut deny_write = vec![".github/workflows/**".to_owned(), "/etc/**".to_owned()];
    let mut ask_write = vec!["**/migrations/**".to_owned()];
    for i in 0..60 {
        deny_read.push(format!("**/secrets{i}/**"));
        deny_write.push(format!("vendor{i}/**/*.lock"));
        ask_write.push(format!("/srv/data{i}/**"));
    }
    let tools: Vec<String> = (0..12)
        .map(|i| format!("mcp__server{i}__delete_*"))
        .collect();
    let managed = json!({
        "paths": {"deny_read": deny_read, "deny_write": deny_write, "ask_write": ask_write,
                  "outside_repository": {"read": "allow", "write": "deny"}},
        "tools": {"deny": tools, "ask": ["WebSearch"]},
        "content_secrets": "deny",
        "prompts": {"secrets": "block"}
    });
    let file = parse(Path::new("bench.json"), &managed.to_string()).expect("valid policy");
    let layer = LoadedLayer {
        layer: Layer::Managed,
        path: dir.join("policy.json"),
        file,
    };
    Policy::new(vec![layer], &dir.join("hl"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/main.rs"), "fn main() {}\n").unwrap();
    let policy = policy_with_200_rules(dir.path());
    let rules = 5 + 2 + 1 + 60 * 3 + 12 + 1;
    let file = |p: &str| repo.join(p).display().to_string();
    let body = "fn main() {\n    println!(\"hello\");\n}\n".repeat(50);
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "Read src/main.rs",
            "Read",
            json!({"file_path": file("src/main.rs")}),
        ),
        (
            "Read .env (denied)",
            "Read",
            json!({"file_path": file(".env")}),
        ),
        (
            "Edit src/main.rs",
            "Edit",
            json!({"file_path": file("src/main.rs"), "old_string": "hello", "new_string": "hello world"}),
        ),
        (
            "Write 2 KB new file",
            "Write",
            json!({"file_path": file("src/new.rs"), "content": body}),
        ),
        (
            "Grep in repo",
            "Grep",
            json!({"pattern": "TODO", "path": repo.display().to_string()}),
        ),
        (
            "MCP read with 3 path args",
            "mcp__fs__read_files",
            json!({"paths": [file("a"), file("b"), "./c/d"], "mode": "text"}),
        ),
        ("WebSearch (ask)", "WebSearch", json!({"query": "rust"})),
    ];
    // Shell commands vary per sample (`{i}`): brush-parser memoizes words in a global cache,
    // so repeating one input would measure the cache.
    let bash_cases: Vec<(&str, String)> = vec![
        ("Bash: git status", "git status --short src/f{i}".into()),
        (
            "Bash: cargo test | tail",
            "cargo test -p crate{i} 2>&1 | tail -20".into(),
        ),
        ("Bash: cat .env (denied)", "cat .env f{i}".into()),
        (
            "Bash: grep -rn in src",
            "grep -rn 'TODO{i}' src/ --include='*.rs'".into(),
        ),
        (
            "Bash: cd && make, redirect",
            "cd src && make target{i} > build{i}.log 2>&1".into(),
        ),
        (
            "Bash: git commit heredoc",
            "git commit -m \"$(cat <<'EOF'\nFix parser {i}\n\nDetails here.\nEOF\n)\"".into(),
        ),
        (
            "Bash: find -exec, sudo wrapper",
            "sudo -u root env A={i} nice -n 5 find . -name '*.tmp{i}' -exec rm {} \\;".into(),
        ),
        (
            "Bash: python one-liner",
            "python3 -c \"import json; print(json.load(open('src/main.rs'))['k{i}'])\"".into(),
        ),
    ];
    let n: usize = if std::env::var_os("BENCH_QUICK").is_some() {
        500
    } else {
        5000
    };
    let prompt = "Please refactor the parser and keep the tests green. ".repeat(20);
    println!(
        "# Policy evaluation, in process ({rules} rules, {} samples per row)\n",
        n
    );
    println!("| call | p50 µs | p95 µs | p99 µs | decision | p99 ≤ 100 µs |");
    println!("|---|--:|--:|--:|---|:-:|");
    let mut all_pass = true;
    // One row: `call(i)` builds the input (outside the timing) and returns the evaluation.
    let row = |name: &str, call: &mut dyn FnMut(usize) -> (Map<String, Value>, &'static str)| {
        let mut samples = Vec::with_capacity(n);
        let mut rule = "";
        for i in 0..n + 200 {
            let (input, tool) = call(i);
            let started = Instant::now();
            let (decision, _) = policy.evaluate_tool(tool, &input, &repo);
            let elapsed = started.elapsed();
            if i >= 200 {
                samples.push(elapsed);
            }
            rule = decision.rule;
        }
        samples.sort();
        let p99 = percentile(&samples, 0.99);
        let pass = p99 <= Duration::from_micros(100);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {rule} | {} |",
            percentile(&samples, 0.5).as_secs_f64() * 1e6,
            percentile(&samples, 0.95).as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            if pass { "PASS" } else { "FAIL" }
        );
        pass
    };
    for (name, tool, input) in &cases {
        let input: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        all_pass &= row(name, &mut |_| (input.clone(), tool));
    }
    for (name, template) in &bash_cases {
        all_pass &= row(name, &mut |i| {
            let mut input = Map::new();
            input.insert(
                "command".into(),
                Value::String(template.replace("{i}", &i.to_string())),
            );
            (input, "Bash")
        });
    }
    let mut samples = Vec::new();
    for i in 0..n + 200 {
        let started = Instant::now();
        let _ = policy.evaluate_prompt(&prompt, &repo);
        if i >= 200 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    let p99 = percentile(&samples, 0.99);
    all_pass &= p99 <= Duration::from_micros(100);
    println!(
        "| prompt DLP, {} B | {:.1} | {:.1} | {:.1} | no-match | {} |",
        prompt.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.95).as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        if p99 <= Duration::from_micros(100) {
            "PASS"
        } else {
            "FAIL"
        }
    );
    cold_rows(dir.path(), &repo, n / 5);
    all_pass &= pathological(&policy, &repo, dir.path());
    println!(
        "\n{}",
        if all_pass {
            "All rows PASS."
        } else {
            "Some rows FAIL."
        }
    );
}

/// The first decision of a new `Policy`, as every hook process makes it: the protected set and
/// anything else resolved lazily is paid for here (informational: no target).
fn cold_rows(dir: &Path, repo: &Path, n: usize) {
    println!("\n# First call of a hook process (a new policy per sample, {n} samples)\n");
    println!("| call | p50 µs | p95 µs | p99 µs | decision |");
    println!("|---|--:|--:|--:|---|");
    let file = |p: &str| repo.join(p).display().to_string();
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "Edit src/main.rs",
            "Edit",
            json!({"file_path": file("src/main.rs"), "old_string": "main", "new_string": "start"}),
        ),
        (
            "Read src/main.rs",
            "Read",
            json!({"file_path": file("src/main.rs")}),
        ),
        (
            "Bash: git status && rm -rf build",
            "Bash",
            json!({"command": "git status --short && rm -rf build"}),
        ),
    ];
    for (name, tool, input) in &cases {
        let input: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        let mut samples = Vec::with_capacity(n);
        let mut rule = "";
        for i in 0..n + 20 {
            let started = Instant::now();
            let policy = policy_with_200_rules(dir);
            let (decision, _) = policy.evaluate_tool(tool, &input, repo);
            let elapsed = started.elapsed();
            if i >= 20 {
                samples.push(elapsed);
            }
            rule = decision.rule;
        }
        samples.sort();
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {rule} |",
            percentile(&samples, 0.5).as_secs_f64() * 1e6,
            percentile(&samples, 0.95).as_secs_f64() * 1e6,
            percentile(&samples, 0.99).as_secs_f64() * 1e6,
        );
    }
}

/// Generators of pathological shell input, each filled to about `size` bytes.
type Generator = (&'static str, fn(usize) -> String);

fn generators() -> Vec<Generator> {
    fn nest(open: &str, close: &str, size: usize) -> String {
        let n = size / (open.len() + close.len());
        format!("echo {}x{}", open.repeat(n), close.repeat(n))
    }
    fn fill(unit: &str, size: usize) -> String {
        unit.repeat(size / unit.len())
    }
    vec![
        ("nested $(", |s| nest("$(echo ", ")", s)),
        ("nested \"$(", |s| nest("\"$(echo ", ")\"", s)),
        ("nested (", |s| nest("(", ")", s)),
        ("nested { ;}", |s| nest("{ ", ";}", s)),
        ("nested if/then", |s| nest("if a; then ", "; fi", s)),
        ("nested ${a:-", |s| nest("${a:-", "}", s)),
        ("nested $((", |s| nest("$((1+", "))", s)),
        ("sequential $(echo a)", |s| fill("echo $(echo a) ", s)),
        ("unbalanced $( \"a $( 'b (", |s| {
            fill("echo $( \"a $( 'b ( ", s)
        }),
        ("unclosed (", |s| fill("(", s)),
        ("long pipeline", |s| fill("cat a | ", s) + "cat"),
        ("&& chain of cd", |s| fill("cd d && ", s) + "ls"),
        ("many heredocs", |s| fill("cat <<E\nx\nE\n", s)),
        ("<<E repeated", |s| fill("<<E ", s)),
        ("one long word", |s| format!("echo {}", "a".repeat(s))),
        ("nested for loops", |s| {
            nest("for i in 1 2; do ", "; done", s)
        }),
        ("backquotes", |s| fill("echo `echo a` ", s)),
        ("brace expansions", |s| fill("cat /x/{a,b}{c,d} ", s)),
    ]
}

/// Every generator at 100 KB (over the analysed maximum), 60 KB and 8 KB, in process and
/// through the hook binary: answered within 50 ms, and at 100 KB with a deny or ask.
fn pathological(policy: &Policy, repo: &Path, scratch: &Path) -> bool {
    let budget = Duration::from_millis(50);
    println!("\n# Pathological shell commands (budget 50 ms; ask/deny required at 100 KB)\n");
    println!("| input | size | in process ms | through hook ms | decision | pass |");
    println!("|---|--:|--:|--:|---|:-:|");
    let binary = env!("CARGO_BIN_EXE_hookledger");
    let home = scratch.join("hook-home");
    let managed = scratch.join("managed");
    std::fs::create_dir_all(&managed).unwrap();
    std::fs::write(
        managed.join("policy.json"),
        r#"{"version":1,"unanalyzable":"ask","paths":{"deny_read":["**/.env"]}}"#,
    )
    .unwrap();
    let mut all = true;
    let mut worst_hook = Duration::ZERO;
    for (name, generate) in generators() {
        for size in [100_000usize, 60_000, 8_000] {
            let command = generate(size);
            let mut input = Map::new();
            input.insert("command".into(), Value::String(command.clone()));
            let started = Instant::now();
            let (decision, _) = policy.evaluate_tool("Bash", &input, repo);
            let in_process = started.elapsed();
            let payload = json!({
                "session_id": "bench", "transcript_path": "", "cwd": repo.display().to_string(),
                "hook_event_name": "PreToolUse", "tool_name": "Bash",
                "tool_input": {"command": command}, "tool_use_id": "toolu_bench"
            })
            .to_string();
            let started = Instant::now();
            let mut child = std::process::Command::new(binary)
                .args(["hook", "--event", "PreToolUse"])
                .env("HOOKLEDGER_HOME", &home)
                .env("HOOKLEDGER_MANAGED_DIR", &managed)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn hook");
            {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("stdin");
                let _ = stdin.write_all(payload.as_bytes());
            }
            let out = child.wait_with_output().expect("hook output");
            let through_hook = started.elapsed();
            worst_hook = worst_hook.max(through_hook);
            let answered = String::from_utf8_lossy(&out.stdout);
            let hook_verdict = if out.status.code() == Some(2) {
                "deny"
            } else if answered.contains("\"ask\"") {
                "ask"
            } else {
                "allow"
            };
            let refused =
                decision.action != hookledger::policy::Action::Allow && hook_verdict != "allow";
            let pass = in_process <= budget && through_hook <= budget && (size < 65_536 || refused);
            all &= pass;
            println!(
                "| {name} | {} KB | {:.2} | {:.2} | {:?}/{} (hook: {hook_verdict}) | {} |",
                size / 1000,
                in_process.as_secs_f64() * 1e3,
                through_hook.as_secs_f64() * 1e3,
                decision.action,
                decision.rule,
                if pass { "PASS" } else { "FAIL" }
            );
        }
    }
    println!(
        "\nSlowest answer through the hook: {:.2} ms",
        worst_hook.as_secs_f64() * 1e3
    );
    all
}
