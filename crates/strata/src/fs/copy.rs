//! Copying a layer tree, fast and exact.
//!
//! This module owns [`copy_tree`], which is how the vfs driver makes a
//! child layer from its parent: a new directory that is a faithful replica
//! of the source tree. Directories, regular files, symlinks, hard links,
//! character and block devices and FIFOs are recreated (sockets are
//! skipped), with their mode (setuid, setgid and sticky included), owner,
//! every extended attribute and their access and modification times to the
//! nanosecond.
//!
//! File data is cloned with `FICLONE` where the filesystem shares extents
//! (btrfs, XFS), else copied inside the kernel with `copy_file_range`, else
//! read and written. Every lookup is relative to an open directory and
//! never follows a symlink, so nothing outside the two trees is touched
//! even if the source changes during the copy.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use super::tree::{
    Meta, Time, XattrTarget, full_path, open_dir_at, read_link_at, read_names, read_xattrs,
    stat_at, stat_fd,
};

/// What [`copy_tree`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyStats {
    /// Regular files copied (hard links not counted).
    pub files: u64,
    /// Directories created, the root included.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Hard links made to an inode copied earlier.
    pub hardlinks: u64,
    /// Character and block devices and FIFOs created.
    pub specials: u64,
    /// Sockets left out.
    pub skipped_sockets: u64,
    /// Bytes of file content copied.
    pub bytes: u64,
    /// Files whose content was cloned (`FICLONE`) rather than copied.
    pub reflinked: u64,
}

/// Why a tree could not be copied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// The destination already exists.
    #[error("cannot copy to {}: it already exists", path.display())]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// A filesystem operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`stat`, `create`, `copy data to`, ...).
        op: &'static str,
        /// The full path it was done to (in the source tree for reads, in
        /// the destination for writes).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An extended attribute could not be set.
    #[error("cannot set extended attribute {name} on {}: {source}", path.display())]
    Xattr {
        /// The attribute's name.
        name: String,
        /// The full path in the destination.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The destination lies inside the source tree.
    #[error("cannot copy {} into itself", path.display())]
    DestinationInsideSource {
        /// The source directory that is the destination.
        path: PathBuf,
    },
    /// The source contains a file type that cannot be recreated.
    #[error("cannot copy {}: unsupported file type", path.display())]
    Unsupported {
        /// The full path in the source.
        path: PathBuf,
    },
}

/// Replicates the tree at `src` as a new directory `dst`, which must not
/// exist. The root's own metadata is copied too.
///
/// On error the partial copy is removed (best effort) and the error names
/// the path that failed. Directories are created owner-writable and get
/// their real mode and times only after their contents, so the copy works
/// whatever the source's permissions (given the privileges to set owners).
pub fn copy_tree(src: &Path, dst: &Path) -> Result<CopyStats, CopyError> {
    let src_fd = open_source_root(src)?;
    let meta = stat_fd(src_fd.as_fd()).map_err(|e| io_error("stat", src, e))?;
    match rustix::fs::mkdirat(CWD, dst, Mode::RWXU) {
        Err(Errno::EXIST) => {
            return Err(CopyError::DestinationExists {
                path: dst.to_path_buf(),
            });
        }
        other => other.map_err(|e| io_error("create directory", dst, e))?,
    }
    let result = copy_into(src, dst, src_fd.as_fd(), &meta);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dst);
    }
    result
}

/// Opens the source root, without updating its access time if permitted.
fn open_source_root(src: &Path) -> Result<OwnedFd, CopyError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match rustix::fs::openat(CWD, src, flags | OFlags::NOATIME, Mode::empty()) {
        Err(Errno::PERM) => rustix::fs::openat(CWD, src, flags, Mode::empty()),
        other => other,
    }
    .map_err(|e| io_error("open directory", src, e))
}

/// Copies the open source root into the freshly created `dst`.
fn copy_into(
    src: &Path,
    dst: &Path,
    src_fd: BorrowedFd<'_>,
    meta: &Meta,
) -> Result<CopyStats, CopyError> {
    let dst_fd = open_dir_at(CWD, dst).map_err(|e| io_error("open directory", dst, e))?;
    let dst_meta = stat_fd(dst_fd.as_fd()).map_err(|e| io_error("stat", dst, e))?;
    let mut copier = Copier::new(src, dst, dst_fd.as_fd(), (dst_meta.dev, dst_meta.ino));
    copier.dir(src_fd, dst_fd.as_fd(), meta)?;
    Ok(copier.stats)
}

/// Copies the single entry `name` of the directory `src` into the
/// directory `dst` under the same name, with all its metadata: a
/// non-directory whole, a directory without its contents. This is an
/// overlay copy-up: bringing a lower layer's object into the layer being
/// written. `label` names the entry in errors.
pub fn copy_up(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    label: &Path,
) -> Result<(), CopyError> {
    let mut copier = Copier::new(label, label, dst, (u64::MAX, u64::MAX));
    let meta = stat_at(src, name).map_err(|e| copier.src_err("stat", e))?;
    match meta.file_type {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::RWXU)
                .map_err(|e| copier.dst_err("create directory", e))?;
            let from = copier.open_source(src, name, OFlags::DIRECTORY)?;
            let to = open_dir_at(dst, name).map_err(|e| copier.dst_err("open directory", e))?;
            copier.finish_fd(from.as_fd(), to.as_fd(), &meta)
        }
        FileType::RegularFile => copier.file(src, dst, name, &meta),
        FileType::Symlink => copier.symlink(src, dst, name, &meta),
        FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
            copier.special(src, dst, name, &meta)
        }
        _ => Err(CopyError::Unsupported {
            path: label.to_path_buf(),
        }),
    }
}

fn io_error(op: &'static str, path: &Path, source: impl Into<io::Error>) -> CopyError {
    CopyError::Io {
        op,
        path: path.to_path_buf(),
        source: source.into(),
    }
}

/// Reads larger than this go through `copy_file_range` in several calls.
const RANGE_CHUNK: usize = 1 << 30;

struct Copier<'a> {
    src_root: &'a Path,
    dst_root: &'a Path,
    dst_fd: BorrowedFd<'a>,
    /// (dev, ino) of the destination root, which must not be met in the
    /// source.
    dst_id: (u64, u64),
    /// Path of the entry being copied, relative to the roots.
    rel: Vec<u8>,
    /// Destination path (relative) of the first copy of each inode with
    /// several links, by source (dev, ino).
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Whether to try `FICLONE` (cleared once the filesystem refuses).
    reflink: bool,
    /// Whether to try `copy_file_range` (cleared once it is unsupported).
    copy_range: bool,
    /// Whether `O_NOATIME` is permitted on source files.
    noatime: bool,
    /// Buffer for the read/write fallback.
    buf: Vec<u8>,
    stats: CopyStats,
}

impl<'a> Copier<'a> {
    fn new(
        src_root: &'a Path,
        dst_root: &'a Path,
        dst_fd: BorrowedFd<'a>,
        dst_id: (u64, u64),
    ) -> Self {
        Self {
            src_root,
            dst_root,
            dst_fd,
            dst_id,
            rel: Vec::new(),
            links: HashMap::new(),
            reflink: true,
            copy_range: true,
            noatime: true,
            buf: Vec::new(),
            stats: CopyStats::default(),
        }
    }

    /// Copies the children of `src` into `dst`, then the directory's own
    /// owner, extended attributes, mode and times.
    fn dir(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        let names = read_names(src).map_err(|e| self.src_err("read directory", e))?;
        for name in &names {
            let len = self.rel.len();
            if len > 0 {
                self.rel.push(b'/');
            }
            self.rel.extend_from_slice(name.to_bytes());
            let result = self.entry(src, dst, name);
            self.rel.truncate(len);
            result?;
        }
        self.finish_fd(src, dst, meta)?;
        self.stats.dirs += 1;
        Ok(())
    }

    /// Copies one entry of `src` into `dst` under the same name.
    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
    ) -> Result<(), CopyError> {
        let meta = stat_at(src, name).map_err(|e| self.src_err("stat", e))?;
        match meta.file_type {
            FileType::Directory if (meta.dev, meta.ino) == self.dst_id => {
                return Err(CopyError::DestinationInsideSource {
                    path: self.src_path(),
                });
            }
            FileType::Directory => return self.subdir(src, dst, name, &meta),
            FileType::Socket => {
                self.stats.skipped_sockets += 1;
                return Ok(());
            }
            _ => {}
        }
        let key = (meta.dev, meta.ino);
        if meta.nlink > 1
            && let Some(first) = self.links.get(&key)
        {
            rustix::fs::linkat(self.dst_fd, first.as_slice(), dst, name, AtFlags::empty())
                .map_err(|e| self.dst_err("create hard link", e))?;
            self.stats.hardlinks += 1;
            return Ok(());
        }
        match meta.file_type {
            FileType::RegularFile => self.file(src, dst, name, &meta)?,
            FileType::Symlink => self.symlink(src, dst, name, &meta)?,
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                self.special(src, dst, name, &meta)?;
            }
            _ => {
                return Err(CopyError::Unsupported {
                    path: self.src_path(),
                });
            }
        }
        if meta.nlink > 1 {
            self.links.insert(key, self.rel.clone());
        }
        Ok(())
    }

    fn subdir(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        rustix::fs::mkdirat(dst, name, Mode::RWXU)
            .map_err(|e| self.dst_err("create directory", e))?;
        let src_child = self.open_source(src, name, OFlags::DIRECTORY)?;
        let dst_child = open_dir_at(dst, name).map_err(|e| self.dst_err("open directory", e))?;
        self.dir(src_child.as_fd(), dst_child.as_fd(), meta)
    }

    fn file(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        let from = self.open_source(src, name, OFlags::NONBLOCK)?;
        let create =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let to = rustix::fs::openat(dst, name, create, Mode::RUSR | Mode::WUSR)
            .map_err(|e| self.dst_err("create", e))?;
        if meta.size > 0 {
            self.data(from.as_fd(), to.as_fd())?;
        }
        self.finish_fd(from.as_fd(), to.as_fd(), meta)?;
        self.stats.files += 1;
        self.stats.bytes += meta.size;
        Ok(())
    }

    /// Opens a source file (`extra` = `NONBLOCK`, in case a FIFO took its
    /// place) or directory (`extra` = `DIRECTORY`) without updating its
    /// access time where permitted.
    fn open_source(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        extra: OFlags,
    ) -> Result<OwnedFd, CopyError> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | extra;
        if self.noatime {
            match rustix::fs::openat(dir, name, flags | OFlags::NOATIME, Mode::empty()) {
                Err(Errno::PERM) => self.noatime = false,
                other => return other.map_err(|e| self.src_err("open", e)),
            }
        }
        rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| self.src_err("open", e))
    }

    /// Copies the content: clone, else in-kernel copy, else read/write.
    fn data(&mut self, from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), CopyError> {
        if self.reflink {
            match rustix::fs::ioctl_ficlone(to, from) {
                Ok(()) => {
                    self.stats.reflinked += 1;
                    return Ok(());
                }
                Err(Errno::OPNOTSUPP | Errno::XDEV | Errno::NOTTY | Errno::NOSYS) => {
                    self.reflink = false
                }
                Err(Errno::INVAL) => {}
                Err(e) => return Err(self.dst_err("clone data to", e)),
            }
        }
        if self.copy_range {
            loop {
                match rustix::fs::copy_file_range(from, None, to, None, RANGE_CHUNK) {
                    Ok(0) => return Ok(()),
                    Ok(_) | Err(Errno::INTR) => {}
                    Err(Errno::XDEV | Errno::OPNOTSUPP | Errno::NOSYS) => {
                        self.copy_range = false;
                        break;
                    }
                    Err(Errno::INVAL) => break,
                    Err(e) => return Err(self.dst_err("copy data to", e)),
                }
            }
        }
        self.read_write(from, to)
    }

    /// The portable fallback, continuing from the current offsets.
    fn read_write(&mut self, from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), CopyError> {
        if self.buf.is_empty() {
            self.buf = vec![0; 256 * 1024];
        }
        loop {
            let n = match rustix::io::read(from, &mut self.buf[..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(self.src_err("read", e)),
            };
            let mut done = 0;
            while done < n {
                match rustix::io::write(to, &self.buf[done..n]) {
                    Ok(m) => done += m,
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(self.dst_err("write", e)),
                }
            }
        }
    }

    fn symlink(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        let target = read_link_at(src, name).map_err(|e| self.src_err("read symlink", e))?;
        rustix::fs::symlinkat(&target, dst, name).map_err(|e| self.dst_err("create symlink", e))?;
        self.finish_at(src, dst, name, meta)?;
        self.stats.symlinks += 1;
        Ok(())
    }

    fn special(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        let dev = match meta.file_type {
            FileType::Fifo => 0,
            _ => rustix::fs::makedev(meta.rdev.0, meta.rdev.1),
        };
        rustix::fs::mknodat(dst, name, meta.file_type, Mode::RUSR | Mode::WUSR, dev)
            .map_err(|e| self.dst_err("create", e))?;
        self.finish_at(src, dst, name, meta)?;
        self.stats.specials += 1;
        Ok(())
    }

    /// Owner, extended attributes, mode and times of an open file or
    /// directory, in that order: `chown` clears setuid bits and
    /// `security.capability`, so both come after it.
    fn finish_fd(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        rustix::fs::fchown(dst, Some(uid(meta)), Some(gid(meta)))
            .map_err(|e| self.dst_err("change the owner of", e))?;
        self.xattrs(&XattrTarget::Fd(src), &XattrTarget::Fd(dst))?;
        rustix::fs::fchmod(dst, Mode::from_raw_mode(meta.perm))
            .map_err(|e| self.dst_err("change the mode of", e))?;
        rustix::fs::futimens(dst, &timestamps(meta))
            .map_err(|e| self.dst_err("set the times of", e))
    }

    /// The same for a symlink, device or FIFO, by name (never following
    /// the name; symlinks have no mode of their own).
    fn finish_at(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<(), CopyError> {
        let nofollow = AtFlags::SYMLINK_NOFOLLOW;
        rustix::fs::chownat(dst, name, Some(uid(meta)), Some(gid(meta)), nofollow)
            .map_err(|e| self.dst_err("change the owner of", e))?;
        let from = XattrTarget::at(src, name)
            .map_err(|e| self.src_err("read extended attributes of", e))?;
        let to = XattrTarget::at(dst, name)
            .map_err(|e| self.dst_err("set extended attributes of", e))?;
        self.xattrs(&from, &to)?;
        if meta.file_type != FileType::Symlink {
            rustix::fs::chmodat(dst, name, Mode::from_raw_mode(meta.perm), AtFlags::empty())
                .map_err(|e| self.dst_err("change the mode of", e))?;
        }
        rustix::fs::utimensat(dst, name, &timestamps(meta), nofollow)
            .map_err(|e| self.dst_err("set the times of", e))
    }

    fn xattrs(&self, from: &XattrTarget<'_>, to: &XattrTarget<'_>) -> Result<(), CopyError> {
        let list = read_xattrs(from).map_err(|e| self.src_err("read extended attributes of", e))?;
        for (name, value) in &list {
            to.set(name, value).map_err(|source| CopyError::Xattr {
                name: String::from_utf8_lossy(name).into_owned(),
                path: full_path(self.dst_root, &self.rel),
                source,
            })?;
        }
        Ok(())
    }

    fn src_path(&self) -> PathBuf {
        full_path(self.src_root, &self.rel)
    }

    fn src_err(&self, op: &'static str, source: impl Into<io::Error>) -> CopyError {
        CopyError::Io {
            op,
            path: self.src_path(),
            source: source.into(),
        }
    }

    fn dst_err(&self, op: &'static str, source: impl Into<io::Error>) -> CopyError {
        CopyError::Io {
            op,
            path: full_path(self.dst_root, &self.rel),
            source: source.into(),
        }
    }
}

fn uid(meta: &Meta) -> Uid {
    Uid::from_raw(meta.uid)
}

fn gid(meta: &Meta) -> Gid {
    Gid::from_raw(meta.gid)
}

fn timestamps(meta: &Meta) -> Timestamps {
    let spec = |t: Time| Timespec {
        tv_sec: t.secs,
        tv_nsec: t.nanos.into(),
    };
    Timestamps {
        last_access: spec(meta.atime),
        last_modification: spec(meta.mtime),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::archive::changeset::testtree::{self, assert_same, snapshot};

    #[test]
    fn copy_is_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let dst = tmp.path().join("dst");
        testtree::build_rich(&src);
        let stats = copy_tree(&src, &dst).unwrap();
        let mut want = snapshot(&src);
        want.remove(b"sock".as_slice());
        assert_same(&want, &snapshot(&dst));
        assert_eq!(stats.skipped_sockets, 1);
        assert_eq!(stats.hardlinks, 2);
        assert_eq!(stats.specials, 3);
        assert_eq!(stats.symlinks, 4);
        assert!(stats.bytes > 1 << 20);
        // The walker would have seen these gone on both sides; check them.
        let file = &snapshot(&dst)[b"d/file".as_slice()];
        assert_eq!(file.mode, 0o4755);
        assert!(
            file.xattrs
                .iter()
                .any(|(k, v)| k == b"security.capability" && v == &testtree::CAPABILITY)
        );
        // Symlinks were recreated, never followed.
        assert_eq!(
            std::fs::read_link(dst.join("d/etcdir")).unwrap(),
            Path::new("/etc")
        );
        assert!(
            std::fs::symlink_metadata(dst.join("abs"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn copy_of_copy_keeps_hard_link_groups() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        testtree::build_rich(&src);
        copy_tree(&src, &tmp.path().join("one")).unwrap();
        copy_tree(&tmp.path().join("one"), &tmp.path().join("two")).unwrap();
        let two = snapshot(&tmp.path().join("two"));
        let group = two[b"d/hard".as_slice()].link_group.clone();
        assert_eq!(group.as_deref(), Some(b"d/file".as_slice()));
        assert_eq!(two[b"other/hard2".as_slice()].link_group, group);
    }

    #[test]
    fn existing_destination_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        testtree::write(&src.join("f"), b"x");
        let dst = tmp.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let err = copy_tree(&src, &dst).unwrap_err();
        assert!(matches!(err, CopyError::DestinationExists { .. }), "{err}");
        assert!(err.to_string().contains(&*dst.to_string_lossy()));
        assert!(std::fs::read_dir(&dst).unwrap().next().is_none());
    }

    #[test]
    fn missing_source_names_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("nope");
        let err = copy_tree(&src, &tmp.path().join("dst")).unwrap_err();
        assert!(err.to_string().contains(&*src.to_string_lossy()), "{err}");
        assert!(!tmp.path().join("dst").exists());
    }

    #[test]
    fn copy_into_itself_is_refused_and_cleaned_up() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        testtree::write(&src.join("a/f"), b"x");
        let dst = src.join("a/copy");
        let err = copy_tree(&src, &dst).unwrap_err();
        assert!(
            matches!(err, CopyError::DestinationInsideSource { .. }),
            "{err}"
        );
        assert!(!dst.exists());
    }

    #[test]
    fn missing_destination_parent_names_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        testtree::write(&src.join("f"), b"x");
        let dst = tmp.path().join("no/such/dst");
        let err = copy_tree(&src, &dst).unwrap_err();
        assert!(matches!(err, CopyError::Io { .. }), "{err}");
        assert!(err.to_string().contains(&*dst.to_string_lossy()), "{err}");
    }
}
