//! The production store: PostgreSQL through tokio-postgres, a small pool of connections (each
//! ingest holds one for its transaction, so machines are verified side by side; one machine's
//! batches queue on its row lock).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hookledger_ledger::StoredRecord;
use hookledger_ledger::export::receive::incremental::LedgerState;
use hookledger_ledger::frame::Hash;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, NoTls};

use super::{
    AlertFinding, Finding, FindingView, IngestTx, MIGRATIONS, MachineRow, MachineView, StoreError,
    hash_of, seq_of, seq_sql, state_of, state_text, stored_record,
};

/// Connections kept open at most.
const POOL_SIZE: usize = 16;

struct Pool {
    url: String,
    idle: Mutex<Vec<Client>>,
    permits: Arc<Semaphore>,
    /// Months (`YYYYMM`) whose `records` partition exists.
    months: Mutex<BTreeSet<i64>>,
}

pub struct PgStore {
    pool: Arc<Pool>,
}

/// A pooled connection, back in the pool when dropped (unless it broke).
pub struct Conn {
    client: Option<Client>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    fn client(&self) -> Result<&Client, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Worker("connection already returned".into()))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
            && let Ok(mut idle) = self.pool.idle.try_lock()
        {
            idle.push(client);
        }
    }
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the pool drops closed
        // clients.
        let _ = connection.await;
    });
    Ok(client)
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore {
            pool: Arc::new(Pool {
                url: url.to_owned(),
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(POOL_SIZE)),
                months: Mutex::new(BTreeSet::new()),
            }),
        };
        let conn = store.conn().await?;
        migrate(conn.client()?).await?;
        drop(conn);
        store.ensure_partitions(hookledger_ledger::now_ns()).await?;
        Ok(store)
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        let permit = Arc::clone(&self.pool.permits)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?;
        let idle = self.pool.idle.lock().await.pop();
        let client = match idle {
            Some(client) if !client.is_closed() => {
                // A transaction left open by an error path ends here.
                client.batch_execute("ROLLBACK").await?;
                client
            }
            _ => connect(&self.pool.url).await?,
        };
        Ok(Conn {
            client: Some(client),
            pool: Arc::clone(&self.pool),
            _permit: permit,
        })
    }

    /// Creates the `records` partitions of this month and the next, once per process.
    pub async fn ensure_partitions(&self, now_ns: i64) -> Result<(), StoreError> {
        let this = month_of(now_ns);
        let next = next_month(this);
        let missing: Vec<i64> = {
            let months = self.pool.months.lock().await;
            [this, next]
                .into_iter()
                .filter(|m| !months.contains(m))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let conn = self.conn().await?;
        let client = conn.client()?;
        for month in missing {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS records_{month} PARTITION OF records
                 FOR VALUES FROM ('{}') TO ('{}')",
                month_start(month),
                month_start(next_month(month))
            );
            // Two servers creating the same partition at once: one wins, the other's error
            // is the same outcome.
            client
                .execute("SELECT pg_advisory_lock(724231)", &[])
                .await?;
            let made = client.batch_execute(&sql).await;
            client
                .execute("SELECT pg_advisory_unlock(724231)", &[])
                .await?;
            made?;
            self.pool.months.lock().await.insert(month);
        }
        Ok(())
    }

    pub async fn begin(&self, now_ns: i64) -> Result<PgTx, StoreError> {
        self.ensure_partitions(now_ns).await?;
        let conn = self.conn().await?;
        conn.client()?.batch_execute("BEGIN").await?;
        Ok(PgTx { conn })
    }

    /// False when the name is taken.
    pub async fn enroll(&self, name: &str, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let conn = self.conn().await?;
        let n = conn
            .client()?
            .execute(
                "INSERT INTO machines (name, token_hash, created_ns) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &&token_hash[..], &hookledger_ledger::now_ns()],
            )
            .await?;
        Ok(n > 0)
    }

    /// How many machines the name revoked (0 or 1).
    pub async fn revoke(&self, name: &str) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        Ok(conn
            .client()?
            .execute(
                "UPDATE machines SET revoked_ns = COALESCE(revoked_ns, $2) WHERE name = $1",
                &[&name, &hookledger_ledger::now_ns()],
            )
            .await?)
    }

    /// As [`super::sqlite::SqliteStore::report_records`]. A JSONB payload comes back
    /// re-serialized by PostgreSQL, so it is re-canonicalized (RFC 8785): the bytes the hash
    /// covered; `payload_raw` is already exact.
    pub async fn report_records(
        &self,
        ledger_id: &str,
        since_ns: i64,
        until_ns: i64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let conn = self.conn().await?;
        let client = conn.client()?;
        let rows = client
            .query(
                "SELECT seq, ts_ns, kind, payload::text, payload_raw, prev_hash, hash FROM records
                 WHERE ledger_id = $1 AND ts_ns < $3 AND (ts_ns >= $2 OR kind = 'session-start')
                 ORDER BY seq",
                &[&ledger_id, &since_ns, &until_ns],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let json: Option<String> = row.try_get(3)?;
            let raw: Option<Vec<u8>> = row.try_get(4)?;
            let payload = match (raw, json) {
                (Some(raw), _) => raw,
                (None, Some(text)) => {
                    let value: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("a stored payload: {e}")))?;
                    hookledger_ledger::canonical::to_vec(&value)
                        .map_err(|e| StoreError::Corrupt(format!("a stored payload: {e}")))?
                }
                (None, None) => {
                    return Err(StoreError::Corrupt("a record without a payload".into()));
                }
            };
            let prev_hash: Vec<u8> = row.try_get(5)?;
            let hash: Vec<u8> = row.try_get(6)?;
            out.push(stored_record(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                payload,
                &prev_hash,
                &hash,
            )?);
        }
        Ok(out)
    }

    pub async fn machines(&self) -> Result<Vec<MachineView>, StoreError> {
        let conn = self.conn().await?;
        let client = conn.client()?;
        let rows = client
            .query(
                "SELECT m.id, m.name, m.ledger_id, m.public_key, m.created_ns, m.revoked_ns,
                        m.last_seen_ns, s.state::text
                 FROM machines m LEFT JOIN ledger_state s ON s.ledger_id = m.ledger_id
                 ORDER BY m.name",
                &[],
            )
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let state: Option<String> = row.try_get(7)?;
            out.push(MachineView {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                ledger_id: row.try_get(2)?,
                public_key: row.try_get(3)?,
                created_ns: row.try_get(4)?,
                revoked_ns: row.try_get(5)?,
                last_seen_ns: row.try_get(6)?,
                state: state.as_deref().map(state_of).transpose()?,
                findings: Vec::new(),
            });
        }
        let rows = client
            .query(
                "SELECT machine_id, code, first_seq, last_seq, detail, found_ns, rule, resolved_ns
                 FROM findings
                 ORDER BY found_ns, id",
                &[],
            )
            .await?;
        for row in rows {
            let machine: i64 = row.try_get(0)?;
            if let Some(view) = out.iter_mut().find(|m| m.id == machine) {
                view.findings.push(FindingView {
                    code: row.try_get(1)?,
                    first_seq: row.try_get::<_, Option<i64>>(2)?.map(seq_of),
                    last_seq: row.try_get::<_, Option<i64>>(3)?.map(seq_of),
                    detail: row.try_get(4)?,
                    found_ns: row.try_get(5)?,
                    rule: row.try_get(6)?,
                    resolved_ns: row.try_get(7)?,
                });
            }
        }
        Ok(out)
    }
}

impl PgStore {
    pub async fn findings_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AlertFinding>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .client()?
            .query(
                "SELECT f.id, m.name, f.code, f.first_seq, f.detail, f.found_ns, f.rule
                 FROM findings f JOIN machines m ON m.id = f.machine_id
                 WHERE f.id > $1 ORDER BY f.id LIMIT $2",
                &[&after, &limit],
            )
            .await?;
        let mut out = Vec::new();
        for row in rows {
            out.push(AlertFinding {
                id: row.try_get(0)?,
                machine: row.try_get(1)?,
                code: row.try_get(2)?,
                first_seq: row.try_get::<_, Option<i64>>(3)?.map(seq_of),
                detail: row.try_get(4)?,
                found_ns: row.try_get(5)?,
                rule: row.try_get(6)?,
            });
        }
        Ok(out)
    }

    pub async fn last_alerted(&self) -> Result<i64, StoreError> {
        let conn = self.conn().await?;
        let row = conn
            .client()?
            .query_one(
                "SELECT COALESCE(max(finding_id), 0) FROM alert_deliveries",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn record_delivery(
        &self,
        finding: i64,
        webhook: &str,
        attempt: i32,
        status: Option<i32>,
        error: Option<&str>,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        conn.client()?
            .execute(
                "INSERT INTO alert_deliveries (finding_id, webhook, attempt, status, error, sent_ns)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&finding, &webhook, &attempt, &status, &error, &now_ns],
            )
            .await?;
        Ok(())
    }
}

async fn migrate(client: &Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ns BIGINT NOT NULL)",
        )
        .await?;
    for migration in MIGRATIONS {
        client.batch_execute("BEGIN").await?;
        // One server migrates at a time.
        client
            .execute("SELECT pg_advisory_xact_lock(724230)", &[])
            .await?;
        let done = client
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await?
            .is_some();
        if !done {
            client.batch_execute(migration.postgres).await?;
            client
                .execute(
                    "INSERT INTO schema_migrations (version, name, applied_ns) VALUES ($1, $2, $3)",
                    &[
                        &migration.version,
                        &migration.name,
                        &hookledger_ledger::now_ns(),
                    ],
                )
                .await?;
        }
        client.batch_execute("COMMIT").await?;
    }
    Ok(())
}

/// `YYYYMM` of a time in nanoseconds (UTC): the civil date from days since the epoch
/// (Howard Hinnant's `civil_from_days`).
fn month_of(ns: i64) -> i64 {
    let z = ns.div_euclid(86_400_000_000_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    year * 100 + month
}

fn next_month(month: i64) -> i64 {
    if month % 100 >= 12 {
        (month / 100 + 1) * 100 + 1
    } else {
        month + 1
    }
}

fn month_start(month: i64) -> String {
    format!("{:04}-{:02}-01 00:00:00+00", month / 100, month % 100)
}

/// One ingest transaction on a pooled connection.
pub struct PgTx {
    conn: Conn,
}

impl IngestTx for PgTx {
    async fn machine_by_token(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<MachineRow>, StoreError> {
        // FOR UPDATE: this machine's batches are verified one at a time; others go on.
        let row = self
            .conn
            .client()?
            .query_opt(
                "SELECT id, name, revoked_ns IS NOT NULL, ledger_id FROM machines
                 WHERE token_hash = $1 FOR UPDATE",
                &[&&token_hash[..]],
            )
            .await?;
        row.map(|row| {
            Ok(MachineRow {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                revoked: row.try_get(2)?,
                ledger_id: row.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn ledger_owner(&mut self, ledger_id: &str) -> Result<Option<i64>, StoreError> {
        let row = self
            .conn
            .client()?
            .query_opt(
                "SELECT id FROM machines WHERE ledger_id = $1",
                &[&ledger_id],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn pin_ledger(&mut self, machine: i64, ledger_id: &str) -> Result<(), StoreError> {
        self.conn
            .client()?
            .execute(
                "UPDATE machines SET ledger_id = $2 WHERE id = $1",
                &[&machine, &ledger_id],
            )
            .await?;
        Ok(())
    }

    async fn load_state(&mut self, ledger_id: &str) -> Result<Option<LedgerState>, StoreError> {
        let row = self
            .conn
            .client()?
            .query_opt(
                "SELECT state::text FROM ledger_state WHERE ledger_id = $1",
                &[&ledger_id],
            )
            .await?;
        match row {
            Some(row) => Ok(Some(state_of(&row.try_get::<_, String>(0)?)?)),
            None => Ok(None),
        }
    }

    async fn stored_hashes(
        &mut self,
        ledger_id: &str,
        seqs: &[u64],
    ) -> Result<BTreeMap<u64, Hash>, StoreError> {
        let seqs: Vec<i64> = seqs.iter().map(|s| seq_sql(*s)).collect();
        let rows = self
            .conn
            .client()?
            .query(
                "SELECT seq, hash FROM records WHERE ledger_id = $1 AND seq = ANY($2)",
                &[&ledger_id, &seqs],
            )
            .await?;
        let mut out = BTreeMap::new();
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            let hash: Vec<u8> = row.try_get(1)?;
            out.insert(seq_of(seq), hash_of(&hash)?);
        }
        Ok(out)
    }

    async fn insert_records(
        &mut self,
        ledger_id: &str,
        records: &[StoredRecord],
        now_ns: i64,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut seqs = Vec::with_capacity(records.len());
        let mut times = Vec::with_capacity(records.len());
        let mut kinds = Vec::with_capacity(records.len());
        let mut json: Vec<Option<String>> = Vec::with_capacity(records.len());
        let mut raw: Vec<Option<Vec<u8>>> = Vec::with_capacity(records.len());
        let mut prevs = Vec::with_capacity(records.len());
        let mut hashes = Vec::with_capacity(records.len());
        for r in records {
            seqs.push(seq_sql(r.seq));
            times.push(r.ts_ns);
            kinds.push(r.kind.as_str());
            // JSONB cannot hold U+0000 (nor text that is not UTF-8): those keep exact bytes.
            match std::str::from_utf8(&r.payload) {
                Ok(text) if !text.contains("\\u0000") => {
                    json.push(Some(text.to_owned()));
                    raw.push(None);
                }
                _ => {
                    json.push(None);
                    raw.push(Some(r.payload.clone()));
                }
            }
            prevs.push(&r.prev_hash[..]);
            hashes.push(&r.hash[..]);
        }
        let received = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_nanos(u64::try_from(now_ns).unwrap_or(0));
        self.conn
            .client()?
            .execute(
                "INSERT INTO records (ledger_id, seq, ts_ns, kind, payload, payload_raw,
                                      prev_hash, hash, received_at)
                 SELECT $1, s, t, k, p::jsonb, r, ph, h, $9
                 FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bytea[],
                             $7::bytea[], $8::bytea[]) AS u(s, t, k, p, r, ph, h)",
                &[
                    &ledger_id, &seqs, &times, &kinds, &json, &raw, &prevs, &hashes, &received,
                ],
            )
            .await?;
        Ok(())
    }

    async fn save_state(
        &mut self,
        machine: i64,
        state: &LedgerState,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .client()?
            .execute(
                "INSERT INTO ledger_state (ledger_id, machine_id, state, updated_ns)
                 VALUES ($1, $2, $3::text::jsonb, $4)
                 ON CONFLICT (ledger_id) DO UPDATE SET state = excluded.state,
                     updated_ns = excluded.updated_ns",
                &[&state.ledger_id, &machine, &state_text(state), &now_ns],
            )
            .await?;
        Ok(())
    }

    async fn add_findings(
        &mut self,
        machine: i64,
        ledger_id: Option<&str>,
        findings: &[Finding],
        now_ns: i64,
    ) -> Result<u64, StoreError> {
        let client = self.conn.client()?;
        let stmt = client
            .prepare(
                "INSERT INTO findings (machine_id, ledger_id, code, first_seq, last_seq, detail,
                                       found_ns, dedup, rule)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (machine_id, dedup) DO NOTHING",
            )
            .await?;
        let mut added = 0;
        for f in findings {
            added += client
                .execute(
                    &stmt,
                    &[
                        &machine,
                        &ledger_id,
                        &f.code,
                        &f.first_seq.map(seq_sql),
                        &f.last_seq.map(seq_sql),
                        &f.detail,
                        &now_ns,
                        &f.dedup(),
                        &f.rule,
                    ],
                )
                .await?;
        }
        Ok(added)
    }

    async fn resolve_findings(
        &mut self,
        machine: i64,
        code: &str,
        first_seqs: &[u64],
        now_ns: i64,
    ) -> Result<u64, StoreError> {
        let client = self.conn.client()?;
        let stmt = client
            .prepare(
                "UPDATE findings SET resolved_ns = $1
                 WHERE machine_id = $2 AND code = $3 AND first_seq = $4 AND resolved_ns IS NULL",
            )
            .await?;
        let mut done = 0;
        for seq in first_seqs {
            done += client
                .execute(&stmt, &[&now_ns, &machine, &code, &seq_sql(*seq)])
                .await?;
        }
        Ok(done)
    }

    async fn touch(
        &mut self,
        machine: i64,
        public_key: Option<&str>,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .client()?
            .execute(
                "UPDATE machines SET last_seen_ns = $2, public_key = COALESCE(public_key, $3)
                 WHERE id = $1",
                &[&machine, &now_ns, &public_key],
            )
            .await?;
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.conn.client()?.batch_execute("COMMIT").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_civil_utc_months() {
        assert_eq!(month_of(0), 197001);
        // 2026-12-02T11:00:00Z and the last nanosecond of 2024-02-29.
        assert_eq!(month_of(1_796_209_200_000_000_000), 202612);
        assert_eq!(month_of(1_709_251_199_999_999_999), 202402);
        assert_eq!(month_of(1_709_251_200_000_000_000), 202403);
        assert_eq!(next_month(202612), 202701);
        assert_eq!(month_start(202701), "2027-01-01 00:00:00+00");
    }
}
