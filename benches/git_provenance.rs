//! The git pre-commit hook with a 100,000-record ledger, through the real binary as git runs
//! it: a typical 5-file AI commit (target ≤ 100 ms) and a 500-file one (target ≤ 1 s). The
//! ledger holds 85,000 tool-call/tool-result records, 14,000 earlier edits in another
//! repository and the AI's edits of the commit's files. Baselines in the same run:
//! `git diff --cached --numstat` (the least a pre-commit can do) and `git commit` itself with
//! no hooks. Also reported once: the first pre-commit on that ledger (full chain check and
//! edit index built from scratch), which every later one skips.
//! Run: `cargo bench --bench git_provenance` (`BENCH_QUICK=1`: fewer repetitions).

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hookledger::ledger::{Ledger, NewRecord, OpenOptions, canonical_json};
use serde_json::{Value, json};

const LEDGER_RECORDS: u64 = 100_000;
const FILE_LINES: usize = 200;

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn file_text(i: usize) -> String {
    (0..FILE_LINES)
        .map(|l| format!("    let value_{i}_{l} = compute({l}, \"file {i}\");\n"))
        .collect()
}

/// An Edit of line 100 of file `i` into three lines, as `hookledger hook` records it.
fn edit(root: &Path, i: usize, seq: u64) -> (Value, String) {
    let before = file_text(i);
    let lines: Vec<&str> = before.lines().collect();
    let new_lines = [
        format!("    let value_{i}_99 = compute_better(99, \"file {i}\");"),
        format!("    tracing::debug!(value_{i}_99);"),
        format!("    assert!(value_{i}_99 > 0);"),
    ];
    let mut after_lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    after_lines.splice(99..100, new_lines.iter().cloned());
    let after = after_lines.join("\n") + "\n";
    let mut hunk: Vec<String> = (96..99).map(|l| format!(" {}", lines[l])).collect();
    hunk.push(format!("-{}", lines[99]));
    hunk.extend(new_lines.iter().map(|l| format!("+{l}")));
    hunk.extend((100..103).map(|l| format!(" {}", lines[l])));
    let rel = format!("src/file_{i}.rs");
    let payload = json!({
        "event": "PostToolUse", "session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d",
        "prompt_id": "2e2595a4-3ced-4290-989a-bc6fee27fcfd", "cwd": root, "tool": "Edit",
        "tool_use_id": format!("toolu_{seq:020}"), "model": "claude-opus-4-5-20251101",
        "model_source": "transcript-tool-use", "claude_code_version": "2.1.328",
        "path": root.join(&rel), "repository": {"root": root, "relative_path": rel},
        "before_blake3": blake3_hex(before.as_bytes()), "before_bytes": before.len(),
        "after_blake3": blake3_hex(after.as_bytes()), "after_bytes": after.len(),
        "change": "update", "user_modified": false, "lines_added": 3, "lines_removed": 1,
        "hunk_lines": "text",
        "hunks": [{"old_start": 97, "old_lines": 7, "new_start": 97, "new_lines": 9, "lines": hunk}],
    });
    (payload, after)
}

fn filler(n: u64) -> (String, Value) {
    let kind = if n.is_multiple_of(2) {
        "tool-call"
    } else {
        "tool-result"
    };
    (
        kind.into(),
        json!({
            "session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d", "tool": "Bash",
            "tool_use_id": format!("toolu_{n:020}"),
            "input": {"command": format!("cargo test -p crate{} 2>&1 | tail -20", n % 97), "description": "Run the tests"},
            "cwd": "/home/dev/proj", "model": "claude-opus-4-5-20251101", "model_source": "transcript-tool-use",
            "claude_code_version": "2.1.328",
            "decision": {"action": "allow", "rule": "no-match", "layer": "built-in", "reason": "no rule matched", "enforced": true},
        }),
    )
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Scenario {
    repo: PathBuf,
    home: PathBuf,
}

/// A repository of `files` committed files, `ai_files` of them edited by the AI and staged,
/// and a ledger of [`LEDGER_RECORDS`] records whose last edits are those.
fn scenario(work: &Path, name: &str, files: usize, ai_files: usize) -> Scenario {
    let repo = work.join(name).join("repo");
    let home = work.join(name).join("home");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    for i in 0..files {
        std::fs::write(repo.join(format!("src/file_{i}.rs")), file_text(i)).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    let root = std::fs::canonicalize(&repo).unwrap();

    let mut ledger = Ledger::open(&home.join("ledger.db"), &OpenOptions::default()).unwrap();
    let other_root = Path::new("/home/dev/other-project");
    let ai_edits = ai_files as u64;
    let old_edits = 14_000u64;
    let fillers = LEDGER_RECORDS - 1 - ai_edits - old_edits;
    let start_ns = hookledger::ledger::now_ns() - LEDGER_RECORDS as i64 * 1_000_000_000;
    let mut batch = Vec::with_capacity(10_000);
    let mut n = 0u64;
    let flush = |batch: &mut Vec<NewRecord>, ledger: &mut Ledger| {
        ledger.append(batch).unwrap();
        batch.clear();
    };
    for i in 0..(fillers + old_edits) {
        n += 1;
        let (kind, payload) = if i % 7 == 3 && i / 7 < old_edits {
            ("edit".to_owned(), edit(other_root, (i % 300) as usize, n).0)
        } else {
            filler(n)
        };
        batch.push(NewRecord {
            ts_ns: start_ns + n as i64 * 1_000_000_000,
            kind,
            payload: canonical_json(&payload),
        });
        if batch.len() == 10_000 {
            flush(&mut batch, &mut ledger);
        }
    }
    for i in 0..ai_files {
        n += 1;
        let (payload, after) = edit(&root, i, n);
        std::fs::write(repo.join(format!("src/file_{i}.rs")), after).unwrap();
        batch.push(NewRecord {
            ts_ns: start_ns + n as i64 * 1_000_000_000,
            kind: "edit".into(),
            payload: canonical_json(&payload),
        });
    }
    flush(&mut batch, &mut ledger);
    let (head, _) = ledger.head().unwrap();
    assert!(head >= LEDGER_RECORDS - 1, "ledger has {head} records");
    drop(ledger);
    git(&repo, &["add", "-A"]);
    Scenario { repo, home }
}

fn time_command(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{:?}: {}{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn pre_commit(s: &Scenario) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookledger"));
    cmd.args(["git", "pre-commit"])
        .current_dir(&s.repo)
        .env("HOOKLEDGER_HOME", &s.home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

fn numstat(s: &Scenario) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(["diff", "--cached", "--numstat"])
        .current_dir(&s.repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

fn plain_commit(s: &Scenario) -> Command {
    // `--dry-run` does everything a commit does but write it, so it repeats; no hooks run.
    let mut cmd = Command::new("git");
    cmd.args(["commit", "--dry-run", "-q", "--no-verify", "-m", "x"])
        .current_dir(&s.repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com");
    cmd
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs = if quick() { 5 } else { 25 };
    let work = tempfile::tempdir().unwrap();
    eprintln!("[bench] building two repositories with 100,000-record ledgers");
    let typical = scenario(work.path(), "typical", 200, 5);
    let large = scenario(work.path(), "large", 600, 500);

    println!("# git pre-commit, 100,000-record ledger ({runs} runs each, release build)\n");
    println!(
        "| case | first run (ms) | p50 (ms) | p95 (ms) | target | baseline numstat p50 (ms) | baseline commit p50 (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, s, target) in [
        ("5 files, 15 AI lines", &typical, 100.0),
        ("500 files, 1,500 AI lines", &large, 1000.0),
    ] {
        let first = time_command(pre_commit(s));
        let out = pre_commit(s).output().unwrap();
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(summary.contains("AI lines"), "{summary}");
        let (mut hook, mut base, mut commit) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            hook.push(time_command(pre_commit(s)));
            base.push(time_command(numstat(s)));
            commit.push(time_command(plain_commit(s)));
        }
        let p50 = percentile(&mut hook, 0.5);
        let p95 = percentile(&mut hook, 0.95);
        let verdict = if p50.as_secs_f64() * 1000.0 <= target {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "| {name} | {} | {} | {} | ≤ {target:.0} ms: {verdict} | {} | {} |",
            ms(first),
            ms(p50),
            ms(p95),
            ms(percentile(&mut base, 0.5)),
            ms(percentile(&mut commit, 0.5)),
        );
        eprintln!("[bench] {name}: {}", summary.lines().next().unwrap_or(""));
    }
    println!(
        "\nFirst run: the chain check covers all 100,000 records and the edit index is built; later runs check only what was appended since."
    );

    // What a developer waits for: the whole `git commit` with all four hooks (pre-commit,
    // commit-msg with the anchor trailer, post-commit with the note and the commit record),
    // against the same commit with hooks switched off. Each commit is undone, untimed.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_hookledger"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let install = Command::new(env!("CARGO_BIN_EXE_hookledger"))
        .args(["git", "install"])
        .current_dir(&typical.repo)
        .env("HOOKLEDGER_HOME", &typical.home)
        .output()
        .unwrap();
    assert!(install.status.success());
    let commit = |hooks: bool| {
        let mut cmd = Command::new("git");
        if !hooks {
            cmd.args(["-c", "core.hooksPath=/dev/null"]);
        }
        cmd.args(["commit", "-q", "-m", "AI change"])
            .current_dir(&typical.repo)
            .env("PATH", &path)
            .env("HOOKLEDGER_HOME", &typical.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", "Dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.com");
        let elapsed = time_command(cmd);
        git(&typical.repo, &["reset", "-q", "--soft", "HEAD~1"]);
        elapsed
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        with.push(commit(true));
        without.push(commit(false));
    }
    println!("\n| whole `git commit`, 5 files | p50 (ms) | p95 (ms) |\n|---|---|---|");
    println!(
        "| with hookledger's four hooks | {} | {} |",
        ms(percentile(&mut with, 0.5)),
        ms(percentile(&mut with, 0.95))
    );
    println!(
        "| baseline: hooks off | {} | {} |",
        ms(percentile(&mut without, 0.5)),
        ms(percentile(&mut without, 0.95))
    );
}
