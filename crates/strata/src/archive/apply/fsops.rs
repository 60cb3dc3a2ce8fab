//! Filesystem primitives for the applier. Every path handed to the kernel
//! here is either resolved beneath the layer root with `openat2`
//! (`RESOLVE_IN_ROOT`: symlinks are followed but can never leave the root)
//! or is a single name relative to a directory descriptor whose final
//! component is never followed.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags, openat,
    openat2, unlinkat,
};
use rustix::io::Errno;
use tarsplit::member::Time;

/// Flags for a directory used only as the anchor of `*at` calls.
pub(super) const DIR_ANCHOR: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);
/// Flags for a directory opened to read or to change its metadata; the
/// final component is never followed.
pub(super) const DIR_OPEN: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
/// Flags for a regular file created by the applier.
pub(super) const FILE_CREATE: OFlags = OFlags::WRONLY
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// How often `openat2` is retried when the kernel reports a concurrent
/// rename (`EAGAIN` under `RESOLVE_IN_ROOT`).
const RESOLVE_RETRIES: usize = 16;

/// Opens `path` (relative, cleaned, empty for the root itself) beneath
/// `root`: symlinks in it resolve as if `root` were `/`, magic links are
/// refused. `flags` decide whether the final component is followed.
pub(super) fn resolve(root: BorrowedFd<'_>, path: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
    let path: &[u8] = if path.is_empty() { b"." } else { path };
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let mut attempt = 0;
    loop {
        match openat2(root, path, flags, Mode::empty(), how) {
            Err(Errno::AGAIN | Errno::INTR) if attempt < RESOLVE_RETRIES => attempt += 1,
            result => return result,
        }
    }
}

/// Opens the directory `name` inside `dir` without following a symlink.
pub(super) fn open_child_dir(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    openat(dir, name, DIR_OPEN, Mode::empty())
}

/// The type of `name` inside `dir` (not following it), `None` if absent.
pub(super) fn file_type_at(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Option<FileType>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` inside `dir`, recursively if it is a directory; a missing
/// `name` is not an error. Nothing is followed: descent opens one name at a
/// time with `O_NOFOLLOW`, and at most two descriptors are open at once
/// whatever the depth (going back up uses `..` of a directory this
/// function descended into).
pub(super) fn remove_all(dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    match unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(e),
    }
    let mut current = open_child_dir(dir, name)?;
    let mut path: Vec<Vec<u8>> = Vec::new();
    loop {
        if let Some(child) = empty_dir_step(current.as_fd())? {
            current = open_child_dir(current.as_fd(), &child)?;
            path.push(child);
            continue;
        }
        match path.pop() {
            Some(child) => {
                let parent = open_child_dir(current.as_fd(), b"..")?;
                current = parent;
                rmdir(current.as_fd(), &child)?;
            }
            None => {
                drop(current);
                return rmdir(dir, name);
            }
        }
    }
}

/// Removes every non-directory in `dir`; returns the first subdirectory
/// found (to descend into), or `None` once `dir` is empty.
fn empty_dir_step(dir: BorrowedFd<'_>) -> Result<Option<Vec<u8>>, Errno> {
    let mut entries = Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if entry.file_type() == FileType::Directory {
            return Ok(Some(name.to_vec()));
        }
        match unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(Errno::ISDIR) => return Ok(Some(name.to_vec())),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn rmdir(dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    match unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The names in `dir` (without `.` and `..`) with their types as the
/// directory reports them (`Unknown` where the filesystem does not say).
pub(super) fn list(dir: BorrowedFd<'_>) -> Result<Vec<(Vec<u8>, FileType)>, Errno> {
    let mut entries = Dir::read_from(dir)?;
    let mut names = Vec::new();
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push((name.to_vec(), entry.file_type()));
        }
    }
    Ok(names)
}

/// Sets an extended attribute on `name` inside `dir` without following
/// `name` (symlinks, device nodes, FIFOs: objects that cannot be opened
/// safely). The path goes through `/proc/self/fd/<dir>`, which names the
/// directory itself; only the final component is looked up, and `lsetxattr`
/// does not follow it.
pub(super) fn lsetxattr_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    attr: &[u8],
    value: &[u8],
) -> Result<(), Errno> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name);
    rustix::fs::lsetxattr(path.as_slice(), attr, value, XattrFlags::empty())
}

/// Sets an extended attribute on an open file or directory.
pub(super) fn fsetxattr(fd: BorrowedFd<'_>, attr: &[u8], value: &[u8]) -> Result<(), Errno> {
    rustix::fs::fsetxattr(fd, attr, value, XattrFlags::empty())
}

/// The times to set for a member: its mtime, and its atime when the archive
/// records one (the mtime otherwise).
pub(super) fn timestamps(mtime: Time, atime: Option<Time>) -> Timestamps {
    let spec = |t: Time| Timespec {
        tv_sec: t.secs,
        tv_nsec: i64::from(t.nanos),
    };
    Timestamps {
        last_access: spec(atime.unwrap_or(mtime)),
        last_modification: spec(mtime),
    }
}

/// Converts a rustix error for `std::io` consumers.
pub(super) fn os(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}
