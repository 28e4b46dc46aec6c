//! Time arguments (`7d`, `2h`, `2026-11-01`, RFC 3339) and display.

use anyhow::{Context, bail};
use jiff::{Timestamp, ToSpan, tz::TimeZone};

/// Parses `--since`/`--until` into nanoseconds since the epoch.
pub fn parse_time_arg(text: &str, now: Timestamp) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Some(ago) = parse_relative(text)? {
        return Ok(ago_ns(now, ago));
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts_ns(ts));
    }
    let tz = TimeZone::system();
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        let zoned = dt
            .to_zoned_datetime(tz)
            .with_context(|| format!("cannot place {text:?} in the local time zone"))?;
        return Ok(ts_ns(zoned.timestamp()));
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let zoned = date
            .to_zoned_datetime(tz)
            .with_context(|| format!("cannot place {text:?} in the local time zone"))?;
        return Ok(ts_ns(zoned.timestamp()));
    }
    bail!(
        "cannot read time {text:?}: use a duration like 7d, 2h, 30m, or a date like 2026-11-01 or 2026-11-01T10:00:00Z"
    )
}

/// A duration argument (`90s`, `30m`, `24h`, `7d`, `2w`) in nanoseconds.
pub fn parse_duration_ns(text: &str) -> anyhow::Result<i64> {
    match parse_relative(text.trim())? {
        Some(seconds) => Ok(seconds.saturating_mul(1_000_000_000)),
        None => bail!(
            "cannot read duration {text:?}: use a number and a unit, like 90s, 30m, 24h or 7d"
        ),
    }
}

fn ts_ns(ts: Timestamp) -> i64 {
    i64::try_from(ts.as_nanosecond()).unwrap_or(i64::MAX)
}

fn ago_ns(now: Timestamp, seconds: i64) -> i64 {
    now.checked_sub(seconds.seconds()).map_or(i64::MIN, ts_ns)
}

/// A duration argument (`90s`, `30m`, `24h`, `7d`, `2w`) in seconds.
pub fn parse_duration_arg(text: &str) -> anyhow::Result<i64> {
    parse_relative(text.trim())?.with_context(|| {
        format!(
            "cannot read duration {text:?}: use a number and a unit, like 90s, 30m, 24h, 7d or 2w"
        )
    })
}

/// `90s`, `30m`, `2h`, `7d`, `2w` → seconds ago.
fn parse_relative(text: &str) -> anyhow::Result<Option<i64>> {
    let Some(unit) = text.chars().last().filter(|c| c.is_ascii_alphabetic()) else {
        return Ok(None);
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let n: i64 = number
        .parse()
        .with_context(|| format!("{text:?} is too large"))?;
    let unit_seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        other => bail!("unknown time unit {other:?} in {text:?}: use s, m, h, d or w"),
    };
    Ok(Some(n.saturating_mul(unit_seconds)))
}

/// RFC 3339 UTC with nanoseconds, for JSON and text alike: one time reads the same on every
/// machine, whatever its zone, and matches the exports.
pub fn rfc3339(ts_ns: i64) -> String {
    crate::export::rfc3339(ts_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute() {
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
        let two_hours = parse_time_arg("2h", now).unwrap();
        assert_eq!(two_hours, ts_ns("2026-11-23T10:00:00Z".parse().unwrap()));
        assert_eq!(
            parse_time_arg("7d", now).unwrap(),
            ts_ns("2026-11-16T12:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_time_arg("2026-11-01T00:00:00Z", now).unwrap(),
            ts_ns("2026-11-01T00:00:00Z".parse().unwrap())
        );
        assert!(parse_time_arg("2026-11-01", now).is_ok());
        assert!(parse_time_arg("yesterday", now).is_err());
        assert!(parse_time_arg("5y", now).is_err());
    }
}
