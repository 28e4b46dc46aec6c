//! ECS and OCSF lines of a fixed set of records (every kind the hook writes, the kinds the
//! ledger and CLI write, and fields of other shapes than hookledger writes), compared byte for
//! byte with lines captured from the mapping before it read payloads through typed views. The
//! receiver's re-derivation must find nothing differing in them either.
//!
//! `HOOKLEDGER_UPDATE_GOLDEN=1` rewrites the expected files: only for a deliberate change of
//! the formats, reviewed in the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hookledger_ledger::export::{Context, RecordRef, ecs, mapped, native, ocsf};
use hookledger_ledger::record::Mapped;
use serde_json::Value;

/// The product version in OCSF metadata changes with every release; it is not what this pins.
const VERSION_MARK: &str = "@VERSION@";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Record {
    seq: u64,
    ts_ns: i64,
    kind: String,
    payload: Vec<u8>,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

fn records() -> Vec<Record> {
    std::fs::read_to_string(fixture("mapped-records.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let r: Value = serde_json::from_str(line).unwrap();
            let seq = r["seq"].as_u64().unwrap();
            Record {
                seq,
                ts_ns: r["ts_ns"].as_i64().unwrap(),
                kind: r["kind"].as_str().unwrap().to_owned(),
                payload: r["payload"].as_str().unwrap().as_bytes().to_vec(),
                prev_hash: *blake3::hash(&(seq - 1).to_le_bytes()).as_bytes(),
                hash: *blake3::hash(&seq.to_le_bytes()).as_bytes(),
            }
        })
        .collect()
}

fn export(write: fn(&str, &RecordRef<'_>, &Context, &mut Vec<u8>)) -> String {
    let context = Context {
        host: Some("build-host".into()),
        user: Some("dev".into()),
    };
    let mut out = Vec::new();
    for r in &records() {
        let record = RecordRef {
            seq: r.seq,
            ts_ns: r.ts_ns,
            kind: &r.kind,
            payload: &r.payload,
            prev_hash: &r.prev_hash,
            hash: &r.hash,
        };
        write(
            "00112233445566778899aabbccddeeff",
            &record,
            &context,
            &mut out,
        );
    }
    String::from_utf8(out)
        .unwrap()
        .replace(env!("CARGO_PKG_VERSION"), VERSION_MARK)
}

fn check(name: &str, actual: &str) {
    let path = fixture(name);
    if std::env::var_os("HOOKLEDGER_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "{name} line {}", i + 1);
    }
    assert_eq!(actual.lines().count(), expected.lines().count(), "{name}");
    assert_eq!(actual, expected);
}

#[test]
fn ecs_lines_are_unchanged() {
    check("mapped-ecs.ndjson", &export(ecs::write_line));
}

#[test]
fn ocsf_lines_are_unchanged() {
    check("mapped-ocsf.ndjson", &export(ocsf::write_line));
}

/// A receiver re-deriving the mapped fields from each line's verified payload agrees with
/// every line as written.
#[test]
fn the_receiver_finds_no_differing_field_in_its_own_lines() {
    let records = records();
    for (format, text) in [
        (mapped::MappedFormat::Ecs, export(ecs::write_line)),
        (mapped::MappedFormat::Ocsf, export(ocsf::write_line)),
    ] {
        let text = text.replace(VERSION_MARK, env!("CARGO_PKG_VERSION"));
        assert_eq!(text.lines().count(), records.len());
        for (line, r) in text.lines().zip(&records) {
            let value: Value = serde_json::from_str(line).unwrap();
            let fields = native::ChainFields {
                ledger_id: [
                    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                    0xdd, 0xee, 0xff,
                ],
                seq: r.seq,
                ts_ns: r.ts_ns,
                kind: r.kind.as_str().into(),
                prev_hash: r.prev_hash,
                hash: r.hash,
            };
            let Some(payload) = Mapped::parse(&r.payload) else {
                continue;
            };
            let differing = mapped::differing_fields(format, &value, &fields, payload);
            assert!(differing.is_empty(), "{format:?} {line}: {differing:?}");
        }
    }
}
