//! PAX extended header records (`<len> <key>=<value>\n`) and the keys that
//! override header fields, carry xattrs or describe GNU sparse files.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// libarchive writes xattr values as base64 with or without padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

use crate::member::{Time, Xattrs};

/// The records of one PAX extended header, in the order they appear.
#[derive(Debug, Default, Clone)]
pub(crate) struct PaxRecords {
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl PaxRecords {
    /// Parses the data of an `x` or `g` header. Trailing NUL padding is
    /// tolerated; anything else that is not a well-formed record is an error.
    pub(crate) fn parse(data: &[u8]) -> Result<Self, String> {
        let mut records = Vec::new();
        let mut rest = data;
        while !rest.is_empty() && rest.iter().any(|&b| b != 0) {
            let record = parse_record(rest)?;
            records.push((record.key.to_vec(), record.value.to_vec()));
            rest = record.rest;
        }
        Ok(Self { records })
    }

    /// The last non-empty value of `key`; an empty value means "keep the
    /// header's own field", as POSIX says.
    pub(crate) fn get(&self, key: &str) -> Option<&[u8]> {
        self.records
            .iter()
            .rev()
            .find(|(k, v)| k == key.as_bytes() && !v.is_empty())
            .map(|(_, v)| v.as_slice())
    }

    /// Iterates over all records in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.records
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Extended attributes: `SCHILY.xattr.<name>=<raw value>` and
    /// `LIBARCHIVE.xattr.<url-encoded name>=<base64 value>`; SCHILY wins when
    /// both name the same attribute.
    pub(crate) fn xattrs(&self) -> Result<Xattrs, String> {
        let mut out = Xattrs::new();
        for (key, value) in self.iter() {
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                upsert(&mut out, name.to_vec(), value.to_vec(), true);
            } else if let Some(name) = key.strip_prefix(b"LIBARCHIVE.xattr.") {
                let name = url_decode(name).ok_or("bad LIBARCHIVE.xattr name")?;
                let value = LENIENT_BASE64
                    .decode(value)
                    .map_err(|_| "bad LIBARCHIVE.xattr value")?;
                upsert(&mut out, name, value, false);
            }
        }
        Ok(out)
    }
}

fn upsert(out: &mut Xattrs, name: Vec<u8>, value: Vec<u8>, replace: bool) {
    match out.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) if replace => slot.1 = value,
        Some(_) => {}
        None => out.push((name, value)),
    }
}

fn url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let hex = std::str::from_utf8(text.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Some(out)
}

/// One parsed record and the bytes after it.
struct Record<'a> {
    key: &'a [u8],
    value: &'a [u8],
    rest: &'a [u8],
}

/// One record: the length counts the whole record including its own digits
/// and the final newline.
fn parse_record(data: &[u8]) -> Result<Record<'_>, String> {
    let space = data
        .iter()
        .position(|&b| b == b' ')
        .ok_or("record without a length")?;
    let len: usize = std::str::from_utf8(&data[..space])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("record length is not a number")?;
    if len < 5 || len > data.len() || len <= space + 1 {
        return Err(format!("record length {len} is out of range"));
    }
    let record = &data[space + 1..len];
    let (body, newline) = record.split_at(record.len() - 1);
    if newline != b"\n" {
        return Err("record does not end in a newline".into());
    }
    let eq = body
        .iter()
        .position(|&b| b == b'=')
        .ok_or("record without '='")?;
    let (key, value) = (&body[..eq], &body[eq + 1..]);
    if key.is_empty() || key.contains(&0) {
        return Err("record key is empty or contains NUL".into());
    }
    let text_key = matches!(key, b"path" | b"linkpath" | b"uname" | b"gname");
    if text_key && value.contains(&0) {
        return Err(format!("{} contains NUL", String::from_utf8_lossy(key)));
    }
    Ok(Record {
        key,
        value,
        rest: &data[len..],
    })
}

/// Parses a decimal integer value such as `uid` or `size`.
pub(crate) fn parse_decimal(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Parses a PAX time: decimal seconds with an optional fraction, possibly
/// negative.
pub(crate) fn parse_time(value: &[u8]) -> Option<Time> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, d) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(if negative && nanos > 0 {
        Time {
            secs: -secs - 1,
            nanos: 1_000_000_000 - nanos,
        }
    } else if negative {
        Time {
            secs: -secs,
            nanos: 0,
        }
    } else {
        Time { secs, nanos }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while len.to_string().len() + body.len() != len {
            len += 1;
        }
        format!("{len}{body}").into_bytes()
    }

    #[test]
    fn parses_records_in_order_last_wins() {
        let mut data = record("path", "a/b");
        data.extend(record("path", "c/d"));
        data.extend(record("SCHILY.xattr.user.x", "v\0w"));
        data.extend([0; 20]);
        let pax = PaxRecords::parse(&data).expect("valid");
        assert_eq!(pax.get("path"), Some(&b"c/d"[..]));
        assert_eq!(
            pax.xattrs().expect("xattrs"),
            vec![(b"user.x".to_vec(), b"v\0w".to_vec())]
        );
    }

    #[test]
    fn rejects_bad_records() {
        for bad in [
            &b"5 a=b"[..],
            b"x path=a\n",
            b"100 path=a\n",
            b"9 path=\0\n",
            b"7 =ab\n",
        ] {
            assert!(PaxRecords::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time(b"1350244992.023960108"),
            Some(Time {
                secs: 1350244992,
                nanos: 23960108
            })
        );
        assert_eq!(
            parse_time(b"-1.5"),
            Some(Time {
                secs: -2,
                nanos: 500_000_000
            })
        );
        assert_eq!(parse_time(b"12"), Some(Time { secs: 12, nanos: 0 }));
        assert_eq!(parse_time(b"1.2x"), None);
    }

    #[test]
    fn libarchive_xattrs() {
        let mut data = record("LIBARCHIVE.xattr.user.foo", "YmFy");
        data.extend(record("LIBARCHIVE.xattr.user.%41", "YQ=="));
        let pax = PaxRecords::parse(&data).expect("valid");
        let x = pax.xattrs().expect("xattrs");
        assert_eq!(
            x,
            vec![
                (b"user.foo".to_vec(), b"bar".to_vec()),
                (b"user.A".to_vec(), b"a".to_vec())
            ]
        );
    }
}
