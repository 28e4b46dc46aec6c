//! The embedded store: one SQLite file, WAL with `synchronous=FULL` (a batch is answered only
//! after its commit reached the disk). One connection serializes the writers, which SQLite
//! does anyway; a batch's transaction is short (its verification is done in memory).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hookledger_ledger::StoredRecord;
use hookledger_ledger::export::receive::incremental::LedgerState;
use hookledger_ledger::frame::Hash;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{
    AlertFinding, Finding, FindingView, IngestTx, MIGRATIONS, MachineRow, MachineView, StoreError,
    hash_of, seq_of, seq_sql, state_of, state_text, stored_record,
};

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_owned(), e))?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Durable before the 2xx: every commit is fsynced.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub async fn begin(&self) -> Result<SqliteTx, StoreError> {
        let conn = Arc::clone(&self.conn).lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTx { conn, open: true })
    }

    /// False when the name is taken.
    pub async fn enroll(&self, name: &str, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let conn = self.conn.lock().await;
        let taken: bool = conn
            .query_row("SELECT 1 FROM machines WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some();
        if taken {
            return Ok(false);
        }
        conn.execute(
            "INSERT INTO machines (name, token_hash, created_ns) VALUES (?1, ?2, ?3)",
            params![name, &token_hash[..], hookledger_ledger::now_ns()],
        )?;
        Ok(true)
    }

    /// How many machines the name revoked (0 or 1).
    pub async fn revoke(&self, name: &str) -> Result<u64, StoreError> {
        let conn = self.conn.lock().await;
        let n = conn.execute(
            "UPDATE machines SET revoked_ns = COALESCE(revoked_ns, ?2) WHERE name = ?1",
            params![name, hookledger_ledger::now_ns()],
        )?;
        Ok(n as u64)
    }

    /// The stored (verified) records of one ledger for a report: those whose time is in
    /// `[since_ns, until_ns)`, plus every session-start before `until_ns` (who ran a session is
    /// in its start, which may precede the period). In seq order.
    pub async fn report_records(
        &self,
        ledger_id: &str,
        since_ns: i64,
        until_ns: i64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let conn = self.conn.lock().await;
        let mut stmt = conn.prepare(
            "SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records
             WHERE ledger_id = ?1 AND ts_ns < ?3 AND (ts_ns >= ?2 OR kind = 'session-start')
             ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![ledger_id, since_ns, until_ns], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Vec<u8>>(4)?,
                row.get::<_, Vec<u8>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, ts_ns, kind, payload, prev_hash, hash) = row?;
            out.push(stored_record(
                seq,
                ts_ns,
                kind,
                payload.into_bytes(),
                &prev_hash,
                &hash,
            )?);
        }
        Ok(out)
    }

    pub async fn machines(&self) -> Result<Vec<MachineView>, StoreError> {
        let conn = self.conn.lock().await;
        let mut stmt = conn.prepare(
            "SELECT m.id, m.name, m.ledger_id, m.public_key, m.created_ns, m.revoked_ns,
                    m.last_seen_ns, s.state
             FROM machines m LEFT JOIN ledger_state s ON s.ledger_id = m.ledger_id
             ORDER BY m.name",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, Option<i64>>(5)?,
                row.get::<_, Option<i64>>(6)?,
                row.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, ledger_id, public_key, created_ns, revoked_ns, last_seen_ns, state) =
                row?;
            let state = state.as_deref().map(state_of).transpose()?;
            out.push(MachineView {
                id,
                name,
                ledger_id,
                public_key,
                created_ns,
                revoked_ns,
                last_seen_ns,
                state,
                findings: Vec::new(),
            });
        }
        let mut stmt = conn.prepare(
            "SELECT code, first_seq, last_seq, detail, found_ns, rule, resolved_ns FROM findings
             WHERE machine_id = ?1 ORDER BY found_ns, id",
        )?;
        for machine in &mut out {
            let rows = stmt.query_map([machine.id], |row| {
                Ok(FindingView {
                    code: row.get(0)?,
                    first_seq: row.get::<_, Option<i64>>(1)?.map(seq_of),
                    last_seq: row.get::<_, Option<i64>>(2)?.map(seq_of),
                    detail: row.get(3)?,
                    found_ns: row.get(4)?,
                    rule: row.get(5)?,
                    resolved_ns: row.get(6)?,
                })
            })?;
            for row in rows {
                machine.findings.push(row?);
            }
        }
        Ok(out)
    }
}

impl SqliteStore {
    pub async fn findings_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AlertFinding>, StoreError> {
        let conn = self.conn.lock().await;
        let mut stmt = conn.prepare_cached(
            "SELECT f.id, m.name, f.code, f.first_seq, f.detail, f.found_ns, f.rule
             FROM findings f JOIN machines m ON m.id = f.machine_id
             WHERE f.id > ?1 ORDER BY f.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit], |row| {
            Ok(AlertFinding {
                id: row.get(0)?,
                machine: row.get(1)?,
                code: row.get(2)?,
                first_seq: row.get::<_, Option<i64>>(3)?.map(seq_of),
                detail: row.get(4)?,
                found_ns: row.get(5)?,
                rule: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub async fn last_alerted(&self) -> Result<i64, StoreError> {
        let conn = self.conn.lock().await;
        Ok(conn.query_row(
            "SELECT COALESCE(max(finding_id), 0) FROM alert_deliveries",
            [],
            |row| row.get(0),
        )?)
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
        let conn = self.conn.lock().await;
        conn.execute(
            "INSERT INTO alert_deliveries (finding_id, webhook, attempt, status, error, sent_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![finding, webhook, attempt, status, error, now_ns],
        )?;
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ns INTEGER NOT NULL)",
    )?;
    for migration in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [migration.version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !done {
            tx.execute_batch(migration.sqlite)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?1, ?2, ?3)",
                params![
                    migration.version,
                    migration.name,
                    hookledger_ledger::now_ns()
                ],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// One ingest transaction (`BEGIN IMMEDIATE`: the writer lock is taken at once).
pub struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl IngestTx for SqliteTx {
    async fn machine_by_token(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<MachineRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, revoked_ns IS NOT NULL, ledger_id FROM machines
                 WHERE token_hash = ?1",
                [&token_hash[..]],
                |row| {
                    Ok(MachineRow {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        revoked: row.get(2)?,
                        ledger_id: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    async fn ledger_owner(&mut self, ledger_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM machines WHERE ledger_id = ?1",
                [ledger_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    async fn pin_ledger(&mut self, machine: i64, ledger_id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE machines SET ledger_id = ?2 WHERE id = ?1",
            params![machine, ledger_id],
        )?;
        Ok(())
    }

    async fn load_state(&mut self, ledger_id: &str) -> Result<Option<LedgerState>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM ledger_state WHERE ledger_id = ?1",
                [ledger_id],
                |row| row.get(0),
            )
            .optional()?;
        text.as_deref().map(state_of).transpose()
    }

    async fn stored_hashes(
        &mut self,
        ledger_id: &str,
        seqs: &[u64],
    ) -> Result<BTreeMap<u64, Hash>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM records WHERE ledger_id = ?1 AND seq = ?2")?;
        let mut out = BTreeMap::new();
        for seq in seqs {
            let hash: Option<Vec<u8>> = stmt
                .query_row(params![ledger_id, seq_sql(*seq)], |row| row.get(0))
                .optional()?;
            if let Some(hash) = hash {
                out.insert(*seq, hash_of(&hash)?);
            }
        }
        Ok(out)
    }

    async fn insert_records(
        &mut self,
        ledger_id: &str,
        records: &[StoredRecord],
        now_ns: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO records (ledger_id, seq, ts_ns, kind, payload, prev_hash, hash, received_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for r in records {
            stmt.execute(params![
                ledger_id,
                seq_sql(r.seq),
                r.ts_ns,
                r.kind,
                String::from_utf8_lossy(&r.payload),
                &r.prev_hash[..],
                &r.hash[..],
                now_ns
            ])?;
        }
        Ok(())
    }

    async fn save_state(
        &mut self,
        machine: i64,
        state: &LedgerState,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO ledger_state (ledger_id, machine_id, state, updated_ns)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (ledger_id) DO UPDATE SET state = excluded.state,
                 updated_ns = excluded.updated_ns",
            params![state.ledger_id, machine, state_text(state), now_ns],
        )?;
        Ok(())
    }

    async fn add_findings(
        &mut self,
        machine: i64,
        ledger_id: Option<&str>,
        findings: &[Finding],
        now_ns: i64,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO findings (machine_id, ledger_id, code, first_seq, last_seq, detail,
                                   found_ns, dedup, rule)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (machine_id, dedup) DO NOTHING",
        )?;
        let mut added = 0;
        for f in findings {
            added += stmt.execute(params![
                machine,
                ledger_id,
                f.code,
                f.first_seq.map(seq_sql),
                f.last_seq.map(seq_sql),
                f.detail,
                now_ns,
                f.dedup(),
                f.rule
            ])? as u64;
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
        let mut stmt = self.conn.prepare_cached(
            "UPDATE findings SET resolved_ns = ?1
             WHERE machine_id = ?2 AND code = ?3 AND first_seq = ?4 AND resolved_ns IS NULL",
        )?;
        let mut done = 0;
        for seq in first_seqs {
            done += stmt.execute(params![now_ns, machine, code, seq_sql(*seq)])? as u64;
        }
        Ok(done)
    }

    async fn touch(
        &mut self,
        machine: i64,
        public_key: Option<&str>,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE machines SET last_seen_ns = ?2, public_key = COALESCE(public_key, ?3)
             WHERE id = ?1",
            params![machine, now_ns, public_key],
        )?;
        Ok(())
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}
