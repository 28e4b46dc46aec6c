//! The command line: the one layer that prints (stdout is the answer, stderr the messages).
//! Printing is allowed on the functions that render (`main`, `run`), not file-wide, so a
//! helper added here still answers through them.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::http::{App, Metrics, router};
use crate::store::{MachineView, Store, StoreSpec};

#[derive(Debug, Parser)]
#[command(
    name = "hookledger-server",
    version,
    about = "hookledger's fleet receiver"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct StoreArg {
    /// sqlite:PATH or postgres://USER@HOST:PORT/DB [default: sqlite: under the data dir]
    #[arg(long, value_name = "STORE", env = "HOOKLEDGER_SERVER_STORE")]
    store: Option<String>,
}

impl StoreArg {
    fn spec(&self) -> anyhow::Result<StoreSpec> {
        Ok(match &self.store {
            Some(text) => StoreSpec::parse(text)?,
            None => StoreSpec::default_sqlite()?,
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive batches at POST /v1/ingest (also GET /healthz, GET /metrics)
    Serve {
        /// Address to listen on
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        #[command(flatten)]
        store: StoreArg,
        /// TLS certificate chain (PEM)
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// TLS private key (PEM)
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Allow plain HTTP on an address other than loopback (behind a TLS proxy)
        #[arg(long)]
        insecure_listen: bool,
        /// A machine with no plausible signed checkpoint for this long is `silent`
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        max_silence: String,
        /// How often silence is checked
        #[arg(long, value_name = "DURATION", default_value = "60s")]
        silence_check: String,
        /// Webhooks to alert (JSON: {"webhooks": [{"url", "codes", "chain", "silence"}]})
        #[arg(long, value_name = "FILE")]
        alerts: Option<std::path::PathBuf>,
    },
    /// Enroll a machine; prints its token (write-only: it can ship, nothing else) as the last line
    Enroll {
        #[command(flatten)]
        store: StoreArg,
        /// The machine's name
        name: String,
    },
    /// Revoke a machine's token: its batches are refused from now on
    Revoke {
        #[command(flatten)]
        store: StoreArg,
        name: String,
    },
    /// Every enrolled machine: ledger, last seen, last checkpoint, chain status, findings
    Machines {
        #[command(flatten)]
        store: StoreArg,
        /// A machine with no plausible signed checkpoint for this long is `silent`
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        max_silence: String,
        #[arg(long)]
        json: bool,
    },
    /// Stream every machine's status and its stored, verified records for a period as NDJSON
    /// (what `hookledger report --store` reads; docs/server.md, "Fleet reports")
    Records {
        #[command(flatten)]
        store: StoreArg,
        /// Start of the period, nanoseconds since the epoch (inclusive)
        #[arg(long, value_name = "NS", default_value_t = i64::MIN, allow_negative_numbers = true)]
        since_ns: i64,
        /// End of the period, nanoseconds since the epoch (exclusive)
        #[arg(long, value_name = "NS", default_value_t = i64::MAX, allow_negative_numbers = true)]
        until_ns: i64,
        /// A machine with no plausible signed checkpoint for this long is `silent`
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        max_silence: String,
    },
}

// Renders what failed before or after `run`.
#[allow(clippy::print_stderr)]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookledger-server: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hookledger-server: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `30s`, `15m`, `24h`, `7d`, or plain seconds.
fn duration_ns(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let n: i64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration (e.g. 30s, 15m, 24h, 7d)"))?;
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => bail!("{text:?} is not a duration (e.g. 30s, 15m, 24h, 7d)"),
    };
    n.checked_mul(unit_ns)
        .filter(|n| *n > 0)
        .with_context(|| format!("{text:?} is out of range"))
}

// Renders each command's answer (stdout) and messages (stderr).
#[allow(clippy::print_stderr)]
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            store,
            tls_cert,
            tls_key,
            insecure_listen,
            max_silence,
            silence_check,
            alerts,
        } => {
            let alerts = alerts
                .as_deref()
                .map(crate::alerts::Config::load)
                .transpose()?;
            let max_silence_ns = duration_ns(&max_silence)?;
            let check_every = Duration::from_nanos(
                u64::try_from(duration_ns(&silence_check)?).unwrap_or(60_000_000_000),
            );
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some((cert, key)),
                _ => None,
            };
            if tls.is_none() && !listen.ip().is_loopback() && !insecure_listen {
                bail!(
                    "refusing plain HTTP on {listen}: give --tls-cert and --tls-key, listen on loopback behind a TLS proxy, or pass --insecure-listen"
                );
            }
            let spec = store.spec()?;
            let store = Store::open(&spec).await.context("cannot open the store")?;
            let store = Arc::new(store);
            if let Some(config) = alerts {
                tokio::spawn(crate::alerts::dispatch(
                    Arc::clone(&store),
                    config,
                    Duration::from_secs(1),
                ));
            }
            let app = Arc::new(App {
                store,
                metrics: Metrics::default(),
                max_silence_ns,
                in_flight: tokio::sync::Semaphore::new(crate::http::MAX_IN_FLIGHT),
            });
            let watcher = Arc::clone(&app);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(check_every).await;
                    if let Err(e) = watcher
                        .store
                        .check_silence(hookledger_ledger::now_ns(), watcher.max_silence_ns)
                        .await
                    {
                        eprintln!("hookledger-server: silence check failed: {e}");
                    }
                }
            });
            let routes = router(app);
            match tls {
                Some((cert, key)) => {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                        .await
                        .with_context(|| {
                            format!(
                                "cannot load the TLS certificate {} and key {}",
                                cert.display(),
                                key.display()
                            )
                        })?;
                    eprintln!("hookledger-server: listening on https://{listen}");
                    axum_server::bind_rustls(listen, config)
                        .serve(routes.into_make_service())
                        .await
                        .context("the server stopped")?;
                }
                None => {
                    let listener = tokio::net::TcpListener::bind(listen)
                        .await
                        .with_context(|| format!("cannot listen on {listen}"))?;
                    let local = listener.local_addr()?;
                    eprintln!("hookledger-server: listening on http://{local}");
                    axum::serve(listener, routes)
                        .await
                        .context("the server stopped")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll { store, name } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                bail!("a machine name is 1 to 200 printable characters");
            }
            let store = Store::open(&store.spec()?).await?;
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let token = format!("hlm_{}", hookledger_ledger::frame::to_hex(&secret));
            store
                .enroll(&name, blake3::hash(token.as_bytes()).as_bytes())
                .await?;
            eprintln!(
                "enrolled {name:?}; the token below is shown once (the server keeps only its hash):"
            );
            out(&format!("{token}\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke { store, name } => {
            let store = Store::open(&store.spec()?).await?;
            store.revoke(&name).await?;
            eprintln!("revoked {name:?}: its batches are refused from now on");
            Ok(ExitCode::SUCCESS)
        }
        Command::Records {
            store,
            since_ns,
            until_ns,
            max_silence,
        } => {
            if until_ns <= since_ns {
                bail!("--until-ns must be after --since-ns");
            }
            let max_silence_ns = duration_ns(&max_silence)?;
            let store = Store::open(&store.spec()?).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            crate::records::write(&store, since_ns, until_ns, max_silence_ns, &mut out).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Machines {
            store,
            max_silence,
            json,
        } => {
            let max_silence_ns = duration_ns(&max_silence)?;
            let store = Store::open(&store.spec()?).await?;
            let now = hookledger_ledger::now_ns();
            let machines = store.machines().await?;
            let views: Vec<serde_json::Value> = machines
                .iter()
                .map(|m| machine_json(m, now, max_silence_ns))
                .collect();
            if json {
                out(&format!("{}\n", serde_json::to_string_pretty(&views)?))?;
            } else {
                out(&machines_table(&views))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a command answers goes to stdout in one write; messages go to stderr.
fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// `machines` without `--json`: a fixed-width table, one machine a line.
fn machines_table(views: &[serde_json::Value]) -> String {
    use std::fmt::Write;
    let mut table = format!(
        "{:<24} {:<34} {:<22} {:<10} {:<10} FINDINGS\n",
        "NAME", "LEDGER", "LAST SEEN", "RECORDS", "STATUS"
    );
    for v in views {
        let codes: Vec<&str> = v["codes"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            table,
            "{:<24} {:<34} {:<22} {:<10} {:<10} {}",
            v["name"].as_str().unwrap_or(""),
            v["ledger_id"].as_str().unwrap_or("-"),
            v["last_seen"].as_str().unwrap_or("never"),
            v["records"].as_u64().unwrap_or(0),
            v["chain_status"].as_str().unwrap_or(""),
            if codes.is_empty() {
                "-".into()
            } else {
                codes.join(",")
            }
        );
    }
    table
}

fn rfc3339(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// One machine for `machines`: its chain status is `revoked`, `no-data` (never shipped),
/// `broken` (findings other than silence), `silent` (no plausible checkpoint within the
/// limit), or `verified`.
pub(crate) fn machine_json(m: &MachineView, now_ns: i64, max_silence_ns: i64) -> serde_json::Value {
    let silence = crate::store::machine_silence(m, now_ns, max_silence_ns);
    // The codes of what is wrong now: every finding but a past silence, and silence if it
    // holds now (`findings` keeps the history).
    let mut codes: Vec<String> = m
        .findings
        .iter()
        .filter(|f| f.breaks_chain())
        .map(|f| f.code.clone())
        .collect();
    if silence.is_some() {
        codes.push("silent".into());
    }
    codes.sort();
    codes.dedup();
    let broken = m.findings.iter().any(|f| f.breaks_chain());
    let status = if m.revoked_ns.is_some() {
        "revoked"
    } else if broken {
        "broken"
    } else if silence.is_some() {
        "silent"
    } else if m.state.is_none() {
        "no-data"
    } else {
        "verified"
    };
    let state = m.state.as_ref();
    json!({
        "name": m.name,
        "ledger_id": m.ledger_id,
        "public_key": m.public_key,
        "enrolled": rfc3339(m.created_ns),
        "revoked": m.revoked_ns.map(rfc3339),
        "last_seen": m.last_seen_ns.map(rfc3339),
        "records": state.map_or(0, |s| s.records),
        "next_seq": state.map_or(1, |s| s.next_seq),
        "checkpoints_verified": state.map_or(0, |s| s.checkpoints_verified),
        "last_checkpoint": state.and_then(|s| s.last_checkpoint.as_ref()).map(|c| json!({
            "seq": c.seq,
            "time": c.time_ns.parse::<i64>().ok().map(rfc3339),
        })),
        "newest_plausible_checkpoint": state.and_then(|s| s.newest_plausible_checkpoint.as_ref()).map(|c| json!({
            "seq": c.seq,
            "time": c.time_ns.parse::<i64>().ok().map(rfc3339),
        })),
        "pruned": state.map(|s| s.pruned.clone()).unwrap_or_default(),
        "chain_status": status,
        "codes": codes,
        "silence": silence.map(|p| p.detail),
        "findings": m.findings,
    })
}
