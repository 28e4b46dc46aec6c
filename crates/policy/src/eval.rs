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
use super::protect::{self, Protection, Relation};
use super::{Action, Decision, Layer, rules};
use crate::shell::RemoteUse;
pub use crate::target::{Access, DIRECTORY_PROBE, Target};
use crate::world::{RealWorld, World};

/// What is asked, as the policy sees it: independent of the hook's wire format, so the hook
/// and `policy explain` describe the same call the same way.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A tool call, or a skill's inline shell command (as the tool that runs it), made from
    /// `cwd`.
    Tool {
        tool: &'a str,
        input: &'a Map<String, Value>,
        cwd: &'a Path,
    },
    /// A prompt the user submits in a session working in `cwd`.
    Prompt { text: &'a str, cwd: &'a Path },
}

/// Everything one decision found: the decision (action, rule code, layer, reason) and what it
/// rests on. The hook records it; `policy explain` renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// The paths the call reads or writes.
    pub targets: Vec<Target>,
    /// The git remotes a command talks to.
    pub remotes: Vec<RemoteUse>,
    /// Why some of a command's effect is unknown; empty when it was fully analysed.
    pub unanalyzable: Vec<String>,
    /// Secrets found in a prompt (kinds and ranges, never text).
    pub findings: Vec<Finding>,
}

/// The policy in force for one hook process.
#[derive(Debug, Clone)]
pub struct Policy {
    pub layers: Vec<LoadedLayer>,
    home: Option<PathBuf>,
    /// Resolved lazily: only a tool call that names a path pays for it.
    protection: Protection,
    /// Effective remote URLs per repository root, looked up once per hook process.
    remotes: std::cell::RefCell<std::collections::HashMap<PathBuf, Vec<String>>>,
}

impl Policy {
    pub fn new(layers: Vec<LoadedLayer>, hookledger_home: &Path) -> Policy {
        let cx = protect::Context::from_env(hookledger_home, crate::places::user_home());
        Policy::with_context(layers, cx)
    }

    /// A policy whose protected set is given explicitly (tests, tools that inspect another
    /// user's setup) instead of read from this process's environment.
    pub fn with_context(layers: Vec<LoadedLayer>, cx: protect::Context) -> Policy {
        Policy {
            layers,
            home: cx.home.clone(),
            protection: Protection::new(cx),
            remotes: Default::default(),
        }
    }

    /// What self-protection does with writes to a project's skills, commands and agents.
    pub fn project_extensions(&self) -> Action {
        match self.strictest(|f| f.project_extensions, file::ProjectExtensions::Deny) {
            file::ProjectExtensions::Ask => Action::Ask,
            file::ProjectExtensions::Deny => Action::Deny,
        }
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
            "self_protection": self.protection.listing(),
            "project_extensions": self.project_extensions(),
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

    /// The one decision function: the hook and `policy explain` both call it. Repository facts
    /// and the analysis budget come from `world`.
    pub fn judge(&self, event: &Event, world: &dyn World) -> Verdict {
        let _scope = crate::paths::DecisionScope::open();
        match *event {
            Event::Tool { tool, input, cwd } => self.judge_tool(tool, input, cwd, world),
            Event::Prompt { text, cwd } => self.judge_prompt(text, cwd, world),
        }
    }

    /// The decision for a tool call on this machine ([`Policy::judge`] with [`RealWorld`]).
    pub fn evaluate_tool(
        &self,
        tool: &str,
        input: &Map<String, Value>,
        cwd: &Path,
    ) -> (Decision, Vec<Target>) {
        let _scope = crate::paths::DecisionScope::open();
        let verdict = self.judge_tool(tool, input, cwd, &RealWorld::HOOK);
        (verdict.decision, verdict.targets)
    }

    fn judge_tool(
        &self,
        tool: &str,
        input: &Map<String, Value>,
        cwd: &Path,
        world: &dyn World,
    ) -> Verdict {
        let extracted = extract_targets(tool, input, cwd, self.home.as_deref(), world);
        let mut decisions: Vec<Decision> = Vec::new();
        for why in &extracted.refusals {
            decisions.push(self.decision(
                Action::Deny,
                rules::SELF_PROTECTION,
                Layer::BuiltIn,
                None,
                why.clone(),
            ));
        }
        for target in &extracted.targets {
            decisions.extend(self.self_protection(tool, input, target, cwd, world));
            if self.is_configured() {
                decisions.extend(self.path_rules(target, world));
                if let Some(root) = &target.repository {
                    decisions.extend(self.repository_rules(root, world));
                }
            }
        }
        if tool == "Glob" {
            decisions.extend(self.glob_into_keys(input, cwd, world));
        }
        if self.is_configured() && matches!(tool, "Grep" | "Glob") {
            for probe in self.search_probes(tool, input, cwd, world) {
                decisions.extend(self.path_rules(&probe, world));
            }
        }
        if !extracted.unanalyzable.is_empty() {
            let mut why = extracted.unanalyzable[..extracted.unanalyzable.len().min(2)].join("; ");
            if extracted.unanalyzable.len() > 2 {
                why.push_str(&format!(" (and {} more)", extracted.unanalyzable.len() - 2));
            }
            if let Some(named) =
                self.names_protected(&extracted.command, extracted.opaque_beyond_reads)
            {
                decisions.push(self.decision(
                    Action::Deny,
                    rules::SELF_PROTECTION,
                    Layer::BuiltIn,
                    None,
                    format!(
                        "hookledger cannot tell what this command does ({why}), and it names {named}, which self-protection covers; run it without the part hookledger cannot follow"
                    ),
                ));
            }
            if self.is_configured() {
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
            for remote in &extracted.remotes {
                decisions.extend(self.remote_rules(remote));
            }
            decisions.extend(self.tool_rules(tool));
            decisions.extend(self.content_rules(tool, input, &extracted.targets));
        }
        // Decisions were collected most specific first (self-protection, path patterns, then
        // the generic outside-repository rule, tools, content): report the first strictest.
        let strictest = decisions.iter().map(|d| d.action).max();
        let decision = decisions
            .into_iter()
            .find(|d| Some(d.action) == strictest)
            .unwrap_or_else(|| self.nothing_matched());
        Verdict {
            decision,
            targets: extracted.targets,
            remotes: extracted.remotes,
            unanalyzable: extracted.unanalyzable,
            findings: Vec::new(),
        }
    }

    /// For a command hookledger cannot fully follow: the protected thing its text names, if
    /// any. The OS sandbox is the first line against what no parser can see; this catches the
    /// plain attempts (`$(which hookledger) uninstall`, `eval "rm -rf .cl""aude"`) even with no
    /// policy and under `enforcement: audit`. When only reads are unknown, only the names of
    /// what may not be read count.
    fn names_protected(&self, command: &str, beyond_reads: bool) -> Option<String> {
        if command.is_empty() {
            return None;
        }
        let lower = command.to_ascii_lowercase();
        // What may not even be read: the keys, wherever the ledger directory is.
        let mut names: Vec<String> = vec![
            ".ed25519".into(),
            "hookledger/keys".into(),
            "share/hookledger".into(),
        ];
        let cx = self.protection.context();
        let ledger = cx.hookledger_home.to_string_lossy().to_ascii_lowercase();
        if ledger.len() > 1 {
            names.push(ledger);
        }
        if beyond_reads {
            names.extend(
                [
                    "hookledger",
                    ".claude",
                    "claude-code",
                    "claudecode",
                    "claude_config_dir",
                    "settings.json",
                    "settings.local.json",
                    "hookspath",
                    "git_config",
                    "husky",
                    ".git/hooks",
                    ".git/config",
                    ".gitconfig",
                    "git/config",
                    "shell-snapshots",
                    "dev-mods",
                ]
                .map(String::from),
            );
            if let Some(name) = cx.binary.as_deref().and_then(Path::file_name) {
                names.push(name.to_string_lossy().to_ascii_lowercase());
            }
        }
        names
            .into_iter()
            .find(|n| lower.contains(n.as_str()))
            .map(|n| format!("`{n}`"))
    }

    /// A Glob whose root is above the signing keys and whose pattern reaches them lists them.
    fn glob_into_keys(
        &self,
        input: &Map<String, Value>,
        cwd: &Path,
        world: &dyn World,
    ) -> Option<Decision> {
        let pattern = input.get("pattern").and_then(Value::as_str)?;
        let base = input.get("path").and_then(Value::as_str).unwrap_or(".");
        let root = paths::resolve_in(base, cwd, self.home.as_deref(), world);
        let keys = paths::resolve_in(
            &self
                .protection
                .context()
                .hookledger_home
                .join("keys")
                .to_string_lossy(),
            Path::new("/"),
            self.home.as_deref(),
            world,
        );
        let rel_keys = keys.strip_prefix(&root).ok()?;
        let mut names: Vec<String> = std::fs::read_dir(&keys)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.push("x.ed25519".into());
        let pattern = pattern.trim_start_matches("./");
        let pattern = paths::expand_home(pattern, self.home.as_deref())
            .or_else(|| {
                Path::new(pattern)
                    .is_absolute()
                    .then(|| PathBuf::from(pattern))
            })
            .and_then(|p| {
                p.strip_prefix(&root)
                    .ok()
                    .map(|r| r.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| pattern.to_owned());
        let reaches = names.iter().any(|n| {
            let rel = rel_keys.join(n);
            fast_glob::glob_match(&pattern, rel.to_string_lossy().as_ref())
        });
        reaches.then(|| {
            self.decision(
                Action::Deny,
                rules::SELF_PROTECTION,
                Layer::BuiltIn,
                Some(keys.display().to_string()),
                format!(
                    "the glob {pattern:?} from {} reaches {} ({}); no tool may read them: {}",
                    root.display(),
                    protect::Subject::SigningKeys.what(),
                    keys.display(),
                    protect::Subject::SigningKeys.why()
                ),
            )
        })
    }

    /// What a filtered search reads (crate::search): each filter's probe names under the
    /// search root, and, for a filter that matches at any depth, under every directory inside
    /// the root that a read rule is rooted at (`glob: "*.pem"` from `~` reads `~/.ssh/*.pem`).
    fn search_probes(
        &self,
        tool: &str,
        input: &Map<String, Value>,
        cwd: &Path,
        world: &dyn World,
    ) -> Vec<Target> {
        /// Bounds the work for a filter with many alternatives under many rooted rules.
        const MAX: usize = 512;
        let filters = search_filters(tool, input);
        if filters.is_empty() {
            return Vec::new();
        }
        let home = self.home.as_deref();
        let base = input.get("path").and_then(Value::as_str).unwrap_or(".");
        let root = paths::resolve_in(base, cwd, home, world);
        let repository = world.repository_root(&root);
        let bases: Vec<PathBuf> = self
            .layers
            .iter()
            .filter_map(|l| l.file.paths.as_ref())
            .flat_map(|p| p.deny_read.iter().chain(&p.ask_read))
            .filter_map(|pattern| pattern_base(pattern, home, repository.as_deref(), world))
            .collect();
        let mut out = Vec::new();
        for filter in &filters {
            let dir = if filter.anchor.is_empty() {
                root.clone()
            } else {
                paths::resolve_in(&filter.anchor, &root, home, world)
            };
            let names = super::search::probes(&filter.rest);
            let mut dirs = vec![dir.clone()];
            if filter.any_depth {
                dirs.extend(
                    bases
                        .iter()
                        .filter(|b| b.starts_with(&dir) && **b != dir)
                        .cloned(),
                );
            }
            for d in dirs {
                let repository = world.repository_root(&d);
                for name in &names {
                    if out.len() >= MAX {
                        return out;
                    }
                    // An absolute or home filter (`Glob pattern=~/.ssh/*`) names its own place.
                    let path = if name.starts_with('/') || name.starts_with("~/") {
                        paths::resolve_in(name, &d, home, world)
                    } else {
                        d.join(name)
                    };
                    out.push(Target::plain(path, Access::Read, repository.clone()));
                }
            }
        }
        out
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

    /// Prompt DLP on this machine ([`Policy::judge`] with [`RealWorld`]). Returns the decision
    /// and the findings (kinds and ranges, never text).
    pub fn evaluate_prompt(&self, prompt: &str, cwd: &Path) -> (Decision, Vec<Finding>) {
        let verdict = self.judge_prompt(prompt, cwd, &RealWorld::HOOK);
        (verdict.decision, verdict.findings)
    }

    fn judge_prompt(&self, prompt: &str, cwd: &Path, world: &dyn World) -> Verdict {
        let (decision, findings) = self.prompt_decision(prompt, cwd, world);
        Verdict {
            decision,
            targets: Vec::new(),
            remotes: Vec::new(),
            unanalyzable: Vec::new(),
            findings,
        }
    }

    fn prompt_decision(
        &self,
        prompt: &str,
        cwd: &Path,
        world: &dyn World,
    ) -> (Decision, Vec<Finding>) {
        // Scanned with or without a policy: the record keeps no secret in clear either way,
        // and the hook reuses these findings rather than scanning the prompt again.
        let findings = dlp::scan(prompt);
        if !self.is_configured() {
            return (Decision::no_policy(), findings);
        }
        let repository = world.repository_root(cwd);
        if let Some(mut refusal) = repository.and_then(|root| self.repository_rules(&root, world)) {
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

    /// Built in and always on: hookledger's own files, Claude Code's settings and extensions,
    /// git hooks and what switches them.
    fn self_protection(
        &self,
        tool: &str,
        input: &Map<String, Value>,
        target: &Target,
        cwd: &Path,
        world: &dyn World,
    ) -> Option<Decision> {
        // Grep reads the content of every file under its path.
        let grep;
        let target = if tool == "Grep" {
            grep = Target {
                recursive: true,
                ..target.clone()
            };
            &grep
        } else {
            target
        };
        // Whether the file is git configuration is only asked when the edit changes what
        // would decide hooks there: reading the configuration files costs more than the edit.
        if target.access == Access::Write
            && target.vetted
            && matches!(tool, "Edit" | "Write" | "MultiEdit")
            && edit_changes_hook_settings(tool, input, &target.path)
            && self.protection.is_git_config_file(
                &target.path,
                target.repository.as_deref(),
                cwd,
                world,
            )
        {
            return Some(self.decision(
                Action::Deny,
                rules::SELF_PROTECTION,
                Layer::BuiltIn,
                Some(target.path.display().to_string()),
                format!(
                    "{} is a git configuration file and this {tool} changes `core.hooksPath` or an include, which decide which git hooks run; hookledger's commit-time provenance runs from them",
                    target.path.display()
                ),
            ));
        }
        let hit = self
            .protection
            .check(target, cwd, self.project_extensions(), world)?;
        let t = target.path.display();
        let what = hit.subject.what();
        let at = hit.at.display();
        let why = hit.subject.why();
        let verb = if target.access == Access::Read {
            "read"
        } else {
            "change"
        };
        let mut reason = match hit.relation {
            _ if target.link_target => format!(
                "a link to {t} would be a new name for {what} ({at}) that later writes go through; no tool may make one: {why}"
            ),
            Relation::Inside if hit.at == target.path => {
                format!("{t} is {what}; no tool may {verb} it: {why}")
            }
            Relation::Inside if target.link.as_ref() == Some(&hit.at) => format!(
                "{} is {what} (a symlink to {t}); no tool may {verb} it: {why}",
                hit.at.display()
            ),
            Relation::Inside => {
                format!("{t} is inside {what} ({at}); no tool may {verb} it: {why}")
            }
            Relation::Contains if hit.at == target.path => {
                format!("{t} is {what}; no tool may delete, move or re-permission it: {why}")
            }
            Relation::Contains if target.access == Access::Read => {
                format!("{t} contains {what} ({at}); no tool may read or copy them: {why}")
            }
            Relation::Contains => format!(
                "{t} contains {what} ({at}); an operation on the whole of it (deleting, moving, changing permissions, mounting) is one on them, which no tool may do: {why}"
            ),
            Relation::SameFile => format!(
                "{t} is the same file as {what} ({at}: a hard link or a mount); no tool may {verb} it: {why}"
            ),
        };
        if let protect::Subject::ProjectExtension(name @ ("skills" | "commands" | "agents")) =
            hit.subject
        {
            reason.push_str(&if hit.action == Action::Ask {
                format!(
                    "; the policy lets a person allow it (`project_extensions: ask`), so confirm this write to `{name}`"
                )
            } else {
                "; a policy can have these asked about instead (`project_extensions: ask`)"
                    .to_owned()
            });
        }
        Some(self.decision(
            hit.action,
            rules::SELF_PROTECTION,
            Layer::BuiltIn,
            Some(hit.at.display().to_string()),
            reason,
        ))
    }

    fn path_rules(&self, target: &Target, world: &dyn World) -> Vec<Decision> {
        let as_read;
        let target = if target.link_target {
            as_read = Target {
                access: Access::Read,
                recursive: false,
                search_root: false,
                ..target.clone()
            };
            &as_read
        } else {
            target
        };
        let forms = PathForms::new(target, self.home.as_deref());
        // A search rooted at a directory reads what is inside it: a rule that covers every
        // child (`~/.ssh/**`) covers the search. Rules for some children only (`**/.env`) do
        // not, or every repository-wide grep would be refused.
        let child = (target.search_root || world.is_dir(&target.path)).then(|| {
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
                            .then(|| rooted_inside(list, target, self.home.as_deref(), world))
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
    fn repository_rules(&self, root: &Path, world: &dyn World) -> Option<Decision> {
        if !self.layers.iter().any(|l| l.file.repositories.is_some()) {
            return None;
        }
        let remotes = self
            .remotes
            .borrow_mut()
            .entry(root.to_path_buf())
            .or_insert_with(|| world.remote_urls(root, None))
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
    fn remote_rules(&self, remote: &RemoteUse) -> Option<Decision> {
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

    fn content_rules(
        &self,
        tool: &str,
        input: &Map<String, Value>,
        targets: &[Target],
    ) -> Option<Decision> {
        let action = self.strictest(|f| f.content_secrets, Action::Allow);
        if action == Action::Allow {
            return None;
        }
        let finding = written_content(tool, input)
            .into_iter()
            .chain(shell_written_literal(tool, input, targets))
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

/// A Bash command that writes a file from text it carries itself (`echo … > f`, a heredoc
/// into a file, `… | tee f`): the command text, where that literal content is. Only when the
/// analyser found a file it writes, so a secret in a command that writes nothing (a header of
/// `curl` to stdout) is left to the prompt and record DLP.
fn shell_written_literal<'a>(
    tool: &str,
    input: &'a Map<String, Value>,
    targets: &[Target],
) -> Option<&'a str> {
    if tool != "Bash" || !targets.iter().any(|t| t.access == Access::Write) {
        return None;
    }
    let command = input.get("command").and_then(Value::as_str)?;
    writes_literal(command).then_some(command)
}

/// Whether a command has a way to put text it carries into a file: a redirection (`>`, `>>`,
/// `&>`, `>|`), a heredoc or here-string, `tee`, `dd of=`, a copy from standard input
/// (`cp /dev/stdin f`), an in-place edit (`sed -i 's/x/…/'`), `git config` (writes the value
/// into a configuration file), or an interpreter's inline program that opens or writes files.
/// A command that writes a file but carries no literal to it (`curl -H "…" -o out.json`)
/// leaves the header's secret to the prompt and record DLP.
fn writes_literal(command: &str) -> bool {
    if command.contains('>') || command.contains("<<") {
        return true;
    }
    let words: Vec<&str> = command
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '(' | ')'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
        .filter(|w| !w.is_empty())
        .collect();
    let name = |w: &str| w.rsplit('/').next().unwrap_or(w).to_owned();
    let has = |n: &str| words.iter().any(|w| name(w) == n);
    let stdin_file = words
        .iter()
        .any(|w| matches!(*w, "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"));
    let in_place = words.iter().any(|w| {
        (w.starts_with('-') && !w.starts_with("--") && w.contains('i'))
            || w.starts_with("--in-place")
    });
    let inline_program = words
        .iter()
        .any(|w| matches!(*w, "-c" | "-e" | "-E" | "--eval"))
        && [
            "write", "open(", "print(", "fs.", "File.", "puts", "spit", "dump(",
        ]
        .iter()
        .any(|needle| command.contains(needle));
    has("tee")
        || (has("dd") && words.iter().any(|w| w.starts_with("of=")))
        || stdin_file
        || (in_place && (has("sed") || has("gsed") || has("perl") || has("ruby")))
        || (has("git") && has("config"))
        || inline_program
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
        // Borrowed where case matters: this runs for every rule against every target, and an
        // allocation per pattern was a tenth of a typical command's evaluation.
        let pattern: std::borrow::Cow<'_, str> = if cfg!(any(target_os = "macos", windows)) {
            pattern.to_lowercase().into()
        } else {
            pattern.into()
        };
        let pattern: &str = &pattern;
        if pattern.starts_with('/') {
            return fast_glob::glob_match(pattern, &self.absolute);
        }
        if pattern.starts_with("~/") {
            return self
                .home_relative
                .as_ref()
                .is_some_and(|h| fast_glob::glob_match(pattern, h));
        }
        match &self.repo_relative {
            Some(relative) => fast_glob::glob_match(pattern, relative),
            // Outside any repository, relative patterns apply from the filesystem root, so
            // `**/.env` still covers a stray `/tmp/x/.env`.
            None => fast_glob::glob_match(pattern, self.absolute.trim_start_matches('/')),
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
    world: &dyn World,
) -> Option<&'a String> {
    list.iter().filter(|p| !p.starts_with('!')).find(|pattern| {
        pattern_base(pattern, home, target.repository.as_deref(), world)
            .is_some_and(|b| b.starts_with(&target.path) && b != target.path)
    })
}

/// The directory a pattern is rooted at, resolved (`~/.ssh/**` → the home's `.ssh`,
/// `config/secrets/*.yml` → the repository's `config/secrets`); `None` for a pattern that
/// matches by name anywhere (`**/.env`) or an exemption.
fn pattern_base(
    pattern: &str,
    home: Option<&Path>,
    repository: Option<&Path>,
    world: &dyn World,
) -> Option<PathBuf> {
    if pattern.starts_with('!') {
        return None;
    }
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|part| !part.contains(['*', '?', '[', '{']))
        .collect();
    let literal = literal.join("/");
    let base: PathBuf = if let Some(rest) = literal.strip_prefix("~/") {
        home?.join(rest)
    } else if literal == "~" {
        home?.to_path_buf()
    } else if literal.starts_with('/') {
        PathBuf::from(&literal)
    } else if literal.is_empty() {
        return None;
    } else {
        repository?.join(&literal)
    };
    Some(paths::resolve_in(
        &base.to_string_lossy(),
        Path::new("/"),
        home,
        world,
    ))
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

/// Whether an Edit, Write or MultiEdit of `path` would change which git hooks run: the
/// `core.hooksPath` and include settings of the result differ from the file's.
fn edit_changes_hook_settings(tool: &str, input: &Map<String, Value>, path: &Path) -> bool {
    let before = super::gitconfig::read_small(path).unwrap_or_default();
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let apply = |text: &str, edit: &Value| -> Option<String> {
        let old = s(edit, "old_string")?;
        let new = s(edit, "new_string")?;
        if old.is_empty() {
            return Some(format!("{new}{text}"));
        }
        if edit.get("replace_all").and_then(Value::as_bool) == Some(true) {
            Some(text.replace(&old, &new))
        } else {
            Some(text.replacen(&old, &new, 1))
        }
    };
    let whole = Value::Object(input.clone());
    let after = match tool {
        "Write" => s(&whole, "content"),
        "Edit" => apply(&before, &whole),
        "MultiEdit" => input
            .get("edits")
            .and_then(Value::as_array)
            .and_then(|edits| {
                edits
                    .iter()
                    .try_fold(before.clone(), |text, edit| apply(&text, edit))
            }),
        _ => None,
    };
    let Some(after) = after else {
        // Content that cannot be worked out is judged as a change.
        return true;
    };
    let mentions = |text: &str| {
        let bytes = text.as_bytes();
        [b"hookspath".as_slice(), b"include".as_slice()]
            .iter()
            .any(|needle| {
                bytes
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle))
            })
    };
    // Neither text can set a hook setting: nothing to compare.
    if !mentions(&before) && !mentions(&after) {
        return false;
    }
    super::gitconfig::HookFacts::of(&before) != super::gitconfig::HookFacts::of(&after)
}

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
    pub remotes: Vec<RemoteUse>,
    pub unanalyzable: Vec<String>,
    /// Something unknown could write or run, not only read.
    pub opaque_beyond_reads: bool,
    /// Self-protection refusals found in a command's structure.
    pub refusals: Vec<String>,
    /// The shell command, when the tool runs one.
    pub command: String,
}

/// Tools whose input is a shell command.
fn shell_of(tool: &str, input: &Map<String, Value>) -> Option<&'static str> {
    match tool {
        "Bash" => Some("Bash"),
        "PowerShell" => Some("PowerShell"),
        // Monitor runs its `command` through the shell, as would a future tool that takes one.
        _ if !tool.starts_with("mcp__") && input.get("command").is_some_and(Value::is_string) => {
            Some("Bash")
        }
        _ => None,
    }
}

/// Which paths a tool call reads or writes, and which remotes it talks to.
pub fn extract_targets(
    tool: &str,
    input: &Map<String, Value>,
    cwd: &Path,
    home: Option<&Path>,
    world: &dyn World,
) -> Extracted {
    let s = |key: &str| input.get(key).and_then(Value::as_str);
    // (text, access, operation on the whole entry)
    let mut raw: Vec<(String, Access, bool)> = Vec::new();
    let mut unanalyzable: Vec<String> = Vec::new();
    let search = matches!(tool, "Glob" | "Grep" | "LS");
    let edits = matches!(tool, "Edit" | "Write" | "MultiEdit");
    if let Some(shell) = shell_of(tool, input) {
        let command = s("command").unwrap_or("");
        let analysis = if shell == "Bash" {
            super::shell::analyze_bash(command, cwd, home, world)
        } else {
            super::shell::analyze_powershell(command, cwd, home, world)
        };
        // Commands often name many files in few directories.
        let mut roots: std::collections::HashMap<PathBuf, Option<PathBuf>> =
            std::collections::HashMap::new();
        let targets = analysis
            .accesses
            .into_iter()
            .map(|a| {
                let key = if world.is_dir(&a.path) {
                    a.path.clone()
                } else {
                    a.path
                        .parent()
                        .map_or_else(|| a.path.clone(), Path::to_path_buf)
                };
                let repository = roots
                    .entry(key)
                    .or_insert_with_key(|k| world.repository_root(k))
                    .clone();
                Target {
                    path: a.path,
                    access: a.access,
                    repository,
                    search_root: a.search_root || a.recursive,
                    recursive: a.recursive,
                    link: a.link,
                    vetted: a.vetted,
                    link_target: a.link_target,
                }
            })
            .collect();
        return Extracted {
            targets,
            remotes: analysis.remotes,
            unanalyzable: analysis.unanalyzable,
            opaque_beyond_reads: analysis.opaque_beyond_reads,
            refusals: analysis.refusals,
            command: command.to_owned(),
        };
    }
    match tool {
        "Read" => raw.extend(s("file_path").map(|p| (p.to_owned(), Access::Read, false))),
        "Edit" | "Write" | "MultiEdit" => {
            raw.extend(s("file_path").map(|p| (p.to_owned(), Access::Write, false)))
        }
        "NotebookEdit" => {
            raw.extend(s("notebook_path").map(|p| (p.to_owned(), Access::Write, false)))
        }
        "Glob" | "Grep" | "LS" => {
            let base = s("path").unwrap_or(".");
            raw.push((base.to_owned(), Access::Read, false));
            if let Some(pattern) = s("pattern").filter(|_| tool == "Glob") {
                raw.push((
                    Path::new(base)
                        .join(glob_root(pattern))
                        .to_string_lossy()
                        .into_owned(),
                    Access::Read,
                    false,
                ));
            }
        }
        _ if tool.starts_with("mcp__") => {
            // Read, write or, when the name does not say, both (crate::mcp).
            let class = super::mcp::classify(tool);
            let whole = Value::Object(input.clone());
            // Moving, deleting or re-permissioning takes everything under the path along; so
            // does a batch whose operations say so (`{"op": "move", "path": …}`).
            let operation_named = input_mentions_operation(&whole, super::mcp::WHOLE_ENTRY_VERBS);
            let whole_entry = class != super::mcp::Class::Read
                && (super::mcp::names_whole_entry(tool) || operation_named);
            let (paths, truncated) = super::mcp::argument_paths(&whole);
            if truncated {
                unanalyzable.push(format!(
                    "{tool}'s arguments nest deeper than {} levels, hold more than {} strings or name more than {} paths; not every path in them was checked",
                    super::mcp::MAX_DEPTH,
                    super::mcp::MAX_STRINGS,
                    super::mcp::MAX_PATHS
                ));
            }
            for path in paths {
                for access in class.accesses() {
                    // A search reads the tree under its path (`search_files(path: "~")`).
                    let tree_read = *access == Access::Read && super::mcp::names_tree_read(tool);
                    raw.push((
                        path.clone(),
                        *access,
                        (whole_entry && *access == Access::Write) || tree_read,
                    ));
                }
            }
        }
        _ => {
            for key in PATH_KEYS {
                match input.get(*key) {
                    Some(Value::String(p)) => raw.push((p.clone(), Access::Write, false)),
                    Some(Value::Array(items)) => raw.extend(
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|p| (p.to_owned(), Access::Write, false)),
                    ),
                    _ => {}
                }
            }
        }
    }
    let targets = raw
        .into_iter()
        .map(|(text, access, whole_entry)| {
            let named = paths::resolve_named_in(&text, cwd, home, world);
            let repository = world.repository_root(&named.path);
            Target {
                path: named.path,
                access,
                repository,
                search_root: search || whole_entry,
                // Grep reads the content of every file under its path, unless a file-name
                // filter restricts it (then the filter's probes are judged, see
                // `Policy::search_probes`).
                recursive: whole_entry || (tool == "Grep" && !grep_filtered(input)),
                link: named.link,
                vetted: edits,
                link_target: false,
            }
        })
        .collect();
    Extracted {
        targets,
        unanalyzable,
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

/// Whether an operation-like key (`op`, `operation`, `action`, `type`) anywhere in `value` names
/// one of `verbs`.
fn input_mentions_operation(value: &Value, verbs: &[&str]) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|v| input_mentions_operation(v, verbs)),
        Value::Object(map) => map.iter().any(|(k, v)| {
            (matches!(k.as_str(), "op" | "operation" | "action" | "type" | "kind")
                && v.as_str().is_some_and(|s| {
                    let s = s.to_ascii_lowercase();
                    verbs.iter().any(|verb| s == *verb || s.starts_with(verb))
                }))
                || input_mentions_operation(v, verbs)
        }),
        _ => false,
    }
}

/// The file-name filters of a search tool: the Grep tool's `glob` and `type`, the Glob tool's
/// `pattern`, parsed (crate::search).
fn search_filters(tool: &str, input: &Map<String, Value>) -> Vec<super::search::Filter> {
    let s = |key: &str| input.get(key).and_then(Value::as_str);
    let mut out = Vec::new();
    match tool {
        "Grep" => {
            if let Some(glob) = s("glob") {
                // rg takes one glob per `--glob`; the tool's field is one glob, but models
                // write several separated by commas or spaces outside braces.
                for part in split_globs(glob) {
                    out.extend(super::search::parse_filter(part, true));
                }
            }
            if let Some(kind) = s("type") {
                for glob in super::search::type_globs(kind) {
                    out.extend(super::search::parse_filter(glob, true));
                }
            }
        }
        "Glob" => out.extend(s("pattern").and_then(|p| super::search::parse_filter(p, false))),
        _ => {}
    }
    out
}

/// `*.pem, *.key` or `*.pem *.key` → each glob; commas inside braces stay.
fn split_globs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' | ' ' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out.retain(|g| !g.trim().is_empty());
    out
}

/// Whether a Grep call restricts the files it reads with a filter that restricts anything.
fn grep_filtered(input: &Map<String, Value>) -> bool {
    let filters = search_filters("Grep", input);
    !filters.is_empty() && filters.iter().all(super::search::restricts)
}
