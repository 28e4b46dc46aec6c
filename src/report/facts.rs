//! Typed reads of the issue-15 fields the report needs from session-start and stop records
//! (`identity`, `policy_digests`, `lockdown`, `usage`; field names per the record contract).
//! They are read from the whole payload's fields (`AnyPayload::rest`), not from the hook's
//! views, so they read the same whether or not a view names them; every field is optional and
//! a field of another shape reads as absent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ledger::record::SessionStart;

/// Who ran a session, as its session-start recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Identity {
    #[serde(default, deserialize_with = "lenient")]
    pub claude: Option<ClaudeAccount>,
    #[serde(default, deserialize_with = "lenient")]
    pub os_user: Option<OsUser>,
    #[serde(default, deserialize_with = "lenient")]
    pub git: Option<GitIdentity>,
    #[serde(default, deserialize_with = "lenient")]
    pub host: Option<String>,
}

/// The Claude Code account (never a token: only these fields are read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaudeAccount {
    #[serde(default, deserialize_with = "lenient")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub account_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub organization_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub organization_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OsUser {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub uid: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GitIdentity {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub email: Option<String>,
}

/// One policy file in force when a session started.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct PolicyDigest {
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub layer: String,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub path: String,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub blake3: String,
}

/// One model's tokens over a turn (`usage` of a stop record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ModelUsage {
    #[serde(default, deserialize_with = "lenient")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub output_tokens: u64,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub cache_read_input_tokens: u64,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub messages: u64,
}

fn lenient<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

fn lenient_or_default<
    'de,
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(lenient(deserializer)?.unwrap_or_default())
}

fn field<T: serde::de::DeserializeOwned>(rest: &Map<String, Value>, key: &str) -> Option<T> {
    rest.get(key).and_then(|v| T::deserialize(v).ok())
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
    /// `fields`: every field of the payload but the common ones (`AnyPayload::rest`).
    pub fn read(start: &SessionStart, fields: &Map<String, Value>) -> StartFacts {
        let identity: Identity = field(fields, "identity").unwrap_or_default();
        let host = filled(identity.host.as_deref()).or_else(|| filled(start.host.as_deref()));
        // The password database's name first (recorded by newer hooks), then the flat field.
        let os_user = filled(identity.os_user.as_ref().and_then(|u| u.name.as_deref()))
            .or_else(|| filled(start.os_user.clone().flatten().as_deref()));
        let policies = field::<Vec<PolicyDigest>>(fields, "policy_digests").or_else(|| {
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
            lockdown: field(fields, "lockdown").unwrap_or_default(),
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

/// The tokens a stop record carries (`fields`: `AnyPayload::rest`): `Some` when its `usage`
/// was recorded (possibly empty), and where it came from.
pub fn stop_usage(fields: &Map<String, Value>) -> (Option<Vec<ModelUsage>>, Option<String>) {
    (
        field(fields, "usage"),
        field::<String>(fields, "usage_source"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record::AnyPayload;
    use serde_json::json;

    fn start(payload: Value) -> StartFacts {
        let any: AnyPayload = serde_json::from_value(payload.clone()).unwrap();
        StartFacts::read(&serde_json::from_value(payload).unwrap(), &any.rest)
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
    fn policies_come_from_the_digests_or_the_older_policy_field() {
        let new =
            start(json!({"policy_digests": [{"layer": "managed", "path": "/p", "blake3": "ab"}]}));
        assert_eq!(new.policies.unwrap()[0].blake3, "ab");
        let old =
            start(json!({"policy": {"files": [{"layer": "user", "path": "/u", "blake3": "cd"}]}}));
        assert_eq!(old.policies.unwrap()[0].layer, "user");
        assert_eq!(start(json!({})).policies, None);
    }
}
