//! A minimal, deterministic tar writer for saved archives: USTAR headers
//! with mtime 0, uid/gid 0, empty user and group names, directories 0755
//! with a trailing `/`, files 0644, numbers in octal as Go's `archive/tar`
//! writes them. A file too big for USTAR's 11 octal digits gets a PAX
//! header with a `size` record first, as Go does.
//!
//! Changing any of these bytes changes every saved archive's bytes.

use std::io::{self, Write};

use crate::error::{Error, IoContext, Result};

/// The tar block size.
const BLOCK: usize = 512;
/// The largest size a USTAR header holds (11 octal digits).
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;
/// Mode of directories.
const DIR_MODE: u32 = 0o755;
/// Mode of files.
const FILE_MODE: u32 = 0o644;

/// Writes tar members to an output, counting the bytes.
pub(super) struct TarWriter<'a> {
    out: Counting<&'a mut dyn Write>,
}

/// An output that counts what is written through it.
pub(super) struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    /// Counts what goes to `inner`.
    pub(super) fn new(inner: W) -> Self {
        Self { inner, written: 0 }
    }

    /// The bytes written so far.
    pub(super) fn written(&self) -> u64 {
        self.written
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<'a> TarWriter<'a> {
    /// A writer of a new archive to `out`.
    pub(super) fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out: Counting::new(out),
        }
    }

    /// A directory member; `name` ends with `/`.
    pub(super) fn dir(&mut self, name: &str) -> Result<()> {
        let block = header(name, 0, b'5', DIR_MODE)?;
        self.put(&block)
    }

    /// A file member holding `data`.
    pub(super) fn file(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.file_with(name, data.len() as u64, |out| {
            out.write_all(data)
                .context(|| format!("cannot write {name} to the archive"))
        })
    }

    /// A file member of `size` bytes, which `body` writes.
    pub(super) fn file_with(
        &mut self,
        name: &str,
        size: u64,
        body: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        if size > USTAR_MAX_SIZE {
            let record = pax_size_record(size);
            let pax_name = pax_name(name);
            self.put(&header(&pax_name, record.len() as u64, b'x', FILE_MODE)?)?;
            self.put(&record)?;
            self.pad(record.len() as u64)?;
        }
        self.put(&header(name, size, b'0', FILE_MODE)?)?;
        let start = self.out.written;
        body(&mut self.out)?;
        let written = self.out.written - start;
        if written != size {
            return Err(Error::Invalid(format!(
                "archive member {name}: {written} bytes written, its header says {size}"
            )));
        }
        self.pad(size)
    }

    /// Ends the archive with two zero blocks; returns its length.
    pub(super) fn finish(mut self) -> Result<u64> {
        self.put(&[0; 2 * BLOCK])?;
        self.out
            .flush()
            .context(|| "cannot write the archive".into())?;
        Ok(self.out.written)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .context(|| "cannot write the archive".into())
    }

    /// Zeros up to the next block boundary after `size` bytes of data.
    fn pad(&mut self, size: u64) -> Result<()> {
        let rest = (size % BLOCK as u64) as usize;
        if rest == 0 {
            return Ok(());
        }
        self.put(&[0; BLOCK][rest..])
    }
}

/// A USTAR header block.
fn header(name: &str, size: u64, typeflag: u8, mode: u32) -> Result<[u8; BLOCK]> {
    let mut block = [0u8; BLOCK];
    if name.len() > 100 {
        return Err(Error::Invalid(format!(
            "archive member name {name:?} is longer than 100 bytes"
        )));
    }
    block[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut block[100..108], u64::from(mode));
    octal(&mut block[108..116], 0); // uid
    octal(&mut block[116..124], 0); // gid
    // A size that does not fit is zero here; the PAX record has it.
    octal(
        &mut block[124..136],
        if size > USTAR_MAX_SIZE { 0 } else { size },
    );
    octal(&mut block[136..148], 0); // mtime
    block[156] = typeflag;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    // uname, gname: empty.
    octal(&mut block[329..337], 0); // devmajor
    octal(&mut block[337..345], 0); // devminor
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    octal(&mut block[148..155], sum);
    block[155] = b' ';
    Ok(block)
}

/// `value` as zero-padded octal filling `field` but its last byte, a NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// The PAX record `"<len> size=<size>\n"`, where `<len>` counts itself.
fn pax_size_record(size: u64) -> Vec<u8> {
    let body = format!(" size={size}\n");
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// Where Go puts a member's PAX header: `<dir>/PaxHeaders.0/<base>`.
fn pax_name(name: &str) -> String {
    match name.rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/PaxHeaders.0/{base}"),
        None => format!("PaxHeaders.0/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_are_pinned() {
        let block = header("blobs/", 0, b'5', DIR_MODE).expect("header");
        assert_eq!(&block[100..108], b"0000755\0");
        assert_eq!(&block[124..136], b"00000000000\0");
        assert_eq!(&block[136..148], b"00000000000\0");
        assert_eq!(&block[148..156], b"010306\0 ");
        assert_eq!(&block[257..265], b"ustar\x0000");
        assert_eq!(&block[329..345], b"0000000\x000000000\0");
        let file = header("index.json", 1234, b'0', FILE_MODE).expect("header");
        assert_eq!(&file[124..136], b"00000002322\0");
        assert_eq!(file[156], b'0');
    }

    #[test]
    fn the_tar_crate_reads_what_we_write() {
        let mut out = Vec::new();
        let mut tar = TarWriter::new(&mut out);
        tar.dir("blobs/").expect("dir");
        tar.file("a", b"hello").expect("file");
        tar.file("b", &[7; 512]).expect("file");
        let len = tar.finish().expect("finish");
        assert_eq!(len, out.len() as u64);
        assert_eq!(len, 512 * 5 + 1024);
        let mut archive = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let header = entry.header();
            assert_eq!(header.mtime().expect("mtime"), 0);
            assert_eq!(header.uid().expect("uid"), 0);
            assert!(header.username_bytes().is_some_and(<[u8]>::is_empty));
            seen.push((
                entry.path().expect("path").display().to_string(),
                header.mode().expect("mode"),
                entry.size(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("blobs/".to_string(), 0o755, 0),
                ("a".to_string(), 0o644, 5),
                ("b".to_string(), 0o644, 512)
            ]
        );
    }

    #[test]
    fn a_body_of_the_wrong_length_fails() {
        let mut out = Vec::new();
        let mut tar = TarWriter::new(&mut out);
        let error = tar
            .file_with("x", 3, |out| out.write_all(b"ab").context(|| "w".into()))
            .expect_err("short body");
        assert!(error.to_string().contains("2 bytes written"), "{error}");
    }

    #[test]
    fn huge_sizes_get_a_pax_record() {
        assert_eq!(pax_size_record(9 << 30), b"19 size=9663676416\n");
        assert_eq!(pax_size_record(1), b"9 size=1\n");
        assert_eq!(pax_name("blobs/sha256/ab"), "blobs/sha256/PaxHeaders.0/ab");
        let block = header("x", 9 << 30, b'0', FILE_MODE).expect("header");
        assert_eq!(&block[124..136], b"00000000000\0");
        assert!(header(&"n".repeat(101), 0, b'0', FILE_MODE).is_err());
    }
}
