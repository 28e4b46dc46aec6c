/*!
Evaluating a tool call or a prompt against the effective policy.

Every layer is consulted and the strictest verdict wins (deny > ask > allow). A lower layer can
therefore only add restrictions. Built-in self-protection is consulted first and cannot be
switched off by any layer.
*/

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::dlp::{self, Finding};
use super::file::{self, Enforcement, LoadedLayer, OnError, PromptStore, SecretsAction};
use super::paths;
use super::{Action, Decision, Layer, rules};

/// Whether a tool would read or change what a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub path: PathBuf,
    pub access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<PathBuf>,
    /// A search root (Glob/Grep/LS): the tool reads what is under it, existing or not.
    #[serde(skip)]
    pub search_root: bool,
    /// The whole tree under the path is read or written (`grep -r`, `rm -r`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recursive: bool,
}

/// The policy in force for one hook process.
#[derive(Debug, Clone)]
pub struct Policy {
    pub layers: Vec<LoadedLayer>,
    home: Option<PathBuf>,
    hookledger_home: PathBuf,
    /// Canonicalizing these costs a dozen syscalls: done only when a tool call names a path.
    protected: std::cell::OnceCell<Vec<Protected>>,
    /// Effective remote URLs per repository root, looked up once per hook process.
    remotes: std::cell::RefCell<std::collections::HashMap<PathBuf, Vec<String>>>,
}

#[derive(Debug, Clone)]
struct Protected {
    path: PathBuf,
    /// Reading is refused too (signing keys), not only writing.
    read: bool,
    what: &'static str,
}

impl Policy {
    pub fn new(layers: Vec<LoadedLayer>, hookledger_home: &Path) -> Policy {
        Policy {
            layers,
            home: crate::config::user_home(),
            hookledger_home: hookledger_home.to_path_buf(),
            protected: std::cell::OnceCell::new(),
            remotes: Default::default(),
        }
    }

    fn protected(&self) -> &[Protected] {
        self.protected
            .get_or_init(|| protected_paths(&self.hookledger_home, self.home.as_deref()))
    }

    pub fn is_configured(&self) -> bool {
        !self.layers.is_empty()
    }

    fn strictest<T: Ord + Copy>(
        &self,
        pick: impl Fn(&file::PolicyFile) -> Option<T>,
        default: T,
    ) -> T {
        self.layers
            .iter()
            .filter_map(|l| pick(&l.file))
            .max()
            .unwrap_or(default)
    }

    pub fn enforcement(&self) -> Enforcement {
        self.strictest(|f| f.enforcement, Enforcement::Enforce)
    }

    pub fn unanalyzable(&self) -> Action {
        self.strictest(|f| f.unanalyzable, Action::Ask)
    }

    pub fn prompt_store(&self) -> PromptStore {
        self.strictest(
            |f| f.prompts.as_ref().and_then(|p| p.store),
            PromptStore::Full,
        )
    }

    pub fn prompt_secrets(&self) -> SecretsAction {
        self.strictest(
            |f| f.prompts.as_ref().and_then(|p| p.secrets),
            SecretsAction::Allow,
        )
    }

    /// The settings in force after combining the layers, and each layer's lists.
    pub fn effective_summary(&self) -> Value {
        let lists: Vec<Value> = self
            .layers
            .iter()
            .map(|l| {
                let f = &l.file;
                serde_json::json!({
                    "layer": l.layer,
                    "repositories": f.repositories.as_ref().map(|r| serde_json::json!({"allow": r.allow, "deny": r.deny, "otherwise": r.otherwise})),
                    "paths": f.paths.as_ref().map(|p| serde_json::json!({"deny_read": p.deny_read, "ask_read": p.ask_read, "deny_write": p.deny_write, "ask_write": p.ask_write,
                        "outside_repository": p.outside_repository.as_ref().map(|o| serde_json::json!({"read": o.read, "write": o.write}))})),
                    "tools": f.tools.as_ref().map(|t| serde_json::json!({"deny": t.deny, "ask": t.ask})),
                })
            })
            .collect();
        let git_policy = super::git::GitPolicy::from_layers(&self.layers);
        let git = serde_json::json!({
            "require_ledger_valid": git_policy.require_ledger_valid,
            "allowed_models": git_policy.allowed_models.iter().map(|(layer, models)| serde_json::json!({"layer": layer, "models": models})).collect::<Vec<_>>(),
            "review_required": git_policy.review_required.iter().map(|(_, p)| p).collect::<Vec<_>>(),
            "review_trailer": git_policy.review_trailer,
            "trailers": git_policy.trailers,
        });
        serde_json::json!({
            "configured": self.is_configured(),
            "enforcement": format!("{:?}", self.enforcement()).to_lowercase(),
            "on_error": format!("{:?}", Policy::on_error_of(&self.layers)).to_lowercase(),
            "unanalyzable": self.unanalyzable(),
            "prompts": {"store": self.prompt_store(), "secrets": format!("{:?}", self.prompt_secrets()).to_lowercase()},
            "content_secrets": self.strictest(|f| f.content_secrets, Action::Allow),
            "self_protection": self.protected().iter().map(|p| p.path.display().to_string()).collect::<Vec<_>>(),
            "git": git,
            "layers": lists,
        })
    }

    /// What a gating hook does when it cannot decide. Deny unless every layer that says
    /// anything says allow.
    pub fn on_error_of(layers: &[LoadedLayer]) -> OnError {
        layers
            .iter()
            .filter_map(|l| l.file.on_error)
            .max()
            .unwrap_or(OnError::Deny)
    }

    fn decision(
        &self,
        action: Action,
        rule: &'static str,
        layer: Layer,
        pattern: Option<String>,
        reason: String,
    ) -> Decision {
        let enforced = self.enforcement() == Enforcement::Enforce || layer == Layer::BuiltIn;
        Decision {
            action,
            rule,
            layer,
            pattern,
            reason,
            enforced,
        }
    }

    /// The decision for a tool call.
    pub fn evaluate_tool(
        &self,
        tool: &str,
        input: &Map<String, Value>,
        cwd: &Path,
    ) -> (Decision, Vec<Target>) {
        let extracted = extract_targets(tool, input, cwd, self.home.as_deref());
        let mut decisions: Vec<Decision> = Vec::new();
        for target in &extracted.targets {
            decisions.extend(self.self_protection(target));
            if self.is_configured() {
                decisions.extend(self.path_rules(target));
                if let Some(root) = &target.repository {
                    decisions.extend(self.repository_rules(root));
                }
            }
        }
        if self.is_configured() {
            for remote in &extracted.remotes {
                decisions.extend(self.remote_rules(remote));
            }
            if !extracted.unanalyzable.is_empty() {
                let mut why =
                    extracted.unanalyzable[..extracted.unanalyzable.len().min(2)].join("; ");
                if extracted.unanalyzable.len() > 2 {
                    why.push_str(&format!(" (and {} more)", extracted.unanalyzable.len() - 2));
                }
                decisions.push(self.decision(
                    self.unanalyzable(),
                    rules::UNANALYZABLE,
                    self.layer_setting(|f| f.unanalyzable.is_some()),
                    None,
                    format!(
                        "hookledger cannot tell what this command does to files: {why}; the policy's `unanalyzable` setting decides"
                    ),
                ));
            }
        }
        if self.is_configured() {
            decisions.extend(self.tool_rules(tool));
            decisions.extend(self.content_rules(tool, input));
        }
        let targets = extracted.targets;
        // Decisions were collected most specific first (self-protection, path patterns, then
        // the generic outside-repository rule, tools, content): report the first strictest.
        let strictest = decisions.iter().map(|d| d.action).max();
        let decision = decisions
            .into_iter()
            .find(|d| Some(d.action) == strictest)
            .unwrap_or_else(|| self.nothing_matched());
        (decision, targets)
    }

    fn nothing_matched(&self) -> Decision {
        if self.is_configured() {
            Decision {
                action: Action::Allow,
                rule: rules::NO_MATCH,
                layer: Layer::BuiltIn,
                pattern: None,
                reason: "no rule matched".into(),
                enforced: true,
            }
        } else {
            Decision::no_policy()
        }
    }

    /// Prompt DLP. Returns the decision and the findings (kinds and ranges, never text).
    pub fn evaluate_prompt(&self, prompt: &str, cwd: &Path) -> (Decision, Vec<Finding>) {
        if !self.is_configured() {
            return (Decision::no_policy(), Vec::new());
        }
        let findings = dlp::scan(prompt);
        let repository = crate::git::repository_root(cwd);
        if let Some(mut refusal) = repository.and_then(|root| self.repository_rules(&root)) {
            refusal.reason = format!(
                "{}; the session works in a repository this policy does not allow, so its prompts are blocked",
                refusal.reason
            );
            return (refusal, findings);
        }
        let decision = match (findings.first(), self.prompt_secrets()) {
            (Some(first), SecretsAction::Block) => self.decision(
                Action::Deny,
                rules::PROMPT_SECRET,
                self.layer_setting(|f| f.prompts.as_ref().and_then(|p| p.secrets) == Some(SecretsAction::Block)),
                None,
                format!(
                    "the prompt contains {}; remove it and send the prompt again (it was not sent to the model)",
                    first.kind.label()
                ),
            ),
            _ => self.nothing_matched(),
        };
        (decision, findings)
    }

    /// The first layer whose file satisfies `has`, for attributing a setting.
    fn layer_setting(&self, has: impl Fn(&file::PolicyFile) -> bool) -> Layer {
        self.layers
            .iter()
            .find(|l| has(&l.file))
            .map_or(Layer::BuiltIn, |l| l.layer)
    }

    /// Built in and always on: hookledger's own files, Claude Code's settings, git hooks.
    fn self_protection(&self, target: &Target) -> Option<Decision> {
        let hit = self.protected().iter().find(|p| {
            (target.access == Access::Write || p.read)
                && (target.path == p.path || target.path.starts_with(&p.path))
        });
        let Some(hit) = hit else {
            // Project files are recognised by shape wherever the repository is.
            let what = is_protected_project_file(&target.path)
                .filter(|_| target.access == Access::Write)?;
            return Some(self.decision(
                Action::Deny,
                rules::SELF_PROTECTION,
                Layer::BuiltIn,
                None,
                format!(
                    "{} is {what}, which no tool may change",
                    target.path.display()
                ),
            ));
        };
        Some(self.decision(
            Action::Deny,
            rules::SELF_PROTECTION,
            Layer::BuiltIn,
            Some(hit.path.display().to_string()),
            format!(
                "{} is {}, which no tool may {}",
                target.path.display(),
                hit.what,
                if target.access == Access::Write {
                    "change"
                } else {
                    "read"
                }
            ),
        ))
    }

    fn path_rules(&self, target: &Target) -> Vec<Decision> {
        let forms = PathForms::new(target, self.home.as_deref());
        // A search rooted at a directory reads what is inside it: a rule that covers every
        // child (`~/.ssh/**`) covers the search. Rules for some children only (`**/.env`) do
        // not, or every repository-wide grep would be refused.
        let child = (target.search_root || target.path.is_dir()).then(|| {
            let probe = Target {
                path: target.path.join(DIRECTORY_PROBE),
                ..target.clone()
            };
            PathForms::new(&probe, self.home.as_deref())
        });
        let mut out = Vec::new();
        for layer in &self.layers {
            let Some(rules_) = &layer.file.paths else {
                continue;
            };
            let check = |list: &[String], action: Action, rule: &'static str, verb: &str| {
                first_match(list, &forms)
                    .or_else(|| child.as_ref().and_then(|c| first_match(list, c)))
                    .or_else(|| {
                        target
                            .recursive
                            .then(|| rooted_inside(list, target, self.home.as_deref()))
                            .flatten()
                    })
                    .map(|pattern| {
                        self.decision(
                            action,
                            rule,
                            layer.layer,
                            Some(pattern.clone()),
                            format!(
                                "{} matches {} policy pattern {pattern:?}: {verb}",
                                target.path.display(),
                                layer_name(layer.layer)
                            ),
                        )
                    })
            };
            // A path denied for reading is denied for writing too.
            out.extend(check(
                &rules_.deny_read,
                Action::Deny,
                rules::PATH_DENY_READ,
                "it may not be read or written",
            ));
            out.extend(check(
                &rules_.ask_read,
                Action::Ask,
                rules::PATH_ASK_READ,
                "reading it needs confirmation",
            ));
            if target.access == Access::Write {
                out.extend(check(
                    &rules_.deny_write,
                    Action::Deny,
                    rules::PATH_DENY_WRITE,
                    "it may not be written",
                ));
                out.extend(check(
                    &rules_.ask_write,
                    Action::Ask,
                    rules::PATH_ASK_WRITE,
                    "writing it needs confirmation",
                ));
            }
            if target.repository.is_none() {
                let outside = rules_.outside_repository.as_ref();
                let (setting, rule) = match target.access {
                    Access::Read => (outside.and_then(|o| o.read), rules::OUTSIDE_REPOSITORY_READ),
                    Access::Write => (
                        outside.and_then(|o| o.write),
                        rules::OUTSIDE_REPOSITORY_WRITE,
                    ),
                };
                if let Some(action) = setting.filter(|a| *a != Action::Allow) {
                    out.push(self.decision(action, rule, layer.layer, None, format!(
                        "{} is outside every repository; the {} policy says {:?} for {:?} there",
                        target.path.display(),
                        layer_name(layer.layer),
                        action,
                        target.access
                    )));
                }
            }
        }
        out
    }

    /// Whether any layer has repository rules (an allowlist or denylist).
    pub fn has_repository_rules(&self) -> bool {
        self.layers.iter().any(|l| l.file.repositories.is_some())
    }

    /// The allowlist's verdict on a repository known by its normalized remotes and root, as
    /// recorded earlier (no git is run): `None` when it is allowed or no rules apply.
    pub fn repository_verdict(&self, remotes: &[String], root: &str) -> Option<Decision> {
        if !self.has_repository_rules() {
            return None;
        }
        self.allowlist(remotes, Some(root), &|| {
            format!("repository {root} ({})", describe_remotes(remotes))
        })
    }

    /// A repository is allowed when one of its effective remotes matches an `allow` entry (or
    /// its root a `path:` entry) in every layer that has an allow list, and none matches `deny`.
    fn repository_rules(&self, root: &Path) -> Option<Decision> {
        if !self.layers.iter().any(|l| l.file.repositories.is_some()) {
            return None;
        }
        let remotes = self
            .remotes
            .borrow_mut()
            .entry(root.to_path_buf())
            .or_insert_with(|| crate::git::effective_remote_urls(root))
            .clone();
        let root_text = root.to_string_lossy().replace('\\', "/");
        self.allowlist(&remotes, Some(&root_text), &|| {
            format!(
                "repository {} ({})",
                root.display(),
                describe_remotes(&remotes)
            )
        })
    }

    /// A remote a command talks to (`git push URL`, `git clone URL`, `git remote add`) must
    /// pass the same allowlist as a repository's own remotes.
    fn remote_rules(&self, remote: &super::shell::RemoteUse) -> Option<Decision> {
        if !self.layers.iter().any(|l| l.file.repositories.is_some()) {
            return None;
        }
        let local = remote.url.strip_prefix("file:");
        self.allowlist(std::slice::from_ref(&remote.url), local, &|| {
            format!("{} to {}", remote.operation, remote.url)
        })
    }

    fn allowlist(
        &self,
        remotes: &[String],
        local_path: Option<&str>,
        subject: &dyn Fn() -> String,
    ) -> Option<Decision> {
        let matches = |entry: &str| match entry.strip_prefix("path:") {
            Some(glob) => local_path.is_some_and(|p| fast_glob::glob_match(glob, p)),
            None => remotes.iter().any(|r| fast_glob::glob_match(entry, r)),
        };
        let mut decisions = Vec::new();
        for layer in &self.layers {
            let Some(repos) = &layer.file.repositories else {
                continue;
            };
            if let Some(entry) = repos.deny.iter().find(|e| matches(e)) {
                decisions.push(self.decision(
                    Action::Deny,
                    rules::REPOSITORY_DENIED,
                    layer.layer,
                    Some(entry.clone()),
                    format!(
                        "{} matches the {} policy's repository deny entry {entry:?}",
                        subject(),
                        layer_name(layer.layer)
                    ),
                ));
            } else if let Some(allow) = &repos.allow
                && !allow.iter().any(|e| matches(e))
            {
                let action = repos.otherwise.unwrap_or(Action::Deny);
                decisions.push(self.decision(
                    action,
                    rules::REPOSITORY_NOT_ALLOWED,
                    layer.layer,
                    None,
                    format!(
                        "{} is not on the {} policy's repository allowlist",
                        subject(),
                        layer_name(layer.layer)
                    ),
                ));
            }
        }
        let strictest = decisions.iter().map(|d| d.action).max();
        decisions
            .into_iter()
            .find(|d| Some(d.action) == strictest && d.action != Action::Allow)
    }

    fn tool_rules(&self, tool: &str) -> Vec<Decision> {
        let mut out = Vec::new();
        for layer in &self.layers {
            let Some(tools) = &layer.file.tools else {
                continue;
            };
            for (list, action, rule) in [
                (&tools.deny, Action::Deny, rules::TOOL_DENY),
                (&tools.ask, Action::Ask, rules::TOOL_ASK),
            ] {
                if let Some(pattern) = list
                    .iter()
                    .find(|p| fast_glob::glob_match(p.as_str(), tool))
                {
                    out.push(self.decision(
                        action,
                        rule,
                        layer.layer,
                        Some(pattern.clone()),
                        format!(
                            "tool {tool} matches {} policy pattern {pattern:?}",
                            layer_name(layer.layer)
                        ),
                    ));
                }
            }
        }
        out
    }

    fn content_rules(&self, tool: &str, input: &Map<String, Value>) -> Option<Decision> {
        let action = self.strictest(|f| f.content_secrets, Action::Allow);
        if action == Action::Allow {
            return None;
        }
        let finding = written_content(tool, input)
            .iter()
            .find_map(|text| dlp::scan(text).into_iter().next())?;
        Some(self.decision(
            action,
            rules::CONTENT_SECRET,
            self.layer_setting(|f| f.content_secrets.is_some_and(|a| a != Action::Allow)),
            None,
            format!(
                "the content to be written contains {}; keep secrets out of files",
                finding.kind.label()
            ),
        ))
    }
}

fn describe_remotes(remotes: &[String]) -> String {
    if remotes.is_empty() {
        "no remotes".into()
    } else {
        format!("remotes {}", remotes.join(", "))
    }
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Managed => "managed",
        Layer::User => "user",
        Layer::BuiltIn => "built-in",
    }
}

/// The text an edit tool would write.
fn written_content<'a>(tool: &str, input: &'a Map<String, Value>) -> Vec<&'a str> {
    let s = |key: &str| input.get(key).and_then(Value::as_str);
    match tool {
        "Write" => s("content").into_iter().collect(),
        "Edit" => s("new_string").into_iter().collect(),
        "NotebookEdit" => s("new_source").into_iter().collect(),
        "MultiEdit" => input
            .get("edits")
            .and_then(Value::as_array)
            .map(|edits| {
                edits
                    .iter()
                    .filter_map(|e| e.get("new_string").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The ways a pattern can name a target: absolute, `~/`-relative, repository-relative.
struct PathForms {
    absolute: String,
    home_relative: Option<String>,
    repo_relative: Option<String>,
}

impl PathForms {
    fn new(target: &Target, home: Option<&Path>) -> PathForms {
        let text = |p: &Path| p.to_string_lossy().replace('\\', "/");
        let fold = |s: String| {
            if cfg!(any(target_os = "macos", windows)) {
                s.to_lowercase()
            } else {
                s
            }
        };
        PathForms {
            absolute: fold(text(&target.path)),
            home_relative: home
                .and_then(|h| target.path.strip_prefix(h).ok())
                .map(|r| fold(format!("~/{}", text(r)))),
            repo_relative: target
                .repository
                .as_ref()
                .and_then(|root| target.path.strip_prefix(root).ok())
                .map(|r| fold(text(r))),
        }
    }

    fn matches(&self, pattern: &str) -> bool {
        let pattern = if cfg!(any(target_os = "macos", windows)) {
            pattern.to_lowercase()
        } else {
            pattern.to_owned()
        };
        if pattern.starts_with('/') {
            return fast_glob::glob_match(&pattern, &self.absolute);
        }
        if pattern.starts_with("~/") {
            return self
                .home_relative
                .as_ref()
                .is_some_and(|h| fast_glob::glob_match(&pattern, h));
        }
        match &self.repo_relative {
            Some(relative) => fast_glob::glob_match(&pattern, relative),
            // Outside any repository, relative patterns apply from the filesystem root, so
            // `**/.env` still covers a stray `/tmp/x/.env`.
            None => fast_glob::glob_match(&pattern, self.absolute.trim_start_matches('/')),
        }
    }
}

/// For a command that walks the whole tree under `target`: the first pattern rooted at a
/// directory inside that tree (`~/.ssh/**` for `grep -r x ~`). Patterns that match by name
/// anywhere (`**/.env`) have no such root and are not applied to the walk, or every
/// repository-wide search would be refused; exemptions are ignored here (stricter).
fn rooted_inside<'a>(
    list: &'a [String],
    target: &Target,
    home: Option<&Path>,
) -> Option<&'a String> {
    list.iter().filter(|p| !p.starts_with('!')).find(|pattern| {
        let literal: Vec<&str> = pattern
            .split('/')
            .take_while(|part| !part.contains(['*', '?', '[', '{']))
            .collect();
        let literal = literal.join("/");
        let base: Option<PathBuf> = if let Some(rest) = literal.strip_prefix("~/") {
            home.map(|h| h.join(rest))
        } else if literal == "~" {
            home.map(Path::to_path_buf)
        } else if literal.starts_with('/') {
            Some(PathBuf::from(&literal))
        } else if literal.is_empty() {
            None
        } else {
            target.repository.as_ref().map(|root| root.join(&literal))
        };
        base.is_some_and(|b| {
            let b = paths::resolve(&b.to_string_lossy(), Path::new("/"), home);
            b.starts_with(&target.path) && b != target.path
        })
    })
}

/// gitignore-style: the last matching pattern decides, and `!pattern` exempts.
fn first_match<'a>(list: &'a [String], forms: &PathForms) -> Option<&'a String> {
    let mut verdict = None;
    for pattern in list {
        if let Some(exempt) = pattern.strip_prefix('!') {
            if verdict.is_some() && forms.matches(exempt) {
                verdict = None;
            }
        } else if forms.matches(pattern) {
            verdict = Some(pattern);
        }
    }
    verdict
}

fn protected_paths(hookledger_home: &Path, home: Option<&Path>) -> Vec<Protected> {
    let physical = |p: &Path| paths::resolve(&p.to_string_lossy(), Path::new("/"), home);
    let mut out = vec![
        Protected {
            path: physical(&hookledger_home.join("keys")),
            read: true,
            what: "hookledger's signing-key store",
        },
        Protected {
            path: physical(hookledger_home),
            read: false,
            what: "hookledger's ledger directory",
        },
        Protected {
            path: physical(&file::managed_dir().0),
            read: false,
            what: "hookledger's managed policy",
        },
    ];
    let claude_dir = std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".claude")));
    if let Some(dir) = claude_dir {
        for name in ["settings.json", "settings.local.json"] {
            out.push(Protected {
                path: physical(&dir.join(name)),
                read: false,
                what: "a Claude Code settings file",
            });
        }
    }
    for managed in [
        "/etc/claude-code",
        "/Library/Application Support/ClaudeCode",
        "C:/Program Files/ClaudeCode",
    ] {
        out.push(Protected {
            path: physical(Path::new(managed)),
            read: false,
            what: "Claude Code's managed settings",
        });
    }
    if let Ok(exe) = std::env::current_exe() {
        out.push(Protected {
            path: physical(&exe),
            read: false,
            what: "the hookledger binary",
        });
    }
    out
}

/// Project-level files no tool may write, wherever they are: Claude Code's project settings
/// and git hooks (where hookledger's shims live).
fn is_protected_project_file(path: &Path) -> Option<&'static str> {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    let n = parts.len();
    if n >= 2
        && parts[n - 2] == ".claude"
        && (parts[n - 1] == "settings.json" || parts[n - 1] == "settings.local.json")
    {
        return Some("a Claude Code project settings file");
    }
    if parts.windows(2).any(|w| w[0] == ".git" && w[1] == "hooks") {
        return Some("a git hook");
    }
    if is_hookledger_git_hook(path) {
        return Some("a git hook running hookledger");
    }
    None
}

/// A hook file outside `.git/hooks` (`core.hooksPath`, husky's `.husky/<hook>`) that runs
/// hookledger, or the hook it chained. Only files with a hook's name are read, and only their
/// head: this runs on tool calls.
fn is_hookledger_git_hook(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name
        .strip_suffix(crate::git::hooks::CHAINED_SUFFIX)
        .unwrap_or(name);
    if !crate::git::hooks::HOOKS.contains(&name) {
        return false;
    }
    if path
        .to_string_lossy()
        .ends_with(crate::git::hooks::CHAINED_SUFFIX)
    {
        return true;
    }
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .is_ok()
        && memchr::memmem::find(&head, b"hookledger git ").is_some()
}

/// A child name no pattern names on purpose, for asking "does this rule cover everything in
/// the directory?".
pub(crate) const DIRECTORY_PROBE: &str = "\u{1}hookledger-probe";

/// Keys under which unknown and MCP tools commonly pass paths.
const PATH_KEYS: &[&str] = &[
    "file_path",
    "path",
    "paths",
    "notebook_path",
    "filePath",
    "filename",
    "file",
    "directory",
    "dir",
    "source",
    "destination",
    "target",
    "cwd",
];

/// What a tool call touches: paths, git remotes, and what could not be determined.
#[derive(Debug, Default)]
pub struct Extracted {
    pub targets: Vec<Target>,
    pub remotes: Vec<super::shell::RemoteUse>,
    pub unanalyzable: Vec<String>,
}

/// Which paths a tool call reads or writes, and which remotes it talks to.
pub fn extract_targets(
    tool: &str,
    input: &Map<String, Value>,
    cwd: &Path,
    home: Option<&Path>,
) -> Extracted {
    let s = |key: &str| input.get(key).and_then(Value::as_str);
    let mut raw: Vec<(String, Access)> = Vec::new();
    let search = matches!(tool, "Glob" | "Grep" | "LS");
    match tool {
        "Read" => raw.extend(s("file_path").map(|p| (p.to_owned(), Access::Read))),
        "Edit" | "Write" | "MultiEdit" => {
            raw.extend(s("file_path").map(|p| (p.to_owned(), Access::Write)))
        }
        "NotebookEdit" => raw.extend(s("notebook_path").map(|p| (p.to_owned(), Access::Write))),
        "Glob" | "Grep" | "LS" => {
            let base = s("path").unwrap_or(".");
            raw.push((base.to_owned(), Access::Read));
            if let Some(pattern) = s("pattern").filter(|_| tool == "Glob") {
                raw.push((
                    Path::new(base)
                        .join(glob_root(pattern))
                        .to_string_lossy()
                        .into_owned(),
                    Access::Read,
                ));
            }
        }
        "Bash" | "PowerShell" => {
            let command = s("command").unwrap_or("");
            let analysis = if tool == "Bash" {
                super::shell::analyze_bash(command, cwd, home)
            } else {
                super::shell::analyze_powershell(command, cwd, home)
            };
            // Commands often name many files in few directories.
            let mut roots: std::collections::HashMap<PathBuf, Option<PathBuf>> =
                std::collections::HashMap::new();
            let targets = analysis
                .accesses
                .into_iter()
                .map(|a| {
                    let key = if a.path.is_dir() {
                        a.path.clone()
                    } else {
                        a.path
                            .parent()
                            .map_or_else(|| a.path.clone(), Path::to_path_buf)
                    };
                    let repository = roots
                        .entry(key)
                        .or_insert_with_key(|k| crate::git::repository_root(k))
                        .clone();
                    Target {
                        path: a.path,
                        access: a.access,
                        repository,
                        search_root: a.search_root || a.recursive,
                        recursive: a.recursive,
                    }
                })
                .collect();
            return Extracted {
                targets,
                remotes: analysis.remotes,
                unanalyzable: analysis.unanalyzable,
            };
        }
        _ if tool.starts_with("mcp__") => {
            let access = if ["read", "get", "list", "search", "view", "find", "stat"]
                .iter()
                .any(|v| tool.to_ascii_lowercase().contains(v))
            {
                Access::Read
            } else {
                Access::Write
            };
            collect_path_strings(&Value::Object(input.clone()), &mut |text| {
                if looks_like_path(text) {
                    raw.push((text.to_owned(), access));
                }
            });
        }
        _ => {
            for key in PATH_KEYS {
                match input.get(*key) {
                    Some(Value::String(p)) => raw.push((p.clone(), Access::Write)),
                    Some(Value::Array(items)) => raw.extend(
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|p| (p.to_owned(), Access::Write)),
                    ),
                    _ => {}
                }
            }
        }
    }
    let targets = raw
        .into_iter()
        .map(|(text, access)| {
            let path = paths::resolve(&text, cwd, home);
            let repository = crate::git::repository_root(&path);
            Target {
                path,
                access,
                repository,
                search_root: search,
                recursive: false,
            }
        })
        .collect();
    Extracted {
        targets,
        ..Default::default()
    }
}

/// The literal directory a glob pattern starts from (`src/**/*.rs` → `src`).
fn glob_root(pattern: &str) -> String {
    let mut root = Vec::new();
    for part in pattern.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        root.push(part);
    }
    root.join("/")
}

fn collect_path_strings(value: &Value, visit: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter().for_each(|v| collect_path_strings(v, visit)),
        Value::Object(map) => map.values().for_each(|v| collect_path_strings(v, visit)),
        _ => {}
    }
}

/// A string argument that names a file: absolute, home- or dot-relative, or a relative path
/// with a separator (`src/main.rs`). URLs and prose are not paths.
fn looks_like_path(text: &str) -> bool {
    if text.contains("://") || text.contains('\n') || text.len() > 4096 {
        return false;
    }
    text.starts_with('/')
        || text.starts_with("~/")
        || text == "~"
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with("$HOME")
        || (text.contains('/') && !text.contains(' '))
}
