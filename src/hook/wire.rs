/*!
Hook payloads exactly as Claude Code sends them on stdin.

Fields come and go between Claude Code versions, so nothing here is required except that the
payload is a JSON object: every accessor returns `Option`, a field of an unexpected type reads
as absent, and the raw object is kept for the generic record.
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
