//! What the report reads of a session-start record, through the ledger's typed view
//! ([`SessionStart`]: `identity`, `policy_digests`, `lockdown`, ...), and how it tells people
//! apart. The view is lenient: a field of another shape reads as absent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ledger::record::{Identity, PolicyDigest, SessionStart};

/// What tells recorded policy files apart, for map keys: (layer, path, blake3). The ledger's
/// view has no ordering (it keeps unknown fields), and only these three say which file with
/// which bytes was in force.
pub type PolicyKey = (String, String, String);

pub fn policy_key(digest: &PolicyDigest) -> PolicyKey {
    (
        digest.layer.clone(),
        digest.path.clone(),
        digest.blake3.clone(),
    )
}

/// A string that is not empty.
fn filled(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// How a person was told apart: the strongest identity the session recorded. A stable code
/// family (docs/codes.md, "Report person identities").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentifiedBy {
    /// The Claude Code account's email.
    ClaudeAccount,
    /// The repository's git `user.email`.
    Git,
    /// The OS user at the host.
    OsUser,
    /// Nothing recorded (no session-start for the session).
    Unknown,
}

impl IdentifiedBy {
    pub const ALL: &'static [IdentifiedBy] = &[
        IdentifiedBy::ClaudeAccount,
        IdentifiedBy::Git,
        IdentifiedBy::OsUser,
        IdentifiedBy::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifiedBy::ClaudeAccount => "claude-account",
            IdentifiedBy::Git => "git",
            IdentifiedBy::OsUser => "os-user",
            IdentifiedBy::Unknown => "unknown",
        }
    }
}

/// What the report reads of one session-start record.
#[derive(Debug, Clone, Default)]
pub struct StartFacts {
    pub identity: Identity,
    pub host: Option<String>,
    pub os_user: Option<String>,
    pub repository: Option<String>,
    pub remotes: Vec<String>,
    /// `None`: the record does not say which policy was in force (an older hookledger).
    pub policies: Option<Vec<PolicyDigest>>,
    pub lockdown: Map<String, Value>,
    /// Claude Code's OS sandbox as recorded (`enabled`, `enforced`, `source`).
    pub sandbox: Value,
}

impl StartFacts {
    /// `start`: the record through its view (a record that does not fit it is read as the
    /// default view, with no facts).
    pub fn read(start: &SessionStart) -> StartFacts {
        let mut identity: Identity = start.identity.clone().unwrap_or_default();
        // Never a token: only the account fields the view names go into the report.
        if let Some(account) = identity.claude.as_mut() {
            account.rest.clear();
        }
        let host = filled(identity.host.as_deref()).or_else(|| filled(start.host.as_deref()));
        // The password database's name first (recorded by newer hooks), then the flat field.
        let os_user = filled(identity.os_user.as_ref().and_then(|u| u.name.as_deref()))
            .or_else(|| filled(start.os_user.clone().flatten().as_deref()));
        // Older hooks recorded the policy files under `policy.files`.
        let policies = start.policy_digests.clone().or_else(|| {
            start
                .policy
                .as_ref()
                .and_then(|p| p.get("files"))
                .and_then(|f| Vec::<PolicyDigest>::deserialize(f).ok())
        });
        let remotes = start.repository["remotes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["normalized"].as_str().map(str::to_owned))
            .collect();
        StartFacts {
            host,
            os_user,
            repository: start.repository_root().map(str::to_owned),
            remotes,
            policies,
            lockdown: start
                .lockdown
                .as_ref()
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            sandbox: start.sandbox.clone(),
            identity,
        }
    }

    /// The person a session is attributed to: the Claude Code account's email, else the git
    /// email, else `user@host`.
    pub fn person(&self) -> (String, IdentifiedBy) {
        if let Some(email) = filled(
            self.identity
                .claude
                .as_ref()
                .and_then(|c| c.email.as_deref()),
        ) {
            return (email.to_lowercase(), IdentifiedBy::ClaudeAccount);
        }
        if let Some(email) = filled(self.identity.git.as_ref().and_then(|g| g.email.as_deref())) {
            return (email.to_lowercase(), IdentifiedBy::Git);
        }
        (self.machine_user(), IdentifiedBy::OsUser)
    }

    /// `user@host`, `?` for what is not recorded.
    pub fn machine_user(&self) -> String {
        format!(
            "{}@{}",
            self.os_user.as_deref().unwrap_or("?"),
            self.host.as_deref().unwrap_or("?")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start(payload: Value) -> StartFacts {
        StartFacts::read(&serde_json::from_value(payload).unwrap())
    }

    #[test]
    fn the_person_is_the_strongest_identity_recorded() {
        let full = start(json!({"host": "h", "os_user": "u", "identity": {
            "claude": {"email": "Ada@Example.com", "account_uuid": "a"},
            "git": {"name": "Ada", "email": "ada@git"}, "os_user": {"name": "ada", "uid": 5},
            "host": "box"}}));
        assert_eq!(
            full.person(),
            ("ada@example.com".into(), IdentifiedBy::ClaudeAccount)
        );
        assert_eq!(full.machine_user(), "ada@box");
        let git = start(json!({"host": "h", "identity": {"claude": null,
            "git": {"name": "B", "email": "b@git"}, "os_user": {"name": "b"}}}));
        assert_eq!(git.person(), ("b@git".into(), IdentifiedBy::Git));
        let old = start(json!({"host": "h", "os_user": "c"}));
        assert_eq!(old.person(), ("c@h".into(), IdentifiedBy::OsUser));
        let odd =
            start(json!({"identity": {"claude": "x", "git": [1], "host": 5, "os_user": "y"}}));
        assert_eq!(odd.person(), ("?@?".into(), IdentifiedBy::OsUser));
    }

    #[test]
    fn only_the_account_fields_the_view_names_reach_the_report() {
        let facts = start(
            json!({"identity": {"claude": {"email": "a@b", "oauth_token": "t0k"}},
            "lockdown": ["not", "an", "object"]}),
        );
        let account = facts.identity.claude.unwrap();
        assert!(account.rest.is_empty());
        assert!(!serde_json::to_string(&account).unwrap().contains("t0k"));
        assert!(facts.lockdown.is_empty());
    }

    #[test]
    fn policies_come_from_the_digests_or_the_older_policy_field() {
        let new =
            start(json!({"policy_digests": [{"layer": "managed", "path": "/p", "blake3": "ab"}]}));
        assert_eq!(new.policies.unwrap()[0].blake3, "ab");
        let old =
            start(json!({"policy": {"files": [{"layer": "user", "path": "/u", "blake3": "cd"}]}}));
        assert_eq!(old.policies.unwrap()[0].layer, "user");
        assert_eq!(start(json!({})).policies, None);
        // A list the view cannot read is not a policy: the allowlist verdict stays unknown
        // rather than judged against a file with no layer or digest.
        let odd = start(json!({"policy_digests": [{"layer": 5, "path": "/p", "blake3": "ab"}]}));
        assert_eq!(odd.policies, None);
    }
}
