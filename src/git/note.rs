/*!
The attribution note kept under `refs/notes/hookledger`, one per commit with AI-written lines.

The note is a valid [Agent Trace](https://agent-trace.dev) record (version 0.1): `files[]`
with `conversations[]` per Claude Code session and model, `ranges[]` with BLAKE3 content
hashes, and the sessions and prompts as `related` URNs. Everything hookledger adds lives under
`metadata["dev.hookledger"]`: the ledger anchor, which recorded edit wrote each range, the
per-file counts and how faithful the replay was. Schema: `schema/git-note.schema.json`.
*/

use serde::{Deserialize, Serialize};

use super::attribute::Fidelity;

pub const NOTES_REF: &str = "hookledger";
pub const NOTE_FORMAT: &str = "hookledger-note/1";
pub const AGENT_TRACE_VERSION: &str = "0.1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub version: String,
    pub id: String,
    pub timestamp: String,
    pub vcs: Vcs,
    pub tool: Tool,
    pub files: Vec<TraceFile>,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vcs {
    #[serde(rename = "type")]
    pub kind: String,
    pub revision: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFile {
    pub path: String,
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub contributor: Contributor,
    pub ranges: Vec<TraceRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRange {
    pub start_line: u64,
    pub end_line: u64,
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "dev.hookledger")]
    pub hookledger: HookledgerMeta,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAnchor {
    pub ledger_id: String,
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookledgerMeta {
    pub format: String,
    pub anchor: NoteAnchor,
    /// `pre-commit` when the commit passed hookledger's pre-commit gate; `none` when it was
    /// made without it (`--no-verify`, hooks missing) and attributed afterwards.
    pub gate: String,
    /// The trailer mode in force at commit time: `none` means no trailer is expected.
    pub trailers: String,
    pub ledger_intact: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewritten_from: Vec<String>,
    pub summary: Summary,
    pub edits: Vec<NoteEdit>,
    pub files: Vec<NoteFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub files: usize,
    pub ai_touched_files: usize,
    pub ai_lines: usize,
    pub added_lines: usize,
    pub removed_lines: usize,
    pub human_changed_ai_lines: usize,
    pub models: Vec<String>,
    pub sessions: Vec<String>,
}

/// A ledger record the attribution rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteEdit {
    pub seq: u64,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    pub added_lines: usize,
    pub removed_lines: usize,
    pub ai_lines: usize,
    pub human_changed_ai_lines: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<Fidelity>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
    /// A binary file whose committed content is exactly what an AI edit wrote.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ai_written: bool,
    /// `[start_line, end_line, index into edits]`, 1-based and inclusive, in the committed file.
    pub lines: Vec<[u64; 3]>,
}

impl Note {
    pub fn parse(bytes: &[u8]) -> Option<Note> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// `anthropic/<model>` for Claude models (the models.dev convention Agent Trace uses).
pub fn model_id(model: &str) -> String {
    if model.contains('/') {
        model.to_owned()
    } else if model.starts_with("claude") {
        format!("anthropic/{model}")
    } else {
        model.to_owned()
    }
}

/// A UUID (version 8, RFC 9562) derived from the revision and anchor, so the same attribution
/// always gets the same id.
pub fn note_id(revision: &str, anchor: &NoteAnchor) -> String {
    let digest = blake3::hash(
        format!(
            "{revision}\n{}@{}:{}",
            anchor.ledger_id, anchor.seq, anchor.hash
        )
        .as_bytes(),
    );
    let mut b: [u8; 16] = digest.as_bytes()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = crate::ledger::frame::to_hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// RFC 3339 UTC, seconds precision (the form Agent Trace's schema accepts).
pub fn timestamp(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// `blake3:<hex>` over the lines, each without its line ending and followed by `\n`.
pub fn content_hash<'a>(lines: impl Iterator<Item = &'a [u8]>) -> String {
    let mut hasher = blake3::Hasher::new();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        hasher.update(line);
        hasher.update(b"\n");
    }
    format!("blake3:{}", hasher.finalize().to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const SCHEMA: &str = include_str!("../../schema/git-note.schema.json");

    /// Keys, required keys, enums and consts, recursively: what the schema and the serializer
    /// must agree on. Returns the schema paths the value exercised.
    fn conforms(value: &Value, schema: &Value, at: &str, seen: &mut Vec<String>) {
        seen.push(at.to_owned());
        if let Some(options) = schema["enum"].as_array() {
            assert!(options.contains(value), "{at}: {value} not in {options:?}");
        }
        if !schema["const"].is_null() {
            assert_eq!(value, &schema["const"], "{at}");
        }
        match value {
            Value::Object(map) => {
                for key in schema["required"].as_array().into_iter().flatten() {
                    assert!(
                        map.contains_key(key.as_str().unwrap()),
                        "{at}: {key} missing"
                    );
                }
                for (key, inner) in map {
                    match schema["properties"].get(key) {
                        Some(sub) => conforms(inner, sub, &format!("{at}.{key}"), seen),
                        None => assert!(
                            schema["additionalProperties"] != false,
                            "{at}: {key} is not in the schema"
                        ),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    conforms(item, &schema["items"], &format!("{at}[]"), seen);
                }
            }
            _ => {}
        }
    }

    fn schema_paths(schema: &Value, at: &str, out: &mut Vec<String>) {
        out.push(at.to_owned());
        if let Some(props) = schema["properties"].as_object() {
            for (key, sub) in props {
                schema_paths(sub, &format!("{at}.{key}"), out);
            }
        }
        if schema["items"].is_object() && schema["items"]["type"] != "integer" {
            schema_paths(&schema["items"], &format!("{at}[]"), out);
        }
    }

    #[test]
    fn notes_match_their_schema_both_ways() {
        let anchor = NoteAnchor {
            ledger_id: "0".repeat(32),
            seq: 9,
            hash: "a".repeat(64),
        };
        let note = Note {
            version: AGENT_TRACE_VERSION.into(),
            id: note_id("abc", &anchor),
            timestamp: timestamp(0),
            vcs: Vcs {
                kind: "git".into(),
                revision: "abc".into(),
            },
            tool: Tool {
                name: "hookledger".into(),
                version: "0.1.0".into(),
            },
            files: vec![TraceFile {
                path: "a.rs".into(),
                conversations: vec![Conversation {
                    contributor: Contributor {
                        kind: "ai".into(),
                        model_id: Some("anthropic/claude-x".into()),
                    },
                    ranges: vec![TraceRange {
                        start_line: 1,
                        end_line: 2,
                        content_hash: content_hash([&b"x"[..]].into_iter()),
                    }],
                    related: vec![Related {
                        kind: "claude-code-session".into(),
                        url: "urn:uuid:1".into(),
                    }],
                }],
            }],
            metadata: Metadata {
                hookledger: HookledgerMeta {
                    format: NOTE_FORMAT.into(),
                    anchor,
                    gate: "pre-commit".into(),
                    trailers: "anchor".into(),
                    ledger_intact: true,
                    rewrite: Some("rebase".into()),
                    rewritten_from: vec!["def".into()],
                    summary: Summary {
                        models: vec!["claude-x".into()],
                        sessions: vec!["s".into()],
                        ..Summary::default()
                    },
                    edits: vec![NoteEdit {
                        seq: 3,
                        hash: "b".repeat(64),
                        session_id: Some("s".into()),
                        prompt_id: Some("p".into()),
                        model: Some("claude-x".into()),
                        model_source: Some("stop-attestation".into()),
                        tool: Some("Edit".into()),
                        tool_use_id: Some("toolu_1".into()),
                        agent_type: Some("general-purpose".into()),
                    }],
                    files: vec![NoteFile {
                        path: "a.rs".into(),
                        old_path: Some("b.rs".into()),
                        added_lines: 2,
                        removed_lines: 0,
                        ai_lines: 2,
                        human_changed_ai_lines: 0,
                        fidelity: Some(Fidelity::Exact),
                        binary: true,
                        ai_written: true,
                        lines: vec![[1, 2, 0]],
                    }],
                },
            },
        };
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let value = serde_json::to_value(&note).unwrap();
        let mut seen = Vec::new();
        conforms(&value, &schema, "", &mut seen);
        let mut documented = Vec::new();
        schema_paths(&schema, "", &mut documented);
        for path in documented
            .iter()
            .filter(|p| !p.ends_with(".url") || p.contains("related"))
        {
            assert!(
                seen.contains(path),
                "the schema documents {path}, which notes never carry"
            );
        }
        assert_eq!(Note::parse(note.to_json().as_bytes()), Some(note));
    }

    #[test]
    fn ids_are_stable_uuids_and_timestamps_are_utc() {
        let anchor = NoteAnchor {
            ledger_id: "00".repeat(16),
            seq: 7,
            hash: "ab".repeat(32),
        };
        let id = note_id("c0ffee", &anchor);
        assert_eq!(id, note_id("c0ffee", &anchor));
        assert_ne!(id, note_id("c0ffef", &anchor));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(timestamp(1_793_527_200), "2026-11-01T10:00:00Z");
        assert_eq!(model_id("claude-opus-4-5"), "anthropic/claude-opus-4-5");
        assert_eq!(model_id("openai/gpt-5"), "openai/gpt-5");
        assert_eq!(
            content_hash([&b"a\r"[..], b"b"].into_iter()),
            content_hash([&b"a"[..], b"b"].into_iter())
        );
    }
}
