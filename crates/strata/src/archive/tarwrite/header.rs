//! Tar header encoding with fixed conventions, so that the same member
//! always gives the same bytes.
//!
//! The conventions are those of Go's `archive/tar` writer as Docker uses it
//! (`Format = PAX`, whole-second times), except where noted; the two that
//! differ between strata's archives are [`Conventions`]:
//!
//! - USTAR headers: magic `ustar\0`, version `00`; empty uname and gname
//!   (or `root`, per [`Conventions::owner_name`]).
//! - Numeric fields in zero-padded octal, NUL-terminated, filling the field
//!   (`0000644\0`, `00000000005\0`); the checksum as six octal digits, NUL,
//!   space. A value that does not fit is written as zeros and carried by a
//!   PAX record instead.
//! - `devmajor`/`devminor` are written for character and block devices;
//!   for every other member they stay NUL, or are zeros when
//!   [`Conventions::device_fields_always`] says so (Go writes zeros).
//! - A PAX `x` header precedes a member only when needed: a path that is
//!   longer than 100 bytes and cannot be split into USTAR prefix and name,
//!   or is not ASCII; a link target longer than 100 bytes or not ASCII; a
//!   uid or gid above 2097151; a size of 8 GiB or more; a negative or huge
//!   mtime; extended attributes (`SCHILY.xattr.<name>`). When a PAX header
//!   is written for any reason, a path that the plain header cannot hold is
//!   carried as a `path` record too (even one USTAR could have split).
//!   When a `path` or `linkpath` record is not valid UTF-8, a POSIX
//!   `hdrcharset=BINARY` record says so, as libarchive writes it: bsdtar
//!   refuses such names without it, Go ignores it, GNU tar 1.34 warns
//!   that it does not know the keyword and goes on.
//! - PAX records are sorted by key; each is `<len> <key>=<value>\n`. The
//!   `x` member is named like Go names it: `<dir>/PaxHeaders.0/<base>` (for
//!   `a/b/` that is `a/b/PaxHeaders.0`), non-ASCII bytes dropped, cut to 100
//!   bytes, trailing slashes trimmed; ids and mtime 0, mode
//!   [`Conventions::pax_mode`].
//! - With a PAX header, the plain header's name and link fields hold the
//!   ASCII bytes of the real ones, cut to 100 bytes (a cut that ends in `/`
//!   ends at a NUL instead, as Go does), and no prefix.

use std::fmt;

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;

const NAME: std::ops::Range<usize> = 0..100;
const MODE: std::ops::Range<usize> = 100..108;
const UID: std::ops::Range<usize> = 108..116;
const GID: std::ops::Range<usize> = 116..124;
const SIZE: std::ops::Range<usize> = 124..136;
const MTIME: std::ops::Range<usize> = 136..148;
const CHKSUM: std::ops::Range<usize> = 148..156;
const TYPEFLAG: usize = 156;
const LINKNAME: std::ops::Range<usize> = 157..257;
const MAGIC: std::ops::Range<usize> = 257..265;
const UNAME: std::ops::Range<usize> = 265..297;
const GNAME: std::ops::Range<usize> = 297..329;
const DEVMAJOR: std::ops::Range<usize> = 329..337;
const DEVMINOR: std::ops::Range<usize> = 337..345;
const PREFIX: std::ops::Range<usize> = 345..500;

/// Largest value of an 8-byte octal field (7 digits).
const MAX_OCTAL_8: u64 = 0o7777777;
/// Largest value of a 12-byte octal field (11 digits).
const MAX_OCTAL_12: u64 = 0o77777777777;

/// PAX records: (key, value).
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// The header conventions in which strata's tar outputs differ. Each is
/// pinned by digests of what it writes: changing one changes every such
/// archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conventions {
    /// Whether `devmajor`/`devminor` hold zeros on members that are not
    /// devices (else they stay NUL).
    pub(crate) device_fields_always: bool,
    /// Mode of PAX `x` header members.
    pub(crate) pax_mode: u32,
    /// The uname and gname of members (PAX `x` members get none, as Go
    /// writes them); empty for none.
    pub(crate) owner_name: &'static [u8],
}

impl Conventions {
    /// Layer changesets (`layer diff` of a read-write layer, commits):
    /// device fields only on devices, PAX headers with mode 0.
    pub(crate) const CHANGESET: Self = Self {
        device_fields_always: false,
        pax_mode: 0,
        owner_name: b"",
    };
    /// Saved image archives: device fields zeros on every member, PAX
    /// headers with mode 0644.
    pub(crate) const SAVE: Self = Self {
        device_fields_always: true,
        pax_mode: 0o644,
        owner_name: b"",
    };
    /// Legacy `docker save` archives (Docker 1.10 to 24), which Docker
    /// tars from a temporary directory: as [`Conventions::SAVE`], and
    /// members owned by `root` by name too (Go looks the names up).
    pub(crate) const LEGACY_SAVE: Self = Self {
        device_fields_always: true,
        pax_mode: 0o644,
        owner_name: b"root",
    };
}

/// One member's header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    /// Member name (`dir/` for directories).
    pub(crate) name: &'a [u8],
    /// Link target for symlinks and hard links; empty otherwise.
    pub(crate) link: &'a [u8],
    /// Typeflag (`b'0'`, `b'5'`, ...).
    pub(crate) kind: u8,
    /// Permission bits including setuid, setgid and sticky.
    pub(crate) mode: u32,
    /// Owner.
    pub(crate) uid: u64,
    /// Group.
    pub(crate) gid: u64,
    /// Payload size.
    pub(crate) size: u64,
    /// Modification time, whole seconds.
    pub(crate) mtime: i64,
    /// Device number (major, minor) for character and block devices.
    pub(crate) device: Option<(u32, u32)>,
    /// Extended attributes, sorted by name.
    pub(crate) xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

/// Why a header cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EncodeError {
    /// A device number does not fit the octal field (PAX has no record
    /// for it).
    DeviceTooLarge,
    /// An extended attribute name contains `=`, which a PAX key cannot.
    XattrName(Vec<u8>),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeviceTooLarge => f.write_str("device number too large for a tar header"),
            Self::XattrName(name) => write!(
                f,
                "extended attribute name {:?} cannot be a PAX key",
                String::from_utf8_lossy(name)
            ),
        }
    }
}

/// Appends the header blocks of `header` to `out`: a PAX `x` member with
/// its records when needed, then the member's own header. The payload and
/// its padding are the caller's.
pub(crate) fn encode(
    header: &Header<'_>,
    conventions: Conventions,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if let Some((major, minor)) = header.device
        && (u64::from(major) > MAX_OCTAL_8 || u64::from(minor) > MAX_OCTAL_8)
    {
        return Err(EncodeError::DeviceTooLarge);
    }
    let (records, needs_pax) = pax_records(header)?;
    if needs_pax {
        encode_pax(header.name, &records, conventions, out);
        out.extend_from_slice(&main_block(header, None, conventions));
    } else {
        let split = split_ustar_path(header.name);
        out.extend_from_slice(&main_block(header, split, conventions));
    }
    Ok(())
}

/// The PAX records a header would need, sorted by key, and whether a PAX
/// header is needed at all (a `path` record alone is not a reason when
/// USTAR can split the path).
fn pax_records(h: &Header<'_>) -> Result<(Records, bool), EncodeError> {
    let mut records = Vec::new();
    let mut needed = false;
    if !fits_plain(h.name) {
        records.push((b"path".to_vec(), h.name.to_vec()));
        needed |= split_ustar_path(h.name).is_none();
    }
    if !fits_plain(h.link) {
        records.push((b"linkpath".to_vec(), h.link.to_vec()));
        needed = true;
    }
    let mut number = |key: &str, value: String, fits: bool| {
        if !fits {
            records.push((key.as_bytes().to_vec(), value.into_bytes()));
            needed = true;
        }
    };
    number("uid", h.uid.to_string(), h.uid <= MAX_OCTAL_8);
    number("gid", h.gid.to_string(), h.gid <= MAX_OCTAL_8);
    number("size", h.size.to_string(), h.size <= MAX_OCTAL_12);
    let mtime_fits = u64::try_from(h.mtime).is_ok_and(|t| t <= MAX_OCTAL_12);
    number("mtime", h.mtime.to_string(), mtime_fits);
    let binary = |record: &(Vec<u8>, Vec<u8>)| {
        matches!(record.0.as_slice(), b"path" | b"linkpath")
            && std::str::from_utf8(&record.1).is_err()
    };
    if records.iter().any(binary) {
        records.push((b"hdrcharset".to_vec(), b"BINARY".to_vec()));
    }
    for (name, value) in h.xattrs {
        if name.contains(&b'=') || name.contains(&0) {
            return Err(EncodeError::XattrName(name.clone()));
        }
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(name);
        records.push((key, value.clone()));
        needed = true;
    }
    records.sort();
    Ok((records, needed))
}

/// Whether a name fits the plain 100-byte field as is.
fn fits_plain(name: &[u8]) -> bool {
    name.len() <= NAME.len() && name.is_ascii()
}

/// Go's `splitUSTARPath`: splits a long ASCII path at a `/` into a prefix
/// of at most 155 bytes and a name of at most 100.
fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= NAME.len() || !name.is_ascii() {
        return None;
    } else if length > PREFIX.len() + 1 {
        length = PREFIX.len() + 1;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&b| b == b'/')?;
    let suffix_len = name.len() - i - 1;
    if i == 0 || suffix_len > NAME.len() || suffix_len == 0 || i > PREFIX.len() {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

/// Appends a PAX `x` member carrying `records` for the member `name`.
fn encode_pax(name: &[u8], records: &Records, conventions: Conventions, out: &mut Vec<u8>) {
    let mut data = Vec::new();
    for (key, value) in records {
        push_record(&mut data, key, value);
    }
    let mut block = [0u8; BLOCK];
    put_string(&mut block[NAME], &pax_name(name));
    put_octal(&mut block[MODE], u64::from(conventions.pax_mode));
    put_octal(&mut block[UID], 0);
    put_octal(&mut block[GID], 0);
    put_octal(&mut block[SIZE], data.len() as u64);
    put_octal(&mut block[MTIME], 0);
    block[TYPEFLAG] = b'x';
    if conventions.device_fields_always {
        put_octal(&mut block[DEVMAJOR], 0);
        put_octal(&mut block[DEVMINOR], 0);
    }
    finish_block(&mut block);
    out.extend_from_slice(&block);
    out.extend_from_slice(&data);
    out.resize(out.len() + padding(data.len() as u64), 0);
}

/// One PAX record, `<len> <key>=<value>\n`, where `<len>` counts the
/// whole record including its own digits.
fn push_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    if size.to_string().len() + base != size {
        size = base + size.to_string().len();
    }
    out.extend_from_slice(size.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The name of the PAX member for `name`, as Go's writer forms it.
fn pax_name(name: &[u8]) -> Vec<u8> {
    let (dir, base) = match name.iter().rposition(|&b| b == b'/') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (&name[..0], name),
    };
    let mut joined = Vec::with_capacity(name.len() + 14);
    if !dir.is_empty() {
        joined.extend_from_slice(dir);
        joined.push(b'/');
    }
    joined.extend_from_slice(b"PaxHeaders.0");
    if !base.is_empty() {
        joined.push(b'/');
        joined.extend_from_slice(base);
    }
    let mut ascii: Vec<u8> = joined.into_iter().filter(u8::is_ascii).collect();
    ascii.truncate(NAME.len());
    while ascii.last() == Some(&b'/') {
        ascii.pop();
    }
    ascii
}

/// The member's own header block; `split` is a USTAR prefix/name split.
fn main_block(
    h: &Header<'_>,
    split: Option<(&[u8], &[u8])>,
    conventions: Conventions,
) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    match split {
        Some((prefix, name)) => {
            put_string(&mut block[NAME], name);
            put_string(&mut block[PREFIX], prefix);
        }
        None => put_string(&mut block[NAME], &ascii(h.name)),
    }
    put_string(&mut block[LINKNAME], &ascii(h.link));
    put_octal(&mut block[MODE], u64::from(h.mode));
    put_octal(&mut block[UID], h.uid);
    put_octal(&mut block[GID], h.gid);
    put_octal(&mut block[SIZE], h.size);
    put_octal(
        &mut block[MTIME],
        u64::try_from(h.mtime).unwrap_or(u64::MAX),
    );
    block[TYPEFLAG] = h.kind;
    let device = h
        .device
        .or(conventions.device_fields_always.then_some((0, 0)));
    if let Some((major, minor)) = device {
        put_octal(&mut block[DEVMAJOR], u64::from(major));
        put_octal(&mut block[DEVMINOR], u64::from(minor));
    }
    put_string(&mut block[UNAME], conventions.owner_name);
    put_string(&mut block[GNAME], conventions.owner_name);
    finish_block(&mut block);
    block
}

/// The ASCII bytes of a name (Go's `toASCII`).
fn ascii(name: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if name.is_ascii() {
        name.into()
    } else {
        name.iter()
            .copied()
            .filter(u8::is_ascii)
            .collect::<Vec<_>>()
            .into()
    }
}

/// Go's `formatString`: copies what fits; NUL-terminates when shorter;
/// a cut name that would end in `/` ends at a NUL instead.
fn put_string(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    if value.len() < field.len() {
        field[value.len()] = 0;
    }
    if value.len() > field.len() && field[field.len() - 1] == b'/' {
        let keep = value[..field.len() - 1]
            .iter()
            .rposition(|&b| b != b'/')
            .map_or(0, |i| i + 1);
        field[keep] = 0;
    }
}

/// Zero-padded octal filling all but the last byte, then NUL; zeros when
/// the value does not fit.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let value = if digits < 22 && value >= 1u64 << (3 * digits) {
        0
    } else {
        value
    };
    let mut v = value;
    for slot in field[..digits].iter_mut().rev() {
        *slot = b'0' + (v & 7) as u8;
        v >>= 3;
    }
    field[digits] = 0;
}

/// Sets magic, version and checksum.
fn finish_block(block: &mut [u8; BLOCK]) {
    block[MAGIC].copy_from_slice(b"ustar\x0000");
    block[CHKSUM].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    put_octal(&mut block[CHKSUM.start..CHKSUM.end - 1], u64::from(sum));
    block[CHKSUM.end - 1] = b' ';
}

/// Zero bytes after `size` bytes of payload up to the next block.
pub(crate) fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CHANGESET: Conventions = Conventions::CHANGESET;

    fn file(name: &[u8]) -> Header<'_> {
        Header {
            name,
            link: b"",
            kind: b'0',
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 5,
            mtime: 0,
            device: None,
            xattrs: &[],
        }
    }

    #[test]
    fn plain_header_fields() {
        let mut out = Vec::new();
        encode(&file(b"hello"), CHANGESET, &mut out).unwrap();
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[..6], b"hello\0");
        assert_eq!(&out[MODE], b"0000644\0");
        assert_eq!(&out[SIZE], b"00000000005\0");
        assert_eq!(&out[MAGIC], b"ustar\x0000");
        assert_eq!(&out[DEVMAJOR], &[0u8; 8]);
        assert_eq!(out[CHKSUM.end - 2], 0);
        assert_eq!(out[CHKSUM.end - 1], b' ');
    }

    #[test]
    fn long_splittable_path_uses_prefix() {
        let name = [b"d".repeat(120), b"/".to_vec(), b"f".repeat(50)].concat();
        let mut out = Vec::new();
        encode(&file(&name), CHANGESET, &mut out).unwrap();
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[PREFIX][..120], &name[..120]);
        assert_eq!(&out[NAME][..51], [b"f".repeat(50), vec![0]].concat());
    }

    #[test]
    fn unsplittable_path_gets_pax_record() {
        let name = b"x".repeat(150);
        let mut out = Vec::new();
        encode(&file(&name), CHANGESET, &mut out).unwrap();
        assert_eq!(out.len(), 3 * BLOCK);
        assert_eq!(out[TYPEFLAG], b'x');
        assert_eq!(&out[..13], b"PaxHeaders.0/");
        let record = format!("160 path={}\n", "x".repeat(150));
        assert_eq!(&out[BLOCK..BLOCK + record.len()], record.as_bytes());
    }

    #[test]
    fn record_length_counts_itself() {
        for len in [0usize, 1, 5, 6, 7, 90, 91, 92, 93, 994, 995, 996, 997] {
            let mut out = Vec::new();
            push_record(&mut out, b"k", &vec![b'v'; len]);
            let text = String::from_utf8(out.clone()).unwrap();
            let declared: usize = text.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(declared, out.len(), "value length {len}");
        }
    }

    #[test]
    fn pax_names_follow_go() {
        assert_eq!(pax_name(b"a/b/"), b"a/b/PaxHeaders.0");
        assert_eq!(pax_name(b"a/b"), b"a/PaxHeaders.0/b");
        assert_eq!(pax_name(b"b"), b"PaxHeaders.0/b");
        assert_eq!(pax_name("caf\u{e9}".as_bytes()), b"PaxHeaders.0/caf");
    }

    #[test]
    fn binary_names_are_declared() {
        let mut out = Vec::new();
        encode(&file(b"raw\xff"), CHANGESET, &mut out).unwrap();
        let data = &out[BLOCK..2 * BLOCK];
        assert!(data.starts_with(b"21 hdrcharset=BINARY\n13 path=raw\xff\n"));
        out.clear();
        encode(&file("caf\u{e9}".as_bytes()), CHANGESET, &mut out).unwrap();
        assert!(out[BLOCK..2 * BLOCK].starts_with("14 path=caf\u{e9}\n".as_bytes()));
    }

    #[test]
    fn big_values_zeroed_and_recorded() {
        let mut h = file(b"f");
        h.uid = 3_000_000;
        h.mtime = -1;
        let mut out = Vec::new();
        encode(&h, CHANGESET, &mut out).unwrap();
        let data = String::from_utf8_lossy(&out[BLOCK..2 * BLOCK]);
        assert!(data.starts_with("12 mtime=-1\n15 uid=3000000\n"), "{data}");
        let main = &out[2 * BLOCK..];
        assert_eq!(&main[UID], b"0000000\0");
        assert_eq!(&main[MTIME], b"00000000000\0");
    }
}
