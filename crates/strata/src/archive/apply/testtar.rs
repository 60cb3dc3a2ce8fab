//! A small tar writer for tests, raw enough to write hostile archives
//! (names with `..`, any type flag, PAX records, sparse members) that
//! well-behaved writers refuse to produce.

#![allow(clippy::unwrap_used)]

/// One member to write.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub name: Vec<u8>,
    pub kind: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: Vec<u8>,
    pub data: Vec<u8>,
    pub major: u32,
    pub minor: u32,
    /// PAX records written in an `x` header before the member.
    pub pax: Vec<(String, Vec<u8>)>,
    /// Old GNU sparse: the regions (offset, length) and the real size; the
    /// data holds the regions back to back.
    pub gnu_sparse: Option<(Vec<(u64, u64)>, u64)>,
}

impl Entry {
    fn new(name: &str, kind: u8) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: Vec::new(),
            data: Vec::new(),
            major: 0,
            minor: 0,
            pax: Vec::new(),
            gnu_sparse: None,
        }
    }

    pub fn file(name: &str, data: &[u8]) -> Self {
        let mut e = Self::new(name, b'0');
        e.data = data.to_vec();
        e
    }

    pub fn dir(name: &str) -> Self {
        let mut e = Self::new(name, b'5');
        e.mode = 0o755;
        e
    }

    pub fn symlink(name: &str, target: &str) -> Self {
        let mut e = Self::new(name, b'2');
        e.mode = 0o777;
        e.link = target.as_bytes().to_vec();
        e
    }

    pub fn hardlink(name: &str, target: &str) -> Self {
        let mut e = Self::new(name, b'1');
        e.link = target.as_bytes().to_vec();
        e
    }

    pub fn device(name: &str, kind: u8, major: u32, minor: u32) -> Self {
        let mut e = Self::new(name, kind);
        e.major = major;
        e.minor = minor;
        e
    }

    pub fn other(name: &str, kind: u8, data: &[u8]) -> Self {
        let mut e = Self::new(name, kind);
        e.data = data.to_vec();
        e
    }

    /// A PAX 1.0 sparse file: `regions` of the real file, filled from
    /// `contents` (which has the real size).
    pub fn pax_sparse(name: &str, contents: &[u8], regions: &[(u64, u64)]) -> Self {
        let mut e = Self::new(&format!("GNUSparseFile.0/{name}"), b'0');
        let mut map = format!("{}\n", regions.len());
        for (offset, length) in regions {
            map.push_str(&format!("{offset}\n{length}\n"));
        }
        let mut data = map.into_bytes();
        data.resize(data.len().div_ceil(512) * 512, 0);
        for &(offset, length) in regions {
            data.extend_from_slice(&contents[offset as usize..(offset + length) as usize]);
        }
        e.data = data;
        e.pax = vec![
            ("GNU.sparse.major".into(), b"1".to_vec()),
            ("GNU.sparse.minor".into(), b"0".to_vec()),
            ("GNU.sparse.name".into(), name.as_bytes().to_vec()),
            (
                "GNU.sparse.realsize".into(),
                contents.len().to_string().into_bytes(),
            ),
        ];
        e
    }

    /// An old GNU sparse (`S`) member with up to four regions.
    pub fn gnu_sparse(name: &str, contents: &[u8], regions: &[(u64, u64)]) -> Self {
        assert!(regions.len() <= 4);
        let mut e = Self::new(name, b'S');
        for &(offset, length) in regions {
            e.data
                .extend_from_slice(&contents[offset as usize..(offset + length) as usize]);
        }
        e.gnu_sparse = Some((regions.to_vec(), contents.len() as u64));
        e
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    pub fn pax(mut self, key: &str, value: &[u8]) -> Self {
        self.pax.push((key.to_string(), value.to_vec()));
        self
    }

    pub fn xattr(self, name: &str, value: &[u8]) -> Self {
        self.pax(&format!("SCHILY.xattr.{name}"), value)
    }

    pub fn raw_name(mut self, name: &[u8]) -> Self {
        self.name = name.to_vec();
        self
    }
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

fn header(e: &Entry, name: &[u8], size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], u64::from(e.mode));
    octal(&mut h[108..116], e.uid);
    octal(&mut h[116..124], e.gid);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], e.mtime);
    h[156] = e.kind;
    let l = e.link.len().min(100);
    h[157..157 + l].copy_from_slice(&e.link[..l]);
    if let Some((regions, real_size)) = &e.gnu_sparse {
        h[257..265].copy_from_slice(b"ustar  \0");
        for (i, (offset, length)) in regions.iter().enumerate() {
            let at = 386 + i * 24;
            octal(&mut h[at..at + 12], *offset);
            octal(&mut h[at + 12..at + 24], *length);
        }
        octal(&mut h[483..495], *real_size);
    } else {
        h[257..265].copy_from_slice(b"ustar\x0000");
        octal(&mut h[329..337], u64::from(e.major));
        octal(&mut h[337..345], u64::from(e.minor));
    }
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + body.to_string().len();
    if len.to_string().len() != body.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// Writes `entries` as a tar (with end blocks).
pub(super) fn build(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut pax = e.pax.clone();
        if e.name.len() > 100 {
            pax.push(("path".into(), e.name.clone()));
        }
        if e.link.len() > 100 {
            pax.push(("linkpath".into(), e.link.clone()));
        }
        if !pax.is_empty() {
            let data: Vec<u8> = pax.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            let x = Entry {
                kind: b'x',
                gnu_sparse: None,
                ..Entry::new("PaxHeaders.0/x", b'x')
            };
            out.extend_from_slice(&header(&x, b"PaxHeaders.0/x", data.len() as u64));
            out.extend_from_slice(&data);
            pad(&mut out);
        }
        out.extend_from_slice(&header(e, &e.name, e.data.len() as u64));
        out.extend_from_slice(&e.data);
        pad(&mut out);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// A PAX global header, as a raw member.
pub(super) fn global(records: &[(&str, &[u8])]) -> Vec<u8> {
    let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
    let g = Entry::new("pax_global_header", b'g');
    let mut out = header(&g, b"pax_global_header", data.len() as u64).to_vec();
    out.extend_from_slice(&data);
    pad(&mut out);
    out
}
