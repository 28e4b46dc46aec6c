/*!
`ship`: export lines straight to an HTTP endpoint, moving the sink's cursor only after the
endpoint answered 2xx for a batch (at-least-once: a failure resends the batch next time).

Two shapes: Splunk HEC (`…/services/collector…`), where each line becomes the `event` of a HEC
envelope with `Authorization: Splunk <token>`, and plain JSON lines (`application/x-ndjson`)
with an optional bearer token. Blocking I/O only (ureq): this never runs on the hook path.
*/

use std::time::Duration;

use super::{ExportError, RecordRef, WriteOptions, Written, write_records};
use crate::ledger::Ledger;

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
    #[error("cannot reach {url}: {source}")]
    Transport {
        url: String,
        source: Box<ureq::Error>,
    },
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(target.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let content_type = match target.shape {
        Shape::SplunkHec => "application/json",
        Shape::JsonLines => "application/x-ndjson",
    };
    let mut request = agent
        .post(&target.url)
        .header("Content-Type", content_type)
        .header(
            "User-Agent",
            concat!("hookledger/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(authorization) = &target.authorization {
        request = request.header("Authorization", authorization);
    }
    let mut response = request.send(body).map_err(|e| ShipError::Transport {
        url: target.url.clone(),
        source: Box::new(e),
    })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    Err(ShipError::Rejected {
        url: target.url.clone(),
        status,
        body: text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect(),
    })
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
    fn hec_urls_are_recognized() {
        assert_eq!(
            Shape::for_url("https://s:8088/services/collector/event"),
            Shape::SplunkHec
        );
        assert_eq!(Shape::for_url("https://c/ingest"), Shape::JsonLines);
    }
}
