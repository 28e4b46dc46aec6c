/*!
Hook payloads exactly as Claude Code sends them on stdin.

Fields come and go between Claude Code versions, so parsing requires nothing but a JSON object:
every accessor returns `Option`, a field of an unexpected type reads as absent, unknown fields
are kept, and the raw object is kept for the generic record. A *gating* event is different:
what it lacks cannot be judged, so [`HookPayload::tool_shape_problem`] and
[`HookPayload::prompt_shape_problem`] name the field a gate relies on that is missing or of
another type, and the hook answers with the policy's `on_error` (a renamed field in a future
Claude Code must not open the gate).
*/

use serde_json::{Map, Value};

/// Payloads past this size are refused rather than buffered without bound.
pub const MAX_PAYLOAD_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("empty hook payload on stdin (expected one JSON object)")]
    Empty,
    #[error("hook payload is larger than {} MiB", MAX_PAYLOAD_BYTES >> 20)]
    TooLarge,
    #[error("hook payload is not valid UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("hook payload is not valid JSON: {0}")]
    NotJson(String),
    #[error("hook payload is JSON but not an object")]
    NotObject,
}

#[derive(Debug, Clone, Default)]
pub struct HookPayload {
    pub raw: Map<String, Value>,
}

impl HookPayload {
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge);
        }
        let text =
            std::str::from_utf8(bytes).map_err(|e| PayloadError::NotUtf8(e.valid_up_to()))?;
        if text.trim().is_empty() {
            return Err(PayloadError::Empty);
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(raw)) => Ok(HookPayload { raw }),
            Ok(_) => Err(PayloadError::NotObject),
            Err(e) => Err(PayloadError::NotJson(e.to_string())),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }

    pub fn event_name(&self) -> Option<&str> {
        self.str("hook_event_name")
    }
    pub fn session_id(&self) -> Option<&str> {
        self.str("session_id")
    }
    pub fn transcript_path(&self) -> Option<&str> {
        self.str("transcript_path").filter(|p| !p.is_empty())
    }
    pub fn cwd(&self) -> Option<&str> {
        self.str("cwd")
    }
    pub fn tool_name(&self) -> Option<&str> {
        self.str("tool_name")
    }
    pub fn tool_use_id(&self) -> Option<&str> {
        self.str("tool_use_id")
    }
    pub fn agent_id(&self) -> Option<&str> {
        self.str("agent_id")
    }
    pub fn tool_input(&self) -> Option<&Map<String, Value>> {
        self.raw.get("tool_input").and_then(Value::as_object)
    }
    pub fn tool_response(&self) -> Option<&Value> {
        self.raw.get("tool_response")
    }
}

/// The type a tool-input field must have.
#[derive(Clone, Copy)]
enum Shape {
    Text,
    Edits,
}

/// One input field a tool's judgement rests on: (field, shape, required).
type Field = (&'static str, Shape, bool);

/// The input fields hookledger's judgement of each built-in tool rests on. An optional field
/// may be absent or null, never of another type.
const TOOL_FIELDS: &[(&str, &[Field])] = &[
    ("Read", &[("file_path", Shape::Text, true)]),
    (
        "Write",
        &[
            ("file_path", Shape::Text, true),
            ("content", Shape::Text, true),
        ],
    ),
    (
        "Edit",
        &[
            ("file_path", Shape::Text, true),
            ("old_string", Shape::Text, true),
            ("new_string", Shape::Text, true),
        ],
    ),
    (
        "MultiEdit",
        &[
            ("file_path", Shape::Text, true),
            ("edits", Shape::Edits, true),
        ],
    ),
    (
        "NotebookEdit",
        &[
            ("notebook_path", Shape::Text, true),
            ("new_source", Shape::Text, false),
        ],
    ),
    ("Bash", &[("command", Shape::Text, true)]),
    ("PowerShell", &[("command", Shape::Text, true)]),
    ("Monitor", &[("command", Shape::Text, false)]),
    (
        "Glob",
        &[("pattern", Shape::Text, true), ("path", Shape::Text, false)],
    ),
    (
        "Grep",
        &[
            ("pattern", Shape::Text, true),
            ("path", Shape::Text, false),
            ("glob", Shape::Text, false),
            ("output_mode", Shape::Text, false),
        ],
    ),
    ("LS", &[("path", Shape::Text, true)]),
];

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl HookPayload {
    /// For PreToolUse and PermissionRequest: the first field hookledger relies on that is
    /// missing or of another type, named; `None` when the payload has the expected shape.
    pub fn tool_shape_problem(&self) -> Option<String> {
        let tool = match self.raw.get("tool_name") {
            None => return Some("`tool_name` is missing".into()),
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Some("`tool_name` is empty".into());
            }
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Some(format!("`tool_name` is {}, not a string", type_name(other)));
            }
        };
        match self.raw.get("cwd") {
            Some(Value::String(c)) if std::path::Path::new(c).is_absolute() => {}
            Some(Value::String(c)) => {
                return Some(format!("`cwd` is {c:?}, not an absolute path"));
            }
            Some(other) => return Some(format!("`cwd` is {}, not a string", type_name(other))),
            None => return Some("`cwd` is missing".into()),
        }
        let input = match self.raw.get("tool_input") {
            None => return Some(format!("`tool_input` of {tool} is missing")),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Some(format!(
                    "`tool_input` of {tool} is {}, not an object",
                    type_name(other)
                ));
            }
        };
        let known = TOOL_FIELDS.iter().find(|(name, _)| *name == tool);
        let Some((_, fields)) = known else {
            // A known tool under another spelling would be judged as an unknown one.
            if let Some((name, _)) = TOOL_FIELDS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(tool.trim()))
            {
                return Some(format!("`tool_name` is {tool:?}, not {name:?}"));
            }
            return None;
        };
        for (field, shape, required) in *fields {
            let problem = match (input.get(*field), shape) {
                (None | Some(Value::Null), _) if !required => None,
                (None, _) => Some("is missing".to_owned()),
                (Some(Value::String(_)), Shape::Text) => None,
                (Some(Value::Array(edits)), Shape::Edits) => {
                    edits.iter().enumerate().find_map(|(i, edit)| {
                        ["old_string", "new_string"]
                            .iter()
                            .find_map(|k| match edit.get(k) {
                                Some(Value::String(_)) => None,
                                Some(other) => Some(format!(
                                    "has edit {i} whose `{k}` is {}, not a string",
                                    type_name(other)
                                )),
                                None => Some(format!("has edit {i} without `{k}`")),
                            })
                    })
                }
                (Some(other), Shape::Text) => {
                    Some(format!("is {}, not a string", type_name(other)))
                }
                (Some(other), Shape::Edits) => {
                    Some(format!("is {}, not an array of edits", type_name(other)))
                }
            };
            if let Some(problem) = problem {
                return Some(format!("`tool_input.{field}` of {tool} {problem}"));
            }
        }
        None
    }

    /// For UserPromptSubmit: `prompt` must be there, as text.
    pub fn prompt_shape_problem(&self) -> Option<String> {
        match self.raw.get("prompt") {
            Some(Value::String(_)) => None,
            Some(other) => Some(format!("`prompt` is {}, not a string", type_name(other))),
            None => Some("`prompt` is missing".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_about_types_and_unknown_fields() {
        let p = HookPayload::parse(
            br#"{"hook_event_name":"PreToolUse","session_id":5,"new_field":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(p.event_name(), Some("PreToolUse"));
        assert_eq!(p.session_id(), None);
        assert!(p.get("new_field").is_some());
    }

    #[test]
    fn gating_shapes_name_the_field() {
        let shape = |json: &str| {
            HookPayload::parse(json.as_bytes())
                .unwrap()
                .tool_shape_problem()
        };
        let ok = r#"{"cwd":"/w","tool_name":"Read","tool_input":{"file_path":"/w/a","future":1},"extra":{}}"#;
        assert_eq!(shape(ok), None, "unknown fields are accepted");
        for (json, field) in [
            (r#"{"cwd":"/w","tool_input":{}}"#, "`tool_name`"),
            (
                r#"{"cwd":"/w","tool_name":"","tool_input":{}}"#,
                "`tool_name`",
            ),
            (
                r#"{"cwd":"/w","tool_name":7,"tool_input":{}}"#,
                "`tool_name`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"Read","tool_input":"x"}"#,
                "`tool_input`",
            ),
            (r#"{"cwd":"/w","tool_name":"Read"}"#, "`tool_input`"),
            (
                r#"{"cwd":"/w","tool_name":"Read","tool_input":{"path":"/a"}}"#,
                "`tool_input.file_path`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"Read","tool_input":{"file_path":["/a"]}}"#,
                "`tool_input.file_path`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"Bash","tool_input":{"cmd":"ls"}}"#,
                "`tool_input.command`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"Edit","tool_input":{"file_path":"/a","old_string":"a","new_string":1}}"#,
                "`tool_input.new_string`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"MultiEdit","tool_input":{"file_path":"/a","edits":[{"old_string":"a"}]}}"#,
                "`tool_input.edits`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"Grep","tool_input":{"pattern":"x","path":5}}"#,
                "`tool_input.path`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"bash","tool_input":{"command":"ls"}}"#,
                "`tool_name`",
            ),
            (
                r#"{"cwd":"/w","tool_name":"Read ","tool_input":{"file_path":"/a"}}"#,
                "`tool_name`",
            ),
            (
                r#"{"tool_name":"Bash","tool_input":{"command":"ls"}}"#,
                "`cwd`",
            ),
            (
                r#"{"cwd":"rel","tool_name":"Bash","tool_input":{"command":"ls"}}"#,
                "`cwd`",
            ),
        ] {
            let problem = shape(json).unwrap_or_else(|| panic!("{json} passed"));
            assert!(problem.contains(field), "{json}: {problem}");
        }
        let prompt = |json: &str| {
            HookPayload::parse(json.as_bytes())
                .unwrap()
                .prompt_shape_problem()
        };
        assert_eq!(prompt(r#"{"prompt":"hi"}"#), None);
        assert!(prompt(r#"{"prompt":["hi"]}"#).unwrap().contains("`prompt`"));
        assert!(prompt(r#"{"text":"hi"}"#).unwrap().contains("`prompt`"));
    }

    #[test]
    fn bad_inputs_have_distinct_errors() {
        assert_eq!(HookPayload::parse(b"").unwrap_err(), PayloadError::Empty);
        assert_eq!(HookPayload::parse(b" \n").unwrap_err(), PayloadError::Empty);
        assert_eq!(
            HookPayload::parse(b"[1]").unwrap_err(),
            PayloadError::NotObject
        );
        assert_eq!(
            HookPayload::parse(b"{\"a\":\xff}").unwrap_err(),
            PayloadError::NotUtf8(5)
        );
        assert!(matches!(
            HookPayload::parse(b"{\"a\":").unwrap_err(),
            PayloadError::NotJson(_)
        ));
    }
}
