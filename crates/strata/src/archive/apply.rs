//! Applying a layer tar beneath a directory, safely.
//!
//! This module owns the tar → filesystem direction: given the directory of
//! a layer (empty, or for the vfs driver a copy of the parent layer's tree)
//! and the members of a layer tar, it makes the directory hold the layer's
//! tree. It follows moby's naive applier and containers/storage
//! (`UnpackLayer`): names are cleaned and kept inside the root; an existing
//! path is replaced unless both it and the entry are directories (then the
//! metadata is merged); whiteouts delete from the tree; ownership goes
//! through the id mappings; xattrs, modes and times are applied; directory
//! times are restored once all their contents exist.
//!
//! It is driven by events, as the store's import pipeline gets them from a
//! [`tarsplit::DisasmSink`]: [`Applier::begin`] with each member's headers,
//! [`Applier::data`] with its payload, [`Applier::end`], and
//! [`Applier::finish`] at the end of the archive. [`apply_tar`] does all of
//! that for a tar read from a [`Read`](std::io::Read).
//!
//! Safety (DESIGN invariant 4): nothing outside the root is ever created,
//! changed or followed. Parent directories are resolved with `openat2` and
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, so symlinks inside the tree
//! are followed but are clamped to the root, like Docker's `os.Root`; the
//! final component of every entry is never followed (`O_NOFOLLOW`,
//! `AT_SYMLINK_NOFOLLOW`, or unlink and recreate). Names and hard link
//! targets that lead out of the root (`../x`) are refused with an error
//! naming the entry; absolute names are taken relative to the root.
//!
//! Ownership is applied only when running as root (euid 0); otherwise files
//! belong to the calling user, the ids are still checked against the
//! mappings and reported, and device nodes cannot be created (an error
//! naming the entry). Directories are kept writable by their owner until
//! [`Applier::finish`] when not running as root, so a read-only directory
//! in the tar does not prevent creating its contents.
//!
//! Choices where the peers differ or are silent: the root entry (`./`) is
//! skipped; hard links get no metadata of their own (they share the
//! target's inode, as GNU tar extracts them); a whiteout deletes whatever
//! exists at its path, as moby's naive applier does; whiteouts in a missing
//! directory do nothing rather than create it; an xattr of a known namespace
//! that the system refuses to hold (`ENOTSUP`, `EPERM`, e.g. `user.*` on a
//! symlink) is skipped, as moby and containers/storage do, while other
//! xattr failures are errors; `security.selinux` is never set; a 0:0
//! character device not named `.wh.*` is refused, and so is an entry
//! whose parent leads through a symlink to a missing target, on every
//! driver alike (docs/store.md says why). Xattrs of symlinks, devices and FIFOs
//! are set through `/proc/self/fd`, which must be mounted.

mod create;
mod error;
mod file;
mod fsops;
mod names;
mod overlay;
mod pending;
#[cfg(test)]
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_overlay;
#[cfg(test)]
mod testtar;
mod whiteout;

use std::collections::BTreeSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{FileType, Mode, OFlags, Timestamps};
use rustix::io::Errno;
use tarsplit::member::{Member, kind};

pub use error::{ApplyError, IdKind};
use error::{io_error, lossy};
use file::OpenFile;
use fsops::os;
use names::Target;
pub use overlay::{KernelOverlayCalls, OverlayCalls};
#[cfg(test)]
pub(crate) use stream::apply_tar;

use crate::idmap::IdMap;
use crate::spill::PathSet;

/// How whiteout entries (`.wh.<name>`, `.wh..wh..opq`) are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhiteoutMode {
    /// The tree holds the parent layers' contents (vfs): `.wh.<name>`
    /// deletes `<name>`, `.wh..wh..opq` empties the directory of everything
    /// this tar did not create. Whiteouts themselves are not created.
    #[default]
    Delete,
    /// The tree is an overlayfs upper directory holding only this layer's
    /// changes, over [`ApplyOptions::lower`]: whiteouts become 0:0
    /// character devices, opaque markers `trusted.overlay.opaque=y`.
    Overlay,
}

/// How to apply a layer.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Container → host mapping of the tar's uids.
    pub uid_map: IdMap,
    /// Container → host mapping of the tar's gids.
    pub gid_map: IdMap,
    /// What whiteout entries do.
    pub whiteouts: WhiteoutMode,
    /// Where superseded files are moved (outside the tree, on the same
    /// filesystem): when a tar writes a path twice, the earlier regular
    /// file goes to `aside_dir/<its metadata position>` instead of being
    /// deleted. `None` deletes it.
    pub aside_dir: Option<PathBuf>,
    /// With [`WhiteoutMode::Overlay`]: the root of a read-only view of the
    /// parent layers merged (an overlay mount), or `None` for a layer
    /// without parent.
    pub lower: Option<Arc<OwnedFd>>,
    /// With [`WhiteoutMode::Overlay`] and no `lower`: the layer has
    /// parents, but they cannot be read yet (they are still being made).
    /// The apply goes on as long as nothing depends on what they hold,
    /// and otherwise stops with an error and [`Applier::needs_lower`]
    /// true: the caller applies the layer again once they are made.
    pub lower_later: bool,
    /// With [`WhiteoutMode::Overlay`]: how whiteouts and opaque marks are
    /// made; the kernel's calls when `None`.
    pub overlay_calls: Option<Arc<dyn OverlayCalls>>,
    /// Where the record of the paths the tar created moves, in an unlinked
    /// file, once it is large, so memory stays within a fixed amount
    /// whatever the number of entries; `None` keeps it in memory.
    pub spill_dir: Option<PathBuf>,
}

/// What applying a layer found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Container-side uids of the tar's entries (whiteouts and PAX global
    /// headers excluded), as containers/storage records `uidset`.
    pub uids: BTreeSet<u32>,
    /// Container-side gids, likewise (`gidset`).
    pub gids: BTreeSet<u32>,
    /// Superseded regular files moved aside: (the earlier member's
    /// metadata position, its path in the aside directory).
    pub aside: Vec<(u64, PathBuf)>,
}

/// At most this many directory descriptors are kept for reuse.
const DIR_CACHE: usize = 16;

/// An open directory of the tree, for `*at` calls.
struct DirHandle {
    fd: OwnedFd,
    /// Group of the directory, inherited by new entries when `setgid`.
    gid: u32,
    setgid: bool,
}

impl DirHandle {
    fn new(fd: OwnedFd) -> Result<Self, Errno> {
        let stat = rustix::fs::fstat(&fd)?;
        Ok(Self {
            fd,
            gid: stat.st_gid,
            setgid: stat.st_mode & 0o2000 != 0,
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A recently used directory and its path relative to the root.
struct CachedDir {
    path: Vec<u8>,
    handle: Arc<DirHandle>,
}

/// Why restoring directories at the end failed.
enum Restore {
    Apply(ApplyError),
    Io(std::io::Error),
}

impl From<std::io::Error> for Restore {
    fn from(e: std::io::Error) -> Self {
        Restore::Io(e)
    }
}

/// A directory entry whose times (and, when not root, mode) are set at the
/// end, once its contents exist.
struct PendingDir {
    path: Box<[u8]>,
    times: Timestamps,
    mode: Option<Mode>,
}

/// How a member is materialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Sparse,
    Directory,
    Symlink,
    HardLink,
    Node(FileType),
    Skip,
}

impl Kind {
    fn of(member: &Member) -> Self {
        match member.kind {
            kind::REGULAR | kind::CONTIGUOUS | kind::GNU_SPARSE if member.sparse.is_some() => {
                Kind::Sparse
            }
            kind::REGULAR | kind::CONTIGUOUS => Kind::Regular,
            kind::DIRECTORY => Kind::Directory,
            kind::SYMLINK => Kind::Symlink,
            kind::HARD_LINK => Kind::HardLink,
            kind::CHAR_DEVICE => Kind::Node(FileType::CharacterDevice),
            kind::BLOCK_DEVICE => Kind::Node(FileType::BlockDevice),
            kind::FIFO => Kind::Node(FileType::Fifo),
            // Vendor extensions (GNU 'D' dumpdir, 'M' multivolume, 'V'
            // volume label, 'N', Solaris 'X', ...): not files.
            b'A'..=b'Z' => Kind::Skip,
            _ if member.sparse.is_some() => Kind::Sparse,
            _ if member.data_len > 0 => Kind::Regular,
            _ => Kind::Skip,
        }
    }
}

/// Metadata applied to an entry after it is created.
struct Attrs {
    /// Host ids to chown to, `None` when nothing needs changing.
    owner: Option<(u32, u32)>,
    mode: Mode,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    times: Timestamps,
}

/// The member being applied.
enum Current {
    /// Between members.
    Idle,
    /// A member whose payload, if any, is consumed and ignored.
    Skip,
    /// A regular file receiving its payload.
    File(Box<OpenFile>),
}

/// Applies the members of one layer tar beneath a directory. See the
/// module documentation.
pub struct Applier {
    root: Arc<DirHandle>,
    aside: Option<(PathBuf, OwnedFd)>,
    options: ApplyOptions,
    /// Whether ownership is applied (running as root).
    privileged: bool,
    euid: u32,
    egid: u32,
    /// Host owner of directories created implicitly (container root).
    implicit_owner: (u32, u32),
    /// Directories of recent entries, innermost last.
    cache: Vec<CachedDir>,
    current: Current,
    /// Paths this tar created, and their ancestors.
    touched: PathSet,
    /// The parent of the last path recorded in `touched` (recorded too).
    touched_parent: Vec<u8>,
    /// A failure to record a path in `touched`, reported by the next call.
    touched_error: Option<std::io::Error>,
    dirs: pending::PendingDirs,
    report: ApplyReport,
    /// The lower view (overlay mode with parents).
    lower: overlay::LowerView,
    /// Set when the apply stopped because it needed the lower view while
    /// it was [`overlay::LowerView::Later`].
    needs_lower: bool,
    /// Overlay whiteouts and opaque marks.
    calls: Arc<dyn OverlayCalls>,
}

impl Applier {
    /// Prepares to apply a layer beneath `root`, an existing directory.
    pub fn new(root: &Path, options: ApplyOptions) -> Result<Self, ApplyError> {
        let open_dir = |path: &Path| -> Result<OwnedFd, ApplyError> {
            rustix::fs::open(
                path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| ApplyError::OpenDir {
                path: path.to_path_buf(),
                source: os(e),
            })
        };
        let root_handle = DirHandle::new(open_dir(root)?).map_err(|e| ApplyError::OpenDir {
            path: root.to_path_buf(),
            source: os(e),
        })?;
        let aside = match &options.aside_dir {
            Some(path) => Some((path.clone(), open_dir(path)?)),
            None => None,
        };
        let euid = rustix::process::geteuid().as_raw();
        let egid = rustix::process::getegid().as_raw();
        let implicit_owner = (
            options.uid_map.to_host(0).unwrap_or(euid),
            options.gid_map.to_host(0).unwrap_or(egid),
        );
        let overlay = options.whiteouts == WhiteoutMode::Overlay;
        let lower = match (overlay, options.lower.clone(), options.lower_later) {
            (false, _, _) => overlay::LowerView::Absent,
            (true, Some(fd), _) => overlay::LowerView::View(fd),
            (true, None, true) => overlay::LowerView::Later,
            (true, None, false) => overlay::LowerView::Absent,
        };
        let calls = options
            .overlay_calls
            .clone()
            .unwrap_or_else(overlay::kernel_calls);
        let dirs = pending::PendingDirs::new(options.spill_dir.clone());
        Ok(Self {
            touched: PathSet::new(options.spill_dir.as_deref()),
            touched_parent: Vec::new(),
            touched_error: None,
            lower,
            needs_lower: false,
            calls,
            root: Arc::new(root_handle),
            aside,
            options,
            privileged: euid == 0,
            euid,
            egid,
            implicit_owner,
            cache: Vec::with_capacity(DIR_CACHE + 1),
            current: Current::Idle,
            dirs,
            report: ApplyReport::default(),
        })
    }

    /// A member's headers. `supersedes` is `Some(position)` when this
    /// member's cleaned path was already written earlier in the same tar,
    /// or when it is a whiteout of a path written earlier in the same tar
    /// (`position` is the earlier member's metadata position): a regular
    /// file it replaces or removes is moved to the aside directory. The member's
    /// payload follows through [`Self::data`], then [`Self::end`].
    pub fn begin(&mut self, member: &Member, supersedes: Option<u64>) -> Result<(), ApplyError> {
        if !matches!(self.current, Current::Idle) {
            return Err(ApplyError::Misuse(format!(
                "begin() of {:?} before end() of the previous member",
                lossy(&member.name)
            )));
        }
        self.check_touched(&member.name)?;
        self.current = Current::Skip;
        if !member.is_entry() {
            return Ok(());
        }
        let target = names::classify(&member.name).map_err(|e| match e {
            names::NameError::Escapes => ApplyError::UnsafePath {
                entry: lossy(&member.name),
            },
            names::NameError::InvalidWhiteout => ApplyError::InvalidWhiteout {
                entry: lossy(&member.name),
            },
        })?;
        self.record_ids(member);
        match target {
            Target::Root | Target::Metadata => Ok(()),
            Target::Whiteout { dir, name } => match self.options.whiteouts {
                WhiteoutMode::Delete => self.delete_whiteout(member, &dir, &name, supersedes),
                WhiteoutMode::Overlay => self.overlay_whiteout(member, &dir, &name, supersedes),
            },
            Target::Opaque { dir } => match self.options.whiteouts {
                WhiteoutMode::Delete => self.delete_opaque(member, &dir),
                WhiteoutMode::Overlay => self.overlay_opaque(member, &dir),
            },
            Target::Path(path) => self.create(member, path, supersedes),
        }
    }

    /// Payload bytes of the current member, in order. For sparse members
    /// these are the stored regions back to back (see `Member::sparse`).
    pub fn data(&mut self, bytes: &[u8]) -> Result<(), ApplyError> {
        match &mut self.current {
            Current::Idle => Err(ApplyError::Misuse("data() outside a member".into())),
            Current::Skip => Ok(()),
            Current::File(file) => file.write(bytes),
        }
    }

    /// The current member's payload is complete.
    pub fn end(&mut self) -> Result<(), ApplyError> {
        match std::mem::replace(&mut self.current, Current::Idle) {
            Current::Idle => Err(ApplyError::Misuse("end() outside a member".into())),
            Current::Skip => Ok(()),
            Current::File(file) => file.close(),
        }
    }

    /// Whether the apply stopped because it needed the parent layers'
    /// contents while [`ApplyOptions::lower_later`] said they could not be
    /// read yet.
    pub fn needs_lower(&self) -> bool {
        self.needs_lower
    }

    /// Ends the layer: restores directory times (deepest first) and closes
    /// everything.
    pub fn finish(mut self) -> Result<ApplyReport, ApplyError> {
        if let Current::File(file) = &self.current {
            return Err(ApplyError::Misuse(format!(
                "finish() while {:?} is still open",
                lossy(&file.entry)
            )));
        }
        self.check_touched(b"")?;
        self.cache.clear();
        let dirs = std::mem::take(&mut self.dirs);
        dirs.replay(!self.privileged, |dir| {
            self.restore_dir(dir).map_err(Restore::Apply)
        })
        .map_err(|e: Restore| match e {
            Restore::Apply(e) => e,
            Restore::Io(e) => io_error(b"", "reading the directories to restore", e),
        })?;
        Ok(self.report)
    }

    fn restore_dir(&self, dir: &PendingDir) -> Result<(), ApplyError> {
        let fd = match fsops::resolve(self.root.fd(), &dir.path, fsops::DIR_OPEN) {
            Ok(fd) => fd,
            // Replaced or removed by a later entry.
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(()),
            Err(e) => return Err(io_error(&dir.path, "opening to restore its times", os(e))),
        };
        if let Some(mode) = dir.mode {
            rustix::fs::fchmod(&fd, mode)
                .map_err(|e| io_error(&dir.path, "setting the mode", os(e)))?;
        }
        rustix::fs::futimens(&fd, &dir.times)
            .map_err(|e| io_error(&dir.path, "setting the times", os(e)))
    }

    /// Adds the member's ids to the report unless its base name is a
    /// whiteout's (`.wh.*`), as containers/storage builds `uidset`.
    fn record_ids(&mut self, member: &Member) {
        if names::is_whiteout_name(&member.name) {
            return;
        }
        if let Ok(uid) = u32::try_from(member.uid) {
            self.report.uids.insert(uid);
        }
        if let Ok(gid) = u32::try_from(member.gid) {
            self.report.gids.insert(gid);
        }
    }

    /// The host ids for a member's container ids.
    fn host_ids(&self, member: &Member) -> Result<(u32, u32), ApplyError> {
        let map = |id: i64, which: IdKind, map: &IdMap| -> Result<u32, ApplyError> {
            let id = u32::try_from(id).map_err(|_| ApplyError::InvalidEntry {
                entry: lossy(&member.name),
                reason: format!("{which} {id} is out of range"),
            })?;
            map.to_host(id).ok_or_else(|| ApplyError::UnmappedId {
                entry: lossy(&member.name),
                kind: which,
                id,
            })
        };
        Ok((
            map(member.uid, IdKind::Uid, &self.options.uid_map)?,
            map(member.gid, IdKind::Gid, &self.options.gid_map)?,
        ))
    }

    /// The metadata to apply to a member whose host ids are `ids`.
    /// `fresh_in` is the directory a new object was just created in: chown
    /// is skipped when the ids already are the creator's.
    fn attrs(&self, member: &Member, ids: (u32, u32), fresh_in: Option<&DirHandle>) -> Attrs {
        let creator = fresh_in.map(|dir| (self.euid, if dir.setgid { dir.gid } else { self.egid }));
        let owner = (self.privileged && creator != Some(ids)).then_some(ids);
        Attrs {
            owner,
            mode: Mode::from_bits_retain(member.permissions()),
            xattrs: member.xattrs.clone(),
            times: fsops::timestamps(member.mtime, member.atime),
        }
    }

    fn create(
        &mut self,
        member: &Member,
        path: Vec<u8>,
        supersedes: Option<u64>,
    ) -> Result<(), ApplyError> {
        let kind = Kind::of(member);
        if kind == Kind::Skip {
            return Ok(());
        }
        let (parent, base) = names::split(&path);
        let dir = self.parent_dir(parent, &member.name)?;
        let at = Place {
            dir: &dir,
            base,
            path: &path,
            supersedes,
        };
        match kind {
            Kind::Regular | Kind::Sparse => self.create_file(member, &at)?,
            Kind::Directory => self.create_dir(member, &at)?,
            Kind::Symlink => self.create_symlink(member, &at)?,
            Kind::HardLink => self.create_hardlink(member, &at)?,
            Kind::Node(file_type) => self.create_node(member, &at, file_type)?,
            Kind::Skip => {}
        }
        self.mark_touched(path);
        Ok(())
    }
}

/// Where an entry goes.
pub(super) struct Place<'a> {
    dir: &'a DirHandle,
    base: &'a [u8],
    path: &'a [u8],
    supersedes: Option<u64>,
}

/// Sets a member's xattrs with `set`, skipping `security.selinux` (the
/// host's policy labels files, not the image).
fn set_xattrs(
    entry: &[u8],
    xattrs: &[(Vec<u8>, Vec<u8>)],
    mut set: impl FnMut(&[u8], &[u8]) -> Result<(), Errno>,
) -> Result<(), ApplyError> {
    for (name, value) in xattrs {
        if name == b"security.selinux" {
            continue;
        }
        match set(name, value) {
            Ok(()) => {}
            Err(e) if refused_by_the_system(name, e) => {}
            Err(e) => {
                return Err(ApplyError::Xattr {
                    entry: lossy(entry),
                    name: lossy(name),
                    source: os(e),
                });
            }
        }
    }
    Ok(())
}

/// Whether setting an attribute of a known namespace failed because this
/// system will not hold it here: the file system lacks support (`ENOTSUP`)
/// or the kernel does not allow it on this kind of file or for this user
/// (`EPERM`, e.g. `user.*` on a symlink). Docker and containers/storage skip
/// those too. An unknown namespace stays an error.
fn refused_by_the_system(name: &[u8], errno: Errno) -> bool {
    const KNOWN: [&[u8]; 4] = [b"user.", b"trusted.", b"security.", b"system."];
    KNOWN.iter().any(|ns| name.starts_with(ns))
        && (errno == Errno::OPNOTSUPP || errno == Errno::PERM)
}
