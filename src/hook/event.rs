/*!
The hook events hookledger distinguishes, and which of them gate an action.

[`CATALOGUE`] lists every event Claude Code 2.1.332 has (34) and what hookledger does with
each; `docs/hook-events.md` is its human form, and a test keeps the two in step.
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
    /// A skill's or slash command's inline `` !`cmd` `` (Claude Code ≥ 2.1.332), before it runs.
    PreSkillShellCommand,
    PreModelSwitch,
    PostModelSwitch,
    ConfigChange,
    UserPromptExpansion,
    InstructionsLoaded,
    StopFailure,
    PostCompact,
    CwdChanged,
    DirectoryAdded,
    Setup,
    TaskCreated,
    TaskCompleted,
    Elicitation,
    ElicitationResult,
    /// Any event this build does not know: recorded generically, never rejected.
    Other(String),
}

/// What hookledger does with one of Claude Code's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Registered; the answer can refuse the action (and the registration says
    /// `onFailure: "block"`).
    Gate,
    /// Registered; recorded, never refused.
    Record,
    /// Deliberately not registered; the text says why.
    NotRegistered(&'static str),
}

/// One row of the event table.
#[derive(Debug, Clone, Copy)]
pub struct EventInfo {
    pub name: &'static str,
    pub handling: Handling,
    /// The record kind it produces (empty when not registered).
    pub record: &'static str,
}

const fn gate(name: &'static str, record: &'static str) -> EventInfo {
    EventInfo {
        name,
        handling: Handling::Gate,
        record,
    }
}

const fn record(name: &'static str, record: &'static str) -> EventInfo {
    EventInfo {
        name,
        handling: Handling::Record,
        record,
    }
}

const fn skip(name: &'static str, why: &'static str) -> EventInfo {
    EventInfo {
        name,
        handling: Handling::NotRegistered(why),
        record: "",
    }
}

/// Every event of Claude Code 2.1.332, alphabetically (the order of its own schema).
pub const CATALOGUE: &[EventInfo] = &[
    record("ConfigChange", "config-change"),
    record("CwdChanged", "cwd-changed"),
    record("DirectoryAdded", "directory-added"),
    record("Elicitation", "elicitation"),
    record("ElicitationResult", "elicitation-result"),
    skip(
        "FileChanged",
        "fires only for paths a hook asked to watch (`watchPaths`); hookledger watches none",
    ),
    record("InstructionsLoaded", "instructions-loaded"),
    skip(
        "MessageDisplay",
        "fires for every streamed piece of assistant text and changes only what the screen shows; the transcript holds the same text",
    ),
    record("Notification", "notification"),
    record("PermissionDenied", "permission-denied"),
    gate("PermissionRequest", "permission-request"),
    record("PostCompact", "post-compact"),
    record("PostModelSwitch", "model-switch"),
    skip(
        "PostToolBatch",
        "repeats the batch's PostToolUse events, which are recorded one by one",
    ),
    record("PostToolUse", "tool-result / edit"),
    record("PostToolUseFailure", "tool-failure"),
    record("PreCompact", "pre-compact"),
    record("PreModelSwitch", "model-switch-request"),
    gate("PreSkillShellCommand", "skill-shell-command"),
    gate("PreToolUse", "tool-call"),
    record("SessionEnd", "session-end"),
    record("SessionStart", "session-start"),
    record("Setup", "setup"),
    record("Stop", "stop"),
    record("StopFailure", "stop-failure"),
    record("SubagentStart", "subagent-start"),
    record("SubagentStop", "subagent-stop"),
    record("TaskCompleted", "task-completed"),
    record("TaskCreated", "task-created"),
    skip(
        "TeammateIdle",
        "an agent-team teammate going idle carries nothing to audit; its tool calls are recorded",
    ),
    record("UserPromptExpansion", "prompt-expansion"),
    gate("UserPromptSubmit", "prompt"),
    skip(
        "WorktreeCreate",
        "a command hook here replaces Claude Code's own worktree creation (it must print the path)",
    ),
    skip(
        "WorktreeRemove",
        "registered only together with WorktreeCreate, as a replacement for Claude Code's worktree handling",
    ),
];

/// Every event hookledger registers for, in the order its settings snippet lists them.
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
    "PreSkillShellCommand",
    "PreModelSwitch",
    "PostModelSwitch",
    "ConfigChange",
    "UserPromptExpansion",
    "InstructionsLoaded",
    "StopFailure",
    "PostCompact",
    "CwdChanged",
    "DirectoryAdded",
    "Setup",
    "TaskCreated",
    "TaskCompleted",
    "Elicitation",
    "ElicitationResult",
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
            "PreSkillShellCommand" => Self::PreSkillShellCommand,
            "PreModelSwitch" => Self::PreModelSwitch,
            "PostModelSwitch" => Self::PostModelSwitch,
            "ConfigChange" => Self::ConfigChange,
            "UserPromptExpansion" => Self::UserPromptExpansion,
            "InstructionsLoaded" => Self::InstructionsLoaded,
            "StopFailure" => Self::StopFailure,
            "PostCompact" => Self::PostCompact,
            "CwdChanged" => Self::CwdChanged,
            "DirectoryAdded" => Self::DirectoryAdded,
            "Setup" => Self::Setup,
            "TaskCreated" => Self::TaskCreated,
            "TaskCompleted" => Self::TaskCompleted,
            "Elicitation" => Self::Elicitation,
            "ElicitationResult" => Self::ElicitationResult,
            // Another case is still the event (the hook then refuses it as unexpected if it
            // gates), never a generic one that would let it through.
            other => match CATALOGUE
                .iter()
                .map(|known| known.name)
                .find(|known| *known != other && known.eq_ignore_ascii_case(other.trim()))
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
            Self::PreSkillShellCommand => "PreSkillShellCommand",
            Self::PreModelSwitch => "PreModelSwitch",
            Self::PostModelSwitch => "PostModelSwitch",
            Self::ConfigChange => "ConfigChange",
            Self::UserPromptExpansion => "UserPromptExpansion",
            Self::InstructionsLoaded => "InstructionsLoaded",
            Self::StopFailure => "StopFailure",
            Self::PostCompact => "PostCompact",
            Self::CwdChanged => "CwdChanged",
            Self::DirectoryAdded => "DirectoryAdded",
            Self::Setup => "Setup",
            Self::TaskCreated => "TaskCreated",
            Self::TaskCompleted => "TaskCompleted",
            Self::Elicitation => "Elicitation",
            Self::ElicitationResult => "ElicitationResult",
            Self::Other(name) => name,
        }
    }

    /// Events whose hook decides whether something happens. Any failure while handling one of
    /// these must become a refusal, because Claude Code lets every other failure through.
    pub fn is_gating(&self) -> bool {
        matches!(
            self,
            Self::PreToolUse
                | Self::UserPromptSubmit
                | Self::PermissionRequest
                | Self::PreSkillShellCommand
        )
    }

    /// Tool events carry `tool_use_id` and are attributed to the model turn that made the call.
    /// A skill's inline command is not one: its id names no tool call in the transcript.
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

/// Whether `event` is one of the names hookledger registers as a gate.
pub fn registers_as_gate(event: &str) -> bool {
    CATALOGUE
        .iter()
        .any(|e| e.name == event && e.handling == Handling::Gate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue names the kinds in words for `hookledger doctor` and the docs: each one
    /// is a kind the ledger vocabulary knows.
    #[test]
    fn catalogue_record_kinds_are_known_kinds() {
        for event in CATALOGUE {
            if matches!(event.handling, Handling::NotRegistered(_)) {
                continue;
            }
            for kind in event.record.split(" / ") {
                assert!(
                    crate::ledger::Kind::parse(kind).is_some(),
                    "{}: {kind} is not a Kind",
                    event.name
                );
            }
        }
    }

    #[test]
    fn catalogue_covers_claude_code_2_1_332() {
        assert_eq!(CATALOGUE.len(), 34);
        let mut names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort_unstable();
            s
        };
        assert_eq!(names, sorted, "alphabetical");
        names.dedup();
        assert_eq!(names.len(), 34, "no duplicates");
    }

    #[test]
    fn registered_events_are_the_catalogue_minus_the_skipped_ones() {
        let mut registered: Vec<&str> = REGISTERED_EVENTS.to_vec();
        registered.sort_unstable();
        let mut expected: Vec<&str> = CATALOGUE
            .iter()
            .filter(|e| !matches!(e.handling, Handling::NotRegistered(_)))
            .map(|e| e.name)
            .collect();
        expected.sort_unstable();
        assert_eq!(registered, expected);
        for name in REGISTERED_EVENTS {
            let kind = EventKind::from_name(name);
            assert_eq!(kind.name(), *name);
            assert!(!matches!(kind, EventKind::Other(_)), "{name} has a variant");
            assert_eq!(kind.is_gating(), registers_as_gate(name), "{name}");
        }
    }

    /// docs/hook-events.md is the catalogue for people: one row per event, with the same
    /// handling and record kind.
    #[test]
    fn the_docs_table_matches_the_catalogue() {
        let doc = include_str!("../../docs/hook-events.md");
        for event in CATALOGUE {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", event.name)))
                .unwrap_or_else(|| panic!("docs/hook-events.md has no row for {}", event.name));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let expected = match event.handling {
                Handling::Gate => "gate",
                Handling::Record => "record",
                Handling::NotRegistered(_) => "not registered",
            };
            assert_eq!(cells[2], expected, "{row}");
            if !event.record.is_empty() {
                for kind in event.record.split(" / ") {
                    assert!(cells[3].contains(&format!("`{kind}`")), "{row}");
                }
            }
        }
        let rows = doc.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(rows, CATALOGUE.len());
    }
}
