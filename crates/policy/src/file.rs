/*!
Policy files as written on disk, and where they are found.

Two layers: **managed** (system-wide, from MDM or packaging) and **user**
(`$HOOKLEDGER_HOME/policy.json`). A file inside a repository is never read: repositories are
what the agent edits. Unknown keys are errors: in security configuration a typo must not pass
silently as "no restriction".
*/

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Action, Layer};

pub const MANAGED_DIR_ENV: &str = "HOOKLEDGER_MANAGED_DIR";
pub const POLICY_FILE: &str = "policy.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    Audit,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromptStore {
    Full,
    Redacted,
    Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretsAction {
    Allow,
    Redact,
    Block,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    pub version: Option<u32>,
    pub enforcement: Option<Enforcement>,
    pub on_error: Option<OnError>,
    pub unanalyzable: Option<Action>,
    pub repositories: Option<Repositories>,
    pub paths: Option<PathRules>,
    pub tools: Option<ToolRules>,
    pub prompts: Option<PromptRules>,
    pub content_secrets: Option<Action>,
    pub git: Option<GitRules>,
    pub sandbox: Option<SandboxSetting>,
    /// Writes to a project's `.claude/skills`, `.claude/commands` and `.claude/agents`: refused
    /// by self-protection (`deny`, the default) or asked about (`ask`); never allowed.
    pub project_extensions: Option<ProjectExtensions>,
}

/// What self-protection does with a write to a project's skills, commands or agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectExtensions {
    Ask,
    Deny,
}

/// What trailers `commit-msg` adds to a commit that carries AI-written lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrailerMode {
    /// No trailer: the anchor lives in the git note only.
    None,
    /// `AI-Ledger: <ledger-id>@<seq>:<hash prefix>`.
    Anchor,
    /// The anchor plus `Assisted-by: <model>` and `AI-Lines: <ai>/<added>`.
    Full,
}

/// The `git` section: what the git hooks enforce at commit time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitRules {
    pub require_ledger_valid: Option<bool>,
    pub allowed_models: Option<Vec<String>>,
    pub review_required: Vec<String>,
    pub review_trailer: Option<String>,
    pub trailers: Option<TrailerMode>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Repositories {
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
    pub otherwise: Option<Action>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathRules {
    pub deny_read: Vec<String>,
    pub ask_read: Vec<String>,
    pub deny_write: Vec<String>,
    pub ask_write: Vec<String>,
    pub outside_repository: Option<OutsideRepository>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutsideRepository {
    pub read: Option<Action>,
    pub write: Option<Action>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolRules {
    pub deny: Vec<String>,
    pub ask: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptRules {
    pub store: Option<PromptStore>,
    pub secrets: Option<SecretsAction>,
}

/// The `sandbox` key: whether managed installs turn on Claude Code's OS sandbox for Bash, with
/// this policy's path rules compiled into it (see `crate::sandbox`). Read by
/// `install --managed` and `doctor`, never by the hook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SandboxSetting {
    Mode(SandboxMode),
    Options(SandboxOptions),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Enabled, no way out (`allowUnsandboxedCommands: false`), no start without it.
    Require,
    /// Not turned on by hookledger, even with `install --sandbox`.
    Off,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxOptions {
    pub mode: Option<SandboxMode>,
    /// Compile repository-relative rules as Claude Code permission rules (`Read(**/.env)`),
    /// the only form the sandbox applies relative to where Claude Code starts (default true).
    pub permission_rules: Option<bool>,
    /// Passed to Claude Code's `sandbox.network` as is.
    pub network: Option<SandboxNetwork>,
    /// Absolute or `~/` paths sandboxed commands may also write (`sandbox.filesystem.allowWrite`).
    pub allow_write: Vec<String>,
}

/// Claude Code's own `sandbox.network` keys (its camelCase names, so its documentation applies).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SandboxNetwork {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_domains: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_managed_domains_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_allowlist: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_proxy_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socks_proxy_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_local_binding: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_unix_sockets: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_all_unix_sockets: Option<bool>,
}

impl SandboxSetting {
    pub fn mode(&self) -> Option<SandboxMode> {
        match self {
            SandboxSetting::Mode(mode) => Some(*mode),
            SandboxSetting::Options(options) => options.mode,
        }
    }

    pub fn options(&self) -> SandboxOptions {
        match self {
            SandboxSetting::Mode(mode) => SandboxOptions {
                mode: Some(*mode),
                ..SandboxOptions::default()
            },
            SandboxSetting::Options(options) => options.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read policy {path}: {message}")]
    Unreadable { path: PathBuf, message: String },
}

/// One layer's file, parsed.
#[derive(Debug, Clone)]
pub struct LoadedLayer {
    pub layer: Layer,
    pub path: PathBuf,
    pub file: PolicyFile,
}

/// The managed policy directory: `HOOKLEDGER_MANAGED_DIR` when set (recorded in every
/// session-start record), else the platform's system location.
pub fn managed_dir() -> (PathBuf, bool) {
    if let Some(dir) = std::env::var_os(MANAGED_DIR_ENV).filter(|d| !d.is_empty()) {
        return (PathBuf::from(dir), true);
    }
    let dir = if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/hookledger")
    } else if cfg!(windows) {
        std::env::var_os("ProgramData")
            .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from)
            .join("hookledger")
    } else {
        PathBuf::from("/etc/hookledger")
    };
    (dir, false)
}

/// The managed policy directory of a system installed under `root` (tests, staging): an explicit
/// `HOOKLEDGER_MANAGED_DIR` still wins.
pub fn managed_dir_under(root: Option<&Path>) -> PathBuf {
    match managed_dir() {
        (dir, true) => dir,
        (dir, false) => crate::places::rooted(root, &dir),
    }
}

pub fn parse(path: &Path, text: &str) -> Result<PolicyFile, PolicyError> {
    let file: PolicyFile = serde_json::from_str(text).map_err(|e| PolicyError::Invalid {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    if let Some(version) = file.version.filter(|v| *v != 1) {
        return Err(PolicyError::Invalid {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: format!(
                "unsupported policy version {version} (this hookledger reads version 1)"
            ),
        });
    }
    Ok(file)
}

fn load_one(layer: Layer, path: PathBuf) -> Result<Option<LoadedLayer>, PolicyError> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(LoadedLayer {
            layer,
            file: parse(&path, &text)?,
            path,
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PolicyError::Unreadable {
            path,
            message: e.to_string(),
        }),
    }
}

/// Both layers that exist, managed first, beside the errors of those that could not be read or
/// parsed: `on_error` can then come from a valid managed policy when the user's file is broken.
pub fn load_layers(hookledger_home: &Path) -> (Vec<LoadedLayer>, Vec<PolicyError>) {
    load_layers_from(&managed_dir().0, hookledger_home)
}

/// [`load_layers`] with the managed directory given (doctor on a staged root).
pub fn load_layers_from(
    managed: &Path,
    hookledger_home: &Path,
) -> (Vec<LoadedLayer>, Vec<PolicyError>) {
    let mut layers = Vec::new();
    let mut errors = Vec::new();
    for (layer, path) in [
        (Layer::Managed, managed.join(POLICY_FILE)),
        (Layer::User, hookledger_home.join(POLICY_FILE)),
    ] {
        match load_one(layer, path) {
            Ok(found) => layers.extend(found),
            Err(e) => errors.push(e),
        }
    }
    (layers, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = include_str!("../../../schema/policy.schema.json");

    fn accepts(json: &str) -> bool {
        parse(Path::new("p.json"), json).is_ok()
    }

    /// The JSON Schema editors validate against and the parser accept the same keys.
    #[test]
    fn schema_and_parser_agree_on_keys() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        let top = schema["properties"].as_object().unwrap();
        for key in top.keys() {
            assert!(
                accepts(&format!("{{\"{key}\": null}}")),
                "parser rejects schema key {key}"
            );
            if let Some(nested) = top[key]["properties"].as_object() {
                for (inner, spec) in nested {
                    let value = if spec["type"] == "array" {
                        "[]"
                    } else {
                        "null"
                    };
                    assert!(
                        accepts(&format!("{{\"{key}\": {{\"{inner}\": {value}}}}}")),
                        "parser rejects {key}.{inner}"
                    );
                }
                assert!(
                    !accepts(&format!("{{\"{key}\": {{\"bogus\": null}}}}")),
                    "{key} accepts unknown keys"
                );
            }
        }
        assert!(!accepts(r#"{"bogus": 1}"#));
    }

    #[test]
    fn the_issue_example_parses() {
        let example = r#"{
          "version": 1, "enforcement": "enforce", "on_error": "deny", "unanalyzable": "ask",
          "repositories": {"allow": ["github.com/acme/*", "path:/srv/scratch/**"], "deny": ["github.com/acme/secret-*"], "otherwise": "deny"},
          "paths": {"deny_read": ["**/.env", "**/.env.*", "!**/.env.example", "~/.ssh/**", "~/.aws/**"],
                    "deny_write": [".github/workflows/**", "/etc/**"], "ask_write": ["**/migrations/**"],
                    "outside_repository": {"read": "allow", "write": "deny"}},
          "tools": {"deny": ["WebFetch", "mcp__*__delete_*"], "ask": []},
          "prompts": {"store": "full", "secrets": "block"},
          "content_secrets": "deny",
          "git": {"require_ledger_valid": true, "allowed_models": ["claude-*"], "review_required": ["src/auth/**"],
                  "review_trailer": "Reviewed-by", "trailers": "full"}
        }"#;
        assert!(accepts(example));
        let error = parse(Path::new("p.json"), "{\n \"version\": 2\n}").unwrap_err();
        assert!(
            error.to_string().contains("unsupported policy version 2"),
            "{error}"
        );
    }
}
