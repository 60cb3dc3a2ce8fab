//! Times and sizes as podman prints them in tables: `2 weeks ago`,
//! `36 kB`, `121 MB`.

/// Seconds since the Unix epoch of an RFC 3339 time
/// (`2026-01-02T03:04:05[.frac](Z|±hh:mm)`); `None` if it is not one.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    let b = rfc3339.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> { rfc3339.get(from..to)?.parse().ok() };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &rfc3339[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The current time, seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How long ago `rfc3339` was, as podman says it (`Less than a second
/// ago`, `About a minute ago`, `3 hours ago`, `2 weeks ago`); the time
/// as it is when it cannot be read.
pub fn since(rfc3339: &str, now: i64) -> String {
    match unix_seconds(rfc3339) {
        Some(then) => format!("{} ago", duration((now - then).max(0))),
        None => rfc3339.to_string(),
    }
}

/// A duration in words, the way podman's tables round it.
pub fn duration(seconds: i64) -> String {
    let minutes = seconds / 60;
    // Hours are rounded to the nearest, as podman does.
    let hours = (seconds + 1800) / 3600;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// Bytes in SI units with three significant digits, as podman prints
/// sizes: `5 B`, `36 kB`, `11.3 kB`, `121 MB`.
pub fn size(bytes: u64) -> String {
    let (value, unit) = si(bytes, 3);
    format!("{value} {unit}")
}

/// Bytes as podman's `system df` and `system prune` print them: four
/// significant digits, no space (`22.66kB`, `0B`).
pub fn compact_size(bytes: u64) -> String {
    let (value, unit) = si(bytes, 4);
    format!("{value}{unit}")
}

/// `bytes` in the largest SI unit that keeps the number under 1000, to
/// `digits` significant digits.
fn si(bytes: u64, digits: usize) -> (String, &'static str) {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    (significant(value, digits), UNITS[unit])
}

/// `value` to `digits` significant digits without trailing zeros, as Go's
/// `%.3g` writes it (`1e+03` when rounding reaches the next power of ten).
fn significant(value: f64, digits: usize) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let scientific = format!("{:.*e}", digits - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= digits as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_string()
}

fn trim_zeros(number: &str) -> &str {
    match number.contains('.') {
        true => number.trim_end_matches('0').trim_end_matches('.'),
        false => number,
    }
}

/// An RFC 3339 time as podman prints a Go time: `2026-12-06 08:33:03
/// +0000 UTC` (for UTC times; others are printed as they are).
pub fn go_time(rfc3339: &str) -> String {
    match unix_seconds(rfc3339) {
        Some(seconds) => {
            let days = seconds.div_euclid(86_400);
            let rest = seconds.rem_euclid(86_400);
            let (year, month, day) = civil_from_days(days);
            format!(
                "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} +0000 UTC",
                rest / 3600,
                rest % 3600 / 60,
                rest % 60
            )
        }
        None => rfc3339.to_string(),
    }
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_sizes_as_podmans_system_df_prints_them() {
        for (bytes, text) in [
            (0, "0B"),
            (999, "999B"),
            (11_330, "11.33kB"),
            (22_660, "22.66kB"),
            (1_500_000, "1.5MB"),
            (121_000_000, "121MB"),
        ] {
            assert_eq!(compact_size(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn sizes_have_three_significant_digits() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(5), "5 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1000), "1 kB");
        assert_eq!(size(11_331), "11.3 kB");
        assert_eq!(size(36_000), "36 kB");
        assert_eq!(size(120_950_000), "121 MB");
        assert_eq!(size(999_999), "1e+03 kB");
    }

    #[test]
    fn durations_read_as_podman_writes_them() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(59), "59 seconds");
        assert_eq!(duration(90), "About a minute");
        assert_eq!(duration(45 * 60), "45 minutes");
        assert_eq!(duration(3600), "About an hour");
        assert_eq!(duration(5 * 3600), "5 hours");
        assert_eq!(duration(3 * 86_400), "3 days");
        assert_eq!(duration(15 * 86_400), "2 weeks");
        assert_eq!(duration(90 * 86_400), "3 months");
        assert_eq!(duration(800 * 86_400), "2 years");
    }

    #[test]
    fn times_parse_and_print() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2026-12-06T08:33:03Z"), Some(1_796_545_983));
        assert_eq!(
            unix_seconds("2026-12-06T09:33:03.5+01:00"),
            Some(1_796_545_983)
        );
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(
            go_time("2026-12-06T08:33:03Z"),
            "2026-12-06 08:33:03 +0000 UTC"
        );
        assert_eq!(
            since("2026-12-06T08:33:03Z", 1_796_545_983 + 2),
            "2 seconds ago"
        );
    }
}
