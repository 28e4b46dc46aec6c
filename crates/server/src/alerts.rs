//! Webhook alerts: findings the rules of a webhook select are POSTed to it as a
//! Slack-compatible JSON body (`text`, plus the fields), retried with backoff, every attempt
//! recorded in `alert_deliveries`. A dispatcher follows the `findings` table by id, so alerts
//! survive a restart (at least once: a finding whose delivery was under way when the server
//! stopped is sent again).
//!
//! Requests go through the system's `curl`, as `hookledger ship`'s do, with the URL (a Slack
//! webhook URL is a secret) and the body in a config read from stdin, never on a command line.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hookledger_ledger::StoredRecord;
use hookledger_ledger::export::receive::ProblemCode;
use hookledger_ledger::export::receive::incremental::{ContentCode, RefusalCode};
use hookledger_ledger::record::{AnyPayload, Kind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::{AlertFinding, Finding, Store};

/// Attempts per delivery, and the wait before the first retry (doubled each time).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub webhooks: Vec<Webhook>,
}

/// One webhook and the findings it wants. An unknown field is refused, never ignored: a rule
/// misspelt would otherwise alert on nothing, silently.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// Finding codes to alert on (receiver problems and ingest refusals, as in codes.md).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Every chain problem: the receiver's codes but `silent`, and `rewrites-history`.
    #[serde(default)]
    pub chain: bool,
    /// Silence.
    #[serde(default)]
    pub silence: bool,
    /// Policy refusals (`decision.action: deny` in a verified record) by these rule codes;
    /// `"*"`: every refusal.
    #[serde(default)]
    pub refusals: Vec<String>,
    /// DLP findings: records with `secret_findings`, or a `content-secret` decision.
    #[serde(default)]
    pub dlp: bool,
    /// A session started with the OS sandbox explicitly disabled or not enforced.
    #[serde(default)]
    pub sandbox_off: bool,
    /// A session started with a hook lock-down setting explicitly false.
    #[serde(default)]
    pub lockdown_off: bool,
}

impl Webhook {
    /// Whether this webhook's rules select the finding.
    pub fn wants_finding(&self, finding: &AlertFinding) -> bool {
        if finding.code == ContentCode::PolicyRefusal.as_str()
            && self
                .refusals
                .iter()
                .any(|r| r == "*" || finding.rule.as_deref() == Some(r.as_str()))
        {
            return true;
        }
        self.wants(&finding.code)
    }

    pub fn wants(&self, code: &str) -> bool {
        if self.codes.iter().any(|c| c == code) {
            return true;
        }
        if (self.dlp && code == ContentCode::DlpFinding.as_str())
            || (self.sandbox_off && code == ContentCode::SandboxOff.as_str())
            || (self.lockdown_off && code == ContentCode::LockdownOff.as_str())
        {
            return true;
        }
        let chain = code == RefusalCode::RewritesHistory.as_str()
            || ProblemCode::ALL
                .iter()
                .any(|p| *p != ProblemCode::Silent && p.as_str() == code);
        (self.chain && chain) || (self.silence && code == ProblemCode::Silent.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the alerts file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("the alerts file {0} is not valid: {1}")]
    Parse(String, serde_json::Error),
    #[error("the alerts file {0}: webhook {1:?}: {2}")]
    Webhook(String, String, String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(name.clone(), e))?;
        let config: Config =
            serde_json::from_str(&text).map_err(|e| ConfigError::Parse(name.clone(), e))?;
        let known: Vec<&str> = ProblemCode::ALL
            .iter()
            .map(|c| c.as_str())
            .chain(RefusalCode::ALL.iter().map(|c| c.as_str()))
            .chain(ContentCode::ALL.iter().map(|c| c.as_str()))
            .collect();
        let rules: Vec<&str> = hookledger_policy::Rule::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        for hook in &config.webhooks {
            if !(hook.url.starts_with("https://") || hook.url.starts_with("http://")) {
                return Err(ConfigError::Webhook(
                    name,
                    hook.url.clone(),
                    "the url must be http(s)".into(),
                ));
            }
            if let Some(code) = hook.codes.iter().find(|c| !known.contains(&c.as_str())) {
                return Err(ConfigError::Webhook(
                    name,
                    hook.url.clone(),
                    format!("{code:?} is not a finding code (docs/codes.md)"),
                ));
            }
            if let Some(rule) = hook
                .refusals
                .iter()
                .find(|r| *r != "*" && !rules.contains(&r.as_str()))
            {
                return Err(ConfigError::Webhook(
                    name,
                    hook.url.clone(),
                    format!("{rule:?} in refusals is not a policy rule code (docs/codes.md)"),
                ));
            }
            if hook.codes.is_empty()
                && !hook.chain
                && !hook.silence
                && hook.refusals.is_empty()
                && !hook.dlp
                && !hook.sandbox_off
                && !hook.lockdown_off
            {
                return Err(ConfigError::Webhook(
                    name,
                    hook.url.clone(),
                    "it selects nothing (codes, chain, silence, refusals, dlp, sandbox_off, lockdown_off)".into(),
                ));
            }
        }
        Ok(config)
    }
}

/// What verified records say that alert rules can select: refusals, DLP findings (the prompt
/// policy's `secret_findings`, the scrubber's `secret_redactions`), a session
/// started with its sandbox or hook lock-down explicitly off. Read through the typed payload
/// view; a field of another shape, absent or null is unknown and finds nothing. Never a
/// secret: DLP findings are named by kind only.
pub fn record_findings(records: &[StoredRecord]) -> Vec<Finding> {
    let mut out = Vec::new();
    for record in records {
        let Some(payload) = record.view::<AnyPayload>() else {
            continue;
        };
        let seq = record.seq;
        let session = payload
            .common
            .session_id
            .as_deref()
            .map_or_else(String::new, |s| format!(" in session {s}"));
        let decision = payload.decision();
        if let Some(d) = &decision
            && d.action.as_deref() == Some("deny")
        {
            let rule = d.rule.clone().unwrap_or_else(|| "unknown".into());
            let what = payload
                .tool()
                .map_or_else(|| record.kind.clone(), |t| format!("{} {t}", record.kind));
            let audit = if d.enforced() {
                ""
            } else {
                " (audit mode: recorded, not enforced)"
            };
            out.push(content(
                ContentCode::PolicyRefusal,
                seq,
                format!(
                    "{what} refused by [{rule}]{session}: {}{audit}",
                    d.reason.as_deref().unwrap_or("")
                ),
                Some(rule),
            ));
        }
        // The prompt policy's findings and the scrubber's redactions (secrets removed from any
        // record before it was written): both are secrets that reached the agent's session.
        let kinds: Vec<String> = ["secret_findings", "secret_redactions"]
            .iter()
            .filter_map(|field| payload.rest.get(*field).and_then(Value::as_array))
            .flatten()
            .map(|f| {
                f.get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("secret")
                    .to_owned()
            })
            .collect();
        let content_secret = decision
            .as_ref()
            .is_some_and(|d| d.rule.as_deref() == Some(hookledger_policy::rules::CONTENT_SECRET));
        if !kinds.is_empty() || content_secret {
            let mut kinds = kinds;
            kinds.sort();
            kinds.dedup();
            let detail = if kinds.is_empty() {
                format!("a secret in the content of a {}{session}", record.kind)
            } else {
                format!(
                    "{} secret finding(s) in a {}{session}: {}",
                    kinds.len(),
                    record.kind,
                    kinds.join(", ")
                )
            };
            out.push(content(ContentCode::DlpFinding, seq, detail, None));
        }
        if record.kind() == Some(Kind::SessionStart) {
            let sandbox = payload.rest.get("sandbox");
            let off: Vec<&str> = ["enabled", "enforced"]
                .into_iter()
                .filter(|k| sandbox.and_then(|s| s.get(*k)) == Some(&Value::Bool(false)))
                .collect();
            if !off.is_empty() {
                out.push(content(
                    ContentCode::SandboxOff,
                    seq,
                    format!(
                        "a session started with the OS sandbox {}{session}",
                        off.iter()
                            .map(|k| format!("{k}: false"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                ));
            }
            let off: Vec<&String> = payload
                .rest
                .get("lockdown")
                .and_then(Value::as_object)
                .map(|l| {
                    l.iter()
                        .filter(|(_, v)| **v == Value::Bool(false))
                        .map(|(k, _)| k)
                        .collect()
                })
                .unwrap_or_default();
            if !off.is_empty() {
                out.push(content(
                    ContentCode::LockdownOff,
                    seq,
                    format!(
                        "a session started with hook lock-down off{session}: {}",
                        off.iter()
                            .map(|k| format!("{k}: false"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                ));
            }
        }
    }
    out
}

fn content(code: ContentCode, seq: u64, detail: String, rule: Option<String>) -> Finding {
    Finding {
        code: code.as_str(),
        first_seq: Some(seq),
        last_seq: Some(seq),
        dedup_extra: String::new(),
        detail,
        rule,
    }
}

/// The Slack-compatible body: `text` for Slack, the fields for anything else.
pub fn body(finding: &AlertFinding) -> String {
    let seq = finding
        .first_seq
        .map_or_else(String::new, |s| format!(" at seq {s}"));
    json!({
        "text": format!("hookledger: {} [{}]{seq}: {}", finding.machine, finding.code, finding.detail),
        "machine": finding.machine,
        "code": finding.code,
        "seq": finding.first_seq,
        "rule": finding.rule,
        "detail": finding.detail,
        "found_ns": finding.found_ns.to_string(),
    })
    .to_string()
}

/// A value in curl's config syntax: inside double quotes, with `\` and `"` escaped.
fn curl_quote(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// One POST; the status, or why there was none.
fn post(url: &str, body: &str) -> Result<u16, String> {
    let config = format!(
        "url = \"{}\"\nproto = \"=http,https\"\nrequest = \"POST\"\nheader = \"Content-Type: application/json\"\ndata-binary = \"{}\"\nmax-time = \"10\"\noutput = \"/dev/null\"\nwrite-out = \"%{{http_code}}\"\nsilent\nshow-error\n",
        curl_quote(url),
        curl_quote(body)
    );
    let mut child = std::process::Command::new("curl")
        .args(["--config", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, config.as_bytes())
            .map_err(|e| format!("cannot talk to curl: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("curl failed: {e}"))?;
    let status: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    if status == 0 {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(stderr
            .lines()
            .next()
            .unwrap_or("no answer")
            .trim_start_matches("curl: ")
            .to_owned());
    }
    Ok(status)
}

/// Delivers one finding to one webhook: up to [`ATTEMPTS`] tries, backing off, each recorded.
async fn deliver(store: Arc<Store>, hook: Webhook, finding: AlertFinding) {
    let body = body(&finding);
    let mut wait = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let (url, text) = (hook.url.clone(), body.clone());
        let outcome = tokio::task::spawn_blocking(move || post(&url, &text))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let (status, error) = match &outcome {
            Ok(status) => (Some(*status), None),
            Err(e) => (None, Some(e.as_str())),
        };
        let _ = store
            .record_delivery(
                finding.id,
                &hook.url,
                attempt,
                status,
                error,
                hookledger_ledger::now_ns(),
            )
            .await;
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

/// Follows the findings table and hands each new finding to the webhooks that want it.
pub async fn dispatch(store: Arc<Store>, config: Config, every: Duration) {
    let mut after = store.last_alerted().await.unwrap_or(0);
    loop {
        match store.findings_after(after, 500).await {
            Ok(findings) => {
                for finding in findings {
                    after = after.max(finding.id);
                    for hook in config.webhooks.iter().filter(|h| h.wants_finding(&finding)) {
                        tokio::spawn(deliver(Arc::clone(&store), hook.clone(), finding.clone()));
                    }
                }
            }
            Err(e) => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("hookledger-server: alerts: cannot read findings: {e}");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_select_codes() {
        let hook = Webhook {
            url: "http://x".into(),
            codes: vec!["other-ledger".into()],
            chain: true,
            silence: false,
            refusals: Vec::new(),
            dlp: false,
            sandbox_off: false,
            lockdown_off: false,
        };
        assert!(hook.wants("fork"));
        assert!(hook.wants("gap"));
        assert!(hook.wants("rewrites-history"));
        assert!(hook.wants("other-ledger"));
        assert!(!hook.wants("silent"));
        assert!(!hook.wants("malformed-batch"));
    }

    fn record(seq: u64, kind: &str, payload: serde_json::Value) -> StoredRecord {
        StoredRecord {
            seq,
            ts_ns: 1,
            kind: kind.into(),
            payload: hookledger_ledger::canonical_json(&payload),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn found(records: &[StoredRecord]) -> Vec<(&'static str, Option<u64>, Option<String>)> {
        record_findings(records)
            .into_iter()
            .map(|f| (f.code, f.first_seq, f.rule))
            .collect()
    }

    #[test]
    fn records_are_read_for_refusals_dlp_and_controls_off() {
        let records = [
            record(
                2,
                "session-start",
                json!({"session_id": "s", "sandbox": {"enabled": false, "enforced": false},
                "lockdown": {"allow_managed_hooks_only": false, "allow_managed_mods_only": null}}),
            ),
            record(
                3,
                "tool-call",
                json!({"tool": "Read", "decision": {"action": "deny", "rule": "path-deny-read", "reason": "no"}}),
            ),
            record(
                4,
                "prompt",
                json!({"decision": {"action": "allow", "rule": "no-match"},
                "secret_findings": [{"kind": "aws-access-key", "start": 0, "end": 4}]}),
            ),
            record(
                5,
                "tool-call",
                json!({"tool": "Bash", "secret_redactions": [{"kind": "github-token"}]}),
            ),
            record(
                6,
                "tool-call",
                json!({"tool": "Write", "decision": {"action": "deny", "rule": "content-secret", "enforced": false}}),
            ),
        ];
        assert_eq!(
            found(&records),
            vec![
                ("sandbox-off", Some(2), None),
                ("lockdown-off", Some(2), None),
                ("policy-refusal", Some(3), Some("path-deny-read".into())),
                ("dlp-finding", Some(4), None),
                ("dlp-finding", Some(5), None),
                ("policy-refusal", Some(6), Some("content-secret".into())),
                ("dlp-finding", Some(6), None),
            ]
        );
        let all = record_findings(&records);
        assert!(all[1].detail.contains("allow_managed_hooks_only: false"));
        assert!(
            !all[1].detail.contains("allow_managed_mods_only"),
            "null is unknown"
        );
        assert!(all[5].detail.contains("audit mode"), "{}", all[5].detail);
        assert!(all[3].detail.contains("aws-access-key"));
    }

    #[test]
    fn unknown_or_odd_shapes_find_nothing() {
        let records = [
            // Absent, null or unknown: not an alert.
            record(2, "session-start", json!({"sandbox": null})),
            record(
                3,
                "session-start",
                json!({"sandbox": {"enabled": true, "enforced": true}, "lockdown": {"allow_managed_hooks_only": true}}),
            ),
            record(
                4,
                "session-start",
                json!({"sandbox": {"enabled": "false"}, "lockdown": "off"}),
            ),
            // A sandbox field on another kind is not a session's.
            record(5, "tool-call", json!({"sandbox": {"enabled": false}})),
            record(6, "tool-call", json!({"decision": "deny"})),
            record(
                7,
                "tool-call",
                json!({"decision": {"action": "ask", "rule": "path-deny-read"}}),
            ),
            record(8, "prompt", json!({"secret_findings": null})),
            record(9, "prompt", json!({"secret_findings": []})),
            StoredRecord {
                payload: b"not json".to_vec(),
                ..record(10, "prompt", json!({}))
            },
        ];
        assert_eq!(found(&records), vec![]);
    }

    #[test]
    fn refusal_rules_select_by_rule_code() {
        let hook = Webhook {
            url: "http://x".into(),
            codes: Vec::new(),
            chain: false,
            silence: false,
            refusals: vec!["path-deny-read".into()],
            dlp: true,
            sandbox_off: false,
            lockdown_off: false,
        };
        let finding = |code: &str, rule: Option<&str>| AlertFinding {
            id: 1,
            machine: "m".into(),
            code: code.into(),
            first_seq: Some(3),
            detail: String::new(),
            found_ns: 0,
            rule: rule.map(Into::into),
        };
        assert!(hook.wants_finding(&finding("policy-refusal", Some("path-deny-read"))));
        assert!(!hook.wants_finding(&finding("policy-refusal", Some("prompt-secret"))));
        assert!(hook.wants_finding(&finding("dlp-finding", None)));
        assert!(!hook.wants_finding(&finding("sandbox-off", None)));
        assert!(!hook.wants_finding(&finding("gap", None)));
        let every = Webhook {
            refusals: vec!["*".into()],
            dlp: false,
            ..hook
        };
        assert!(every.wants_finding(&finding("policy-refusal", Some("prompt-secret"))));
        assert!(!every.wants_finding(&finding("dlp-finding", None)));
    }

    #[test]
    fn bad_configs_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("alerts.json");
        for (text, needle) in [
            (
                r#"{"webhooks":[{"url":"http://x","dlp_findings":true}]}"#,
                "unknown field",
            ),
            (
                r#"{"webhooks":[{"url":"http://x","refusals":["no-such-rule"]}]}"#,
                "not a policy rule code",
            ),
            (
                r#"{"webhooks":[{"url":"http://x","codes":["nope"]}]}"#,
                "not a finding code",
            ),
            (
                r#"{"webhooks":[{"url":"ftp://x","chain":true}]}"#,
                "http(s)",
            ),
            (r#"{"webhooks":[{"url":"http://x"}]}"#, "selects nothing"),
            ("{", "not valid"),
        ] {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            let err = Config::load(&path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
