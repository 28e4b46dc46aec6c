/*!
`ship`: export lines straight to an HTTP endpoint, moving the sink's cursor only after the
endpoint answered 2xx for a batch (at-least-once: a failure resends the batch next time).

Two shapes: Splunk HEC (`…/services/collector…`), where each line becomes the `event` of a HEC
envelope with `Authorization: Splunk <token>`, and plain JSON lines (`application/x-ndjson`)
with an optional bearer token.

Requests go through the system's `curl`. That keeps a TLS stack out of the binary every tool
call loads (it cost the hook about 0.3 ms per call in startup alone), and it uses the system's
certificate store and proxy settings, which corporate networks with their own root CAs need.
The token travels in a private config file, never on a command line other users can read.
*/

use std::time::Duration;

use super::{ExportError, RecordRef, WriteOptions, Written, write_records};
use crate::Ledger;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    SplunkHec,
    JsonLines,
}

impl Shape {
    /// HEC endpoints live under `/services/collector`.
    pub fn for_url(url: &str) -> Shape {
        if url.contains("/services/collector") {
            Shape::SplunkHec
        } else {
            Shape::JsonLines
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub shape: Shape,
    /// `Splunk <token>` or `Bearer <token>`.
    pub authorization: Option<String>,
    pub timeout: Duration,
    /// `host` in HEC envelopes.
    pub host: String,
    /// `sourcetype` in HEC envelopes.
    pub sourcetype: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{url} answered {status}: {body}")]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot reach {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("cannot run curl: {0} (hint: install curl; `ship` sends through it)")]
    NoCurl(std::io::Error),
    #[error("cannot write the request's private config: {0}")]
    Config(std::io::Error),
    #[error(
        "refusing to ship over plain http to {0}: use https (plain http is allowed to loopback only)"
    )]
    PlainHttp(String),
}

/// Refuses plain `http://` except to loopback, where tests and local collectors live.
pub fn check_url(url: &str) -> Result<(), ShipError> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Ok(());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(ShipError::PlainHttp(url.to_owned()))
    }
}

/// One request body for records `from..=to`, and what it holds.
pub fn body(
    ledger: &Ledger,
    (from, to): (u64, u64),
    options: WriteOptions,
    target: &Target,
) -> Result<(Vec<u8>, Written), ShipError> {
    let mut lines = Vec::new();
    let written = write_records(ledger, from, to, options, &mut lines)?;
    let body = match target.shape {
        Shape::JsonLines => lines,
        Shape::SplunkHec => {
            let mut body = Vec::with_capacity(lines.len() + written.count as usize * 160);
            let mut times = Vec::with_capacity(written.count as usize);
            super::for_each_record(ledger, from, to, |r: &RecordRef<'_>| {
                times.push(r.ts_ns);
                Ok(())
            })?;
            let host = serde_json::to_string(&target.host).unwrap_or_else(|_| "\"\"".into());
            let sourcetype =
                serde_json::to_string(&target.sourcetype).unwrap_or_else(|_| "\"\"".into());
            for (line, ts_ns) in lines
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .zip(times)
            {
                // The line goes in verbatim, so the payload's exact bytes reach the index.
                body.extend_from_slice(
                    format!(
                        "{{\"time\":{}.{:06},\"host\":{host},\"source\":\"hookledger\",\"sourcetype\":{sourcetype},\"event\":",
                        ts_ns.div_euclid(1_000_000_000),
                        ts_ns.rem_euclid(1_000_000_000) / 1000
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(line);
                body.extend_from_slice(b"}\n");
            }
            body
        }
    };
    Ok((body, written))
}

/// Sends one body; `Ok` only for a 2xx answer.
pub fn send(target: &Target, body: &[u8]) -> Result<(), ShipError> {
    let content_type = match target.shape {
        Shape::SplunkHec => "application/json",
        Shape::JsonLines => "application/x-ndjson",
    };
    let mut config = String::new();
    let mut line = |key: &str, value: &str| {
        config.push_str(&format!("{key} = \"{}\"\n", curl_quote(value)));
    };
    line("url", &target.url);
    line("proto", "=http,https");
    line("header", &format!("Content-Type: {content_type}"));
    line(
        "header",
        concat!("User-Agent: hookledger/", env!("CARGO_PKG_VERSION")),
    );
    if let Some(authorization) = &target.authorization {
        line("header", &format!("Authorization: {authorization}"));
    }
    line("max-time", &target.timeout.as_secs().max(1).to_string());
    line("data-binary", "@-");
    line("write-out", "\n%{http_code}");
    config.push_str("silent\nshow-error\n");
    let config_file = PrivateFile::create(&config).map_err(ShipError::Config)?;
    let mut child = std::process::Command::new("curl")
        .arg("--config")
        .arg(&config_file.path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(ShipError::NoCurl)?;
    // Written from another thread: curl may answer (and stop reading) before the body ends.
    let mut stdin = child.stdin.take();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(pipe) = stdin.as_mut() {
            let _ = std::io::Write::write_all(pipe, &body);
        }
    });
    let output = child.wait_with_output().map_err(ShipError::NoCurl)?;
    let _ = writer.join();
    drop(config_file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (answer, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let status: u16 = status.trim().parse().unwrap_or(0);
    if !output.status.success() || status == 0 {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(ShipError::Transport {
            url: target.url.clone(),
            detail: stderr
                .lines()
                .next()
                .unwrap_or("curl failed")
                .trim_start_matches("curl: ")
                .to_owned(),
        });
    }
    if (200..300).contains(&status) {
        return Ok(());
    }
    Err(ShipError::Rejected {
        url: target.url.clone(),
        status,
        body: answer
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect(),
    })
}

/// A value in curl's config syntax: inside double quotes, with `\` and `"` escaped.
fn curl_quote(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// A file only this user can read, removed when dropped.
struct PrivateFile {
    path: std::path::PathBuf,
}

impl PrivateFile {
    fn create(contents: &str) -> std::io::Result<PrivateFile> {
        let mut name = [0u8; 12];
        getrandom::fill(&mut name).map_err(|e| std::io::Error::other(e.to_string()))?;
        let path = std::env::temp_dir().join(format!(
            "hookledger-ship-{}.conf",
            crate::frame::to_hex(&name)
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path)?;
        std::io::Write::write_all(&mut file, contents.as_bytes())?;
        Ok(PrivateFile { path })
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_url("https://splunk.example.com:8088/services/collector").is_ok());
        assert!(check_url("http://127.0.0.1:9/x").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        assert!(check_url("http://[::1]:80/x").is_ok());
        assert!(check_url("http://user@127.0.0.1/").is_ok());
        assert!(check_url("http://splunk.example.com/services/collector").is_err());
        assert!(check_url("http://127.0.0.1.evil.example/").is_err());
        assert!(check_url("http://evil.example/?127.0.0.1").is_err());
    }

    #[test]
    fn config_values_cannot_break_out_of_their_quotes() {
        assert_eq!(curl_quote(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(curl_quote("x\nurl = \"evil\""), r#"x\nurl = \"evil\""#);
    }

    #[test]
    fn hec_urls_are_recognized() {
        assert_eq!(
            Shape::for_url("https://s:8088/services/collector/event"),
            Shape::SplunkHec
        );
        assert_eq!(Shape::for_url("https://c/ingest"), Shape::JsonLines);
    }
}
