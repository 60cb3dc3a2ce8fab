//! What changed between two directory trees.
//!
//! This module owns comparing an old tree (a layer's parent, or nothing)
//! with a new one, with the semantics of containers/storage's
//! `ChangesDirs`: a path is *added* when it exists only in the new tree,
//! *deleted* when it exists only in the old one (only the top-most deleted
//! path is reported, not its children), and *modified* when it exists in
//! both and its type, permissions, owner, size (not for directories),
//! modification time, device number, symlink target or extended attributes
//! differ. File contents are never read.
//!
//! A directory that exists in both trees and did not change itself is
//! still reported as modified when something inside it changed (before its
//! contents), as containers/storage does: a changeset then carries the
//! directory's metadata, which creating entries in it would otherwise
//! disturb. The root is never reported.
//!
//! Two details follow containers/storage rather than a literal comparison:
//! a modification time whose nanoseconds are zero on one side matches the
//! same second on the other (tar keeps whole seconds, so a tree extracted
//! from a layer must not differ from the tree it was made from), and
//! `security.selinux` labels are not compared (the host relabels files;
//! changesets never carry the label).
//!
//! The walk also recognises *replaced* directories, for the changeset
//! writer's opaque markers: a directory, other than the root, that is a
//! directory in both trees, whose old listing has at least one entry and
//! none of whose old entry names exist in its new listing (it may have new
//! entries). [`changes`] still reports each of its old entries as deleted;
//! the changeset replaces those whiteouts with one `.wh..wh..opq`.
//!
//! Trees are read with the primitives of `crate::fs::tree` (re-exported
//! here for the changeset writer, whose walk hands entries on): every
//! lookup is relative to an open directory, so nothing outside the trees
//! is ever followed.

use std::ffi::{CStr, CString};
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, FileType, Mode, OFlags};

pub(crate) use crate::fs::tree::{
    Meta, Time, XattrTarget, Xattrs, full_path, open_dir_at, open_file_at, read_link_at,
    read_names, read_xattrs, stat_at, stat_fd,
};

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    /// Path relative to the tree root, with no leading slash
    /// (e.g. `b"etc/passwd"`). Raw bytes: Linux paths need not be UTF-8.
    pub path: Vec<u8>,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The path exists only in the new tree.
    Added,
    /// The path exists in both trees and its metadata differs.
    Modified,
    /// The path exists only in the old tree.
    Deleted,
}

impl ChangeKind {
    /// The letter `podman diff` and `docker diff` print: `A`, `C` or `D`.
    pub fn letter(self) -> char {
        match self {
            Self::Added => 'A',
            Self::Modified => 'C',
            Self::Deleted => 'D',
        }
    }
}

/// Why two trees could not be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangesError {
    /// A filesystem operation failed on the named path.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`stat`, `read directory`, ...).
        op: &'static str,
        /// The full path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Lists what changed from `old` to `new`, sorted by path component by
/// component (so `a/b` sorts right after `a`, before `a-c`).
///
/// `old = None` compares against an empty tree: everything in `new` is
/// added. The roots themselves are never reported.
pub fn changes(old: Option<&Path>, new: &Path) -> Result<Vec<Change>, ChangesError> {
    let mut collect = Collect(Vec::new());
    walk(old, new, &mut collect)?;
    Ok(collect.0)
}

/// Formats changes the way `podman diff` prints them: one line per change,
/// `A /etc/foo`, `C /etc`, `D /tmp/x`, each ending in a newline. Bytes
/// that are not UTF-8 are shown as U+FFFD.
pub fn format_changes(changes: &[Change]) -> String {
    let mut out = String::new();
    for change in changes {
        let path = String::from_utf8_lossy(&change.path);
        let _ = writeln!(out, "{} /{path}", change.kind.letter());
    }
    out
}

/// Collects changes into a vector.
struct Collect(Vec<Change>);

impl Visitor for Collect {
    type Error = ChangesError;

    fn changed(&mut self, kind: ChangeKind, entry: &mut Entry<'_>) -> Result<(), ChangesError> {
        self.0.push(Change {
            path: entry.path.to_vec(),
            kind,
        });
        Ok(())
    }

    fn deleted(&mut self, path: &[u8]) -> Result<(), ChangesError> {
        self.0.push(Change {
            path: path.to_vec(),
            kind: ChangeKind::Deleted,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The walk, shared with the changeset writer.

/// Receives changes in order during [`walk`].
pub(crate) trait Visitor {
    /// The error the visitor fails with; walk errors convert into it.
    type Error: From<ChangesError>;

    /// An added or modified path of the new tree.
    fn changed(&mut self, kind: ChangeKind, entry: &mut Entry<'_>) -> Result<(), Self::Error>;

    /// A path that exists only in the old tree (only the top-most one).
    fn deleted(&mut self, path: &[u8]) -> Result<(), Self::Error>;

    /// A replaced directory: `path`, not the root, is a directory in both
    /// trees, its old listing has at least one entry, and none of those
    /// names is in its new listing. Called after the directory's own
    /// [`changed`](Self::changed) (if any) and before anything beneath it.
    /// Returning `true` means the visitor has accounted for the old entries
    /// as a whole (an opaque marker), and the walk does not report them one
    /// by one through [`deleted`](Self::deleted). The default returns
    /// `false`.
    fn replaced_dir(&mut self, path: &[u8]) -> Result<bool, Self::Error> {
        let _ = path;
        Ok(false)
    }

    /// Whether a hard-linked regular file whose metadata matches on both
    /// sides is also compared by contents. A file replaced
    /// by a hard link to another of the same size and time looks
    /// unchanged to the metadata alone; a visitor that must reproduce the
    /// tree (the changeset writer) asks for the closer look, which reads
    /// such files. The default, like `podman diff`, does not.
    fn compares_linked_contents(&self) -> bool {
        false
    }
}

/// An added or modified path as the walk saw it in the new tree.
pub(crate) struct Entry<'a> {
    /// The directory holding the entry, open.
    pub(crate) dir: BorrowedFd<'a>,
    /// The entry's name in `dir`.
    pub(crate) name: &'a CStr,
    /// The entry's path relative to the root.
    pub(crate) path: &'a [u8],
    /// Its metadata, not following symlinks.
    pub(crate) meta: Meta,
    /// Its extended attributes, when the walk already read them.
    xattrs: Option<Xattrs>,
}

impl<'a> Entry<'a> {
    /// An entry as the walk would report it, for tests of visitors.
    #[cfg(test)]
    pub(crate) fn for_test(
        dir: BorrowedFd<'a>,
        name: &'a CStr,
        path: &'a [u8],
        meta: Meta,
    ) -> Self {
        Self {
            dir,
            name,
            path,
            meta,
            xattrs: None,
        }
    }

    /// The entry's extended attributes, sorted by name: those the walk
    /// already read, else read now, through `fd` (the entry, opened) when
    /// given.
    pub(crate) fn xattrs(&mut self, fd: Option<BorrowedFd<'_>>) -> io::Result<&Xattrs> {
        let xattrs = match (self.xattrs.take(), fd) {
            (Some(xattrs), _) => xattrs,
            (None, Some(fd)) => read_xattrs(&XattrTarget::Fd(fd))?,
            (None, None) => read_xattrs(&XattrTarget::at(self.dir, self.name)?)?,
        };
        Ok(self.xattrs.insert(xattrs))
    }
}

/// Walks `old` and `new` together, reporting changes to `visitor` in
/// sorted order (parents before children).
pub(crate) fn walk<V: Visitor>(
    old: Option<&Path>,
    new: &Path,
    visitor: &mut V,
) -> Result<(), V::Error> {
    let new_fd = open_root(new)?;
    let old_fd = old.map(open_root).transpose()?;
    let mut walker = Walker {
        old_root: old,
        new_root: new,
        path: Vec::new(),
        pending: Vec::new(),
        visitor,
    };
    walker.dir(old_fd.as_ref().map(AsFd::as_fd), new_fd.as_fd())
}

/// Opens a tree's root; the caller's path is followed (it may be a
/// `/proc/self/fd/N` view of a mount), nothing inside the tree is.
fn open_root(path: &Path) -> Result<OwnedFd, ChangesError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::openat(CWD, path, flags, Mode::empty())
        .map_err(io::Error::from)
        .map_err(|source| ChangesError::Io {
            op: "open directory",
            path: path.to_path_buf(),
            source,
        })
}

/// Which tree an error happened in.
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

struct Walker<'a, V> {
    old_root: Option<&'a Path>,
    new_root: &'a Path,
    /// Path of the entry being looked at, relative to the roots.
    path: Vec<u8>,
    /// Unchanged directories being walked, outermost first: reported as
    /// modified as soon as something inside them changes.
    pending: Vec<PendingDir>,
    visitor: &'a mut V,
}

/// An unchanged directory of both trees, reported only if something in it
/// changed.
struct PendingDir {
    /// Its parent in the new tree.
    parent: OwnedFd,
    name: CString,
    path: Vec<u8>,
    meta: Meta,
}

impl<V: Visitor> Walker<'_, V> {
    /// Compares the children of two directories (or lists those of `new`
    /// alone when there is no old counterpart).
    fn dir(&mut self, old: Option<BorrowedFd<'_>>, new: BorrowedFd<'_>) -> Result<(), V::Error> {
        let new_names = read_names(new).map_err(|e| self.err("read directory", Side::New, e))?;
        let old_names = match old {
            Some(fd) => read_names(fd).map_err(|e| self.err("read directory", Side::Old, e))?,
            None => Vec::new(),
        };
        let replaced =
            old.is_some() && !self.path.is_empty() && is_replaced(&old_names, &new_names);
        if replaced {
            self.flush()?;
        }
        let opaque = replaced && self.visitor.replaced_dir(&self.path)?;
        let (mut i, mut j) = (0, 0);
        while i < old_names.len() || j < new_names.len() {
            let order = match (old_names.get(i), new_names.get(j)) {
                (Some(o), Some(n)) => o.as_bytes().cmp(n.as_bytes()),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match (order, old) {
                (std::cmp::Ordering::Less, _) => {
                    if !opaque {
                        self.child(&old_names[i], |w| w.deleted())?;
                    }
                    i += 1;
                }
                (std::cmp::Ordering::Equal, Some(old)) => {
                    self.child(&new_names[j], |w| w.common(old, new, &new_names[j]))?;
                    i += 1;
                    j += 1;
                }
                _ => {
                    self.child(&new_names[j], |w| w.added(new, &new_names[j]))?;
                    j += 1;
                }
            }
        }
        Ok(())
    }

    /// Runs `f` with `name` appended to the current path.
    fn child<F>(&mut self, name: &CStr, f: F) -> Result<(), V::Error>
    where
        F: FnOnce(&mut Self) -> Result<(), V::Error>,
    {
        let len = self.path.len();
        if len > 0 {
            self.path.push(b'/');
        }
        self.path.extend_from_slice(name.to_bytes());
        let result = f(self);
        self.path.truncate(len);
        result
    }

    fn deleted(&mut self) -> Result<(), V::Error> {
        self.flush()?;
        self.visitor.deleted(&self.path)
    }

    /// Reports the pending directories as modified (something inside them
    /// changed), as containers/storage does so that a changeset restores
    /// their metadata.
    fn flush(&mut self) -> Result<(), V::Error> {
        for dir in std::mem::take(&mut self.pending) {
            let mut entry = Entry {
                dir: dir.parent.as_fd(),
                name: &dir.name,
                path: &dir.path,
                meta: dir.meta,
                xattrs: None,
            };
            self.visitor.changed(ChangeKind::Modified, &mut entry)?;
        }
        Ok(())
    }

    /// A path only in the new tree: it and everything below it are added.
    fn added(&mut self, dir: BorrowedFd<'_>, name: &CStr) -> Result<(), V::Error> {
        let meta = stat_at(dir, name).map_err(|e| self.err("stat", Side::New, e))?;
        self.flush()?;
        let mut entry = Entry {
            dir,
            name,
            path: &self.path,
            meta,
            xattrs: None,
        };
        self.visitor.changed(ChangeKind::Added, &mut entry)?;
        if meta.is_dir() {
            let child =
                open_dir_at(dir, name).map_err(|e| self.err("open directory", Side::New, e))?;
            self.dir(None, child.as_fd())?;
        }
        Ok(())
    }

    /// A path in both trees: compare, then descend when it is a directory
    /// in the new tree.
    fn common(
        &mut self,
        old: BorrowedFd<'_>,
        new: BorrowedFd<'_>,
        name: &CStr,
    ) -> Result<(), V::Error> {
        let old_meta = stat_at(old, name).map_err(|e| self.err("stat", Side::Old, e))?;
        let new_meta = stat_at(new, name).map_err(|e| self.err("stat", Side::New, e))?;
        let mut new_xattrs = None;
        let differs = meta_differs(&old_meta, &new_meta)
            || self.target_differs(old, new, name, &new_meta)?
            || self.xattrs_differ(old, new, name, &mut new_xattrs)?
            || self.linked_contents_differ(old, new, name, &old_meta, &new_meta)?;
        if differs {
            self.flush()?;
            let mut entry = Entry {
                dir: new,
                name,
                path: &self.path,
                meta: new_meta,
                xattrs: new_xattrs,
            };
            self.visitor.changed(ChangeKind::Modified, &mut entry)?;
        }
        if !new_meta.is_dir() {
            return Ok(());
        }
        let new_child =
            open_dir_at(new, name).map_err(|e| self.err("open directory", Side::New, e))?;
        let old_child = if old_meta.is_dir() {
            Some(open_dir_at(old, name).map_err(|e| self.err("open directory", Side::Old, e))?)
        } else {
            None
        };
        let depth = self.pending.len();
        if !differs && old_child.is_some() {
            let parent = rustix::io::fcntl_dupfd_cloexec(new, 0)
                .map_err(|e| self.err("open directory", Side::New, e.into()))?;
            self.pending.push(PendingDir {
                parent,
                name: name.to_owned(),
                path: self.path.clone(),
                meta: new_meta,
            });
        }
        let walked = self.dir(old_child.as_ref().map(AsFd::as_fd), new_child.as_fd());
        self.pending.truncate(depth);
        walked
    }

    /// Whether two symlinks (same metadata otherwise) point elsewhere.
    fn target_differs(
        &self,
        old: BorrowedFd<'_>,
        new: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<bool, ChangesError> {
        if meta.file_type != FileType::Symlink {
            return Ok(false);
        }
        let old_target =
            read_link_at(old, name).map_err(|e| self.err("read symlink", Side::Old, e))?;
        let new_target =
            read_link_at(new, name).map_err(|e| self.err("read symlink", Side::New, e))?;
        Ok(old_target != new_target)
    }

    /// For a visitor that asks (see [`Visitor::compares_linked_contents`]):
    /// whether a regular file linked more than once on either side has
    /// different contents.
    fn linked_contents_differ(
        &self,
        old: BorrowedFd<'_>,
        new: BorrowedFd<'_>,
        name: &CStr,
        old_meta: &Meta,
        new_meta: &Meta,
    ) -> Result<bool, ChangesError> {
        let linked = old_meta.nlink > 1 || new_meta.nlink > 1;
        if !self.visitor.compares_linked_contents()
            || new_meta.file_type != FileType::RegularFile
            || !linked
        {
            return Ok(false);
        }
        // Contents only, not link counts: those differ between drivers
        // for the same tree (overlay's copy-up breaks links to lower
        // files), and a changeset must not depend on the driver.
        let open = |dir, side| open_file_at(dir, name).map_err(|e| self.err("open", side, e));
        let (old_file, new_file) = (open(old, Side::Old)?, open(new, Side::New)?);
        same_bytes(old_file, new_file)
            .map(|same| !same)
            .map_err(|e| self.err("read", Side::New, e))
    }

    /// Whether the extended attributes differ; keeps the new ones read.
    fn xattrs_differ(
        &self,
        old: BorrowedFd<'_>,
        new: BorrowedFd<'_>,
        name: &CStr,
        new_xattrs: &mut Option<Xattrs>,
    ) -> Result<bool, ChangesError> {
        let read = |dir, side| {
            XattrTarget::at(dir, name)
                .and_then(|target| read_xattrs(&target))
                .map_err(|e| self.err("read extended attributes of", side, e))
        };
        let old_list = read(old, Side::Old)?;
        let new_list = new_xattrs.insert(read(new, Side::New)?);
        let compared = |list: &Xattrs| -> Xattrs {
            list.iter()
                .filter(|(key, _)| key.as_slice() != b"security.selinux")
                .cloned()
                .collect()
        };
        Ok(compared(&old_list) != compared(new_list))
    }

    fn err(&self, op: &'static str, side: Side, source: io::Error) -> ChangesError {
        let root = match side {
            Side::Old => self.old_root.unwrap_or(self.new_root),
            Side::New => self.new_root,
        };
        ChangesError::Io {
            op,
            path: full_path(root, &self.path),
            source,
        }
    }
}

/// Whether a directory's old listing is non-empty and shares no name with
/// its new one (both sorted by bytes): everything that was in it is gone.
fn is_replaced(old_names: &[CString], new_names: &[CString]) -> bool {
    !old_names.is_empty()
        && old_names.iter().all(|name| {
            new_names
                .binary_search_by(|probe| probe.as_bytes().cmp(name.as_bytes()))
                .is_err()
        })
}

/// Whether two files hold the same bytes (their sizes already agree).
fn same_bytes(mut a: std::fs::File, mut b: std::fs::File) -> io::Result<bool> {
    use std::io::Read;
    let (mut left, mut right) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = a.read(&mut left)?;
        if n == 0 {
            return Ok(b.read(&mut right[..1])? == 0);
        }
        match b.read_exact(&mut right[..n]) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            read => read?,
        }
        if left[..n] != right[..n] {
            return Ok(false);
        }
    }
}

/// Whether two entries differ in what `ChangesDirs` compares.
fn meta_differs(old: &Meta, new: &Meta) -> bool {
    old.file_type != new.file_type
        || old.perm != new.perm
        || old.uid != new.uid
        || old.gid != new.gid
        || old.rdev != new.rdev
        || (!new.is_dir() && old.size != new.size)
        || !same_mtime(old.mtime, new.mtime)
}

/// containers/storage's `sameFsTimeSpec`: equal seconds, and equal
/// nanoseconds unless one side has none (whole-second filesystems, tar).
fn same_mtime(a: Time, b: Time) -> bool {
    a.secs == b.secs && (a.nanos == b.nanos || a.nanos == 0 || b.nanos == 0)
}

#[cfg(test)]
mod tests;
