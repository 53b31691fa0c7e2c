//! Where `runnel consume` starts reading: the `-o/--offset` forms of kcat and rpk.
//!
//! Owns: parsing `start`, `end`, `N`, `-N`, `@TIMESTAMP_MS`, `@DATETIME` and `@-DURATION`
//! into an [`OffsetSpec`], and the relative durations (`-30m`, `-2d`, `-1h30m`). The
//! current time is passed in, so parsing is a pure function.

use anyhow::{bail, Context};

use crate::cli::time::parse_datetime;

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
const MS_PER_WEEK: i64 = 7 * MS_PER_DAY;

/// Duration units after `@-`, longest spelling first so `ms` is not read as `m`.
const DURATION_UNITS: [(&str, i64); 6] =
    [("ms", 1), ("s", MS_PER_SECOND), ("m", MS_PER_MINUTE), ("h", MS_PER_HOUR), ("d", MS_PER_DAY), ("w", MS_PER_WEEK)];

pub const OFFSET_FORMS_HELP: &str = "start, end, N (offset N), -N (N before the end), @TIMESTAMP_MS, \
    @YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm] or @-DURATION (e.g. @-30m, @-2d, @-1h30m)";

/// A starting point, applied to each partition read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Start,
    /// The log end offset: only records produced from now on.
    End,
    /// This offset, clamped to the partition's [start, end].
    Absolute(i64),
    /// This many records before the end (at most back to the start).
    FromEnd(i64),
    /// The first record with a timestamp at or after this one (ms since the epoch); the end
    /// when there is none.
    Timestamp(i64),
}

impl OffsetSpec {
    /// Parses one `-o` value; `now_ms` anchors `@-DURATION`.
    pub fn parse(text: &str, now_ms: i64) -> anyhow::Result<OffsetSpec> {
        parse_inner(text.trim(), now_ms)
            .with_context(|| format!("invalid offset {text:?}: expected {OFFSET_FORMS_HELP}"))
    }
}

fn parse_inner(text: &str, now_ms: i64) -> anyhow::Result<OffsetSpec> {
    match text.to_ascii_lowercase().as_str() {
        "start" | "beginning" | "earliest" | "oldest" => return Ok(OffsetSpec::Start),
        "end" | "latest" | "newest" => return Ok(OffsetSpec::End),
        _ => {}
    }
    if let Some(when) = text.strip_prefix('@') {
        if let Some(ago) = when.strip_prefix('-') {
            return Ok(OffsetSpec::Timestamp(now_ms.saturating_sub(parse_duration_ms(ago)?)));
        }
        if is_digits(when) {
            return Ok(OffsetSpec::Timestamp(when.parse().context("the timestamp is too large")?));
        }
        return Ok(OffsetSpec::Timestamp(parse_datetime(when)?));
    }
    if let Some(back) = text.strip_prefix('-') {
        if is_digits(back) {
            return Ok(OffsetSpec::FromEnd(back.parse().context("the offset is too large")?));
        }
        bail!("{back:?} is not a number (a time needs @, as in @-{back})");
    }
    if is_digits(text) {
        return Ok(OffsetSpec::Absolute(text.parse().context("the offset is too large")?));
    }
    bail!("unknown form");
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Milliseconds of `30m`, `2d`, `1h30m`, `500ms`: numbers each followed by a unit
/// (ms, s, m, h, d, w).
pub fn parse_duration_ms(text: &str) -> anyhow::Result<i64> {
    let mut rest = text;
    let mut total: i64 = 0;
    if rest.is_empty() {
        bail!("the duration is empty");
    }
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            bail!("expected a number at {rest:?}");
        }
        let (number, after) = rest.split_at(digits_len);
        let number: i64 = number.parse().context("the duration is too long")?;
        let Some((unit, scale)) = DURATION_UNITS.iter().find(|(unit, _)| after.starts_with(unit)) else {
            bail!("{number} needs a unit (ms, s, m, h, d or w)");
        };
        total = number.checked_mul(*scale).and_then(|ms| total.checked_add(ms)).context("the duration is too long")?;
        rest = &after[unit.len()..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn parse(text: &str) -> OffsetSpec {
        OffsetSpec::parse(text, NOW).unwrap()
    }

    #[test]
    fn named_positions() {
        for start in ["start", "beginning", "earliest", "START"] {
            assert_eq!(parse(start), OffsetSpec::Start);
        }
        for end in ["end", "latest", "End"] {
            assert_eq!(parse(end), OffsetSpec::End);
        }
    }

    #[test]
    fn absolute_and_from_the_end() {
        assert_eq!(parse("0"), OffsetSpec::Absolute(0));
        assert_eq!(parse("42"), OffsetSpec::Absolute(42));
        assert_eq!(parse("-3"), OffsetSpec::FromEnd(3));
        assert_eq!(parse("-0"), OffsetSpec::FromEnd(0));
    }

    #[test]
    fn timestamps_absolute_datetime_and_relative() {
        assert_eq!(parse("@1600000000000"), OffsetSpec::Timestamp(1_600_000_000_000));
        assert_eq!(parse("@2020-11-10T16:51:38.198Z"), OffsetSpec::Timestamp(1_605_027_098_198));
        assert_eq!(parse("@-1h"), OffsetSpec::Timestamp(NOW - MS_PER_HOUR));
        assert_eq!(parse("@-30m"), OffsetSpec::Timestamp(NOW - 30 * MS_PER_MINUTE));
        assert_eq!(parse("@-2d"), OffsetSpec::Timestamp(NOW - 2 * MS_PER_DAY));
        assert_eq!(parse("@-1h30m"), OffsetSpec::Timestamp(NOW - MS_PER_HOUR - 30 * MS_PER_MINUTE));
        assert_eq!(parse("@-250ms"), OffsetSpec::Timestamp(NOW - 250));
    }

    #[test]
    fn durations_need_units_and_numbers() {
        assert_eq!(parse_duration_ms("1w").unwrap(), MS_PER_WEEK);
        assert_eq!(parse_duration_ms("90s").unwrap(), 90 * MS_PER_SECOND);
        for bad in ["", "5", "m", "5x", "1h-", "99999999999999999999d", "9999999999999w"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_offsets_list_the_accepted_forms() {
        for bad in ["", "next", "-x", "-30m", "@", "@-", "@soon", "1.5", "+3", "99999999999999999999"] {
            let error = format!("{:#}", OffsetSpec::parse(bad, NOW).unwrap_err());
            assert!(error.contains("@TIMESTAMP_MS"), "{bad}: {error}");
        }
        let error = format!("{:#}", OffsetSpec::parse("-30m", NOW).unwrap_err());
        assert!(error.contains("@-30m"), "{error}");
    }
}
