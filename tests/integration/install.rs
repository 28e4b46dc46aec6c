//! `hookledger install` / `uninstall` against a settings file other tools also use.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::*;

fn settings_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn install_merges_is_idempotent_and_uninstall_restores() {
    let home = Home::new();
    let stable = stable_tempdir();
    let binary = install_binary(stable.path());
    let claude = home.path().join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    let settings = claude.join("settings.json");
    let original = json!({
        "model": "opus",
        "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./.env)"]},
        "hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "/opt/other/guard.sh", "timeout": 5}]}],
            "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
        },
        "someFutureKey": {"x": [1, 2, 3]}
    });
    let original_text = serde_json::to_string_pretty(&original).unwrap();
    std::fs::write(&settings, &original_text).unwrap();
    let install = || {
        let out = home.run(&[
            "install",
            "--settings",
            settings.to_str().unwrap(),
            "--binary",
            binary.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };
    install();
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    for event in [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SubagentStop",
        "SessionEnd",
        "PermissionRequest",
    ] {
        let ours: Vec<&Value> = installed["hooks"][event]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["hooks"].as_array().unwrap())
            .filter(|h| h["command"] == binary.to_str().unwrap())
            .collect();
        assert_eq!(ours.len(), 1, "{event}");
        assert_eq!(ours[0]["args"], json!(["hook", "--event", event]));
        assert!(ours[0]["timeout"].as_u64().is_some());
    }
    assert_eq!(
        installed["hooks"]["PreToolUse"][0],
        original["hooks"]["PreToolUse"][0]
    );
    assert_eq!(installed["permissions"], original["permissions"]);
    assert_eq!(installed["someFutureKey"], original["someFutureKey"]);
    let after_first = std::fs::read(&settings).unwrap();
    let files = settings_files(&claude);
    assert_eq!(files.len(), 2, "settings plus one backup: {files:?}");
    let out = install();
    assert!(text(&out.stdout).contains("already registered"));
    assert_eq!(
        std::fs::read(&settings).unwrap(),
        after_first,
        "second install changes nothing"
    );
    assert_eq!(settings_files(&claude), files, "and makes no new backup");
    let out = home.run(&["uninstall", "--settings", settings.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), original_text);
}

#[test]
fn install_refuses_to_clobber_an_unreadable_settings_file() {
    let home = Home::new();
    let settings = home.path().join("settings.json");
    for bad in ["{ \"hooks\": [oops", "[1, 2]", "{\"hooks\": [1]}"] {
        std::fs::write(&settings, bad).unwrap();
        let out = home.run(&[
            "install",
            "--settings",
            settings.to_str().unwrap(),
            "--binary",
            BIN,
        ]);
        assert_refused(&out, "fix it by hand (nothing was changed)");
        assert_eq!(std::fs::read_to_string(&settings).unwrap(), bad);
    }
}

#[test]
fn install_refuses_a_binary_that_would_not_run() {
    let home = Home::new();
    let settings = home.path().join("settings.json");
    let s = settings.to_str().unwrap();
    let not_hookledger = home.path().join("fake");
    write_script(&not_hookledger, "echo 'something 1.0'");
    for (args, needle) in [
        (
            vec![
                "install",
                "--settings",
                s,
                "--binary",
                "/nonexistent/hookledger",
            ],
            "does not exist",
        ),
        (
            vec![
                "install",
                "--settings",
                s,
                "--binary",
                "relative/hookledger",
            ],
            "absolute path",
        ),
        (
            vec![
                "install",
                "--settings",
                s,
                "--binary",
                not_hookledger.to_str().unwrap(),
            ],
            "is not a hookledger binary",
        ),
        // Without --binary, this very binary would be registered: it lives in target/debug.
        (vec!["install", "--settings", s], "cargo build directory"),
        (
            vec!["install", "--settings", s, "--binary", BIN, "--lock-hooks"],
            "--managed",
        ),
    ] {
        let out = home.run(&args);
        assert_refused(&out, needle);
    }
    assert!(!settings.exists(), "nothing was written");
}

#[cfg(unix)]
#[test]
fn symlinked_settings_are_edited_where_they_point() {
    let home = Home::new();
    let stable = stable_tempdir();
    let binary = install_binary(stable.path());
    let dotfiles = home.path().join("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let real = dotfiles.join("claude-settings.json");
    std::fs::write(&real, "{\"model\": \"opus\"}\n").unwrap();
    let claude = home.path().join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    let link = claude.join("settings.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let args = |cmd: &'static str| {
        vec![
            cmd.to_owned(),
            "--settings".into(),
            link.display().to_string(),
        ]
    };
    let mut install = args("install");
    install.extend(["--binary".into(), binary.display().to_string()]);
    let run = |a: &[String]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        home.run(&a)
    };
    let out = run(&install);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let through_link: Value =
        serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(through_link["model"], "opus");
    assert!(through_link["hooks"]["PreToolUse"].is_array());
    let out = run(&args("uninstall"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "{\"model\": \"opus\"}\n"
    );
}

#[test]
fn json_and_dry_run_reports() {
    let home = Home::new();
    let stable = stable_tempdir();
    let binary = install_binary(stable.path());
    let settings = home.path().join("settings.json");
    let s = settings.to_str().unwrap();
    let b = binary.to_str().unwrap();
    let report = |args: &[&str]| -> Value {
        let out = home.run(args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };

    let dry = report(&[
        "install",
        "--settings",
        s,
        "--binary",
        b,
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["settings"]["change"], "created");
    assert!(dry["settings_after"]["hooks"]["Stop"].is_array());
    assert!(!settings.exists(), "a dry run writes nothing");

    let done = report(&["install", "--settings", s, "--binary", b, "--json"]);
    assert_eq!(done["action"], "install");
    assert_eq!(done["scope"], "user");
    assert_eq!(done["settings"]["change"], "created");
    assert_eq!(done["settings"]["backup"], Value::Null);
    assert_eq!(done["binary"], b);
    assert_eq!(done["events"].as_array().unwrap().len(), 28);

    let again = report(&["install", "--settings", s, "--binary", b, "--json"]);
    assert_eq!(again["settings"]["change"], "unchanged");

    let removed = report(&["uninstall", "--settings", s, "--json"]);
    assert_eq!(removed["action"], "uninstall");
    assert_eq!(removed["handlers_removed"], 28);
    assert_eq!(removed["settings"]["change"], "removed");
    assert!(
        !settings.exists(),
        "a file holding only our entries goes away"
    );

    let absent = report(&["uninstall", "--settings", s, "--json"]);
    assert_eq!(absent["settings"]["change"], "absent");
}

/// A managed install without the rights to write system files says to run it as root.
#[test]
fn managed_install_without_root_says_so() {
    let home = Home::new();
    let root = home.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for dir in [home.path(), root.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(root.join("etc"), std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let args = [
        "install",
        "--managed",
        "--root",
        root.to_str().unwrap(),
        "--binary",
        BIN,
    ];
    let out = if is_root {
        // Root ignores file modes: run as nobody, as an administrator who forgot sudo.
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
        ])
        .args(args)
        .env("HOOKLEDGER_HOME", home.home())
        .env_remove("HOOKLEDGER_MANAGED_DIR");
        cmd.output().unwrap()
    } else {
        home.run(&args)
    };
    assert_refused(&out, "run it as root (sudo)");
    assert_eq!(std::fs::read_dir(root.join("etc")).unwrap().count(), 0);
}

/// `policy check` says, rule by rule, what Claude Code's OS sandbox enforces for Bash and what
/// only the hook does, against the managed settings actually in force.
#[test]
fn policy_check_says_which_rules_the_os_enforces() {
    let home = Home::new();
    let stable = stable_tempdir();
    let binary = install_binary(stable.path());
    let root = stable.path().join("root");
    let policy_dir = root.join("etc/hookledger");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(
        policy_dir.join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env", "~/.ssh/**"], "ask_write": ["**/migrations/**"]}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(home.home()).unwrap();
    std::fs::write(
        home.home().join("policy.json"),
        r#"{"version": 1, "paths": {"deny_read": ["~/.kube/**"]}}"#,
    )
    .unwrap();
    let check = |json: bool| {
        let mut cmd = home.command();
        cmd.args(["policy", "check", "--root"])
            .arg(&root)
            .env_remove("HOOKLEDGER_MANAGED_DIR");
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };
    let rule = |report: &Value, pattern: &str| -> Value {
        report["os_enforcement"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pattern"] == pattern)
            .cloned()
            .unwrap_or_else(|| panic!("{pattern}: {report:#}"))
    };
    let before: Value = serde_json::from_slice(&check(true).stdout).unwrap();
    assert_eq!(
        before["os_enforcement"]["sandbox"]["enforced_by_managed_settings"],
        false
    );
    let env = rule(&before, "**/.env");
    assert_eq!(env["enforcement"], "hook-only");
    assert!(
        env["note"]
            .as_str()
            .unwrap()
            .contains("not enforced by managed settings")
    );

    let out = home
        .command()
        .args(["install", "--managed", "--sandbox", "--root"])
        .arg(&root)
        .arg("--binary")
        .arg(&binary)
        .env_remove("HOOKLEDGER_MANAGED_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after: Value = serde_json::from_slice(&check(true).stdout).unwrap();
    let os = &after["os_enforcement"];
    assert_eq!(
        os["sandbox"]["enforced_by_managed_settings"], true,
        "{os:#}"
    );
    assert_eq!(rule(&after, "**/.env")["enforcement"], "os-in-start-dir");
    assert_eq!(
        rule(&after, "**/.env")["compiled"],
        json!(["permissions.deny: Read(**/.env)"])
    );
    assert_eq!(rule(&after, "~/.ssh/**")["enforcement"], "os");
    assert_eq!(rule(&after, "**/migrations/**")["enforcement"], "hook-only");
    let kube = rule(&after, "~/.kube/**");
    assert_eq!(
        (kube["layer"].as_str(), kube["enforcement"].as_str()),
        (Some("user"), Some("hook-only"))
    );
    let keys = os["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pattern"].as_str().unwrap().contains("(signing-keys)"))
        .unwrap();
    assert_eq!(keys["enforcement"], "os");
    assert!(os["counts"]["os"].as_u64().unwrap() > 10, "{os:#}");

    let text_out = text(&check(false).stdout);
    assert!(
        text_out.contains(
            "OS enforcement (Claude Code's sandbox, for Bash): enforced by managed settings"
        ),
        "{text_out}"
    );
    assert!(
        text_out
            .lines()
            .any(|l| l.contains("os-in-start-dir") && l.contains("**/.env")),
        "{text_out}"
    );

    // Someone removes an entry from the drop-in: that rule is no longer the OS's.
    let drop_in = root.join("etc/claude-code/managed-settings.d/50-hookledger.json");
    let mut settings: Value = serde_json::from_slice(&std::fs::read(&drop_in).unwrap()).unwrap();
    settings["permissions"]["deny"] = json!([]);
    std::fs::write(&drop_in, settings.to_string()).unwrap();
    let edited: Value = serde_json::from_slice(&check(true).stdout).unwrap();
    let env = rule(&edited, "**/.env");
    assert_eq!(env["enforcement"], "hook-only");
    assert!(
        env["note"]
            .as_str()
            .unwrap()
            .contains("not in the managed settings"),
        "{env:#}"
    );
}
