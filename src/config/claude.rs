/*!
Claude Code's settings files: where each layer lives, and hookledger's hook registrations in
them.

Claude Code merges hooks from every layer (managed, local, project, user) instead of letting one
replace another, so whether hookledger runs depends on all of them together: a registration in
one file, `disableAllHooks` in another, `allowManagedHooksOnly` in a third. Reading is lenient (a
file Claude Code would ignore is reported, not fatal); editing touches one file and only
hookledger's own handlers in it.
*/

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

/// The registration snippet; `@HOOKLEDGER_BIN@` stands for the binary's absolute path.
pub use hookledger_policy::places::{
    DROP_IN_DIR, LOCAL_SETTINGS_FILE, MANAGED_SETTINGS_FILE, Platform, SETTINGS_FILE,
};

pub const SETTINGS_SNIPPET: &str = include_str!("../../hooks/claude-settings.json");
const BIN_PLACEHOLDER: &str = "@HOOKLEDGER_BIN@";

/// In the middle of the conventional `00-`…`99-` range: fragments an organisation names later
/// win scalar keys such as `allowManagedHooksOnly`, which is what an administrator expects.
pub const DROP_IN_FILE: &str = "50-hookledger.json";

/// Exec-form handlers (`command` + `args`, no shell) need Claude Code 2.1.139 or later; an older
/// CLI runs `command` without its arguments.
pub const MIN_EXEC_FORM_VERSION: Version = Version(2, 1, 139);

/// The keys a managed file can set to stop every non-managed hook.
const MANAGED_ONLY_KEYS: &[&str] = &["allowManagedHooksOnly", "strictPluginOnlyCustomization"];

/// Where a settings file sits in Claude Code's hierarchy, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Managed,
    /// A `--settings` file (or JSON) on Claude Code's command line.
    Flag,
    Local,
    Project,
    User,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Managed => "managed",
            Scope::Flag => "flag",
            Scope::Local => "local",
            Scope::Project => "project",
            Scope::User => "user",
        }
    }
}

/// A Claude Code version, compared numerically (`2.1.139` < `2.1.1000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// Reads the leading `X.Y.Z` of `2.1.328`, `2.1.328 (Claude Code)` or `v2.1.328-beta`.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches('v');
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let mut parts = text[..end].split('.').map(|p| p.parse::<u64>().ok());
        Some(Version(parts.next()??, parts.next()??, parts.next()??))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON ({message})")]
    InvalidJson { path: PathBuf, message: String },
    #[error("{path} is not a JSON object")]
    NotAnObject { path: PathBuf },
    #[error("`{key}` in {path} is not {expected}")]
    WrongShape {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },
}

/// Reads a settings file: `None` when it does not exist, an empty object when it is empty.
pub fn read_settings(path: &Path) -> Result<Option<Map<String, Value>>, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SettingsError::Unreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_settings(path, &text).map(Some)
}

pub fn parse_settings(path: &Path, text: &str) -> Result<Map<String, Value>, SettingsError> {
    // Windows editors and PowerShell's UTF8 encoding write a BOM; Claude Code reads past it.
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SettingsError::NotAnObject {
            path: path.to_owned(),
        }),
        Err(e) => Err(SettingsError::InvalidJson {
            path: path.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The user settings file: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`.
pub fn user_settings_path() -> Option<PathBuf> {
    super::claude_config_dir().map(|dir| dir.join(SETTINGS_FILE))
}

/// Where to look for each layer.
#[derive(Debug, Clone)]
pub struct Locations {
    pub user: Option<PathBuf>,
    /// The directory Claude Code starts in: its `.claude/settings.json` and
    /// `.claude/settings.local.json` are the project and local layers.
    pub project_dir: Option<PathBuf>,
    pub managed_dir: PathBuf,
}

impl Locations {
    pub fn discover(root: Option<&Path>, project_dir: Option<PathBuf>) -> Self {
        Locations {
            user: user_settings_path(),
            project_dir,
            managed_dir: Platform::current().managed_settings_dir(root),
        }
    }
}

/// One settings file as Claude Code would see it.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    pub scope: Scope,
    pub path: PathBuf,
    pub exists: bool,
    /// Empty when the file is missing or unreadable.
    pub settings: Map<String, Value>,
    /// Why Claude Code would ignore the file, if it would.
    pub error: Option<String>,
}

/// Every settings file that applies, in Claude Code's merge order for the managed tier
/// (`managed-settings.json`, then drop-ins alphabetically), then local, project and user.
pub fn load_layers(locations: &Locations) -> Vec<SettingsFile> {
    let mut files = vec![(
        Scope::Managed,
        locations.managed_dir.join(MANAGED_SETTINGS_FILE),
    )];
    files.extend(
        drop_in_files(&locations.managed_dir.join(DROP_IN_DIR))
            .into_iter()
            .map(|p| (Scope::Managed, p)),
    );
    if let Some(dir) = &locations.project_dir {
        files.push((Scope::Local, dir.join(".claude").join(LOCAL_SETTINGS_FILE)));
        files.push((Scope::Project, dir.join(".claude").join(SETTINGS_FILE)));
    }
    if let Some(user) = &locations.user {
        files.push((Scope::User, user.clone()));
    }
    files
        .into_iter()
        .map(|(scope, path)| match read_settings(&path) {
            Ok(found) => SettingsFile {
                scope,
                exists: found.is_some(),
                settings: found.unwrap_or_default(),
                error: None,
                path,
            },
            Err(e) => SettingsFile {
                scope,
                exists: true,
                settings: Map::new(),
                error: Some(e.to_string()),
                path,
            },
        })
        .collect()
}

/// `*.json` in a drop-in directory, alphabetically; hidden files are ignored, as Claude Code does.
pub fn drop_in_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// What a handler of ours runs: the binary, whether it is exec form, and its `--event`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OurHandler {
    binary: String,
    exec_form: bool,
    event_arg: Option<String>,
}

fn names_hookledger(program: &str) -> bool {
    // Both separators: a Windows path is read on any platform.
    let name = program
        .trim_matches(['"', '\''])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    name == "hookledger" || name.eq_ignore_ascii_case("hookledger.exe")
}

/// A handler is ours when it runs a `hookledger` binary with the `hook` subcommand, whatever
/// its path: reinstalling after a move or an upgrade then replaces the old entry.
fn parse_ours(handler: &Value) -> Option<OurHandler> {
    let command = handler.get("command").and_then(Value::as_str)?;
    if let Some(args) = handler.get("args").and_then(Value::as_array) {
        if !names_hookledger(command) || args.first().and_then(Value::as_str) != Some("hook") {
            return None;
        }
        let args: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
        return Some(OurHandler {
            binary: command.to_owned(),
            exec_form: true,
            event_arg: event_arg(&args),
        });
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words
        .windows(2)
        .position(|w| names_hookledger(w[0]) && w[1] == "hook")?;
    Some(OurHandler {
        binary: words[at].trim_matches(['"', '\'']).to_owned(),
        exec_form: false,
        event_arg: event_arg(&words[at + 1..]),
    })
}

fn event_arg(args: &[&str]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        if *a == "--event" {
            args.get(i + 1).map(|v| (*v).to_owned())
        } else {
            a.strip_prefix("--event=").map(str::to_owned)
        }
    })
}

pub fn is_ours(handler: &Value) -> bool {
    parse_ours(handler).is_some()
}

/// One hookledger handler found in a settings file.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    pub scope: Scope,
    pub file: PathBuf,
    /// The `hooks` key it is listed under.
    pub event: String,
    pub matcher: Option<String>,
    pub binary: String,
    pub exec_form: bool,
    /// The `--event` it passes, which should equal `event`.
    pub event_arg: Option<String>,
    pub timeout_secs: Option<f64>,
    /// An `if` permission-rule filter, which narrows the calls the handler sees.
    pub condition: Option<String>,
    /// `onFailure` (Claude Code ≥ 2.1.332): `"block"` makes a handler that cannot start, times
    /// out or crashes a refusal instead of a pass.
    pub on_failure: Option<String>,
}

impl Registration {
    /// Whether the handler sees every occurrence of its event.
    pub fn sees_everything(&self) -> bool {
        self.condition.is_none() && matcher_covers_all(&self.event, self.matcher.as_deref())
    }
}

/// Events whose matcher Claude Code ignores: any matcher there still sees everything.
const EVENTS_WITHOUT_MATCHERS: &[&str] = &["UserPromptSubmit", "Stop"];

pub fn matcher_covers_all(event: &str, matcher: Option<&str>) -> bool {
    EVENTS_WITHOUT_MATCHERS.contains(&event)
        || matches!(matcher.map(str::trim), None | Some("" | "*" | ".*"))
}

/// Every hookledger handler in `files`.
pub fn registrations(files: &[SettingsFile]) -> Vec<Registration> {
    let mut found = Vec::new();
    for file in files {
        let Some(Value::Object(hooks)) = file.settings.get("hooks") else {
            continue;
        };
        for (event, groups) in hooks {
            for group in groups.as_array().into_iter().flatten() {
                let matcher = group.get("matcher").and_then(Value::as_str);
                for handler in group
                    .get("hooks")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(ours) = parse_ours(handler) else {
                        continue;
                    };
                    found.push(Registration {
                        scope: file.scope,
                        file: file.path.clone(),
                        event: event.clone(),
                        matcher: matcher.map(str::to_owned),
                        binary: ours.binary,
                        exec_form: ours.exec_form,
                        event_arg: ours.event_arg,
                        timeout_secs: handler.get("timeout").and_then(Value::as_f64),
                        condition: handler.get("if").and_then(Value::as_str).map(str::to_owned),
                        on_failure: handler
                            .get("onFailure")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    });
                }
            }
        }
    }
    found
}

/// A setting that switches hooks off, and the file it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Switch {
    pub key: String,
    pub file: PathBuf,
}

/// The settings that decide which layers' hooks run.
#[derive(Debug, Clone, Default)]
pub struct HookSwitches {
    /// `disableAllHooks: true` in the managed tier: no hook runs at all.
    pub managed_disable_all: Option<Switch>,
    /// `disableAllHooks: true` as the highest non-managed layer that sets it says: hooks from
    /// non-managed files do not run (managed ones still do, since Claude Code 2.1.49).
    pub disable_all: Option<Switch>,
    /// `allowManagedHooksOnly` (or `strictPluginOnlyCustomization`) in the managed tier: only
    /// managed hooks run.
    pub managed_only: Option<Switch>,
}

impl HookSwitches {
    /// What stops hooks from a file of `scope` from running, if anything does.
    pub fn blocking(&self, scope: Scope) -> Option<&Switch> {
        if let Some(switch) = &self.managed_disable_all {
            return Some(switch);
        }
        if scope == Scope::Managed {
            return None;
        }
        self.managed_only.as_ref().or(self.disable_all.as_ref())
    }
}

pub fn hook_switches(files: &[SettingsFile]) -> HookSwitches {
    let mut switches = HookSwitches::default();
    // Managed files merge in order, a later file's scalar winning.
    for file in files.iter().filter(|f| f.scope == Scope::Managed) {
        if let Some(on) = file
            .settings
            .get("disableAllHooks")
            .and_then(Value::as_bool)
        {
            switches.managed_disable_all = on.then(|| Switch {
                key: "disableAllHooks".into(),
                file: file.path.clone(),
            });
        }
        for key in MANAGED_ONLY_KEYS {
            if let Some(value) = file.settings.get(*key) {
                switches.managed_only = restricts_hooks(value).then(|| Switch {
                    key: (*key).into(),
                    file: file.path.clone(),
                });
            }
        }
    }
    // Files come highest precedence first: the first non-managed file that sets the key wins.
    switches.disable_all = files
        .iter()
        .filter(|f| f.scope != Scope::Managed)
        .find_map(|f| {
            let on = f.settings.get("disableAllHooks").and_then(Value::as_bool)?;
            Some(on.then(|| Switch {
                key: "disableAllHooks".into(),
                file: f.path.clone(),
            }))
        })
        .flatten();
    switches
}

/// `true`, or a list that names hooks (`strictPluginOnlyCustomization` takes the surfaces it
/// restricts).
fn restricts_hooks(value: &Value) -> bool {
    match value {
        Value::Bool(on) => *on,
        Value::Array(items) => items.iter().any(|i| i.as_str() == Some("hooks")),
        _ => false,
    }
}

/// The built-in security plugin whose options hold `allowManagedModsOnly` (read from managed
/// settings only): `pluginConfigs["cc-plugin-sec-default@builtin"].options`.
pub const SECURITY_PLUGIN: &str = "cc-plugin-sec-default@builtin";

/// A setting path (`sandbox.enabled`, `pluginConfigs.<plugin>.options.allowManagedModsOnly`).
pub fn get_path<'a>(settings: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(settings.get(*first)?, |value, key| value.get(*key))
}

/// The value a setting has in the merged managed tier: Claude Code merges
/// `managed-settings.json` and then the drop-ins alphabetically, a later file winning.
pub fn managed_value<'a>(
    files: &'a [SettingsFile],
    path: &[&str],
) -> Option<(&'a Value, &'a Path)> {
    files
        .iter()
        .rev()
        .filter(|f| f.scope == Scope::Managed)
        .find_map(|f| get_path(&f.settings, path).map(|v| (v, f.path.as_path())))
}

/// A scalar setting as every layer together decides it: the managed tier first, then the
/// highest-precedence other layer (flag, local, project, user) that sets it.
pub fn effective_value<'a>(
    files: &'a [SettingsFile],
    path: &[&str],
) -> Option<(&'a Value, Scope, &'a Path)> {
    if let Some((value, file)) = managed_value(files, path) {
        return Some((value, Scope::Managed, file));
    }
    let mut others: Vec<&SettingsFile> =
        files.iter().filter(|f| f.scope != Scope::Managed).collect();
    others.sort_by_key(|f| f.scope);
    others
        .into_iter()
        .find_map(|f| get_path(&f.settings, path).map(|v| (v, f.scope, f.path.as_path())))
}

/// Claude Code's OS sandbox for Bash as the settings configure it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SandboxState {
    pub enabled: bool,
    /// Whether a call may leave the sandbox (`dangerouslyDisableSandbox`); Claude Code's
    /// default is true.
    pub allow_unsandboxed_commands: bool,
    /// Whether Claude Code refuses to start when the sandbox cannot run; default false (it
    /// warns and runs commands unsandboxed).
    pub fail_if_unavailable: bool,
    /// The layer whose `sandbox.enabled` decides `enabled`.
    pub source: Option<Scope>,
    pub file: Option<PathBuf>,
    /// `sandbox.excludedCommands` entries, which run matching commands outside the sandbox,
    /// with the layer of each (project and local ones do not count under strict mode).
    pub excluded_commands: Vec<(Scope, String)>,
}

impl SandboxState {
    /// Enabled, no way out, and no way to start without it: what `install --sandbox` writes.
    pub fn enforced(&self) -> bool {
        self.enabled && !self.allow_unsandboxed_commands && self.fail_if_unavailable
    }

    /// Whether it is enforced by the managed tier, which no user or project can change.
    pub fn enforced_by_managed(&self) -> bool {
        self.enforced() && self.source == Some(Scope::Managed)
    }
}

pub fn sandbox_state(files: &[SettingsFile]) -> SandboxState {
    let flag = |key: &str| {
        effective_value(files, &["sandbox", key]).and_then(|(v, s, f)| Some((v.as_bool()?, s, f)))
    };
    let (enabled, source, file) = match flag("enabled") {
        Some((on, scope, file)) => (on, Some(scope), Some(file.to_owned())),
        None => (false, None, None),
    };
    // Claude Code: a false from managed, --settings or user settings holds whatever project and
    // local settings say.
    let trusted_false = files.iter().any(|f| {
        matches!(f.scope, Scope::Managed | Scope::Flag | Scope::User)
            && get_path(&f.settings, &["sandbox", "allowUnsandboxedCommands"])
                == Some(&Value::Bool(false))
    });
    let allow_unsandboxed_commands =
        match managed_value(files, &["sandbox", "allowUnsandboxedCommands"]) {
            Some((value, _)) => value.as_bool().unwrap_or(true),
            None if trusted_false => false,
            None => flag("allowUnsandboxedCommands").is_none_or(|(v, _, _)| v),
        };
    let fail_if_unavailable = flag("failIfUnavailable").is_some_and(|(v, _, _)| v);
    let strict = !allow_unsandboxed_commands;
    let excluded_commands = files
        .iter()
        .filter(|f| !(strict && matches!(f.scope, Scope::Project | Scope::Local)))
        .flat_map(|f| {
            get_path(&f.settings, &["sandbox", "excludedCommands"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |c| (f.scope, c.to_owned()))
        })
        .collect();
    SandboxState {
        enabled,
        allow_unsandboxed_commands,
        fail_if_unavailable,
        source,
        file,
        excluded_commands,
    }
}

/// One lock-down setting `install --lock-hooks` writes in managed settings.
#[derive(Debug, Clone, Copy)]
pub struct LockDown {
    pub path: &'static [&'static str],
    /// What it shuts out, for `install` and `doctor`.
    pub what: &'static str,
}

/// What `--lock-hooks` sets to `true` in managed settings, in this order. Claude Code reads
/// each only from managed settings.
pub const LOCK_DOWN: &[LockDown] = &[
    LockDown {
        path: &["allowManagedHooksOnly"],
        what: "user, project and local hooks, and hooks of plugins users install",
    },
    LockDown {
        path: &[
            "pluginConfigs",
            SECURITY_PLUGIN,
            "options",
            "allowManagedModsOnly",
        ],
        what: "mods (in-process JS/TS plugins, ~/.claude/dev-mods) other than the organisation's",
    },
    LockDown {
        path: &["disableSideloadFlags"],
        what: "plugins, agents and MCP servers side-loaded with --plugin-dir, --plugin-url, --agents or --mcp-config",
    },
    LockDown {
        path: &["disableCommandPluginSources"],
        what: "plugins whose directory a marketplace command produces on this machine",
    },
];

/// `disableSkillShellExecution`: skills' and commands' inline `` !`cmd` `` become placeholders.
/// Not part of `--lock-hooks` (hookledger gates those commands on Claude Code ≥ 2.1.332); for
/// fleets with older CLIs, where they reach no hook at all.
pub const SKILL_SHELL_KEY: &str = "disableSkillShellExecution";

/// Whether each lock-down is on in the managed tier, and which file says so.
pub fn lock_down_state(files: &[SettingsFile]) -> Vec<(LockDown, Option<PathBuf>)> {
    LOCK_DOWN
        .iter()
        .map(|lock| {
            let on = managed_value(files, lock.path)
                .filter(|(v, _)| **v == Value::Bool(true))
                .map(|(_, file)| file.to_owned());
            (*lock, on)
        })
        .collect()
}

/// The `--settings` Claude Code was started with, read from the command line of the `claude`
/// process that runs this hook (Linux `/proc`; elsewhere `None`). Settings given there sit
/// between managed and local settings, so a session's sandbox may come from them.
pub fn flag_settings() -> Option<SettingsFile> {
    #[cfg(target_os = "linux")]
    {
        let mut pid = std::os::unix::process::parent_id();
        for _ in 0..4 {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_claude = args.first().is_some_and(|a| {
                let name = a.rsplit('/').next().unwrap_or("");
                name == "claude" || name == "claude.exe" || name.starts_with("claude-")
            }) || std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .is_some_and(|n| n == "claude");
            if is_claude {
                let value = args.iter().enumerate().find_map(|(i, a)| {
                    if a == "--settings" {
                        args.get(i + 1).cloned()
                    } else {
                        a.strip_prefix("--settings=").map(str::to_owned)
                    }
                })?;
                return Some(read_flag_settings(
                    &value,
                    Path::new(&format!("/proc/{pid}/cwd")),
                ));
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            pid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())?;
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `--settings` takes a file or a JSON object.
fn read_flag_settings(value: &str, cwd: &Path) -> SettingsFile {
    if value.trim_start().starts_with('{') {
        let path = PathBuf::from("--settings");
        return match parse_settings(&path, value) {
            Ok(settings) => SettingsFile {
                scope: Scope::Flag,
                path,
                exists: true,
                settings,
                error: None,
            },
            Err(e) => SettingsFile {
                scope: Scope::Flag,
                path,
                exists: true,
                settings: Map::new(),
                error: Some(e.to_string()),
            },
        };
    }
    let path = if Path::new(value).is_absolute() {
        PathBuf::from(value)
    } else {
        std::fs::read_link(cwd).unwrap_or_default().join(value)
    };
    match read_settings(&path) {
        Ok(found) => SettingsFile {
            scope: Scope::Flag,
            exists: found.is_some(),
            settings: found.unwrap_or_default(),
            error: None,
            path,
        },
        Err(e) => SettingsFile {
            scope: Scope::Flag,
            exists: true,
            settings: Map::new(),
            error: Some(e.to_string()),
            path,
        },
    }
}

/// The events the snippet registers, in its order.
pub fn snippet_events() -> Vec<String> {
    serde_json::from_str::<Value>(SETTINGS_SNIPPET)
        .ok()
        .and_then(|v| v.get("hooks").and_then(Value::as_object).cloned())
        .map(|hooks| hooks.keys().cloned().collect())
        .unwrap_or_default()
}

/// Removes our handlers; drops matcher groups, event lists and the `hooks` object only when
/// removing ours left them empty. Returns how many handlers it removed.
pub fn remove_registrations(settings: &mut Map<String, Value>) -> usize {
    let Some(Value::Object(hooks)) = settings.get_mut("hooks") else {
        return 0;
    };
    let mut removed = 0;
    let mut emptied_events = Vec::new();
    for (event, groups) in hooks.iter_mut() {
        let Value::Array(groups) = groups else {
            continue;
        };
        let before = groups.len();
        groups.retain_mut(|group| {
            let Some(Value::Array(handlers)) = group.get_mut("hooks") else {
                return true;
            };
            let had = handlers.len();
            handlers.retain(|h| !is_ours(h));
            removed += had - handlers.len();
            !(had > 0 && handlers.is_empty())
        });
        if groups.is_empty() && before > 0 {
            emptied_events.push(event.clone());
        }
    }
    for event in emptied_events {
        hooks.remove(&event);
    }
    if hooks.is_empty() {
        settings.remove("hooks");
    }
    removed
}

/// Appends our registrations (see [`SETTINGS_SNIPPET`]) for `binary`.
pub fn add_registrations(
    settings: &mut Map<String, Value>,
    binary: &str,
    path: &Path,
) -> Result<(), SettingsError> {
    let mut snippet: Value = serde_json::from_str(SETTINGS_SNIPPET).unwrap_or(Value::Null);
    substitute_binary(&mut snippet, binary);
    let ours = snippet
        .get("hooks")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let wrong_shape = |key: String, expected| SettingsError::WrongShape {
        path: path.to_owned(),
        key,
        expected,
    };
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        return Err(wrong_shape("hooks".into(), "an object"));
    };
    for (event, groups) in ours {
        let entry = hooks
            .entry(event.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(existing) = entry else {
            return Err(wrong_shape(format!("hooks.{event}"), "a list"));
        };
        existing.extend(groups.as_array().cloned().unwrap_or_default());
    }
    Ok(())
}

fn substitute_binary(value: &mut Value, binary: &str) {
    match value {
        Value::String(s) if s == BIN_PLACEHOLDER => *s = binary.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|v| substitute_binary(v, binary)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute_binary(v, binary)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(scope: Scope, name: &str, settings: Value) -> SettingsFile {
        SettingsFile {
            scope,
            path: PathBuf::from(name),
            exists: true,
            settings: settings.as_object().cloned().unwrap_or_default(),
            error: None,
        }
    }

    #[test]
    fn recognises_our_handlers_only() {
        assert!(is_ours(
            &json!({"command": "/usr/local/bin/hookledger", "args": ["hook", "--event", "Stop"]})
        ));
        assert!(is_ours(
            &json!({"command": "\"/opt/x y/hookledger\" hook --event Stop"})
        ));
        assert!(is_ours(
            &json!({"command": r"C:\Program Files\hookledger\hookledger.exe", "args": ["hook"]})
        ));
        assert!(!is_ours(
            &json!({"command": "/usr/local/bin/hookledger-other", "args": ["hook"]})
        ));
        assert!(!is_ours(&json!({"command": "echo hookledger"})));
        assert!(!is_ours(
            &json!({"command": "/usr/bin/hookledger", "args": ["verify"]})
        ));
    }

    #[test]
    fn install_then_uninstall_restores_other_hooks() {
        let original = json!({
            "model": "x",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "other"}]}]},
            "permissions": {"allow": ["Bash(ls)"]}
        });
        let mut settings = original.as_object().unwrap().clone();
        let path = Path::new("s.json");
        assert_eq!(remove_registrations(&mut settings), 0);
        add_registrations(&mut settings, "/bin/hookledger", path).unwrap();
        let once = settings.clone();
        let events = snippet_events().len();
        assert_eq!(remove_registrations(&mut settings), events);
        add_registrations(&mut settings, "/bin/hookledger", path).unwrap();
        assert_eq!(once, settings, "a second install changes nothing");
        assert_eq!(settings["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        remove_registrations(&mut settings);
        assert_eq!(Value::Object(settings), original);
    }

    /// The snippet registers every event the hook handles, each in exec form with a timeout
    /// longer than the hook's own deadline (a timed-out hook lets the call through).
    #[test]
    fn snippet_covers_every_event_in_exec_form_with_a_timeout() {
        let expected: Vec<String> = crate::hook::event::REGISTERED_EVENTS
            .iter()
            .map(|e| (*e).to_owned())
            .collect();
        assert_eq!(snippet_events(), expected);
        let mut settings = Map::new();
        add_registrations(&mut settings, "/x/hookledger", Path::new("s")).unwrap();
        let found = registrations(&[file(Scope::User, "s", Value::Object(settings))]);
        assert_eq!(found.len(), expected.len());
        for r in &found {
            assert!(r.exec_form && r.sees_everything(), "{r:?}");
            assert_eq!(r.event_arg.as_deref(), Some(r.event.as_str()));
            assert!(r.timeout_secs.is_some_and(|t| t > 5.0), "{r:?}");
            // A gate that cannot run must refuse in Claude Code itself; elsewhere a failure
            // must not block what the event only reports.
            let gating = crate::hook::event::registers_as_gate(&r.event);
            assert_eq!(r.on_failure.as_deref() == Some("block"), gating, "{r:?}");
        }
    }

    #[test]
    fn matchers() {
        assert!(matcher_covers_all("PreToolUse", None));
        assert!(matcher_covers_all("PreToolUse", Some("*")));
        assert!(matcher_covers_all("PreToolUse", Some("")));
        assert!(!matcher_covers_all("PreToolUse", Some("Bash|Edit")));
        assert!(matcher_covers_all("Stop", Some("Bash")));
    }

    #[test]
    fn switches_follow_claude_code_precedence() {
        let files = [
            file(Scope::Managed, "m", json!({"allowManagedHooksOnly": true})),
            file(
                Scope::Managed,
                "d/90",
                json!({"allowManagedHooksOnly": false}),
            ),
            file(Scope::Project, "p", json!({"disableAllHooks": false})),
            file(Scope::User, "u", json!({"disableAllHooks": true})),
        ];
        let switches = hook_switches(&files);
        assert!(switches.managed_only.is_none(), "a later drop-in wins");
        assert!(
            switches.disable_all.is_none(),
            "project false beats user true"
        );
        let files = [
            file(
                Scope::Managed,
                "m",
                json!({"strictPluginOnlyCustomization": ["hooks"]}),
            ),
            file(Scope::User, "u", json!({"disableAllHooks": true})),
        ];
        let switches = hook_switches(&files);
        assert_eq!(
            switches.blocking(Scope::User).unwrap().key,
            "strictPluginOnlyCustomization"
        );
        assert!(switches.blocking(Scope::Managed).is_none());
        assert_eq!(switches.disable_all.unwrap().file, PathBuf::from("u"));
    }

    #[test]
    fn versions() {
        assert_eq!(
            Version::parse("2.1.328 (Claude Code)"),
            Some(Version(2, 1, 328))
        );
        assert_eq!(Version::parse("v2.1.1000-beta"), Some(Version(2, 1, 1000)));
        assert!(Version(2, 1, 138) < MIN_EXEC_FORM_VERSION);
        assert!(Version(2, 1, 1000) > MIN_EXEC_FORM_VERSION);
        assert_eq!(Version::parse("2.1"), None);
        assert_eq!(Version::parse("garbage"), None);
    }
}
