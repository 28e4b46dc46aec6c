/*!
What the hook says back to Claude Code: exit code, stdout and stderr.

Only exit 2 (or a well-formed JSON deny) blocks; every other failure lets the action through.
So a refusal is sent both ways — the event's JSON decision on stdout and exit 2 with the reason
on stderr — and "no opinion" is exit 0 with empty stdout: an explicit "allow" would override
the user's own ask rules.
*/

use serde_json::json;

use super::event::EventKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookAnswer {
    pub exit_code: u8,
    pub stdout: String,
    pub stderr: String,
}

pub const BLOCK_EXIT: u8 = 2;
/// A non-blocking error: Claude Code shows it in the transcript and carries on.
pub const WARN_EXIT: u8 = 1;

fn one_line(reason: &str) -> String {
    reason.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl HookAnswer {
    pub fn no_opinion() -> Self {
        HookAnswer {
            exit_code: 0,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// Refuses the gated action. For a non-gating event there is nothing to refuse, so this is
    /// a visible, non-blocking warning instead (exit 2 on Stop would keep the agent running).
    pub fn refuse(event: Option<&EventKind>, reason: &str) -> Self {
        let reason = one_line(reason);
        let stdout = match event {
            Some(EventKind::PreToolUse) => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason,
                }
            })
            .to_string(),
            // Claude Code ≥ 2.1.332: `deny` keeps the inline command from running; exit 2 alone
            // would too, the JSON carries the reason.
            Some(EventKind::PreSkillShellCommand) => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreSkillShellCommand",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason,
                }
            })
            .to_string(),
            Some(EventKind::UserPromptSubmit) => {
                json!({ "decision": "block", "reason": reason }).to_string()
            }
            Some(EventKind::PermissionRequest) => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PermissionRequest",
                    "decision": { "behavior": "deny", "message": reason },
                }
            })
            .to_string(),
            Some(_) => return Self::warn(&reason),
            // The event is unknown (unreadable payload, no hint): refuse without JSON, whose
            // shape would depend on the event.
            None => String::new(),
        };
        HookAnswer {
            exit_code: BLOCK_EXIT,
            stdout,
            stderr: format!("{reason}\n"),
        }
    }

    /// Asks the user to confirm a tool call (PreToolUse), or a skill's inline command
    /// (PreSkillShellCommand, where Claude Code cannot wait for an answer and so does not run
    /// it); elsewhere no opinion.
    pub fn ask(event: &EventKind, reason: &str) -> Self {
        if !matches!(
            event,
            EventKind::PreToolUse | EventKind::PreSkillShellCommand
        ) {
            return Self::no_opinion();
        }
        let stdout = json!({
            "hookSpecificOutput": {
                "hookEventName": event.name(),
                "permissionDecision": "ask",
                "permissionDecisionReason": one_line(reason),
            }
        })
        .to_string();
        HookAnswer {
            exit_code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    pub fn warn(reason: &str) -> Self {
        HookAnswer {
            exit_code: WARN_EXIT,
            stdout: String::new(),
            stderr: format!("{}\n", one_line(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_match_the_contract() {
        let a = HookAnswer::refuse(Some(&EventKind::PreToolUse), "no\nway");
        assert_eq!(a.exit_code, 2);
        assert_eq!(a.stderr, "no way\n");
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        let stop = HookAnswer::refuse(Some(&EventKind::Stop), "x");
        assert_eq!(stop.exit_code, 1);
        let unknown = HookAnswer::refuse(None, "x");
        assert_eq!((unknown.exit_code, unknown.stdout.as_str()), (2, ""));
    }

    #[test]
    fn skill_shell_commands_are_refused_and_asked_in_their_own_shape() {
        let a = HookAnswer::refuse(Some(&EventKind::PreSkillShellCommand), "no");
        assert_eq!(a.exit_code, 2);
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        assert_eq!(
            v["hookSpecificOutput"]["hookEventName"],
            "PreSkillShellCommand"
        );
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        let a = HookAnswer::ask(&EventKind::PreSkillShellCommand, "why");
        assert_eq!(a.exit_code, 0);
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "ask");
        assert_eq!(
            HookAnswer::ask(&EventKind::Stop, "x"),
            HookAnswer::no_opinion()
        );
    }
}
