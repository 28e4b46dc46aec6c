/*!
Decisions and the rules that make them.

Every gating decision carries a stable kebab-case rule code: codes are API, matched by SIEM
rules and auditors, and are never renamed.
*/

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

pub mod rules {
    //! The rule codes. Adding one is fine; renaming or reusing one breaks consumers.
    /// No policy file exists: everything is recorded, nothing is refused.
    pub const NO_POLICY: &str = "no-policy";
    /// The hook could not handle the event (bad payload, internal error) and failed closed.
    pub const HOOK_ERROR: &str = "hook-error";
    /// The event could be neither written to the ledger nor spooled.
    pub const LEDGER_UNAVAILABLE: &str = "ledger-unavailable";
}

impl Decision {
    pub fn no_policy() -> Self {
        Decision {
            action: Action::Allow,
            rule: rules::NO_POLICY,
            layer: Layer::BuiltIn,
            pattern: None,
            reason: "no policy is configured".into(),
        }
    }

    pub fn fail_closed(rule: &'static str, reason: String) -> Self {
        Decision {
            action: Action::Deny,
            rule,
            layer: Layer::BuiltIn,
            pattern: None,
            reason,
        }
    }
}
