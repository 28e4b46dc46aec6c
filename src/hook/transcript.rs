/*!
Reads the model id and Claude Code version from the tail of a session transcript.

Tool-hook payloads do not carry the model; the transcript's assistant entries do
(`message.model`), and every entry carries the CLI `version`. Transcripts grow to tens of MB,
so this reads backwards from the end in fixed chunks and stops at a byte budget: its cost does
not depend on the transcript's size.
*/

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

const CHUNK: u64 = 64 << 10;
/// How far back to look. The entry for the current tool call is normally within the last few
/// KB; the budget bounds the cost when it is not there (the transcript is written lazily).
pub const DEFAULT_BUDGET: u64 = 1 << 20;

/// Claude Code writes this model id on local messages (errors, quota notices), not API replies.
const SYNTHETIC_MODEL: &str = "<synthetic>";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptFacts {
    /// The model of the assistant entry that carries the requested `tool_use_id`.
    pub tool_use_model: Option<String>,
    /// The model of the newest non-synthetic assistant entry.
    pub latest_model: Option<String>,
    /// The `version` of the newest entry that has one.
    pub cli_version: Option<String>,
}

impl TranscriptFacts {
    fn complete(&self, want_tool_use: bool) -> bool {
        self.latest_model.is_some()
            && self.cli_version.is_some()
            && (!want_tool_use || self.tool_use_model.is_some())
    }
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: Option<String>,
    version: Option<String>,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    model: Option<String>,
}

/// Where Claude Code keeps a subagent's transcript, next to the session's.
pub fn subagent_transcript(session_transcript: &Path, agent_id: &str) -> PathBuf {
    session_transcript
        .with_extension("")
        .join("subagents")
        .join(format!("agent-{agent_id}.jsonl"))
}

/// Calls `visit` on each complete line from the end of the file backwards, until it returns
/// `false` or `budget` bytes have been read.
fn for_each_line_backwards(
    path: &Path,
    budget: u64,
    mut visit: impl FnMut(&[u8]) -> bool,
) -> std::io::Result<()> {
    // Opened without blocking and only if regular: a FIFO or a device named as the transcript
    // must not hang the hook, and a huge file is read only as far back as the budget.
    let mut file = crate::ledger::bounded::open_regular(path, false)?;
    let len = file.metadata()?.len();
    let mut end = len;
    // Bytes of a line that started before the chunk read last.
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 && len - end < budget {
        let start = end.saturating_sub(CHUNK);
        let mut window = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut window)?;
        window.extend_from_slice(&carry);
        let mut line_end = window.len();
        while let Some(newline) = memchr::memrchr(b'\n', &window[..line_end]) {
            if !visit(&window[newline + 1..line_end]) {
                return Ok(());
            }
            line_end = newline;
        }
        if start == 0 {
            visit(&window[..line_end]);
        }
        window.truncate(line_end);
        carry = window;
        end = start;
    }
    Ok(())
}

pub fn scan(
    path: &Path,
    tool_use_id: Option<&str>,
    budget: u64,
) -> std::io::Result<TranscriptFacts> {
    let mut facts = TranscriptFacts::default();
    let needle = tool_use_id.map(|id| format!("\"{id}\""));
    let want_tool_use = needle.is_some();
    for_each_line_backwards(path, budget, |line| {
        inspect_line(line, needle.as_deref(), &mut facts);
        !facts.complete(want_tool_use)
    })?;
    Ok(facts)
}

/// Subagent transcripts a Stop looks at: the most recently written ones, each read only
/// this far back, so a session with many subagents keeps a bounded Stop.
pub const SUBAGENT_TRANSCRIPTS: usize = 16;
pub const SUBAGENT_BUDGET: u64 = 256 << 10;
/// Directory entries looked at when finding them.
const SUBAGENT_DIR_ENTRIES: usize = 4096;

/// The session's subagent transcripts, newest first, at most [`SUBAGENT_TRANSCRIPTS`].
pub fn recent_subagent_transcripts(session_transcript: &Path) -> Vec<PathBuf> {
    let dir = session_transcript.with_extension("").join("subagents");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        // A directory of millions of entries must not make Stop slow.
        .take(SUBAGENT_DIR_ENTRIES)
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files
        .into_iter()
        .take(SUBAGENT_TRANSCRIPTS)
        .map(|(_, p)| p)
        .collect()
}

/// The most recently written session transcripts under Claude Code's `projects` directory
/// (`<project>/<session>.jsonl`), newest first, at most `count`.
pub fn recent_session_transcripts(projects_dir: &Path, count: usize) -> Vec<PathBuf> {
    let Ok(projects) = std::fs::read_dir(projects_dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = projects
        .filter_map(Result::ok)
        .filter_map(|project| std::fs::read_dir(project.path()).ok())
        .flat_map(|entries| entries.filter_map(Result::ok))
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files.into_iter().take(count).map(|(_, p)| p).collect()
}

/// At most this many tool calls are attested per turn.
pub const MAX_ATTESTED_TOOL_USES: usize = 1000;

#[derive(Deserialize)]
struct ToolUseEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<ToolUseMessage>,
}

#[derive(Deserialize)]
struct ToolUseMessage {
    model: Option<String>,
    #[serde(default)]
    content: Option<Vec<ContentBlock>>,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
}

/// Which model made each tool call in the transcript's tail, oldest first.
///
/// At PreToolUse the entry for the call being made is usually not on disk yet (Claude Code
/// flushes the transcript about 100 ms later), so a hook can only go by earlier entries. At
/// Stop every call of the turn is on disk: this attestation settles it.
pub fn tool_use_models(path: &Path, budget: u64) -> std::io::Result<Vec<(String, String)>> {
    let mut found: Vec<(String, String)> = Vec::new();
    for_each_line_backwards(path, budget, |line| {
        if memchr::memmem::find(line, b"\"tool_use\"").is_none() {
            return true;
        }
        let Ok(entry) = serde_json::from_slice::<ToolUseEntry>(line.trim_ascii()) else {
            return true;
        };
        if entry.kind.as_deref() != Some("assistant") {
            return true;
        }
        let Some(message) = entry.message else {
            return true;
        };
        let Some(model) = message.model.filter(|m| m != SYNTHETIC_MODEL) else {
            return true;
        };
        for block in message.content.unwrap_or_default().into_iter().rev() {
            if let (Some("tool_use"), Some(id)) = (block.kind.as_deref(), block.id)
                && !found.iter().any(|(seen, _)| *seen == id)
            {
                found.push((id, model.clone()));
            }
        }
        found.len() < MAX_ATTESTED_TOOL_USES
    })?;
    found.reverse();
    Ok(found)
}

/// What the end of a turn attests, from one backwards pass over the transcript's tail: the
/// model of each tool call (as [`tool_use_models`]) and the tokens each model used in the turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnFacts {
    pub tool_models: Vec<(String, String)>,
    /// Per model, in the order each model first answered in the turn.
    pub usage: Vec<crate::ledger::record::ModelUsage>,
    /// The model of the turn's newest assistant message.
    pub model: Option<String>,
    /// Whether the pass reached the turn's start (its prompt) within the budget.
    pub complete: bool,
}

#[derive(Deserialize)]
struct TurnEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "isMeta", default)]
    is_meta: Option<bool>,
    #[serde(rename = "promptId", default)]
    prompt_id: Option<String>,
    #[serde(rename = "requestId", default)]
    request_id: Option<String>,
    message: Option<TurnMessage>,
}

#[derive(Deserialize)]
struct TurnMessage {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    content: Option<Content>,
}

/// A message's `content` as the turn pass needs it: a plain string (a typed prompt), or the
/// type and id of each block; block bodies (tool inputs, results) are skipped, not built.
enum Content {
    Text,
    Blocks(Vec<ContentBlock>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Content;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Content, E> {
                Ok(Content::Text)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Content, A::Error> {
                let mut blocks = Vec::new();
                while let Some(block) = seq.next_element::<ContentBlock>()? {
                    blocks.push(block);
                }
                Ok(Content::Blocks(blocks))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

/// Whether a user entry is the prompt that opened a turn: not a tool result, not a meta entry
/// (Claude Code's caveats and command outputs), or one of another prompt than this turn's.
fn opens_turn(entry: &TurnEntry, prompt_id: Option<&str>) -> bool {
    if entry.is_meta == Some(true) {
        return false;
    }
    if let (Some(this), Some(theirs)) = (prompt_id, entry.prompt_id.as_deref())
        && this != theirs
    {
        return true;
    }
    match entry.message.as_ref().and_then(|m| m.content.as_ref()) {
        Some(Content::Text) => true,
        Some(Content::Blocks(blocks)) => !blocks
            .iter()
            .any(|b| b.kind.as_deref() == Some("tool_result")),
        None => false,
    }
}

/// One backwards pass for a turn's closing record: tool-call models over the whole budget (a
/// call's entry may be older than the turn when a subagent ran long), usage until the turn's
/// prompt. `prompt_id` is the turn's, when the payload names it.
pub fn turn_facts(path: &Path, budget: u64, prompt_id: Option<&str>) -> std::io::Result<TurnFacts> {
    let mut facts = TurnFacts::default();
    let mut seen_messages: Vec<String> = Vec::new();
    // For each model of `facts.usage`: when (counting backwards) its earliest message was seen.
    let mut earliest: Vec<usize> = Vec::new();
    let mut counted_messages = 0usize;
    let mut in_turn = true;
    for_each_line_backwards(path, budget, |line| {
        let line = line.trim_ascii();
        let has_tool_use = memchr::memmem::find(line, b"\"tool_use\"").is_some();
        let is_user = in_turn && memchr::memmem::find(line, b"\"type\":\"user\"").is_some();
        // A tool result is never a turn's start, and may be large: not parsed.
        let is_result = is_user && memchr::memmem::find(line, b"\"tool_result\"").is_some();
        let has_usage = in_turn && memchr::memmem::find(line, b"\"usage\"").is_some();
        if !(has_tool_use || (is_user && !is_result) || has_usage) {
            return true;
        }
        let Ok(entry) = serde_json::from_slice::<TurnEntry>(line) else {
            return true;
        };
        match entry.kind.as_deref() {
            Some("user") if in_turn && !is_result && opens_turn(&entry, prompt_id) => {
                in_turn = false;
                facts.complete = true;
            }
            Some("assistant") => {
                let Some(message) = entry.message else {
                    return true;
                };
                let Some(model) = message.model.filter(|m| m != SYNTHETIC_MODEL) else {
                    return true;
                };
                if has_tool_use && let Some(Content::Blocks(blocks)) = &message.content {
                    for block in blocks.iter().rev() {
                        if let (Some("tool_use"), Some(id)) = (block.kind.as_deref(), &block.id)
                            && !facts.tool_models.iter().any(|(seen, _)| seen == id)
                            && facts.tool_models.len() < MAX_ATTESTED_TOOL_USES
                        {
                            facts.tool_models.push((id.to_owned(), model.clone()));
                        }
                    }
                }
                if in_turn {
                    if facts.model.is_none() {
                        facts.model = Some(model.clone());
                    }
                    // Each message once: one line per content block repeats its usage.
                    let key = message.id.or(entry.request_id);
                    let counted = key.as_ref().is_some_and(|k| seen_messages.contains(k));
                    if let (false, Some(usage)) = (counted, message.usage) {
                        if let Some(key) = key {
                            seen_messages.push(key);
                        }
                        let index = add_usage(&mut facts.usage, &model, &usage);
                        counted_messages += 1;
                        match earliest.get_mut(index) {
                            Some(at) => *at = counted_messages,
                            None => earliest.push(counted_messages),
                        }
                    }
                }
            }
            _ => {}
        }
        in_turn || facts.tool_models.len() < MAX_ATTESTED_TOOL_USES
    })?;
    facts.tool_models.reverse();
    // Read backwards; listed in the order the models first answered in the turn.
    let mut ordered: Vec<_> = earliest.into_iter().zip(facts.usage).collect();
    ordered.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    facts.usage = ordered.into_iter().map(|(_, u)| u).collect();
    Ok(facts)
}

/// Adds one message's usage to its model's totals; returns the model's index.
fn add_usage(
    totals: &mut Vec<crate::ledger::record::ModelUsage>,
    model: &str,
    usage: &Usage,
) -> usize {
    let index = match totals.iter().position(|u| u.model == model) {
        Some(index) => index,
        None => {
            totals.push(crate::ledger::record::ModelUsage {
                model: model.to_owned(),
                ..Default::default()
            });
            totals.len() - 1
        }
    };
    let total = &mut totals[index];
    let add = |sum: &mut u64, n: Option<u64>| *sum = sum.saturating_add(n.unwrap_or(0));
    add(&mut total.input_tokens, usage.input_tokens);
    add(&mut total.output_tokens, usage.output_tokens);
    add(
        &mut total.cache_read_input_tokens,
        usage.cache_read_input_tokens,
    );
    add(
        &mut total.cache_creation_input_tokens,
        usage.cache_creation_input_tokens,
    );
    total.messages += 1;
    index
}

fn inspect_line(line: &[u8], tool_use_needle: Option<&str>, facts: &mut TranscriptFacts) {
    let line = line.trim_ascii();
    if line.is_empty() {
        return;
    }
    let is_assistant = memchr::memmem::find(line, b"\"assistant\"").is_some();
    // Only parse what can add a fact: parsing skips large tool inputs but still scans them.
    if !is_assistant && facts.cli_version.is_some() {
        return;
    }
    let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
        return;
    };
    if facts.cli_version.is_none() {
        facts.cli_version = entry.version;
    }
    if entry.kind.as_deref() != Some("assistant") {
        return;
    }
    let Some(model) = entry
        .message
        .and_then(|m| m.model)
        .filter(|m| m != SYNTHETIC_MODEL)
    else {
        return;
    };
    if facts.tool_use_model.is_none()
        && tool_use_needle.is_some_and(|n| memchr::memmem::find(line, n.as_bytes()).is_some())
    {
        facts.tool_use_model = Some(model.clone());
    }
    if facts.latest_model.is_none() {
        facts.latest_model = Some(model);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn assistant(model: &str, tool_use_id: &str, pad: usize) -> String {
        format!(
            r#"{{"type":"assistant","version":"2.1.328","message":{{"model":"{model}","content":[{{"type":"tool_use","id":"{tool_use_id}","input":{{"content":"{}"}}}}]}}}}"#,
            "x".repeat(pad)
        )
    }

    fn transcript(lines: &[String]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for line in lines {
            writeln!(f, "{line}").unwrap();
        }
        f
    }

    #[test]
    fn tool_use_model_beats_newer_entries() {
        let f = transcript(&[
            assistant("claude-a", "toolu_1", 10),
            assistant("claude-b", "toolu_2", 200_000),
            r#"{"type":"assistant","version":"2.1.329","message":{"model":"<synthetic>"}}"#.into(),
            r#"{"type":"user","version":"2.1.330","message":{"content":"toolu_1 mentioned"}}"#
                .into(),
        ]);
        let facts = scan(f.path(), Some("toolu_1"), DEFAULT_BUDGET).unwrap();
        assert_eq!(facts.tool_use_model.as_deref(), Some("claude-a"));
        assert_eq!(facts.latest_model.as_deref(), Some("claude-b"));
        assert_eq!(facts.cli_version.as_deref(), Some("2.1.330"));
    }

    #[test]
    fn budget_bounds_the_search() {
        let f = transcript(&[
            assistant("claude-old", "toolu_old", 10),
            assistant("claude-new", "toolu_new", (3 * DEFAULT_BUDGET) as usize),
        ]);
        let facts = scan(f.path(), Some("toolu_old"), DEFAULT_BUDGET).unwrap();
        assert_eq!(facts.tool_use_model, None);
    }

    #[test]
    fn missing_final_newline_and_garbage_lines() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(
            f,
            "not json\n{}\n{{\"type\":\"assistant\",\"message\":{{\"model\":\"m2\"}}}}",
            assistant("m1", "t", 1)
        )
        .unwrap();
        let facts = scan(f.path(), None, DEFAULT_BUDGET).unwrap();
        assert_eq!(facts.latest_model.as_deref(), Some("m2"));
        assert_eq!(facts.cli_version.as_deref(), Some("2.1.328"));
    }

    #[test]
    fn attests_every_tool_use_in_order() {
        let f = transcript(&[
            assistant("claude-a", "toolu_1", 10),
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"toolu_1"}]}}"#.into(),
            assistant("claude-b", "toolu_2", 10),
            r#"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"tool_use","id":"toolu_x"}]}}"#.into(),
        ]);
        let models = tool_use_models(f.path(), DEFAULT_BUDGET).unwrap();
        assert_eq!(
            models,
            [
                ("toolu_1".to_owned(), "claude-a".to_owned()),
                ("toolu_2".to_owned(), "claude-b".to_owned())
            ]
        );
    }

    fn message(id: &str, model: &str, blocks: &str, usage: (u64, u64, u64, u64)) -> String {
        format!(
            r#"{{"type":"assistant","requestId":"req_{id}","message":{{"id":"{id}","model":"{model}","content":[{blocks}],"usage":{{"input_tokens":{},"output_tokens":{},"cache_read_input_tokens":{},"cache_creation_input_tokens":{},"service_tier":"standard"}}}}}}"#,
            usage.0, usage.1, usage.2, usage.3
        )
    }

    #[test]
    fn turn_usage_is_summed_per_model_once_per_message_back_to_the_prompt() {
        let f = transcript(&[
            r#"{"type":"user","promptId":"p0","message":{"role":"user","content":"first"}}"#.into(),
            message("msg_0", "claude-a", r#"{"type":"text","text":"hi"}"#, (999, 999, 999, 999)),
            r#"{"type":"user","promptId":"p1","message":{"role":"user","content":[{"type":"text","text":"second"}]}}"#.into(),
            r#"{"type":"user","isMeta":true,"promptId":"p1","message":{"role":"user","content":"caveat"}}"#.into(),
            // Two content blocks of one message: two lines, one usage.
            message("msg_1", "claude-a", r#"{"type":"text","text":"ok"}"#, (10, 20, 300, 4)),
            message("msg_1", "claude-a", r#"{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}"#, (10, 20, 300, 4)),
            r#"{"type":"user","promptId":"p1","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"out"}]}}"#.into(),
            message("msg_2", "claude-b", r#"{"type":"tool_use","id":"toolu_2","name":"Read","input":{}}"#, (11, 21, 301, 5)),
            r#"{"type":"assistant","message":{"id":"msg_s","model":"<synthetic>","content":[],"usage":{"input_tokens":5}}}"#.into(),
            message("msg_3", "claude-a", r#"{"type":"text","text":"done"}"#, (12, 22, 302, 6)),
        ]);
        let facts = turn_facts(f.path(), DEFAULT_BUDGET, Some("p1")).unwrap();
        assert!(facts.complete);
        assert_eq!(facts.model.as_deref(), Some("claude-a"));
        let usage = |model: &str, i, o, r, c, m| crate::ledger::record::ModelUsage {
            model: model.into(),
            input_tokens: i,
            output_tokens: o,
            cache_read_input_tokens: r,
            cache_creation_input_tokens: c,
            messages: m,
        };
        assert_eq!(
            facts.usage,
            [
                usage("claude-a", 22, 42, 602, 10, 2),
                usage("claude-b", 11, 21, 301, 5, 1)
            ],
            "in the order the models first answered"
        );
        assert_eq!(
            facts.tool_models,
            [
                ("toolu_1".to_owned(), "claude-a".to_owned()),
                ("toolu_2".to_owned(), "claude-b".to_owned())
            ]
        );
        // Without the prompt id the prompt entry still closes the turn.
        assert_eq!(
            turn_facts(f.path(), DEFAULT_BUDGET, None).unwrap().usage,
            facts.usage
        );
    }

    #[test]
    fn a_turn_longer_than_the_budget_is_partial() {
        let f = transcript(&[
            r#"{"type":"user","message":{"content":"go"}}"#.into(),
            message("msg_1", "m", r#"{"type":"text","text":"a"}"#, (1, 1, 1, 1)),
            format!(
                r#"{{"type":"user","message":{{"content":[{{"type":"tool_result","content":"{}"}}]}}}}"#,
                "x".repeat(300_000)
            ),
            message("msg_2", "m", r#"{"type":"text","text":"b"}"#, (2, 2, 2, 2)),
        ]);
        let facts = turn_facts(f.path(), 128 << 10, None).unwrap();
        assert!(!facts.complete);
        assert_eq!(facts.usage.len(), 1);
        assert_eq!(facts.usage[0].input_tokens, 2);
        let whole = turn_facts(f.path(), DEFAULT_BUDGET, None).unwrap();
        assert!(whole.complete);
        assert_eq!(whole.usage[0].input_tokens, 3);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("t.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path that lives through the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Would block forever in open(2) without O_NONBLOCK, and in read(2) after it.
        assert!(scan(&fifo, None, DEFAULT_BUDGET).is_err());
        assert!(tool_use_models(&fifo, DEFAULT_BUDGET).is_err());
        assert!(scan(Path::new("/dev/zero"), None, DEFAULT_BUDGET).is_err());
    }

    #[test]
    fn subagent_path_layout() {
        let p = subagent_transcript(Path::new("/h/.claude/projects/p/abc.jsonl"), "a1");
        assert_eq!(
            p,
            Path::new("/h/.claude/projects/p/abc/subagents/agent-a1.jsonl")
        );
    }
}
