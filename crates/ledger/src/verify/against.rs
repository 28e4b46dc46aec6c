/*!
`verify --against`: compares the local ledger with what was shipped from it (export files, or
directories of segment files). Detects truncation, rollback to an older copy, and forks.

Only this ledger's lines count (the inputs may hold any mix of ledgers' exports; the others are
named and skipped). Streams both sides in seq order, so memory does not grow with the exports.

Its codes ([`AgainstCode`]) are the local side's findings. `forked` here is a local record that
differs from the one shipped; the receiver's `fork` (`verify-export`) is two shipped lines that
disagree with each other. Both are API and both stay.
*/

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::export::receive::Receiver;
use crate::export::segments;
use crate::frame::{self, Hash, LedgerId};
use crate::prune::PrunedRange;
use crate::{Ledger, LedgerError};

/// Stable codes for what `verify --against` finds; they are API (scripts match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgainstCode {
    /// A record here differs from the one shipped: the ledger was rewritten, or restored from
    /// an older copy and regrown.
    Forked,
    /// A record was shipped but is missing here, or the ledger ends before what was shipped.
    Truncated,
    /// None of the exports are from this ledger.
    LedgerIdMismatch,
}

impl AgainstCode {
    pub const ALL: &[AgainstCode] = &[
        AgainstCode::Forked,
        AgainstCode::Truncated,
        AgainstCode::LedgerIdMismatch,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            AgainstCode::Forked => "forked",
            AgainstCode::Truncated => "truncated",
            AgainstCode::LedgerIdMismatch => "ledger-id-mismatch",
        }
    }
}

impl std::fmt::Display for AgainstCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One disagreement between the ledger and what was shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgainstProblem {
    pub code: AgainstCode,
    /// The first record concerned; none for `ledger-id-mismatch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub detail: String,
}

/// Another ledger's records found among the inputs, and skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLedger {
    /// Hex.
    pub ledger_id: String,
    pub records: u64,
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgainstReport {
    /// This ledger's records among the inputs (repeats counted once).
    pub shipped_records: u64,
    /// The highest seq shipped or claimed by a shipped checkpoint.
    pub shipped_through: u64,
    pub skipped_ledgers: Vec<SkippedLedger>,
    /// Empty when the ledger is consistent with what was shipped.
    pub problems: Vec<AgainstProblem>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgainstError {
    #[error("cannot list {}", path.display())]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open {}", path.display())]
    Open { path: PathBuf, source: LedgerError },
    /// The ledger error itself stays in the error's chain, where the CLI looks for its hints.
    #[error("{0}")]
    Ledger(#[source] LedgerError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot sort the shipped records (temporary files go to $TMPDIR)")]
    Sort(#[source] std::io::Error),
    #[error("{shown} holds no exported records")]
    NoRecords { shown: String },
}

impl From<LedgerError> for AgainstError {
    fn from(e: LedgerError) -> Self {
        AgainstError::Ledger(e)
    }
}

/// Compares the ledger at `path` with the export files and segment directories in `shipped`.
/// `pruned` are the ranges `verify` found removed by `prune`: their records are not compared.
pub fn compare(
    path: &Path,
    shipped: &[PathBuf],
    pruned: &[PrunedRange],
) -> Result<AgainstReport, AgainstError> {
    let mut receiver = Receiver::new();
    for file in shipped {
        let parts = if file.is_dir() {
            segments::segment_files(file).map_err(|source| AgainstError::List {
                path: file.clone(),
                source,
            })?
        } else {
            vec![file.clone()]
        };
        for part in parts {
            let read_error = |source| AgainstError::Read {
                path: part.clone(),
                source,
            };
            let handle = std::fs::File::open(&part).map_err(read_error)?;
            receiver
                .add_file(&handle, &part.display().to_string())
                .map_err(read_error)?;
        }
    }
    let shown = shipped
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let ledger = Ledger::open_read_only(path).map_err(|source| AgainstError::Open {
        path: path.to_owned(),
        source,
    })?;
    let local_id: LedgerId = *ledger.ledger_id();
    let (local_head, _) = ledger.head()?;
    let pruned = |seq: u64| {
        pruned
            .iter()
            .any(|r| (r.first_seq..=r.last_seq).contains(&seq))
    };
    // A hash of the wrong size reads as zeros, never equal to a shipped one: the comparison
    // reports it.
    let mut local_rows = ledger.hashes();
    let mut local_error: Option<LedgerError> = None;
    let next_local = |rows: &mut crate::query::Hashes<'_>| rows.next().transpose();
    let mut local = next_local(&mut local_rows)?;
    let mut mine = 0u64;
    let mut shipped_max = 0u64;
    let mut last_seq: Option<u64> = None;
    let mut claims: Vec<(u64, Hash)> = Vec::new();
    let mut others: BTreeMap<LedgerId, u64> = BTreeMap::new();
    // The first disagreement in seq order.
    let mut first_problem: Option<AgainstProblem> = None;
    let differs = |seq: u64, here: &Hash, shipped: &Hash| AgainstProblem {
        code: AgainstCode::Forked,
        seq: Some(seq),
        detail: format!(
            "record {seq} differs from the one shipped ({} here, {} shipped): the ledger was rewritten or restored from an older copy and regrown",
            frame::to_hex(&here[..6]),
            frame::to_hex(&shipped[..6])
        ),
    };
    let missing = |seq: u64| AgainstProblem {
        code: AgainstCode::Truncated,
        seq: Some(seq),
        detail: format!("record {seq} was shipped but is missing here"),
    };
    let first_seq = |p: &Option<AgainstProblem>| p.as_ref().and_then(|p| p.seq);
    receiver
        .for_each_record(&mut |id, entry| {
            if *id != local_id {
                *others.entry(*id).or_default() += 1;
                return;
            }
            if let Some(claim) = entry.covers() {
                claims.push(claim);
            }
            // Repeats (re-sent batches, or forks among the shipped lines, which is
            // `verify-export`'s business): the first one seen is what was shipped.
            if last_seq == Some(entry.seq) {
                return;
            }
            last_seq = Some(entry.seq);
            mine += 1;
            shipped_max = shipped_max.max(entry.seq);
            if first_problem.is_some() || entry.seq > local_head || pruned(entry.seq) {
                return;
            }
            while local.is_some_and(|(seq, _)| seq < entry.seq) {
                local = next_local(&mut local_rows).unwrap_or_else(|e| {
                    local_error.get_or_insert(e);
                    None
                });
            }
            first_problem = match local {
                Some((seq, hash)) if seq == entry.seq => {
                    (hash != entry.hash).then(|| differs(seq, &hash, &entry.hash))
                }
                _ => Some(missing(entry.seq)),
            };
        })
        .map_err(AgainstError::Sort)?;
    drop(local_rows);
    if let Some(e) = local_error.take() {
        return Err(e.into());
    }
    if mine == 0 && others.is_empty() {
        return Err(AgainstError::NoRecords { shown });
    }
    // Checkpoint claims name records too; one before the first disagreement comes first.
    claims.sort();
    claims.dedup();
    for (seq, head) in &claims {
        shipped_max = shipped_max.max(*seq);
        if *seq > local_head
            || pruned(*seq)
            || first_seq(&first_problem).is_some_and(|first| first <= *seq)
        {
            continue;
        }
        match ledger.record(*seq)? {
            Some(record) if record.hash == *head => {}
            Some(record) => first_problem = Some(differs(*seq, &record.hash, head)),
            None => first_problem = Some(missing(*seq)),
        }
    }
    let mut problems = Vec::new();
    if mine == 0 {
        problems.push(AgainstProblem {
            code: AgainstCode::LedgerIdMismatch,
            seq: None,
            detail: format!(
                "the exports are from ledger(s) {}, none from this ledger {}: the ledger was replaced, or these are another machine's exports",
                others.keys().map(|i| frame::to_hex(i)).collect::<Vec<_>>().join(", "),
                frame::to_hex(&local_id)
            ),
        });
    }
    if mine > 0 && local_head < shipped_max {
        problems.push(AgainstProblem {
            code: AgainstCode::Truncated,
            seq: Some(local_head + 1),
            detail: format!(
                "the ledger ends at seq {local_head}, but records up to {shipped_max} were shipped: it was truncated or rolled back"
            ),
        });
    }
    problems.extend(first_problem);
    Ok(AgainstReport {
        shipped_records: mine,
        shipped_through: shipped_max,
        skipped_ledgers: others
            .iter()
            .map(|(id, n)| SkippedLedger {
                ledger_id: frame::to_hex(id),
                records: *n,
            })
            .collect(),
        problems,
    })
}
