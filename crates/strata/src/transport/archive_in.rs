//! Reading an image archive (a tar: docker-archive or oci-archive) without
//! unpacking it. A seekable uncompressed file is indexed in one pass over
//! its headers and members are then read in place, in whatever order the
//! images need them: no temporary space at all. Anything else (a pipe, a
//! compressed archive) is first decompressed into one temporary file in
//! the store's staging area, removed afterwards: temporary space is then
//! the size of the uncompressed archive.
//!
//! The headers are read by tarsplit's parser, the one strata reads layers
//! with: USTAR, PAX and GNU headers, long names and links alike.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use tarsplit::member::kind;
use tarsplit::{Event, Parser};

use super::TransferProgress;
use super::progress::SpoolReader;
use super::source::{Source, clean_path, link_destination};
use crate::compression::{self, Compression};
use crate::error::{Error, IoContext, Result};
use crate::fs::AsideFile;
use crate::image::manifest::malformed;

/// How many symlinks a member path may go through.
const MAX_LINKS: usize = 8;

/// A member of the archive.
enum Member {
    /// File data at `offset`, `size` bytes long.
    File { offset: u64, size: u64 },
    /// A symlink or hard link to another member (root-relative path).
    Link(String),
    /// Anything else (directories, devices): never image content.
    Other,
}

/// An indexed tar archive.
pub(crate) struct ArchiveIn {
    file: File,
    members: HashMap<String, Member>,
}

/// Where the archive comes from.
pub(crate) enum Input {
    /// A file (seekable if it is a regular file).
    File(File),
    /// A stream.
    Stream(Box<dyn Read + Send>),
}

impl ArchiveIn {
    /// Indexes `input`; a stream or a compressed archive is copied
    /// (decompressed) into `spill` first.
    #[cfg(test)]
    pub(crate) fn open(input: Input, spill: &Path) -> Result<Self> {
        Self::open_told(input, spill, None)
    }

    /// Indexes `input`, as `open` does, telling `progress` how much of a
    /// stream (or a compressed file) has been read while it is copied
    /// aside, as [`TransferEvent::Spooled`](super::TransferEvent::Spooled).
    pub(crate) fn open_told(
        input: Input,
        spill: &Path,
        progress: Option<TransferProgress<'_>>,
    ) -> Result<Self> {
        let spill_to = |input: Box<dyn Read + Send + 'static>, spill: &Path| match progress {
            Some(progress) => spill_to(Box::new(SpoolReader::new(input, progress)), spill),
            None => spill_to(input, spill),
        };
        let file = match input {
            Input::File(file) if is_seekable(&file) => {
                let mut head = [0u8; 6];
                let n = file
                    .read_at(&mut head, 0)
                    .context(|| "cannot read the archive".into())?;
                if Compression::detect(&head[..n]) == Compression::None {
                    file
                } else {
                    spill_to(Box::new(file), spill)?
                }
            }
            Input::File(file) => spill_to(Box::new(file), spill)?,
            Input::Stream(stream) => spill_to(stream, spill)?,
        };
        let members = index(&file)?;
        Ok(Self { file, members })
    }

    /// The member `path` after following links: its offset and size.
    fn locate(&self, path: &str) -> Result<(u64, u64)> {
        let mut current = clean_path(path, "a path named by the archive")?;
        for _ in 0..=MAX_LINKS {
            match self.members.get(&current) {
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Link(target)) => current = target.clone(),
                Some(Member::Other) => {
                    return Err(malformed(
                        &format!("archive member {current}"),
                        "it is not a regular file",
                    ));
                }
                None => {
                    return Err(malformed(
                        "the archive",
                        format!("it names {path:?}, which it does not contain"),
                    ));
                }
            }
        }
        Err(malformed(
            &format!("archive member {path}"),
            "too many levels of symlinks",
        ))
    }
}

impl Source for ArchiveIn {
    fn has(&self, path: &str) -> bool {
        self.locate(path).is_ok()
    }

    fn size(&self, path: &str) -> Result<u64> {
        Ok(self.locate(path)?.1)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        let (offset, size) = self.locate(path)?;
        Ok(Box::new(Section {
            file: &self.file,
            offset,
            remaining: size,
        }))
    }
}

/// Reads `remaining` bytes of `file` from `offset`, without moving any
/// shared file position.
struct Section<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a member",
            ));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Whether `file` is a regular file read from its start (an archive that
/// starts further in, after a prefix the caller skipped, is read as a
/// stream from where it is).
fn is_seekable(file: &File) -> bool {
    let mut handle = file;
    file.metadata().map(|m| m.is_file()).unwrap_or(false)
        && handle.stream_position().is_ok_and(|at| at == 0)
}

/// Copies (decompressing) `input` into a new unnamed file under `spill`
/// (an aside file never placed), which goes away with its last handle and
/// is never seen under a name, even by a process killed while copying.
fn spill_to(input: Box<dyn Read + Send + '_>, spill: &Path) -> Result<File> {
    let mut file = AsideFile::scratch_in(spill)?;
    let (_, mut tar) =
        compression::decompress(input).context(|| "cannot read the archive".into())?;
    io::copy(&mut tar, &mut file).context(|| "cannot read the archive".into())?;
    file.seek(SeekFrom::Start(0))
        .context(|| "cannot rewind the archive copy".into())?;
    Ok(file)
}

/// Bytes read from the archive at a time while indexing.
const INDEX_READ: usize = 64 << 10;

/// One pass over the headers with tarsplit's parser; member data is
/// skipped, not read.
fn index(file: &File) -> Result<HashMap<String, Member>> {
    let bad = |e: tarsplit::Error| malformed("the archive", format!("it is not a valid tar: {e}"));
    let mut parser = Parser::default();
    let mut members = HashMap::new();
    let length = file
        .metadata()
        .context(|| "cannot read the archive".into())?
        .len();
    let mut buf = vec![0u8; INDEX_READ];
    // `buf[..len]` holds the archive from byte `start`.
    let (mut start, mut len) = (0u64, 0usize);
    loop {
        let at = parser.offset();
        let pos = usize::try_from(at - start).unwrap_or(usize::MAX).min(len);
        match parser.step(&buf[pos..len]).map_err(bad)? {
            Event::NeedInput => {
                len = file
                    .read_at(&mut buf, at)
                    .context(|| "cannot read the archive".into())?;
                start = at;
                if len == 0 {
                    parser.finish().map_err(bad)?;
                    break;
                }
            }
            Event::Member => {
                let member = parser.member();
                if let Some((path, entry)) = index_entry(member, at)? {
                    members.insert(path, entry);
                }
                let data = member.data_len;
                if at.saturating_add(data) > length {
                    return Err(malformed(
                        "the archive",
                        format!(
                            "it is truncated: member {:?} needs {} bytes, {} are left",
                            String::from_utf8_lossy(&member.name),
                            data,
                            length - at
                        ),
                    ));
                }
                parser.skip_data(data);
            }
            Event::End => break,
            Event::Raw(_) | Event::Data(_) | Event::MemberEnd => {}
        }
    }
    if members.is_empty() {
        return Err(Error::Malformed {
            what: "the archive".into(),
            reason: "it is empty".into(),
        });
    }
    Ok(members)
}

/// The index entry of `member`, whose data starts at byte `offset`; `None`
/// for what names no path (a PAX global header, the archive root).
fn index_entry(member: &tarsplit::Member, offset: u64) -> Result<Option<(String, Member)>> {
    if !member.is_entry() {
        return Ok(None);
    }
    let name = std::str::from_utf8(&member.name)
        .map_err(|_| malformed("the archive", "a member name is not UTF-8"))?;
    let what = format!("archive member {name:?}");
    let path = clean_path(name, &what)?;
    let link = || -> Result<&str> {
        if member.link_name.is_empty() {
            return Err(malformed(&what, "the link has no target"));
        }
        std::str::from_utf8(&member.link_name)
            .map_err(|_| malformed(&what, "the link target is not UTF-8"))
    };
    let entry = match member.kind {
        kind::REGULAR | kind::CONTIGUOUS if member.sparse.is_none() => Member::File {
            offset,
            size: member.data_len,
        },
        kind::SYMLINK => Member::Link(link_destination(&path, link()?)?),
        kind::HARD_LINK => Member::Link(clean_path(link()?, &what)?),
        _ => Member::Other,
    };
    Ok((!path.is_empty()).then_some((path, entry)))
}

#[cfg(test)]
mod tests;
