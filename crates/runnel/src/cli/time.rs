//! Times on the command line: Kafka's `--to-datetime` timestamps and `--by-duration`
//! ISO-8601 durations in, record ages (LAG-TIME) out.
//!
//! Owns: the parsers and the age format. No time zone database: a timestamp without a zone
//! is UTC, which is what Kafka's tools do (they append `Z`).

use anyhow::{bail, Context};

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

const DATETIME_FORMAT_HELP: &str =
    "expected YYYY-MM-DDTHH:mm:SS.sss with an optional zone (Z, +hh, +hhmm or +hh:mm; none means UTC)";

/// Milliseconds since the epoch of a Kafka `--to-datetime` value:
/// `2024-05-01T12:30:00.000`, optionally followed by `Z`, `+02`, `+0200` or `+02:00`.
/// The milliseconds may be left out.
pub fn parse_datetime(text: &str) -> anyhow::Result<i64> {
    parse_datetime_inner(text.trim()).with_context(|| format!("invalid datetime {text:?}: {DATETIME_FORMAT_HELP}"))
}

fn parse_datetime_inner(text: &str) -> anyhow::Result<i64> {
    let Some((date, rest)) = text.split_once('T') else {
        bail!("it does not contain a 'T' according to ISO8601 format");
    };
    let (year, month, day) = match date.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => (digits(y)?, digits(m)?, digits(d)?),
        _ => bail!("the date is not YYYY-MM-DD"),
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        bail!("no such date");
    }
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, millis) = match clock.split_once('.') {
        Some((hms, ms)) if ms.len() == 3 => (hms, digits(ms)?),
        Some(_) => bail!("milliseconds take three digits"),
        None => (clock, 0),
    };
    let (hour, minute, second) = match hms.split(':').collect::<Vec<_>>()[..] {
        [h, m, s] if h.len() == 2 && m.len() == 2 && s.len() == 2 => (digits(h)?, digits(m)?, digits(s)?),
        _ => bail!("the time is not HH:mm:SS"),
    };
    if hour > 23 || minute > 59 || second > 59 {
        bail!("no such time of day");
    }
    let offset_ms = zone_offset_ms(zone)?;
    let days = days_from_civil(year, month, day);
    Ok(days * MS_PER_DAY + hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND + millis - offset_ms)
}

/// `""`/`Z` (UTC), `+hh`, `+hhmm`, `+hh:mm`, or the same with `-`.
fn zone_offset_ms(zone: &str) -> anyhow::Result<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let (sign, body) = match zone.split_at(1) {
        ("+", body) => (1, body),
        ("-", body) => (-1, body),
        _ => bail!("unknown zone {zone:?}"),
    };
    let (hours, minutes) = match (body.len(), body.split_once(':')) {
        (2, None) => (digits(body)?, 0),
        (4, None) => (digits(&body[..2])?, digits(&body[2..])?),
        (5, Some((h, m))) if h.len() == 2 => (digits(h)?, digits(m)?),
        _ => bail!("unknown zone {zone:?}"),
    };
    if hours > 18 || minutes > 59 {
        bail!("zone offset {zone:?} out of range");
    }
    Ok(sign * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE))
}

fn digits(text: &str) -> anyhow::Result<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{text:?} is not a number");
    }
    Ok(text.parse()?)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based
/// years so that the leap day comes last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Milliseconds of an ISO-8601 duration as Java's `Duration.parse` reads it for Kafka's
/// `--by-duration`: `PnDTnHnMn.nS`, any part optional but at least one present.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    parse_duration_inner(text.trim())
        .with_context(|| format!("invalid duration {text:?}: expected PnDTnHnMnS, e.g. PT30M or P1DT12H"))
}

fn parse_duration_inner(text: &str) -> anyhow::Result<i64> {
    let upper = text.to_ascii_uppercase();
    let Some(body) = upper.strip_prefix('P') else { bail!("it does not start with P") };
    let (days_part, time_part) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut total: i64 = 0;
    let mut parts = 0;
    if !days_part.is_empty() {
        let Some(days) = days_part.strip_suffix('D') else { bail!("only days (D) come before T") };
        total = add(total, digits(days)?, MS_PER_DAY)?;
        parts += 1;
    }
    if let Some(mut time) = time_part {
        if time.is_empty() {
            bail!("nothing after T");
        }
        for (unit, scale) in [('H', MS_PER_HOUR), ('M', MS_PER_MINUTE)] {
            if let Some(at) = time.find(unit) {
                total = add(total, digits(&time[..at])?, scale)?;
                time = &time[at + 1..];
                parts += 1;
            }
        }
        if !time.is_empty() {
            let Some(seconds) = time.strip_suffix('S') else { bail!("unexpected {time:?}") };
            let (whole, fraction) = seconds.split_once(['.', ',']).unwrap_or((seconds, ""));
            total = add(total, digits(whole)?, MS_PER_SECOND)?;
            if !fraction.is_empty() {
                let millis = format!("{:0<3}", &fraction[..fraction.len().min(3)]);
                if !fraction.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("{fraction:?} is not a fraction of a second");
                }
                total = add(total, digits(&millis)?, 1)?;
            }
            parts += 1;
        }
    }
    if parts == 0 {
        bail!("no days, hours, minutes or seconds");
    }
    Ok(total)
}

fn add(total: i64, amount: i64, scale: i64) -> anyhow::Result<i64> {
    amount.checked_mul(scale).and_then(|ms| total.checked_add(ms)).context("the duration is too long")
}

/// A record's age for the LAG-TIME column: `850ms`, `42s`, `5m03s`, `2h14m`, `3d04h`.
/// A negative age (a producer clock ahead of ours) shows as `0s`.
pub fn format_age(age_ms: i64) -> String {
    let age_ms = age_ms.max(0);
    if age_ms < MS_PER_SECOND {
        return if age_ms == 0 { "0s".into() } else { format!("{age_ms}ms") };
    }
    let seconds = age_ms / MS_PER_SECOND;
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_in_kafkas_formats() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000").unwrap(), 0);
        assert_eq!(parse_datetime("2020-11-10T16:51:38.198Z").unwrap(), 1_605_027_098_198);
        assert_eq!(parse_datetime("2020-11-10T16:51:38.198+08:00").unwrap(), 1_605_027_098_198 - 8 * MS_PER_HOUR);
        assert_eq!(parse_datetime("2020-11-10T16:51:38.198+0800").unwrap(), 1_605_027_098_198 - 8 * MS_PER_HOUR);
        assert_eq!(parse_datetime("2020-11-10T16:51:38.198+08").unwrap(), 1_605_027_098_198 - 8 * MS_PER_HOUR);
        assert_eq!(
            parse_datetime("2020-11-10T16:51:38.198-05:30").unwrap(),
            1_605_027_098_198 + 5 * MS_PER_HOUR + 30 * MS_PER_MINUTE
        );
        assert_eq!(parse_datetime("2020-11-10T16:51:38").unwrap(), 1_605_027_098_000);
        assert_eq!(parse_datetime("2024-02-29T00:00:00.000").unwrap(), 1_709_164_800_000);
        assert_eq!(parse_datetime("1969-12-31T23:59:59.999").unwrap(), -1);
    }

    #[test]
    fn bad_datetimes_are_refused_with_the_format() {
        for bad in [
            "2020-11-10",
            "2020-13-01T00:00:00.000",
            "2023-02-29T00:00:00.000",
            "2020-11-10T25:00:00.000",
            "2020-11-10T16:51:38.19",
            "2020-11-10T16:51:38.198+8",
            "20-11-10T16:51:38.198",
            "2020-11-10T16:51:38.198Q",
            "",
        ] {
            let error = format!("{:#}", parse_datetime(bad).unwrap_err());
            assert!(error.contains("YYYY-MM-DDTHH:mm:SS.sss"), "{bad}: {error}");
        }
        let error = format!("{:#}", parse_datetime("2020-11-10").unwrap_err());
        assert!(error.contains("'T'"), "{error}");
    }

    #[test]
    fn durations_as_javas_duration_parse() {
        assert_eq!(parse_duration("PT1H").unwrap(), MS_PER_HOUR);
        assert_eq!(
            parse_duration("P1DT2H3M4S").unwrap(),
            MS_PER_DAY + 2 * MS_PER_HOUR + 3 * MS_PER_MINUTE + 4 * MS_PER_SECOND
        );
        assert_eq!(parse_duration("pt30m").unwrap(), 30 * MS_PER_MINUTE);
        assert_eq!(parse_duration("P2D").unwrap(), 2 * MS_PER_DAY);
        assert_eq!(parse_duration("PT1.5S").unwrap(), 1_500);
        assert_eq!(parse_duration("PT0.0015S").unwrap(), 1);
        assert_eq!(parse_duration("PT90M").unwrap(), 90 * MS_PER_MINUTE);
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in ["", "P", "PT", "1H", "PT1X", "P1H", "PT-1H", "PTH", "P99999999999999999D", "PT1.xS"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_are_compact() {
        assert_eq!(format_age(-5), "0s");
        assert_eq!(format_age(0), "0s");
        assert_eq!(format_age(850), "850ms");
        assert_eq!(format_age(42_999), "42s");
        assert_eq!(format_age(5 * MS_PER_MINUTE + 3_000), "5m03s");
        assert_eq!(format_age(2 * MS_PER_HOUR + 14 * MS_PER_MINUTE), "2h14m");
        assert_eq!(format_age(3 * MS_PER_DAY + 4 * MS_PER_HOUR), "3d04h");
    }
}
