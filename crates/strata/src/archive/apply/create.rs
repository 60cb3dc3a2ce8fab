//! Creating entries: finding (or implicitly creating) their directory,
//! making room where something already exists, and creating each kind of
//! object with its metadata.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Gid, Mode, Uid};
use rustix::io::Errno;
use tarsplit::member::Member;

use super::error::{ApplyError, io_error, lossy};
use super::file::{OpenFile, SparseCursor};
use super::fsops::{self, os};
use super::names;
use super::{
    Applier, Attrs, CachedDir, Current, DIR_CACHE, DirHandle, PendingDir, Place, set_xattrs,
};

/// Mode of directories created implicitly for entries whose parents the
/// tar does not list.
const IMPLICIT_DIR_MODE: Mode = Mode::from_bits_retain(0o755);
/// Mode objects are created with before their real mode is applied.
const PRIVATE: Mode = Mode::from_bits_retain(0o600);

/// Whether `dir` is a proper ancestor of `path` (both relative, cleaned;
/// the root is the empty path).
fn is_ancestor(dir: &[u8], path: &[u8]) -> bool {
    dir.is_empty() || (path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/')
}

impl Applier {
    /// The directory an entry goes in, from the cache, resolved beneath the
    /// root, or created (with its missing ancestors) when absent.
    pub(super) fn parent_dir(
        &mut self,
        parent: &[u8],
        entry: &[u8],
    ) -> Result<Arc<DirHandle>, ApplyError> {
        if parent.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(handle) = self.cached(parent) {
            return Ok(handle);
        }
        if self.lower.exists() {
            let handle = self.overlay_parent(parent, entry)?;
            self.remember(parent.to_vec(), handle.clone());
            return Ok(handle);
        }
        let fd = match fsops::resolve(self.root.fd(), parent, fsops::DIR_ANCHOR) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => self.create_parents(parent, entry)?,
            Err(e) => return Err(parent_error(entry, "opening", parent, e)),
        };
        let handle =
            DirHandle::new(fd).map_err(|e| parent_error(entry, "inspecting", parent, e))?;
        let handle = Arc::new(handle);
        self.remember(parent.to_vec(), handle.clone());
        Ok(handle)
    }

    /// An existing directory of the tree, never created.
    pub(super) fn lookup_dir(&self, path: &[u8]) -> Result<Arc<DirHandle>, Errno> {
        if path.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(handle) = self.cached(path) {
            return Ok(handle);
        }
        let fd = fsops::resolve(self.root.fd(), path, fsops::DIR_ANCHOR)?;
        Ok(Arc::new(DirHandle::new(fd)?))
    }

    fn cached(&self, path: &[u8]) -> Option<Arc<DirHandle>> {
        self.cache
            .iter()
            .rev()
            .find(|c| c.path == path)
            .map(|c| c.handle.clone())
    }

    /// Caches a directory, keeping only the cached ones that are its
    /// ancestors: archives list a directory's contents depth first, so the
    /// next entries are in it or in one of its ancestors.
    fn remember(&mut self, path: Vec<u8>, handle: Arc<DirHandle>) {
        self.cache.retain(|c| is_ancestor(&c.path, &path));
        self.cache.push(CachedDir { path, handle });
        if self.cache.len() > DIR_CACHE {
            self.cache.remove(0);
        }
    }

    /// Creates the missing directories of `parent` (mode 0755, owned by the
    /// container's root) as moby does for entries whose parents the tar
    /// does not list, and returns the innermost.
    fn create_parents(&mut self, parent: &[u8], entry: &[u8]) -> Result<OwnedFd, ApplyError> {
        let mut current: Option<OwnedFd> = None;
        let mut missing = false;
        let ends = parent
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'/')
            .map(|(i, _)| i)
            .chain([parent.len()]);
        for end in ends {
            let prefix = &parent[..end];
            if !missing {
                match fsops::resolve(self.root.fd(), prefix, fsops::DIR_ANCHOR) {
                    Ok(fd) => {
                        current = Some(fd);
                        continue;
                    }
                    Err(Errno::NOENT) => missing = true,
                    Err(e) => return Err(parent_error(entry, "opening", prefix, e)),
                }
            }
            let at = current.as_ref().map_or(self.root.fd(), |fd| fd.as_fd());
            let name = names::split(prefix).1;
            let fd = self.implicit_dir(at, name).map_err(|e| {
                match (e, fsops::file_type_at(at, name)) {
                    (Errno::EXIST, Ok(Some(FileType::Symlink))) => dangling_parent(entry, prefix),
                    _ => parent_error(entry, "creating", prefix, e),
                }
            })?;
            self.mark_touched(prefix.to_vec());
            current = Some(fd);
        }
        match current {
            Some(fd) => Ok(fd),
            None => Err(parent_error(entry, "opening", parent, Errno::NOENT)),
        }
    }

    pub(super) fn implicit_dir(&self, at: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
        rustix::fs::mkdirat(at, name, IMPLICIT_DIR_MODE)?;
        let fd = fsops::open_child_dir(at, name)?;
        if self.privileged {
            let (uid, gid) = self.implicit_owner;
            rustix::fs::fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
        }
        rustix::fs::fchmod(&fd, IMPLICIT_DIR_MODE)?;
        Ok(fd)
    }

    /// Records that this tar created `path` (and so its ancestors exist
    /// because of it or along with it), for opaque directories. A failure
    /// is reported by the next `begin` or `finish`.
    pub(super) fn mark_touched(&mut self, path: Vec<u8>) {
        if let Err(e) = self.touch(&path) {
            self.touched_error.get_or_insert(e);
        }
    }

    fn touch(&mut self, path: &[u8]) -> std::io::Result<()> {
        let parent = names::split(path).0;
        if parent != self.touched_parent.as_slice() {
            let mut ancestor = parent;
            while !ancestor.is_empty() && self.touched.insert(ancestor)? {
                ancestor = names::split(ancestor).0;
            }
            self.touched_parent = parent.to_vec();
        }
        self.touched.insert(path)?;
        Ok(())
    }

    /// Whether this tar created `path` (or something beneath it).
    pub(super) fn was_touched(&mut self, entry: &[u8], path: &[u8]) -> Result<bool, ApplyError> {
        self.check_touched(entry)?;
        self.touched
            .contains(path)
            .map_err(|e| io_error(entry, "looking up the paths the layer created", e))
    }

    /// Fails with an earlier failure to record a created path.
    pub(super) fn check_touched(&mut self, entry: &[u8]) -> Result<(), ApplyError> {
        match self.touched_error.take() {
            Some(e) => Err(io_error(entry, "recording the paths the layer created", e)),
            None => Ok(()),
        }
    }

    /// Runs `make`; if the name exists, makes room and runs it again. The
    /// outer error is from making room, the inner one from `make`.
    fn create_with<T>(
        &mut self,
        member: &Member,
        at: &Place<'_>,
        mut make: impl FnMut(BorrowedFd<'_>) -> Result<T, Errno>,
    ) -> Result<Result<T, Errno>, ApplyError> {
        match make(at.dir.fd()) {
            Err(Errno::EXIST) => {
                self.make_room(member, at)?;
                Ok(make(at.dir.fd()))
            }
            other => Ok(other),
        }
    }

    /// Removes what exists at the entry's path, or moves it aside when it
    /// is a regular file this tar wrote earlier and the entry supersedes
    /// it.
    pub(super) fn make_room(&mut self, member: &Member, at: &Place<'_>) -> Result<(), ApplyError> {
        let fail = |action: &str, e: Errno| io_error(&member.name, action, os(e));
        let existing = fsops::file_type_at(at.dir.fd(), at.base)
            .map_err(|e| fail("inspecting the existing path", e))?;
        let Some(file_type) = existing else {
            return Ok(());
        };
        if let (FileType::RegularFile, Some(position), true) =
            (file_type, at.supersedes, self.aside.is_some())
            && self.was_touched(&member.name, at.path)?
            && let Some((aside_path, aside_fd)) = &self.aside
        {
            let name = position.to_string();
            rustix::fs::renameat(at.dir.fd(), at.base, aside_fd, name.as_str())
                .map_err(|e| fail("moving the superseded file aside", e))?;
            self.report.aside.push((position, aside_path.join(name)));
            return Ok(());
        }
        if matches!(file_type, FileType::Directory | FileType::Symlink) {
            // Cached directories may have been reached through it.
            self.cache.clear();
        }
        fsops::remove_all(at.dir.fd(), at.base).map_err(|e| fail("removing the existing path", e))
    }

    pub(super) fn create_file(
        &mut self,
        member: &Member,
        at: &Place<'_>,
    ) -> Result<(), ApplyError> {
        let ids = self.host_ids(member)?;
        let fd = self
            .create_with(member, at, |dir| {
                rustix::fs::openat(dir, at.base, fsops::FILE_CREATE, PRIVATE)
            })?
            .map_err(|e| io_error(&member.name, "creating the file", os(e)))?;
        let sparse = member.sparse.as_ref().map(|map| SparseCursor {
            regions: map.regions.clone(),
            index: 0,
            done: 0,
            real_size: map.real_size,
        });
        self.current = Current::File(Box::new(OpenFile {
            file: File::from(fd),
            entry: member.name.clone(),
            attrs: self.attrs(member, ids, Some(at.dir)),
            expected: member.data_len,
            written: 0,
            sparse,
        }));
        Ok(())
    }

    pub(super) fn create_dir(&mut self, member: &Member, at: &Place<'_>) -> Result<(), ApplyError> {
        let fail = |action: &str, e: Errno| io_error(&member.name, action, os(e));
        let ids = self.host_ids(member)?;
        let mkdir = |dir| rustix::fs::mkdirat(dir, at.base, Mode::RWXU);
        // (created now, replacing something that was not a directory)
        let (fresh, replaced) = match mkdir(at.dir.fd()) {
            Ok(()) => (true, false),
            Err(Errno::EXIST) => {
                let existing = fsops::file_type_at(at.dir.fd(), at.base)
                    .map_err(|e| fail("inspecting the existing path", e))?;
                let replaced = existing != Some(FileType::Directory);
                if replaced {
                    self.make_room(member, at)?;
                    mkdir(at.dir.fd()).map_err(|e| fail("creating the directory", e))?;
                }
                (replaced, replaced)
            }
            Err(e) => return Err(fail("creating the directory", e)),
        };
        let fd = fsops::open_child_dir(at.dir.fd(), at.base)
            .map_err(|e| fail("opening the directory", e))?;
        if replaced && self.lower.exists() {
            self.hide_lower_dir(member, at.path, fd.as_fd())?;
        }
        let attrs = self.attrs(member, ids, fresh.then_some(at.dir));
        if let Some((uid, gid)) = attrs.owner {
            rustix::fs::fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| fail("changing the owner", e))?;
        }
        set_xattrs(&member.name, &attrs.xattrs, |name, value| {
            fsops::fsetxattr(fd.as_fd(), name, value)
        })?;
        // When not root, keep the directory writable until the end.
        let now = match self.privileged {
            true => attrs.mode,
            false => attrs.mode | Mode::RWXU,
        };
        rustix::fs::fchmod(&fd, now).map_err(|e| fail("setting the mode", e))?;
        self.dirs
            .push(PendingDir {
                path: at.path.into(),
                times: attrs.times,
                mode: (!self.privileged).then_some(attrs.mode),
            })
            .map_err(|e| io_error(&member.name, "recording the directory's times", e))?;
        let handle = DirHandle::new(fd).map_err(|e| fail("inspecting the directory", e))?;
        self.remember(at.path.to_vec(), Arc::new(handle));
        Ok(())
    }

    pub(super) fn create_symlink(
        &mut self,
        member: &Member,
        at: &Place<'_>,
    ) -> Result<(), ApplyError> {
        let ids = self.host_ids(member)?;
        let target = member.link_name.as_slice();
        self.create_with(member, at, |dir| {
            rustix::fs::symlinkat(target, dir, at.base)
        })?
        .map_err(|e| io_error(&member.name, "creating the symlink", os(e)))?;
        let attrs = self.attrs(member, ids, Some(at.dir));
        self.finish_unopened(member, at, &attrs, None)
    }

    pub(super) fn create_node(
        &mut self,
        member: &Member,
        at: &Place<'_>,
        file_type: FileType,
    ) -> Result<(), ApplyError> {
        let ids = self.host_ids(member)?;
        let dev = match file_type {
            FileType::Fifo => 0,
            _ => device_number(member)?,
        };
        if file_type == FileType::CharacterDevice && dev == 0 {
            return Err(ApplyError::Unsupported {
                entry: lossy(&member.name),
                reason: WHITEOUT_DEVICE.into(),
            });
        }
        let what = match file_type {
            FileType::CharacterDevice => "character device",
            FileType::BlockDevice => "block device",
            _ => "fifo",
        };
        self.create_with(member, at, |dir| {
            rustix::fs::mknodat(dir, at.base, file_type, PRIVATE, dev)
        })?
        .map_err(|e| match e {
            Errno::PERM if file_type != FileType::Fifo => ApplyError::Unsupported {
                entry: lossy(&member.name),
                reason: format!("creating a {what} needs root (CAP_MKNOD)"),
            },
            e => io_error(&member.name, format!("creating the {what}"), os(e)),
        })?;
        let attrs = self.attrs(member, ids, Some(at.dir));
        self.finish_unopened(member, at, &attrs, Some(attrs.mode))
    }

    /// Owner, xattrs, mode and times of an object that is not opened
    /// (symlinks, device nodes, FIFOs), by name, never following it.
    fn finish_unopened(
        &self,
        member: &Member,
        at: &Place<'_>,
        attrs: &Attrs,
        mode: Option<Mode>,
    ) -> Result<(), ApplyError> {
        let fail = |action: &str, e: Errno| io_error(&member.name, action, os(e));
        let dir = at.dir.fd();
        if let Some((uid, gid)) = attrs.owner {
            let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
            rustix::fs::chownat(dir, at.base, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fail("changing the owner", e))?;
        }
        set_xattrs(&member.name, &attrs.xattrs, |name, value| {
            fsops::lsetxattr_at(dir, at.base, name, value)
        })?;
        if let Some(mode) = mode {
            // The name was just created by mknodat: it is not a symlink.
            rustix::fs::chmodat(dir, at.base, mode, AtFlags::empty())
                .map_err(|e| fail("setting the mode", e))?;
        }
        rustix::fs::utimensat(dir, at.base, &attrs.times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail("setting the times", e))
    }

    /// A hard link: its target is resolved beneath the root and must exist;
    /// neither the target nor the new name is followed. The link shares the
    /// target's inode, whose metadata came from the target's own header, so
    /// none is applied (as GNU tar); the header's ids are still checked.
    pub(super) fn create_hardlink(
        &mut self,
        member: &Member,
        at: &Place<'_>,
    ) -> Result<(), ApplyError> {
        let link_error = |source: Errno| ApplyError::LinkTarget {
            entry: lossy(&member.name),
            target: lossy(&member.link_name),
            source: os(source),
        };
        let target = names::clean_relative(&member.link_name).ok_or_else(|| {
            ApplyError::UnsafeLinkTarget {
                entry: lossy(&member.name),
                target: lossy(&member.link_name),
            }
        })?;
        if target.is_empty() {
            return Err(link_error(Errno::PERM));
        }
        self.host_ids(member)?;
        if target == at.path {
            // A link to itself: nothing to do if the file exists.
            return match fsops::file_type_at(at.dir.fd(), at.base) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(link_error(Errno::NOENT)),
                Err(e) => Err(link_error(e)),
            };
        }
        let (target_dir, target_base) = names::split(&target);
        let target_dir = match self.lower.exists() {
            true => self.overlay_link_target(&target).map_err(link_error)?,
            false => self.lookup_dir(target_dir).map_err(link_error)?,
        };
        self.create_with(member, at, |dir| {
            rustix::fs::linkat(target_dir.fd(), target_base, dir, at.base, AtFlags::empty())
        })?
        .map_err(link_error)
    }
}

/// The device number of a device member.
/// Why a 0:0 character device that is not named `.wh.*` is refused on
/// every driver (docs/store.md, "Layers that read differently on overlay").
const WHITEOUT_DEVICE: &str = "a 0:0 character device is not stored: \
     overlay reads it as a whiteout (a deletion) and vfs as a device, so no driver \
     can keep what the layer means; a deletion is a `.wh.<name>` entry";

fn device_number(member: &Member) -> Result<rustix::fs::Dev, ApplyError> {
    let part = |n: i64, which: &str| {
        u32::try_from(n).map_err(|_| ApplyError::InvalidEntry {
            entry: lossy(&member.name),
            reason: format!("device {which} number {n} is out of range"),
        })
    };
    Ok(rustix::fs::makedev(
        part(member.dev_major, "major")?,
        part(member.dev_minor, "minor")?,
    ))
}

/// The error for an entry whose parent directory `dir` leads through a
/// symlink whose target does not exist: refused on every driver, the
/// target is not created (docs/store.md).
pub(super) fn dangling_parent(entry: &[u8], dir: &[u8]) -> ApplyError {
    io_error(
        entry,
        format!(
            "the parent {:?} leads through a symlink whose target does not exist in the layer",
            lossy(dir)
        ),
        os(Errno::NOENT),
    )
}

/// An error about one of an entry's parent directories.
fn parent_error(entry: &[u8], doing: &str, dir: &[u8], e: Errno) -> ApplyError {
    io_error(
        entry,
        format!("{doing} the parent directory {:?}", lossy(dir)),
        os(e),
    )
}
