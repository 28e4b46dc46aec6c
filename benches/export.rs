//! Export and receiver throughput on a 1,000,000-record ledger, through the real binary:
//! `hookledger export` (native, to a file) and `hookledger verify-export` of that file (also as
//! segment files, and given twice), against the targets of 1M records/s each and a peak RSS of
//! 64 MiB for the receiver. Baselines in the same run: reading the file and counting lines,
//! BLAKE3 over every line (the hashing floor for the receiver), and the receiver of another
//! build (`BENCH_BASELINE_BIN`, e.g. the previous release) on the same files.
//! Run: `cargo bench --bench export` (`BENCH_QUICK=1`: 100,000 records).

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

use hookledger::ledger::{Ledger, NewRecord, OpenOptions, SCHEMA_VERSION, canonical_json};
use serde_json::json;

fn records() -> u64 {
    if std::env::var_os("BENCH_QUICK").is_some() {
        100_000
    } else {
        1_000_000
    }
}

/// A ledger of tool-call-like records (~500 bytes of payload each), generated once. Interval
/// checkpoints are off: the ledger is built in batches of 10,000, which a hook never does.
fn cached_ledger(count: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-cache")
        .join(format!("export-ledger-{count}-s{SCHEMA_VERSION}"));
    let path = dir.join("ledger.db");
    if dir.join("done").exists() {
        return path;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("[bench] generating a {count}-record ledger (cached)");
    let options = OpenOptions {
        checkpoint_every: 0,
        ..OpenOptions::default()
    };
    let mut ledger = Ledger::open(&path, &options).expect("ledger");
    let mut seq = 1u64;
    let start_ns = hookledger::ledger::now_ns() - count as i64 * 1_000_000_000;
    while seq < count {
        let batch: Vec<NewRecord> = (0..10_000.min(count - seq))
            .map(|i| {
                let n = seq + i;
                NewRecord {
                    ts_ns: start_ns + n as i64 * 1_000_000_000,
                    kind: "tool-call".into(),
                    payload: canonical_json(&json!({
                        "session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d",
                        "tool": "Bash", "tool_use_id": format!("toolu_{n:020}"),
                        "input": {"command": format!("cargo test -p crate{} 2>&1 | tail -20", n % 97), "description": "Run the tests"},
                        "cwd": "/home/dev/proj", "model": "claude-opus-4-5-20251101", "model_source": "transcript-tool-use",
                        "claude_code_version": "2.1.328",
                        "decision": {"action": "allow", "rule": "no-match", "layer": "built-in", "reason": "no rule matched", "enforced": true},
                        "targets": [{"path": format!("/home/dev/proj/src/f{}.rs", n % 1000), "access": "read"}]
                    })),
                }
            })
            .collect();
        let outcome = ledger.append(&batch).expect("append");
        seq = outcome.appended.last().map_or(seq, |a| a.seq);
    }
    drop(ledger);
    std::fs::write(dir.join("done"), "").unwrap();
    path
}

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

/// What one run of the binary cost.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    /// User + system CPU time: comparable between runs even on a loaded machine.
    cpu: Duration,
    /// Peak resident set (VmHWM), bytes.
    peak_rss: u64,
}

/// Runs `binary args…` and returns its cost, from the child's own rusage through `wait4`.
fn timed(binary: &Path, args: &[&str], home: &Path) -> Cost {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let child = std::process::Command::new(binary)
        .args(args)
        .env("HOOKLEDGER_HOME", home)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run hookledger");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for this child only.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our unwaited child; status and usage point to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    let status = std::process::ExitStatus::from_raw(status);
    // verify-export exits 1 when it finds problems; both builds must agree the file is intact.
    assert!(status.success(), "{} {args:?}: {status}", binary.display());
    drop(child);
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Cost {
        wall: elapsed,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        peak_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    }
}

fn main() {
    let count = records();
    let source = cached_ledger(count);
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let ledger = home.join("ledger.db");
    std::fs::copy(&source, &ledger).unwrap();
    // The signing key lives beside the ledger; copy it too.
    let keys = source.parent().unwrap().join("keys");
    let copy_keys = home.join("keys");
    std::fs::create_dir_all(&copy_keys).unwrap();
    for entry in std::fs::read_dir(&keys).unwrap().flatten() {
        std::fs::copy(entry.path(), copy_keys.join(entry.file_name())).unwrap();
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_hookledger"));
    // The release to compare with, run on the same files in the same run.
    let baseline = std::env::var_os("BENCH_BASELINE_BIN").map(PathBuf::from);
    if baseline.is_none() {
        eprintln!(
            "[bench] BENCH_BASELINE_BIN is not set: no baseline rows (e.g. BENCH_BASELINE_BIN=/work/baseline/hookledger-f111b83)"
        );
    }
    let file = work.path().join("export.ndjson");
    let run = |args: &[&str]| timed(binary, args, &home).wall;
    let export = best_of(3, || {
        run(&["export", "--no-checkpoint", "-o", file.to_str().unwrap()])
    });
    let size = std::fs::metadata(&file).unwrap().len();
    // The same export into memory (tmpfs), where the disk's write-back and fsync cost nothing:
    // what formatting alone sustains.
    let shm = Path::new("/dev/shm");
    let in_memory = shm.is_dir().then(|| {
        let target = shm.join(format!("hookledger-bench-{}.ndjson", std::process::id()));
        let time = best_of(3, || {
            run(&["export", "--no-checkpoint", "-o", target.to_str().unwrap()])
        });
        let _ = std::fs::remove_file(&target);
        time
    });
    // The same records as segment files of 100,000 (many small batches) for the receiver.
    let segments = work.path().join("segments");
    let out = std::process::Command::new(binary)
        .args([
            "export",
            "--no-checkpoint",
            "--rotate",
            segments.to_str().unwrap(),
        ])
        .args(["--segment-records", "100000"])
        .env("HOOKLEDGER_HOME", &home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file_arg = file.to_str().unwrap();
    let receiver_inputs: Vec<(&str, Vec<&str>, u64)> = vec![
        ("one file", vec![file_arg], count),
        (
            "segment files of 100,000",
            vec![segments.to_str().unwrap()],
            count,
        ),
        (
            "the file twice (every record a duplicate)",
            vec![file_arg, file_arg],
            count * 2,
        ),
    ];
    let mut receiver_rows = Vec::new();
    let builds: Vec<(&str, &Path)> = [
        ("this build", Some(binary)),
        ("baseline", baseline.as_deref()),
    ]
    .into_iter()
    .filter_map(|(who, bin)| Some((who, bin?)))
    .collect();
    for (label, inputs, lines) in &receiver_inputs {
        let mut args = vec!["verify-export"];
        args.extend(inputs.iter().copied());
        // Interleaved, so drift in the machine's load hits both builds alike.
        let mut best = vec![
            Cost {
                wall: Duration::MAX,
                ..Cost::default()
            };
            builds.len()
        ];
        let mut peaks = vec![0u64; builds.len()];
        for _ in 0..3 {
            for (i, (_, bin)) in builds.iter().enumerate() {
                let cost = timed(bin, &args, &home);
                peaks[i] = peaks[i].max(cost.peak_rss);
                if cost.wall < best[i].wall {
                    best[i] = cost;
                }
            }
        }
        for (i, (who, _)) in builds.iter().enumerate() {
            receiver_rows.push((
                format!("verify-export, {label}: {who}"),
                best[i],
                peaks[i],
                *lines,
            ));
        }
    }
    let read_lines = best_of(3, || {
        let started = Instant::now();
        let bytes = std::fs::read(&file).unwrap();
        let lines = bytes.iter().filter(|b| **b == b'\n').count();
        assert!(lines as u64 >= count - 1);
        started.elapsed()
    });
    // What the disk itself takes for the same bytes: write them to a new file and fsync, as
    // export does before its rename.
    let write_floor = best_of(3, || {
        let bytes = std::fs::read(&file).unwrap();
        let copy = work.path().join("copy.ndjson");
        let started = Instant::now();
        let mut out = std::fs::File::create(&copy).unwrap();
        std::io::Write::write_all(&mut out, &bytes).unwrap();
        out.sync_all().unwrap();
        let elapsed = started.elapsed();
        std::fs::remove_file(&copy).unwrap();
        elapsed
    });
    let hash_lines = best_of(3, || {
        let started = Instant::now();
        let bytes = std::fs::read(&file).unwrap();
        let mut acc = 0u8;
        for line in bytes.split(|b| *b == b'\n') {
            acc ^= blake3::hash(line).as_bytes()[0];
        }
        std::hint::black_box(acc);
        started.elapsed()
    });
    let rate = |d: Duration, n: u64| n as f64 / d.as_secs_f64() / 1e6;
    let mark = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!(
        "# Export and verify-export, {count} records ({:.0} MB of NDJSON), best of 3\n",
        size as f64 / 1e6
    );
    println!(
        "Load average when the runs ended: {} (2 cores shared with other work make wall times noisy; CPU time is not).\n",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("| step | seconds | M records/s | target | pass |");
    println!("|---|--:|--:|--:|:-:|");
    let mut rows = vec![("hookledger export (native, to a file)", export, Some(1.0))];
    if let Some(d) = in_memory {
        rows.push(("hookledger export (native, to tmpfs: no disk)", d, None));
    }
    for (name, d, target) in rows.into_iter().chain([
        ("baseline: read the file, count lines", read_lines, None),
        (
            "baseline: write the same bytes and fsync",
            write_floor,
            None,
        ),
        (
            "baseline: BLAKE3 of every line (one thread)",
            hash_lines,
            None,
        ),
    ]) {
        println!(
            "| {name} | {:.3} | {:.2} | {} | {} |",
            d.as_secs_f64(),
            rate(d, count),
            target.map(|t| format!("≥ {t}")).unwrap_or_default(),
            target.map(|t| mark(rate(d, count) >= t)).unwrap_or("")
        );
    }
    println!(
        "\n# The receiver: verify-export, this build and the baseline binary, best of 3 (peak RSS: the largest of the 3)\n"
    );
    println!(
        "| run | lines | seconds | M lines/s | CPU s (user+sys) | peak RSS MiB | targets (≥ 1 M/s, ≤ 64 MiB) |"
    );
    println!("|---|--:|--:|--:|--:|--:|:-:|");
    for (name, cost, peak, lines) in &receiver_rows {
        let time = &cost.wall;
        let mib = *peak as f64 / (1024.0 * 1024.0);
        let target = if name.ends_with("this build") {
            format!(
                "{} / {}",
                mark(rate(*time, *lines) >= 1.0),
                mark(mib <= 64.0)
            )
        } else {
            String::new()
        };
        println!(
            "| {name} | {lines} | {:.3} | {:.2} | {:.2} | {mib:.1} | {target} |",
            time.as_secs_f64(),
            rate(*time, *lines),
            cost.cpu.as_secs_f64()
        );
    }
}
