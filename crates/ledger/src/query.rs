/*!
Reading the ledger: records by seq range, time or kind, the genesis record, the chain's hashes,
and [`Query`], the reviewer's filters (`hookledger log`). Everything outside this crate reads
`records` through these methods, never with SQL of its own: the table's layout, its indexes and
what "the records of a period" means (times are not monotonic in seq, see
[`Ledger::seq_range_between`]) stay in one place.
*/

use std::path::Path;

use rusqlite::OptionalExtension;

use crate::export::RecordRef;
use crate::record::{AnyPayload, Genesis, Kind};
use crate::{Hash, Ledger, LedgerError, StoredRecord, seq_sql, stored_record_from_row};

const RECORD_COLUMNS: &str = "seq, ts_ns, kind, payload, prev_hash, hash";

impl Ledger {
    /// The genesis record's payload (record 1), parsed once per `Ledger`. `None` when there is
    /// no record 1 or its payload is not a JSON object. Whether record 1 really is a genesis
    /// record is `verify`'s question: readers only want its facts and key.
    pub fn genesis(&self) -> Result<Option<&Genesis>, LedgerError> {
        if let Some(genesis) = self.genesis.get() {
            return Ok(genesis.as_ref());
        }
        let parsed = self.record(1)?.and_then(|r| r.view::<Genesis>());
        Ok(self.genesis.get_or_init(|| parsed).as_ref())
    }

    /// The records in `from..=to`, in order.
    pub fn records_between(&self, from: u64, to: u64) -> Result<Vec<StoredRecord>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([seq_sql(from), seq_sql(to)], stored_record_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The smallest and largest seq of the records timed in `since_ns..until_ns`. Records
    /// merged from the spool keep their original time, so times are not monotonic in seq: a
    /// period's records all lie in this range, and the range may hold others (check `ts_ns`).
    pub fn seq_range_between(
        &self,
        since_ns: i64,
        until_ns: i64,
    ) -> Result<Option<(u64, u64)>, LedgerError> {
        let (low, high): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT min(seq), max(seq) FROM records WHERE ts_ns >= ?1 AND ts_ns < ?2",
            [since_ns, until_ns],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let as_u64 = |v: Option<i64>| v.and_then(|s| u64::try_from(s).ok());
        Ok(as_u64(low).zip(as_u64(high)))
    }

    /// The seqs of the records of `kind`, in order.
    pub fn seqs_of_kind(&self, kind: Kind) -> Result<Vec<u64>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq FROM records WHERE kind = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([kind.as_str()], |r| r.get::<_, i64>(0))?;
        rows.map(|seq| Ok(u64::try_from(seq?).unwrap_or(0)))
            .collect()
    }

    /// The records of `kind`, in order.
    pub fn records_of_kind(&self, kind: Kind) -> Result<Vec<StoredRecord>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([kind.as_str()], stored_record_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `each` for every record in `from..=to`, in order, borrowing each row.
    pub fn for_each_between<E: From<LedgerError>>(
        &self,
        from: u64,
        to: u64,
        mut each: impl FnMut(&RecordRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
            ))
            .map_err(LedgerError::from)?;
        let mut rows = stmt
            .query([seq_sql(from), seq_sql(to)])
            .map_err(LedgerError::from)?;
        while let Some(row) = rows.next().map_err(LedgerError::from)? {
            each(&record_ref(row)?)?;
        }
        Ok(())
    }

    /// Calls `each` for every record of `kind` after seq `after`, in order, borrowing each
    /// row (an incremental pass over one kind, through the `(kind, seq)` index).
    pub fn for_each_of_kind_after<E: From<LedgerError>>(
        &self,
        kind: Kind,
        after: u64,
        mut each: impl FnMut(&RecordRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 AND seq > ?2 ORDER BY seq"
            ))
            .map_err(LedgerError::from)?;
        let mut rows = stmt
            .query(rusqlite::params![kind.as_str(), seq_sql(after)])
            .map_err(LedgerError::from)?;
        while let Some(row) = rows.next().map_err(LedgerError::from)? {
            each(&record_ref(row)?)?;
        }
        Ok(())
    }

    /// The oldest record of one of `kinds` after seq `after` whose payload contains `text`
    /// (as bytes: an id, matched in the canonical JSON before it is parsed).
    pub fn first_mentioning(
        &self,
        kinds: &[Kind],
        after: u64,
        text: &str,
    ) -> Result<Option<StoredRecord>, LedgerError> {
        self.mentioning(kinds, "seq > ?1", "ASC", after, text)
    }

    /// The newest record of one of `kinds` before seq `before` whose payload contains `text`.
    pub fn last_mentioning(
        &self,
        kinds: &[Kind],
        before: u64,
        text: &str,
    ) -> Result<Option<StoredRecord>, LedgerError> {
        self.mentioning(kinds, "seq < ?1", "DESC", before, text)
    }

    fn mentioning(
        &self,
        kinds: &[Kind],
        bound: &str,
        order: &str,
        seq: u64,
        text: &str,
    ) -> Result<Option<StoredRecord>, LedgerError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
        // Kind names are fixed kebab-case strings, so they can be spelled into the statement
        // (which keeps one cached statement per call site).
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind IN ({}) AND {bound}
             AND instr(payload, CAST(?2 AS BLOB)) > 0 ORDER BY seq {order} LIMIT 1",
            names.join(", ")
        ))?;
        Ok(stmt
            .query_row(
                rusqlite::params![seq_sql(seq), text],
                stored_record_from_row,
            )
            .optional()?)
    }

    /// Every record's seq and hash, in order, read in bounded chunks (a ledger may hold
    /// millions). A stored hash of the wrong size comes out as zeros, which never equals a
    /// real one, so comparisons report it.
    pub fn hashes(&self) -> Hashes<'_> {
        Hashes {
            ledger: self,
            next: 0,
            chunk: Vec::new().into_iter(),
            done: false,
        }
    }

    /// Whether the triggers that refuse UPDATE and DELETE on `records` are in place.
    pub fn append_only_triggers_present(&self) -> Result<bool, LedgerError> {
        crate::health::append_only_triggers_present(&self.conn)
    }

    /// Rebuilds the database file, giving the space of pruned records back to the filesystem.
    pub fn vacuum(&mut self) -> Result<(), LedgerError> {
        self.with_write_lock(|conn| Ok(conn.execute_batch("VACUUM")?))
    }
}

/// A row of [`RECORD_COLUMNS`], borrowed.
fn record_ref<'a>(row: &'a rusqlite::Row<'_>) -> Result<RecordRef<'a>, LedgerError> {
    let hash32 = |i: usize| -> Result<&Hash, LedgerError> {
        row.get_ref(i)?.as_blob()?.try_into().map_err(|_| {
            LedgerError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Blob,
                "hash column is not 32 bytes".into(),
            ))
        })
    };
    Ok(RecordRef {
        seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        ts_ns: row.get(1)?,
        kind: row.get_ref(2)?.as_str()?,
        payload: row.get_ref(3)?.as_blob()?,
        prev_hash: hash32(4)?,
        hash: hash32(5)?,
    })
}

/// See [`Ledger::hashes`].
pub struct Hashes<'a> {
    ledger: &'a Ledger,
    next: u64,
    chunk: std::vec::IntoIter<(u64, Hash)>,
    done: bool,
}

const HASH_CHUNK: i64 = 4096;

impl Hashes<'_> {
    fn fill(&mut self) -> Result<(), LedgerError> {
        let mut stmt = self.ledger.conn.prepare_cached(
            "SELECT seq, hash FROM records WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map([seq_sql(self.next), HASH_CHUNK], |row| {
            let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            let hash = Hash::try_from(row.get::<_, Vec<u8>>(1)?).unwrap_or([0; 32]);
            Ok((seq, hash))
        })?;
        let chunk: Vec<(u64, Hash)> = rows.collect::<Result<_, _>>()?;
        match chunk.last() {
            Some((last, _)) => self.next = last.saturating_add(1),
            None => self.done = true,
        }
        if (chunk.len() as i64) < HASH_CHUNK {
            self.done = true;
        }
        self.chunk = chunk.into_iter();
        Ok(())
    }
}

impl Iterator for Hashes<'_> {
    type Item = Result<(u64, Hash), LedgerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.chunk.next() {
            return Some(Ok(item));
        }
        if self.done {
            return None;
        }
        if let Err(e) = self.fill() {
            self.done = true;
            return Some(Err(e));
        }
        self.chunk.next().map(Ok)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("invalid path glob {pattern:?}: {source}")]
    Glob {
        pattern: String,
        source: globset::Error,
    },
}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> Self {
        QueryError::Ledger(e.into())
    }
}

/// Which records a reviewer wants (`hookledger log`): every filter given must hold. The
/// newest `limit` matching records are returned, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Records of this kind (a string: a kind this build does not know can be asked for).
    pub kind: Option<String>,
    /// Sessions whose id starts with this.
    pub session_prefix: Option<String>,
    /// At or after this time.
    pub since_ns: Option<i64>,
    /// At or before this time.
    pub until_ns: Option<i64>,
    /// Calls of this tool.
    pub tool: Option<String>,
    /// Decisions with this action (`allow`, `ask`, `deny`).
    pub decision: Option<String>,
    /// Records naming a path that matches this glob (`*.rs` matches file names, a glob with a
    /// `/` whole paths).
    pub path_glob: Option<String>,
    /// At most this many (the newest); `usize::MAX` for all.
    pub limit: usize,
}

struct PathFilter {
    glob: globset::GlobMatcher,
    file_name_only: bool,
}

impl PathFilter {
    fn new(pattern: &str) -> Result<Self, QueryError> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|source| QueryError::Glob {
                pattern: pattern.to_owned(),
                source,
            })?
            .compile_matcher();
        Ok(PathFilter {
            glob,
            file_name_only: !pattern.contains('/'),
        })
    }

    fn matches(&self, path: &str) -> bool {
        if self.file_name_only {
            return Path::new(path)
                .file_name()
                .is_some_and(|name| self.glob.is_match(name));
        }
        self.glob.is_match(path)
    }
}

/// Every path a record names: edited files, tool inputs, repository-relative paths, and
/// every target the policy resolved (what a Bash command or an MCP tool reads and writes).
pub fn record_paths(payload: &AnyPayload) -> Vec<&str> {
    let input = payload.rest.get("input");
    let targets = payload
        .rest
        .get("targets")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| t.get("path"));
    [
        payload.rest.get("path"),
        payload
            .rest
            .get("repository")
            .and_then(|r| r.get("relative_path")),
        input.and_then(|i| i.get("file_path")),
        input.and_then(|i| i.get("path")),
        input.and_then(|i| i.get("notebook_path")),
    ]
    .into_iter()
    .chain(targets)
    .filter_map(|v| v.and_then(serde_json::Value::as_str))
    .collect()
}

impl Query {
    /// The newest `limit` records that match, oldest first, each with its payload (a payload
    /// that does not parse is read as empty).
    pub fn run(&self, ledger: &Ledger) -> Result<Vec<(StoredRecord, AnyPayload)>, QueryError> {
        Ok(self.run_counted(ledger)?.0)
    }

    /// [`Query::run`], and how many more records matched than `limit` let through.
    pub fn run_counted(
        &self,
        ledger: &Ledger,
    ) -> Result<(Vec<(StoredRecord, AnyPayload)>, u64), QueryError> {
        let path_filter = self.path_glob.as_deref().map(PathFilter::new).transpose()?;
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE 1 = 1");
        let mut params: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(kind) = &self.kind {
            sql.push_str(" AND kind = ?");
            params.push(kind.clone().into());
        }
        if let Some(since) = self.since_ns {
            sql.push_str(" AND ts_ns >= ?");
            params.push(since.into());
        }
        if let Some(until) = self.until_ns {
            sql.push_str(" AND ts_ns <= ?");
            params.push(until.into());
        }
        sql.push_str(" ORDER BY seq DESC");
        let mut stmt = ledger.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut picked = Vec::new();
        let mut left_out = 0u64;
        while let Some(row) = rows.next()? {
            let record = stored_record_from_row(row)?;
            let payload: AnyPayload = record.view().unwrap_or_default();
            if self.session_prefix.as_deref().is_some_and(|prefix| {
                !payload
                    .common
                    .session_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with(prefix))
            }) {
                continue;
            }
            // Tool names are matched as users type them: `bash` finds `Bash`.
            if self
                .tool
                .as_deref()
                .is_some_and(|t| !payload.tool().is_some_and(|x| x.eq_ignore_ascii_case(t)))
            {
                continue;
            }
            if self.decision.as_deref().is_some_and(|d| {
                payload
                    .rest
                    .get("decision")
                    .and_then(|v| v.get("action"))
                    .and_then(serde_json::Value::as_str)
                    != Some(d)
            }) {
                continue;
            }
            if path_filter
                .as_ref()
                .is_some_and(|f| !record_paths(&payload).into_iter().any(|p| f.matches(p)))
            {
                continue;
            }
            if picked.len() < self.limit {
                picked.push((record, payload));
            } else {
                left_out += 1;
            }
        }
        picked.reverse();
        Ok((picked, left_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRecord, OpenOptions, canonical_json};
    use serde_json::json;

    fn ledger_with(records: &[(i64, &str, serde_json::Value)]) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(
            &dir.path().join("ledger.db"),
            &OpenOptions {
                checkpoint_every: 0,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        let records: Vec<NewRecord> = records
            .iter()
            .map(|(ts, kind, payload)| NewRecord {
                ts_ns: *ts,
                kind: (*kind).to_owned(),
                payload: canonical_json(payload),
            })
            .collect();
        ledger.append(&records).unwrap();
        (dir, ledger)
    }

    fn seqs(found: &[(StoredRecord, AnyPayload)]) -> Vec<u64> {
        found.iter().map(|(r, _)| r.seq).collect()
    }

    #[test]
    fn genesis_is_parsed_from_record_one() {
        let (_dir, ledger) = ledger_with(&[]);
        let genesis = ledger.genesis().unwrap().unwrap();
        assert_eq!(genesis.ledger_id, crate::frame::to_hex(ledger.ledger_id()));
        assert_eq!(genesis.payload_encoding, "rfc8785");
        let key =
            crate::keys::load_signing_key(&crate::keys::key_dir(ledger.path()), ledger.ledger_id())
                .unwrap();
        assert_eq!(
            genesis.public_key(),
            Some(key.verifying_key().to_bytes()),
            "the genesis view reads the signing key"
        );
        // Asked again: the same parse.
        assert!(std::ptr::eq(genesis, ledger.genesis().unwrap().unwrap()));
    }

    #[test]
    fn ranges_kinds_and_hashes() {
        let (_dir, ledger) = ledger_with(&[
            (100, "prompt", json!({"session_id": "s1"})),
            // A record merged from the spool keeps its older time.
            (50, "tool-call", json!({"session_id": "s1", "tool": "Bash"})),
            (
                200,
                "edit",
                json!({"session_id": "s2", "path": "/r/src/a.rs"}),
            ),
            (300, "kind-from-the-future", json!({"x": 1})),
        ]);
        assert_eq!(ledger.seq_range_between(40, 150).unwrap(), Some((2, 3)));
        assert_eq!(ledger.seq_range_between(1000, 2000).unwrap(), None);
        let between = ledger.records_between(3, 4).unwrap();
        assert_eq!(between.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(between[1].kind(), Some(Kind::Edit));
        assert_eq!(ledger.seqs_of_kind(Kind::Edit).unwrap(), [4]);
        assert_eq!(ledger.seqs_of_kind(Kind::Genesis).unwrap(), [1]);
        assert_eq!(ledger.records_of_kind(Kind::Prompt).unwrap()[0].seq, 2);
        assert_eq!(ledger.records_between(5, 5).unwrap()[0].kind(), None);
        let hashes: Vec<(u64, Hash)> = ledger.hashes().map(Result::unwrap).collect();
        assert_eq!(hashes.len(), 5);
        for (seq, hash) in hashes {
            assert_eq!(ledger.record(seq).unwrap().unwrap().hash, hash);
        }
        assert!(ledger.append_only_triggers_present().unwrap());
        let mut edits = Vec::new();
        ledger
            .for_each_of_kind_after(Kind::ToolCall, 0, |r| {
                edits.push((r.seq, r.payload.to_vec()));
                Ok::<_, LedgerError>(())
            })
            .unwrap();
        assert_eq!(
            edits,
            [(3, br#"{"session_id":"s1","tool":"Bash"}"#.to_vec())]
        );
        let mut none = 0;
        ledger
            .for_each_of_kind_after(Kind::ToolCall, 3, |_| {
                none += 1;
                Ok::<_, LedgerError>(())
            })
            .unwrap();
        assert_eq!(none, 0);
        let both = [Kind::Prompt, Kind::ToolCall];
        let seq = |r: Option<StoredRecord>| r.map(|r| r.seq);
        assert_eq!(
            seq(ledger.first_mentioning(&both, 0, "s1").unwrap()),
            Some(2)
        );
        assert_eq!(
            seq(ledger.first_mentioning(&both, 2, "s1").unwrap()),
            Some(3)
        );
        assert_eq!(seq(ledger.first_mentioning(&both, 3, "s1").unwrap()), None);
        assert_eq!(
            seq(ledger.last_mentioning(&both, 9, "s1").unwrap()),
            Some(3)
        );
        assert_eq!(
            seq(ledger.last_mentioning(&both, 3, "s1").unwrap()),
            Some(2)
        );
        assert_eq!(
            seq(ledger.last_mentioning(&[Kind::Edit], 9, "s1").unwrap()),
            None
        );
        assert_eq!(seq(ledger.last_mentioning(&[], 9, "s1").unwrap()), None);
    }

    #[test]
    fn hashes_cross_chunks() {
        let many: Vec<(i64, &str, serde_json::Value)> = (0..(HASH_CHUNK + 10))
            .map(|i| (i, "prompt", json!({ "i": i })))
            .collect();
        let (_dir, ledger) = ledger_with(&many);
        let seqs: Vec<u64> = ledger.hashes().map(|h| h.unwrap().0).collect();
        let expected: Vec<u64> = (1..=u64::try_from(HASH_CHUNK).unwrap() + 11).collect();
        assert_eq!(seqs, expected);
    }

    #[test]
    fn query_filters_and_keeps_the_newest() {
        let (_dir, ledger) = ledger_with(&[
            (10, "prompt", json!({"session_id": "abc1"})),
            (
                20,
                "tool-call",
                json!({"session_id": "abc1", "tool": "Bash", "decision": {"action": "deny"}}),
            ),
            (
                30,
                "tool-call",
                json!({"session_id": "xyz", "tool": "Read", "input": {"file_path": "/r/a.rs"}}),
            ),
            (
                40,
                "edit",
                json!({"session_id": "abc2", "path": "/r/src/b.rs",
                       "repository": {"relative_path": "src/b.rs"}}),
            ),
            (50, "kind-from-the-future", json!("not an object")),
        ]);
        let run = |q: Query| seqs(&q.run(&ledger).unwrap());
        let all = Query {
            limit: 100,
            ..Query::default()
        };
        assert_eq!(run(all.clone()), [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            run(Query {
                limit: 2,
                ..all.clone()
            }),
            [5, 6]
        );
        assert_eq!(
            run(Query {
                kind: Some("tool-call".into()),
                ..all.clone()
            }),
            [3, 4]
        );
        assert_eq!(
            run(Query {
                session_prefix: Some("abc".into()),
                ..all.clone()
            }),
            [2, 3, 5]
        );
        assert_eq!(
            run(Query {
                tool: Some("Bash".into()),
                ..all.clone()
            }),
            [3]
        );
        assert_eq!(
            run(Query {
                decision: Some("deny".into()),
                ..all.clone()
            }),
            [3]
        );
        assert_eq!(
            run(Query {
                since_ns: Some(20),
                until_ns: Some(40),
                ..all.clone()
            }),
            [3, 4, 5]
        );
        assert_eq!(
            run(Query {
                path_glob: Some("*.rs".into()),
                ..all.clone()
            }),
            [4, 5]
        );
        assert_eq!(
            run(Query {
                path_glob: Some("src/**".into()),
                ..all.clone()
            }),
            [5]
        );
        assert!(matches!(
            Query {
                path_glob: Some("[".into()),
                ..all
            }
            .run(&ledger),
            Err(QueryError::Glob { .. })
        ));
    }

    #[test]
    fn query_matches_every_target_any_tool_case_and_counts_what_it_leaves_out() {
        let (_dir, ledger) = ledger_with(&[
            (
                10,
                "tool-call",
                json!({"tool": "Bash", "input": {"command": "cat /srv/app/.env > /tmp/x"},
                       "targets": [{"path": "/srv/app/.env", "access": "read"},
                                   {"path": "/tmp/x", "access": "write"}]}),
            ),
            (
                20,
                "tool-call",
                json!({"tool": "mcp__fs__write_file", "input": {"path": "notes.md"},
                       "targets": [{"path": "/work/repo/notes.md", "access": "write"}]}),
            ),
            (
                30,
                "tool-call",
                json!({"tool": "Read", "targets": [5, {"path": 7}]}),
            ),
        ]);
        let run = |q: Query| {
            let (picked, left_out) = q.run_counted(&ledger).unwrap();
            (seqs(&picked), left_out)
        };
        let all = Query {
            limit: usize::MAX,
            ..Query::default()
        };
        for (glob, expected) in [
            ("/tmp/x", vec![2]),
            ("*.env", vec![2]),
            ("/work/repo/**", vec![3]),
            ("notes.md", vec![3]),
        ] {
            assert_eq!(
                run(Query {
                    path_glob: Some(glob.into()),
                    ..all.clone()
                }),
                (expected, 0),
                "{glob}"
            );
        }
        assert_eq!(
            run(Query {
                tool: Some("bash".into()),
                ..all.clone()
            }),
            (vec![2], 0)
        );
        assert_eq!(
            run(Query {
                tool: Some("MCP__FS__WRITE_FILE".into()),
                ..all.clone()
            }),
            (vec![3], 0)
        );
        assert_eq!(
            run(Query {
                kind: Some("tool-call".into()),
                limit: 1,
                ..all
            }),
            (vec![4], 2)
        );
    }
}
