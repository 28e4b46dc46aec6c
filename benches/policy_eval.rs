//! In-process policy evaluation with a 200-rule policy: p50/p95/p99 per typical call, against
//! the target p99 ≤ 100 µs. Run: `cargo bench --bench policy_eval`.

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
    let prompt = "Please refactor the parser and keep the tests green. ".repeat(20);
    println!(
        "# Policy evaluation, in process ({rules} rules, {} samples per row)\n",
        5000
    );
    println!("| call | p50 µs | p95 µs | p99 µs | decision | p99 ≤ 100 µs |");
    println!("|---|--:|--:|--:|---|:-:|");
    let mut all_pass = true;
    for (name, tool, input) in &cases {
        let input: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        let mut samples = Vec::with_capacity(5000);
        let mut rule = "";
        for i in 0..5200 {
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
        all_pass &= pass;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {rule} | {} |",
            percentile(&samples, 0.5).as_secs_f64() * 1e6,
            percentile(&samples, 0.95).as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            if pass { "PASS" } else { "FAIL" }
        );
    }
    let mut samples = Vec::new();
    for i in 0..5200 {
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
    println!(
        "\n{}",
        if all_pass {
            "All rows PASS."
        } else {
            "Some rows FAIL."
        }
    );
}
