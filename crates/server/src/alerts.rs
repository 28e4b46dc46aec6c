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

use hookledger_ledger::export::receive::ProblemCode;
use hookledger_ledger::export::receive::incremental::RefusalCode;
use serde::Deserialize;
use serde_json::json;

use crate::store::{AlertFinding, Store};

/// Attempts per delivery, and the wait before the first retry (doubled each time).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub webhooks: Vec<Webhook>,
}

/// One webhook and the findings it wants. Rules not supported yet (DLP findings, a machine's
/// sandbox or hook lock-down being off) are rejected as unknown fields rather than ignored.
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
}

impl Webhook {
    pub fn wants(&self, code: &str) -> bool {
        if self.codes.iter().any(|c| c == code) {
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
            if hook.codes.is_empty() && !hook.chain && !hook.silence {
                return Err(ConfigError::Webhook(
                    name,
                    hook.url.clone(),
                    "it selects nothing (codes, chain, silence)".into(),
                ));
            }
        }
        Ok(config)
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
                    for hook in config.webhooks.iter().filter(|h| h.wants(&finding.code)) {
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
        };
        assert!(hook.wants("fork"));
        assert!(hook.wants("gap"));
        assert!(hook.wants("rewrites-history"));
        assert!(hook.wants("other-ledger"));
        assert!(!hook.wants("silent"));
        assert!(!hook.wants("malformed-batch"));
    }

    #[test]
    fn bad_configs_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("alerts.json");
        for (text, needle) in [
            (
                r#"{"webhooks":[{"url":"http://x","dlp":true}]}"#,
                "unknown field",
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
