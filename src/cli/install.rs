//! `hookledger install` / `uninstall`: register hookledger's hooks in Claude Code's settings.
//!
//! The settings file belongs to the user and to other tools, so this merges: it only adds or
//! removes hookledger's own handlers, keeps every other key, hook and permission rule as it
//! was, writes nothing when nothing changes, and backs the file up before any write.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// The registration snippet; `@HOOKLEDGER_BIN@` stands for the binary's absolute path.
pub const SETTINGS_SNIPPET: &str = include_str!("../../hooks/claude-settings.json");
const BIN_PLACEHOLDER: &str = "@HOOKLEDGER_BIN@";

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Claude Code settings file [default: ~/.claude/settings.json, or $CLAUDE_CONFIG_DIR]
    #[arg(long, value_name = "PATH")]
    pub settings: Option<PathBuf>,
    /// The hookledger binary the hooks run [default: this binary]
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Print the resulting settings instead of writing them
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Claude Code settings file [default: ~/.claude/settings.json, or $CLAUDE_CONFIG_DIR]
    #[arg(long, value_name = "PATH")]
    pub settings: Option<PathBuf>,
    /// Print the resulting settings instead of writing them
    #[arg(long)]
    pub dry_run: bool,
}

fn default_settings_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("settings.json"));
    }
    let home =
        crate::config::user_home().context("cannot find the home directory; pass --settings")?;
    Ok(home.join(".claude").join("settings.json"))
}

fn read_settings(path: &Path) -> anyhow::Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => bail!(
            "{} is not a JSON object; fix it by hand, nothing was changed",
            path.display()
        ),
        Err(e) => bail!(
            "{} is not valid JSON ({e}); fix it by hand, nothing was changed",
            path.display()
        ),
    }
}

/// A handler is ours when it runs a `hookledger` binary with the `hook` subcommand, whatever
/// its path: that makes reinstalling after a move or an upgrade replace the old entry.
fn is_ours(handler: &Value) -> bool {
    let command = handler.get("command").and_then(Value::as_str).unwrap_or("");
    let exec_form = Path::new(command)
        .file_stem()
        .is_some_and(|n| n == "hookledger")
        && handler.pointer("/args/0").and_then(Value::as_str) == Some("hook");
    let shell_form = command
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| {
            Path::new(w[0].trim_matches(['"', '\'']))
                .file_stem()
                .is_some_and(|n| n == "hookledger")
                && w[1] == "hook"
        });
    exec_form || shell_form
}

/// Removes our handlers; drops matcher groups, event lists and the `hooks` object only when
/// removing ours left them empty.
fn remove_ours(settings: &mut Map<String, Value>) {
    let Some(Value::Object(hooks)) = settings.get_mut("hooks") else {
        return;
    };
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
}

fn add_ours(settings: &mut Map<String, Value>, binary: &Path) -> anyhow::Result<()> {
    let binary = binary
        .to_str()
        .context("the binary path is not valid UTF-8")?;
    // JSON-escape the path before substituting it into the JSON text.
    let escaped = serde_json::to_string(binary)?;
    let snippet = SETTINGS_SNIPPET.replace(&format!("\"{BIN_PLACEHOLDER}\""), &escaped);
    let snippet: Value =
        serde_json::from_str(&snippet).context("the built-in settings snippet is invalid")?;
    let Some(Value::Object(ours)) = snippet.get("hooks").cloned() else {
        bail!("the built-in settings snippet has no hooks object");
    };
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        bail!("`hooks` in the settings file is not an object; fix it by hand, nothing was changed");
    };
    for (event, groups) in ours {
        let entry = hooks
            .entry(event.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(existing) = entry else {
            bail!(
                "`hooks.{event}` in the settings file is not a list; fix it by hand, nothing was changed"
            );
        };
        existing.extend(groups.as_array().cloned().unwrap_or_default());
    }
    Ok(())
}

fn write_settings(
    path: &Path,
    settings: &Map<String, Value>,
    original: Option<&str>,
) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(settings)?;
    text.push('\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if let Some(original) = original {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let backup = path.with_file_name(format!(
            "{}.hookledger-backup-{stamp}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("settings.json")
        ));
        std::fs::write(&backup, original)
            .with_context(|| format!("cannot write backup {}", backup.display()))?;
        eprintln!(
            "hookledger: backed up {} to {}",
            path.display(),
            backup.display()
        );
    }
    // Write beside and rename, so a crash never leaves a half-written settings file.
    let tmp = path.with_extension("json.hookledger-tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn apply(
    path: &Path,
    dry_run: bool,
    change: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let original_text = std::fs::read_to_string(path).ok();
    let original = read_settings(path)?;
    let mut settings = original.clone().unwrap_or_default();
    change(&mut settings)?;
    if dry_run {
        super::out(&format!("{}\n", serde_json::to_string_pretty(&settings)?))?;
        return Ok(false);
    }
    if original.as_ref() == Some(&settings) || (original.is_none() && settings.is_empty()) {
        return Ok(false);
    }
    write_settings(path, &settings, original_text.as_deref())?;
    Ok(true)
}

pub fn run_install(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.settings {
        Some(p) => p.clone(),
        None => default_settings_path()?,
    };
    let binary = match &args.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("cannot find this binary's path; pass --binary")?,
    };
    if !binary.is_absolute() {
        bail!("--binary must be an absolute path (Claude Code runs hooks from other directories)");
    }
    let changed = apply(&path, args.dry_run, |settings| {
        remove_ours(settings);
        add_ours(settings, &binary)
    })?;
    if !args.dry_run {
        let state = if changed {
            "registered"
        } else {
            "already registered"
        };
        eprintln!(
            "hookledger: hooks {state} in {} (running {})",
            path.display(),
            binary.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_uninstall(args: &UninstallArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.settings {
        Some(p) => p.clone(),
        None => default_settings_path()?,
    };
    let changed = apply(&path, args.dry_run, |settings| {
        remove_ours(settings);
        Ok(())
    })?;
    if !args.dry_run {
        let state = if changed {
            "removed from"
        } else {
            "not present in"
        };
        eprintln!("hookledger: hooks {state} {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_our_handlers_only() {
        assert!(is_ours(
            &json!({"command": "/usr/local/bin/hookledger", "args": ["hook", "--event", "Stop"]})
        ));
        assert!(is_ours(
            &json!({"command": "\"/opt/x y/hookledger\" hook --event Stop"})
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
        remove_ours(&mut settings);
        add_ours(&mut settings, Path::new("/bin/hookledger")).unwrap();
        let once = settings.clone();
        remove_ours(&mut settings);
        add_ours(&mut settings, Path::new("/bin/hookledger")).unwrap();
        assert_eq!(once, settings, "a second install changes nothing");
        assert_eq!(settings["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        remove_ours(&mut settings);
        assert_eq!(Value::Object(settings), original);
    }
}
