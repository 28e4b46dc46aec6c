//! `cargo bench --bench hook_latency`: what a Claude Code hook event costs with hookledger.
//!
//! Spawns the release binary once per event exactly as Claude Code does (payload on stdin,
//! `HOOKLEDGER_HOME` set), next to a minimal Rust program that only reads and parses the payload,
//! and prints Markdown: latency per payload × ledger size × transcript size, the ratios to the
//! baseline and the growth with ledger and transcript size against their targets, latency as the
//! WAL grows, an in-process breakdown, `Durability::Full` against `Normal`, and `verify`
//! throughput.
//!
//! `BENCH_QUICK=1` runs a smoke version (well under 2 minutes). `BENCH_AB_BIN=PATH` adds an
//! interleaved A/B of this build against another hookledger binary (`BENCH_AB_ONLY=1`: only
//! that). See `benches/README.md`.

// A test harness, not library code: it may panic on what it set up, and it reports by printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]

mod fixtures;
mod stats;

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hookledger::config::{LEDGER_FILE, Paths};
use hookledger::hook::{self, HookEnv, transcript};
use hookledger::ledger::verify::verify;
use hookledger::ledger::{
    self, Durability, FORMAT_VERSION, Ledger, OpenOptions, SCHEMA_VERSION, spool,
};
use serde_json::Value;

use fixtures::{Payload, Project, RecordGen};
use stats::{Summary, ms, summarize};

const LARGE_LEDGER_RECORDS: u64 = 1_000_000;
const GENERATE_BATCH: usize = 10_000;
const SMALL_TRANSCRIPT: u64 = 10 << 10;
const LARGE_TRANSCRIPT: u64 = 50 << 20;

const TARGET_P50_RATIO: f64 = 1.5;
const TARGET_P99_RATIO: f64 = 3.0;
const TARGET_GROWTH: f64 = 0.10;
const TARGET_VERIFY_PER_S: f64 = 2_000_000.0;

/// Durability runs truncate the WAL (untimed) this often; see `run_durability`.
const DURABILITY_WAL_RESET_EVERY: usize = 100;

struct Config {
    quick: bool,
    /// Measured invocations per cell.
    n: usize,
    warmup: usize,
    /// In-process samples per breakdown row.
    breakdown_n: usize,
    durability_n: usize,
    verify_runs: usize,
    /// Events in the WAL-growth sweep.
    wal_events: usize,
}

impl Config {
    fn from_env() -> Self {
        let quick = std::env::var("BENCH_QUICK")
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Config {
            quick,
            n: number("BENCH_N", if quick { 40 } else { 300 }),
            warmup: number("BENCH_WARMUP", if quick { 5 } else { 20 }),
            breakdown_n: number("BENCH_BREAKDOWN_N", if quick { 30 } else { 200 }),
            durability_n: number("BENCH_DURABILITY_N", if quick { 200 } else { 2_000 }),
            verify_runs: number("BENCH_VERIFY_RUNS", if quick { 1 } else { 3 }),
            wal_events: number("BENCH_WAL_EVENTS", if quick { 500 } else { 3_000 }),
        }
    }
}

fn progress(message: &str) {
    eprintln!("[bench] {message}");
}

fn main() {
    let started = Instant::now();
    let config = Config::from_env();
    let built_exe = PathBuf::from(env!("CARGO_BIN_EXE_hookledger"));
    // Another build (a candidate fix, say) can be measured against the same fixtures.
    let hook_exe = std::env::var_os("BENCH_HOOK_BIN").map_or(built_exe.clone(), PathBuf::from);
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let release_dir = built_exe
        .parent()
        .expect("binary has a directory")
        .to_owned();
    let target_dir = release_dir.parent().unwrap_or(&release_dir).to_owned();
    let cache = target_dir.join("bench-cache");
    let work_root = target_dir.join("bench-work");
    fs::create_dir_all(&cache).expect("create bench cache");
    fs::create_dir_all(&work_root).expect("create bench work dir");
    let work = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&work_root)
        .expect("create run dir");

    let baseline_exe = build_baseline(&manifest_dir, &release_dir);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# hookledger hook latency ({} mode)\n",
        if config.quick { "quick" } else { "full" }
    );
    machine_facts(
        &mut out,
        &config,
        &hook_exe,
        &baseline_exe,
        &manifest_dir,
        work.path(),
    );
    flush(&mut out);

    // ---- Fixtures
    let project = fixtures::make_project(&cache.join("proj")).expect("create project");
    let reference = fixtures::load_reference(&manifest_dir);
    let ids = fixtures::session_ids(&reference);
    let transcripts: Vec<Transcript> = [SMALL_TRANSCRIPT, LARGE_TRANSCRIPT]
        .iter()
        .map(|&bytes| cached_transcript(&cache, bytes, &ids, &project))
        .collect();
    // ---- A/B against another build (BENCH_AB_BIN), before the heavy fixtures
    if let Some(other) = std::env::var_os("BENCH_AB_BIN").map(PathBuf::from) {
        let payloads = fixtures::payloads(&reference, &transcripts[0].path, &project);
        let ab = run_ab(&config, &hook_exe, &other, &payloads, work.path(), None);
        render_ab(
            &mut out,
            &config,
            &hook_exe,
            &other,
            &transcripts[0],
            &ab,
            "no policy",
        );
        flush(&mut out);
        // The same with a policy as companies deploy it: 200 path and tool rules and a
        // repository allowlist (which needs the repository's remotes on every call).
        let managed = work.path().join("ab-managed");
        fixtures::managed_policy_with_allowlist(&managed, &project.root)
            .expect("write the A/B policy");
        let ab = run_ab(
            &config,
            &hook_exe,
            &other,
            &payloads,
            work.path(),
            Some(&managed),
        );
        render_ab(
            &mut out,
            &config,
            &hook_exe,
            &other,
            &transcripts[0],
            &ab,
            "a 200-rule managed policy with a repository allowlist",
        );
        flush(&mut out);
        if std::env::var_os("BENCH_AB_ONLY").is_some_and(|v| !v.is_empty() && v != "0") {
            return;
        }
    }
    let large_cache = cached_large_ledger(&cache);
    // One copy per transcript size, so the two large-ledger cells of a payload each see the same
    // number of appends as the fresh-ledger cells.
    let large_homes: Vec<PathBuf> = (0..transcripts.len())
        .map(|i| {
            let t = Instant::now();
            let home = work.path().join(format!("large-{i}"));
            fs::create_dir_all(&home).expect("create large home");
            let path = home.join(LEDGER_FILE);
            fs::copy(&large_cache, &path).expect("copy cached ledger");
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .expect("sync copied ledger");
            progress(&format!(
                "copied the {}-record ledger ({}) in {:.1}s",
                head_of(&path),
                human_bytes(fs::metadata(&path).map(|m| m.len()).unwrap_or(0)),
                t.elapsed().as_secs_f64()
            ));
            home
        })
        .collect();
    let large_start = head_of(&large_homes[0].join(LEDGER_FILE));
    let _ = writeln!(
        out,
        "Payload shapes: {}. Transcripts: {}. Project (edited file on disk, `.git` marker): `{}`.\n",
        reference.source,
        transcripts
            .iter()
            .map(|t| format!("{} `{}`", t.label, t.path.display()))
            .collect::<Vec<_>>()
            .join(", "),
        project.root.display()
    );
    flush(&mut out);

    // ---- 1 + 2: per-invocation latency against the baseline
    let matrix = run_matrix(
        &config,
        &hook_exe,
        &baseline_exe,
        &reference,
        &project,
        &transcripts,
        &large_homes,
        work.path(),
    );
    let mut verdicts: Vec<(String, bool)> = Vec::new();
    render_matrix(&mut out, &config, &matrix, &mut verdicts);
    flush(&mut out);

    // ---- Latency as the WAL grows
    let sweep = run_wal_sweep(&config, &hook_exe, &matrix, work.path());
    render_wal_sweep(&mut out, &sweep, &matrix, &mut verdicts);
    flush(&mut out);

    // ---- Floors and in-process breakdown
    let floor = run_floor(&config, &hook_exe, &baseline_exe, &matrix.payloads);
    let breakdown = run_breakdown(
        &config,
        &ids,
        &transcripts,
        &large_homes[0],
        &matrix,
        work.path(),
    );
    render_breakdown(&mut out, &floor, &breakdown);
    flush(&mut out);

    // ---- 3: durability
    let durability = run_durability(&config, work.path());
    render_durability(&mut out, &config, &durability);
    flush(&mut out);

    // ---- 4: verify throughput
    let large_ledger = large_homes[0].join(LEDGER_FILE);
    let verified = run_verify(&config, &hook_exe, &large_ledger);
    render_verify(&mut out, &verified, &mut verdicts);
    let grown: Vec<String> = large_homes
        .iter()
        .map(|h| (head_of(&h.join(LEDGER_FILE)) - large_start).to_string())
        .collect();
    let _ = writeln!(
        out,
        "\nLedgers: the cached {large_start}-record ledger is copied once per run per transcript \
         size (the cache never grows); this run appended {} records to the copies ({:.2}% growth, \
         breakdown rows included). Each 0-record cell used its own fresh ledger (genesis only), \
         which grew by {} records during the cell. Every ledger's WAL was truncated before each \
         payload's cells, so all cells start alike.\n",
        grown.join(" and "),
        grown
            .iter()
            .filter_map(|g| g.parse::<f64>().ok())
            .fold(0.0, f64::max)
            * 100.0
            / large_start as f64,
        config.warmup + config.n
    );

    // ---- Summary
    let failed: Vec<&(String, bool)> = verdicts.iter().filter(|(_, ok)| !ok).collect();
    let _ = writeln!(
        out,
        "## Summary\n\n{} of {} target checks PASS.\n",
        verdicts.len() - failed.len(),
        verdicts.len(),
    );
    for (what, _) in &failed {
        let _ = writeln!(out, "- FAIL: {what}");
    }
    let _ = writeln!(
        out,
        "\nTotal benchmark time: {:.1}s.",
        started.elapsed().as_secs_f64()
    );
    flush(&mut out);
}

fn flush(out: &mut String) {
    print!("{out}");
    let _ = std::io::stdout().flush();
    out.clear();
}

// =============================================================================================
// Setup

/// Builds `examples/baseline_stdin_json` in release mode next to the hook binary.
fn build_baseline(manifest_dir: &Path, release_dir: &Path) -> PathBuf {
    let exe = release_dir.join("examples").join(format!(
        "baseline_stdin_json{}",
        std::env::consts::EXE_SUFFIX
    ));
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    progress("building examples/baseline_stdin_json (release)");
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--example",
            "baseline_stdin_json",
        ])
        .arg("--manifest-path")
        .arg(manifest_dir.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            release_dir.parent().unwrap_or(release_dir),
        )
        .status();
    match status {
        Ok(s) if s.success() => {}
        other if exe.exists() => progress(&format!(
            "building the baseline failed ({other:?}); using the existing {}",
            exe.display()
        )),
        other => panic!(
            "cannot build the baseline ({other:?}); run `cargo build --release --example \
             baseline_stdin_json` first"
        ),
    }
    exe
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn machine_facts(
    out: &mut String,
    config: &Config,
    hook_exe: &Path,
    baseline_exe: &Path,
    manifest_dir: &Path,
    work: &Path,
) {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim())
        .to_owned();
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or("unknown".into(), |kb| human_bytes(kb * 1024));
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into());
    let manifest = manifest_dir.display().to_string();
    let commit = command_line("git", &["-C", &manifest, "rev-parse", "--short", "HEAD"])
        .map(|c| {
            let dirty = command_line("git", &["-C", &manifest, "status", "--porcelain"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c} (+ uncommitted changes)")
            } else {
                c
            }
        })
        .unwrap_or_else(|| "unknown".into());
    let size = |p: &Path| human_bytes(fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let cpuid = cpuid_cost_us().map_or("n/a".into(), |us| format!("{us:.2} µs"));
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(out, "| fact | value |\n|---|---|");
    let _ = writeln!(out, "| CPU | {cpu} |");
    let _ = writeln!(out, "| nproc | {nproc} |");
    let _ = writeln!(out, "| memory | {mem} |");
    let _ = writeln!(out, "| kernel | {kernel} |");
    let _ = writeln!(
        out,
        "| one `cpuid` instruction | {cpuid} (a VM exit under virtualization; CPU feature detection at process start runs it dozens of times) |"
    );
    let _ = writeln!(
        out,
        "| filesystem of the ledgers | {} |",
        filesystem_of(work)
    );
    let _ = writeln!(out, "| rustc | {rustc} |");
    let _ = writeln!(out, "| hookledger commit | {commit} |");
    let _ = writeln!(
        out,
        "| binaries | `{}` {}, baseline {} |",
        hook_exe.display(),
        size(hook_exe),
        size(baseline_exe)
    );
    let _ = writeln!(
        out,
        "| samples | {} per cell after {} warm-ups (cells interleaved); {} WAL-sweep events; {} per in-process row; {} appends per durability mode; {} verify run(s) |",
        config.n,
        config.warmup,
        config.wal_events,
        config.breakdown_n,
        config.durability_n,
        config.verify_runs
    );
    let _ = writeln!(out);
}

/// The median cost of one `cpuid` instruction, in µs.
#[cfg(target_arch = "x86_64")]
fn cpuid_cost_us() -> Option<f64> {
    let samples: Vec<f64> = (0..21)
        .map(|leaf| {
            let start = Instant::now();
            // SAFETY: `cpuid` is available on every x86_64 CPU (the intrinsic is safe in newer
            // Rust, unsafe in older).
            #[allow(unused_unsafe)]
            let r = unsafe { std::arch::x86_64::__cpuid(leaf % 2) };
            std::hint::black_box(r);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    Some(stats::median(&samples))
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_cost_us() -> Option<f64> {
    None
}

/// The device and type of the mount holding `path`, from /proc/mounts.
fn filesystem_of(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, at, kind) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(at)
                .then(|| (at.len(), format!("{kind} on {dev} (mounted at {at})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or("unknown".into(), |(_, s)| s)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Makes `path` through `make` under a temporary name and renames it into place, so a cache
/// entry exists only when complete.
fn cached(path: &Path, make: impl FnOnce(&Path)) {
    if path.exists() {
        return;
    }
    let partial = path.with_extension("partial");
    let _ = fs::remove_dir_all(&partial);
    let _ = fs::remove_file(&partial);
    make(&partial);
    fs::rename(&partial, path).expect("move cache entry into place");
}

struct Transcript {
    label: String,
    path: PathBuf,
}

fn cached_transcript(
    cache: &Path,
    bytes: u64,
    ids: &fixtures::SessionIds,
    project: &Project,
) -> Transcript {
    let path = cache.join(format!(
        "transcript-{bytes}-g{}.jsonl",
        fixtures::TRANSCRIPT_GENERATOR_VERSION
    ));
    cached(&path, |partial| {
        let t = Instant::now();
        let size =
            fixtures::write_transcript(partial, bytes, ids, project).expect("write transcript");
        progress(&format!(
            "generated a {} transcript in {:.1}s",
            human_bytes(size),
            t.elapsed().as_secs_f64()
        ));
    });
    let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Transcript {
        label: human_bytes(size),
        path,
    }
}

/// The 1M-record ledger, generated once through the library and kept under `target/`.
fn cached_large_ledger(cache: &Path) -> PathBuf {
    let dir = cache.join(format!(
        "ledger-{LARGE_LEDGER_RECORDS}-g{}-s{SCHEMA_VERSION}-f{FORMAT_VERSION}",
        fixtures::LEDGER_GENERATOR_VERSION
    ));
    cached(&dir, |partial| {
        progress(&format!(
            "generating the {LARGE_LEDGER_RECORDS}-record ledger (cached for later runs)"
        ));
        let t = Instant::now();
        let mut last = Instant::now();
        let head = fixtures::generate_ledger(
            &partial.join(LEDGER_FILE),
            LARGE_LEDGER_RECORDS,
            GENERATE_BATCH,
            &mut |head| {
                if last.elapsed() > Duration::from_secs(5) {
                    progress(&format!("  {head} records"));
                    last = Instant::now();
                }
            },
        )
        .expect("generate ledger");
        progress(&format!(
            "generated {head} records in {:.1}s",
            t.elapsed().as_secs_f64()
        ));
    });
    dir.join(LEDGER_FILE)
}

/// Interval checkpoints appended after `after` up to `to`.
fn checkpoints_between(ledger_path: &Path, after: u64, to: u64) -> u64 {
    let ledger = Ledger::open_read_only(ledger_path).expect("open ledger");
    ledger
        .connection()
        .query_row(
            "SELECT count(*) FROM records WHERE kind = 'checkpoint' AND seq > ?1 AND seq <= ?2",
            [after as i64, to as i64],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .expect("count checkpoints")
}

fn head_of(ledger_path: &Path) -> u64 {
    Ledger::open_read_only(ledger_path)
        .and_then(|l| l.head())
        .map(|(seq, _)| seq)
        .expect("read ledger head")
}

fn wal_path(ledger_path: &Path) -> PathBuf {
    let mut name = ledger_path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The size of the WAL file in bytes and in frames (from the page size in its header).
fn wal_size(ledger_path: &Path) -> (u64, u64) {
    let path = wal_path(ledger_path);
    let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut header = [0u8; 32];
    let page = fs::File::open(&path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map(|()| u32::from_be_bytes([header[8], header[9], header[10], header[11]]))
        .unwrap_or(4096)
        .max(512) as u64;
    (len, len.saturating_sub(32) / (page + 24))
}

/// Checkpoints the whole WAL into the database and truncates it to zero bytes.
fn reset_wal(ledger_path: &Path) {
    let ledger = Ledger::open(ledger_path, &OpenOptions::default()).expect("open ledger");
    let (busy, _, _): (i64, i64, i64) = ledger
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("checkpoint");
    assert_eq!(busy, 0, "WAL checkpoint was blocked");
}

// =============================================================================================
// Spawning

/// Runs `exe args` with `stdin` as its standard input, the way Claude Code runs a hook, and
/// returns the wall time from spawn to exit (output collected), in ms.
fn spawn_timed(exe: &Path, args: &[&str], home: Option<&Path>, stdin: &[u8]) -> (f64, Output) {
    spawn_timed_with(exe, args, home, stdin, None)
}

/// [`spawn_timed`] with the managed policy read from `managed`.
fn spawn_timed_with(
    exe: &Path,
    args: &[&str],
    home: Option<&Path>,
    stdin: &[u8],
    managed: Option<&Path>,
) -> (f64, Output) {
    let mut command = Command::new(exe);
    if let Some(managed) = managed {
        command.env("HOOKLEDGER_MANAGED_DIR", managed);
    }
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("HOOKLEDGER_LEDGER");
    match home {
        Some(home) => command.env(hookledger::config::HOME_ENV, home),
        None => command.env_remove(hookledger::config::HOME_ENV),
    };
    let start = Instant::now();
    let mut child = command.spawn().expect("spawn");
    {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(stdin).expect("write payload");
    }
    let output = child.wait_with_output().expect("wait");
    let elapsed = ms(start.elapsed());
    if !output.status.success() {
        panic!(
            "{} {args:?} failed ({}): {}",
            exe.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (elapsed, output)
}

// =============================================================================================
// A/B: this build against another hookledger binary, interleaved

struct AbRow {
    name: &'static str,
    this: Vec<f64>,
    other: Vec<f64>,
}

/// Per payload, each binary appends to a ledger of its own (made by its first warm-up), in
/// alternating order within each round, so drift in the machine's speed hits both alike.
///
/// Both binaries run from fresh copies made the same way: the same file as the linker left it
/// in `target/release` started ~0.4 ms slower per process than a copy of it on this VM (its
/// page cache, not its code: exec maps it page by page), which would bias any A/B between a
/// fresh build and an older binary.
fn run_ab(
    config: &Config,
    this_exe: &Path,
    other_exe: &Path,
    payloads: &[Payload],
    work: &Path,
    managed: Option<&Path>,
) -> Vec<AbRow> {
    let copies = work.join("ab-bin");
    fs::create_dir_all(&copies).expect("create A/B binary dir");
    let copy = |from: &Path, name: &str| {
        let to = copies.join(name);
        fs::copy(from, &to).expect("copy binary for A/B");
        to
    };
    let (this_copy, other_copy) = (copy(this_exe, "this"), copy(other_exe, "other"));
    let (this_exe, other_exe) = (this_copy.as_path(), other_copy.as_path());
    payloads
        .iter()
        .enumerate()
        .map(|(p, payload)| {
            progress(&format!("A/B: {}", payload.name));
            let policy = if managed.is_some() { "-policy" } else { "" };
            let homes = [
                work.join(format!("ab-{p}{policy}-this")),
                work.join(format!("ab-{p}{policy}-other")),
            ];
            let exes = [this_exe, other_exe];
            let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            for i in 0..config.warmup + config.n {
                for k in 0..2 {
                    let which = (i + k) % 2;
                    let (t, _) = spawn_timed_with(
                        exes[which],
                        &["hook"],
                        Some(&homes[which]),
                        &payload.bytes,
                        managed,
                    );
                    if i >= config.warmup {
                        samples[which].push(t);
                    }
                }
            }
            let [this, other] = samples;
            AbRow {
                name: payload.name,
                this,
                other,
            }
        })
        .collect()
}

fn render_ab(
    out: &mut String,
    config: &Config,
    this_exe: &Path,
    other_exe: &Path,
    transcript: &Transcript,
    rows: &[AbRow],
    policy: &str,
) {
    let _ = writeln!(
        out,
        "## A/B against another build: {policy}\n\n`{}` (this build) against `{}`, {} interleaved \
         invocations each after {} warm-ups, fresh ledgers, {} transcript. Milliseconds.\n",
        this_exe.display(),
        other_exe.display(),
        config.n,
        config.warmup,
        transcript.label
    );
    let _ = writeln!(
        out,
        "| payload | this p50 | other p50 | Δ p50 | this p99 | other p99 | Δ p99 |\n|---|---|---|---|---|---|---|"
    );
    for row in rows {
        let (a, b) = (summarize(&row.this), summarize(&row.other));
        let delta = |x: f64, y: f64| format!("{:+.3} ({:+.1}%)", x - y, (x / y - 1.0) * 100.0);
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | {} | {:.3} | {:.3} | {} |",
            row.name,
            a.p50,
            b.p50,
            delta(a.p50, b.p50),
            a.p99,
            b.p99,
            delta(a.p99, b.p99)
        );
    }
    let _ = writeln!(out);
}

// =============================================================================================
// 1 + 2: the matrix

#[derive(Clone, Copy, PartialEq, Eq)]
enum LedgerSize {
    Fresh,
    Large,
}

impl LedgerSize {
    fn label(self) -> String {
        match self {
            LedgerSize::Fresh => "0 (genesis)".into(),
            LedgerSize::Large => format!("{}M", LARGE_LEDGER_RECORDS / 1_000_000),
        }
    }
}

struct CellResult {
    payload: &'static str,
    ledger: LedgerSize,
    transcript: String,
    summary: Summary,
    /// What the records say: kind and model source, and how many records had them.
    check: String,
    /// WAL frames when the cell ended.
    wal_frames: u64,
}

struct Matrix {
    cells: Vec<CellResult>,
    /// Per payload, baseline samples.
    baseline: Vec<(&'static str, Summary)>,
    /// Per payload name, the payload variants (one per transcript).
    payloads: Vec<(&'static str, Vec<Payload>)>,
    transcripts: Vec<String>,
}

fn expected_record(payload: &str) -> (&'static str, &'static str) {
    match payload {
        "PostToolUse Edit" => ("edit", "transcript-tool-use"),
        "UserPromptSubmit" => ("prompt", "transcript-latest"),
        _ => ("tool-call", "transcript-tool-use"),
    }
}

/// Checks that records `from..=to` are what the hook should have written for `payload`: the
/// kind, the model from the transcript's tail and how it was found, and (for edits) the hash
/// of the file on disk. Returns a short description and whether all matched.
fn check_records(ledger_path: &Path, from: u64, to: u64, payload: &str) -> (String, bool) {
    let ledger = Ledger::open_read_only(ledger_path).expect("open ledger");
    let (kind, source) = expected_record(payload);
    let mut good = 0;
    let mut checkpoints = 0;
    for seq in from..=to {
        let Some(record) = ledger.record(seq).expect("read record") else {
            continue;
        };
        // Interval checkpoints (one every 256 records) are part of what hooks cost: they are
        // timed, but they are not the event's record.
        if record.kind == hookledger::ledger::checkpoint::CHECKPOINT_KIND {
            checkpoints += 1;
            continue;
        }
        let value: Value = serde_json::from_slice(&record.payload).unwrap_or(Value::Null);
        let ok = record.kind == kind
            && value["model"] == fixtures::TAIL_MODEL
            && value["model_source"] == source
            && (kind != "edit" || value["after_blake3"].is_string());
        good += usize::from(ok);
    }
    let total = (to + 1).saturating_sub(from) as usize - checkpoints;
    // The spool directory exists only while something waits in it.
    let spooled = spool::spool_path(ledger_path).exists();
    let ok = good == total && !spooled;
    let mut text = format!("{good}/{total} `{kind}`, `{source}`");
    if checkpoints > 0 {
        text.push_str(&format!(", +{checkpoints} checkpoint"));
    }
    if spooled {
        text.push_str(", SPOOLED");
    }
    (text, ok)
}

#[allow(clippy::too_many_arguments)]
fn run_matrix(
    config: &Config,
    hook_exe: &Path,
    baseline_exe: &Path,
    reference: &fixtures::Reference,
    project: &Project,
    transcripts: &[Transcript],
    large_homes: &[PathBuf],
    work: &Path,
) -> Matrix {
    let variants: Vec<Vec<Payload>> = transcripts
        .iter()
        .map(|t| fixtures::payloads(reference, &t.path, project))
        .collect();
    let names: Vec<&'static str> = variants[0].iter().map(|p| p.name).collect();
    let mut matrix = Matrix {
        cells: Vec::new(),
        baseline: Vec::new(),
        payloads: names
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, variants.iter().map(|v| v[i].clone()).collect()))
            .collect(),
        transcripts: transcripts.iter().map(|t| t.label.clone()).collect(),
    };
    let per_cell = (config.warmup + config.n) as u64;
    for (p, name) in names.iter().enumerate() {
        progress(&format!("matrix: {name}"));
        // The four cells of this payload run round-robin with the baseline, so drift in the
        // machine's speed hits every cell alike and the growth comparisons stay fair.
        struct Cell {
            ledger: LedgerSize,
            transcript: usize,
            path: PathBuf,
            start_head: u64,
            samples: Vec<f64>,
        }
        let mut cells: Vec<Cell> = Vec::new();
        for ledger in [LedgerSize::Fresh, LedgerSize::Large] {
            for (transcript, large_home) in large_homes.iter().enumerate() {
                let home = match ledger {
                    LedgerSize::Fresh => {
                        let home = work.join(format!("fresh-{p}-{transcript}"));
                        fixtures::fresh_ledger(&home.join(LEDGER_FILE))
                            .expect("create fresh ledger");
                        home
                    }
                    LedgerSize::Large => large_home.clone(),
                };
                let path = home.join(LEDGER_FILE);
                reset_wal(&path);
                cells.push(Cell {
                    ledger,
                    transcript,
                    start_head: head_of(&path),
                    path,
                    samples: Vec::with_capacity(config.n),
                });
            }
        }
        let mut baseline = Vec::with_capacity(config.n);
        let slots = cells.len() + 1;
        for i in 0..config.warmup + config.n {
            let measured = i >= config.warmup;
            for k in 0..slots {
                let slot = (i + k) % slots;
                if slot == cells.len() {
                    let stdin = &variants[i % variants.len()][p].bytes;
                    let (t, _) = spawn_timed(baseline_exe, &[], None, stdin);
                    if measured {
                        baseline.push(t);
                    }
                } else {
                    let cell = &mut cells[slot];
                    let stdin = &variants[cell.transcript][p].bytes;
                    let home = cell.path.parent().expect("ledger has a directory");
                    let (t, _) = spawn_timed(hook_exe, &["hook"], Some(home), stdin);
                    if measured {
                        cell.samples.push(t);
                    }
                }
            }
        }
        for cell in cells {
            let head = head_of(&cell.path);
            let checkpoints = checkpoints_between(&cell.path, cell.start_head, head);
            assert_eq!(
                head - cell.start_head - checkpoints,
                per_cell,
                "every invocation appended one record (besides interval checkpoints)"
            );
            let check = check_records(&cell.path, cell.start_head + 1, head, name);
            if !check.1 {
                progress(&format!("WARNING: {name}: unexpected records: {}", check.0));
            }
            matrix.cells.push(CellResult {
                payload: name,
                ledger: cell.ledger,
                transcript: transcripts[cell.transcript].label.clone(),
                summary: summarize(&cell.samples),
                check: check.0,
                wal_frames: wal_size(&cell.path).1,
            });
        }
        matrix.baseline.push((name, summarize(&baseline)));
    }
    matrix
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "**FAIL**" }
}

fn render_matrix(
    out: &mut String,
    config: &Config,
    matrix: &Matrix,
    verdicts: &mut Vec<(String, bool)>,
) {
    let baseline_of = |name: &str| {
        matrix
            .baseline
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .expect("baseline for every payload")
    };
    let _ = writeln!(
        out,
        "## 1–2. Per-invocation latency (process spawn → exit, ms), {} samples per cell\n",
        config.n
    );
    let _ = writeln!(
        out,
        "Targets: p50 ≤ {TARGET_P50_RATIO}× baseline p50, p99 ≤ {TARGET_P99_RATIO}× baseline p99. \
         Each cell starts with an empty WAL and ends with the WAL shown (the hook never resets it; \
         see the WAL section).\n"
    );
    let _ = writeln!(
        out,
        "| payload | ledger records | transcript | p50 | p95 | p99 | mean | max | p50 / base p50 | p99 / base p99 | p50 ≤ {TARGET_P50_RATIO}× | p99 ≤ {TARGET_P99_RATIO}× | WAL frames at end | records written |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|--:|---|"
    );
    for cell in &matrix.cells {
        let s = &cell.summary;
        let b = baseline_of(cell.payload);
        let r50 = s.p50 / b.p50;
        let r99 = s.p99 / b.p99;
        let ok50 = r50 <= TARGET_P50_RATIO;
        let ok99 = r99 <= TARGET_P99_RATIO;
        let label = format!(
            "{} / ledger {} / transcript {}",
            cell.payload,
            cell.ledger.label(),
            cell.transcript
        );
        verdicts.push((format!("p50 ratio {r50:.2}× ({label})"), ok50));
        verdicts.push((format!("p99 ratio {r99:.2}× ({label})"), ok99));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {r50:.2}× | {r99:.2}× | {} | {} | {} | {} |",
            cell.payload,
            cell.ledger.label(),
            cell.transcript,
            s.p50,
            s.p95,
            s.p99,
            s.mean,
            s.max,
            verdict(ok50),
            verdict(ok99),
            cell.wal_frames,
            cell.check
        );
    }
    for (name, b) in &matrix.baseline {
        let _ = writeln!(
            out,
            "| baseline: {name} | – | – | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | 1.00× | 1.00× | | | | |",
            b.p50, b.p95, b.p99, b.mean, b.max
        );
    }
    let _ = writeln!(
        out,
        "\nBaseline: `examples/baseline_stdin_json` (read stdin to EOF, `serde_json` parse, exit), \
         spawned the same way with the same payloads, interleaved with the hook runs.\n"
    );

    let _ = writeln!(
        out,
        "### Growth with ledger size and transcript size (target ≤ +{:.0}% on p50)\n",
        TARGET_GROWTH * 100.0
    );
    let _ = writeln!(
        out,
        "| payload | held fixed | small → large | p50 small | p50 large | p50 growth | p99 growth (info) | p50 ≤ +{:.0}% |",
        TARGET_GROWTH * 100.0
    );
    let _ = writeln!(out, "|---|---|---|--:|--:|--:|--:|:-:|");
    let find = |payload: &str, ledger: LedgerSize, transcript: &str| {
        matrix
            .cells
            .iter()
            .find(|c| c.payload == payload && c.ledger == ledger && c.transcript == transcript)
            .map(|c| c.summary)
    };
    for (name, _) in &matrix.payloads {
        for t in &matrix.transcripts {
            if let (Some(a), Some(b)) = (
                find(name, LedgerSize::Fresh, t),
                find(name, LedgerSize::Large, t),
            ) {
                growth_row(
                    out,
                    verdicts,
                    name,
                    &format!("transcript {t}"),
                    &format!("ledger 0 → {}", LedgerSize::Large.label()),
                    a,
                    b,
                );
            }
        }
        if let [small, large, ..] = matrix.transcripts.as_slice() {
            for ledger in [LedgerSize::Fresh, LedgerSize::Large] {
                if let (Some(a), Some(b)) = (find(name, ledger, small), find(name, ledger, large)) {
                    growth_row(
                        out,
                        verdicts,
                        name,
                        &format!("ledger {}", ledger.label()),
                        &format!("transcript {small} → {large}"),
                        a,
                        b,
                    );
                }
            }
        }
    }
    let _ = writeln!(out);
}

fn growth_row(
    out: &mut String,
    verdicts: &mut Vec<(String, bool)>,
    payload: &str,
    fixed: &str,
    change: &str,
    small: Summary,
    large: Summary,
) {
    let g50 = large.p50 / small.p50 - 1.0;
    let g99 = large.p99 / small.p99 - 1.0;
    let ok = g50 <= TARGET_GROWTH;
    verdicts.push((
        format!(
            "p50 growth {:+.1}% ({payload}, {fixed}, {change})",
            g50 * 100.0
        ),
        ok,
    ));
    let _ = writeln!(
        out,
        "| {payload} | {fixed} | {change} | {:.2} | {:.2} | {:+.1}% | {:+.1}% | {} |",
        small.p50,
        large.p50,
        g50 * 100.0,
        g99 * 100.0,
        verdict(ok)
    );
}

// =============================================================================================
// Latency against events since the WAL was last emptied

struct SweepBucket {
    from: usize,
    to: usize,
    summary: Summary,
    wal_bytes: u64,
    wal_frames: u64,
}

/// Runs PreToolUse Bash (small transcript) `wal_events` times on a fresh ledger whose WAL starts
/// empty, one process after another as a long session would, and buckets the latencies. This is
/// what a user's ledger goes through: nothing but hook processes ever write it.
fn run_wal_sweep(
    config: &Config,
    hook_exe: &Path,
    matrix: &Matrix,
    work: &Path,
) -> Vec<SweepBucket> {
    progress(&format!("WAL sweep: {} events", config.wal_events));
    let home = work.join("wal-sweep");
    let path = home.join(LEDGER_FILE);
    fixtures::fresh_ledger(&path).expect("fresh ledger");
    reset_wal(&path);
    let payload = &matrix.payloads[0].1[0].bytes;
    let buckets = 10.min(config.wal_events.max(1));
    let per = config.wal_events.div_ceil(buckets);
    let mut result = Vec::new();
    let mut samples = Vec::with_capacity(per);
    for i in 0..config.wal_events {
        let (t, _) = spawn_timed(hook_exe, &["hook"], Some(&home), payload);
        samples.push(t);
        if samples.len() == per || i + 1 == config.wal_events {
            let (wal_bytes, wal_frames) = wal_size(&path);
            result.push(SweepBucket {
                from: i + 1 - samples.len(),
                to: i + 1,
                summary: summarize(&samples),
                wal_bytes,
                wal_frames,
            });
            samples.clear();
        }
    }
    result
}

fn render_wal_sweep(
    out: &mut String,
    sweep: &[SweepBucket],
    matrix: &Matrix,
    verdicts: &mut Vec<(String, bool)>,
) {
    let Some(first) = sweep.first() else { return };
    let last = sweep.last().unwrap_or(first);
    let baseline = matrix.baseline[0].1;
    let _ = writeln!(
        out,
        "### Latency against events since the WAL was last emptied (PreToolUse Bash, fresh ledger, small transcript, one process after another)\n"
    );
    let _ = writeln!(
        out,
        "| events | p50 | p95 | p99 | p50 / base p50 | WAL file at end | WAL frames |\n|---|--:|--:|--:|--:|--:|--:|"
    );
    for b in sweep {
        let _ = writeln!(
            out,
            "| {}–{} | {:.2} | {:.2} | {:.2} | {:.2}× | {} | {} |",
            b.from + 1,
            b.to,
            b.summary.p50,
            b.summary.p95,
            b.summary.p99,
            b.summary.p50 / baseline.p50,
            human_bytes(b.wal_bytes),
            b.wal_frames
        );
    }
    let growth = last.summary.p50 / first.summary.p50 - 1.0;
    let ok = growth <= TARGET_GROWTH;
    verdicts.push((
        format!(
            "p50 growth {:+.1}% over {} events of one ledger (WAL {} → {} frames)",
            growth * 100.0,
            last.to,
            first.wal_frames,
            last.wal_frames
        ),
        ok,
    ));
    let _ = writeln!(
        out,
        "\np50 growth from the first to the last bucket: {:+.1}% — {} (same ≤ +{:.0}% target: in real use \
         only hook processes write the ledger, so this is how latency grows with ledger size).\n",
        growth * 100.0,
        verdict(ok),
        TARGET_GROWTH * 100.0
    );
}

// =============================================================================================
// Floors and in-process breakdown

struct Floor {
    baseline: Summary,
    version: Summary,
    session_end: Summary,
}

/// What the process alone costs: the baseline, `hookledger --version` (loading the bigger binary,
/// no ledger work) and `hookledger hook` for SessionEnd (the ledger work without transcript or
/// file reads). Interleaved like the matrix.
fn run_floor(
    config: &Config,
    hook_exe: &Path,
    baseline_exe: &Path,
    payloads: &[(&'static str, Vec<Payload>)],
) -> Floor {
    progress("process floors");
    let stdin = &payloads[0].1[0].bytes;
    let mut baseline = Vec::new();
    let mut version = Vec::new();
    let mut session_end = Vec::new();
    let scratch = tempfile::tempdir().expect("tempdir");
    let ledger_path = scratch.path().join(LEDGER_FILE);
    fixtures::fresh_ledger(&ledger_path).expect("fresh ledger");
    reset_wal(&ledger_path);
    for i in 0..config.warmup + config.n {
        let (a, _) = spawn_timed(baseline_exe, &[], None, stdin);
        let (b, _) = spawn_timed(hook_exe, &["--version"], None, b"");
        let (c, _) = spawn_timed(
            hook_exe,
            &["hook"],
            Some(scratch.path()),
            br#"{"session_id":"s","hook_event_name":"SessionEnd","reason":"other"}"#,
        );
        if i >= config.warmup {
            baseline.push(a);
            version.push(b);
            session_end.push(c);
        }
    }
    Floor {
        baseline: summarize(&baseline),
        version: summarize(&version),
        session_end: summarize(&session_end),
    }
}

struct BreakdownRow {
    what: String,
    summary: Summary,
}

/// The same work in-process, timed piece by piece: where a hook invocation's time goes once the
/// process exists. Every ledger's WAL is emptied before each row.
fn run_breakdown(
    config: &Config,
    ids: &fixtures::SessionIds,
    transcripts: &[Transcript],
    large_home: &Path,
    matrix: &Matrix,
    work: &Path,
) -> Vec<BreakdownRow> {
    progress("in-process breakdown");
    let n = config.breakdown_n;
    let mut rows = Vec::new();
    let fresh_home = work.join("breakdown-fresh");
    fixtures::fresh_ledger(&fresh_home.join(LEDGER_FILE)).expect("fresh ledger");
    let homes = [
        (LedgerSize::Fresh, fresh_home),
        (LedgerSize::Large, large_home.to_owned()),
    ];
    let mut records = RecordGen::new(99, ledger::now_ns());
    let options = OpenOptions::default();
    for (size, home) in &homes {
        let path = home.join(LEDGER_FILE);
        reset_wal(&path);
        let mut open = Vec::new();
        let mut append = Vec::new();
        let mut close = Vec::new();
        for _ in 0..n {
            let record = records.next_record();
            let t0 = Instant::now();
            let mut ledger = Ledger::open(&path, &options).expect("open");
            let t1 = Instant::now();
            ledger
                .append(std::slice::from_ref(&record))
                .expect("append");
            let t2 = Instant::now();
            drop(ledger);
            let t3 = Instant::now();
            open.push(ms(t1 - t0));
            append.push(ms(t2 - t1));
            close.push(ms(t3 - t2));
        }
        for (what, samples) in [
            ("Ledger::open", open),
            ("append 1 record (BEGIN…COMMIT)", append),
            ("close", close),
        ] {
            rows.push(BreakdownRow {
                what: format!("{what}, ledger {}", size.label()),
                summary: summarize(&samples),
            });
        }
    }
    for t in transcripts {
        for (what, id) in [
            (
                "tool_use_id (PreToolUse Bash)",
                Some(ids.bash_tool_use_id.as_str()),
            ),
            (
                "tool_use_id (PostToolUse Edit)",
                Some(ids.edit_tool_use_id.as_str()),
            ),
            ("latest model (UserPromptSubmit)", None),
        ] {
            let mut samples = Vec::new();
            for _ in 0..n {
                let start = Instant::now();
                let facts =
                    transcript::scan(&t.path, id, transcript::DEFAULT_BUDGET).expect("scan");
                samples.push(ms(start.elapsed()));
                assert_eq!(facts.latest_model.as_deref(), Some(fixtures::TAIL_MODEL));
            }
            rows.push(BreakdownRow {
                what: format!("transcript::scan {}, {what}", t.label),
                summary: summarize(&samples),
            });
        }
    }
    // The whole handler in-process (parse, open, scan, build, append, close), per payload.
    for (size, home) in &homes {
        let env = HookEnv::new(Paths { home: home.clone() });
        for (name, variants) in &matrix.payloads {
            for (t, payload) in variants.iter().enumerate() {
                reset_wal(&home.join(LEDGER_FILE));
                let mut samples = Vec::new();
                for _ in 0..n {
                    let start = Instant::now();
                    let answer = hook::handle(&payload.bytes, None, &env);
                    samples.push(ms(start.elapsed()));
                    assert_eq!(answer.exit_code, 0, "{name}: {}", answer.stderr);
                }
                rows.push(BreakdownRow {
                    what: format!(
                        "hook::handle {name}, ledger {}, transcript {}",
                        size.label(),
                        transcripts[t].label
                    ),
                    summary: summarize(&samples),
                });
            }
        }
    }
    rows
}

fn render_breakdown(out: &mut String, floor: &Floor, rows: &[BreakdownRow]) {
    let _ = writeln!(out, "## Where the time goes\n");
    let _ = writeln!(
        out,
        "Process floors (spawned like a hook, {} samples each, interleaved; ms):\n",
        floor.baseline.n
    );
    let _ = writeln!(
        out,
        "| process | p50 | p95 | p99 | mean |\n|---|--:|--:|--:|--:|"
    );
    for (what, s) in [
        (
            "baseline_stdin_json (PreToolUse Bash payload)",
            floor.baseline,
        ),
        (
            "hookledger --version (load the binary, parse arguments, no ledger)",
            floor.version,
        ),
        (
            "hookledger hook, SessionEnd (ledger only: no transcript, no file reads)",
            floor.session_end,
        ),
    ] {
        let _ = writeln!(
            out,
            "| {what} | {:.2} | {:.2} | {:.2} | {:.2} |",
            s.p50, s.p95, s.p99, s.mean
        );
    }
    let _ = writeln!(
        out,
        "\nIn-process (inside this benchmark's process, warm, WAL emptied before each row; ms):\n\n| step | n | p50 | p95 | p99 | mean |\n|---|--:|--:|--:|--:|--:|"
    );
    for row in rows {
        let s = &row.summary;
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            row.what, s.n, s.p50, s.p95, s.p99, s.mean
        );
    }
    let _ = writeln!(out);
}

// =============================================================================================
// 3: durability

struct DurabilityResult {
    mode: &'static str,
    total: Summary,
    open: Summary,
    append: Summary,
}

/// One record per `Ledger::open` + `append` + close, as a hook process does, alternating the two
/// modes on two fresh ledgers. The WAL is truncated (untimed) every
/// `DURABILITY_WAL_RESET_EVERY` appends: without that, the unbounded WAL (see the WAL section)
/// would dominate both modes and hide the one difference measured here, the fsync per commit.
fn run_durability(config: &Config, work: &Path) -> Vec<DurabilityResult> {
    progress("durability: Normal vs Full");
    let modes = [("Normal", Durability::Normal), ("Full", Durability::Full)];
    let paths: Vec<PathBuf> = modes
        .iter()
        .map(|(name, _)| {
            let path = work.join(format!("durability-{name}")).join(LEDGER_FILE);
            fixtures::fresh_ledger(&path).expect("fresh ledger");
            path
        })
        .collect();
    let mut samples = vec![(Vec::new(), Vec::new(), Vec::new()); modes.len()];
    let mut records = RecordGen::new(3, ledger::now_ns());
    for i in 0..config.durability_n {
        if i % DURABILITY_WAL_RESET_EVERY == 0 {
            paths.iter().for_each(|p| reset_wal(p));
        }
        for k in 0..modes.len() {
            // Alternate which mode goes first.
            let m = (i + k) % modes.len();
            let options = OpenOptions {
                durability: modes[m].1,
                ..OpenOptions::default()
            };
            let record = records.next_record();
            let t0 = Instant::now();
            let mut ledger = Ledger::open(&paths[m], &options).expect("open");
            let t1 = Instant::now();
            ledger
                .append(std::slice::from_ref(&record))
                .expect("append");
            drop(ledger);
            let t2 = Instant::now();
            samples[m].0.push(ms(t2 - t0));
            samples[m].1.push(ms(t1 - t0));
            samples[m].2.push(ms(t2 - t1));
        }
    }
    modes
        .iter()
        .zip(samples)
        .map(|((mode, _), (total, open, append))| DurabilityResult {
            mode,
            total: summarize(&total),
            open: summarize(&open),
            append: summarize(&append),
        })
        .collect()
}

fn render_durability(out: &mut String, config: &Config, results: &[DurabilityResult]) {
    let _ = writeln!(
        out,
        "## 3. Durability: `Ledger::open` + `append` of one record + close, {} times per mode (interleaved, fresh ledgers on this disk, WAL emptied every {DURABILITY_WAL_RESET_EVERY}; ms)\n",
        config.durability_n
    );
    let _ = writeln!(
        out,
        "| durability | total p50 | total p95 | total p99 | total mean | open p50 | append+close p50 | append+close p99 |\n|---|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| `Durability::{}` | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.mode,
            r.total.p50,
            r.total.p95,
            r.total.p99,
            r.total.mean,
            r.open.p50,
            r.append.p50,
            r.append.p99
        );
    }
    if let [normal, full] = results {
        let _ = writeln!(
            out,
            "\n`Full` costs {:+.3} ms at p50 and {:+.3} ms at p99 per event over `Normal` (append+close p50 {:.1}×).\n",
            full.total.p50 - normal.total.p50,
            full.total.p99 - normal.total.p99,
            full.append.p50 / normal.append.p50
        );
    }
}

// =============================================================================================
// 4: verify

struct Verified {
    records: u64,
    lib_secs: Vec<f64>,
    cli_secs: Vec<f64>,
    intact: bool,
}

fn run_verify(config: &Config, hook_exe: &Path, ledger_path: &Path) -> Verified {
    progress("verify");
    let mut lib_secs = Vec::new();
    let mut cli_secs = Vec::new();
    let mut records = 0;
    let mut intact = true;
    for _ in 0..config.verify_runs {
        let t = Instant::now();
        let report = verify(ledger_path, &mut |_, _| {}).expect("verify runs");
        lib_secs.push(t.elapsed().as_secs_f64());
        records = report.records;
        intact &= report.intact;
        let ledger_arg = ledger_path.display().to_string();
        let (ms_cli, output) =
            spawn_timed(hook_exe, &["--ledger", &ledger_arg, "verify"], None, b"");
        cli_secs.push(ms_cli / 1e3);
        intact &= String::from_utf8_lossy(&output.stdout).contains("OK");
    }
    Verified {
        records,
        lib_secs,
        cli_secs,
        intact,
    }
}

fn render_verify(out: &mut String, v: &Verified, verdicts: &mut Vec<(String, bool)>) {
    let lib = stats::median(&v.lib_secs);
    let lib_best = v.lib_secs.iter().copied().fold(f64::INFINITY, f64::min);
    let cli = stats::median(&v.cli_secs);
    let rate = v.records as f64 / lib;
    let cli_rate = v.records as f64 / cli;
    let ok = rate >= TARGET_VERIFY_PER_S && v.intact;
    verdicts.push((format!("verify {:.2}M records/s (library)", rate / 1e6), ok));
    let _ = writeln!(
        out,
        "## 4. verify throughput ({} records, page cache warm, median of {} run(s))\n",
        v.records,
        v.lib_secs.len()
    );
    let _ = writeln!(
        out,
        "| what | time (s) | records/s | target ≥ {:.0}M/s |\n|---|--:|--:|:-:|",
        TARGET_VERIFY_PER_S / 1e6
    );
    let _ = writeln!(
        out,
        "| `ledger::verify::verify` (library) | {lib:.3} (best {lib_best:.3}) | {:.2}M | {} |",
        rate / 1e6,
        verdict(ok)
    );
    let _ = writeln!(
        out,
        "| `hookledger verify` (CLI process) | {cli:.3} | {:.2}M | {} |",
        cli_rate / 1e6,
        verdict(cli_rate >= TARGET_VERIFY_PER_S && v.intact)
    );
    if !v.intact {
        let _ = writeln!(out, "\n**The ledger did not verify as intact.**");
    }
}
