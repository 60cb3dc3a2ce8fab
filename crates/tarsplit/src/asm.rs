//! The assembler: rebuilds the archive from metadata entries and a source of
//! file payloads.
//!
//! Segments are written verbatim. For a file entry, the assembler does not
//! trust the entry's `size`: it parses the archive it is writing, so it knows
//! from the member's own headers how many payload bytes come next and in what
//! shape. That is what lets it rebuild sparse members (only the stored
//! regions of the extracted file) and header-only members whose size field is
//! not zero (no payload at all), and it reads metadata written by Go's
//! tar-split the same way. Each payload is checked against its CRC-64; a
//! changed, missing, short or long file is an error naming it.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::crc::{Crc64, EMPTY};
use crate::error::{Error, Result, display_name};
use crate::member::SparseMap;
use crate::metadata::Entry;
use crate::parser::{Event, Limits, Parser};

/// Opens the extracted file that holds a member's payload.
pub trait PayloadSource {
    /// An open file.
    type Payload: Read + Seek;

    /// Opens the file for the member named `name` (raw bytes as recorded)
    /// and returns it with its size in bytes.
    fn open(&mut self, name: &[u8]) -> Result<(Self::Payload, u64)>;
}

/// Size of the copy buffer: small enough that the bytes just read are
/// still in the CPU cache when they are checksummed (64 KiB measured 1.5x
/// faster than 1 MiB on a 122 MB rootfs, see BENCHMARKS.md).
const COPY_BUFFER: usize = 64 << 10;

/// The assembler. Feed it every entry in order, then call `finish`.
pub struct Assembler {
    parser: Parser,
    buf: Vec<u8>,
    index: u64,
    /// A member was announced and no file entry has claimed it yet.
    unclaimed: bool,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Assembler {
    /// An assembler at the start of an archive.
    pub fn new(limits: Limits) -> Self {
        Self {
            parser: Parser::new(limits),
            buf: Vec::new(),
            index: 0,
            unclaimed: false,
        }
    }

    /// Writes the bytes `entry` stands for.
    pub fn entry<S: PayloadSource, W: Write + ?Sized>(
        &mut self,
        entry: &Entry,
        source: &mut S,
        out: &mut W,
    ) -> Result<()> {
        match entry {
            Entry::Segment(bytes) => {
                self.track(bytes)?;
                out.write_all(bytes)?;
            }
            Entry::File { name, size, crc } => self.file(name, *size, *crc, source, out)?,
        }
        self.index += 1;
        Ok(())
    }

    /// Checks that the entries formed a whole archive; returns its length.
    pub fn finish(self) -> Result<u64> {
        self.parser
            .finish()
            .map_err(|e| self.malformed(format!("the archive it describes is incomplete: {e}")))?;
        Ok(self.parser.offset())
    }

    /// Advances the parser over bytes written from a segment.
    fn track(&mut self, bytes: &[u8]) -> Result<()> {
        let mut rest = bytes;
        loop {
            let event = self.parser.step(rest).map_err(|e| {
                self.malformed(format!("its segments do not form a valid tar: {e}"))
            })?;
            match event {
                Event::NeedInput => return Ok(()),
                Event::Raw(n) | Event::Data(n) => rest = &rest[n..],
                Event::Member => self.unclaimed = true,
                Event::MemberEnd | Event::End => {}
            }
        }
    }

    fn file<S: PayloadSource, W: Write + ?Sized>(
        &mut self,
        name: &[u8],
        size: u64,
        crc: Option<[u8; 8]>,
        source: &mut S,
        out: &mut W,
    ) -> Result<()> {
        let claims_member = std::mem::take(&mut self.unclaimed);
        let Some(remaining) = self.parser.data_remaining() else {
            return match crc {
                Some(crc) if crc != EMPTY => self.check_hole_only(claims_member, name, crc, source),
                _ => Ok(()),
            };
        };
        let member = self.parser.member();
        let (data_len, sparse) = (member.data_len, member.sparse.clone());
        if remaining != data_len {
            return Err(self.malformed(format!(
                "file {:?} follows part of its own payload",
                display_name(name)
            )));
        }
        let Some(crc) = crc else {
            return Err(self.malformed(format!(
                "file {:?} has no checksum but its member stores {data_len} bytes",
                display_name(name)
            )));
        };
        if sparse.is_none() && size != 0 && size != data_len {
            return Err(self.malformed(format!(
                "file {:?} is recorded as {size} bytes but its header says {data_len}",
                display_name(name)
            )));
        }
        let (mut file, len) = source.open(name)?;
        let matched = match &sparse {
            None => {
                expect_size(name, data_len, len)?;
                self.copy(&mut file, name, data_len, out)? == crc
            }
            Some(map) => {
                expect_size(name, map.real_size, len)?;
                self.copy_sparse(&mut file, name, map, crc, out)?
            }
        };
        if !matched {
            return Err(Error::ChecksumMismatch {
                name: display_name(name),
            });
        }
        self.parser.skip_data(data_len);
        self.track(&[])
    }

    /// A sparse member that is all holes stores no payload, yet Go's
    /// tar-split records the checksum of its expanded contents. Check it
    /// against the extracted file; nothing is written.
    fn check_hole_only<S: PayloadSource>(
        &mut self,
        claims_member: bool,
        name: &[u8],
        crc: [u8; 8],
        source: &mut S,
    ) -> Result<()> {
        if self.parser.in_sparse_map() {
            return Err(self.malformed(format!(
                "the sparse map of {:?} is missing (Go's tar-split does not record PAX 1.0 sparse maps)",
                display_name(name)
            )));
        }
        let real_size = match &self.parser.member().sparse {
            Some(map) if claims_member && self.parser.member().data_len == 0 => map.real_size,
            _ => {
                return Err(self.malformed(format!(
                    "file {:?} has a checksum but its member stores no payload",
                    display_name(name)
                )));
            }
        };
        let (mut file, len) = source.open(name)?;
        expect_size(name, real_size, len)?;
        if self.copy(&mut file, name, real_size, &mut std::io::sink())? != crc {
            return Err(Error::ChecksumMismatch {
                name: display_name(name),
            });
        }
        Ok(())
    }

    /// Copies `len` bytes from `file` to `out`; returns their checksum.
    fn copy<W: Write + ?Sized>(
        &mut self,
        file: &mut impl Read,
        name: &[u8],
        len: u64,
        out: &mut W,
    ) -> Result<[u8; 8]> {
        let mut crc = Crc64::default();
        self.copy_into(file, name, len, out, &mut crc)?;
        Ok(crc.finish())
    }

    fn copy_into<W: Write + ?Sized>(
        &mut self,
        file: &mut impl Read,
        name: &[u8],
        len: u64,
        out: &mut W,
        crc: &mut Crc64,
    ) -> Result<()> {
        if self.buf.is_empty() {
            self.buf.resize(COPY_BUFFER, 0);
        }
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).map_or(self.buf.len(), |l| l.min(self.buf.len()));
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(Error::SizeMismatch {
                        name: display_name(name),
                        expected: len,
                        actual: len - left,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            crc.update(&self.buf[..n]);
            out.write_all(&self.buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Writes the stored regions of a sparse file. The checksum may cover
    /// the stored regions (as strata records it) or the whole file with its
    /// holes (as Go's tar-split records it); either proves the contents.
    fn copy_sparse<W: Write + ?Sized, F: Read + Seek>(
        &mut self,
        file: &mut F,
        name: &[u8],
        map: &SparseMap,
        want: [u8; 8],
        out: &mut W,
    ) -> Result<bool> {
        let mut crc = Crc64::default();
        for region in &map.regions {
            file.seek(SeekFrom::Start(region.offset))?;
            self.copy_into(file, name, region.length, out, &mut crc)?;
        }
        if crc.finish() == want {
            return Ok(true);
        }
        file.seek(SeekFrom::Start(0))?;
        Ok(self.copy(file, name, map.real_size, &mut std::io::sink())? == want)
    }

    fn malformed(&self, reason: String) -> Error {
        Error::Metadata {
            entry: self.index,
            reason,
        }
    }
}

fn expect_size(name: &[u8], expected: u64, actual: u64) -> Result<()> {
    if expected == actual {
        return Ok(());
    }
    Err(Error::SizeMismatch {
        name: display_name(name),
        expected,
        actual,
    })
}

/// Rebuilds a whole archive: every entry of `entries`, payloads from
/// `source`, written to `out`. Returns the archive's length.
pub fn assemble<I, S, W>(entries: I, source: &mut S, out: &mut W) -> Result<u64>
where
    I: IntoIterator<Item = Result<Entry>>,
    S: PayloadSource,
    W: Write + ?Sized,
{
    let mut assembler = Assembler::default();
    for entry in entries {
        assembler.entry(&entry?, source, out)?;
    }
    out.flush()?;
    assembler.finish()
}
