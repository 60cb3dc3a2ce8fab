//! [`WhiteoutMode::Overlay`](super::WhiteoutMode::Overlay): the tree being
//! written is an overlayfs upper directory holding only this layer's
//! changes, over a read-only view of the parent layers (the lower view,
//! itself an overlay mount of the parent chain).
//!
//! The result must read, once mounted over its parents, exactly as the vfs
//! driver's full tree would. So:
//! - a whiteout `.wh.<name>` becomes a 0:0 character device when `<name>`
//!   exists below; one that hides nothing changes nothing;
//! - an opaque marker sets `trusted.overlay.opaque=y` on its directory;
//! - a directory recreated where this tar first put something else gets
//!   the opaque mark too, so the lower directory's contents stay hidden;
//! - parent directories are resolved through the merged view, following
//!   symlinks that only a lower layer has; a lower directory an entry goes
//!   into is copied up (mode, owner, xattrs, times), as the kernel would;
//!   a symlink whose target does not exist is an error, as on vfs, never a
//!   reason to create its target;
//! - a hard link whose target exists only below copies the target up first.
//!
//! The two overlay-specific writes go through [`OverlayCalls`], so tests can
//! record them.

use std::collections::VecDeque;
use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, Stat, XattrFlags};
use rustix::io::Errno;
use tarsplit::member::Member;

use super::create::dangling_parent;
use super::error::{ApplyError, io_error, lossy};
use super::fsops::{self, os};
use super::names::{self, join};
use super::{Applier, DirHandle, Place};

/// Name of the xattr that makes an overlay directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// How many symlinks one resolution follows before giving up (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The overlay-specific writes of the applier.
pub trait OverlayCalls: fmt::Debug + Send + Sync {
    /// Creates the whiteout `name` in `dir`: a 0:0 character device.
    fn whiteout(&self, dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno>;
    /// Marks the open directory `dir` opaque.
    fn opaque(&self, dir: BorrowedFd<'_>) -> Result<(), Errno>;
}

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelOverlayCalls;

impl OverlayCalls for KernelOverlayCalls {
    fn whiteout(&self, dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
        let dev = rustix::fs::makedev(0, 0);
        rustix::fs::mknodat(dir, name, FileType::CharacterDevice, Mode::empty(), dev)
    }

    fn opaque(&self, dir: BorrowedFd<'_>) -> Result<(), Errno> {
        rustix::fs::fsetxattr(dir, OPAQUE_XATTR, b"y", XattrFlags::empty())
    }
}

/// The calls used when none are given.
pub(super) fn kernel_calls() -> Arc<dyn OverlayCalls> {
    Arc::new(KernelOverlayCalls)
}

/// Whether a stat describes an overlay whiteout.
pub fn is_whiteout(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice && stat.st_rdev == 0
}

/// The parent layers merged, as the applier sees them.
pub(super) enum LowerView {
    /// None: no parents, or not overlay mode.
    Absent,
    /// Their merged tree.
    View(Arc<OwnedFd>),
    /// There are parents, but they cannot be read yet
    /// ([`super::ApplyOptions::lower_later`]).
    Later,
}

impl LowerView {
    /// Whether the layer has parents.
    pub(super) fn exists(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// What shows through a merged directory from the layers below.
pub(super) enum LowerDir {
    /// Nothing.
    Absent,
    /// That directory of the lower view.
    Dir(OwnedFd),
    /// Whatever the parents hold there, once they can be read.
    Later,
}

/// What a lookup that needs the parents before they can be read fails
/// with ([`Applier::needs_lower`] says why); nothing else returns it.
const LATER: Errno = Errno::NOTRECOVERABLE;

/// How far a merged resolution may change the upper tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Reach {
    /// Never: report what exists.
    Look,
    /// Copy lower directories up; a missing one ends the resolution.
    CopyUp,
    /// Copy up, and create missing directories as the tar's implicit ones.
    Create,
}

/// A directory of the merged view.
pub(super) struct Merged {
    /// The directory in the upper tree (absent only with [`Reach::Look`]).
    pub(super) upper: Option<OwnedFd>,
    /// What shows through from below.
    pub(super) lower: LowerDir,
    /// Its path, all symlinks resolved.
    pub(super) path: Vec<u8>,
}

/// One component looked up in the merged view.
enum Step {
    Dir(Merged),
    Link(Vec<u8>),
    Missing,
}

fn stat_in(dir: Option<&OwnedFd>, name: &[u8]) -> Result<Option<Stat>, Errno> {
    let Some(dir) = dir else { return Ok(None) };
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(stat)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn kind(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

fn is_opaque(dir: BorrowedFd<'_>) -> Result<bool, Errno> {
    let mut value = [0u8; 2];
    match rustix::fs::fgetxattr(dir, OPAQUE_XATTR, &mut value) {
        Ok(n) => Ok(&value[..n] == b"y"),
        Err(Errno::NODATA | Errno::OPNOTSUPP) => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_link(dir: &OwnedFd, name: &[u8]) -> Result<Vec<u8>, Errno> {
    Ok(rustix::fs::readlinkat(dir, name, Vec::new())?.into_bytes())
}

fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

impl Applier {
    /// Resolves the directory `path` through the merged view, copying up or
    /// creating what `reach` allows. `None` when it does not exist and
    /// `reach` does not create it.
    pub(super) fn resolve_merged(
        &mut self,
        path: &[u8],
        reach: Reach,
    ) -> Result<Option<Merged>, Errno> {
        // Each component, and whether it comes from a symlink's target.
        let mut pending: VecDeque<(Vec<u8>, bool)> = components(path).map(|c| (c, false)).collect();
        let mut at = self.merged_root()?;
        let mut links = 0;
        while let Some((name, in_link)) = pending.pop_front() {
            if name == b".." {
                let parent = names::split(&at.path).0.to_vec();
                at = self.resolve_merged(&parent, reach)?.ok_or(Errno::NOENT)?;
                continue;
            }
            // A symlink's target is followed, never created (as on vfs,
            // where a dangling symlink cannot be made a directory).
            let dangling = in_link && reach == Reach::Create;
            let step = if dangling { Reach::CopyUp } else { reach };
            match self.merged_step(&at, &name, step)? {
                Step::Dir(next) => at = next,
                Step::Link(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::LOOP);
                    }
                    if target.first() == Some(&b'/') {
                        at = self.merged_root()?;
                    }
                    for component in components(&target).collect::<Vec<_>>().into_iter().rev() {
                        pending.push_front((component, true));
                    }
                }
                Step::Missing if dangling => return Err(Errno::NOENT),
                Step::Missing => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    fn merged_root(&self) -> Result<Merged, Errno> {
        let upper = fsops::resolve(self.root.fd(), b"", fsops::DIR_OPEN)?;
        let lower = match &self.lower {
            LowerView::View(fd) => LowerDir::Dir(rustix::fs::openat(
                fd.as_fd(),
                ".",
                fsops::DIR_OPEN,
                Mode::empty(),
            )?),
            LowerView::Later => LowerDir::Later,
            LowerView::Absent => LowerDir::Absent,
        };
        Ok(Merged {
            upper: Some(upper),
            lower,
            path: Vec::new(),
        })
    }

    /// `name` in the lower directory `dir`, if it has it; a lower view not
    /// readable yet stops the apply.
    fn lower_stat(&mut self, dir: &LowerDir, name: &[u8]) -> Result<Option<Stat>, Errno> {
        match dir {
            LowerDir::Absent => Ok(None),
            LowerDir::Dir(fd) => stat_in(Some(fd), name),
            LowerDir::Later => Err(self.later()),
        }
    }

    /// Records that the apply needs the lower view, which cannot be read
    /// yet; the error to stop with.
    fn later(&mut self) -> Errno {
        self.needs_lower = true;
        LATER
    }

    fn merged_step(&mut self, at: &Merged, name: &[u8], reach: Reach) -> Result<Step, Errno> {
        let path = join(&at.path, name);
        let upper = stat_in(at.upper.as_ref(), name)?;
        match upper {
            Some(stat) if is_whiteout(&stat) => {
                if reach < Reach::Create {
                    return Ok(Step::Missing);
                }
                let Some(dir) = at.upper.as_ref() else {
                    return Ok(Step::Missing);
                };
                rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
                let fresh = self.implicit_dir(dir.as_fd(), name)?;
                self.calls.opaque(fresh.as_fd())?;
                self.mark_touched(path.clone());
                Ok(Step::Dir(Merged {
                    upper: Some(fresh),
                    lower: LowerDir::Absent,
                    path,
                }))
            }
            Some(stat) if kind(&stat) == FileType::Directory => {
                let Some(dir) = at.upper.as_ref() else {
                    return Err(Errno::NOENT);
                };
                let fresh = fsops::open_child_dir(dir.as_fd(), name)?;
                let lower = match &at.lower {
                    LowerDir::Absent => LowerDir::Absent,
                    _ if is_opaque(fresh.as_fd())? => LowerDir::Absent,
                    LowerDir::Later => LowerDir::Later,
                    LowerDir::Dir(below) => match stat_in(Some(below), name)? {
                        Some(stat) if kind(&stat) == FileType::Directory => {
                            LowerDir::Dir(fsops::open_child_dir(below.as_fd(), name)?)
                        }
                        _ => LowerDir::Absent,
                    },
                };
                Ok(Step::Dir(Merged {
                    upper: Some(fresh),
                    lower,
                    path,
                }))
            }
            Some(stat) if kind(&stat) == FileType::Symlink => match &at.upper {
                Some(dir) => Ok(Step::Link(read_link(dir, name)?)),
                None => Err(Errno::NOENT),
            },
            Some(_) => Err(Errno::NOTDIR),
            None => {
                let lower = self.lower_stat(&at.lower, name)?;
                match (&lower, &at.lower) {
                    (Some(stat), LowerDir::Dir(below)) if kind(stat) == FileType::Directory => {
                        let lower = fsops::open_child_dir(below.as_fd(), name)?;
                        let upper = match (&at.upper, reach) {
                            (Some(dir), Reach::CopyUp | Reach::Create) => {
                                self.copy_up(below.as_fd(), dir.as_fd(), name, &path)?;
                                Some(fsops::open_child_dir(dir.as_fd(), name)?)
                            }
                            _ => None,
                        };
                        Ok(Step::Dir(Merged {
                            upper,
                            lower: LowerDir::Dir(lower),
                            path,
                        }))
                    }
                    (Some(stat), LowerDir::Dir(below)) if kind(stat) == FileType::Symlink => {
                        Ok(Step::Link(read_link(below, name)?))
                    }
                    (Some(_), _) => Err(Errno::NOTDIR),
                    (None, _) => match (&at.upper, reach) {
                        (Some(dir), Reach::Create) => {
                            let fresh = self.implicit_dir(dir.as_fd(), name)?;
                            self.mark_touched(path.clone());
                            Ok(Step::Dir(Merged {
                                upper: Some(fresh),
                                lower: LowerDir::Absent,
                                path,
                            }))
                        }
                        _ => Ok(Step::Missing),
                    },
                }
            }
        }
    }

    /// Copies `name` from the lower directory `from` into the upper
    /// directory `to`.
    fn copy_up(
        &self,
        from: BorrowedFd<'_>,
        to: BorrowedFd<'_>,
        name: &[u8],
        path: &[u8],
    ) -> Result<(), Errno> {
        let c_name = CString::new(name).map_err(|_| Errno::INVAL)?;
        let label = Path::new(std::ffi::OsStr::from_bytes(path));
        // The directory copied into keeps its times: below, it did not change.
        let before = rustix::fs::fstat(to)?;
        crate::fs::copy::copy_up(from, to, &c_name, label).map_err(|e| match e {
            crate::fs::copy::CopyError::Io { source, .. }
            | crate::fs::copy::CopyError::Xattr { source, .. } => source
                .raw_os_error()
                .map_or(Errno::IO, Errno::from_raw_os_error),
            _ => Errno::INVAL,
        })?;
        let times = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: before.st_atime,
                tv_nsec: before.st_atime_nsec as _,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: before.st_mtime,
                tv_nsec: before.st_mtime_nsec as _,
            },
        };
        rustix::fs::futimens(to, &times)
    }

    /// The existing directory `dir` in the upper tree: `known` when a
    /// lookup already found it there, else copied up from below.
    fn upper_of(&mut self, dir: &[u8], known: Option<OwnedFd>) -> Result<Option<OwnedFd>, Errno> {
        match known {
            Some(fd) => Ok(Some(fd)),
            None => Ok(self
                .resolve_merged(dir, Reach::CopyUp)?
                .and_then(|merged| merged.upper)),
        }
    }

    /// The upper directory an entry goes in when there is a lower view.
    pub(super) fn overlay_parent(
        &mut self,
        parent: &[u8],
        entry: &[u8],
    ) -> Result<Arc<DirHandle>, ApplyError> {
        let merged = self
            .resolve_merged(parent, Reach::Create)
            .map_err(|e| match e {
                Errno::NOENT => dangling_parent(entry, parent),
                e => parent_error(entry, parent, e),
            })?;
        let fd = merged
            .and_then(|m| m.upper)
            .ok_or_else(|| parent_error(entry, parent, Errno::NOENT))?;
        let handle = DirHandle::new(fd).map_err(|e| parent_error(entry, parent, e))?;
        Ok(Arc::new(handle))
    }

    /// `<dir>/.wh.<name>`: hides `<name>` from the layers below and removes
    /// what this tar put there. A path that does not exist changes nothing.
    pub(super) fn overlay_whiteout(
        &mut self,
        member: &Member,
        dir: &[u8],
        name: &[u8],
        supersedes: Option<u64>,
    ) -> Result<(), ApplyError> {
        let fail = |action: String, e: Errno| io_error(&member.name, action, os(e));
        let resolving = || format!("resolving {:?}", lossy(dir));
        let Some(seen) = self
            .resolve_merged(dir, Reach::Look)
            .map_err(|e| fail(resolving(), e))?
        else {
            return Ok(());
        };
        let inspecting = |e| fail(format!("inspecting {:?}", lossy(&join(dir, name))), e);
        let upper = stat_in(seen.upper.as_ref(), name).map_err(inspecting)?;
        let below = self.lower_stat(&seen.lower, name).map_err(inspecting)?;
        let upper = upper.filter(|s| !is_whiteout(s));
        if upper.is_none() && below.is_none() {
            return Ok(());
        }
        self.cache.clear();
        let upper_dir = self
            .upper_of(dir, seen.upper)
            .map_err(|e| fail(resolving(), e))?;
        let Some(upper_dir) = upper_dir else {
            return Ok(());
        };
        let path = join(dir, name);
        let handle = DirHandle::new(upper_dir).map_err(|e| fail(resolving(), e))?;
        let at = Place {
            dir: &handle,
            base: name,
            path: &path,
            supersedes,
        };
        self.make_room(member, &at)?;
        let upper_dir = handle.fd();
        if below.is_some() {
            self.calls
                .whiteout(upper_dir, name)
                .map_err(|e| fail(format!("creating the whiteout {:?}", lossy(&path)), e))?;
        }
        Ok(())
    }

    /// `<dir>/.wh..wh..opq`: the layers below no longer show through `<dir>`.
    /// A directory that does not exist changes nothing.
    pub(super) fn overlay_opaque(&mut self, member: &Member, dir: &[u8]) -> Result<(), ApplyError> {
        let fail = |action: String, e: Errno| io_error(&member.name, action, os(e));
        let resolving = || format!("resolving {:?}", lossy(dir));
        let Some(seen) = self
            .resolve_merged(dir, Reach::Look)
            .map_err(|e| fail(resolving(), e))?
        else {
            return Ok(());
        };
        self.cache.clear();
        let upper = self
            .upper_of(dir, seen.upper)
            .map_err(|e| fail(resolving(), e))?;
        if let Some(upper) = upper {
            self.calls
                .opaque(upper.as_fd())
                .map_err(|e| fail(format!("marking {:?} opaque", lossy(dir)), e))?;
        }
        Ok(())
    }

    /// After a directory entry replaced something this tar had put at its
    /// path: when a lower directory exists there, it must not show through.
    pub(super) fn hide_lower_dir(
        &mut self,
        member: &Member,
        path: &[u8],
        fd: BorrowedFd<'_>,
    ) -> Result<(), ApplyError> {
        let fail = |action: String, e: Errno| io_error(&member.name, action, os(e));
        let (parent, base) = names::split(path);
        let seen = self
            .resolve_merged(parent, Reach::Look)
            .map_err(|e| fail(format!("resolving {:?}", lossy(parent)), e))?;
        let lower = seen.map_or(LowerDir::Absent, |m| m.lower);
        let below = self
            .lower_stat(&lower, base)
            .map_err(|e| fail(format!("inspecting {:?}", lossy(path)), e))?;
        if below.is_some_and(|s| kind(&s) == FileType::Directory) {
            self.calls
                .opaque(fd)
                .map_err(|e| fail(format!("marking {:?} opaque", lossy(path)), e))?;
        }
        Ok(())
    }

    /// A hard link target's directory in the upper tree, with the target
    /// copied up from below if only a lower layer has it.
    pub(super) fn overlay_link_target(&mut self, target: &[u8]) -> Result<Arc<DirHandle>, Errno> {
        let (dir, base) = names::split(target);
        let seen = self.resolve_merged(dir, Reach::Look)?.ok_or(Errno::NOENT)?;
        let Merged { upper, lower, .. } = seen;
        match stat_in(upper.as_ref(), base)? {
            // Whited out by this tar: gone, as on vfs.
            Some(stat) if is_whiteout(&stat) => return Err(Errno::NOENT),
            // Already in this layer: its directory is in the upper tree.
            Some(_) => return Ok(Arc::new(DirHandle::new(upper.ok_or(Errno::NOENT)?)?)),
            None => {}
        }
        let below = match lower {
            LowerDir::Dir(fd) => fd,
            LowerDir::Absent => return Err(Errno::NOENT),
            LowerDir::Later => return Err(self.later()),
        };
        stat_in(Some(&below), base)?.ok_or(Errno::NOENT)?;
        let upper_dir = self.upper_of(dir, upper)?.ok_or(Errno::NOENT)?;
        self.copy_up(below.as_fd(), upper_dir.as_fd(), base, target)?;
        Ok(Arc::new(DirHandle::new(upper_dir)?))
    }
}

fn parent_error(entry: &[u8], dir: &[u8], e: Errno) -> ApplyError {
    io_error(
        entry,
        format!("resolving the parent directory {:?}", lossy(dir)),
        os(e),
    )
}
