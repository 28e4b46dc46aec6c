/*!
No detected secret at rest: every record the hook stores passes through [`scrub`] first.

Record building copies what a tool call carried (Write `content`, Edit `old_string`/
`new_string`, Bash `command`, MultiEdit edits, a tool's short response strings, the hunks of an
accepted edit, the head of an unreadable payload). Rather than redact each of those fields
where it is built, the finished payload is walked once: every string, and every array of
strings read as lines (a key block spans many hunk lines), is scanned by the policy's DLP
scanner and each finding is replaced by `[REDACTED:<kind>]`. What was removed is listed under
`secret_redactions`: its kind, where (JSON pointer and byte range in the original string) and a
BLAKE3 digest keyed with the ledger's DLP key ([`crate::ledger::keys::load_or_create_dlp_key`]),
which never leaves `keys/`. A payload with no finding is returned untouched, byte for byte.
*/

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::policy::dlp::{self, Finding};

/// One removed secret, before its digest is taken.
struct Removed {
    kind: &'static str,
    at: String,
    start: usize,
    end: usize,
    secret: Vec<u8>,
}

/// Redacts every detected secret in `value`; see the module comment. `ledger_path` locates the
/// DLP key, loaded only when something was found.
pub fn scrub(value: &mut Value, ledger_path: &Path) {
    scrub_except(value, ledger_path, &[]);
}

/// [`scrub`], leaving alone the top-level string fields named in `scanned`: texts already
/// redacted from a scan of their own (the prompt, from the policy's scan), which a second pass
/// would only pay for again.
pub fn scrub_except(value: &mut Value, ledger_path: &Path, scanned: &[&str]) {
    let mut removed = Vec::new();
    match value {
        Value::Object(map) if !scanned.is_empty() => {
            for (key, item) in map.iter_mut() {
                if scanned.contains(&key.as_str()) && item.is_string() {
                    continue;
                }
                let mut at = format!("/{}", pointer_token(key));
                walk(item, &mut at, &mut removed);
            }
        }
        _ => walk(value, &mut String::new(), &mut removed),
    }
    if removed.is_empty() {
        return;
    }
    let key =
        crate::ledger::keys::load_or_create_dlp_key(&crate::ledger::keys::key_dir(ledger_path))
            .ok();
    let list: Vec<Value> = removed
        .iter()
        .map(|r| {
            let mut entry = json!({ "kind": r.kind, "at": r.at, "start": r.start, "end": r.end });
            // Without a key there is no digest: an unkeyed hash of a short secret could be
            // reversed by guessing.
            if let Some(key) = &key {
                entry["blake3_keyed"] = json!(dlp::keyed_digest(key, &r.secret));
            }
            entry
        })
        .collect();
    if let Value::Object(map) = value {
        map.insert("secret_redactions".into(), Value::Array(list));
    }
}

/// Adds to a prompt record's `secret_findings` the keyed digest of each secret, from the
/// prompt text they were found in (the record keeps only the redacted text).
pub fn digest_prompt_findings(
    value: &mut Value,
    prompt: &str,
    findings: &[Finding],
    ledger_path: &Path,
) {
    if findings.is_empty() {
        return;
    }
    let Some(list) = value
        .get_mut("secret_findings")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let Ok(key) =
        crate::ledger::keys::load_or_create_dlp_key(&crate::ledger::keys::key_dir(ledger_path))
    else {
        return;
    };
    for (entry, finding) in list.iter_mut().zip(findings) {
        if let (Some(map), Some(secret)) = (
            entry.as_object_mut(),
            prompt.as_bytes().get(finding.start..finding.end),
        ) {
            map.insert(
                "blake3_keyed".into(),
                json!(dlp::keyed_digest(&key, secret)),
            );
        }
    }
}

fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(value: &mut Value, at: &mut String, removed: &mut Vec<Removed>) {
    match value {
        Value::String(text) => {
            let findings = dlp::scan(text);
            if !findings.is_empty() {
                for f in &findings {
                    removed.push(Removed {
                        kind: f.kind.code(),
                        at: at.clone(),
                        start: f.start,
                        end: f.end,
                        secret: text
                            .as_bytes()
                            .get(f.start..f.end)
                            .unwrap_or_default()
                            .to_vec(),
                    });
                }
                *text = dlp::redact(text, &findings);
            }
        }
        Value::Array(items) if items.len() > 1 && items.iter().all(Value::is_string) => {
            scrub_lines(items, at, removed);
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                walk(item, at, removed);
                at.truncate(len);
            }
        }
        Value::Object(map) => walk_map(map, at, removed),
        _ => {}
    }
}

fn walk_map(map: &mut Map<String, Value>, at: &mut String, removed: &mut Vec<Removed>) {
    for (key, item) in map.iter_mut() {
        let len = at.len();
        at.push('/');
        at.push_str(&pointer_token(key));
        walk(item, at, removed);
        at.truncate(len);
    }
}

/// An array of strings is scanned as the lines of one text, so a secret spread over lines (a
/// key block in an edit's hunk) is found; each line loses the part of a finding it holds.
fn scrub_lines(items: &mut [Value], at: &str, removed: &mut Vec<Removed>) {
    let lines: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
    let joined = lines.join("\n");
    let findings = dlp::scan(&joined);
    if findings.is_empty() {
        return;
    }
    let mut starts = Vec::with_capacity(lines.len());
    let mut offset = 0;
    for line in &lines {
        starts.push(offset);
        offset += line.len() + 1;
    }
    for f in &findings {
        let first = starts.partition_point(|s| *s <= f.start).saturating_sub(1);
        removed.push(Removed {
            kind: f.kind.code(),
            at: format!("{at}/{first}"),
            start: f.start - starts[first],
            end: f.end - starts[first],
            secret: joined
                .as_bytes()
                .get(f.start..f.end)
                .unwrap_or_default()
                .to_vec(),
        });
    }
    let mut redacted = Vec::with_capacity(items.len());
    for (i, line) in lines.iter().enumerate() {
        let start = starts[i];
        let end = start + line.len();
        let mine: Vec<Finding> = findings
            .iter()
            .filter(|f| f.start < end.max(start + 1) && start < f.end)
            .map(|f| Finding {
                kind: f.kind,
                start: f.start.max(start) - start,
                end: f.end.min(end) - start,
            })
            .collect();
        redacted.push(if mine.is_empty() {
            (*line).to_owned()
        } else {
            dlp::redact(line, &mine)
        });
    }
    for (item, text) in items.iter_mut().zip(redacted) {
        *item = Value::String(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_id() -> String {
        ["AKIA", "QX7ZEXAMPLE2345"].concat() + "6"
    }

    #[test]
    fn a_payload_without_secrets_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let before = json!({"input": {"command": "ls -la", "lines": ["+a", "+b"]}, "n": 3});
        let mut after = before.clone();
        scrub(&mut after, &dir.path().join("ledger.db"));
        assert_eq!(before, after);
    }

    #[test]
    fn secrets_are_replaced_and_listed_with_a_keyed_digest() {
        let dir = tempfile::tempdir().unwrap();
        let id = key_id();
        let mut value = json!({"input": {"command": format!("echo {id} > k.py")}});
        scrub(&mut value, &dir.path().join("ledger.db"));
        let text = value.to_string();
        assert!(!text.contains(&id), "{text}");
        assert_eq!(
            value["input"]["command"],
            "echo [REDACTED:aws-access-key] > k.py"
        );
        let removed = &value["secret_redactions"][0];
        assert_eq!(removed["kind"], "aws-access-key");
        assert_eq!(removed["at"], "/input/command");
        assert_eq!(removed["blake3_keyed"].as_str().unwrap().len(), 64);
        assert_ne!(
            removed["blake3_keyed"].as_str().unwrap(),
            blake3::hash(id.as_bytes()).to_hex().as_str()
        );
    }

    #[test]
    fn a_key_block_over_hunk_lines_is_redacted_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let dashes = "-----";
        let body = "MIIEowIBAAKCAQEAx7Zq4f9Lr2Wm8kP0c3Vb";
        let mut value = json!({"hunks": [{"lines": [
            " keep",
            format!("+{dashes}BEGIN RSA PRIVATE KEY{dashes}"),
            format!("+{body}"),
            format!("+{dashes}END RSA PRIVATE KEY{dashes}"),
            " after",
        ]}]});
        scrub(&mut value, &dir.path().join("ledger.db"));
        let text = value.to_string();
        assert!(!text.contains(body), "{text}");
        assert!(!text.contains("BEGIN RSA"), "{text}");
        assert_eq!(value["hunks"][0]["lines"][0], " keep");
        assert_eq!(value["hunks"][0]["lines"][4], " after");
        assert_eq!(value["secret_redactions"][0]["at"], "/hunks/0/lines/1");
    }
}
