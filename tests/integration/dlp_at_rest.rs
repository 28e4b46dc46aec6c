//! No detected secret at rest: every secret of the DLP corpus goes through the real hook as a
//! prompt, a Write, an Edit, a MultiEdit, a Bash command (and their PostToolUse results), then
//! the bytes of the ledger, its WAL, the spool of a second (unwritable) ledger, the native/
//! ECS/OCSF exports and the HTML/JSON reports are searched for each secret.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::*;

#[path = "../../crates/policy/tests/corpus/dlp_cases.rs"]
mod dlp_cases;

fn policy() -> Value {
    json!({
        "version": 1,
        "enforcement": "enforce",
        "prompts": {"store": "full", "secrets": "block"},
        "content_secrets": "deny"
    })
}

/// Every hook event that carries `text`, for a file in `repo`.
fn events(text: &str, repo: &Path, n: usize) -> Vec<Value> {
    let file = repo.join(format!("f{n}.txt")).display().to_string();
    let cwd = json!(repo.display().to_string());
    let lines: Vec<String> = text.lines().map(|l| format!("+{l}")).collect();
    let bash = format!("cat > out{n}.txt <<'EOF'\n{text}\nEOF");
    let mut out = vec![
        payload("UserPromptSubmit", json!({"prompt": text})),
        pre_tool(
            "Write",
            json!({"file_path": file, "content": text}),
            "toolu_w",
        ),
        pre_tool(
            "Edit",
            json!({"file_path": file, "old_string": text, "new_string": text}),
            "toolu_e",
        ),
        pre_tool(
            "MultiEdit",
            json!({"file_path": file, "edits": [{"old_string": "a", "new_string": text}]}),
            "toolu_m",
        ),
        pre_tool("Bash", json!({"command": bash}), "toolu_b"),
        payload(
            "PostToolUse",
            json!({
                "tool_name": "Write",
                "tool_use_id": "toolu_w",
                "tool_input": {"file_path": file, "content": text},
                "tool_response": {"type": "create", "filePath": file, "content": text,
                                  "structuredPatch": [{"oldStart": 0, "oldLines": 0, "newStart": 1,
                                                       "newLines": lines.len(), "lines": lines}]},
            }),
        ),
        payload(
            "PostToolUse",
            json!({
                "tool_name": "Bash",
                "tool_use_id": "toolu_b",
                "tool_input": {"command": bash},
                "tool_response": {"stdout": text, "stderr": "", "interrupted": false},
            }),
        ),
        payload(
            "PermissionRequest",
            json!({"tool_name": "Bash", "tool_input": {"command": bash}}),
        ),
    ];
    for event in &mut out {
        event["cwd"] = cwd.clone();
    }
    out
}

/// The parts of a secret to look for: each line of 8 bytes or more.
fn pieces(secret: &str) -> Vec<String> {
    secret
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 8)
        .map(str::to_owned)
        .collect()
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter(|(name, _)| !name.ends_with('/'))
        .map(|(name, bytes)| (dir.join(name), bytes))
        .collect()
}

#[test]
fn no_corpus_secret_is_found_in_any_file_the_ledger_leaves() {
    let cases: Vec<_> = dlp_cases::cases()
        .into_iter()
        .filter(|c| c.positive)
        .collect();
    let home = Home::new();
    std::fs::create_dir_all(home.home()).unwrap();
    std::fs::write(home.home().join("policy.json"), policy().to_string()).unwrap();
    let root = std::fs::canonicalize(home.path()).unwrap();
    let repo = root.join("repo");
    git_repo(&repo);
    // A second home whose ledger cannot be opened: every record goes to its spool.
    let broken = Home::new();
    std::fs::create_dir_all(broken.home()).unwrap();
    std::fs::write(broken.ledger(), vec![0xa5; 16384]).unwrap();

    let mut wal_reader = None;
    let mut runs = 0;
    for (n, case) in cases.iter().enumerate() {
        // The edited file exists, so the Write's result records the digest of its content.
        std::fs::write(repo.join(format!("f{n}.txt")), &case.text).unwrap();
        for event in events(&case.text, &repo, n) {
            home.hook(&event);
            runs += 1;
            // Held open so the WAL stays on disk to be searched.
            if wal_reader.is_none() {
                wal_reader = Some(rusqlite::Connection::open(home.ledger()).unwrap());
            }
        }
        for event in events(&case.text, &repo, n).into_iter().take(2) {
            broken.hook(&event);
        }
    }
    // A control: the digest of a text without a secret is stored plain, so the search for
    // unkeyed digests below can find one.
    let plain = "a prompt with nothing secret in it";
    let mut control = payload("UserPromptSubmit", json!({"prompt": plain}));
    control["cwd"] = json!(repo.display().to_string());
    home.hook(&control);
    let records = home.records();
    assert!(
        records.len() > runs,
        "{} records for {runs} runs",
        records.len()
    );
    assert!(!broken.spool_text().is_empty(), "nothing was spooled");

    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    for format in ["native", "ecs", "ocsf"] {
        let file = out.join(format!("export.{format}.ndjson"));
        let o = home.run(&["export", "--format", format, "-o", file.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    for format in ["html", "json"] {
        let file = out.join(format!("report.{format}"));
        let o = home.run(&["report", "--format", format, "-o", file.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }

    let mut files = files_under(&home.home());
    files.extend(files_under(&broken.home()));
    files.extend(files_under(&out));
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "ledger.db",
        "ledger.db-wal",
        "export.ocsf.ndjson",
        "report.html",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} in {names:?}"
        );
    }
    let native = std::fs::read_to_string(out.join("export.native.ndjson")).unwrap();
    assert!(native.contains("[REDACTED:"), "nothing was redacted");
    assert!(native.contains("blake3_keyed"), "no keyed digest");

    let mut leaks = Vec::new();
    for case in &cases {
        for piece in pieces(case.secret.as_deref().unwrap()) {
            for (path, bytes) in &files {
                let text = String::from_utf8_lossy(bytes);
                // The JSON forms of a piece too: a secret in a JSON string has escapes.
                let escaped = serde_json::to_string(&piece).unwrap();
                if text.contains(&piece) || text.contains(escaped.trim_matches('"')) {
                    leaks.push(format!(
                        "{} ({}) in {}",
                        piece,
                        case.detector,
                        path.display()
                    ));
                }
            }
        }
    }
    let plain_digest = blake3::hash(plain.as_bytes()).to_hex().to_string();
    assert!(
        native.contains(&plain_digest),
        "the control prompt's digest is not stored"
    );
    // Nor an unkeyed digest of a text that holds one: with it, anyone with the ledger or an
    // export could confirm a guessed secret by hashing the text around the guess (the prompt,
    // the written file, the tool's input and its response).
    for (n, case) in cases.iter().enumerate() {
        let file = repo.join(format!("f{n}.txt")).display().to_string();
        let bash = format!("cat > out{n}.txt <<'EOF'\n{}\nEOF", case.text);
        let texts: Vec<(&str, Vec<u8>)> = vec![
            ("the text", case.text.as_bytes().to_vec()),
            (
                "the Write input",
                hookledger::ledger::canonical_json(
                    &json!({"file_path": file, "content": case.text}),
                ),
            ),
            (
                "the Bash input",
                hookledger::ledger::canonical_json(&json!({"command": bash})),
            ),
            (
                "the Bash response",
                serde_json::to_vec(
                    &json!({"stdout": case.text, "stderr": "", "interrupted": false}),
                )
                .unwrap(),
            ),
        ];
        for (what, bytes) in texts {
            let digest = blake3::hash(&bytes).to_hex().to_string();
            for (path, file_bytes) in &files {
                if String::from_utf8_lossy(file_bytes).contains(&digest) {
                    leaks.push(format!(
                        "the unkeyed BLAKE3 of {what} ({}) in {}",
                        case.detector,
                        path.display()
                    ));
                }
            }
        }
    }
    drop(wal_reader);
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
