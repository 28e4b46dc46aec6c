//! `hookledger ship --url URL`: export straight to Splunk HEC or a JSON-lines HTTPS endpoint,
//! moving the sink's cursor after each acknowledged (2xx) batch.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::export::ship::{self, Shape, ShipError, Target};
use crate::export::{self, Format, WriteOptions};
use crate::ledger::checkpoint;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Endpoint: Splunk HEC (…/services/collector/event) or any URL taking JSON lines
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Cursor name [default: ship:URL]
    #[arg(long, value_name = "NAME")]
    pub sink: Option<String>,
    /// Line format
    #[arg(long, value_enum, default_value = "native")]
    pub format: Format,
    /// Records per request
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_records: u64,
    /// Environment variable holding the Splunk HEC token (`Authorization: Splunk …`)
    #[arg(long, value_name = "VAR", conflicts_with = "bearer_token_env")]
    pub splunk_token_env: Option<String>,
    /// Environment variable holding a bearer token (`Authorization: Bearer …`)
    #[arg(long, value_name = "VAR")]
    pub bearer_token_env: Option<String>,
    /// `sourcetype` of HEC events [default: hookledger:FORMAT]
    #[arg(long, value_name = "NAME")]
    pub sourcetype: Option<String>,
    /// Give up on a request after this long (e.g. 30s)
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,
    /// Do not append a signed checkpoint first
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ledger: Option<&Path>, args: &Args) -> anyhow::Result<ExitCode> {
    ship::check_url(&args.url)?;
    let token = |var: &Option<String>| -> anyhow::Result<Option<String>> {
        match var {
            None => Ok(None),
            Some(name) => std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Some)
                .with_context(|| {
                    format!("the environment variable {name} is not set (it should hold the token)")
                }),
        }
    };
    let authorization = match (
        token(&args.splunk_token_env)?,
        token(&args.bearer_token_env)?,
    ) {
        (Some(t), _) => Some(format!("Splunk {t}")),
        (None, Some(t)) => Some(format!("Bearer {t}")),
        (None, None) => None,
    };
    let mut ledger = super::writable_ledger(ledger)?;
    if !args.no_checkpoint {
        checkpoint::append_checkpoint(&mut ledger, "export")
            .context("cannot append the export checkpoint")?;
    }
    let sink = args
        .sink
        .clone()
        .unwrap_or_else(|| format!("ship:{}", args.url));
    let target = Target {
        url: args.url.clone(),
        shape: Shape::for_url(&args.url),
        authorization,
        timeout: Duration::from_nanos(
            u64::try_from(super::time::parse_duration_ns(&args.timeout)?).unwrap_or(30_000_000_000),
        ),
        host: crate::config::host_name(),
        sourcetype: args
            .sourcetype
            .clone()
            .unwrap_or_else(|| format!("hookledger:{}", args.format.name())),
    };
    let options = WriteOptions {
        format: args.format,
        payload_b64: false,
    };
    let (head, _) = ledger.head()?;
    let start = export::cursor(&ledger, &sink)?.acked + 1;
    let mut from = start;
    let mut shipped = 0u64;
    let mut requests = 0u64;
    let mut failure: Option<ShipError> = None;
    while from <= head {
        let to = head.min(from + args.batch_records - 1);
        let (body, written) = ship::body(&ledger, (from, to), options, &target)?;
        if let Err(e) = ship::send(&target, &body) {
            failure = Some(e);
            break;
        }
        requests += 1;
        if let Some((last, _)) = written.last {
            export::advance(&ledger, &sink, last)?;
        }
        shipped += written.count;
        from = to + 1;
    }
    let through = from - 1;
    if args.json {
        super::out(&format!(
            "{}\n",
            json!({"sink": sink, "url": args.url, "records": shipped, "requests": requests,
                   "delivered_through": through, "head": head,
                   "error": failure.as_ref().map(ToString::to_string)})
        ))?;
    }
    match failure {
        None => {
            eprintln!(
                "shipped {shipped} records (seq {start}..={head}) in {requests} request(s); sink {sink:?} is at seq {through}"
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(e) => {
            eprintln!(
                "hookledger: {e}; sink {sink:?} stays at seq {through} and the rest is sent next time (hint: check the URL, the token and the collector's logs)"
            );
            Ok(ExitCode::from(1))
        }
    }
}
