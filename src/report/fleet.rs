/*!
The fleet report (`hookledger report --store STORE`): the same report model over every machine a
`hookledger-server` store holds, plus a fleet section (each machine's chain status as the server
verified it).

The hook binary links no database client, so the records come from `hookledger-server records`
(spawned by the CLI): an NDJSON stream of, per machine, one `hookledger-fleet-machine/1` line and
its ledger's stored records as `hookledger-native/2` lines, ending with one
`hookledger-fleet-end/1` line (docs/server.md, "Fleet reports"). [`read_stream`] reads it and
[`collect_fleet`] feeds each ledger's records through the same tally as a one-ledger report.

Nothing unverified is presented as verified: the server stores only records that verified, each
line's hash is recomputed here from its payload (a line that does not match fails the whole
report), and a machine's status is the server's (`broken`, `silent`, `revoked`, `no-data`, or
`verified`); an unknown status is shown as `unknown`, never as verified.
*/

use std::collections::BTreeMap;
use std::io::BufRead;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Activity, Head, Integrity, Report, ReportError, Scope, Tally, TokenCounts, Window};
use crate::export::RecordRef;
use crate::export::native::ChainFields;
use crate::ledger::StoredRecord;
use crate::ledger::frame;

pub const MACHINE_FORMAT: &str = "hookledger-fleet-machine/1";
pub const END_FORMAT: &str = "hookledger-fleet-end/1";

/// A machine's chain status as the server verified it. A stable code family (docs/codes.md,
/// "Fleet machine statuses").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MachineStatus {
    /// Every record it shipped verified and a plausible signed checkpoint is recent enough.
    Verified,
    /// No plausible signed checkpoint within the server's silence limit.
    Silent,
    /// Findings other than silence: a gap, fork, rewrite, bad signature, ...
    Broken,
    /// Its token was revoked.
    Revoked,
    /// Enrolled, never shipped.
    NoData,
    /// A status this hookledger does not know (a newer server): not verified.
    Unknown,
}

impl MachineStatus {
    pub const ALL: &'static [MachineStatus] = &[
        MachineStatus::Verified,
        MachineStatus::Silent,
        MachineStatus::Broken,
        MachineStatus::Revoked,
        MachineStatus::NoData,
        MachineStatus::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            MachineStatus::Verified => "verified",
            MachineStatus::Silent => "silent",
            MachineStatus::Broken => "broken",
            MachineStatus::Revoked => "revoked",
            MachineStatus::NoData => "no-data",
            MachineStatus::Unknown => "unknown",
        }
    }

    fn parse(text: &str) -> MachineStatus {
        MachineStatus::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == text)
            .unwrap_or(MachineStatus::Unknown)
    }
}

/// The fleet section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    /// The store read (a PostgreSQL URL without its password).
    pub store: String,
    /// Machines per status.
    pub statuses: BTreeMap<MachineStatus, u64>,
    pub machines: Vec<FleetMachine>,
}

/// One machine: the server's verification state and what its records in the period add up to.
#[derive(Debug, Clone, Serialize)]
pub struct FleetMachine {
    pub name: String,
    pub ledger_id: Option<String>,
    pub status: MachineStatus,
    /// The codes of what is wrong now (findings, and `silent` if it holds now).
    pub codes: Vec<String>,
    pub last_seen: Option<String>,
    /// Records the server verified and stored, all time.
    pub records_verified: u64,
    pub checkpoints_verified: u64,
    pub last_checkpoint: Value,
    /// Every finding the server recorded (code, seqs, detail).
    pub findings: Vec<Value>,
    /// This machine's records in the period.
    pub records_in_period: u64,
    #[serde(flatten)]
    pub activity: Activity,
}

/// A machine line of the stream, as the server writes it (`machines --json`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineLine {
    pub name: String,
    pub ledger_id: Option<String>,
    pub last_seen: Option<String>,
    pub records: u64,
    pub checkpoints_verified: u64,
    pub last_checkpoint: Value,
    pub chain_status: String,
    pub codes: Vec<String>,
    pub findings: Vec<Value>,
}

/// One machine and its ledger's records, as read from the stream.
#[derive(Debug, Default)]
pub struct FleetLedger {
    pub machine: MachineLine,
    pub records: Vec<StoredRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("reading the fleet records: {0}")]
    Io(#[from] std::io::Error),
    #[error("fleet records line {line}: {why}")]
    Line { line: usize, why: String },
    #[error(
        "the fleet records stream ended without its end line (hookledger-server stopped early?)"
    )]
    Truncated,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    format: &'a str,
}

#[derive(Deserialize)]
struct MachineEnvelope {
    machine: MachineLine,
}

#[derive(Deserialize)]
struct EndLine {
    machines: u64,
    records: u64,
}

#[derive(Deserialize)]
struct NativeLine<'a> {
    ledger_id: &'a str,
    seq: u64,
    ts_ns: &'a str,
    kind: String,
    prev_hash: &'a str,
    hash: &'a str,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    payload_b64: Option<&'a str>,
}

/// Reads a `hookledger-server records` stream: every machine with its records, each record's
/// hash recomputed from its payload. Fails on the first line that is not what it should be and
/// on a stream without its end line.
pub fn read_stream(input: impl BufRead) -> Result<Vec<FleetLedger>, StreamError> {
    let mut out: Vec<FleetLedger> = Vec::new();
    let mut records = 0u64;
    let mut ended = false;
    for (index, line) in input.split(b'\n').enumerate() {
        let number = index + 1;
        let bad = |why: String| StreamError::Line { line: number, why };
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if ended {
            return Err(bad("a line after the end line".into()));
        }
        let envelope: Envelope<'_> =
            serde_json::from_slice(&line).map_err(|e| bad(format!("not a JSON line ({e})")))?;
        match envelope.format {
            MACHINE_FORMAT => {
                let m: MachineEnvelope = serde_json::from_slice(&line)
                    .map_err(|e| bad(format!("not a machine line ({e})")))?;
                out.push(FleetLedger {
                    machine: m.machine,
                    records: Vec::new(),
                });
            }
            crate::export::native::FORMAT => {
                let r: NativeLine<'_> = serde_json::from_slice(&line)
                    .map_err(|e| bad(format!("not a native record line ({e})")))?;
                let Some(current) = out.last_mut() else {
                    return Err(bad("a record before any machine line".into()));
                };
                if current.machine.ledger_id.as_deref() != Some(r.ledger_id) {
                    return Err(bad(format!(
                        "a record of ledger {} under machine {:?}",
                        r.ledger_id, current.machine.name
                    )));
                }
                current.records.push(record_of(&r).map_err(bad)?);
                records += 1;
            }
            END_FORMAT => {
                let end: EndLine = serde_json::from_slice(&line)
                    .map_err(|e| bad(format!("not an end line ({e})")))?;
                if end.machines != out.len() as u64 || end.records != records {
                    return Err(bad(format!(
                        "the end line counts {} machines and {} records, the stream held {} and {records}",
                        end.machines,
                        end.records,
                        out.len()
                    )));
                }
                ended = true;
            }
            other => return Err(bad(format!("unknown line format {other:?}"))),
        }
    }
    if !ended {
        return Err(StreamError::Truncated);
    }
    Ok(out)
}

fn record_of(r: &NativeLine<'_>) -> Result<StoredRecord, String> {
    let hex = |name: &str, text: &str| {
        frame::from_hex::<32>(text).ok_or_else(|| format!("{name} is not 32 bytes of hex"))
    };
    let ledger_id = frame::from_hex::<{ frame::LEDGER_ID_LEN }>(r.ledger_id)
        .ok_or_else(|| "ledger_id is not 16 bytes of hex".to_owned())?;
    let ts_ns: i64 = r
        .ts_ns
        .parse()
        .map_err(|_| format!("ts_ns {:?} is not an integer", r.ts_ns))?;
    let payload = match (r.payload, r.payload_b64) {
        (Some(raw), _) => raw.get().as_bytes().to_vec(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("payload_b64: {e}"))?,
        (None, None) => return Err("no payload".into()),
    };
    let record = StoredRecord {
        seq: r.seq,
        ts_ns,
        kind: r.kind.clone(),
        payload,
        prev_hash: hex("prev_hash", r.prev_hash)?,
        hash: hex("hash", r.hash)?,
    };
    let chain = ChainFields {
        ledger_id,
        seq: record.seq,
        ts_ns,
        kind: std::borrow::Cow::Borrowed(&record.kind),
        prev_hash: record.prev_hash,
        hash: record.hash,
    };
    let computed = chain
        .hash_of(&record.payload)
        .map_err(|e| format!("seq {}: {e}", record.seq))?;
    if computed != record.hash {
        return Err(format!(
            "seq {} of ledger {}: its hash does not match its payload",
            record.seq, r.ledger_id
        ));
    }
    Ok(record)
}

fn minus(after: &TokenCounts, before: &TokenCounts) -> TokenCounts {
    TokenCounts {
        input_tokens: after.input_tokens - before.input_tokens,
        output_tokens: after.output_tokens - before.output_tokens,
        cache_read_input_tokens: after.cache_read_input_tokens - before.cache_read_input_tokens,
        cache_creation_input_tokens: after.cache_creation_input_tokens
            - before.cache_creation_input_tokens,
        messages: after.messages - before.messages,
    }
}

/// The report over every machine's records: each ledger's records go through the same tally as
/// a one-ledger report ([`super::collect`]), then the fleet section and the fleet's integrity
/// (every machine's status as the server verified it) are added.
pub fn collect_fleet(
    window: &Window<'_>,
    store: &str,
    ledgers: impl IntoIterator<Item = FleetLedger>,
) -> Result<Report, ReportError> {
    let mut tally = Tally::default();
    let mut machines = Vec::new();
    let period = window.since_ns..window.until_ns;
    for ledger in ledgers {
        let name = ledger.machine.name.clone();
        tally.machine = Some(name.clone());
        let totals = tally.totals.clone();
        let (sessions, records) = (tally.sessions.len(), tally.records);
        for record in &ledger.records {
            tally.note_start(&RecordRef::from(record), window.until_ns);
        }
        for record in &ledger.records {
            if period.contains(&record.ts_ns) {
                tally.add(&RecordRef::from(record));
            }
        }
        let t = &tally.totals;
        let m = ledger.machine;
        machines.push(FleetMachine {
            status: MachineStatus::parse(&m.chain_status),
            name,
            ledger_id: m.ledger_id,
            codes: m.codes,
            last_seen: m.last_seen,
            records_verified: m.records,
            checkpoints_verified: m.checkpoints_verified,
            last_checkpoint: m.last_checkpoint,
            findings: m.findings,
            records_in_period: tally.records - records,
            activity: Activity {
                sessions: (tally.sessions.len() - sessions) as u64,
                prompts: t.prompts - totals.prompts,
                tool_calls: t.tool_calls - totals.tool_calls,
                denied: t.denied - totals.denied,
                asked: t.asked - totals.asked,
                edits: t.edits - totals.edits,
                tokens: minus(&t.tokens, &totals.tokens),
            },
        });
    }
    tally.machine = None;
    let mut statuses: BTreeMap<MachineStatus, u64> = BTreeMap::new();
    for m in &machines {
        *statuses.entry(m.status).or_default() += 1;
    }
    let not_verified: Vec<&FleetMachine> = machines
        .iter()
        .filter(|m| m.status != MachineStatus::Verified)
        .collect();
    let integrity = Integrity {
        ledger_id: format!("fleet of {} machines", machines.len()),
        head: None::<Head>,
        intact: not_verified.is_empty(),
        records_verified: machines.iter().map(|m| m.records_verified).sum(),
        first_bad_seq: None,
        problems: not_verified
            .iter()
            .filter(|m| m.status != MachineStatus::Silent)
            .map(|m| describe(m))
            .collect(),
        warnings: not_verified
            .iter()
            .filter(|m| m.status == MachineStatus::Silent)
            .map(|m| describe(m))
            .collect(),
        checkpoints: machines.iter().map(|m| m.checkpoints_verified).sum(),
        last_checkpoint: None,
        spool_pending: 0,
        pruned: Vec::new(),
        export_cursors: Vec::new(),
        public_key: None,
        commands: vec![
            format!("hookledger-server machines --store {store}"),
            "hookledger verify --ledger <each machine's ledger> --against <its export>   # on the machine".into(),
        ],
    };
    let scope = Scope {
        ledger: store.to_owned(),
        ledger_id: format!("fleet ({} machines)", machines.len()),
        host: None,
        user: None,
        records: 0,
        first_seq: None,
        last_seq: None,
    };
    let fleet = Fleet {
        store: store.to_owned(),
        statuses,
        machines,
    };
    Ok(tally.finish(window, scope, integrity, Some(fleet)))
}

fn describe(m: &FleetMachine) -> String {
    format!(
        "machine {}: {}{}",
        m.name,
        m.status.as_str(),
        if m.codes.is_empty() {
            String::new()
        } else {
            format!(" ({})", m.codes.join(", "))
        }
    )
}

/// A store as shown in a report: a PostgreSQL URL loses its password.
pub fn display_store(store: &str) -> String {
    let Some((scheme, rest)) = store.split_once("://") else {
        return store.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => store.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_the_report() {
        assert_eq!(
            display_store("postgres://hl:s3cret@db:5432/hl"),
            "postgres://hl@db:5432/hl"
        );
        assert_eq!(display_store("sqlite:/x/y.db"), "sqlite:/x/y.db");
    }

    #[test]
    fn a_cut_or_odd_stream_is_an_error_not_a_smaller_report() {
        let machine = r#"{"format":"hookledger-fleet-machine/1","machine":{"name":"a","ledger_id":null,"chain_status":"no-data"}}"#;
        assert!(matches!(
            read_stream(machine.as_bytes()),
            Err(StreamError::Truncated)
        ));
        let wrong_count = format!(
            "{machine}\n{{\"format\":\"hookledger-fleet-end/1\",\"machines\":2,\"records\":0}}\n"
        );
        assert!(read_stream(wrong_count.as_bytes()).is_err());
        let ok = format!(
            "{machine}\n{{\"format\":\"hookledger-fleet-end/1\",\"machines\":1,\"records\":0}}\n"
        );
        let read = read_stream(ok.as_bytes()).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            MachineStatus::parse(&read[0].machine.chain_status),
            MachineStatus::NoData
        );
        assert!(read_stream(&b"{\"format\":\"other\"}\n"[..]).is_err());
        assert!(read_stream(&b"not json\n"[..]).is_err());
        assert_eq!(MachineStatus::parse("fine"), MachineStatus::Unknown);
    }

    #[test]
    fn a_record_whose_hash_is_not_its_payloads_fails_the_report() {
        let id = "00112233445566778899aabbccddeeff";
        let zero = "0".repeat(64);
        let stream = format!(
            "{{\"format\":\"hookledger-fleet-machine/1\",\"machine\":{{\"name\":\"m\",\"ledger_id\":\"{id}\",\"chain_status\":\"verified\"}}}}\n\
             {{\"format\":\"hookledger-native/2\",\"ledger_id\":\"{id}\",\"seq\":1,\"ts_ns\":\"5\",\"kind\":\"prompt\",\"prev_hash\":\"{zero}\",\"hash\":\"{zero}\",\"payload\":{{\"a\":1}}}}\n\
             {{\"format\":\"hookledger-fleet-end/1\",\"machines\":1,\"records\":1}}\n"
        );
        let err = read_stream(stream.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("does not match"),
            "{err}"
        );
        // The same record under a machine of another ledger.
        let other = stream.replacen("\"ledger_id\":\"0011", "\"ledger_id\":\"9911", 1);
        let err = read_stream(other.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("under machine"), "{err}");
    }
}
