/*!
Who is behind a session, for its `session-start` record: the Claude Code account as Claude
Code's own config holds it, the OS account from the password database, the git identity of the
repository, and the host.

Each part is read on session start only, bounded, and missing pieces are `null`, never an error:
the session must start whatever its machine looks like. Nothing here copies a token or key:
the Claude Code config is read through a struct that names only the account fields.
*/

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ledger::record::{ClaudeAccount, GitIdentity, Identity, OsUser};

/// Claude Code's config (`~/.claude.json`) also holds per-project history and can grow; one
/// larger than this is not parsed (the account is then `null`).
const CLAUDE_CONFIG_MAX_BYTES: u64 = 8 << 20;
/// Account strings are short; anything longer is cut.
const FIELD_CHARS: usize = 256;

/// `identity` as recorded on `session-start` (issue 15's record-field contract).
pub fn identity(repository_root: Option<&Path>) -> Identity {
    Identity {
        claude: claude_account(&claude_config_candidates()),
        os_user: crate::ledger::host::os_account().map(|a| OsUser {
            name: Some(a.name),
            uid: Some(u64::from(a.uid)),
            gecos: a.gecos,
            rest: Map::new(),
        }),
        git: repository_root.and_then(git_identity),
        host: Some(crate::config::host_name()),
        rest: Map::new(),
    }
}

/// Where Claude Code keeps its global config: `$CLAUDE_CONFIG_DIR/.claude.json` when the
/// variable is set, else `~/.claude.json`; then the legacy `.config.json` in its config dir
/// (as Claude Code 2.1.332 looks for it).
pub fn claude_config_candidates() -> Vec<PathBuf> {
    let config_dir = std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let mut out = Vec::new();
    match (&config_dir, &home) {
        (Some(dir), _) => {
            out.push(dir.join(".claude.json"));
            out.push(dir.join(".config.json"));
        }
        (None, Some(home)) => {
            out.push(home.join(".claude.json"));
            out.push(home.join(".claude").join(".config.json"));
        }
        (None, None) => {}
    }
    out
}

/// Only the account fields: serde skips everything else (tokens, keys, history) without
/// keeping it.
#[derive(Deserialize)]
struct ClaudeConfig {
    #[serde(rename = "oauthAccount", default)]
    oauth_account: Option<Value>,
}

/// The signed-in Claude account from the first candidate config that exists; `null` when none
/// has one (an API-key or cloud-provider session).
pub fn claude_account(candidates: &[PathBuf]) -> Option<ClaudeAccount> {
    for path in candidates {
        let Some(bytes) = read_bounded(path, CLAUDE_CONFIG_MAX_BYTES) else {
            continue;
        };
        let config = serde_json::from_slice::<ClaudeConfig>(&bytes).ok()?;
        let Some(Value::Object(account)) = config.oauth_account else {
            return None;
        };
        let field = |key: &str| match account.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.chars().take(FIELD_CHARS).collect()),
            _ => None,
        };
        let found = ClaudeAccount {
            email: field("emailAddress"),
            account_uuid: field("accountUuid"),
            organization_uuid: field("organizationUuid"),
            organization_name: field("organizationName"),
            display_name: field("displayName"),
            rest: Map::new(),
        };
        let known = found.email.is_some()
            || found.account_uuid.is_some()
            || found.organization_uuid.is_some();
        return known.then_some(found);
    }
    None
}

/// A regular file's bytes, if it is no larger than `max` (a FIFO or a device is not read).
fn read_bounded(path: &Path, max: u64) -> Option<Vec<u8>> {
    let file = crate::ledger::bounded::open_regular(path, false).ok()?;
    if file.metadata().ok()?.len() > max {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

/// `user.name` and `user.email` as git resolves them for the repository (its own config,
/// includes, the user's and the system's): one `git config` process, at session start only.
pub fn git_identity(root: &Path) -> Option<GitIdentity> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "config",
            "--includes",
            "--get-regexp",
            r"^user\.(name|email)$",
        ])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    // Exit 1: neither is set. Anything else is an error; both read as "no git identity".
    let text = String::from_utf8_lossy(&output.stdout);
    let (mut name, mut email) = (None, None);
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value: String = value.chars().take(FIELD_CHARS).collect();
        // The last one wins, as for `git config --get`.
        match key {
            "user.name" => name = Some(value),
            "user.email" => email = Some(value),
            _ => {}
        }
    }
    (name.is_some() || email.is_some()).then(|| GitIdentity {
        name,
        email,
        rest: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_account_fields_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".claude.json");
        std::fs::write(
            &config,
            r#"{"primaryApiKey": "sk-ant-api03-secret", "oauthAccount": {"accountUuid": "a-1",
            "emailAddress": "dev@example.com", "organizationUuid": "o-1", "organizationName": "Org",
            "accessToken": "tok-secret"}, "projects": {"/x": {}}}"#,
        )
        .unwrap();
        let account = claude_account(&[dir.path().join("missing.json"), config]);
        let account = serde_json::to_value(account).unwrap();
        assert_eq!(
            account,
            json!({"email": "dev@example.com", "account_uuid": "a-1", "organization_uuid": "o-1",
                   "organization_name": "Org", "display_name": null})
        );
        assert!(!account.to_string().contains("secret"));
    }

    #[test]
    fn no_account_broken_or_odd_configs_are_null() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| {
            let path = dir.path().join(".claude.json");
            std::fs::write(&path, text).unwrap();
            claude_account(&[path])
        };
        assert_eq!(write(r#"{"primaryApiKey": "k"}"#), None);
        assert_eq!(write("{not json"), None);
        assert_eq!(write(r#"{"oauthAccount": "x"}"#), None);
        assert_eq!(write(r#"{"oauthAccount": {"emailAddress": 5}}"#), None);
        assert_eq!(write("[]"), None);
        assert_eq!(claude_account(&[]), None);
        assert_eq!(claude_account(&[dir.path().to_path_buf()]), None);
    }

    #[test]
    fn git_identity_of_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["config", "user.name", "Ada Lovelace"]);
        git(&["config", "user.email", "ada@example.com"]);
        assert_eq!(
            serde_json::to_value(git_identity(dir.path())).unwrap(),
            json!({"name": "Ada Lovelace", "email": "ada@example.com"})
        );
        assert_eq!(git_identity(&dir.path().join("absent")), None);
    }
}
