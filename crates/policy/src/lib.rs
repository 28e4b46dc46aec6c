/*!
hookledger's policy: every gating decision and the rules that make them — policy files and
layers ([`file`]), evaluation ([`eval`]), paths ([`paths`]), DLP ([`dlp`]), the shell analyser
([`shell`]), git remotes and hook settings ([`git`], [`gitconfig`]), self-protection
([`protect`], [`protected`]) and the OS sandbox it compiles ([`sandbox`]). [`repo`] holds the
repository facts a decision needs and [`places`] where Claude Code keeps its files.

Every gating decision carries a stable kebab-case rule code: codes are API, matched by SIEM
rules and auditors, and are never renamed.
*/

pub mod dlp;
pub mod eval;
pub mod file;
pub mod git;
pub mod gitconfig;
pub mod paths;
pub mod places;
pub mod protect;
pub mod protected;
pub mod repo;
pub mod sandbox;
pub mod shell;

use serde::Serialize;

pub use eval::{Access, Policy, Target};

/// Ordered by strictness: deny > ask > allow, so the strictest of several is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Allow,
    Ask,
    Deny,
}

/// Where the rule that decided came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    Managed,
    User,
    BuiltIn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub action: Action,
    pub rule: &'static str,
    pub layer: Layer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    pub reason: String,
    /// False in audit mode: the verdict is recorded but not acted on.
    pub enforced: bool,
}

impl Action {
    /// The recorded (serde) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Ask => "ask",
            Action::Deny => "deny",
        }
    }
}

impl Layer {
    /// The recorded (serde) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::Managed => "managed",
            Layer::User => "user",
            Layer::BuiltIn => "built-in",
        }
    }
}

impl Decision {
    /// The decision as the ledger records it.
    pub fn view(&self) -> hookledger_ledger::record::DecisionView {
        hookledger_ledger::record::DecisionView {
            action: Some(self.action.as_str().to_owned()),
            rule: Some(self.rule.to_owned()),
            layer: Some(self.layer.as_str().to_owned()),
            pattern: self.pattern.clone(),
            reason: Some(self.reason.clone()),
            enforced: Some(self.enforced),
            rest: serde_json::Map::new(),
        }
    }
}

pub mod rules {
    //! The rule codes. Adding one is fine; renaming or reusing one breaks consumers.
    /// No policy file exists: everything is recorded, nothing is refused.
    pub const NO_POLICY: &str = "no-policy";
    /// The hook could not handle the event (bad payload, internal error) and failed closed.
    pub const HOOK_ERROR: &str = "hook-error";
    /// The event could be neither written to the ledger nor spooled.
    pub const LEDGER_UNAVAILABLE: &str = "ledger-unavailable";
    /// The hook did not decide within its internal deadline and refused.
    pub const DEADLINE_EXCEEDED: &str = "deadline-exceeded";
    /// A policy file is present but unreadable or invalid; `on_error` decided.
    pub const POLICY_ERROR: &str = "policy-error";
    /// A policy is configured and no rule matched.
    pub const NO_MATCH: &str = "no-match";
    /// Built in, cannot be switched off: the ledger, keys, policies, settings and hook shims.
    pub const SELF_PROTECTION: &str = "self-protection";
    pub const PATH_DENY_READ: &str = "path-deny-read";
    pub const PATH_ASK_READ: &str = "path-ask-read";
    pub const PATH_DENY_WRITE: &str = "path-deny-write";
    pub const PATH_ASK_WRITE: &str = "path-ask-write";
    pub const OUTSIDE_REPOSITORY_READ: &str = "outside-repository-read";
    pub const OUTSIDE_REPOSITORY_WRITE: &str = "outside-repository-write";
    pub const REPOSITORY_DENIED: &str = "repository-denied";
    pub const REPOSITORY_NOT_ALLOWED: &str = "repository-not-allowed";
    pub const TOOL_DENY: &str = "tool-deny";
    pub const TOOL_ASK: &str = "tool-ask";
    pub const PROMPT_SECRET: &str = "prompt-secret";
    pub const CONTENT_SECRET: &str = "content-secret";
    /// The effect of a command on paths cannot be determined soundly.
    pub const UNANALYZABLE: &str = "unanalyzable-command";
    /// A gating event whose payload lacks the shape hookledger relies on (a missing or
    /// mistyped field, an event name in another case); the policy's `on_error` decided.
    pub const UNEXPECTED_PAYLOAD: &str = "unexpected-payload";
}

impl Decision {
    pub fn no_policy() -> Self {
        Decision {
            action: Action::Allow,
            rule: rules::NO_POLICY,
            layer: Layer::BuiltIn,
            pattern: None,
            reason: "no policy is configured".into(),
            enforced: true,
        }
    }

    pub fn fail_closed(rule: &'static str, reason: String) -> Self {
        Decision {
            action: Action::Deny,
            rule,
            layer: Layer::BuiltIn,
            pattern: None,
            reason,
            enforced: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The ledger records decisions and targets through their views: the bytes must be what
    /// serializing the policy's own types gives.
    #[test]
    fn views_serialize_as_the_policy_types_do() {
        for action in [Action::Allow, Action::Ask, Action::Deny] {
            for layer in [Layer::Managed, Layer::User, Layer::BuiltIn] {
                for (pattern, enforced) in [(None, true), (Some("*.env".to_owned()), false)] {
                    let decision = Decision {
                        action,
                        rule: rules::NO_MATCH,
                        layer,
                        pattern,
                        reason: "why".into(),
                        enforced,
                    };
                    assert_eq!(
                        serde_json::to_value(decision.view()).unwrap(),
                        serde_json::to_value(&decision).unwrap()
                    );
                }
            }
        }
        for access in [Access::Read, Access::Write] {
            for repository in [None, Some(PathBuf::from("/r"))] {
                for recursive in [false, true] {
                    let mut target =
                        Target::plain(PathBuf::from("/r/a"), access, repository.clone());
                    target.recursive = recursive;
                    assert_eq!(
                        serde_json::to_value(target.view().unwrap()).unwrap(),
                        serde_json::to_value(&target).unwrap()
                    );
                }
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/r/\xff"));
            let target = Target::plain(odd, Access::Read, None);
            assert!(target.view().is_none());
            assert!(serde_json::to_value(&target).is_err());
        }
    }
}
