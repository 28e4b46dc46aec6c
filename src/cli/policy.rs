//! `hookledger policy check` / `policy explain`: see what the policy says without recording.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Paths;
use crate::policy::file::{self, managed_dir};
use crate::policy::{Event, Policy, RealWorld};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate every policy layer and print the effective policy (exit 1 when invalid)
    Check {
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Treat DIR as the filesystem root for the managed policy and Claude Code's managed
        /// settings (a staged install)
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Show the decision and the rule for a tool call or a prompt, without recording anything
    Explain(ExplainArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The tool (Bash, Read, Edit, mcp__server__tool, …)
    #[arg(long, required_unless_present_any = ["payload", "prompt"])]
    pub tool: Option<String>,
    /// For Bash/PowerShell: the command
    #[arg(long)]
    pub command: Option<String>,
    /// For file tools: the path (file_path, notebook_path or path, as the tool takes it)
    #[arg(long)]
    pub path: Option<String>,
    /// The whole tool input as JSON
    #[arg(long, value_name = "JSON")]
    pub input: Option<String>,
    /// Judge a prompt instead of a tool call
    #[arg(long, conflicts_with = "tool")]
    pub prompt: Option<String>,
    /// A hook payload file (PreToolUse, PermissionRequest or UserPromptSubmit)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["tool", "prompt"])]
    pub payload: Option<PathBuf>,
    /// Directory the tool call runs in [default: the current directory]
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    match &args.command {
        PolicyCommand::Check { json, root } => check(&paths, *json, root.as_deref()),
        PolicyCommand::Explain(explain_args) => explain(&paths, explain_args),
    }
}

fn check(paths: &Paths, as_json: bool, root: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let (_, from_env) = managed_dir();
    let managed = file::managed_dir_under(root);
    let (layers, errors) = file::load_layers_from(&managed, &paths.home);
    let policy = Policy::new(layers, &paths.home);
    let files: Vec<Value> = policy
        .layers
        .iter()
        .map(|l| json!({"layer": l.layer, "path": l.path.display().to_string()}))
        .collect();
    let os = os_enforcement(&policy.layers, root);
    let report = json!({
        "valid": errors.is_empty(),
        "errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "managed_dir": managed.display().to_string(),
        "managed_dir_from_env": from_env,
        "user_policy": paths.home.join(file::POLICY_FILE).display().to_string(),
        "files": files,
        "effective": policy.effective_summary(),
        "os_enforcement": os,
    });
    if as_json {
        super::out(&format!("{report}\n"))?;
    } else {
        let mut text = String::new();
        for error in &errors {
            text.push_str(&format!("error: {error}\n"));
        }
        if policy.layers.is_empty() && errors.is_empty() {
            text.push_str(&format!(
                "no policy: looked for {} and {}; everything is recorded, nothing but hookledger's own files is protected\n",
                managed.join(file::POLICY_FILE).display(),
                paths.home.join(file::POLICY_FILE).display()
            ));
        }
        for layer in &policy.layers {
            text.push_str(&format!(
                "{:<8} {}\n",
                format!("{:?}", layer.layer).to_lowercase(),
                layer.path.display()
            ));
        }
        text.push_str(&format!(
            "effective policy:\n{}\n",
            serde_json::to_string_pretty(&report["effective"])?
        ));
        text.push_str(&render_os(&report["os_enforcement"]));
        super::out(&text)?;
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Which rules Claude Code's OS sandbox enforces for Bash, and which the hook alone: what the
/// managed policy and self-protection compile to, checked against the managed settings in
/// force on this machine.
fn os_enforcement(layers: &[file::LoadedLayer], root: Option<&std::path::Path>) -> Value {
    use crate::config::claude::{self, Locations, Scope};
    use crate::policy::sandbox;
    let files = claude::load_layers(&Locations::discover(root, std::env::current_dir().ok()));
    let state = claude::sandbox_state(&files);
    let enforced = state.enforced_by_managed();
    // The binary the managed registrations run is the one a managed install protects.
    let binary = claude::registrations(&files)
        .into_iter()
        .find(|r| r.scope == Scope::Managed)
        .map(|r| PathBuf::from(r.binary));
    let protected = crate::config::protected::protected_set(
        &crate::config::protected::ProtectedContext::managed(root, binary),
    );
    let options = sandbox::managed_options(layers);
    let compiled = sandbox::compile(layers, &protected, &options);
    let managed_entries = |setting: &str| -> Vec<String> {
        let path: Vec<&str> = setting.split('.').collect();
        files
            .iter()
            .filter(|f| f.scope == Scope::Managed)
            .filter_map(|f| claude::get_path(&f.settings, &path))
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let present = |setting: &str, value: &str| managed_entries(setting).iter().any(|e| e == value);
    let rules = sandbox::in_force(compiled.coverage, &present, enforced);
    let count = |code: &str| {
        rules
            .iter()
            .filter(|r| r.enforcement.code() == code)
            .count()
    };
    json!({
        "sandbox": {
            "enabled": state.enabled,
            "enforced_by_managed_settings": enforced,
            "allow_unsandboxed_commands": state.allow_unsandboxed_commands,
            "fail_if_unavailable": state.fail_if_unavailable,
            "source": state.source,
            "file": state.file.as_ref().map(|f| f.display().to_string()),
            "required_by_policy": options.mode == Some(file::SandboxMode::Require),
        },
        "counts": {
            "os": count("os"),
            "os-in-start-dir": count("os-in-start-dir"),
            "claude-code-default": count("claude-code-default"),
            "hook-only": count("hook-only"),
        },
        "rules": rules,
    })
}

fn render_os(os: &Value) -> String {
    let sandbox = &os["sandbox"];
    let mut text = String::from("OS enforcement (Claude Code's sandbox, for Bash): ");
    text.push_str(&if sandbox["enforced_by_managed_settings"] == true {
        format!(
            "enforced by managed settings ({})\n",
            sandbox["file"].as_str().unwrap_or("?")
        )
    } else if sandbox["enabled"] == true {
        "enabled, but not enforced by managed settings: every rule is the hook's alone\n".to_owned()
    } else {
        "not enabled: every rule is the hook's alone (sudo hookledger install --managed --sandbox)\n".to_owned()
    });
    for rule in os["rules"].as_array().into_iter().flatten() {
        let note = rule["note"]
            .as_str()
            .map(|n| format!("  ({n})"))
            .unwrap_or_default();
        text.push_str(&format!(
            "  {:<19} {:<15} {}{note}\n",
            rule["enforcement"].as_str().unwrap_or(""),
            rule["list"].as_str().unwrap_or(""),
            rule["pattern"].as_str().unwrap_or("")
        ));
    }
    text
}

fn explain(paths: &Paths, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let (layers, errors) = file::load_layers(&paths.home);
    if let Some(error) = errors.first() {
        bail!(
            "the policy is invalid, so hooks decide by `on_error`: {error}; fix it (`hookledger policy check` lists every error)"
        );
    }
    let policy = Policy::new(layers, &paths.home);
    let cwd = match &args.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the current directory; pass --cwd")?,
    };
    let (tool, input, prompt, cwd) = match &args.payload {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let payload: Value = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not JSON; pass a hook payload as Claude Code sends it (one JSON object)",
                    file.display()
                )
            })?;
            let cwd = payload["cwd"].as_str().map_or(cwd, PathBuf::from);
            (
                payload["tool_name"].as_str().map(str::to_owned),
                payload["tool_input"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                payload["prompt"].as_str().map(str::to_owned),
                cwd,
            )
        }
        None => {
            let mut input = match &args.input {
                Some(text) => {
                    match serde_json::from_str::<Value>(text).context("--input is not JSON; pass the tool input as an object, like --input '{\"file_path\": \"/tmp/x\"}'")? {
                        Value::Object(map) => map,
                        _ => bail!("--input must be a JSON object"),
                    }
                }
                None => serde_json::Map::new(),
            };
            if let Some(command) = &args.command {
                input.insert("command".into(), json!(command));
            }
            if let Some(path) = &args.path {
                let key = match args.tool.as_deref() {
                    Some("NotebookEdit") => "notebook_path",
                    Some("Glob" | "Grep" | "LS") => "path",
                    _ => "file_path",
                };
                input.insert(key.into(), json!(path));
            }
            (args.tool.clone(), input, args.prompt.clone(), cwd)
        }
    };
    // The hook's own decision function: explain renders its verdict and never analyses
    // anything itself, so the two cannot drift apart.
    let report = match (&tool, &prompt) {
        (Some(tool), _) => {
            let verdict = policy.judge(
                &Event::Tool {
                    tool,
                    input: &input,
                    cwd: &cwd,
                },
                &RealWorld::for_hook(),
            );
            let mut report =
                json!({"tool": tool, "decision": verdict.decision, "targets": verdict.targets});
            // What the shell analysis found besides paths, for the reviewer.
            if matches!(tool.as_str(), "Bash" | "PowerShell") {
                report["remotes"] = json!(verdict.remotes);
                report["unanalyzable"] = json!(verdict.unanalyzable);
            }
            report
        }
        (None, Some(prompt)) => {
            let verdict = policy.judge(
                &Event::Prompt {
                    text: prompt,
                    cwd: &cwd,
                },
                &RealWorld::for_hook(),
            );
            json!({"decision": verdict.decision, "secret_findings": verdict.findings})
        }
        (None, None) => {
            bail!("nothing to explain: pass --tool, --prompt or a payload with tool_name or prompt")
        }
    };
    if args.json {
        super::out(&format!("{report}\n"))?;
    } else {
        let d = &report["decision"];
        let mut text = format!(
            "{} [{}] ({} layer{})\n{}\n",
            d["action"].as_str().unwrap_or("?"),
            d["rule"].as_str().unwrap_or("?"),
            d["layer"].as_str().unwrap_or("?"),
            d["pattern"]
                .as_str()
                .map(|p| format!(", pattern {p:?}"))
                .unwrap_or_default(),
            d["reason"].as_str().unwrap_or(""),
        );
        if d["enforced"] == false {
            text.push_str("(audit mode: recorded, not enforced)\n");
        }
        for target in report["targets"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "  {} {}\n",
                target["access"].as_str().unwrap_or("?"),
                target["path"].as_str().unwrap_or("?")
            ));
        }
        for remote in report["remotes"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "  remote {} ({})\n",
                remote["url"].as_str().unwrap_or("?"),
                remote["operation"].as_str().unwrap_or("?")
            ));
        }
        for why in report["unanalyzable"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "  unanalyzable: {}\n",
                why.as_str().unwrap_or("?")
            ));
        }
        super::out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
