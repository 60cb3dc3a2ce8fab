//! Thin I/O wrappers around the sans-IO cores: disassembling from a reader,
//! payloads from an extracted directory, gzip'd metadata files, and the
//! second pass that inlines the payloads of duplicated paths.

mod background;

pub use background::{BackgroundEntries, BackgroundWriter};

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::asm::PayloadSource;
use crate::disasm::{DisasmSink, Disassembler, Summary, Superseded};
use crate::error::{Error, Result, display_name};
use crate::inline::FromArchive;
use crate::metadata::{EntryRef, MetadataReader, MetadataWriter};

/// Read size when disassembling from a reader; small enough to stay in the
/// CPU cache between the read and the checksum (see BENCHMARKS.md).
const READ_BUFFER: usize = 64 << 10;

/// Disassembles everything `input` yields. Every byte read is also written
/// to `passthrough` when one is given (the `tar-split disasm` pipe).
pub fn disassemble<R: Read, S: DisasmSink>(
    mut input: R,
    sink: &mut S,
    mut passthrough: Option<&mut dyn Write>,
) -> Result<Summary> {
    let mut disasm = Disassembler::default();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(out) = passthrough.as_deref_mut() {
            out.write_all(&buf[..n])?;
        }
        disasm.feed(&buf[..n], sink)?;
    }
    disasm.finish(sink)
}

impl<W: Write> DisasmSink for MetadataWriter<W> {
    fn entry(&mut self, entry: EntryRef<'_>) -> Result<()> {
        Ok(self.write(entry)?)
    }
}

/// A metadata writer that gzips, as tar-split files are stored; JSON
/// encoding happens on the caller's thread, compression and writing on
/// another.
pub type GzipMetadataWriter<W> = MetadataWriter<BackgroundWriter<GzEncoder<W>>>;

/// Starts a gzip'd metadata writer over `out`.
pub fn gzip_metadata<W: Write + Send + 'static>(out: W) -> GzipMetadataWriter<W> {
    MetadataWriter::new(BackgroundWriter::new(GzEncoder::new(
        out,
        Compression::fast(),
    )))
}

/// Finishes a gzip'd metadata writer, returning the underlying writer.
pub fn finish_gzip_metadata<W: Write + Send + 'static>(writer: GzipMetadataWriter<W>) -> Result<W> {
    Ok(writer.into_inner()?.finish()?.finish()?)
}

/// Reads metadata, gzip'd (detected by its magic bytes) or plain,
/// inflating and parsing on another thread.
pub fn read_metadata<R: Read + Send + 'static>(input: R) -> Result<BackgroundEntries> {
    let mut input = BufReader::with_capacity(256 << 10, input);
    let head = std::io::BufRead::fill_buf(&mut input)?;
    let reader: Box<dyn Read + Send> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    Ok(BackgroundEntries::new(MetadataReader::new(reader)))
}

/// The second pass for an archive that repeats a path: extraction keeps
/// only the last occurrence, so the payloads of the earlier ones
/// (`superseded`, as the first pass's [`Summary`] lists them) must travel
/// inside the metadata. Reads the first pass's metadata from `first`
/// (gzip'd or plain), the payloads from `archive` at their offsets, and
/// writes gzip'd metadata with those payloads inlined to `out`, which it
/// returns. With nothing superseded the metadata is copied as it is.
pub fn inline_duplicates<A, M, W>(
    archive: A,
    first: M,
    superseded: &[Superseded],
    out: W,
) -> Result<W>
where
    A: Read + Seek,
    M: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let mut metadata = gzip_metadata(out);
    crate::inline::inline_superseded(
        read_metadata(first)?,
        superseded,
        &mut FromArchive(archive),
        &mut metadata,
    )?;
    finish_gzip_metadata(metadata)
}

/// Payloads from a directory holding the extracted archive. Names resolve
/// inside the directory only: `..`, absolute paths and symlinks cannot lead
/// out of it.
pub struct DirSource {
    root: File,
}

impl DirSource {
    /// Reads payloads from under `root`.
    pub fn new(root: &Path) -> Result<Self> {
        let root = File::open(root)?;
        Ok(Self { root })
    }

    fn open_beneath(&self, name: &[u8]) -> std::io::Result<File> {
        let relative = name.strip_prefix(b"/").unwrap_or(name);
        let relative = if relative.is_empty() {
            &b"."[..]
        } else {
            relative
        };
        let path = Path::new(std::ffi::OsStr::from_bytes(relative));
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let fd = rustix::fs::openat2(&self.root, path, flags, Mode::empty(), resolve)?;
        Ok(File::from(fd))
    }
}

impl PayloadSource for DirSource {
    type Payload = File;

    fn open(&mut self, name: &[u8]) -> Result<(File, u64)> {
        let file = self
            .open_beneath(name)
            .map_err(|source| Error::MissingFile {
                name: display_name(name),
                source,
            })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(Error::NotAFile {
                name: display_name(name),
            });
        }
        Ok((file, meta.len()))
    }
}
