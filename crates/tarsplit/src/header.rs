//! One 512-byte tar header block: checksum, field layout, numeric encodings
//! and format detection (v7, USTAR/PAX, GNU, STAR).
//!
//! Field offsets follow POSIX ustar and GNU tar's `tar.h`. Numbers are read
//! the way Go's `archive/tar` reads them, so archives that Docker and
//! containers/storage accept are accepted here too: octal with leading and
//! trailing spaces or NULs, GNU base-256, checksums summed as unsigned or
//! signed bytes.

use crate::error::{Error, Result};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// Block-sized array of zeros.
pub(crate) const ZERO_BLOCK: [u8; BLOCK] = [0; BLOCK];

/// Header formats, told apart by magic, version and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Unix v7: no magic, no owner names, no prefix.
    V7,
    /// POSIX ustar (also the base of PAX).
    Ustar,
    /// GNU tar's own format (`ustar ` magic): atime, ctime, old sparse fields.
    Gnu,
    /// Jörg Schilling's star: ustar with a shorter prefix and a `tar\0` trailer.
    Star,
}

/// A complete header block, borrowed.
pub(crate) struct HeaderBlock<'a> {
    pub(crate) bytes: &'a [u8; BLOCK],
    /// Offset of this block in the archive, for error messages.
    pub(crate) offset: u64,
}

impl<'a> HeaderBlock<'a> {
    /// Checks the checksum and tells the format.
    pub(crate) fn format(&self) -> Result<Format> {
        self.verify_checksum()?;
        let magic = &self.bytes[257..263];
        let version = &self.bytes[263..265];
        let trailer = &self.bytes[508..512];
        Ok(match (magic, version) {
            (b"ustar\0", _) if trailer == b"tar\0" => Format::Star,
            (b"ustar\0", _) => Format::Ustar,
            (b"ustar ", b" \0") => Format::Gnu,
            _ => Format::V7,
        })
    }

    fn verify_checksum(&self) -> Result<()> {
        let field = &self.bytes[148..156];
        let (unsigned, signed) = checksums(self.bytes);
        let stored = parse_octal(field).ok_or_else(|| self.invalid("checksum", field))?;
        if stored == unsigned as i64 || stored == signed {
            return Ok(());
        }
        Err(Error::Checksum {
            offset: self.offset,
            stored: crate::error::display_name(trim_field(field)),
            unsigned,
        })
    }

    /// The type flag byte.
    pub(crate) fn typeflag(&self) -> u8 {
        self.bytes[156]
    }

    /// A NUL-terminated text field.
    pub(crate) fn text(&self, range: std::ops::Range<usize>) -> &'a [u8] {
        c_string(&self.bytes[range])
    }

    /// A numeric field, octal or base-256.
    pub(crate) fn number(&self, field: &'static str, range: std::ops::Range<usize>) -> Result<i64> {
        let raw = &self.bytes[range];
        parse_numeric(raw).ok_or_else(|| self.invalid(field, raw))
    }

    /// Same as [`Self::number`] but rejects negative values.
    pub(crate) fn unsigned(
        &self,
        field: &'static str,
        range: std::ops::Range<usize>,
    ) -> Result<u64> {
        let raw = &self.bytes[range.clone()];
        let value = self.number(field, range)?;
        u64::try_from(value).map_err(|_| self.invalid(field, raw))
    }

    pub(crate) fn invalid(&self, field: &'static str, raw: &[u8]) -> Error {
        Error::InvalidField {
            offset: self.offset,
            field,
            value: crate::error::display_name(raw),
        }
    }
}

/// Sum of the block's bytes with the checksum field taken as spaces, as
/// unsigned and as signed bytes.
fn checksums(block: &[u8; BLOCK]) -> (u64, i64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    (unsigned, signed)
}

/// The bytes of `field` before its first NUL.
pub(crate) fn c_string(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(end) => &field[..end],
        None => field,
    }
}

fn trim_field(field: &[u8]) -> &[u8] {
    let start = field
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(start, |e| e + 1);
    &field[start..end.max(start)]
}

/// Parses a numeric field: GNU base-256 when the high bit of the first byte
/// is set, otherwise octal text with surrounding spaces and NULs ignored.
pub(crate) fn parse_numeric(field: &[u8]) -> Option<i64> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => parse_base256(field),
        _ => parse_octal(field),
    }
}

fn parse_base256(field: &[u8]) -> Option<i64> {
    let negative = field[0] & 0x40 != 0;
    let invert = if negative { 0xff } else { 0 };
    let mut value: u64 = 0;
    for (i, &byte) in field.iter().enumerate() {
        let mut c = byte ^ invert;
        if i == 0 {
            c &= 0x7f;
        }
        if value >> 56 != 0 {
            return None;
        }
        value = (value << 8) | u64::from(c);
    }
    if value >> 63 != 0 {
        return None;
    }
    let value = value as i64;
    Some(if negative { !value } else { value })
}

/// Octal text: leading/trailing spaces and NULs trimmed, then up to the first
/// NUL. An empty field is zero.
pub(crate) fn parse_octal(field: &[u8]) -> Option<i64> {
    let digits = c_string(trim_field(field));
    if digits.is_empty() {
        return Some(0);
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(value)
}

/// Field ranges within a header block.
pub(crate) mod field {
    use std::ops::Range;
    pub const NAME: Range<usize> = 0..100;
    pub const MODE: Range<usize> = 100..108;
    pub const UID: Range<usize> = 108..116;
    pub const GID: Range<usize> = 116..124;
    pub const SIZE: Range<usize> = 124..136;
    pub const MTIME: Range<usize> = 136..148;
    pub const LINKNAME: Range<usize> = 157..257;
    pub const UNAME: Range<usize> = 265..297;
    pub const GNAME: Range<usize> = 297..329;
    pub const DEVMAJOR: Range<usize> = 329..337;
    pub const DEVMINOR: Range<usize> = 337..345;
    pub const PREFIX: Range<usize> = 345..500;
    pub const STAR_PREFIX: Range<usize> = 345..476;
    pub const STAR_ATIME: Range<usize> = 476..488;
    pub const STAR_CTIME: Range<usize> = 488..500;
    pub const GNU_ATIME: Range<usize> = 345..357;
    pub const GNU_CTIME: Range<usize> = 357..369;
    /// Four old-GNU sparse entries of 24 bytes (offset 12, length 12).
    pub const GNU_SPARSE: Range<usize> = 386..482;
    pub const GNU_IS_EXTENDED: usize = 482;
    pub const GNU_REAL_SIZE: Range<usize> = 483..495;
    /// In an old-GNU sparse extension block: 21 entries, then the flag.
    pub const EXT_SPARSE: Range<usize> = 0..504;
    pub const EXT_IS_EXTENDED: usize = 504;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields_like_go() {
        let cases: &[(&[u8], Option<i64>)] = &[
            (b"0000644\0", Some(0o644)),
            (b"000644 \0", Some(0o644)),
            (b"   644  ", Some(0o644)),
            (b"\0\0\0\0\0\0\0\0", Some(0)),
            (b"        ", Some(0)),
            (b"0100644\0", Some(0o100644)),
            (b"0644\0xyz", Some(0o644)),
            (b"06x4\0\0\0\0", None),
            (b"00000000132 ", Some(0o132)),
        ];
        for (field, want) in cases {
            assert_eq!(parse_numeric(field), *want, "{field:?}");
        }
    }

    #[test]
    fn base256_fields() {
        assert_eq!(
            parse_numeric(&[0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]),
            Some(3_000_000)
        );
        assert_eq!(parse_numeric(&[0xff; 8]), Some(-1));
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[4] = 0x02;
        assert_eq!(parse_numeric(&big), Some(0x0200_0000_0000_0000));
        let mut overflow = [0xffu8; 12];
        overflow[0] = 0x80;
        assert_eq!(parse_numeric(&overflow), None);
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(c_string(b"abc\0def"), b"abc");
        assert_eq!(c_string(b"abc"), b"abc");
    }
}
