//! Reading a tree through open directories: `statx` of an entry relative
//! to its directory's descriptor (never following a symlink), directory
//! listings, symlink targets and extended attributes. The tree comparer
//! (`archive::changes`), the changeset writer and the tree copier
//! ([`super::copy`]) walk trees with these, so what they look at cannot
//! move under them to somewhere outside the tree.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::buffer::spare_capacity;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Statx, StatxFlags};
use rustix::io::Errno;

/// A point in time as the filesystem keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time {
    /// Seconds since the epoch (negative before 1970).
    pub(crate) secs: i64,
    /// Nanoseconds within the second.
    pub(crate) nanos: u32,
}

/// What `statx` says about an entry, without following symlinks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    /// Regular file, directory, symlink, ...
    pub(crate) file_type: FileType,
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    pub(crate) perm: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Number of hard links.
    pub(crate) nlink: u32,
    /// Device holding the entry (`makedev` form).
    pub(crate) dev: u64,
    /// Inode number.
    pub(crate) ino: u64,
    /// Device number of a character or block device: (major, minor).
    pub(crate) rdev: (u32, u32),
    /// Last access.
    pub(crate) atime: Time,
    /// Last modification.
    pub(crate) mtime: Time,
}

impl Meta {
    fn from_statx(st: &Statx) -> Self {
        let mode = u32::from(st.stx_mode);
        let time = |t: rustix::fs::StatxTimestamp| Time {
            secs: t.tv_sec,
            nanos: t.tv_nsec,
        };
        Self {
            file_type: FileType::from_raw_mode(mode),
            perm: mode & 0o7777,
            uid: st.stx_uid,
            gid: st.stx_gid,
            size: st.stx_size,
            nlink: st.stx_nlink,
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            rdev: (st.stx_rdev_major, st.stx_rdev_minor),
            atime: time(st.stx_atime),
            mtime: time(st.stx_mtime),
        }
    }

    /// Whether the entry is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.file_type == FileType::Directory
    }
}

/// `statx` of `name` in `dir`, not following a symlink.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Meta> {
    let st = rustix::fs::statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS,
    )?;
    Ok(Meta::from_statx(&st))
}

/// `statx` of an open file.
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<Meta> {
    let st = rustix::fs::statx(fd, c"", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS)?;
    Ok(Meta::from_statx(&st))
}

/// Opens the directory `path` relative to `dir`, refusing to follow a
/// symlink in the last component.
pub(crate) fn open_dir_at<P: rustix::path::Arg>(dir: impl AsFd, path: P) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, path, flags, Mode::empty())?)
}

/// Opens the regular file `name` in `dir` for reading without following a
/// symlink, without blocking should a FIFO have taken its place, and
/// without touching its access time where permitted.
pub(crate) fn open_file_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<std::fs::File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = match rustix::fs::openat(dir, name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(rustix::io::Errno::PERM) => rustix::fs::openat(dir, name, flags, Mode::empty())?,
        other => other?,
    };
    Ok(fd.into())
}

/// The target of the symlink `name` in `dir`, verbatim.
pub(crate) fn read_link_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<CString> {
    Ok(rustix::fs::readlinkat(dir, name, Vec::new())?)
}

/// Names in an open directory (not `.` or `..`), sorted by bytes.
pub(crate) fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut iter = RawDir::new(dir, buf.spare_capacity_mut());
    let mut names = Vec::new();
    while let Some(entry) = iter.next() {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// `root` joined with a relative path (the root itself when empty).
pub(crate) fn full_path(root: &Path, rel: &[u8]) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(OsStr::from_bytes(rel))
    }
}

/// Extended attributes, sorted by name: (name, value).
pub(crate) type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Where extended attributes are read or written: an open file or
/// directory, or an entry that cannot be opened safely (symlink, device,
/// FIFO) named through `/proc/self/fd/<dir>/<name>` and accessed with the
/// `l*xattr` calls, which never follow the last component.
pub(crate) enum XattrTarget<'a> {
    /// An open file or directory.
    Fd(BorrowedFd<'a>),
    /// A path to the entry through its parent's descriptor.
    Entry(CString),
}

impl<'a> XattrTarget<'a> {
    /// The entry `name` in the open directory `dir`.
    pub(crate) fn at(dir: BorrowedFd<'a>, name: &CStr) -> io::Result<Self> {
        let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
        path.extend_from_slice(name.to_bytes());
        CString::new(path)
            .map(Self::Entry)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    }

    fn list(&self, buf: &mut Vec<u8>) -> Result<usize, Errno> {
        match self {
            Self::Fd(fd) => rustix::fs::flistxattr(fd, spare_capacity(buf)),
            Self::Entry(path) => rustix::fs::llistxattr(path, spare_capacity(buf)),
        }
    }

    fn list_size(&self) -> Result<usize, Errno> {
        match self {
            Self::Fd(fd) => rustix::fs::flistxattr_query(fd),
            Self::Entry(path) => rustix::fs::llistxattr_query(path),
        }
    }

    fn get(&self, name: &CStr, buf: &mut Vec<u8>) -> Result<usize, Errno> {
        match self {
            Self::Fd(fd) => rustix::fs::fgetxattr(fd, name, spare_capacity(buf)),
            Self::Entry(path) => rustix::fs::lgetxattr(path, name, spare_capacity(buf)),
        }
    }

    fn get_size(&self, name: &CStr) -> Result<usize, Errno> {
        match self {
            Self::Fd(fd) => rustix::fs::fgetxattr_query(fd, name),
            Self::Entry(path) => rustix::fs::lgetxattr_query(path, name),
        }
    }

    /// Sets one extended attribute, creating or replacing it.
    pub(crate) fn set(&self, name: &[u8], value: &[u8]) -> io::Result<()> {
        let flags = rustix::fs::XattrFlags::empty();
        match self {
            Self::Fd(fd) => rustix::fs::fsetxattr(fd, name, value, flags)?,
            Self::Entry(path) => rustix::fs::lsetxattr(path, name, value, flags)?,
        }
        Ok(())
    }
}

/// Reads all extended attributes of `target`, sorted by name. A
/// filesystem without extended attributes gives an empty list.
pub(crate) fn read_xattrs(target: &XattrTarget<'_>) -> io::Result<Xattrs> {
    let names = fill(|buf| target.list(buf), || target.list_size(), 1024);
    let names = match names {
        Ok(names) => names,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut xattrs = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        match fill(
            |buf| target.get(&cname, buf),
            || target.get_size(&cname),
            256,
        ) {
            Ok(value) => xattrs.push((name.to_vec(), value)),
            // Removed between listing and reading.
            Err(Errno::NODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    xattrs.sort();
    Ok(xattrs)
}

/// Runs a `*listxattr`/`*getxattr` style call with a first guess at the
/// buffer size, asking for the real size and retrying on `ERANGE`.
fn fill(
    mut call: impl FnMut(&mut Vec<u8>) -> Result<usize, Errno>,
    mut size: impl FnMut() -> Result<usize, Errno>,
    guess: usize,
) -> Result<Vec<u8>, Errno> {
    let mut capacity = guess;
    loop {
        let mut buf = Vec::with_capacity(capacity);
        match call(&mut buf) {
            Ok(_) => return Ok(buf),
            Err(Errno::RANGE) => capacity = size()?.max(capacity * 2),
            Err(e) => return Err(e),
        }
    }
}
