/*!
The hook events hookledger distinguishes, and which of them gate an action.
*/

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    SessionStart,
    UserPromptSubmit,
    PreToolUse,
    PostToolUse,
    PostToolUseFailure,
    PermissionRequest,
    PermissionDenied,
    Stop,
    SubagentStart,
    SubagentStop,
    PreCompact,
    Notification,
    SessionEnd,
    /// Any event this build does not know: recorded generically, never rejected.
    Other(String),
}

/// Every event hookledger registers for, in the order Claude Code documents them.
pub const REGISTERED_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "PreCompact",
    "SessionEnd",
];

impl EventKind {
    pub fn from_name(name: &str) -> Self {
        match name {
            "SessionStart" => Self::SessionStart,
            "UserPromptSubmit" => Self::UserPromptSubmit,
            "PreToolUse" => Self::PreToolUse,
            "PostToolUse" => Self::PostToolUse,
            "PostToolUseFailure" => Self::PostToolUseFailure,
            "PermissionRequest" => Self::PermissionRequest,
            "PermissionDenied" => Self::PermissionDenied,
            "Stop" => Self::Stop,
            "SubagentStart" => Self::SubagentStart,
            "SubagentStop" => Self::SubagentStop,
            "PreCompact" => Self::PreCompact,
            "Notification" => Self::Notification,
            "SessionEnd" => Self::SessionEnd,
            // Another case is still the event (the hook then refuses it as unexpected if it
            // gates), never a generic one that would let it through.
            other => match REGISTERED_EVENTS
                .iter()
                .find(|known| known.eq_ignore_ascii_case(other.trim()))
            {
                Some(known) => Self::from_name(known),
                None => Self::Other(other.to_owned()),
            },
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::SessionStart => "SessionStart",
            Self::UserPromptSubmit => "UserPromptSubmit",
            Self::PreToolUse => "PreToolUse",
            Self::PostToolUse => "PostToolUse",
            Self::PostToolUseFailure => "PostToolUseFailure",
            Self::PermissionRequest => "PermissionRequest",
            Self::PermissionDenied => "PermissionDenied",
            Self::Stop => "Stop",
            Self::SubagentStart => "SubagentStart",
            Self::SubagentStop => "SubagentStop",
            Self::PreCompact => "PreCompact",
            Self::Notification => "Notification",
            Self::SessionEnd => "SessionEnd",
            Self::Other(name) => name,
        }
    }

    /// Events whose hook decides whether something happens. Any failure while handling one of
    /// these must become a refusal, because Claude Code lets every other failure through.
    pub fn is_gating(&self) -> bool {
        matches!(
            self,
            Self::PreToolUse | Self::UserPromptSubmit | Self::PermissionRequest
        )
    }

    /// Tool events carry `tool_use_id` and are attributed to the model turn that made the call.
    pub fn is_tool_event(&self) -> bool {
        matches!(
            self,
            Self::PreToolUse
                | Self::PostToolUse
                | Self::PostToolUseFailure
                | Self::PermissionRequest
                | Self::PermissionDenied
        )
    }
}
