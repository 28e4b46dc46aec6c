//! A scripted fake of the Anthropic Messages API, std only (no async runtime).
//!
//! It is meant to sit behind the real Claude Code CLI (`ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`)
//! so that an end-to-end test can drive the CLI through a fixed sequence of tool calls.
//!
//! * `POST /v1/messages` with `"stream": true` answers with SSE (`message_start`,
//!   `content_block_start` / `content_block_delta` / `content_block_stop` per block,
//!   `message_delta`, `message_stop`), chunked transfer encoding; without `stream` it answers
//!   a plain JSON message.
//! * `POST /v1/messages/count_tokens` answers `{"input_tokens": N}`.
//! * Side requests get a short plain text answer and do not advance any script: requests without
//!   `tools` (titles, summaries, topic detection, …) and requests whose newest messages contain a
//!   [`Script::side_markers`] string (by default the CLI's `/compact` summarisation request, which
//!   carries tools and the whole main history).
//! * The main conversation and each subagent are scripted by *conversation state*: the next turn
//!   is derived from the request's `messages` (which scripted tool_use ids / texts are already in
//!   the history), never from a global counter, so side requests and retries can interleave.
//!   A subagent conversation is recognised by a marker string in its first user message (put the
//!   same marker in the `prompt` of the scripted `Agent` tool call).
//! * If a hook blocks a tool call, the CLI still sends a `tool_result` (with `is_error: true`)
//!   for that tool_use id, so the script simply continues with the next turn.
//! * Every request is recorded ([`FakeApi::requests`], [`FakeApi::dump`]).
//!
//! ```ignore
//! let script = Script::new("claude-test-opus-9-20261101")
//!     .turn(Turn::tool("Read", json!({"file_path": readme})))
//!     .turn(Turn::tool("Agent", json!({"description": "look", "prompt": "SUBAGENT-1 list files",
//!                                       "subagent_type": "general-purpose", "run_in_background": false})))
//!     .turn(Turn::text("All done."))
//!     .subagent("SUBAGENT-1", vec![Turn::tool("Bash", json!({"command": "ls"})), Turn::text("found 2 files")]);
//! let api = FakeApi::start(script);
//! // ... run claude with ANTHROPIC_BASE_URL = api.base_url() ...
//! eprintln!("{}", api.dump());
//! ```

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest request body accepted (the CLI sends ~50-300 KiB per request).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// An idle keep-alive connection is dropped after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Script
// ---------------------------------------------------------------------------------------------

/// One tool call inside a scripted assistant turn.
#[derive(Clone, Debug)]
pub struct ToolCall {
    /// Explicit `tool_use` id; `None` = generated (`toolu_<nonce><conv><turn><idx>`), unique per
    /// [`FakeApi`] instance.
    pub id: Option<String>,
    pub name: String,
    pub input: Value,
}

impl ToolCall {
    pub fn new(name: impl Into<String>, input: Value) -> Self {
        ToolCall {
            id: None,
            name: name.into(),
            input,
        }
    }
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// One scripted assistant response.
#[derive(Clone, Debug, Default)]
pub struct Turn {
    /// Text block emitted before the tool calls (or alone: a final answer).
    pub text: Option<String>,
    /// Tool calls; non-empty => `stop_reason: "tool_use"`, else `"end_turn"`.
    pub tool_calls: Vec<ToolCall>,
    /// If set, answer with this HTTP error instead of a message: (status, error type, message).
    /// Sent with `x-should-retry: false`; the CLI 2.1.328 still re-sends a 400 a few times
    /// (fallback variants of the request), then `claude -p` exits 1 with
    /// `"result": "API Error: 400 <message>"`.
    pub api_error: Option<(u16, String, String)>,
}

impl Turn {
    /// A final text answer (`stop_reason: end_turn`).
    pub fn text(text: impl Into<String>) -> Self {
        Turn {
            text: Some(text.into()),
            ..Default::default()
        }
    }
    /// A single tool call.
    pub fn tool(name: impl Into<String>, input: Value) -> Self {
        Turn {
            tool_calls: vec![ToolCall::new(name, input)],
            ..Default::default()
        }
    }
    /// Several tool calls in one assistant message (parallel tool use).
    pub fn tools(calls: Vec<ToolCall>) -> Self {
        Turn {
            tool_calls: calls,
            ..Default::default()
        }
    }
    /// An API error response (e.g. `Turn::api_error(400, "invalid_request_error", "boom")`).
    pub fn api_error(
        status: u16,
        error_type: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Turn {
            api_error: Some((status, error_type.into(), message.into())),
            ..Default::default()
        }
    }
    /// Adds a leading text block to a tool turn.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
}

/// The scripted turns of one subagent conversation.
#[derive(Clone, Debug)]
pub struct SubagentScript {
    /// Substring of the subagent's first user message (put it in the Agent tool's `prompt`).
    pub marker: String,
    /// Model id reported for this subagent's responses (default: the script's model).
    pub model: Option<String>,
    pub turns: Vec<Turn>,
}

/// The whole scenario.
#[derive(Clone, Debug)]
pub struct Script {
    /// Model id reported in every response (`message.model`), e.g. `claude-test-opus-9-20261101`.
    pub model: String,
    /// Main-agent turns, in order.
    pub main: Vec<Turn>,
    pub subagents: Vec<SubagentScript>,
    /// Answer to side requests: requests without tools (titles, summaries, …) and requests whose
    /// newest messages contain one of `side_markers`.
    pub side_text: String,
    /// Substrings that mark a request *with* tools as a side request when they occur in the text
    /// of its last two messages. Default: the instruction of the CLI's compaction request
    /// (`/compact` sends the whole main history plus "CRITICAL: Respond with TEXT ONLY…").
    pub side_markers: Vec<String>,
    /// Answer once a conversation has used up its scripted turns.
    pub exhausted_text: String,
    /// `input_tokens` reported in usage and by count_tokens.
    pub input_tokens: u64,
    /// `output_tokens` reported in usage.
    pub output_tokens: u64,
}

impl Script {
    pub fn new(model: impl Into<String>) -> Self {
        Script {
            model: model.into(),
            main: Vec::new(),
            subagents: Vec::new(),
            side_text: "OK".to_string(),
            side_markers: vec!["Respond with TEXT ONLY".to_string()],
            exhausted_text: "Done.".to_string(),
            input_tokens: 1200,
            output_tokens: 40,
        }
    }
    /// Appends a main-agent turn.
    pub fn turn(mut self, turn: Turn) -> Self {
        self.main.push(turn);
        self
    }
    /// Adds a subagent conversation recognised by `marker`.
    pub fn subagent(mut self, marker: impl Into<String>, turns: Vec<Turn>) -> Self {
        self.subagents.push(SubagentScript {
            marker: marker.into(),
            model: None,
            turns,
        });
        self
    }
    /// Adds a subagent conversation that reports its own model id.
    pub fn subagent_with_model(
        mut self,
        marker: impl Into<String>,
        model: impl Into<String>,
        turns: Vec<Turn>,
    ) -> Self {
        self.subagents.push(SubagentScript {
            marker: marker.into(),
            model: Some(model.into()),
            turns,
        });
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// Which scripted conversation a request belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conversation {
    Main,
    /// Index into [`Script::subagents`].
    Subagent(usize),
    /// A `/v1/messages` request without tools, or matching [`Script::side_markers`].
    Side,
    /// Anything else (count_tokens, unknown paths, unparsable bodies).
    Other,
}

/// A tool_result block found in the last message of a request.
#[derive(Clone, Debug)]
pub struct ToolResultSeen {
    pub tool_use_id: String,
    pub is_error: bool,
    /// The result content flattened to text.
    pub text: String,
}

/// One request received by the fake.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub seq: usize,
    pub method: String,
    /// Path including the query string (the CLI sends `/v1/messages?beta=true`).
    pub path: String,
    pub stream: bool,
    pub has_tools: bool,
    /// `model` field of the request body.
    pub model: Option<String>,
    pub conversation: Conversation,
    /// Scripted turn index answered (None for side/other requests or when exhausted).
    pub turn: Option<usize>,
    /// Text of the first user message (all text blocks joined), truncated.
    pub first_user_text: String,
    /// tool_result blocks after the last assistant message (the results the CLI just submitted).
    pub tool_results: Vec<ToolResultSeen>,
    /// Number of entries in `messages`.
    pub message_count: usize,
    /// HTTP status answered.
    pub status: u16,
    /// Parsed request body (Null if not JSON).
    pub body: Value,
}

/// The token counts the fake reported for one response: distinct per response (derived from
/// its sequence number), so a test can tell each message's usage apart and sum them exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
}

impl Tokens {
    fn for_response(script: &Script, seq: usize) -> Tokens {
        let n = seq as u64;
        Tokens {
            input: script.input_tokens + 17 * n,
            output: script.output_tokens + 3 * n,
            cache_read: 4000 + 101 * n,
            cache_creation: 250 + 13 * n,
        }
    }

    fn json(self, output: u64) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output,
            "cache_creation": {"ephemeral_5m_input_tokens": self.cache_creation, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard",
        })
    }
}

/// An assistant message the fake answered with (not errors).
#[derive(Clone, Debug)]
pub struct EmittedMessage {
    pub conversation: Conversation,
    pub id: String,
    pub model: String,
    pub tokens: Tokens,
}

/// A tool_use block the fake emitted.
#[derive(Clone, Debug)]
pub struct EmittedToolUse {
    pub conversation: Conversation,
    pub turn: usize,
    pub id: String,
    pub name: String,
    pub input: Value,
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

struct State {
    script: Script,
    nonce: String,
    requests: Mutex<Vec<RecordedRequest>>,
    emitted: Mutex<Vec<EmittedToolUse>>,
    messages: Mutex<Vec<EmittedMessage>>,
    conns: Mutex<Vec<TcpStream>>,
    counter: AtomicU64,
    stop: AtomicBool,
}

/// A running fake API server; stops on drop.
pub struct FakeApi {
    port: u16,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl FakeApi {
    /// Binds 127.0.0.1:0 and serves `script` until dropped.
    pub fn start(script: Script) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake api: bind 127.0.0.1:0");
        let port = listener.local_addr().expect("fake api: local_addr").port();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let nonce = format!(
            "{:08x}",
            (nanos as u64 ^ ((std::process::id() as u64) << 32) ^ port as u64) as u32
        );
        let state = Arc::new(State {
            script,
            nonce,
            requests: Mutex::new(Vec::new()),
            emitted: Mutex::new(Vec::new()),
            messages: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let st = Arc::clone(&state);
        let accept = thread::Builder::new()
            .name("fake-api-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if st.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    if let Ok(clone) = conn.try_clone() {
                        lock(&st.conns).push(clone);
                    }
                    let st2 = Arc::clone(&st);
                    let _ = thread::Builder::new()
                        .name("fake-api-conn".into())
                        .spawn(move || serve_connection(&st2, conn));
                }
            })
            .expect("fake api: spawn accept thread");
        FakeApi {
            port,
            state,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` — the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The model id the script reports.
    pub fn model(&self) -> &str {
        &self.state.script.model
    }

    /// All requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// Every assistant message answered so far, with the usage reported for it.
    pub fn emitted_messages(&self) -> Vec<EmittedMessage> {
        lock(&self.state.messages).clone()
    }

    /// All tool_use blocks emitted so far (a turn answered twice appears twice).
    pub fn emitted_tool_uses(&self) -> Vec<EmittedToolUse> {
        lock(&self.state.emitted).clone()
    }

    /// The id the fake gives to call `idx` of turn `turn` of `conv` (unless the script set one).
    pub fn tool_use_id(&self, conv: &Conversation, turn: usize, idx: usize) -> String {
        let turns = match conv {
            Conversation::Main => &self.state.script.main,
            Conversation::Subagent(i) => &self.state.script.subagents[*i].turns,
            _ => panic!("tool_use_id: only Main or Subagent conversations have ids"),
        };
        tool_id(
            &self.state.nonce,
            conv,
            turn,
            idx,
            turns.get(turn).and_then(|t| t.tool_calls.get(idx)),
        )
    }

    /// The first recorded tool_result for `tool_use_id` (as submitted by the CLI).
    pub fn tool_result(&self, tool_use_id: &str) -> Option<ToolResultSeen> {
        lock(&self.state.requests)
            .iter()
            .flat_map(|r| r.tool_results.iter())
            .find(|t| t.tool_use_id == tool_use_id)
            .cloned()
    }

    /// One line per request, for printing when a test fails.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for r in lock(&self.state.requests).iter() {
            let _ = write!(
                out,
                "#{:<3} {} {} status={} stream={} tools={} model={:?} conv={:?} turn={:?} msgs={} first_user={:?}",
                r.seq,
                r.method,
                r.path,
                r.status,
                r.stream,
                r.has_tools,
                r.model.as_deref().unwrap_or("-"),
                r.conversation,
                r.turn,
                r.message_count,
                truncate(&r.first_user_text, 80),
            );
            for t in &r.tool_results {
                let _ = write!(
                    out,
                    "\n       tool_result {} is_error={} {:?}",
                    t.tool_use_id,
                    t.is_error,
                    truncate(&t.text, 160)
                );
            }
            out.push('\n');
        }
        out
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(500),
        );
        for c in lock(&self.state.conns).drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

fn tool_id(
    nonce: &str,
    conv: &Conversation,
    turn: usize,
    idx: usize,
    call: Option<&ToolCall>,
) -> String {
    if let Some(id) = call.and_then(|c| c.id.clone()) {
        return id;
    }
    let tag = match conv {
        Conversation::Main => "m".to_string(),
        Conversation::Subagent(i) => format!("s{i}x"),
        _ => "o".to_string(),
    };
    format!("toolu_e2e{nonce}{tag}{turn:02}{idx:02}")
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve_connection(st: &State, conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IDLE_TIMEOUT));
    let _ = conn.set_nodelay(true);
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut writer = write_half;
    loop {
        if st.stop.load(Ordering::SeqCst) {
            return;
        }
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let close = req
            .header("connection")
            .map(|v| v.eq_ignore_ascii_case("close"))
            .unwrap_or(false);
        if handle(st, &req, &mut writer).is_err() || close {
            let _ = writer.flush();
            return;
        }
        let _ = writer.flush();
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(64 * 1024).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<HttpRequest>> {
    // Skip stray empty lines between keep-alive requests.
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or_else(|| bad("no method"))?.to_string();
    let path = parts.next().ok_or_else(|| bad("no path"))?.to_string();
    let mut headers = Vec::new();
    loop {
        let l = read_line(r)?.ok_or_else(|| bad("eof in headers"))?;
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if headers.len() > 200 {
            return Err(bad("too many headers"));
        }
    }
    let mut req = HttpRequest {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    if chunked {
        loop {
            let size_line = read_line(r)?.ok_or_else(|| bad("eof in chunk size"))?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers until an empty line.
                while let Some(l) = read_line(r)? {
                    if l.is_empty() {
                        break;
                    }
                }
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..])?;
            let _ = read_line(r)?; // CRLF after the chunk
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if len > MAX_BODY {
            return Err(bad("body too large"));
        }
        req.body.resize(len, 0);
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn write_json(
    w: &mut impl Write,
    status: u16,
    body: &Value,
    request_id: &str,
    extra: &str,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(body).unwrap_or_default();
    write!(
        w,
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: {request_id}\r\nconnection: keep-alive\r\n{extra}\r\n",
        status_text(status),
        body.len()
    )?;
    w.write_all(&body)?;
    w.flush()
}

fn write_chunk(w: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    write!(w, "{:x}\r\n", data.len())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")
}

fn sse(w: &mut impl Write, event: &str, data: &Value) -> std::io::Result<()> {
    let frame = format!(
        "event: {event}\ndata: {}\n\n",
        serde_json::to_string(data).unwrap_or_default()
    );
    write_chunk(w, frame.as_bytes())?;
    w.flush()
}

/// Splits `s` into about `parts` pieces on char boundaries (at least one piece).
fn split_pieces(s: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let size = chars.len().div_ceil(parts.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

// ---------------------------------------------------------------------------------------------
// Messages logic
// ---------------------------------------------------------------------------------------------

/// Text of a message's content (string, or the text blocks of an array), joined with '\n'.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b.get("text").and_then(Value::as_str).map(str::to_string),
                Some("tool_result") => b.get("content").map(content_text),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Like [`content_text`] but without tool_result contents (only what the CLI itself wrote).
fn own_text(content: &Value) -> String {
    match content {
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        other => content_text(other),
    }
}

fn first_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// tool_result blocks in the messages after the last assistant message (the CLI may append a
/// `system` message after the user message carrying them).
fn last_tool_results(messages: &[Value]) -> Vec<ToolResultSeen> {
    let start = messages
        .iter()
        .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .map_or(0, |i| i + 1);
    messages[start..]
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(|b| ToolResultSeen {
            tool_use_id: b
                .get("tool_use_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            text: b.get("content").map(content_text).unwrap_or_default(),
        })
        .collect()
}

/// Index of the next scripted turn: one past the last turn whose tool_use ids (or, for text-only
/// turns, whose exact text) already appear in the history.
fn next_turn(st: &State, conv: &Conversation, turns: &[Turn], messages: &[Value]) -> usize {
    let mut ids: HashSet<String> = HashSet::new();
    let mut texts: HashSet<String> = HashSet::new();
    for m in messages {
        let Some(blocks) = m.get("content").and_then(Value::as_array) else {
            continue;
        };
        let is_assistant = m.get("role").and_then(Value::as_str) == Some("assistant");
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("tool_use") => {
                    if let Some(id) = b.get("id").and_then(Value::as_str) {
                        ids.insert(id.to_string());
                    }
                }
                Some("tool_result") => {
                    if let Some(id) = b.get("tool_use_id").and_then(Value::as_str) {
                        ids.insert(id.to_string());
                    }
                }
                Some("text") if is_assistant => {
                    if let Some(t) = b.get("text").and_then(Value::as_str) {
                        texts.insert(t.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let mut next = 0;
    for (i, t) in turns.iter().enumerate() {
        let seen = if !t.tool_calls.is_empty() {
            (0..t.tool_calls.len())
                .any(|k| ids.contains(&tool_id(&st.nonce, conv, i, k, t.tool_calls.get(k))))
        } else if let Some(text) = &t.text {
            texts.contains(text)
        } else {
            false
        };
        if seen {
            next = i + 1;
        }
    }
    next
}

fn handle(st: &State, req: &HttpRequest, out: &mut impl Write) -> std::io::Result<()> {
    // The response is buffered so the request is on record before the client can read the
    // answer: a test that asserts on `requests()` right after a response must see it.
    let mut buffered: Vec<u8> = Vec::new();
    let w = &mut buffered;
    let seq = st.counter.fetch_add(1, Ordering::SeqCst) as usize;
    let request_id = format!("req_e2e{}{:04}", st.nonce, seq);
    let route = req.path.split('?').next().unwrap_or("");
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let messages: Vec<Value> = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let has_tools = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let mut rec = RecordedRequest {
        seq,
        method: req.method.clone(),
        path: req.path.clone(),
        stream,
        has_tools,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_string),
        conversation: Conversation::Other,
        turn: None,
        first_user_text: truncate(&first_user_text(&messages), 4000),
        tool_results: last_tool_results(&messages),
        message_count: messages.len(),
        status: 200,
        body: body.clone(),
    };

    let result = if req.method == "POST" && route == "/v1/messages/count_tokens" {
        write_json(
            w,
            200,
            &json!({"input_tokens": st.script.input_tokens}),
            &request_id,
            "",
        )
    } else if req.method == "POST" && route == "/v1/messages" && body.is_object() {
        // Which conversation?
        let tail_text: String = messages
            .iter()
            .rev()
            .take(2)
            .map(|m| m.get("content").map(own_text).unwrap_or_default())
            .collect();
        let side_marked = st
            .script
            .side_markers
            .iter()
            .any(|k| tail_text.contains(k.as_str()));
        let (conv, turns, model): (Conversation, &[Turn], &str) = if !has_tools || side_marked {
            (Conversation::Side, &[], &st.script.model)
        } else {
            let first = first_user_text(&messages);
            match st
                .script
                .subagents
                .iter()
                .position(|s| first.contains(&s.marker))
            {
                Some(i) => {
                    let s = &st.script.subagents[i];
                    (
                        Conversation::Subagent(i),
                        &s.turns,
                        s.model.as_deref().unwrap_or(&st.script.model),
                    )
                }
                None => (Conversation::Main, &st.script.main, &st.script.model),
            }
        };
        rec.conversation = conv.clone();
        let turn_idx = if conv == Conversation::Side {
            None
        } else {
            Some(next_turn(st, &conv, turns, &messages))
        };
        let turn: Turn = match turn_idx.and_then(|i| turns.get(i)) {
            Some(t) => {
                rec.turn = turn_idx;
                t.clone()
            }
            None if conv == Conversation::Side => Turn::text(st.script.side_text.clone()),
            None => Turn::text(st.script.exhausted_text.clone()),
        };
        if let Some((status, etype, msg)) = &turn.api_error {
            rec.status = *status;
            write_json(
                w,
                *status,
                &json!({"type": "error", "error": {"type": etype, "message": msg}, "request_id": request_id}),
                &request_id,
                "x-should-retry: false\r\n",
            )
        } else {
            // Build the content blocks.
            let mut blocks: Vec<Value> = Vec::new();
            if let Some(t) = &turn.text {
                blocks.push(json!({"type": "text", "text": t}));
            }
            for (k, call) in turn.tool_calls.iter().enumerate() {
                let id = tool_id(&st.nonce, &conv, turn_idx.unwrap_or(0), k, Some(call));
                lock(&st.emitted).push(EmittedToolUse {
                    conversation: conv.clone(),
                    turn: turn_idx.unwrap_or(0),
                    id: id.clone(),
                    name: call.name.clone(),
                    input: call.input.clone(),
                });
                blocks.push(
                    json!({"type": "tool_use", "id": id, "name": call.name, "input": call.input}),
                );
            }
            let stop_reason = if turn.tool_calls.is_empty() {
                "end_turn"
            } else {
                "tool_use"
            };
            let msg_id = format!("msg_e2e{}{:04}", st.nonce, seq);
            let tokens = Tokens::for_response(&st.script, seq);
            lock(&st.messages).push(EmittedMessage {
                conversation: conv.clone(),
                id: msg_id.clone(),
                model: model.to_owned(),
                tokens,
            });
            if stream {
                write_stream(w, &request_id, &msg_id, model, &blocks, stop_reason, tokens)
            } else {
                write_json(
                    w,
                    200,
                    &json!({
                        "id": msg_id, "type": "message", "role": "assistant", "model": model,
                        "content": blocks, "stop_reason": stop_reason, "stop_sequence": null,
                        "usage": tokens.json(tokens.output),
                    }),
                    &request_id,
                    "",
                )
            }
        }
    } else if req.method == "GET" || req.method == "HEAD" {
        if route == "/" || route.is_empty() {
            write_json(w, 200, &json!({}), &request_id, "")
        } else {
            rec.status = 404;
            write_json(
                w,
                404,
                &json!({"type": "error", "error": {"type": "not_found_error", "message": "fake api: no such path"}}),
                &request_id,
                "",
            )
        }
    } else {
        rec.status = if body.is_null() && route == "/v1/messages" {
            400
        } else {
            404
        };
        let etype = if rec.status == 400 {
            "invalid_request_error"
        } else {
            "not_found_error"
        };
        write_json(
            w,
            rec.status,
            &json!({"type": "error", "error": {"type": etype, "message": format!("fake api: unsupported {} {}", req.method, req.path)}}),
            &request_id,
            "",
        )
    };
    lock(&st.requests).push(rec);
    result?;
    out.write_all(&buffered)?;
    out.flush()
}

fn write_stream(
    w: &mut impl Write,
    request_id: &str,
    msg_id: &str,
    model: &str,
    blocks: &[Value],
    stop_reason: &str,
    tokens: Tokens,
) -> std::io::Result<()> {
    write!(
        w,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\nrequest-id: {request_id}\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n"
    )?;
    sse(
        w,
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": tokens.json(1),
        }}),
    )?;
    sse(w, "ping", &json!({"type": "ping"}))?;
    for (index, block) in blocks.iter().enumerate() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                sse(
                    w,
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
                )?;
                for piece in split_pieces(text, 3) {
                    sse(
                        w,
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}),
                    )?;
                }
            }
            _ => {
                let input = serde_json::to_string(block.get("input").unwrap_or(&json!({})))
                    .unwrap_or_default();
                sse(
                    w,
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index, "content_block": {
                        "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}),
                )?;
                sse(
                    w,
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": ""}}),
                )?;
                for piece in split_pieces(&input, 3) {
                    sse(
                        w,
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    )?;
                }
            }
        }
        sse(
            w,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )?;
    }
    sse(
        w,
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": tokens.json(tokens.output)}),
    )?;
    sse(w, "message_stop", &json!({"type": "message_stop"}))?;
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

// ---------------------------------------------------------------------------------------------
// Self-tests (no CLI needed)
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one HTTP response: (status, lower-cased headers, body with chunking removed).
    fn read_response(r: &mut impl BufRead) -> (u16, Vec<(String, String)>, String) {
        let status_line = read_line(r).unwrap().unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            let l = read_line(r).unwrap().unwrap();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let get = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let size =
                    usize::from_str_radix(read_line(r).unwrap().unwrap().trim(), 16).unwrap();
                if size == 0 {
                    read_line(r).unwrap();
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                r.read_exact(&mut body[start..]).unwrap();
                read_line(r).unwrap();
            }
        } else {
            body.resize(get("content-length").unwrap().parse().unwrap(), 0);
            r.read_exact(&mut body).unwrap();
        }
        (status, headers, String::from_utf8(body).unwrap())
    }

    fn post(conn: &mut TcpStream, path: &str, body: &Value, chunked: bool) {
        let data = serde_json::to_vec(body).unwrap();
        if chunked {
            write!(
                conn,
                "POST {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            .unwrap();
            for piece in data.chunks(7) {
                write_chunk(conn, piece).unwrap();
            }
            conn.write_all(b"0\r\n\r\n").unwrap();
        } else {
            write!(
                conn,
                "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
                data.len()
            )
            .unwrap();
            conn.write_all(&data).unwrap();
        }
        conn.flush().unwrap();
    }

    /// Reassembles the content blocks of an SSE body.
    fn sse_blocks(body: &str) -> (String, Vec<Value>, String) {
        let mut model = String::new();
        let mut stop = String::new();
        let mut blocks: Vec<Value> = Vec::new();
        let mut partial: Vec<String> = Vec::new();
        for frame in body.split("\n\n").filter(|f| !f.is_empty()) {
            let mut lines = frame.lines();
            let event = lines
                .next()
                .unwrap()
                .strip_prefix("event: ")
                .unwrap()
                .to_string();
            let data: Value =
                serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap())
                    .unwrap();
            assert_eq!(data["type"], event.as_str());
            match event.as_str() {
                "message_start" => model = data["message"]["model"].as_str().unwrap().to_string(),
                "content_block_start" => {
                    blocks.push(data["content_block"].clone());
                    partial.push(String::new());
                }
                "content_block_delta" => {
                    let i = data["index"].as_u64().unwrap() as usize;
                    match data["delta"]["type"].as_str().unwrap() {
                        "text_delta" => {
                            let t = blocks[i]["text"].as_str().unwrap().to_string()
                                + data["delta"]["text"].as_str().unwrap();
                            blocks[i]["text"] = json!(t);
                        }
                        _ => partial[i].push_str(data["delta"]["partial_json"].as_str().unwrap()),
                    }
                }
                "content_block_stop" => {
                    let i = data["index"].as_u64().unwrap() as usize;
                    if blocks[i]["type"] == "tool_use" {
                        blocks[i]["input"] = serde_json::from_str(&partial[i]).unwrap();
                    }
                }
                "message_delta" => {
                    stop = data["delta"]["stop_reason"].as_str().unwrap().to_string()
                }
                _ => {}
            }
        }
        (model, blocks, stop)
    }

    fn script() -> Script {
        Script::new("claude-test-model")
            .turn(Turn::tool("Bash", json!({"command": "echo hi"})).with_text("Let me check."))
            .turn(Turn::tool("Agent", json!({"prompt": "SUB-1 do it"})))
            .turn(Turn::text("final"))
            .subagent_with_model("SUB-1", "claude-test-sub", vec![Turn::text("sub answer")])
    }

    #[test]
    fn fake_api_scripts_by_conversation_state() {
        let api = FakeApi::start(script());
        let conn = TcpStream::connect(("127.0.0.1", api.port())).unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut conn = conn;
        let tools = json!([{"name": "Bash", "input_schema": {"type": "object"}}]);

        // count_tokens, then a chunked streaming request, on one keep-alive connection.
        post(
            &mut conn,
            "/v1/messages/count_tokens?beta=true",
            &json!({"messages": []}),
            false,
        );
        let (status, _, body) = read_response(&mut reader);
        assert_eq!(
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap()["input_tokens"].as_u64()
            ),
            (200, Some(1200))
        );

        let first = json!({"role": "user", "content": [{"type": "text", "text": "please"}]});
        post(
            &mut conn,
            "/v1/messages?beta=true",
            &json!({"stream": true, "tools": tools, "messages": [first]}),
            true,
        );
        let (status, headers, body) = read_response(&mut reader);
        assert_eq!(status, 200);
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"))
        );
        let (model, blocks, stop) = sse_blocks(&body);
        assert_eq!(
            (model.as_str(), stop.as_str()),
            ("claude-test-model", "tool_use")
        );
        assert_eq!(blocks[0], json!({"type": "text", "text": "Let me check."}));
        let id0 = api.tool_use_id(&Conversation::Main, 0, 0);
        assert_eq!(
            blocks[1],
            json!({"type": "tool_use", "id": id0, "name": "Bash", "input": {"command": "echo hi"}})
        );

        // A side request in between does not advance the script.
        post(
            &mut conn,
            "/v1/messages",
            &json!({"messages": [{"role": "user", "content": "title?"}]}),
            false,
        );
        let (_, _, body) = read_response(&mut reader);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["content"][0]["text"],
            "OK"
        );

        // The history with tool_use 0 (denied: is_error) → turn 1, non-streaming.
        let history = json!([first,
            {"role": "assistant", "content": [{"type": "tool_use", "id": id0, "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id0, "is_error": true, "content": "blocked"}]},
            {"role": "system", "content": "reminder"}]);
        post(
            &mut conn,
            "/v1/messages",
            &json!({"tools": tools, "messages": history}),
            false,
        );
        let (_, _, body) = read_response(&mut reader);
        let msg: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (
                msg["stop_reason"].as_str(),
                msg["content"][0]["name"].as_str()
            ),
            (Some("tool_use"), Some("Agent"))
        );

        // The subagent conversation is recognised by its marker and has its own model.
        let sub = json!([{"role": "user", "content": "SUB-1 do it"}]);
        post(
            &mut conn,
            "/v1/messages",
            &json!({"stream": true, "tools": tools, "messages": sub}),
            false,
        );
        let (_, _, body) = read_response(&mut reader);
        let (model, blocks, stop) = sse_blocks(&body);
        assert_eq!(
            (model.as_str(), stop.as_str(), &blocks[0]["text"]),
            ("claude-test-sub", "end_turn", &json!("sub answer"))
        );

        let reqs = api.requests();
        let convs: Vec<_> = reqs
            .iter()
            .map(|r| (r.conversation.clone(), r.turn))
            .collect();
        assert_eq!(
            convs,
            vec![
                (Conversation::Other, None),
                (Conversation::Main, Some(0)),
                (Conversation::Side, None),
                (Conversation::Main, Some(1)),
                (Conversation::Subagent(0), Some(0)),
            ]
        );
        let res = api.tool_result(&id0).unwrap();
        assert!(res.is_error && res.text == "blocked", "{res:?}");
        assert!(api.dump().contains("is_error=true"));
    }
}
