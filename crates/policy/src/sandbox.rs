//! Compiles the policy's path rules and hookledger's self-protection into Claude Code's OS sandbox
//! for Bash (managed settings), as far as the sandbox can express them.
//!
//! Parsing Bash can never be complete (variables, code fed from elsewhere, programs that read
//! their own scripts); the sandbox (bubblewrap on Linux, Seatbelt on macOS) does not parse, it
//! confines. What Claude Code 2.1.332 honours was found by running it (docs/deployment.md has
//! the experiments):
//!
//! - `sandbox.filesystem.denyRead` takes absolute and `~/` paths, globs included (`~/x/**`,
//!   `/p/**/.secret*`, expanded against the disk before each command), and `allowRead` carves
//!   exceptions out of it, globs included. A relative entry is read relative to the settings
//!   file, not the project, and a glob at the root (`/**/.env`) is skipped.
//! - `sandbox.filesystem.denyWrite` takes absolute and `~/` paths, exact or a whole directory
//!   (`dir/**`); other globs are ignored. Paths that do not exist yet are covered.
//! - Permission deny rules reach the sandbox too, and theirs is the only spelling relative to the
//!   directory Claude Code starts in: `Read(**/.env)` (globs anywhere) and `Edit(dir/**)` (exact
//!   or a whole directory; `Edit(**/x/**)` is ignored for writes). Claude Code also refuses Read
//!   and Edit tool calls matching them before any hook runs, so those attempts do not reach the
//!   ledger; `permission_rules: false` keeps repository-relative rules with the hook only.
//! - Outside the start directory everything is read-only to sandboxed commands by default, and
//!   Claude Code's own defaults already deny writes to the start directory's `.claude/`,
//!   `.git/hooks` and `.git/config`, and to `~/.claude`.
//!
//! Whatever cannot be compiled stays with the hook's analysis; [`Coverage`] says which is which.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Layer;
use super::file::{LoadedLayer, PathRules, SandboxMode, SandboxOptions};
use crate::protected::{Anchor, Protected};

/// How a rule is enforced for Bash. Stable kebab-case codes, like rule codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    /// By the sandbox, for every sandboxed command, and by the hook.
    Os,
    /// By the sandbox for commands under the directory Claude Code starts in (permission
    /// rules), by the hook everywhere.
    OsInStartDir,
    /// By Claude Code's own sandbox defaults (its start directory's `.claude/`, `.git/hooks`,
    /// `.git/config`), and by the hook.
    ClaudeCodeDefault,
    /// By the hook's analysis only.
    HookOnly,
}

impl Enforcement {
    pub fn code(self) -> &'static str {
        match self {
            Enforcement::Os => "os",
            Enforcement::OsInStartDir => "os-in-start-dir",
            Enforcement::ClaudeCodeDefault => "claude-code-default",
            Enforcement::HookOnly => "hook-only",
        }
    }
}

/// What happens to one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub layer: Layer,
    /// `deny_read`, `deny_write`, `ask_read`, `ask_write`, or `self-protection`.
    pub list: String,
    pub pattern: String,
    pub enforcement: Enforcement,
    /// The settings entries it compiles to, as `<setting>: <value>`.
    pub compiled: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The managed settings a sandboxed install writes, and what each rule became.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// `sandbox` and `permissions` for the managed drop-in.
    pub settings: Map<String, Value>,
    pub coverage: Vec<Coverage>,
}

const DENY_READ: &str = "sandbox.filesystem.denyRead";
const DENY_WRITE: &str = "sandbox.filesystem.denyWrite";
const ALLOW_READ: &str = "sandbox.filesystem.allowRead";
const PERMISSION_DENY: &str = "permissions.deny";

fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// Where a policy pattern is anchored, as the policy reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternAnchor {
    Absolute,
    Home,
    Repository,
}

fn anchor_of(pattern: &str) -> PatternAnchor {
    if pattern.starts_with('/') {
        PatternAnchor::Absolute
    } else if pattern.starts_with("~/") {
        PatternAnchor::Home
    } else {
        PatternAnchor::Repository
    }
}

/// `dir/**` with no other glob: the whole directory, which write denials express exactly.
fn whole_directory(pattern: &str) -> Option<&str> {
    pattern
        .strip_suffix("/**")
        .filter(|dir| !dir.is_empty() && !has_glob(dir))
}

/// A glob in the first component below `/` or `~/` makes the sandbox skip the entry (`/`) or
/// walk the whole home directory before every command (`~`): neither is a rule to compile.
fn glob_at_the_top(pattern: &str) -> bool {
    let rest = pattern
        .strip_prefix("~/")
        .or_else(|| pattern.strip_prefix('/'))
        .unwrap_or(pattern);
    rest.split('/').next().is_some_and(has_glob)
}

/// A write denial the sandbox honours: exact, or a whole directory.
fn writable_spelling(pattern: &str) -> Option<String> {
    if !has_glob(pattern) {
        Some(pattern.to_owned())
    } else {
        whole_directory(pattern).map(|dir| format!("{dir}/**"))
    }
}

struct Builder {
    deny_read: Vec<String>,
    deny_write: Vec<String>,
    allow_read: Vec<String>,
    permission_deny: Vec<String>,
}

impl Builder {
    fn add(&mut self, setting: &str, value: String) -> String {
        let list = match setting {
            DENY_READ => &mut self.deny_read,
            DENY_WRITE => &mut self.deny_write,
            ALLOW_READ => &mut self.allow_read,
            _ => &mut self.permission_deny,
        };
        if !list.contains(&value) {
            list.push(value.clone());
        }
        format!("{setting}: {value}")
    }
}

/// Splits a pattern list into its patterns and whether a later `!exemption` applies to each.
fn with_exemptions(list: &[String]) -> Vec<(&str, Vec<&str>)> {
    list.iter()
        .enumerate()
        .filter(|(_, p)| !p.starts_with('!'))
        .map(|(i, p)| {
            let later = list[i + 1..]
                .iter()
                .filter_map(|e| e.strip_prefix('!'))
                .collect();
            (p.as_str(), later)
        })
        .collect()
}

fn coverage(
    layer: Layer,
    list: &str,
    pattern: &str,
    enforcement: Enforcement,
    compiled: Vec<String>,
    note: Option<&str>,
) -> Coverage {
    Coverage {
        layer,
        list: list.to_owned(),
        pattern: pattern.to_owned(),
        enforcement,
        compiled,
        note: note.map(str::to_owned),
    }
}

fn compile_read(
    b: &mut Builder,
    layer: Layer,
    pattern: &str,
    exemptions: &[&str],
    permission_rules: bool,
) -> Coverage {
    let list = "deny_read";
    match anchor_of(pattern) {
        PatternAnchor::Absolute | PatternAnchor::Home => {
            if glob_at_the_top(pattern) {
                return coverage(
                    layer,
                    list,
                    pattern,
                    Enforcement::HookOnly,
                    Vec::new(),
                    Some(
                        "a glob right below / or ~ is skipped by the sandbox (or walks the whole home before every command)",
                    ),
                );
            }
            if exemptions
                .iter()
                .any(|e| anchor_of(e) == PatternAnchor::Repository)
            {
                return coverage(
                    layer,
                    list,
                    pattern,
                    Enforcement::HookOnly,
                    Vec::new(),
                    Some(
                        "a later repository-relative exemption cannot be carved out of the sandbox's read denial",
                    ),
                );
            }
            let mut compiled = vec![b.add(DENY_READ, pattern.to_owned())];
            compiled.extend(
                exemptions
                    .iter()
                    .map(|e| b.add(ALLOW_READ, (*e).to_owned())),
            );
            // A path denied for reading is denied for writing too.
            let mut note = None;
            match writable_spelling(pattern) {
                Some(spelling) => compiled.push(b.add(DENY_WRITE, spelling)),
                None => {
                    note = Some(
                        "reads are denied by the sandbox; writes to matching files by the hook only (the sandbox ignores globs in write denials)",
                    )
                }
            }
            coverage(layer, list, pattern, Enforcement::Os, compiled, note)
        }
        PatternAnchor::Repository if !permission_rules => coverage(
            layer,
            list,
            pattern,
            Enforcement::HookOnly,
            Vec::new(),
            Some("repository-relative, and `sandbox.permission_rules` is false"),
        ),
        PatternAnchor::Repository if !exemptions.is_empty() => coverage(
            layer,
            list,
            pattern,
            Enforcement::HookOnly,
            Vec::new(),
            Some(
                "a later exemption cannot be expressed in Claude Code's deny rules, which no allow rule overrides",
            ),
        ),
        PatternAnchor::Repository => {
            let mut compiled = vec![b.add(PERMISSION_DENY, format!("Read({pattern})"))];
            if let Some(spelling) = writable_spelling(pattern) {
                compiled.push(b.add(PERMISSION_DENY, format!("Edit({spelling})")));
            }
            coverage(
                layer,
                list,
                pattern,
                Enforcement::OsInStartDir,
                compiled,
                Some(
                    "relative to the directory Claude Code starts in; Claude Code refuses Read/Edit tool calls on these paths itself, before hookledger's hook",
                ),
            )
        }
    }
}

fn compile_write(
    b: &mut Builder,
    layer: Layer,
    pattern: &str,
    exemptions: &[&str],
    permission_rules: bool,
) -> Coverage {
    let list = "deny_write";
    if !exemptions.is_empty() {
        return coverage(
            layer,
            list,
            pattern,
            Enforcement::HookOnly,
            Vec::new(),
            Some("a later exemption cannot be carved out of a write denial"),
        );
    }
    let Some(spelling) = writable_spelling(pattern) else {
        return coverage(
            layer,
            list,
            pattern,
            Enforcement::HookOnly,
            Vec::new(),
            Some(
                "the sandbox ignores globs in write denials other than a whole directory (`dir/**`)",
            ),
        );
    };
    match anchor_of(pattern) {
        PatternAnchor::Absolute | PatternAnchor::Home => {
            let compiled = vec![b.add(DENY_WRITE, spelling)];
            coverage(layer, list, pattern, Enforcement::Os, compiled, None)
        }
        PatternAnchor::Repository if permission_rules => {
            let compiled = vec![b.add(PERMISSION_DENY, format!("Edit({spelling})"))];
            coverage(
                layer,
                list,
                pattern,
                Enforcement::OsInStartDir,
                compiled,
                Some(
                    "relative to the directory Claude Code starts in; Claude Code refuses Edit tool calls on these paths itself, before hookledger's hook",
                ),
            )
        }
        PatternAnchor::Repository => coverage(
            layer,
            list,
            pattern,
            Enforcement::HookOnly,
            Vec::new(),
            Some("repository-relative, and `sandbox.permission_rules` is false"),
        ),
    }
}

/// What each rule of `layers` becomes; the managed layer is compiled, the user layer is not
/// (a managed install cannot read every user's policy).
pub fn compile(
    layers: &[LoadedLayer],
    protected: &[Protected],
    options: &SandboxOptions,
) -> Compiled {
    let permission_rules = options.permission_rules.unwrap_or(true);
    let mut b = Builder {
        deny_read: Vec::new(),
        deny_write: Vec::new(),
        allow_read: Vec::new(),
        permission_deny: Vec::new(),
    };
    let mut rules = Vec::new();
    for entry in protected {
        rules.push(compile_protected(&mut b, entry));
    }
    for loaded in layers {
        let paths = loaded.file.paths.clone().unwrap_or_default();
        if loaded.layer != Layer::Managed {
            rules.extend(uncompiled_layer(loaded.layer, &paths));
            continue;
        }
        for (pattern, exemptions) in with_exemptions(&paths.deny_read) {
            rules.push(compile_read(
                &mut b,
                loaded.layer,
                pattern,
                &exemptions,
                permission_rules,
            ));
        }
        for (pattern, exemptions) in with_exemptions(&paths.deny_write) {
            rules.push(compile_write(
                &mut b,
                loaded.layer,
                pattern,
                &exemptions,
                permission_rules,
            ));
        }
        for (list, patterns) in [
            ("ask_read", &paths.ask_read),
            ("ask_write", &paths.ask_write),
        ] {
            for pattern in patterns.iter().filter(|p| !p.starts_with('!')) {
                rules.push(coverage(
                    loaded.layer,
                    list,
                    pattern,
                    Enforcement::HookOnly,
                    Vec::new(),
                    Some("the sandbox cannot ask"),
                ));
            }
        }
    }
    let mut filesystem = Map::new();
    for (key, list) in [
        ("denyRead", b.deny_read),
        ("denyWrite", b.deny_write),
        ("allowRead", b.allow_read),
        ("allowWrite", options.allow_write.clone()),
    ] {
        if !list.is_empty() {
            filesystem.insert(key.into(), json!(list));
        }
    }
    let mut sandbox = Map::new();
    sandbox.insert("enabled".into(), json!(true));
    sandbox.insert("allowUnsandboxedCommands".into(), json!(false));
    sandbox.insert("failIfUnavailable".into(), json!(true));
    sandbox.insert("filesystem".into(), Value::Object(filesystem));
    if let Some(network) = &options.network {
        sandbox.insert(
            "network".into(),
            serde_json::to_value(network).unwrap_or(Value::Null),
        );
    }
    let mut settings = Map::new();
    settings.insert("sandbox".into(), Value::Object(sandbox));
    if !b.permission_deny.is_empty() {
        settings.insert("permissions".into(), json!({ "deny": b.permission_deny }));
    }
    Compiled {
        settings,
        coverage: rules,
    }
}

fn compile_protected(b: &mut Builder, entry: &Protected) -> Coverage {
    let list = "self-protection";
    let pattern = format!("{} ({})", entry.anchor.spelling(), entry.what);
    match &entry.anchor {
        Anchor::Absolute(_) | Anchor::Home(_) => {
            let spelling = entry.anchor.spelling();
            let mut compiled = vec![b.add(DENY_WRITE, spelling.clone())];
            if entry.deny_read {
                compiled.push(b.add(DENY_READ, spelling));
            }
            coverage(
                Layer::BuiltIn,
                list,
                &pattern,
                Enforcement::Os,
                compiled,
                None,
            )
        }
        Anchor::Project(path) => {
            let by_default = [".claude", ".git/hooks", ".git/config"]
                .iter()
                .any(|d| path.starts_with(d));
            if by_default {
                coverage(
                    Layer::BuiltIn,
                    list,
                    &pattern,
                    Enforcement::ClaudeCodeDefault,
                    Vec::new(),
                    Some(
                        "Claude Code's sandbox denies writes to it in the start directory by default; elsewhere the hook",
                    ),
                )
            } else {
                coverage(
                    Layer::BuiltIn,
                    list,
                    &pattern,
                    Enforcement::HookOnly,
                    Vec::new(),
                    Some("relative to a repository, which sandbox paths cannot name"),
                )
            }
        }
    }
}

fn uncompiled_layer(layer: Layer, paths: &PathRules) -> Vec<Coverage> {
    let lists = [
        ("deny_read", &paths.deny_read),
        ("deny_write", &paths.deny_write),
        ("ask_read", &paths.ask_read),
        ("ask_write", &paths.ask_write),
    ];
    lists
        .into_iter()
        .flat_map(|(list, patterns)| {
            patterns
                .iter()
                .filter(|p| !p.starts_with('!'))
                .map(move |p| {
                    coverage(
                        layer,
                        list,
                        p,
                        Enforcement::HookOnly,
                        Vec::new(),
                        Some("only the managed policy is compiled into managed settings"),
                    )
                })
        })
        .collect()
}

/// What the managed layer says about the sandbox: its options, and whether it requires or
/// forbids it.
pub fn managed_options(layers: &[LoadedLayer]) -> SandboxOptions {
    layers
        .iter()
        .find(|l| l.layer == Layer::Managed)
        .and_then(|l| l.file.sandbox.as_ref())
        .map(super::file::SandboxSetting::options)
        .unwrap_or_default()
}

/// Whether a managed install turns the sandbox on: the managed policy's `sandbox` mode wins
/// over the command line's `--sandbox`; `Err` when they contradict each other.
pub fn wanted(options: &SandboxOptions, flag: bool) -> Result<bool, &'static str> {
    match (options.mode, flag) {
        (Some(SandboxMode::Require), _) => Ok(true),
        (Some(SandboxMode::Off), true) => Err(
            "the managed policy says \"sandbox\": \"off\" and --sandbox asks for it; change one of them",
        ),
        (Some(SandboxMode::Off), false) => Ok(false),
        (None, flag) => Ok(flag),
    }
}

/// Marks each compiled rule with whether its entries are in force in `effective` (the merged
/// managed settings) and the sandbox enforced: a rule whose entries are missing is enforced by
/// the hook only, whatever it could be.
pub fn in_force(
    mut coverage: Vec<Coverage>,
    effective: &dyn Fn(&str, &str) -> bool,
    sandbox_enforced: bool,
) -> Vec<Coverage> {
    for rule in &mut coverage {
        if !matches!(
            rule.enforcement,
            Enforcement::Os | Enforcement::OsInStartDir | Enforcement::ClaudeCodeDefault
        ) {
            continue;
        }
        let missing: Vec<&String> = rule
            .compiled
            .iter()
            .filter(|entry| {
                let (setting, value) = entry.split_once(": ").unwrap_or((entry, ""));
                !effective(setting, value)
            })
            .collect();
        let why = if !sandbox_enforced {
            Some("the sandbox is not enforced by managed settings (sudo hookledger install --managed --sandbox)".to_owned())
        } else if !missing.is_empty() {
            Some(format!(
                "not in the managed settings: {} (re-run sudo hookledger install --managed --sandbox)",
                missing
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else {
            None
        };
        if let Some(why) = why {
            rule.note = Some(match &rule.note {
                Some(note) => format!("{why}; {note}"),
                None => why,
            });
            rule.enforcement = Enforcement::HookOnly;
        }
    }
    coverage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{PolicyFile, parse};
    use std::path::{Path, PathBuf};

    fn managed(json: &str) -> Vec<LoadedLayer> {
        let file: PolicyFile = parse(Path::new("/etc/hookledger/policy.json"), json).unwrap();
        vec![LoadedLayer {
            layer: Layer::Managed,
            path: PathBuf::from("/etc/hookledger/policy.json"),
            file,
        }]
    }

    fn rule<'a>(compiled: &'a Compiled, pattern: &str) -> &'a Coverage {
        compiled
            .coverage
            .iter()
            .find(|c| c.pattern == pattern)
            .unwrap_or_else(|| panic!("{pattern}: {:#?}", compiled.coverage))
    }

    #[test]
    fn each_pattern_goes_where_the_sandbox_honours_it() {
        let layers = managed(
            r#"{"version": 1, "paths": {
                "deny_read": ["**/.env", "**/.env.*", "!**/.env.example", "~/.ssh/**", "/srv/secrets/*.pem", "/**/id_rsa"],
                "deny_write": [".github/workflows/**", "/etc/**", "**/migrations/**", "~/.bashrc"],
                "ask_write": ["**/Cargo.lock"]}}"#,
        );
        let c = compile(&layers, &[], &SandboxOptions::default());
        let env = rule(&c, "**/.env");
        assert_eq!(
            env.enforcement,
            Enforcement::HookOnly,
            "an exemption follows it"
        );
        let ssh = rule(&c, "~/.ssh/**");
        assert_eq!(ssh.enforcement, Enforcement::Os);
        assert_eq!(
            ssh.compiled,
            [
                "sandbox.filesystem.denyRead: ~/.ssh/**",
                "sandbox.filesystem.denyWrite: ~/.ssh/**"
            ]
        );
        let pem = rule(&c, "/srv/secrets/*.pem");
        assert_eq!(pem.enforcement, Enforcement::Os);
        assert_eq!(
            pem.compiled,
            ["sandbox.filesystem.denyRead: /srv/secrets/*.pem"]
        );
        assert!(pem.note.as_deref().unwrap().contains("writes"));
        assert_eq!(rule(&c, "/**/id_rsa").enforcement, Enforcement::HookOnly);
        let workflows = rule(&c, ".github/workflows/**");
        assert_eq!(workflows.enforcement, Enforcement::OsInStartDir);
        assert_eq!(
            workflows.compiled,
            ["permissions.deny: Edit(.github/workflows/**)"]
        );
        assert_eq!(
            rule(&c, "/etc/**").compiled,
            ["sandbox.filesystem.denyWrite: /etc/**"]
        );
        assert_eq!(
            rule(&c, "**/migrations/**").enforcement,
            Enforcement::HookOnly
        );
        assert_eq!(rule(&c, "~/.bashrc").enforcement, Enforcement::Os);
        assert_eq!(rule(&c, "**/Cargo.lock").enforcement, Enforcement::HookOnly);
        let sandbox = &c.settings["sandbox"];
        assert_eq!(sandbox["enabled"], true);
        assert_eq!(sandbox["allowUnsandboxedCommands"], false);
        assert_eq!(sandbox["failIfUnavailable"], true);
        assert!(
            sandbox.get("network").is_none(),
            "no network choice is invented"
        );
        assert_eq!(
            c.settings["permissions"]["deny"],
            json!(["Edit(.github/workflows/**)"])
        );
    }

    #[test]
    fn absolute_exemptions_become_allow_read_and_relative_ones_stay_with_the_hook() {
        let layers = managed(
            r#"{"version": 1, "paths": {"deny_read": ["~/.aws/**", "!~/.aws/config", "**/.env"]}}"#,
        );
        let c = compile(&layers, &[], &SandboxOptions::default());
        assert_eq!(
            rule(&c, "~/.aws/**").compiled[..2],
            [
                "sandbox.filesystem.denyRead: ~/.aws/**",
                "sandbox.filesystem.allowRead: ~/.aws/config"
            ]
        );
        let env = rule(&c, "**/.env");
        assert_eq!(env.enforcement, Enforcement::OsInStartDir);
        assert_eq!(env.compiled, ["permissions.deny: Read(**/.env)"]);
        let off = SandboxOptions {
            permission_rules: Some(false),
            ..SandboxOptions::default()
        };
        let c = compile(&layers, &[], &off);
        assert_eq!(rule(&c, "**/.env").enforcement, Enforcement::HookOnly);
        assert!(c.settings.get("permissions").is_none());
    }

    #[test]
    fn self_protection_compiles_to_exact_paths() {
        let ctx = crate::protected::ProtectedContext::managed(
            None,
            Some(PathBuf::from("/usr/local/bin/hookledger")),
        );
        let set = crate::protected::protected_set(&ctx);
        let c = compile(&[], &set, &SandboxOptions::default());
        let fs = &c.settings["sandbox"]["filesystem"];
        let deny_write: Vec<&str> = fs["denyWrite"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(deny_write.contains(&"/usr/local/bin/hookledger"));
        assert!(deny_write.contains(&"~/.claude/settings.json"));
        assert!(deny_write.contains(&"~/.claude/projects"));
        assert!(
            deny_write.iter().all(|p| !p.contains('*')),
            "{deny_write:?}"
        );
        let deny_read = fs["denyRead"].as_array().unwrap();
        assert_eq!(deny_read.len(), 1);
        assert!(deny_read[0].as_str().unwrap().ends_with("/keys"));
        let skills = c
            .coverage
            .iter()
            .find(|r| r.pattern.starts_with(".claude/skills"))
            .unwrap();
        assert_eq!(skills.enforcement, Enforcement::ClaudeCodeDefault);
        let husky = c
            .coverage
            .iter()
            .find(|r| r.pattern.starts_with(".husky"))
            .unwrap();
        assert_eq!(husky.enforcement, Enforcement::HookOnly);
    }

    #[test]
    fn user_layers_are_not_compiled_and_missing_entries_are_not_in_force() {
        let mut layers = managed(r#"{"version": 1, "paths": {"deny_read": ["~/.ssh/**"]}}"#);
        layers.push(LoadedLayer {
            layer: Layer::User,
            path: PathBuf::from("/home/u/.local/share/hookledger/policy.json"),
            file: parse(
                Path::new("u"),
                r#"{"paths": {"deny_read": ["~/.kube/**"]}}"#,
            )
            .unwrap(),
        });
        let c = compile(&layers, &[], &SandboxOptions::default());
        assert_eq!(rule(&c, "~/.kube/**").enforcement, Enforcement::HookOnly);
        let only_read = |setting: &str, value: &str| setting == DENY_READ && value == "~/.ssh/**";
        let forced = in_force(c.coverage.clone(), &only_read, true);
        let ssh = forced.iter().find(|r| r.pattern == "~/.ssh/**").unwrap();
        assert_eq!(
            ssh.enforcement,
            Enforcement::HookOnly,
            "denyWrite is missing"
        );
        let everything = |_: &str, _: &str| true;
        let forced = in_force(c.coverage.clone(), &everything, false);
        assert!(
            forced
                .iter()
                .all(|r| r.enforcement == Enforcement::HookOnly)
        );
        let forced = in_force(c.coverage, &everything, true);
        assert_eq!(
            forced
                .iter()
                .find(|r| r.pattern == "~/.ssh/**")
                .unwrap()
                .enforcement,
            Enforcement::Os
        );
    }

    #[test]
    fn the_policy_mode_and_the_flag() {
        let opts = |mode| SandboxOptions {
            mode,
            ..SandboxOptions::default()
        };
        assert_eq!(wanted(&opts(None), false), Ok(false));
        assert_eq!(wanted(&opts(None), true), Ok(true));
        assert_eq!(wanted(&opts(Some(SandboxMode::Require)), false), Ok(true));
        assert!(wanted(&opts(Some(SandboxMode::Off)), true).is_err());
        let layers = managed(
            r#"{"version": 1, "sandbox": {"mode": "require", "network": {"allowedDomains": ["github.com"]}, "allow_write": ["~/.npm"]}}"#,
        );
        let options = managed_options(&layers);
        assert_eq!(options.mode, Some(SandboxMode::Require));
        let c = compile(&layers, &[], &options);
        assert_eq!(
            c.settings["sandbox"]["network"],
            json!({"allowedDomains": ["github.com"]})
        );
        assert_eq!(
            c.settings["sandbox"]["filesystem"]["allowWrite"],
            json!(["~/.npm"])
        );
        assert!(parse(Path::new("p"), r#"{"sandbox": {"network": {"bogus": 1}}}"#).is_err());
        assert!(parse(Path::new("p"), r#"{"sandbox": "maybe"}"#).is_err());
    }
}
