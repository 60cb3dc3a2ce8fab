//! Streaming members to an output with the shared header encoding: the
//! writer of saved image archives (USTAR headers with mtime 0, uid/gid 0,
//! empty user and group names, directories 0755 with a trailing `/`, files
//! 0644, in [`Conventions::SAVE`]). A file too big for USTAR's 11 octal
//! digits gets a PAX header with a `size` record first, as Go does.
//!
//! Changing any of these bytes changes every saved archive's bytes.

use std::io::Write;

use super::header::{Conventions, Header};
use super::stream::{HeaderError, TarStream};
use crate::error::{Error, IoContext, Result};

/// Mode of directories.
const DIR_MODE: u32 = 0o755;
/// Mode of files.
const FILE_MODE: u32 = 0o644;

/// File type bits Go's `archive.Tar` keeps in the mode of legacy archives.
const TYPE_DIR: u32 = 0o040000;
const TYPE_FILE: u32 = 0o100000;
const TYPE_LINK: u32 = 0o120000;

/// Writes the members of a saved archive to an output, counting the bytes.
pub(crate) struct TarWriter<'a> {
    tar: TarStream<&'a mut dyn Write>,
    /// Whether modes carry file type bits (legacy archives).
    typed_modes: bool,
    /// The mtime of the members written next.
    mtime: i64,
}

impl<'a> TarWriter<'a> {
    /// A writer of a new saved archive to `out`.
    pub(crate) fn new(out: &'a mut dyn Write) -> Self {
        Self {
            tar: TarStream::new(out, Conventions::SAVE),
            typed_modes: false,
            mtime: 0,
        }
    }

    /// A writer of a legacy `docker save` archive (Docker 1.10 to 24),
    /// as Docker's `archive.Tar` writes a temporary directory: modes with
    /// file type bits (`0040755`, `0100644`, `0120777`), members owned by
    /// `root` by name, mtimes as set by [`TarWriter::set_mtime`].
    pub(crate) fn legacy(out: &'a mut dyn Write) -> Self {
        Self {
            tar: TarStream::new(out, Conventions::LEGACY_SAVE),
            typed_modes: true,
            mtime: 0,
        }
    }

    /// Sets the mtime (whole seconds) of the members written next.
    pub(crate) fn set_mtime(&mut self, mtime: i64) {
        self.mtime = mtime;
    }

    /// A symlink member `name` pointing to `target`.
    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> Result<()> {
        self.header_with(name, target, b'2', 0o777, 0)
    }

    /// A directory member; `name` ends with `/`.
    pub(crate) fn dir(&mut self, name: &str) -> Result<()> {
        self.header(name, b'5', DIR_MODE, 0)
    }

    /// A file member holding `data`.
    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.file_with(name, data.len() as u64, |out| {
            out.write_all(data)
                .context(|| format!("cannot write {name} to the archive"))
        })
    }

    /// A file member of `size` bytes, which `body` writes.
    pub(crate) fn file_with(
        &mut self,
        name: &str,
        size: u64,
        body: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        self.header(name, b'0', FILE_MODE, size)?;
        let start = self.tar.written();
        body(self.tar.output())?;
        let written = self.tar.written() - start;
        if written != size {
            return Err(Error::Invalid(format!(
                "archive member {name}: {written} bytes written, its header says {size}"
            )));
        }
        self.tar
            .pad(size)
            .context(|| "cannot write the archive".into())
    }

    /// Ends the archive with two zero blocks; returns its length.
    pub(crate) fn finish(self) -> Result<u64> {
        let (_, written) = self
            .tar
            .finish()
            .context(|| "cannot write the archive".into())?;
        Ok(written)
    }

    /// The header blocks of a member owned by root.
    fn header(&mut self, name: &str, kind: u8, mode: u32, size: u64) -> Result<()> {
        self.header_with(name, "", kind, mode, size)
    }

    /// The header blocks of a member owned by root, with a link target.
    fn header_with(
        &mut self,
        name: &str,
        link: &str,
        kind: u8,
        mode: u32,
        size: u64,
    ) -> Result<()> {
        let type_bits = match (self.typed_modes, kind) {
            (false, _) => 0,
            (true, b'5') => TYPE_DIR,
            (true, b'2') => TYPE_LINK,
            (true, _) => TYPE_FILE,
        };
        let header = Header {
            name: name.as_bytes(),
            link: link.as_bytes(),
            kind,
            mode: mode | type_bits,
            uid: 0,
            gid: 0,
            size,
            mtime: self.mtime,
            device: None,
            xattrs: &[],
        };
        self.tar.header(&header).map_err(|e| match e {
            HeaderError::Encode(e) => Error::Invalid(format!("archive member {name}: {e}")),
            HeaderError::Io(source) => Error::Io {
                context: "cannot write the archive".into(),
                source,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::BLOCK;
    use super::*;

    /// The header blocks `TarWriter` writes for one member.
    fn header_of(name: &str, kind: u8, mode: u32, size: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut tar = TarWriter::new(&mut out);
        tar.header(name, kind, mode, size).expect("header");
        drop(tar);
        out
    }

    #[test]
    fn header_bytes_are_pinned() {
        let block = header_of("blobs/", b'5', DIR_MODE, 0);
        assert_eq!(block.len(), BLOCK);
        assert_eq!(&block[100..108], b"0000755\0");
        assert_eq!(&block[124..136], b"00000000000\0");
        assert_eq!(&block[136..148], b"00000000000\0");
        assert_eq!(&block[148..156], b"010306\0 ");
        assert_eq!(&block[257..265], b"ustar\x0000");
        assert_eq!(&block[329..345], b"0000000\x000000000\0");
        let file = header_of("index.json", b'0', FILE_MODE, 1234);
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
        let out = header_of("blobs/sha256/ab", b'0', FILE_MODE, 9 << 30);
        assert_eq!(out.len(), 3 * BLOCK);
        assert_eq!(&out[..29], b"blobs/sha256/PaxHeaders.0/ab\0");
        assert_eq!(&out[100..108], b"0000644\0");
        assert_eq!(out[156], b'x');
        assert_eq!(&out[329..345], b"0000000\x000000000\0");
        assert_eq!(&out[BLOCK..BLOCK + 19], b"19 size=9663676416\n");
        let main = &out[2 * BLOCK..];
        assert_eq!(&main[124..136], b"00000000000\0");
        assert_eq!(&main[..16], b"blobs/sha256/ab\0");
    }
}
