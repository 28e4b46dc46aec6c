//! `hookledger install` / `uninstall`: register hookledger's hooks in Claude Code's settings, or
//! take them out, merging (see [`crate::config::install`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::install::{self, Change, FileOutcome, Report, Request, Target};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The hookledger binary the hooks run [default: this binary]
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Lock Claude Code down to what managed settings allow: only managed hooks
    /// (allowManagedHooksOnly) and mods (allowManagedModsOnly), no side-loaded plugins, agents
    /// or MCP servers (disableSideloadFlags), no command-sourced plugins
    /// (disableCommandPluginSources)
    #[arg(long, requires = "managed")]
    pub lock_hooks: bool,
    /// Set disableSkillShellExecution: skills' and commands' inline `!` commands become
    /// placeholders (for Claude Code older than 2.1.332, where they reach no hook)
    #[arg(long, requires = "managed")]
    pub disable_skill_shell: bool,
    /// Turn on Claude Code's OS sandbox for Bash with no way out, and compile the managed
    /// policy's path rules and hookledger's self-protection into it (`policy check` shows
    /// what is enforced by the OS)
    #[arg(long, requires = "managed")]
    pub sandbox: bool,
    /// Print the resulting settings instead of writing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was done as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the resulting settings instead of writing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was done as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Claude Code settings file [default: ~/.claude/settings.json, or $CLAUDE_CONFIG_DIR]
    #[arg(long, value_name = "PATH", conflicts_with = "managed")]
    pub settings: Option<PathBuf>,
    /// System-wide: Claude Code's managed settings (a managed-settings.d drop-in) and a
    /// default managed policy when none exists
    #[arg(long)]
    pub managed: bool,
    /// Treat DIR as the filesystem root for every system path (tests, trying a layout); the
    /// hooks registered there run the binary under DIR
    #[arg(long, value_name = "DIR", requires = "managed")]
    pub root: Option<PathBuf>,
    /// Merge into managed-settings.json instead of a drop-in (always so on Windows)
    #[arg(long, requires = "managed")]
    pub managed_file: bool,
}

impl TargetArgs {
    fn target(&self) -> anyhow::Result<Target> {
        if self.managed {
            return Ok(Target::Managed {
                root: self.root.clone(),
                into_main_file: self.managed_file,
            });
        }
        let settings = match &self.settings {
            Some(path) => path.clone(),
            None => crate::config::claude::user_settings_path().context(
                "cannot find the home directory; pass --settings with the settings file",
            )?,
        };
        Ok(Target::User { settings })
    }
}

/// The binary to register, and a warning when it lives somewhere it will not stay.
fn binary(args: &InstallArgs) -> anyhow::Result<(PathBuf, Option<String>)> {
    if let Some(binary) = &args.binary {
        let warning = crate::config::volatile_location(binary).map(|why| {
            format!(
                "hookledger: warning: {} is in {why}; the hooks stop working when it goes",
                binary.display()
            )
        });
        return Ok((binary.clone(), warning));
    }
    let exe = std::env::current_exe().context("cannot find this binary's path; pass --binary")?;
    if let Some(why) = crate::config::volatile_location(&exe) {
        anyhow::bail!(
            "this hookledger runs from {}, {why}; install it first (./install.sh) or pass --binary with its installed path",
            exe.display()
        );
    }
    Ok((exe, None))
}

pub fn run_install(args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let (binary, warning) = binary(args)?;
    let request = Request {
        target: args.target.target()?,
        binary: Some(binary),
        lock_hooks: args.lock_hooks,
        disable_skill_shell: args.disable_skill_shell,
        sandbox: args.sandbox,
        dry_run: args.dry_run,
    };
    let report = install::install(&request).map_err(|e| needs_root(e, args.target.managed))?;
    let code = print(&report, args.json)?;
    if let Some(warning) = warning {
        eprintln!("{warning}");
    }
    Ok(code)
}

pub fn run_uninstall(args: &UninstallArgs) -> anyhow::Result<ExitCode> {
    let request = Request {
        target: args.target.target()?,
        binary: None,
        lock_hooks: false,
        disable_skill_shell: false,
        sandbox: false,
        dry_run: args.dry_run,
    };
    let report = install::uninstall(&request).map_err(|e| needs_root(e, args.target.managed))?;
    print(&report, args.json)
}

/// A managed install refused by the filesystem almost always lacks root: say so.
fn needs_root(error: install::InstallError, managed: bool) -> anyhow::Error {
    let denied = matches!(
        &error,
        install::InstallError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied
    );
    if managed && denied {
        return anyhow::anyhow!(
            "{error}; managed settings are system files: run it as root (sudo)"
        );
    }
    error.into()
}

fn print(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let mut value = serde_json::to_value(report)?;
        if report.dry_run {
            value["settings_after"] = serde_json::Value::Object(report.settings_after.clone());
        }
        super::out(&format!("{value}\n"))?;
    } else if report.dry_run {
        super::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report.settings_after)?
        ))?;
    } else {
        super::out(&render(report))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(report: &Report) -> String {
    let settings = &report.settings;
    let mut text = match (report.action, settings.change) {
        ("install", Change::Unchanged) => format!(
            "hooks already registered in {} (running {})\n",
            settings.path,
            report.binary.as_deref().unwrap_or("?")
        ),
        ("install", _) => format!(
            "registered {} events in {} (running {})\n",
            report.events.len(),
            settings.path,
            report.binary.as_deref().unwrap_or("?")
        ),
        (_, Change::Absent) => format!("{} does not exist: nothing to remove\n", settings.path),
        (_, Change::Unchanged) => format!("no hookledger hooks in {}\n", settings.path),
        (_, Change::Removed) => format!(
            "removed {} hookledger handlers and the now empty {}\n",
            report.handlers_removed, settings.path
        ),
        _ => format!(
            "removed {} hookledger handlers from {}\n",
            report.handlers_removed, settings.path
        ),
    };
    if let Some(backup) = &settings.backup {
        text.push_str(&format!("backup   {backup}\n"));
    }
    if report.scope == "managed" && report.action == "install" {
        let held = |path: &[&str]| report.lock_down.contains(&path.join("."));
        for lock in crate::config::claude::LOCK_DOWN {
            let key = lock.path.last().copied().unwrap_or_default();
            text.push_str(&if held(lock.path) {
                format!("lock     {key} on: no {}\n", lock.what)
            } else {
                format!("lock     {key} not set by hookledger\n")
            });
        }
        if report.skill_shell_disabled {
            text.push_str(
                "lock     disableSkillShellExecution on: skills' inline commands do not run\n",
            );
        }
        match &report.sandbox {
            Some(sandbox) => {
                text.push_str(&format!(
                    "sandbox  on, no way out: {} read and {} write denials, {} read exceptions, {} permission rules\n",
                    sandbox.deny_read, sandbox.deny_write, sandbox.allow_read, sandbox.permission_rules
                ));
                if !sandbox.network_configured {
                    text.push_str("sandbox  network: not configured by the policy; sandboxed commands reach only domains a user approves when asked, none where no one can be asked (claude -p), and not the host's localhost (Linux). Set \"sandbox\": {\"network\": {...}} in the managed policy (docs/deployment.md)\n");
                }
                for rule in &sandbox.hook_only {
                    text.push_str(&format!(
                        "sandbox  hook only: {} {}{}\n",
                        rule.list,
                        rule.pattern,
                        rule.note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    ));
                }
            }
            None => text.push_str("sandbox  not turned on by hookledger\n"),
        }
    }
    if let Some(policy) = &report.policy {
        text.push_str(&policy_line(policy));
    }
    text
}

fn policy_line(policy: &FileOutcome) -> String {
    let what = match policy.change {
        Change::Created => "created (the record-only default)",
        Change::Removed => "removed (it was the default)",
        Change::Kept => "kept",
        _ => "none",
    };
    let note = policy
        .note
        .as_deref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    format!(
        "policy   {} {what}{note}\n",
        Path::new(&policy.path).display()
    )
}
