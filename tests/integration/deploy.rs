//! `install.sh` on a machine: user installs into a temp HOME and prefix, managed installs into
//! a temp system root, upgrades, and uninstall giving back exactly what was there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::util::*;

const EVENTS: usize = 28;

fn install_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

/// Runs install.sh with `/bin/sh` (POSIX), a clean environment and `home` as HOME.
fn run_install_sh(home: &Path, args: &[&str]) -> Output {
    run_install_sh_with_umask(home, args, "022")
}

fn run_install_sh_with_umask(home: &Path, args: &[&str], umask: &str) -> Output {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec /bin/sh \"$0\" \"$@\""))
        .arg(install_sh())
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(home)
        .output()
        .expect("run install.sh")
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Our handlers in a settings value: (event, command, args).
fn our_handlers(settings: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (event, groups) in settings["hooks"].as_object().into_iter().flatten() {
        for group in groups.as_array().unwrap() {
            for handler in group["hooks"].as_array().unwrap() {
                if handler["args"][0] == "hook" {
                    assert!(handler["timeout"].as_u64().is_some(), "{handler}");
                    found.push((
                        event.clone(),
                        handler["command"].as_str().unwrap().to_owned(),
                        handler["args"].clone(),
                    ));
                }
            }
        }
    }
    found
}

fn backups(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".hookledger-backup-"))
        .collect();
    names.sort();
    names
}

/// A settings file other tools and the user already filled, in their own formatting.
const USER_SETTINGS: &str = r#"{
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./.env)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "/opt/guard/check.sh", "timeout": 5}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
    },
    "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
    "someFutureKey": {"x": [1, 2, 3]}
}"#;

#[test]
fn user_install_merges_is_idempotent_and_uninstall_restores_the_file() {
    let home = tempfile::tempdir().unwrap();
    let claude = home.path().join(".claude");
    std::fs::create_dir_all(&claude).unwrap();
    let settings = claude.join("settings.json");
    std::fs::write(&settings, USER_SETTINGS).unwrap();
    let prefix = home.path().join("prefix");
    let prefix_arg = prefix.to_str().unwrap();

    let out = run_install_sh(home.path(), &["--binary", BIN, "--prefix", prefix_arg]);
    assert_ok(&out);
    let installed = prefix.join("bin/hookledger");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(BIN).unwrap()
    );
    let after = read_json(&settings);
    let original: Value = serde_json::from_str(USER_SETTINGS).unwrap();
    for key in ["model", "permissions", "statusLine", "someFutureKey"] {
        assert_eq!(after[key], original[key], "{key}");
    }
    assert_eq!(
        after["hooks"]["PreToolUse"][0],
        original["hooks"]["PreToolUse"][0]
    );
    assert_eq!(after["hooks"]["Stop"][0], original["hooks"]["Stop"][0]);
    let ours = our_handlers(&after);
    assert_eq!(ours.len(), EVENTS, "{ours:?}");
    for (event, command, args) in &ours {
        assert_eq!(command, installed.to_str().unwrap());
        assert_eq!(args, &json!(["hook", "--event", event]));
    }
    assert_eq!(backups(&claude).len(), 1);
    let first_bytes = std::fs::read(&settings).unwrap();

    // A second run changes nothing: same bytes, no new backup, the binary left alone.
    let inode_before = inode(&installed);
    let out = run_install_sh(home.path(), &["--binary", BIN, "--prefix", prefix_arg]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("already registered"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(std::fs::read(&settings).unwrap(), first_bytes);
    assert_eq!(backups(&claude).len(), 1);
    assert_eq!(inode(&installed), inode_before);

    let out = run_install_sh(home.path(), &["--uninstall", "--prefix", prefix_arg]);
    assert_ok(&out);
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        USER_SETTINGS,
        "the user's own bytes come back"
    );
    assert!(!installed.exists());
}

#[test]
fn user_install_creates_settings_and_uninstall_removes_what_it_made() {
    let home = tempfile::tempdir().unwrap();
    let prefix = home.path().join("prefix");
    let out = run_install_sh(
        home.path(),
        &["--binary", BIN, "--prefix", prefix.to_str().unwrap()],
    );
    assert_ok(&out);
    let settings = home.path().join(".claude/settings.json");
    assert_eq!(our_handlers(&read_json(&settings)).len(), EVENTS);
    assert!(
        backups(&home.path().join(".claude")).is_empty(),
        "nothing of anyone else's to back up"
    );
    let out = run_install_sh(
        home.path(),
        &["--uninstall", "--prefix", prefix.to_str().unwrap()],
    );
    assert_ok(&out);
    assert!(!settings.exists());
}

#[cfg(unix)]
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

/// An upgrade replaces the binary by rename: a process holding the old file keeps reading the
/// old bytes, and the registrations stay byte-identical.
#[test]
fn upgrade_replaces_the_binary_atomically() {
    let home = tempfile::tempdir().unwrap();
    let prefix = home.path().join("prefix");
    let prefix_arg = prefix.to_str().unwrap();
    assert_ok(&run_install_sh(
        home.path(),
        &["--binary", BIN, "--prefix", prefix_arg],
    ));
    let installed = prefix.join("bin/hookledger");
    let settings = home.path().join(".claude/settings.json");
    let settings_before = std::fs::read(&settings).unwrap();
    let old = std::fs::File::open(&installed).unwrap();
    let old_inode = inode(&installed);

    // A "new build": the same program with different bytes (trailing data an ELF loader ignores).
    let new_build = home.path().join("new-hookledger");
    let mut bytes = std::fs::read(BIN).unwrap();
    bytes.extend_from_slice(b"\0hookledger-upgrade-test");
    std::fs::write(&new_build, &bytes).unwrap();
    write_mode(&new_build, 0o755);
    let out = run_install_sh(
        home.path(),
        &[
            "--binary",
            new_build.to_str().unwrap(),
            "--prefix",
            prefix_arg,
        ],
    );
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("installed"),
        "{}",
        text(&out.stdout)
    );
    assert_ne!(
        inode(&installed),
        old_inode,
        "replaced by rename, not rewritten in place"
    );
    assert_eq!(std::fs::read(&installed).unwrap(), bytes);
    use std::io::Read;
    let mut old_bytes = Vec::new();
    (&old).read_to_end(&mut old_bytes).unwrap();
    assert_eq!(
        old_bytes,
        std::fs::read(BIN).unwrap(),
        "the running copy is untouched"
    );
    assert_eq!(std::fs::read(&settings).unwrap(), settings_before);
    let leftovers: Vec<_> = std::fs::read_dir(prefix.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

fn write_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// A system root shaped like a real machine's: /usr/local/bin exists, and the organisation
/// already manages Claude Code with its own settings file and a drop-in.
struct SystemRoot {
    dir: tempfile::TempDir,
}

const ORG_MANAGED: &str = r#"{
  "permissions": {"deny": ["WebSearch"], "disableBypassPermissionsMode": "disable"},
  "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "/opt/org/audit.sh"}]}]},
  "env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1"},
  "companyAnnouncements": ["Welcome"]
}
"#;
const ORG_DROP_IN: &str = "{\"env\": {\"OTEL_METRICS_EXPORTER\": \"otlp\"}}\n";

impl SystemRoot {
    fn new() -> Self {
        let root = SystemRoot {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(root.path().join("usr/local/bin")).unwrap();
        std::fs::create_dir_all(root.user_home()).unwrap();
        std::fs::create_dir_all(root.claude_dir().join("managed-settings.d")).unwrap();
        std::fs::write(root.claude_dir().join("managed-settings.json"), ORG_MANAGED).unwrap();
        std::fs::write(
            root.claude_dir()
                .join("managed-settings.d/10-telemetry.json"),
            ORG_DROP_IN,
        )
        .unwrap();
        root
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A user's HOME, which a managed install must leave alone.
    fn user_home(&self) -> PathBuf {
        self.path().join("home/dev")
    }

    fn claude_dir(&self) -> PathBuf {
        self.path().join("etc/claude-code")
    }

    fn drop_in(&self) -> PathBuf {
        self.claude_dir()
            .join("managed-settings.d/50-hookledger.json")
    }

    fn policy(&self) -> PathBuf {
        self.path().join("etc/hookledger/policy.json")
    }

    fn binary(&self) -> PathBuf {
        self.path().join("usr/local/bin/hookledger")
    }

    fn install_sh(&self, extra: &[&str]) -> Output {
        let mut args = vec!["--managed", "--root", self.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        // Root shells often run with umask 077; managed files must still be readable by all.
        run_install_sh_with_umask(&self.user_home(), &args, "077")
    }
}

#[test]
fn managed_install_uses_a_drop_in_and_uninstall_restores_the_system() {
    let root = SystemRoot::new();
    let before = tree(root.path());

    let out = root.install_sh(&["--binary", BIN]);
    assert_ok(&out);
    assert_eq!(
        std::fs::read(root.binary()).unwrap(),
        std::fs::read(BIN).unwrap()
    );
    // The organisation's files are untouched; the registrations are in hookledger's drop-in.
    assert_eq!(
        std::fs::read_to_string(root.claude_dir().join("managed-settings.json")).unwrap(),
        ORG_MANAGED
    );
    assert_eq!(
        std::fs::read_to_string(
            root.claude_dir()
                .join("managed-settings.d/10-telemetry.json")
        )
        .unwrap(),
        ORG_DROP_IN
    );
    let drop_in = read_json(&root.drop_in());
    let ours = our_handlers(&drop_in);
    assert_eq!(ours.len(), EVENTS);
    assert!(
        ours.iter()
            .all(|(_, command, _)| command == root.binary().to_str().unwrap())
    );
    assert!(drop_in.get("allowManagedHooksOnly").is_none());
    assert_eq!(
        std::fs::read_to_string(root.policy()).unwrap(),
        include_str!("../../hooks/managed-policy.json")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&root.drop_in()),
            0o644,
            "every user's Claude Code reads it"
        );
        assert_eq!(mode(&root.policy()), 0o644);
        assert_eq!(mode(&root.binary()), 0o755);
    }
    assert!(
        !root.path().join("home/dev/.claude").exists(),
        "a managed install leaves users' settings alone"
    );

    let installed = tree(root.path());
    assert_ok(&root.install_sh(&["--binary", BIN]));
    assert_eq!(tree(root.path()), installed, "a second run changes nothing");

    // --lock-hooks sets allowManagedHooksOnly in the drop-in; running without it takes it out.
    assert_ok(&root.install_sh(&["--binary", BIN, "--lock-hooks"]));
    assert_eq!(read_json(&root.drop_in())["allowManagedHooksOnly"], true);
    assert_eq!(
        std::fs::read_to_string(root.claude_dir().join("managed-settings.json")).unwrap(),
        ORG_MANAGED
    );
    assert_ok(&root.install_sh(&["--binary", BIN]));
    assert_eq!(tree(root.path()), installed);

    assert_ok(&root.install_sh(&["--binary", BIN, "--lock-hooks"]));
    let out = root.install_sh(&["--uninstall"]);
    assert_ok(&out);
    assert_eq!(
        tree(root.path()),
        before,
        "everything hookledger added is gone, nothing else"
    );
}

#[test]
fn managed_install_keeps_an_existing_policy() {
    let root = SystemRoot::new();
    let custom = "{\"version\": 1, \"tools\": {\"deny\": [\"WebFetch\"]}}\n";
    std::fs::create_dir_all(root.policy().parent().unwrap()).unwrap();
    std::fs::write(root.policy(), custom).unwrap();
    let before = tree(root.path());
    let out = root.install_sh(&["--binary", BIN]);
    assert_ok(&out);
    assert!(text(&out.stdout).contains("kept"), "{}", text(&out.stdout));
    assert_eq!(std::fs::read_to_string(root.policy()).unwrap(), custom);
    assert_ok(&root.install_sh(&["--uninstall"]));
    assert_eq!(tree(root.path()), before);
}

/// The Windows layout (no drop-ins): merged into managed-settings.json, and the prior value
/// of allowManagedHooksOnly put back on uninstall.
#[test]
fn managed_file_mode_merges_and_restores_allow_managed_hooks_only() {
    let root = SystemRoot::new();
    let managed = root.claude_dir().join("managed-settings.json");
    let org = ORG_MANAGED.replacen('{', "{\n  \"allowManagedHooksOnly\": false,", 1);
    std::fs::write(&managed, &org).unwrap();
    let before = tree(root.path());

    assert_ok(&root.install_sh(&["--binary", BIN, "--managed-file", "--lock-hooks"]));
    let merged = read_json(&managed);
    assert_eq!(merged["allowManagedHooksOnly"], true);
    assert_eq!(our_handlers(&merged).len(), EVENTS);
    let original: Value = serde_json::from_str(&org).unwrap();
    for key in ["permissions", "env", "companyAnnouncements"] {
        assert_eq!(merged[key], original[key], "{key}");
    }
    assert_eq!(
        merged["hooks"]["PreToolUse"][0],
        original["hooks"]["PreToolUse"][0]
    );
    assert!(!root.drop_in().exists());
    assert_eq!(backups(&root.claude_dir()).len(), 1);

    let installed = tree(root.path());
    assert_ok(&root.install_sh(&["--binary", BIN, "--managed-file", "--lock-hooks"]));
    assert_eq!(tree(root.path()), installed, "a second run changes nothing");

    assert_ok(&root.install_sh(&["--uninstall", "--managed-file"]));
    assert_eq!(
        std::fs::read_to_string(&managed).unwrap(),
        org,
        "false is back, byte for byte"
    );
    let mut after = tree(root.path());
    after.retain(|name, _| !name.contains(".hookledger-backup-"));
    assert_eq!(after, before);
}

/// When the organisation already set allowManagedHooksOnly, it is theirs: uninstall keeps it.
#[test]
fn managed_file_mode_leaves_the_organisations_lock() {
    let root = SystemRoot::new();
    let managed = root.claude_dir().join("managed-settings.json");
    let org = ORG_MANAGED.replacen('{', "{\n  \"allowManagedHooksOnly\": true,", 1);
    std::fs::write(&managed, &org).unwrap();
    assert_ok(&root.install_sh(&["--binary", BIN, "--managed-file", "--lock-hooks"]));
    assert_ok(&root.install_sh(&["--uninstall", "--managed-file"]));
    assert_eq!(std::fs::read_to_string(&managed).unwrap(), org);
}

#[test]
fn bad_invocations_explain_themselves() {
    let home = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["--lock-hooks", "--binary", BIN],
            "--lock-hooks needs --managed",
        ),
        (
            vec!["--root", "/x", "--binary", BIN],
            "--root needs --managed",
        ),
        (
            vec!["--sandbox", "--binary", BIN],
            "--sandbox needs --managed",
        ),
        (
            vec!["--disable-skill-shell", "--binary", BIN],
            "--disable-skill-shell needs --managed",
        ),
        (vec!["--binary", "/bin/true"], "not a hookledger binary"),
        (
            vec!["--binary", "/nonexistent/hookledger"],
            "does not exist",
        ),
        (vec!["--uninstall"], "is not installed"),
        (vec!["--prefix"], "--prefix needs a value"),
    ] {
        let out = run_install_sh(home.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    let out = run_install_sh(home.path(), &["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown option --frobnicate"));
    let out = run_install_sh(home.path(), &["--help"]);
    assert_ok(&out);
    assert!(text(&out.stdout).contains("--managed"));
    assert!(!home.path().join(".claude").exists(), "nothing was written");
}

/// `--lock-hooks` locks every surface Claude Code lets managed settings lock: hooks, mods,
/// side-loaded and command-sourced plugins. In the drop-in they are hookledger's; uninstall
/// leaves the system as it was.
#[test]
fn lock_hooks_locks_mods_and_side_loaded_plugins_too() {
    let root = SystemRoot::new();
    let before = tree(root.path());
    let out = root.install_sh(&["--binary", BIN, "--lock-hooks", "--disable-skill-shell"]);
    assert_ok(&out);
    let drop_in = read_json(&root.drop_in());
    assert_eq!(drop_in["allowManagedHooksOnly"], true);
    assert_eq!(
        drop_in["pluginConfigs"]["cc-plugin-sec-default@builtin"]["options"]["allowManagedModsOnly"],
        true
    );
    assert_eq!(drop_in["disableSideloadFlags"], true);
    assert_eq!(drop_in["disableCommandPluginSources"], true);
    assert_eq!(drop_in["disableSkillShellExecution"], true);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("allowManagedModsOnly on"), "{stdout}");
    // Installing again without them takes them out.
    assert_ok(&root.install_sh(&["--binary", BIN]));
    let drop_in = read_json(&root.drop_in());
    for key in [
        "allowManagedHooksOnly",
        "pluginConfigs",
        "disableSideloadFlags",
        "disableCommandPluginSources",
        "disableSkillShellExecution",
    ] {
        assert!(drop_in.get(key).is_none(), "{key}: {drop_in:#}");
    }
    assert_ok(&root.install_sh(&["--uninstall"]));
    assert_eq!(tree(root.path()), before);
}

/// In `managed-settings.json` (Windows' layout) the organisation's own plugin options stay,
/// and uninstall puts back exactly what was there.
#[test]
fn managed_file_mode_merges_the_mods_lock_into_the_organisations_plugin_options() {
    let root = SystemRoot::new();
    let managed = root.claude_dir().join("managed-settings.json");
    let org = ORG_MANAGED.replacen(
        '{',
        "{\n  \"pluginConfigs\": {\"cc-plugin-sec-default@builtin\": {\"options\": {\"forceHotReloadPrompt\": true}}, \"other@market\": {\"options\": {\"x\": 1}}},",
        1,
    );
    std::fs::write(&managed, &org).unwrap();
    assert_ok(&root.install_sh(&["--binary", BIN, "--managed-file", "--lock-hooks"]));
    let merged = read_json(&managed);
    let options = &merged["pluginConfigs"]["cc-plugin-sec-default@builtin"]["options"];
    assert_eq!(options["allowManagedModsOnly"], true);
    assert_eq!(options["forceHotReloadPrompt"], true);
    assert_eq!(merged["pluginConfigs"]["other@market"]["options"]["x"], 1);
    assert_ok(&root.install_sh(&["--uninstall", "--managed-file"]));
    assert_eq!(std::fs::read_to_string(&managed).unwrap(), org);
}

/// `--sandbox` compiles the managed policy and self-protection into the drop-in; a policy that
/// says "off" and the flag contradict each other and nothing is written; the sandbox needs the
/// drop-in.
#[test]
fn sandbox_install_compiles_the_policy_into_the_drop_in() {
    let root = SystemRoot::new();
    std::fs::create_dir_all(root.policy().parent().unwrap()).unwrap();
    std::fs::write(
        root.policy(),
        r#"{"version": 1, "paths": {"deny_read": ["**/.env", "~/.ssh/**"], "deny_write": [".github/workflows/**", "**/migrations/**"]},
            "sandbox": {"network": {"allowedDomains": ["github.com", "*.npmjs.org"]}, "allow_write": ["~/.npm"]}}"#,
    )
    .unwrap();
    let before = tree(root.path());
    let out = root.install_sh(&["--binary", BIN, "--sandbox"]);
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("sandbox  on, no way out"), "{stdout}");
    assert!(
        stdout.contains("hook only: deny_write **/migrations/**"),
        "{stdout}"
    );
    let drop_in = read_json(&root.drop_in());
    let sandbox = &drop_in["sandbox"];
    assert_eq!(sandbox["enabled"], true);
    assert_eq!(sandbox["allowUnsandboxedCommands"], false);
    assert_eq!(sandbox["failIfUnavailable"], true);
    assert_eq!(
        sandbox["network"],
        json!({"allowedDomains": ["github.com", "*.npmjs.org"]})
    );
    assert_eq!(sandbox["filesystem"]["allowWrite"], json!(["~/.npm"]));
    let deny_write = sandbox["filesystem"]["denyWrite"].as_array().unwrap();
    for expected in [
        "~/.local/share/hookledger",
        root.binary().to_str().unwrap(),
        root.claude_dir().to_str().unwrap(),
        root.policy().parent().unwrap().to_str().unwrap(),
        "~/.ssh/**",
    ] {
        assert!(
            deny_write.contains(&json!(expected)),
            "{expected}: {deny_write:?}"
        );
    }
    assert_eq!(
        drop_in["permissions"]["deny"],
        json!(["Read(**/.env)", "Edit(.github/workflows/**)"])
    );
    // The organisation's own files are untouched.
    assert_eq!(
        std::fs::read_to_string(root.claude_dir().join("managed-settings.json")).unwrap(),
        ORG_MANAGED
    );
    let installed = tree(root.path());
    assert_ok(&root.install_sh(&["--binary", BIN, "--sandbox"]));
    assert_eq!(tree(root.path()), installed, "a second run changes nothing");

    let out = root.install_sh(&["--binary", BIN, "--sandbox", "--managed-file"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("needs the managed-settings.d drop-in"));
    assert_eq!(tree(root.path()), installed, "nothing was changed");

    assert_ok(&root.install_sh(&["--uninstall"]));
    assert_eq!(tree(root.path()), before);

    std::fs::write(root.policy(), r#"{"version": 1, "sandbox": "off"}"#).unwrap();
    let out = root.install_sh(&["--binary", BIN, "--sandbox"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("\"sandbox\": \"off\""),
        "{}",
        text(&out.stderr)
    );
    assert!(!root.drop_in().exists(), "nothing was written");
    // "require" in the policy turns it on without the flag.
    std::fs::write(root.policy(), r#"{"version": 1, "sandbox": "require"}"#).unwrap();
    assert_ok(&root.install_sh(&["--binary", BIN]));
    assert_eq!(read_json(&root.drop_in())["sandbox"]["enabled"], true);
}
