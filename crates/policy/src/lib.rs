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
pub mod mcp;
pub mod paths;
pub mod places;
pub mod protect;
pub mod protected;
pub mod repo;
pub mod sandbox;
pub mod search;
pub mod shell;
pub mod target;
pub mod world;

use serde::Serialize;

pub use eval::{Access, Event, Policy, Target, Verdict};
pub use world::{Budget, FakeWorld, RealWorld, World};

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

/// Declares [`Rule`], its stable strings and [`Rule::ALL`] from one list, so a code cannot be
/// added to the enum and forgotten in `ALL` or in its string.
macro_rules! rule_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal => $konst:ident,)*) => {
        /// Every policy rule code. The strings are API (matched by SIEM rules and auditors):
        /// adding a code is fine; renaming or reusing one breaks consumers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every code, in declaration order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable kebab-case string recorded and shown for this code.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Rule::$variant => $code,)*
                }
            }
        }

        pub mod rules {
            //! The rule codes as strings, as [`Decision::rule`](super::Decision) holds them;
            //! each is [`Rule`](super::Rule)`::X.as_str()`.
            $($(#[$doc])* pub const $konst: &str = super::Rule::$variant.as_str();)*
        }
    };
}

rule_codes! {
    /// No policy file exists: everything is recorded, nothing is refused.
    NoPolicy = "no-policy" => NO_POLICY,
    /// The hook could not handle the event (bad payload, internal error) and failed closed.
    HookError = "hook-error" => HOOK_ERROR,
    /// The event could be neither written to the ledger nor spooled.
    LedgerUnavailable = "ledger-unavailable" => LEDGER_UNAVAILABLE,
    /// The hook did not decide within its internal deadline and refused.
    DeadlineExceeded = "deadline-exceeded" => DEADLINE_EXCEEDED,
    /// A policy file is present but unreadable or invalid; `on_error` decided.
    PolicyError = "policy-error" => POLICY_ERROR,
    /// A policy is configured and no rule matched.
    NoMatch = "no-match" => NO_MATCH,
    /// Built in, cannot be switched off: the ledger, keys, policies, settings and hook shims.
    SelfProtection = "self-protection" => SELF_PROTECTION,
    PathDenyRead = "path-deny-read" => PATH_DENY_READ,
    PathAskRead = "path-ask-read" => PATH_ASK_READ,
    PathDenyWrite = "path-deny-write" => PATH_DENY_WRITE,
    PathAskWrite = "path-ask-write" => PATH_ASK_WRITE,
    OutsideRepositoryRead = "outside-repository-read" => OUTSIDE_REPOSITORY_READ,
    OutsideRepositoryWrite = "outside-repository-write" => OUTSIDE_REPOSITORY_WRITE,
    RepositoryDenied = "repository-denied" => REPOSITORY_DENIED,
    RepositoryNotAllowed = "repository-not-allowed" => REPOSITORY_NOT_ALLOWED,
    ToolDeny = "tool-deny" => TOOL_DENY,
    ToolAsk = "tool-ask" => TOOL_ASK,
    PromptSecret = "prompt-secret" => PROMPT_SECRET,
    ContentSecret = "content-secret" => CONTENT_SECRET,
    /// The effect of a command on paths cannot be determined soundly.
    Unanalyzable = "unanalyzable-command" => UNANALYZABLE,
    /// A gating event whose payload lacks the shape hookledger relies on (a missing or
    /// mistyped field, an event name in another case); the policy's `on_error` decided.
    UnexpectedPayload = "unexpected-payload" => UNEXPECTED_PAYLOAD,
}

impl Rule {
    /// The code a recorded or shown string names, if it is one.
    pub fn parse(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.as_str() == code)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
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

    #[test]
    fn rule_codes_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            let code = rule.as_str();
            assert!(seen.insert(code), "{code} is used twice");
            assert!(
                !code.is_empty()
                    && !code.starts_with('-')
                    && !code.ends_with('-')
                    && !code.contains("--")
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{code} is not kebab-case"
            );
            assert_eq!(Rule::parse(code), Some(*rule));
            assert_eq!(serde_json::to_value(rule).ok(), Some(code.into()));
        }
        assert_eq!(Rule::parse("no-such-rule"), None);
    }

    #[test]
    fn rule_strings_are_the_shipped_ones() {
        // Codes are API: this list is what consumers match on. A change here is a breaking one.
        let shipped = [
            "no-policy",
            "hook-error",
            "ledger-unavailable",
            "deadline-exceeded",
            "policy-error",
            "no-match",
            "self-protection",
            "path-deny-read",
            "path-ask-read",
            "path-deny-write",
            "path-ask-write",
            "outside-repository-read",
            "outside-repository-write",
            "repository-denied",
            "repository-not-allowed",
            "tool-deny",
            "tool-ask",
            "prompt-secret",
            "content-secret",
            "unanalyzable-command",
            "unexpected-payload",
        ];
        let ours: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(ours, shipped);
        assert_eq!(rules::UNANALYZABLE, "unanalyzable-command");
    }

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
        use std::path::PathBuf;
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
