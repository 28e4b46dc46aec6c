//! The HTTP side: `POST /v1/ingest`, `GET /healthz`, `GET /metrics`.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hookledger_ledger::export::receive::incremental::{Clock, ParsedBatch, RefusalCode};

use crate::store::{Answer, Batch, Store};

/// The largest request body accepted: `hookledger ship`'s default batch (2,000 records) of
/// ordinary records is well under it; a larger body is refused with 413 before it is read
/// past this size.
pub const MAX_BATCH_BYTES: usize = 8 << 20;

/// Batches read and verified at once; more wait before their bodies are read, so the server's
/// memory is bounded (about this many times the largest batch and its parsed records) however
/// many machines send at once.
pub const MAX_IN_FLIGHT: usize = 16;

#[derive(Default)]
pub struct Metrics {
    pub batches_ok: AtomicU64,
    pub batches_refused: AtomicU64,
    pub batches_failed: AtomicU64,
    pub records: AtomicU64,
    pub duplicates: AtomicU64,
    pub findings: AtomicU64,
}

pub struct App {
    pub store: Arc<Store>,
    pub metrics: Metrics,
    pub max_silence_ns: i64,
    /// [`MAX_IN_FLIGHT`] permits.
    pub in_flight: tokio::sync::Semaphore,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/ingest", post(ingest))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app)
}

fn line(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

/// The bearer token's hash; the token itself is never kept.
fn token_hash(headers: &HeaderMap) -> Option<[u8; 32]> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| *blake3::hash(token.as_bytes()).as_bytes())
}

async fn ingest(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let Some(token) = token_hash(&headers) else {
        app.metrics.batches_refused.fetch_add(1, Ordering::Relaxed);
        return line(
            StatusCode::UNAUTHORIZED,
            format!(
                "{}: no `Authorization: Bearer TOKEN` header",
                RefusalCode::UnknownToken
            ),
        );
    };
    let Ok(_permit) = app.in_flight.acquire().await else {
        return line(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; send the batch again".into(),
        );
    };
    // The body is read only up to the limit; a Content-Length over it is refused unread.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = match declared {
        Some(n) if n > MAX_BATCH_BYTES as u64 => Err(None),
        _ => axum::body::to_bytes(body, MAX_BATCH_BYTES)
            .await
            .map_err(Some),
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => {
            let oversized = e.as_ref().is_none_or(|e| {
                let inner = e.source();
                inner.is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            });
            app.metrics.batches_refused.fetch_add(1, Ordering::Relaxed);
            if !oversized {
                return line(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the body could not be read ({}); nothing was stored",
                        e.map_or_else(String::new, |e| e.to_string())
                    ),
                );
            }
            let detail = format!(
                "the body is larger than {} MiB; nothing was stored (send smaller batches: hookledger ship --batch-records)",
                MAX_BATCH_BYTES >> 20
            );
            let _ = app
                .store
                .refuse(
                    &token,
                    RefusalCode::OversizedBatch,
                    &detail,
                    hookledger_ledger::now_ns(),
                )
                .await;
            return line(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{}: {detail}", RefusalCode::OversizedBatch),
            );
        }
    };
    // Parsing and hashing are CPU work: off the I/O threads.
    let parsed = match tokio::task::spawn_blocking(move || ParsedBatch::parse(&bytes)).await {
        Ok(parsed) => parsed,
        Err(e) => {
            app.metrics.batches_failed.fetch_add(1, Ordering::Relaxed);
            return line(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error reading the batch: {e}"),
            );
        }
    };
    // Run to the end even if the sender hangs up: a transaction is never cut in half by a
    // dropped connection (it commits or rolls back as a whole anyway; this keeps the metrics
    // and the connection pool tidy).
    let worker = Arc::clone(&app);
    let outcome = tokio::spawn(async move {
        let batch = Batch { parsed };
        worker.store.ingest(&token, &batch, Clock::default()).await
    })
    .await;
    match outcome {
        Ok(Ok(answer)) => respond(&app, answer),
        Ok(Err(e)) => {
            app.metrics.batches_failed.fetch_add(1, Ordering::Relaxed);
            line(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the batch was not stored ({e}); send it again"),
            )
        }
        Err(e) => {
            app.metrics.batches_failed.fetch_add(1, Ordering::Relaxed);
            line(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error; the batch was not stored: {e}"),
            )
        }
    }
}

fn respond(app: &App, answer: Answer) -> Response {
    let m = &app.metrics;
    m.findings.fetch_add(answer.new_findings, Ordering::Relaxed);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_success() {
        m.batches_ok.fetch_add(1, Ordering::Relaxed);
        m.records.fetch_add(answer.accepted, Ordering::Relaxed);
        m.duplicates.fetch_add(answer.duplicates, Ordering::Relaxed);
        let body = serde_json::to_string(&answer).unwrap_or_default();
        return (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{body}\n"),
        )
            .into_response();
    }
    m.batches_refused.fetch_add(1, Ordering::Relaxed);
    line(status, answer.reason)
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.machines().await {
        Ok(_) => line(StatusCode::OK, "ok".into()),
        Err(e) => line(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let m = &app.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, labels: &[(&str, u64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for (label, value) in labels {
            out.push_str(&format!("{name}{label} {value}\n"));
        }
    };
    counter(
        "hookledger_server_batches_total",
        "Batches received, by outcome.",
        &[
            ("{outcome=\"stored\"}", m.batches_ok.load(Ordering::Relaxed)),
            (
                "{outcome=\"refused\"}",
                m.batches_refused.load(Ordering::Relaxed),
            ),
            (
                "{outcome=\"failed\"}",
                m.batches_failed.load(Ordering::Relaxed),
            ),
        ],
    );
    counter(
        "hookledger_server_records_total",
        "Verified records stored.",
        &[("", m.records.load(Ordering::Relaxed))],
    );
    counter(
        "hookledger_server_duplicate_records_total",
        "Records received again (resends), not stored twice.",
        &[("", m.duplicates.load(Ordering::Relaxed))],
    );
    counter(
        "hookledger_server_findings_total",
        "Findings recorded (problems and refusals of known machines).",
        &[("", m.findings.load(Ordering::Relaxed))],
    );
    let now = hookledger_ledger::now_ns();
    match app.store.machines().await {
        Ok(machines) => {
            let active: Vec<_> = machines.iter().filter(|m| m.revoked_ns.is_none()).collect();
            let lag = |m: &&crate::store::MachineView| -> Option<f64> {
                let t = m
                    .state
                    .as_ref()?
                    .newest_plausible_checkpoint
                    .as_ref()?
                    .time_ns
                    .parse::<i64>()
                    .ok()?;
                Some(now.saturating_sub(t) as f64 / 1e9)
            };
            let max_lag = active.iter().filter_map(lag).fold(0.0_f64, f64::max);
            let silent = active
                .iter()
                .filter(|m| lag(m).is_none_or(|l| l * 1e9 > app.max_silence_ns as f64))
                .count();
            out.push_str(&format!(
                "# HELP hookledger_server_machines Enrolled machines (not revoked).\n# TYPE hookledger_server_machines gauge\nhookledger_server_machines {}\n",
                active.len()
            ));
            out.push_str(&format!(
                "# HELP hookledger_server_lag_seconds_max Age of the oldest machine's newest plausible signed checkpoint.\n# TYPE hookledger_server_lag_seconds_max gauge\nhookledger_server_lag_seconds_max {max_lag:.3}\n"
            ));
            out.push_str(&format!(
                "# HELP hookledger_server_silent_machines Machines with no plausible checkpoint within the silence limit.\n# TYPE hookledger_server_silent_machines gauge\nhookledger_server_silent_machines {silent}\n"
            ));
        }
        Err(e) => {
            return line(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}"));
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}
