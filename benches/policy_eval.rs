//! In-process policy evaluation with a 200-rule policy: p50/p95/p99 per typical call, against
//! the target p99 ≤ 100 µs; then pathological inputs (deep nesting, thousands of `$(`, 10k
//! words, huge heredocs, MCP arguments nested deep, searches with huge filters), in process and,
//! for shell commands, through the real hook binary, against 50 ms with a deny or ask.
//! Run: `cargo bench --bench policy_eval` (`BENCH_QUICK=1` for fewer samples).
//!
//! Beside another build in the same run: `POLICY_EVAL_BASE=/path/to/its/policy_eval-bench-binary`
//! (default: the newest `target-base/release/deps/policy_eval-*`, see benches/README.md) runs
//! that build's bench as a subprocess after this one's rows and prints one table with both. The
//! other build's rows are read from its Markdown tables (9a8ae49, the release, has no other
//! output), or from JSON lines when it has `POLICY_EVAL_JSON=1` (this one: one JSON object per
//! row, nothing else on stdout).

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

use std::path::{Path, PathBuf};
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
        (
            "Grep glob *.rs in repo",
            "Grep",
            json!({"pattern": "TODO", "glob": "*.rs", "path": repo.display().to_string()}),
        ),
        (
            "MCP write_spreadsheet, file:// URI",
            "mcp__sheets__write_spreadsheet",
            json!({"uri": format!("file://{}", file("data/q1 report.xlsx")), "rows": [["a", "b"]]}),
        ),
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
    let json_mode = std::env::var_os("POLICY_EVAL_JSON").is_some();
    let prompt = "Please refactor the parser and keep the tests green. ".repeat(20);
    let mut rows: Vec<Row> = Vec::new();
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
        Row::typical(name, &samples, rule)
    };
    for (name, tool, input) in &cases {
        let input: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        rows.push(row(name, &mut |_| (input.clone(), tool)));
    }
    for (name, template) in &bash_cases {
        rows.push(row(name, &mut |i| {
            let mut input = Map::new();
            input.insert(
                "command".into(),
                Value::String(template.replace("{i}", &i.to_string())),
            );
            (input, "Bash")
        }));
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
    rows.push(Row::typical(
        &format!("prompt DLP, {} B", prompt.len()),
        &samples,
        "no-match",
    ));
    if !json_mode {
        cold_rows(dir.path(), &repo, n / 5);
    }
    rows.extend(pathological(&policy, &repo, dir.path()));
    rows.extend(pathological_tools(&policy, &repo));
    if json_mode {
        for r in &rows {
            println!("{}", r.json());
        }
        return;
    }
    let base = base_rows();
    report(rules, n, &rows, base.as_ref());
}

/// One measured row: a typical call (µs percentiles) or a pathological input (ms).
#[derive(Debug, Clone, Default)]
struct Row {
    /// `typical` or `pathological`.
    section: String,
    name: String,
    /// Bytes of input (pathological rows).
    size: usize,
    p50_us: f64,
    p95_us: f64,
    p99_us: f64,
    in_process_ms: f64,
    /// Through the hook binary; `None` for in-process-only rows.
    hook_ms: Option<f64>,
    decision: String,
    pass: bool,
}

impl Row {
    fn typical(name: &str, sorted: &[Duration], rule: &str) -> Row {
        let us = |p| percentile(sorted, p).as_secs_f64() * 1e6;
        let p99 = us(0.99);
        Row {
            section: "typical".into(),
            name: name.into(),
            p50_us: us(0.5),
            p95_us: us(0.95),
            p99_us: p99,
            decision: rule.into(),
            pass: p99 <= 100.0,
            ..Row::default()
        }
    }

    fn json(&self) -> Value {
        json!({
            "section": self.section, "name": self.name, "size": self.size,
            "p50_us": self.p50_us, "p95_us": self.p95_us, "p99_us": self.p99_us,
            "in_process_ms": self.in_process_ms, "hook_ms": self.hook_ms,
            "decision": self.decision, "pass": self.pass,
        })
    }

    fn from_json(v: &Value) -> Option<Row> {
        let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        Some(Row {
            section: v.get("section")?.as_str()?.into(),
            name: v.get("name")?.as_str()?.into(),
            size: v.get("size").and_then(Value::as_u64).unwrap_or(0) as usize,
            p50_us: f("p50_us"),
            p95_us: f("p95_us"),
            p99_us: f("p99_us"),
            in_process_ms: f("in_process_ms"),
            hook_ms: v.get("hook_ms").and_then(Value::as_f64),
            decision: v.get("decision")?.as_str()?.into(),
            pass: v.get("pass").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// The row's key across builds: section, name and size.
    fn key(&self) -> (String, String, usize) {
        (self.section.clone(), self.name.clone(), self.size)
    }
}

/// Rows of another build's bench, from its Markdown tables: `| call | p50 | p95 | p99 |
/// decision | PASS |` and `| input | N KB | in process ms | through hook ms | decision | pass |`.
fn parse_markdown(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with("# Policy evaluation") {
            section = "typical";
        } else if line.starts_with("# First call") {
            section = "";
        } else if line.starts_with("# Pathological") {
            section = "pathological";
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if section.is_empty() || !line.starts_with('|') || cells.len() < 6 {
            continue;
        }
        // A name may hold a `|` (`cargo test | tail`): the last five cells are the numbers.
        let extra = cells.len() - 6;
        let name = cells[..=extra].join(" | ");
        let cells: Vec<&str> = std::iter::once(name.as_str())
            .chain(cells[extra + 1..].iter().copied())
            .collect();
        let num = |s: &str| s.parse::<f64>().ok();
        let row = match section {
            "typical" => {
                let (Some(p50), Some(p95), Some(p99)) =
                    (num(cells[1]), num(cells[2]), num(cells[3]))
                else {
                    continue;
                };
                Row {
                    section: section.into(),
                    name: cells[0].into(),
                    p50_us: p50,
                    p95_us: p95,
                    p99_us: p99,
                    decision: cells[4].into(),
                    pass: cells[5] == "PASS",
                    ..Row::default()
                }
            }
            _ => {
                let Some(kb) = cells[1]
                    .strip_suffix(" KB")
                    .and_then(|k| k.parse::<usize>().ok())
                else {
                    continue;
                };
                let Some(in_process) = num(cells[2]) else {
                    continue;
                };
                Row {
                    section: section.into(),
                    name: cells[0].into(),
                    size: kb * 1000,
                    in_process_ms: in_process,
                    hook_ms: num(cells[3]),
                    decision: cells[4].into(),
                    pass: cells[5] == "PASS",
                    ..Row::default()
                }
            }
        };
        rows.push(row);
    }
    rows
}

/// The other build's bench binary: `POLICY_EVAL_BASE`, else the newest
/// `target-base/release/deps/policy_eval-*` executable, else none (`POLICY_EVAL_BASE=none`
/// turns the comparison off).
fn base_binary() -> Option<PathBuf> {
    match std::env::var_os("POLICY_EVAL_BASE") {
        Some(path) if path == "none" => None,
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let deps = Path::new(env!("CARGO_MANIFEST_DIR")).join("target-base/release/deps");
            std::fs::read_dir(deps)
                .ok()?
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("policy_eval-") && !name.contains('.')
                })
                .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
                .map(|e| e.path())
        }
    }
}

/// Runs the other build's bench (same `BENCH_QUICK`) and reads its rows.
fn base_rows() -> Option<(PathBuf, Vec<Row>)> {
    let binary = base_binary()?;
    eprintln!(
        "[bench] running the base build's bench: {}",
        binary.display()
    );
    let out = std::process::Command::new(&binary)
        .arg("--bench")
        .env("POLICY_EVAL_JSON", "1")
        .env_remove("POLICY_EVAL_BASE")
        .stderr(std::process::Stdio::inherit())
        .output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            eprintln!("[bench] the base bench failed: {}", out.status);
            return None;
        }
        Err(e) => {
            eprintln!("[bench] cannot run {}: {e}", binary.display());
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let from_json: Vec<Row> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Row::from_json(&v))
        .collect();
    let rows = if from_json.is_empty() {
        parse_markdown(&text)
    } else {
        from_json
    };
    Some((binary, rows))
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// One Markdown report: this build's rows, with the base build's beside them when it ran.
fn report(rules: usize, n: usize, rows: &[Row], base: Option<&(PathBuf, Vec<Row>)>) {
    let find = |r: &Row| {
        base.and_then(|(_, rows)| rows.iter().find(|b| b.key() == r.key()))
            .cloned()
    };
    if let Some((binary, base_rows)) = base {
        println!(
            "Base build: `{}` ({} rows read)
",
            binary.display(),
            base_rows.len()
        );
    }
    println!(
        "# Policy evaluation, in process ({rules} rules, {n} samples per row)
"
    );
    println!(
        "| call | p50 µs | p95 µs | p99 µs | base p50 µs | base p99 µs | decision | base decision | p99 ≤ 100 µs |"
    );
    println!("|---|--:|--:|--:|--:|--:|---|---|:-:|");
    let mut all_pass = true;
    for r in rows.iter().filter(|r| r.section == "typical") {
        let b = find(r);
        all_pass &= r.pass;
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
            r.name,
            r.p50_us,
            r.p95_us,
            r.p99_us,
            cell(b.as_ref().map(|b| b.p50_us), 1),
            cell(b.as_ref().map(|b| b.p99_us), 1),
            r.decision,
            b.as_ref().map_or("–", |b| b.decision.as_str()),
            if r.pass { "PASS" } else { "FAIL" }
        );
    }
    println!(
        "\n# Pathological inputs (budget 50 ms; ask/deny required at 100 KB and for tool inputs)\n"
    );
    println!(
        "| input | size | in process ms | through hook ms | base in process ms | base hook ms | decision | base decision | pass |"
    );
    println!("|---|--:|--:|--:|--:|--:|---|---|:-:|");
    let mut worst_hook = 0.0f64;
    for r in rows.iter().filter(|r| r.section != "typical") {
        let b = find(r);
        all_pass &= r.pass;
        worst_hook = worst_hook.max(r.hook_ms.unwrap_or(0.0));
        println!(
            "| {} | {} KB | {:.2} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.size / 1000,
            r.in_process_ms,
            cell(r.hook_ms, 2),
            cell(b.as_ref().map(|b| b.in_process_ms), 2),
            cell(b.as_ref().and_then(|b| b.hook_ms), 2),
            r.decision,
            b.as_ref().map_or("–", |b| b.decision.as_str()),
            if r.pass { "PASS" } else { "FAIL" }
        );
    }
    println!("\nSlowest answer through the hook: {worst_hook:.2} ms");
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
        // Issue 14's classes 2, 5 and 6 at size.
        ("words (echo w w w …)", |s| {
            format!("echo {}", "word ".repeat(s / 5))
        }),
        ("huge quoted heredoc", |s| {
            format!(
                "cat > out.txt <<'EOF'\n{}EOF\n",
                "a line of text\n".repeat(s / 15)
            )
        }),
        ("heredoc into bash /dev/stdin", |s| {
            format!(
                "bash /dev/stdin <<'EOF'\n{}EOF\n",
                "echo hi; cat a.txt\n".repeat(s / 19)
            )
        }),
        ("find -exec chain", |s| {
            fill("find . -name '*.tmp' -exec cat {} + ; ", s)
        }),
        ("grep --include filters", |s| {
            format!("grep -r x {}.", "--include='*.{a,b,c}' ".repeat(s / 22))
        }),
        ("tar -xf chain", |s| fill("tar -xf a.tar -C d ; ", s)),
        // Every path is judged against every rule after the walk: the most paths one command
        // can name before the walk gives up (2,000).
        ("many paths (cat d/fN.txt …)", |s| {
            let mut out = String::from("cat");
            for i in 0.. {
                if out.len() >= s {
                    break;
                }
                out.push_str(&format!(" d{}/f{i}.txt", i % 7));
            }
            out
        }),
    ]
}

/// Every generator at 100 KB (over the analysed maximum), 60 KB and 8 KB, in process and
/// through the hook binary: answered within 50 ms, and at 100 KB with a deny or ask.
fn pathological(policy: &Policy, repo: &Path, scratch: &Path) -> Vec<Row> {
    let budget = Duration::from_millis(50);
    let binary = env!("CARGO_BIN_EXE_hookledger");
    let home = scratch.join("hook-home");
    let managed = scratch.join("managed");
    std::fs::create_dir_all(&managed).unwrap();
    std::fs::write(
        managed.join("policy.json"),
        r#"{"version":1,"unanalyzable":"ask","paths":{"deny_read":["**/.env"]}}"#,
    )
    .unwrap();
    let mut rows = Vec::new();
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
            rows.push(Row {
                section: "pathological".into(),
                name: name.into(),
                size,
                in_process_ms: in_process.as_secs_f64() * 1e3,
                hook_ms: Some(through_hook.as_secs_f64() * 1e3),
                decision: format!(
                    "{:?}/{} (hook: {hook_verdict})",
                    decision.action, decision.rule
                ),
                pass,
                ..Row::default()
            });
        }
    }
    rows
}

/// Pathological non-shell inputs, in process (issue 14, class 5): MCP arguments nested past
/// the walk's bound or holding thousands of strings, and search filters with many
/// alternatives; within 50 ms, and the unbounded ones refused or asked.
fn pathological_tools(policy: &Policy, repo: &Path) -> Vec<Row> {
    let budget = Duration::from_millis(50);
    let mut deep = json!({"path": "src/main.rs"});
    for _ in 0..2_000 {
        deep = json!({"next": deep});
    }
    let many: Vec<Value> = (0..100_000)
        .map(|i| json!(format!("dir{i}/file{i}.txt")))
        .collect();
    let alternatives: Vec<String> = (0..5_000).map(|i| format!("f{i}.rs")).collect();
    let cases: Vec<(&str, &str, Value, bool)> = vec![
        ("MCP args nested 2k deep", "mcp__fs__read_text", deep, true),
        (
            "MCP args, 100k path strings",
            "mcp__fs__write_many",
            json!({"paths": many}),
            true,
        ),
        (
            "Grep glob with 5k alternatives",
            "Grep",
            json!({"pattern": "x", "glob": format!("{{{}}}", alternatives.join(","))}),
            false,
        ),
        (
            "Glob pattern of 50k stars",
            "Glob",
            json!({"pattern": "*".repeat(50_000), "path": "/"}),
            false,
        ),
    ];
    let mut rows = Vec::new();
    for (name, tool, input, must_refuse) in cases {
        let size = input.to_string().len();
        let input: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        let started = Instant::now();
        let (decision, _) = policy.evaluate_tool(tool, &input, repo);
        let in_process = started.elapsed();
        let refused = decision.action != hookledger::policy::Action::Allow;
        rows.push(Row {
            section: "pathological-tools".into(),
            name: name.into(),
            size,
            in_process_ms: in_process.as_secs_f64() * 1e3,
            hook_ms: None,
            decision: format!("{:?}/{}", decision.action, decision.rule),
            pass: in_process <= budget && (!must_refuse || refused),
            ..Row::default()
        });
    }
    rows
}
