//! What the benchmark feeds the hook: payloads shaped like Claude Code's, a project with the
//! edited file on disk, session transcripts of a chosen size, and a large ledger.
//!
//! Everything is generated from a fixed seed, so two runs see the same bytes.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hookledger::ledger::{Durability, Ledger, NewRecord, OpenOptions, canonical_json};
use serde_json::{Map, Value, json};

/// Bump when the transcript or project generator changes, so cached transcripts are rebuilt.
pub const TRANSCRIPT_GENERATOR_VERSION: u32 = 2;
/// Bump when the ledger record generator changes, so the cached large ledger is rebuilt.
pub const LEDGER_GENERATOR_VERSION: u32 = 1;

pub const CLI_VERSION: &str = "2.1.328";
/// The model of the transcript's tail (the turn being benchmarked).
pub const TAIL_MODEL: &str = "claude-opus-4-5-20251101";
/// The model of everything before it.
const BODY_MODEL: &str = "claude-sonnet-4-5-20250929";

// ---------------------------------------------------------------------------------------------
// Randomness

/// xorshift64*: deterministic, std only.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi.max(lo) - lo + 1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits);
        while out.len() < digits {
            out.push_str(&format!("{:016x}", self.next()));
        }
        out.truncate(digits);
        out
    }

    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    pub fn base62(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..len)
            .map(|_| ALPHABET[self.below(62) as usize] as char)
            .collect()
    }

    pub fn tool_use_id(&mut self) -> String {
        format!("toolu_01{}", self.base62(22))
    }
}

const WORDS: &[&str] = &[
    "the",
    "ledger",
    "hook",
    "record",
    "session",
    "append",
    "chain",
    "verify",
    "config",
    "model",
    "transcript",
    "policy",
    "returns",
    "error",
    "value",
    "path",
    "file",
    "update",
    "check",
    "test",
    "build",
    "release",
    "should",
    "when",
    "because",
    "then",
    "with",
    "from",
    "into",
    "each",
    "payload",
    "parse",
    "commit",
    "branch",
    "function",
    "struct",
    "field",
    "option",
    "result",
    "we",
    "can",
    "need",
    "to",
    "and",
    "a",
    "is",
    "it",
    "this",
    "that",
    "for",
    "in",
    "of",
    "on",
];

const IDENTS: &[&str] = &[
    "ledger",
    "record",
    "payload",
    "session_id",
    "path",
    "bytes",
    "hash",
    "seq",
    "conn",
    "tx",
    "config",
    "options",
    "entry",
    "line",
    "window",
    "facts",
    "model",
    "value",
    "map",
    "kind",
];

pub fn prose(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        if !out.is_empty() {
            out.push(if rng.chance(0.08) { '\n' } else { ' ' });
        }
        out.push_str(rng.pick(WORDS));
    }
    out.truncate(bytes);
    out
}

pub fn code(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut depth = 1usize;
    while out.len() < bytes {
        let indent = "    ".repeat(depth);
        let line = match rng.below(7) {
            0 => format!(
                "{indent}let {} = {}(&{})?;",
                rng.pick(IDENTS),
                rng.pick(IDENTS),
                rng.pick(IDENTS)
            ),
            1 => format!("{indent}// {}", prose(rng, 40)),
            2 if depth < 4 => {
                depth += 1;
                format!("{indent}if {}.is_empty() {{", rng.pick(IDENTS))
            }
            3 if depth > 1 => {
                depth -= 1;
                format!("{}}}", "    ".repeat(depth))
            }
            4 => format!(
                "{indent}{}.push_str(\"{}\");",
                rng.pick(IDENTS),
                prose(rng, 20)
            ),
            5 => format!(
                "{indent}return Err(Error::{}({}));",
                "Invalid",
                rng.pick(IDENTS)
            ),
            _ => format!("{indent}self.{} += {};", rng.pick(IDENTS), rng.below(1000)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.truncate(bytes);
    out
}

/// Numbered lines, as Read returns them (`N\tline`).
fn numbered(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, line)| format!("{}\t{line}\n", i + 1))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reference payloads

/// The four payloads the benchmark needs, from `claude-code-2.1.328-payloads.jsonl`; used only
/// when that file cannot be found.
const EMBEDDED_REFERENCE: &str = r#"{"session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d", "transcript_path": "/home/dev/.claude/projects/-home-dev-proj/a8107769-4add-44cf-ad58-c83d33b56e7d.jsonl", "cwd": "/home/dev/proj", "prompt_id": "2e2595a4-3ced-4290-989a-bc6fee27fcfd", "permission_mode": "default", "hook_event_name": "UserPromptSubmit", "prompt": "make the greeting longer"}
{"session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d", "transcript_path": "/home/dev/.claude/projects/-home-dev-proj/a8107769-4add-44cf-ad58-c83d33b56e7d.jsonl", "cwd": "/home/dev/proj", "prompt_id": "2e2595a4-3ced-4290-989a-bc6fee27fcfd", "permission_mode": "default", "effort": {"level": "medium"}, "hook_event_name": "PreToolUse", "tool_name": "Edit", "tool_input": {"file_path": "/home/dev/proj/a.txt", "old_string": "hello", "new_string": "hello world", "replace_all": false}, "tool_use_id": "toolu_234f2c6980814cbfb8fa"}
{"session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d", "transcript_path": "/home/dev/.claude/projects/-home-dev-proj/a8107769-4add-44cf-ad58-c83d33b56e7d.jsonl", "cwd": "/home/dev/proj", "prompt_id": "2e2595a4-3ced-4290-989a-bc6fee27fcfd", "permission_mode": "default", "effort": {"level": "medium"}, "hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_input": {"file_path": "/home/dev/proj/a.txt", "old_string": "hello", "new_string": "hello world", "replace_all": false}, "tool_response": {"filePath": "/home/dev/proj/a.txt", "oldString": "hello", "newString": "hello world", "originalFile": "hello\n", "structuredPatch": [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 1, "lines": ["-hello", "+hello world"]}], "userModified": false, "replaceAll": false, "contentNotInModelContext": true}, "tool_use_id": "toolu_234f2c6980814cbfb8fa", "duration_ms": 18}
{"session_id": "a8107769-4add-44cf-ad58-c83d33b56e7d", "transcript_path": "/home/dev/.claude/projects/-home-dev-proj/a8107769-4add-44cf-ad58-c83d33b56e7d.jsonl", "cwd": "/home/dev/proj", "prompt_id": "2e2595a4-3ced-4290-989a-bc6fee27fcfd", "permission_mode": "default", "effort": {"level": "medium"}, "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "cat a.txt", "description": "Show file"}, "tool_use_id": "toolu_4a9b6911df3a42d7bc0e"}
"#;

const REFERENCE_FILE: &str = "claude-code-2.1.328-payloads.jsonl";

pub struct Reference {
    /// Where the payload shapes came from.
    pub source: String,
    pub lines: Vec<Value>,
}

pub fn load_reference(manifest_dir: &Path) -> Reference {
    let candidates = [
        PathBuf::from("/work/shared/reference").join(REFERENCE_FILE),
        manifest_dir
            .join("../shared/reference")
            .join(REFERENCE_FILE),
    ];
    for path in candidates {
        if let Ok(text) = fs::read_to_string(&path) {
            let lines: Vec<Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if !lines.is_empty() {
                return Reference {
                    source: path.display().to_string(),
                    lines,
                };
            }
        }
    }
    Reference {
        source: "embedded copy (reference file not found)".into(),
        lines: EMBEDDED_REFERENCE
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    }
}

impl Reference {
    /// The first reference payload for `event` (and `tool`), or the embedded one.
    fn payload(&self, event: &str, tool: Option<&str>) -> Value {
        let matches =
            |v: &&Value| v["hook_event_name"] == event && tool.is_none_or(|t| v["tool_name"] == t);
        if let Some(found) = self.lines.iter().find(matches) {
            return found.clone();
        }
        EMBEDDED_REFERENCE
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| matches(&v))
            .expect("embedded reference has every benchmarked payload")
    }
}

// ---------------------------------------------------------------------------------------------
// The project the session works in

/// A git working tree with the file the benchmarked Edit changed, already edited on disk.
pub struct Project {
    pub root: PathBuf,
    pub file: PathBuf,
    pub original: String,
    pub old_string: String,
    pub new_string: String,
    pub hunk: Value,
}

pub fn make_project(root: &Path) -> std::io::Result<Project> {
    let mut rng = Rng::new(7);
    fs::create_dir_all(root.join(".git"))?;
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n")?;
    fs::create_dir_all(root.join("src"))?;
    let file = root.join("src/greeting.rs");
    // ~1.2 KB of source with the greeting on line `at`.
    let mut lines: Vec<String> = code(&mut rng, 1_200).lines().map(str::to_owned).collect();
    let at = lines.len() / 2;
    let old_string = r#"    println!("hello");"#.to_owned();
    let new_string = r#"    println!("hello world");"#.to_owned();
    lines.insert(at, old_string.clone());
    let original = lines.join("\n") + "\n";
    let edited = original.replacen(&old_string, &new_string, 1);
    fs::write(&file, &edited)?;
    let from = at.saturating_sub(3);
    let to = (at + 4).min(lines.len());
    let mut hunk_lines = Vec::new();
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        if i == at {
            hunk_lines.push(format!("-{old_string}"));
            hunk_lines.push(format!("+{new_string}"));
        } else {
            hunk_lines.push(format!(" {line}"));
        }
    }
    let hunk = json!({
        "oldStart": from + 1, "oldLines": to - from,
        "newStart": from + 1, "newLines": to - from,
        "lines": hunk_lines,
    });
    Ok(Project {
        root: root.to_owned(),
        file,
        original,
        old_string,
        new_string,
        hunk,
    })
}

// ---------------------------------------------------------------------------------------------
// Payloads

#[derive(Clone)]
pub struct Payload {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

/// Ids the transcript tail must carry so the hook finds "its" tool call near the end.
pub struct SessionIds {
    pub session_id: String,
    pub prompt_id: String,
    pub edit_tool_use_id: String,
    pub bash_tool_use_id: String,
    pub prompt: String,
}

pub fn session_ids(reference: &Reference) -> SessionIds {
    let edit = reference.payload("PostToolUse", Some("Edit"));
    let bash = reference.payload("PreToolUse", Some("Bash"));
    let prompt = reference.payload("UserPromptSubmit", None);
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    SessionIds {
        session_id: s(&prompt, "session_id"),
        prompt_id: s(&prompt, "prompt_id"),
        edit_tool_use_id: s(&edit, "tool_use_id"),
        bash_tool_use_id: s(&bash, "tool_use_id"),
        prompt: s(&prompt, "prompt"),
    }
}

/// The benchmarked payloads, pointed at `transcript` and `project`. Keys and their order are the
/// reference's; only values that must point at real files (or describe the real edit) change.
pub fn payloads(reference: &Reference, transcript: &Path, project: &Project) -> Vec<Payload> {
    let root = project.root.display().to_string();
    let file = project.file.display().to_string();
    let common = |mut v: Value| {
        v["transcript_path"] = json!(transcript.display().to_string());
        v["cwd"] = json!(root);
        v
    };
    let edit_input = |v: &mut Value| {
        let input = &mut v["tool_input"];
        input["file_path"] = json!(file);
        input["old_string"] = json!(project.old_string.trim_start());
        input["new_string"] = json!(project.new_string.trim_start());
    };

    let mut pre_bash = common(reference.payload("PreToolUse", Some("Bash")));
    pre_bash["tool_input"]["command"] = json!("cat src/greeting.rs");
    pre_bash["tool_input"]["description"] = json!("Show the edited file");

    let mut pre_edit = common(reference.payload("PreToolUse", Some("Edit")));
    edit_input(&mut pre_edit);

    let mut post_edit = common(reference.payload("PostToolUse", Some("Edit")));
    edit_input(&mut post_edit);
    {
        let response = &mut post_edit["tool_response"];
        response["filePath"] = json!(file);
        response["oldString"] = json!(project.old_string.trim_start());
        response["newString"] = json!(project.new_string.trim_start());
        response["originalFile"] = json!(project.original);
        response["structuredPatch"] = json!([project.hunk.clone()]);
    }

    let prompt = common(reference.payload("UserPromptSubmit", None));

    [
        ("PreToolUse Bash", pre_bash),
        ("PreToolUse Edit", pre_edit),
        ("PostToolUse Edit", post_edit),
        ("UserPromptSubmit", prompt),
    ]
    .into_iter()
    .map(|(name, v)| Payload {
        name,
        bytes: serde_json::to_vec(&v).expect("payload serializes"),
    })
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Transcripts
//
// Shaped after Claude Code 2.1.328 session files: besides `user` and `assistant` entries they
// hold `api-request`, `api-request-shape`, `tools-used`, `last-prompt`, `atis-latch` and
// `attachment` lines (none of which contain `"assistant"`), and tool results duplicate their
// output in `toolUseResult`.

struct Lines<'a> {
    rng: Rng,
    cwd: &'a str,
    session_id: &'a str,
    parent: Option<String>,
    clock: u64,
}

impl Lines<'_> {
    fn timestamp(&mut self) -> String {
        self.clock += 1 + self.rng.below(20);
        let s = self.clock;
        format!(
            "2026-07-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            6 + (s / 86_400) % 20,
            (s / 3600) % 24,
            (s / 60) % 60,
            s % 60,
            self.rng.below(1000)
        )
    }

    fn line(value: Value) -> String {
        let mut line = serde_json::to_string(&value).expect("serializes");
        line.push('\n');
        line
    }

    /// A conversation entry (`user`, `assistant`, `attachment`, `system`): `fields` go between
    /// the chain links and the common trailer, as Claude Code orders them.
    fn entry(&mut self, kind: &str, fields: Vec<(&str, Value)>) -> String {
        let uuid = self.rng.uuid();
        let mut map = Map::new();
        map.insert("parentUuid".into(), json!(self.parent));
        map.insert("isSidechain".into(), json!(false));
        for (key, value) in fields {
            map.insert(key.into(), value);
        }
        map.insert("type".into(), json!(kind));
        map.insert("uuid".into(), json!(uuid));
        map.insert("timestamp".into(), json!(self.timestamp()));
        map.insert("userType".into(), json!("external"));
        map.insert("entrypoint".into(), json!("cli"));
        map.insert("cwd".into(), json!(self.cwd));
        map.insert("sessionId".into(), json!(self.session_id));
        map.insert("version".into(), json!(CLI_VERSION));
        map.insert("gitBranch".into(), json!("main"));
        self.parent = Some(uuid);
        Self::line(Value::Object(map))
    }

    fn user_prompt(&mut self, prompt: &str, prompt_id: &str) -> String {
        self.entry(
            "user",
            vec![
                ("promptId", json!(prompt_id)),
                ("message", json!({ "role": "user", "content": prompt })),
                ("permissionMode", json!("default")),
                ("promptSource", json!("typed")),
            ],
        )
    }

    fn attachment(&mut self, kind: &str, bytes: usize) -> String {
        let content = prose(&mut self.rng, bytes);
        self.entry(
            "attachment",
            vec![("attachment", json!({ "type": kind, "content": content }))],
        )
    }

    fn api_request(&mut self, model: &str) -> String {
        let fields = json!({
            "type": "api-request",
            "sessionId": self.session_id,
            "id": self.rng.uuid(),
            "timestamp": self.timestamp(),
            "version": CLI_VERSION,
            "querySource": "repl_main_thread",
            "shapeHash": self.rng.hex(64),
            "params": {
                "model": model,
                "betas": ["claude-code-20250219", "interleaved-thinking-2025-05-14",
                          "context-management-2025-06-27", "per-turn-control-2026-07-01",
                          "mid-conversation-tool-changes-2026-07-01",
                          "thinking-token-count-2026-05-13"],
                "max_tokens": 128_000,
                "thinking": { "type": "adaptive", "display": "omitted" },
                "context_management": { "edits": [{ "type": "clear_thinking_20251015", "keep": "all" }] },
                "output_config": { "effort": "medium" },
            },
            "keep": self.rng.range(0, 40),
            "tail": [self.rng.hex(64), self.rng.hex(64)],
            "cacheControl": [
                { "path": ["system", 0], "value": { "type": "ephemeral" } },
                { "path": ["system", 1], "value": { "type": "ephemeral" } },
                { "path": ["messages", 1, "content", 0], "value": { "type": "ephemeral" } },
            ],
            "requestDigest": self.rng.hex(64),
        });
        Self::line(fields)
    }

    fn api_request_shape(&mut self, bytes: usize) -> String {
        let system = prose(&mut self.rng, bytes);
        Self::line(json!({
            "type": "api-request-shape",
            "sessionId": self.session_id,
            "shapeHash": self.rng.hex(64),
            "timestamp": self.timestamp(),
            "version": CLI_VERSION,
            "shape": { "system": [{ "type": "text", "text": system }], "tools": IDENTS },
        }))
    }

    fn small_lines(&mut self, tool: &str, prompt: &str) -> String {
        let head: String = prompt.chars().take(100).collect();
        let leaf = self.parent.clone();
        Self::line(json!({ "type": "tools-used", "tools": [tool], "sessionId": self.session_id }))
            + &Self::line(
                json!({ "type": "last-prompt", "lastPrompt": head, "leafUuid": leaf,
                                  "sessionId": self.session_id }),
            )
            + &Self::line(json!({ "type": "atis-latch", "atis": "", "sessionId": self.session_id }))
    }

    fn assistant(&mut self, model: &str, block: Value, stop_reason: Option<&str>) -> String {
        let message = json!({
            "id": format!("msg_01{}", self.rng.base62(22)),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": self.rng.range(1, 20),
                "cache_creation_input_tokens": self.rng.range(0, 20_000),
                "cache_read_input_tokens": self.rng.range(10_000, 180_000),
                "output_tokens": self.rng.range(20, 2_000),
                "output_tokens_details": { "thinking_tokens": 0 },
                "server_tool_use": { "web_search_requests": 0, "web_fetch_requests": 0 },
                "service_tier": "standard",
                "cache_creation": { "ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0 },
                "inference_geo": "",
                "iterations": [],
                "speed": "standard",
                "fallback_credit": null,
            },
            "stop_details": null,
        });
        let request_id = format!("req_011C{}", self.rng.base62(20));
        let request_ref = self.rng.uuid();
        let stream_ms = self.rng.range(1, 900);
        self.entry(
            "assistant",
            vec![
                ("message", message),
                ("toolInputStreamMs", json!(stream_ms)),
                ("apiBlockIndex", json!(0)),
                ("requestId", json!(request_id)),
                ("requestRef", json!(request_ref)),
                ("requestedModel", json!(model)),
                ("promptCacheRequested", json!("5m")),
                ("effort", json!("medium")),
                ("perTurnEffort", json!("medium")),
                ("madeBy", json!("model")),
            ],
        )
    }

    fn text(&mut self, model: &str, bytes: usize) -> String {
        let text = prose(&mut self.rng, bytes);
        self.assistant(
            model,
            json!({ "type": "text", "text": text }),
            Some("end_turn"),
        )
    }

    fn tool_use(&mut self, model: &str, id: &str, name: &str, input: Value) -> String {
        self.assistant(
            model,
            json!({ "type": "tool_use", "id": id, "name": name, "input": input }),
            Some("tool_use"),
        )
    }

    fn tool_result(&mut self, id: &str, content: &str, tool_use_result: Value) -> String {
        let source = self.parent.clone();
        self.entry(
            "user",
            vec![
                (
                    "message",
                    json!({ "role": "user", "content": [{
                        "tool_use_id": id, "type": "tool_result", "content": content
                    }]}),
                ),
                ("toolUseResult", tool_use_result),
                ("sourceToolAssistantUUID", json!(source)),
                (
                    "permissionDecision",
                    json!({ "decision": "accept", "source": "config", "reasonType": "rule",
                            "ruleSource": "userSettings" }),
                ),
            ],
        )
    }

    /// One tool call and its result from the body of the session; sizes capped at `cap`.
    fn tool_cycle(&mut self, cap: usize, prompt: &str) -> String {
        let id = self.rng.tool_use_id();
        let big = self.rng.chance(0.03);
        let size = |rng: &mut Rng, lo: usize, hi: usize| {
            let n = if big {
                rng.range(100_000, 300_000)
            } else {
                rng.range(lo, hi)
            };
            n.min(cap).max(16)
        };
        let path = format!("{}/src/{}.rs", self.cwd, self.rng.pick(IDENTS));
        let mut out = self.api_request(BODY_MODEL);
        let (tool, input, content, result) = match self.rng.below(10) {
            0..=3 => {
                let n = size(&mut self.rng, 1_000, 40_000);
                let content = code(&mut self.rng, n);
                let lines = content.lines().count();
                (
                    "Read",
                    json!({ "file_path": path }),
                    numbered(&content),
                    json!({ "type": "text", "file": {
                        "filePath": path, "content": content, "numLines": lines,
                        "startLine": 1, "totalLines": lines,
                    }}),
                )
            }
            4..=6 => {
                let n = size(&mut self.rng, 200, 20_000);
                let stdout = prose(&mut self.rng, n);
                let command = format!("cargo test {} 2>&1 | tail -n 80", self.rng.pick(IDENTS));
                (
                    "Bash",
                    json!({ "command": command, "description": "Run the tests" }),
                    stdout.clone(),
                    json!({ "stdout": stdout, "stderr": "", "interrupted": false,
                            "isImage": false, "noOutputExpected": false }),
                )
            }
            7..=8 => {
                let n = size(&mut self.rng, 50, 1_500).min(cap / 4 + 16);
                let old = code(&mut self.rng, n);
                let new = code(&mut self.rng, old.len() + 40);
                let n = size(&mut self.rng, 2_000, 30_000);
                let original = code(&mut self.rng, n);
                let plus = new.lines().map(|l| format!("+{l}"));
                let minus = old.lines().map(|l| format!("-{l}"));
                let patch_lines: Vec<String> = minus.chain(plus).collect();
                (
                    "Edit",
                    json!({ "file_path": path, "old_string": old, "new_string": new,
                            "replace_all": false }),
                    format!(
                        "The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n{}",
                        numbered(&new)
                    ),
                    json!({ "filePath": path, "oldString": old, "newString": new,
                            "originalFile": original,
                            "structuredPatch": [{ "oldStart": 10, "oldLines": old.lines().count(),
                                                  "newStart": 10, "newLines": new.lines().count(),
                                                  "lines": patch_lines }],
                            "userModified": false, "replaceAll": false }),
                )
            }
            _ => {
                let n = size(&mut self.rng, 200, 4_000) / 40;
                let files: Vec<String> = (0..n)
                    .map(|i| format!("{}/src/{}_{i}.rs", self.cwd, IDENTS[i % IDENTS.len()]))
                    .collect();
                (
                    "Grep",
                    json!({ "pattern": self.rng.pick(IDENTS), "path": self.cwd,
                            "output_mode": "files_with_matches" }),
                    files.join("\n"),
                    json!({ "mode": "files_with_matches", "numFiles": files.len(),
                            "filenames": files }),
                )
            }
        };
        out += &self.tool_use(BODY_MODEL, &id, tool, input);
        out += &self.small_lines(tool, prompt);
        out += &self.tool_result(&id, &content, result);
        out
    }
}

/// Writes a transcript of about `target_bytes`: a session body of prompts, tool calls and big tool
/// results, ending with the benchmarked turn (the Edit and the Bash call whose ids the payloads
/// carry, within the last few KB). Returns the size written.
pub fn write_transcript(
    path: &Path,
    target_bytes: u64,
    ids: &SessionIds,
    project: &Project,
) -> std::io::Result<u64> {
    let cwd = project.root.display().to_string();
    let mut lines = Lines {
        rng: Rng::new(target_bytes ^ 0x5EED),
        cwd: &cwd,
        session_id: &ids.session_id,
        parent: None,
        clock: 0,
    };
    // The tail is generated first (to know its size) and written last.
    let mut tail_gen = Lines {
        rng: Rng::new(42),
        cwd: &cwd,
        session_id: &ids.session_id,
        parent: None,
        clock: 1_000_000,
    };
    let file = project.file.display().to_string();
    let old = project.old_string.trim_start();
    let new = project.new_string.trim_start();
    let mut tail = String::new();
    tail += &tail_gen.user_prompt(&ids.prompt, &ids.prompt_id);
    tail += &tail_gen.api_request(TAIL_MODEL);
    tail += &tail_gen.text(TAIL_MODEL, 120);
    tail += &tail_gen.tool_use(
        TAIL_MODEL,
        &ids.edit_tool_use_id,
        "Edit",
        json!({ "file_path": file, "old_string": old, "new_string": new, "replace_all": false }),
    );
    tail += &tail_gen.small_lines("Edit", &ids.prompt);
    tail += &tail_gen.tool_result(
        &ids.edit_tool_use_id,
        &format!("The file {file} has been updated."),
        json!({ "filePath": file, "oldString": old, "newString": new,
                "originalFile": project.original, "structuredPatch": [project.hunk.clone()],
                "userModified": false, "replaceAll": false }),
    );
    tail += &tail_gen.api_request(TAIL_MODEL);
    tail += &tail_gen.tool_use(
        TAIL_MODEL,
        &ids.bash_tool_use_id,
        "Bash",
        json!({ "command": "cat src/greeting.rs", "description": "Show the edited file" }),
    );
    tail += &tail_gen.small_lines("Bash", &ids.prompt);

    let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut written = 0u64;
    let tail_len = tail.len() as u64;
    let remaining = |written: u64| target_bytes.saturating_sub(written + tail_len);
    let cap = |written: u64| (remaining(written) / 3) as usize;
    while remaining(written) > 1_000 {
        let n = gen_size(&mut lines.rng, cap(written), 40, 800);
        let prompt = prose(&mut lines.rng, n);
        let pid = lines.rng.uuid();
        let mut chunk = lines.user_prompt(&prompt, &pid);
        let n = gen_size(
            &mut lines.rng,
            cap(written + chunk.len() as u64),
            300,
            1_500,
        );
        chunk += &lines.attachment("session_context", n);
        let n = gen_size(
            &mut lines.rng,
            cap(written + chunk.len() as u64),
            6_000,
            9_000,
        );
        chunk += &lines.api_request_shape(n);
        for k in 0..lines.rng.range(1, 6) {
            let c = cap(written + chunk.len() as u64);
            if c < 200 {
                break;
            }
            if lines.rng.chance(0.3) {
                let n = gen_size(&mut lines.rng, c, 50, 600);
                chunk += &lines.text(BODY_MODEL, n);
            }
            chunk += &lines.tool_cycle(c, &prompt);
            if k == 0 {
                let n = gen_size(
                    &mut lines.rng,
                    cap(written + chunk.len() as u64),
                    8_000,
                    12_000,
                );
                chunk += &lines.attachment("prompt_snapshot", n);
            }
        }
        chunk += &lines.api_request(BODY_MODEL);
        let n = gen_size(
            &mut lines.rng,
            cap(written + chunk.len() as u64),
            100,
            1_500,
        );
        chunk += &lines.text(BODY_MODEL, n);
        out.write_all(chunk.as_bytes())?;
        written += chunk.len() as u64;
    }
    out.write_all(tail.as_bytes())?;
    written += tail_len;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(written)
}

/// A size in `lo..=hi`, capped so small transcripts stay small.
fn gen_size(rng: &mut Rng, cap: usize, lo: usize, hi: usize) -> usize {
    rng.range(lo, hi).min(cap).max(16)
}

// ---------------------------------------------------------------------------------------------
// Ledger records

const TOOLS: &[&str] = &[
    "Bash", "Read", "Edit", "Grep", "Write", "Glob", "WebFetch", "Task",
];
const MODELS: &[&str] = &[BODY_MODEL, TAIL_MODEL, "claude-haiku-4-5-20251001"];

/// Realistic records of a few hundred bytes, in the proportions a coding session produces.
pub struct RecordGen {
    rng: Rng,
    ts_ns: i64,
    session: String,
    prompt: String,
    cwd: String,
    model: &'static str,
    left_in_session: u32,
}

impl RecordGen {
    pub fn new(seed: u64, start_ns: i64) -> Self {
        let mut rng = Rng::new(seed);
        let session = rng.uuid();
        let prompt = rng.uuid();
        RecordGen {
            rng,
            ts_ns: start_ns,
            session,
            prompt,
            cwd: "/home/dev/proj".into(),
            model: BODY_MODEL,
            left_in_session: 400,
        }
    }

    pub fn next_record(&mut self) -> NewRecord {
        self.ts_ns += 200_000_000 + self.rng.below(4_000_000_000) as i64;
        let mut kind_and_value = None;
        if self.left_in_session == 0 {
            self.session = self.rng.uuid();
            self.left_in_session = self.rng.range(50, 1_000) as u32;
            self.model = self.rng.pick(MODELS);
            self.cwd = format!("/home/dev/{}", self.rng.pick(IDENTS));
            kind_and_value = Some(("session-start", self.session_start()));
        }
        self.left_in_session -= 1;
        let (kind, value) = kind_and_value.unwrap_or_else(|| {
            let roll = self.rng.below(100);
            match roll {
                0..=34 => ("tool-call", self.tool_call()),
                35..=64 => ("tool-result", self.tool_result()),
                65..=72 => ("edit", self.edit()),
                73..=82 => {
                    self.prompt = self.rng.uuid();
                    ("prompt", self.prompt_record())
                }
                83..=89 => ("stop", self.stop()),
                90..=94 => ("permission-request", self.tool_call()),
                _ => ("notification", self.notification()),
            }
        });
        NewRecord {
            ts_ns: self.ts_ns,
            kind: kind.to_owned(),
            payload: canonical_json(&value),
        }
    }

    fn common(&self, event: &str) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("event".into(), json!(event));
        map.insert("session_id".into(), json!(self.session));
        map.insert("prompt_id".into(), json!(self.prompt));
        map.insert("cwd".into(), json!(self.cwd));
        map.insert("permission_mode".into(), json!("default"));
        map.insert(
            "transcript_path".into(),
            json!(format!(
                "/home/dev/.claude/projects/-home-dev-proj/{}.jsonl",
                self.session
            )),
        );
        map
    }

    fn model(&self, map: &mut Map<String, Value>) {
        map.insert("model".into(), json!(self.model));
        map.insert("model_source".into(), json!("transcript-tool-use"));
        map.insert("claude_code_version".into(), json!(CLI_VERSION));
    }

    fn session_start(&mut self) -> Value {
        let mut map = self.common("SessionStart");
        map.insert("source".into(), json!("startup"));
        map.insert("model_reported".into(), json!(self.model));
        self.model(&mut map);
        map.insert(
            "repository".into(),
            json!({ "root": self.cwd, "branch": "main", "head": self.rng.hex(40),
                    "remotes": [{ "name": "origin", "url": "git@github.com:dev/proj.git",
                                  "normalized": "github.com/dev/proj" }] }),
        );
        map.insert("host".into(), json!("devbox"));
        map.insert("os_user".into(), json!("dev"));
        map.insert("hookledger_version".into(), json!("0.1.0"));
        map.insert("pid".into(), json!(self.rng.range(1_000, 60_000)));
        Value::Object(map)
    }

    fn tool_call(&mut self) -> Value {
        let mut map = self.common("PreToolUse");
        let tool = self.rng.pick(TOOLS);
        map.insert("tool".into(), json!(tool));
        map.insert("tool_use_id".into(), json!(self.rng.tool_use_id()));
        self.model(&mut map);
        let n = self.rng.range(20, 200);
        let input = match tool {
            "Bash" => json!({ "command": prose(&mut self.rng, n), "description": "Run it" }),
            "Edit" => json!({ "file_path": format!("{}/src/lib.rs", self.cwd),
                              "old_string": code(&mut self.rng, n / 2),
                              "new_string": code(&mut self.rng, n / 2), "replace_all": false }),
            _ => json!({ "file_path": format!("{}/src/{}.rs", self.cwd, self.rng.pick(IDENTS)) }),
        };
        map.insert("input".into(), input);
        map.insert(
            "decision".into(),
            json!({ "action": "allow", "rule": "no-policy", "layer": "built-in",
                    "pattern": null, "reason": "no policy is configured" }),
        );
        Value::Object(map)
    }

    fn tool_result(&mut self) -> Value {
        let mut map = self.common("PostToolUse");
        map.insert("tool".into(), json!(self.rng.pick(TOOLS)));
        map.insert("tool_use_id".into(), json!(self.rng.tool_use_id()));
        self.model(&mut map);
        map.insert("status".into(), json!("success"));
        map.insert("input_blake3".into(), json!(self.rng.hex(64)));
        map.insert("duration_ms".into(), json!(self.rng.range(5, 30_000)));
        map.insert("response_bytes".into(), json!(self.rng.range(10, 200_000)));
        map.insert("response_blake3".into(), json!(self.rng.hex(64)));
        map.insert(
            "response".into(),
            json!({ "stdout": { "bytes": self.rng.range(300, 200_000), "blake3": self.rng.hex(64) },
                    "stderr": "", "interrupted": false }),
        );
        Value::Object(map)
    }

    fn edit(&mut self) -> Value {
        let mut map = self.common("PostToolUse");
        map.insert("tool".into(), json!("Edit"));
        map.insert("tool_use_id".into(), json!(self.rng.tool_use_id()));
        self.model(&mut map);
        let path = format!("{}/src/{}.rs", self.cwd, self.rng.pick(IDENTS));
        map.insert("path".into(), json!(path));
        map.insert(
            "repository".into(),
            json!({ "root": self.cwd, "relative_path": path[self.cwd.len() + 1..] }),
        );
        map.insert("before_blake3".into(), json!(self.rng.hex(64)));
        map.insert("before_bytes".into(), json!(self.rng.range(100, 50_000)));
        map.insert("after_blake3".into(), json!(self.rng.hex(64)));
        map.insert("after_bytes".into(), json!(self.rng.range(100, 50_000)));
        map.insert("change".into(), json!("update"));
        map.insert("user_modified".into(), json!(false));
        let added = code(&mut self.rng, 120);
        let lines: Vec<String> = added.lines().map(|l| format!("+{l}")).collect();
        map.insert("lines_added".into(), json!(lines.len()));
        map.insert("lines_removed".into(), json!(1));
        map.insert("hunk_lines".into(), json!("text"));
        map.insert(
            "hunks".into(),
            json!([{ "old_start": 10, "old_lines": 1, "new_start": 10,
                     "new_lines": lines.len(), "lines": lines }]),
        );
        Value::Object(map)
    }

    fn prompt_record(&mut self) -> Value {
        let mut map = self.common("UserPromptSubmit");
        let n = self.rng.range(20, 300);
        let prompt = prose(&mut self.rng, n);
        map.insert("prompt_blake3".into(), json!(self.rng.hex(64)));
        map.insert("prompt_bytes".into(), json!(prompt.len()));
        map.insert("prompt".into(), json!(prompt));
        self.model(&mut map);
        Value::Object(map)
    }

    fn stop(&mut self) -> Value {
        let mut map = self.common("Stop");
        map.insert("stop_hook_active".into(), json!(false));
        map.insert(
            "last_assistant_message".into(),
            json!({ "blake3": self.rng.hex(64), "bytes": self.rng.range(10, 5_000),
                    "head": prose(&mut self.rng, 120) }),
        );
        map.insert("background_tasks".into(), json!(0));
        map.insert("session_crons".into(), json!(0));
        self.model(&mut map);
        Value::Object(map)
    }

    fn notification(&mut self) -> Value {
        let mut map = self.common("Notification");
        map.insert("notification_type".into(), json!("permission_prompt"));
        map.insert(
            "message".into(),
            json!("Claude needs your permission to use Bash"),
        );
        Value::Object(map)
    }
}

/// Creates a ledger at `path` (genesis) and appends records until it holds `count`, in
/// transactions of `batch`. Leaves the WAL checkpointed into the main file, so the `.db` file
/// alone is the whole ledger. Returns the head seq.
pub fn generate_ledger(
    path: &Path,
    count: u64,
    batch: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, Box<dyn std::error::Error>> {
    let options = OpenOptions {
        durability: Durability::Normal,
        ..OpenOptions::default()
    };
    let mut ledger = Ledger::open(path, &options)?;
    let (mut head, _) = ledger.head()?;
    let span_ns = count as i64 * 2_200_000_000;
    let mut records = RecordGen::new(count, hookledger::ledger::now_ns() - span_ns);
    let mut buffer = Vec::with_capacity(batch);
    while head < count {
        buffer.clear();
        let take = (count - head).min(batch as u64);
        buffer.extend((0..take).map(|_| records.next_record()));
        let outcome = ledger.append(&buffer)?;
        head = outcome.appended.last().map_or(head, |a| a.seq);
        progress(head);
    }
    ledger
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(head)
}

/// Just the genesis record.
pub fn fresh_ledger(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    Ledger::open(path, &OpenOptions::default())?;
    Ok(())
}

/// A managed policy in `dir` with 200 path and tool rules and a repository allowlist, and makes
/// `project` a git repository whose origin is on it (the hook then needs its remotes on every
/// call). Every payload of the bench is allowed under it.
pub fn managed_policy_with_allowlist(dir: &Path, project: &Path) -> std::io::Result<()> {
    let mut deny_read = vec!["**/.env".to_owned(), "~/.ssh/**".to_owned()];
    let mut deny_write = vec![".github/workflows/**".to_owned()];
    let mut ask_write = vec!["**/migrations/**".to_owned()];
    for i in 0..64 {
        deny_read.push(format!("**/secrets{i}/**"));
        deny_write.push(format!("vendor{i}/**/*.lock"));
        ask_write.push(format!("/srv/data{i}/**"));
    }
    let tools: Vec<String> = (0..8)
        .map(|i| format!("mcp__server{i}__delete_*"))
        .collect();
    let policy = json!({
        "version": 1,
        "repositories": {"allow": ["github.com/Acme/*"], "otherwise": "deny"},
        "paths": {"deny_read": deny_read, "deny_write": deny_write, "ask_write": ask_write},
        "tools": {"deny": tools},
        "unanalyzable": "ask",
        "content_secrets": "deny"
    });
    fs::create_dir_all(dir)?;
    fs::write(dir.join("policy.json"), policy.to_string())?;
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(project)
            .args(args)
            .output()
    };
    git(&["init", "-q"])?;
    let _ = git(&["remote", "remove", "origin"]);
    let added = git(&["remote", "add", "origin", "git@github.com:Acme/widgets.git"])?;
    if !added.status.success() {
        return Err(std::io::Error::other("git remote add failed"));
    }
    Ok(())
}
