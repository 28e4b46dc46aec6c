//! What the ECS and OCSF formats share: a read-only view of one record, the facts SIEM fields
//! are derived from, how a line in any format is written around its chain fields, and how a
//! receiver checks that the mapped fields still say what the verified payload says.

use serde_json::{Map, Value, json};

use crate::record::{Kind, Mapped};

use super::Context;
use super::RecordRef;
use super::native::ChainFields;
use crate::frame::{self, Hash};

/// One record as the mappers see it: its chain fields and what they read of its payload.
pub struct RecordView<'a> {
    pub ledger_id: &'a str,
    pub seq: u64,
    pub ts_ns: i64,
    pub kind: &'a str,
    pub prev_hash: &'a Hash,
    pub hash: &'a Hash,
    pub payload: Mapped,
}

impl RecordView<'_> {
    /// The record's kind; `None` for one this build does not know (mapped as a generic event).
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(self.kind)
    }
}

impl<'a> RecordView<'a> {
    /// A view of `record`. A payload that is not JSON (a damaged database) maps as an empty
    /// object; its chain fields still travel.
    pub fn of(ledger_id: &'a str, record: &RecordRef<'a>) -> RecordView<'a> {
        RecordView {
            ledger_id,
            seq: record.seq,
            ts_ns: record.ts_ns,
            kind: record.kind,
            prev_hash: record.prev_hash,
            hash: record.hash,
            payload: Mapped::parse(record.payload).unwrap_or_default(),
        }
    }
}

/// Writes one mapped line: the derived fields, then the chain object (with the payload's exact
/// bytes embedded) at `chain_path` (`["hookledger"]` or `["unmapped", "hookledger"]`).
pub fn write_line(
    mut derived: Map<String, Value>,
    chain_path: &[&str],
    chain_format: &str,
    ledger_id: &str,
    record: &RecordRef<'_>,
    line: &mut Vec<u8>,
) {
    // Placeholder at the chain position, replaced by the raw chain text below, so the payload
    // travels byte for byte (and other unmapped fields stay beside it).
    const MARK: &str = "\u{0}hookledger-chain\u{0}";
    let mut slot = &mut derived;
    for key in &chain_path[..chain_path.len() - 1] {
        let entry = slot
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(inner) = entry else {
            return;
        };
        slot = inner;
    }
    slot.insert(chain_path[chain_path.len() - 1].to_owned(), json!(MARK));
    let text = serde_json::to_string(&Value::Object(derived)).unwrap_or_else(|_| "{}".into());
    let marker = serde_json::to_string(MARK).unwrap_or_default();
    let (before, after) = text.split_once(&marker).unwrap_or((&text, ""));
    line.extend_from_slice(before.as_bytes());
    super::native::write_object(chain_format, ledger_id, record, false, line);
    line.extend_from_slice(after.as_bytes());
    line.push(b'\n');
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappedFormat {
    Ecs,
    Ocsf,
}

pub struct Located<'a> {
    pub chain: &'a Map<String, Value>,
    /// `None` for a native line.
    pub format: Option<MappedFormat>,
}

/// Finds the chain fields in a parsed line of any format.
pub fn locate_chain(line: &Value) -> Option<Located<'_>> {
    let top = line.as_object()?;
    if let Some(Value::Object(chain)) = top.get("hookledger") {
        return Some(Located {
            chain,
            format: Some(MappedFormat::Ecs),
        });
    }
    if let Some(Value::Object(chain)) = top.get("unmapped").and_then(|u| u.get("hookledger")) {
        return Some(Located {
            chain,
            format: Some(MappedFormat::Ocsf),
        });
    }
    top.contains_key("hash").then_some(Located {
        chain: top,
        format: None,
    })
}

/// Fields a pipeline commonly rewrites on its own (ingest time, its own host and message
/// fields): they are context, not evidence, and are not compared.
const NOT_COMPARED: &[&str] = &[
    "@timestamp",
    "ecs",
    "host",
    "user",
    "message",
    "event.created",
    "event.ingested",
    "metadata",
    "device",
    "src_endpoint",
    "actor.user",
    "time",
    "time_dt",
    "observed_time",
];

/// The mapped fields of a parsed line that disagree with what its verified payload (the view
/// of its bytes, [`Mapped::parse`]) derives to. Fields the line lacks (a pipeline dropped them)
/// are not reported; only changed values are.
pub fn differing_fields(
    format: MappedFormat,
    line: &Value,
    fields: &ChainFields<'_>,
    payload: Mapped,
) -> Vec<String> {
    let ledger_id = frame::to_hex(&fields.ledger_id);
    let view = RecordView {
        ledger_id: &ledger_id,
        seq: fields.seq,
        ts_ns: fields.ts_ns,
        kind: &fields.kind,
        prev_hash: &fields.prev_hash,
        hash: &fields.hash,
        payload,
    };
    let derived = match format {
        MappedFormat::Ecs => super::ecs::derive(&view, None),
        MappedFormat::Ocsf => super::ocsf::derive(&view, None),
    };
    let mut differing = Vec::new();
    compare(&Value::Object(derived), line, String::new(), &mut differing);
    differing
}

fn compare(derived: &Value, line: &Value, path: String, differing: &mut Vec<String>) {
    if NOT_COMPARED.contains(&path.as_str()) {
        return;
    }
    match derived {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "hookledger" && path.is_empty() || key == "unmapped" {
                    continue;
                }
                let Some(actual) = line.get(key) else {
                    continue;
                };
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                compare(value, actual, child, differing);
            }
        }
        expected if !same_scalar(expected, line) => differing.push(path),
        _ => {}
    }
}

/// Equality as a pipeline keeps it: numbers by value (1 and 1.0 agree), and a scalar turned
/// into a string (`12` and `"12"`) counts as unchanged.
fn same_scalar(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(b)) | (Value::String(b), Value::Number(a)) => {
            b.parse::<f64>().ok() == a.as_f64()
        }
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => {
            b == if *a { "true" } else { "false" }
        }
        (a, b) => a == b,
    }
}

/// `/a/b/c.rs` → (`c.rs`, `/a/b`, `rs`).
pub fn split_path(path: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let trimmed = path.trim_end_matches(['/', '\\']);
    let (directory, name) = match trimmed.rfind(['/', '\\']) {
        Some(0) => (Some("/"), &trimmed[1..]),
        Some(i) => (Some(&trimmed[..i]), &trimmed[i + 1..]),
        None => (None, trimmed),
    };
    let extension = name
        .rfind('.')
        .filter(|i| *i > 0)
        .map(|i| &name[i + 1..])
        .filter(|e| !e.is_empty());
    ((!name.is_empty()).then_some(name), directory, extension)
}

pub fn context_fields(context: Option<&Context>) -> (Option<&str>, Option<&str>) {
    context.map_or((None, None), |c| (c.host.as_deref(), c.user.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_like_ecs_wants_them() {
        assert_eq!(
            split_path("/a/b/c.rs"),
            (Some("c.rs"), Some("/a/b"), Some("rs"))
        );
        assert_eq!(split_path("/x"), (Some("x"), Some("/"), None));
        assert_eq!(split_path(".env"), (Some(".env"), None, None));
    }

    #[test]
    fn pipeline_changes_to_scalars_are_not_mismatches() {
        assert!(same_scalar(&json!(12), &json!(12.0)));
        assert!(same_scalar(&json!(12), &json!("12")));
        assert!(same_scalar(&json!(true), &json!("true")));
        assert!(!same_scalar(&json!("deny"), &json!("allow")));
    }
}
