//! Reading an image config the way Docker's Go structs read it, and
//! writing the result the way Go's `encoding/json` writes it, for the
//! legacy v1 image JSON of `docker save` archives (see `v1_image`).
//!
//! What carries over from Go:
//! - strings escaped as `encoding/json` escapes them: `"` and `\`,
//!   `\n`, `\r`, `\t`, other control characters and the HTML characters
//!   `<`, `>`, `&` as `\u00XX` (lowercase hex), U+2028 and U+2029 as
//!   `\u2028`/`\u2029`; everything else as UTF-8;
//! - map keys sorted bytewise; struct fields in declaration order, with
//!   `omitempty` dropping empty strings, false, zero numbers, nil
//!   pointers and empty slices and maps (a struct is never empty);
//! - unknown fields are dropped, a JSON `null` leaves the zero value, a
//!   key matches a field exactly or else ignoring ASCII case;
//! - `time.Time` is read as RFC 3339 and written as RFC 3339 with
//!   nanoseconds, trailing zeros trimmed, `Z` for a zero offset.
//!
//! A value of the wrong JSON type is an error naming the field: Go's
//! decoder refuses it too.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Fields of Docker's `container.Config` (API 1.41 to 1.43), in order.
/// The booleans say whether the field is `omitempty`.
const CONTAINER_CONFIG: &[(&str, Kind, bool)] = &[
    ("Hostname", Kind::Str, false),
    ("Domainname", Kind::Str, false),
    ("User", Kind::Str, false),
    ("AttachStdin", Kind::Bool, false),
    ("AttachStdout", Kind::Bool, false),
    ("AttachStderr", Kind::Bool, false),
    ("ExposedPorts", Kind::Set, true),
    ("Tty", Kind::Bool, false),
    ("OpenStdin", Kind::Bool, false),
    ("StdinOnce", Kind::Bool, false),
    ("Env", Kind::List, false),
    ("Cmd", Kind::StrSlice, false),
    ("Healthcheck", Kind::Health, true),
    ("ArgsEscaped", Kind::Bool, true),
    ("Image", Kind::Str, false),
    ("Volumes", Kind::Set, false),
    ("WorkingDir", Kind::Str, false),
    ("Entrypoint", Kind::StrSlice, false),
    ("NetworkDisabled", Kind::Bool, true),
    ("MacAddress", Kind::Str, true),
    ("OnBuild", Kind::List, false),
    ("Labels", Kind::Labels, false),
    ("StopSignal", Kind::Str, true),
    ("StopTimeout", Kind::IntPtr, true),
    ("Shell", Kind::StrSlice, true),
];

/// Fields of Docker's `container.HealthConfig`, all `omitempty`.
const HEALTH_CONFIG: &[(&str, Kind)] = &[
    ("Test", Kind::List),
    ("Interval", Kind::Int),
    ("Timeout", Kind::Int),
    ("StartPeriod", Kind::Int),
    ("Retries", Kind::Int),
];

/// The Go type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int` or `time.Duration`.
    Int,
    /// `*int`.
    IntPtr,
    /// `[]string`.
    List,
    /// `strslice.StrSlice`: a list, or one string read as a list of it.
    StrSlice,
    /// `map[string]struct{}`.
    Set,
    /// `map[string]string`.
    Labels,
    /// `*container.HealthConfig`.
    Health,
}

/// The value of `key` in `object` as Go's decoder finds it: the exact key,
/// else one equal ignoring ASCII case.
pub(super) fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn wrong(what: &str, want: &str) -> Error {
    Error::Malformed {
        what: what.to_string(),
        reason: format!("it is not {want}, as Docker's image config needs"),
    }
}

/// Appends `text` as a Go JSON string.
pub(super) fn push_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A Go JSON string of `text`.
pub(super) fn string(text: &str) -> String {
    let mut out = String::new();
    push_string(&mut out, text);
    out
}

/// A `string` field: `None` when absent or null.
pub(super) fn str_field<'a>(value: Option<&'a Value>, what: &str) -> Result<Option<&'a str>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong(what, "a string")),
    }
}

/// An `int64` field: `None` when absent or null.
pub(super) fn int_field(value: Option<&Value>, what: &str) -> Result<Option<i64>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong(what, "an integer")),
        Some(_) => Err(wrong(what, "an integer")),
    }
}

/// Writes a JSON object of `fields` (already encoded), in the given order.
pub(super) fn object(fields: &[(&str, String)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, key);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

/// Writes a JSON object of `fields` with keys sorted, as Go writes maps.
pub(super) fn sorted_object(fields: BTreeMap<String, String>) -> String {
    let fields: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    object(&fields)
}

/// A `container.Config` read from `value` (absent or null: the zero
/// config) and written as Go writes it.
pub(super) fn container_config(value: Option<&Value>, what: &str) -> Result<String> {
    let empty = Map::new();
    let object = match value {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(object)) => object,
        Some(_) => return Err(wrong(what, "an object")),
    };
    let mut fields = Vec::new();
    for &(name, kind, omit_empty) in CONTAINER_CONFIG {
        let what = format!("{what}.{name}");
        if let Some(encoded) = encode(field(object, name), kind, omit_empty, &what)? {
            fields.push((name, encoded));
        }
    }
    Ok(self::object(&fields))
}

/// One field's encoding; `None` when `omitempty` drops it.
fn encode(
    value: Option<&Value>,
    kind: Kind,
    omit_empty: bool,
    what: &str,
) -> Result<Option<String>> {
    let value = value.filter(|v| !v.is_null());
    let encoded = match kind {
        Kind::Str => {
            let text = str_field(value, what)?.unwrap_or_default();
            (!(omit_empty && text.is_empty())).then(|| string(text))
        }
        Kind::Bool => {
            let flag = match value {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(wrong(what, "a boolean")),
            };
            (!omit_empty || flag).then(|| flag.to_string())
        }
        Kind::Int => {
            let n = int_field(value, what)?.unwrap_or(0);
            (!(omit_empty && n == 0)).then(|| n.to_string())
        }
        Kind::IntPtr => int_field(value, what)?.map(|n| n.to_string()),
        Kind::List | Kind::StrSlice => {
            let list = match value {
                None => None,
                Some(Value::String(s)) if kind == Kind::StrSlice => Some(vec![s.as_str()]),
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|item| str_field(Some(item), what).map(Option::unwrap_or_default))
                        .collect::<Result<Vec<_>>>()?,
                ),
                Some(_) => return Err(wrong(what, "a list of strings")),
            };
            match list {
                Some(list) if !(omit_empty && list.is_empty()) => Some(list_json(&list)),
                Some(_) => None,
                None => (!omit_empty).then(|| "null".to_string()),
            }
        }
        Kind::Set | Kind::Labels => {
            let map = match value {
                None => None,
                Some(Value::Object(map)) => Some(map),
                Some(_) => return Err(wrong(what, "an object")),
            };
            match map {
                Some(map) if !(omit_empty && map.is_empty()) => {
                    let mut entries = BTreeMap::new();
                    for (key, item) in map {
                        let encoded = if kind == Kind::Set {
                            "{}".to_string()
                        } else {
                            string(str_field(Some(item), what)?.unwrap_or_default())
                        };
                        entries.insert(key.clone(), encoded);
                    }
                    Some(sorted_object(entries))
                }
                Some(_) => None,
                None => (!omit_empty).then(|| "null".to_string()),
            }
        }
        Kind::Health => match value {
            None => None,
            Some(Value::Object(object)) => {
                let mut fields = Vec::new();
                for &(name, kind) in HEALTH_CONFIG {
                    let what = format!("{what}.{name}");
                    if let Some(encoded) = encode(field(object, name), kind, true, &what)? {
                        fields.push((name, encoded));
                    }
                }
                Some(self::object(&fields))
            }
            Some(_) => return Err(wrong(what, "an object")),
        },
    };
    Ok(encoded)
}

fn list_json(items: &[&str]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, item);
    }
    out.push(']');
    out
}

/// A `time.Time` read from RFC 3339 `text`: how Go writes it again, and
/// its Unix time in whole seconds.
pub(super) fn time(text: &str, what: &str) -> Result<(String, i64)> {
    let bad = || Error::Malformed {
        what: what.to_string(),
        reason: format!("{text:?} is not an RFC 3339 time"),
    };
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let fixed = (|| {
        let ok = b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && b.get(10) == Some(&b'T')
            && b.get(13) == Some(&b':')
            && b.get(16) == Some(&b':');
        ok.then_some(())?;
        Some((
            digits(0..4)?,
            digits(5..7)?,
            digits(8..10)?,
            digits(11..13)?,
            digits(14..16)?,
            digits(17..19)?,
        ))
    })();
    let (year, month, day, hour, minute, second) = fixed.ok_or_else(bad)?;
    let mut at = 19;
    let mut nanos = 0i64;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        if end == start {
            return Err(bad());
        }
        for i in 0..9 {
            let d = b
                .get(start + i)
                .filter(|_| start + i < end)
                .map_or(0, |d| d - b'0');
            nanos = nanos * 10 + i64::from(d);
        }
        at = end;
    }
    let offset = match &b[at..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
            let hours = digits(at + 1..at + 3).ok_or_else(bad)?;
            let minutes = digits(at + 4..at + 6).ok_or_else(bad)?;
            if hours > 23 || minutes > 59 {
                return Err(bad());
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return Err(bad()),
    };
    let month_days = [
        31,
        28 + i64::from(leap(year)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[(month.max(1) - 1) as usize]
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return Err(bad());
    }
    let mut written = String::from(&text[..19]);
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        written.push('.');
        written.push_str(fraction.trim_end_matches('0'));
    }
    if offset == 0 {
        written.push('Z');
    } else {
        written.push_str(&text[at..]);
    }
    let days = days_from_civil(year, month, day);
    let unix = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Ok((string(&written), unix))
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go_does() {
        assert_eq!(string("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(
            string("q\"\\\n\t\u{1}é\u{2028}"),
            r#""q\"\\\n\t\u0001é\u2028""#
        );
    }

    #[test]
    fn times_are_normalized_as_go_writes_them() {
        let t = |s| time(s, "t").expect("time");
        assert_eq!(
            t("2026-12-05T21:03:29.04854922Z"),
            ("\"2026-12-05T21:03:29.04854922Z\"".into(), 1_796_504_609)
        );
        assert_eq!(t("1970-01-01T00:00:00+00:00").0, "\"1970-01-01T00:00:00Z\"");
        assert_eq!(
            t("1970-01-01T01:00:00.500+01:00"),
            ("\"1970-01-01T01:00:00.5+01:00\"".into(), 0)
        );
        assert_eq!(
            t("2000-02-29T00:00:00.1234567891Z").0,
            "\"2000-02-29T00:00:00.123456789Z\""
        );
        for bad in [
            "2001-02-29T00:00:00Z",
            "2000-01-01 00:00:00Z",
            "2000-01-01T00:00:00",
            "x",
        ] {
            assert!(time(bad, "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn container_configs_keep_go_field_order_and_omissions() {
        let zero = container_config(None, "c").expect("zero");
        assert_eq!(
            zero,
            concat!(
                r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"#,
                r#""AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"#,
                r#""Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#
            )
        );
        let value: Value = serde_json::from_str(
            r#"{"cmd":"sh","Labels":{"b":"1","a":"<"},"Healthcheck":{"Interval":5},"Shell":[],"StopTimeout":0,"Unknown":1}"#,
        )
        .expect("json");
        let written = container_config(Some(&value), "c").expect("config");
        assert!(
            written.contains(r#""Cmd":["sh"],"Healthcheck":{"Interval":5},"Image""#),
            "{written}"
        );
        assert!(
            written.contains(r#""Labels":{"a":"\u003c","b":"1"},"StopTimeout":0}"#),
            "{written}"
        );
        let bad: Value = serde_json::from_str(r#"{"Env":"x"}"#).expect("json");
        assert!(container_config(Some(&bad), "c").is_err());
    }
}
