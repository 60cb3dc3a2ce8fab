//! A deterministic layer tar from two trees.
//!
//! This module owns turning [`changes`](super::changes::changes) between an
//! old and a new tree into an OCI layer changeset: added and modified paths
//! become tar members carrying their metadata from the new tree (file
//! contents streamed, never held whole in memory), deleted paths become
//! `.wh.<name>` whiteouts, and a replaced directory becomes one opaque
//! marker. The same two trees always give the same bytes: members come in
//! the walk's sorted order (parents before children, a whiteout where the
//! deleted path would sort, an opaque marker right after its directory's
//! own member), and the headers follow the
//! fixed conventions of the crate's one tar writer for changesets (USTAR, Go-style
//! octal fields, PAX `x` headers only when needed, two zero blocks at the
//! end and no record padding).
//!
//! Members:
//! - names are relative, with no `./` prefix; directories end in `/`;
//! - regular files carry their content; within the changeset, the first
//!   path of a multiply-linked inode is the file and later paths are
//!   type `1` links to it;
//! - directories, symlinks (target verbatim), character and block devices
//!   and FIFOs are header-only; sockets are skipped;
//! - mode is the permission bits with setuid, setgid and sticky; uid and gid
//!   numeric; mtime in whole seconds (sub-second times dropped, as Docker
//!   does); every extended attribute except `security.selinux` becomes a
//!   `SCHILY.xattr.<name>` PAX record;
//! - a whiteout is an empty regular file `<dir>/.wh.<name>` with mode 0,
//!   uid and gid 0 and mtime 0;
//! - a directory other than the root that is a directory in both trees,
//!   had at least one entry, and keeps none of its old entry names (it
//!   may have new ones) is *replaced*: instead of one `.wh.<name>` per old
//!   entry it gets a single opaque marker `<dir>/.wh..wh..opq`, with the
//!   same header as a whiteout, right after the directory's own member (if
//!   the directory is itself modified) and before anything beneath it. A
//!   directory that keeps any old name, and the root, get per-entry
//!   whiteouts. ([`changes`](super::changes::changes) still lists each
//!   deleted entry.)

#[cfg(test)]
pub(crate) mod testtree;

use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::changes::{
    self, ChangeKind, ChangesError, Entry, Visitor, Xattrs, full_path, open_file_at,
};
use super::tarwrite::{Conventions, EncodeError, Header, HeaderError, TarStream};

/// What [`write_changeset`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangesetStats {
    /// Bytes written, end-of-archive blocks included.
    pub bytes: u64,
    /// Members written, whiteouts and hard links included, PAX extension
    /// headers not counted.
    pub entries: u64,
    /// Whiteouts among them, opaque directory markers included.
    pub whiteouts: u64,
    /// Hard links (type `1`) among them.
    pub hardlinks: u64,
    /// Bytes of file content among the bytes written.
    pub content_bytes: u64,
    /// Sockets left out (tar cannot carry them).
    pub skipped_sockets: u64,
}

/// Why a changeset could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangesetError {
    /// Comparing the trees failed.
    #[error(transparent)]
    Changes(#[from] ChangesError),
    /// Reading an entry of the new tree failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The full path in the new tree.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing to the output failed.
    #[error("cannot write the changeset member for {}: {source}", path.display())]
    Write {
        /// The path whose member was being written (the new tree's root for
        /// the end-of-archive blocks).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A file changed while it was archived: its content is shorter than
    /// its size said, or another file took its place.
    #[error("{} changed while it was being archived", path.display())]
    FileChanged {
        /// The full path in the new tree.
        path: PathBuf,
    },
    /// An entry's metadata cannot be put in a tar header.
    #[error("cannot archive {}: {reason}", path.display())]
    Unencodable {
        /// The full path in the new tree.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Writes the changeset from `old` to `new` (everything in `new` when
/// `old` is `None`) to `out` as an uncompressed OCI layer tar.
///
/// Output is buffered internally and flushed before returning; on error
/// `out` holds a partial archive.
pub fn write_changeset<W: Write>(
    old: Option<&Path>,
    new: &Path,
    out: W,
) -> Result<ChangesetStats, ChangesetError> {
    let mut writer = ChangesetWriter {
        out: TarStream::new(
            BufWriter::with_capacity(256 * 1024, out),
            Conventions::CHANGESET,
        ),
        new_root: new,
        links: HashMap::new(),
        buf: vec![0; 256 * 1024],
        stats: ChangesetStats::default(),
    };
    changes::walk(old, new, &mut writer)?;
    writer.finish()
}

struct ChangesetWriter<'a, W: Write> {
    out: TarStream<BufWriter<W>>,
    new_root: &'a Path,
    /// First member name of each multiply-linked inode, by (dev, ino).
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Scratch space for file content.
    buf: Vec<u8>,
    stats: ChangesetStats,
}

impl<W: Write> Visitor for ChangesetWriter<'_, W> {
    type Error = ChangesetError;

    /// A changeset must rebuild the tree, so files swapped for hard links
    /// that keep size and time are found by their contents.
    fn compares_linked_contents(&self) -> bool {
        true
    }

    fn changed(&mut self, _kind: ChangeKind, entry: &mut Entry<'_>) -> Result<(), ChangesetError> {
        let Some(kind) = typeflag(entry.meta.file_type) else {
            self.stats.skipped_sockets += 1;
            return Ok(());
        };
        let meta = entry.meta;
        let mut name = entry.path.to_vec();
        if kind == b'5' {
            name.push(b'/');
        }
        // A file with content is opened first, so that its extended
        // attributes come from the descriptor rather than a path lookup.
        let (kind, link, file) = match kind {
            b'0' => match self.first_link(&meta, &name) {
                Some(first) => (b'1', first, None),
                None if meta.size > 0 => (b'0', Vec::new(), Some(self.open_checked(entry)?)),
                None => (b'0', Vec::new(), None),
            },
            b'2' => {
                let target = changes::read_link_at(entry.dir, entry.name)
                    .map_err(|e| self.io_err("read symlink", entry.path, e))?;
                (b'2', target.into_bytes(), None)
            }
            other => (other, Vec::new(), None),
        };
        let xattrs = self.xattrs(entry, file.as_ref())?;
        let size = if file.is_some() { meta.size } else { 0 };
        self.put_header(
            &Header {
                name: &name,
                link: &link,
                kind,
                mode: meta.perm,
                uid: meta.uid.into(),
                gid: meta.gid.into(),
                size,
                mtime: meta.mtime.secs,
                device: matches!(kind, b'3' | b'4').then_some(meta.rdev),
                xattrs: &xattrs,
            },
            entry.path,
        )?;
        if kind == b'1' {
            self.stats.hardlinks += 1;
        }
        match file {
            Some(file) => self.put_content(file, entry.path, size),
            None => Ok(()),
        }
    }

    fn deleted(&mut self, path: &[u8]) -> Result<(), ChangesetError> {
        self.put_whiteout(&whiteout_name(path), path)
    }

    fn replaced_dir(&mut self, path: &[u8]) -> Result<bool, ChangesetError> {
        self.put_whiteout(&[path, b"/", OPAQUE].concat(), path)?;
        Ok(true)
    }
}

impl<W: Write> ChangesetWriter<'_, W> {
    /// Writes the whiteout or opaque marker `name` for `path`: an empty
    /// regular file with mode 0, uid and gid 0 and mtime 0.
    fn put_whiteout(&mut self, name: &[u8], path: &[u8]) -> Result<(), ChangesetError> {
        self.put_header(
            &Header {
                name,
                link: b"",
                kind: b'0',
                mode: 0,
                uid: 0,
                gid: 0,
                size: 0,
                mtime: 0,
                device: None,
                xattrs: &[],
            },
            path,
        )?;
        self.stats.whiteouts += 1;
        Ok(())
    }

    /// For a regular file with several links: the member name it was
    /// first written under, or `None` (remembering `name`) when this is
    /// the first.
    fn first_link(&mut self, meta: &changes::Meta, name: &[u8]) -> Option<Vec<u8>> {
        if meta.nlink < 2 {
            return None;
        }
        match self.links.entry((meta.dev, meta.ino)) {
            std::collections::hash_map::Entry::Occupied(first) => Some(first.get().clone()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(name.to_vec());
                None
            }
        }
    }

    fn put_header(&mut self, header: &Header<'_>, path: &[u8]) -> Result<(), ChangesetError> {
        self.out.header(header).map_err(|e| match e {
            HeaderError::Encode(e) => self.unencodable(path, &e),
            HeaderError::Io(e) => self.write_err(path, e),
        })?;
        self.stats.entries += 1;
        Ok(())
    }

    /// The extended attributes a member carries: all but
    /// `security.selinux`.
    fn xattrs(
        &self,
        entry: &mut Entry<'_>,
        file: Option<&std::fs::File>,
    ) -> Result<Xattrs, ChangesetError> {
        let path = entry.path;
        let all = entry
            .xattrs(file.map(std::os::fd::AsFd::as_fd))
            .map_err(|e| self.io_err("read extended attributes of", path, e))?;
        let kept = all
            .iter()
            .filter(|(key, _)| key.as_slice() != b"security.selinux");
        Ok(kept.cloned().collect())
    }

    /// Opens a regular file of the walk, checking it is still the one the
    /// walk saw.
    fn open_checked(&self, entry: &Entry<'_>) -> Result<std::fs::File, ChangesetError> {
        let file =
            open_file_at(entry.dir, entry.name).map_err(|e| self.io_err("open", entry.path, e))?;
        let now = changes::stat_fd(std::os::fd::AsFd::as_fd(&file))
            .map_err(|e| self.io_err("stat", entry.path, e))?;
        if now.ino != entry.meta.ino || now.file_type != FileType::RegularFile {
            return Err(self.changed_err(entry.path));
        }
        Ok(file)
    }

    /// Streams exactly `size` bytes of `file`, then the padding.
    fn put_content(
        &mut self,
        mut file: std::fs::File,
        rel: &[u8],
        size: u64,
    ) -> Result<(), ChangesetError> {
        let mut remaining = size;
        while remaining > 0 {
            let want = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => return Err(self.changed_err(rel)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err("read", rel, e)),
            };
            let Self { out, buf, .. } = self;
            out.data(&buf[..n]).map_err(|e| self.write_err(rel, e))?;
            remaining -= n as u64;
        }
        self.out.pad(size).map_err(|e| self.write_err(rel, e))?;
        self.stats.content_bytes += size;
        Ok(())
    }

    /// Writes the two zero blocks that end the archive and flushes.
    fn finish(self) -> Result<ChangesetStats, ChangesetError> {
        let root = self.path(b"");
        let (_, bytes) = self
            .out
            .finish()
            .map_err(|source| ChangesetError::Write { path: root, source })?;
        Ok(ChangesetStats {
            bytes,
            ..self.stats
        })
    }

    fn path(&self, rel: &[u8]) -> PathBuf {
        full_path(self.new_root, rel)
    }

    fn io_err(&self, op: &'static str, rel: &[u8], source: io::Error) -> ChangesetError {
        ChangesetError::Io {
            op,
            path: self.path(rel),
            source,
        }
    }

    fn write_err(&self, rel: &[u8], source: io::Error) -> ChangesetError {
        ChangesetError::Write {
            path: self.path(rel),
            source,
        }
    }

    fn changed_err(&self, rel: &[u8]) -> ChangesetError {
        ChangesetError::FileChanged {
            path: self.path(rel),
        }
    }

    fn unencodable(&self, rel: &[u8], e: &EncodeError) -> ChangesetError {
        ChangesetError::Unencodable {
            path: self.path(rel),
            reason: e.to_string(),
        }
    }
}

/// The typeflag for a file type; `None` for what tar cannot carry.
fn typeflag(file_type: FileType) -> Option<u8> {
    match file_type {
        FileType::RegularFile => Some(b'0'),
        FileType::Directory => Some(b'5'),
        FileType::Symlink => Some(b'2'),
        FileType::CharacterDevice => Some(b'3'),
        FileType::BlockDevice => Some(b'4'),
        FileType::Fifo => Some(b'6'),
        _ => None,
    }
}

/// The opaque directory marker's name within its directory.
const OPAQUE: &[u8] = b".wh..wh..opq";

/// `dir/.wh.name` for a deleted `dir/name`.
fn whiteout_name(path: &[u8]) -> Vec<u8> {
    let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    [dir, b".wh.", base].concat()
}

#[cfg(test)]
mod tests;
