//! `hookledger install` / `uninstall` against a settings file other tools also use.

use serde_json::{Value, json};

use crate::util::*;

fn settings_files(dir: &std::path::Path) -> Vec<String> {
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
    std::fs::write(&settings, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    let install = |extra: &[&str]| {
        let mut args = vec![
            "install",
            "--settings",
            settings.to_str().unwrap(),
            "--binary",
            "/usr/local/bin/hookledger",
        ];
        args.extend_from_slice(extra);
        let out = home.run(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    install(&[]);
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
            .filter(|h| h["command"] == "/usr/local/bin/hookledger")
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
    install(&[]);
    assert_eq!(
        std::fs::read(&settings).unwrap(),
        after_first,
        "second install changes nothing"
    );
    assert_eq!(settings_files(&claude), files, "and makes no new backup");
    let out = home.run(&["uninstall", "--settings", settings.to_str().unwrap()]);
    assert!(out.status.success());
    let restored: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(restored, original);
}

#[test]
fn install_refuses_to_clobber_an_unreadable_settings_file() {
    let home = Home::new();
    let settings = home.path().join("settings.json");
    std::fs::write(&settings, "{ \"hooks\": [oops").unwrap();
    let out = home.run(&[
        "install",
        "--settings",
        settings.to_str().unwrap(),
        "--binary",
        "/x/hookledger",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not valid JSON"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "{ \"hooks\": [oops"
    );
}
