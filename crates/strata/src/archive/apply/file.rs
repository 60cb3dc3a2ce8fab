//! Regular files: their payload written as it arrives (sparse members
//! region by region), then their metadata.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use rustix::fs::{Gid, Uid};
use rustix::io::Errno;
use tarsplit::member::SparseRegion;

use super::error::{ApplyError, io_error, lossy};
use super::fsops::{self, os};
use super::{Attrs, set_xattrs};

/// A regular file being written.
pub(super) struct OpenFile {
    pub(super) file: File,
    /// The entry's name as recorded, for errors.
    pub(super) entry: Vec<u8>,
    pub(super) attrs: Attrs,
    pub(super) expected: u64,
    pub(super) written: u64,
    pub(super) sparse: Option<SparseCursor>,
}

/// Where the next payload bytes of a sparse member go.
pub(super) struct SparseCursor {
    pub(super) regions: Vec<SparseRegion>,
    pub(super) index: usize,
    pub(super) done: u64,
    pub(super) real_size: u64,
}

impl OpenFile {
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), ApplyError> {
        let len = bytes.len() as u64;
        if self.written + len > self.expected {
            return Err(ApplyError::Misuse(format!(
                "entry {:?}: more payload than the {} bytes announced",
                lossy(&self.entry),
                self.expected
            )));
        }
        self.written += len;
        let result = match &mut self.sparse {
            None => self.file.write_all(bytes),
            Some(cursor) => cursor.write(&self.file, bytes),
        };
        result.map_err(|e| io_error(&self.entry, "writing the contents", e))
    }

    pub(super) fn close(self) -> Result<(), ApplyError> {
        if self.written != self.expected {
            return Err(ApplyError::Misuse(format!(
                "entry {:?}: {} of {} payload bytes received",
                lossy(&self.entry),
                self.written,
                self.expected
            )));
        }
        let fd = self.file.as_fd();
        let fail = |action: &str, e: Errno| io_error(&self.entry, action, os(e));
        if let Some(cursor) = &self.sparse {
            rustix::fs::ftruncate(fd, cursor.real_size).map_err(|e| fail("setting the size", e))?;
        }
        if let Some((uid, gid)) = self.attrs.owner {
            rustix::fs::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| fail("changing the owner", e))?;
        }
        set_xattrs(&self.entry, &self.attrs.xattrs, |name, value| {
            fsops::fsetxattr(fd, name, value)
        })?;
        rustix::fs::fchmod(fd, self.attrs.mode).map_err(|e| fail("setting the mode", e))?;
        rustix::fs::futimens(fd, &self.attrs.times).map_err(|e| fail("setting the times", e))?;
        start_writeback(fd, self.written);
        Ok(())
    }
}

/// Files at least this large start their writeback as soon as they are
/// written; small ones are left to the final `syncfs`.
const EARLY_WRITEBACK: u64 = 64 << 10;

/// Asks the kernel to start writing the file's data back now, without
/// waiting: `posix_fadvise(POSIX_FADV_DONTNEED)` starts writeback of the
/// dirty pages (and drops only pages already clean, which right after the
/// write are few). The store makes every layer durable with one `syncfs`
/// before publishing it; writing back while extraction goes on leaves that
/// call less to wait for. Best effort: failure changes nothing.
fn start_writeback(fd: std::os::fd::BorrowedFd<'_>, len: u64) {
    if len >= EARLY_WRITEBACK {
        let _ = rustix::fs::fadvise(fd, 0, None, rustix::fs::Advice::DontNeed);
    }
}

impl SparseCursor {
    fn write(&mut self, file: &File, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let Some(region) = self.regions.get(self.index) else {
                return Err(std::io::Error::other("payload beyond the sparse map"));
            };
            let left = region.length - self.done;
            if left == 0 {
                self.index += 1;
                self.done = 0;
                continue;
            }
            let n = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            file.write_all_at(&bytes[..n], region.offset + self.done)?;
            self.done += n as u64;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}
