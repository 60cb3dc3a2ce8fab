//! Whiteouts in [`super::WhiteoutMode::Delete`]: the tree holds the lower
//! layers' contents and whiteouts delete from it, as moby's naive applier
//! does for vfs.

use std::os::fd::AsFd;

use rustix::fs::FileType;
use rustix::io::Errno;
use tarsplit::member::Member;

use super::error::{ApplyError, io_error, lossy};
use super::fsops::{self, os};
use super::names::join;
use super::{Applier, Place};

impl Applier {
    /// `<dir>/.wh.<name>`: removes `<dir>/<name>`, recursively, if it
    /// exists. A missing `<dir>` means there is nothing to remove (it is
    /// not created, unlike moby).
    pub(super) fn delete_whiteout(
        &mut self,
        member: &Member,
        dir: &[u8],
        name: &[u8],
        supersedes: Option<u64>,
    ) -> Result<(), ApplyError> {
        let handle = match self.lookup_dir(dir) {
            Ok(handle) => handle,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
            Err(e) => {
                let action = format!("opening the directory {:?}", lossy(dir));
                return Err(io_error(&member.name, action, os(e)));
            }
        };
        if supersedes.is_some() {
            let path = join(dir, name);
            let at = Place {
                dir: &handle,
                base: name,
                path: &path,
                supersedes,
            };
            return self.make_room(member, &at);
        }
        // Cached directories may have been reached through what goes.
        self.cache.clear();
        fsops::remove_all(handle.fd(), name).map_err(|e| {
            let action = format!("removing {:?}", lossy(&join(dir, name)));
            io_error(&member.name, action, os(e))
        })
    }

    /// `<dir>/.wh..wh..opq`: removes everything beneath `<dir>` that this
    /// tar did not create earlier in the stream, so the marker means the
    /// same wherever it appears. Directories that this tar created, merged
    /// or created entries in are kept and searched; everything else goes.
    /// A missing `<dir>` (or a symlink) has nothing to hide.
    pub(super) fn delete_opaque(&mut self, member: &Member, dir: &[u8]) -> Result<(), ApplyError> {
        self.cache.clear();
        let fail = |action: String, e: Errno| io_error(&member.name, action, os(e));
        let mut pending = vec![dir.to_vec()];
        while let Some(path) = pending.pop() {
            let fd = match fsops::resolve(self.root.fd(), &path, fsops::DIR_OPEN) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => continue,
                Err(e) => return Err(fail(format!("opening {:?}", lossy(&path)), e)),
            };
            let children = fsops::list(fd.as_fd())
                .map_err(|e| fail(format!("listing {:?}", lossy(&path)), e))?;
            for (name, file_type) in children {
                let child = join(&path, &name);
                let removing = || format!("removing {:?}", lossy(&child));
                if !self.was_touched(&member.name, &child)? {
                    fsops::remove_all(fd.as_fd(), &name).map_err(|e| fail(removing(), e))?;
                    continue;
                }
                let is_dir = match file_type {
                    FileType::Directory => true,
                    FileType::Unknown => {
                        fsops::file_type_at(fd.as_fd(), &name).map_err(|e| fail(removing(), e))?
                            == Some(FileType::Directory)
                    }
                    _ => false,
                };
                if is_dir {
                    pending.push(child);
                }
            }
        }
        Ok(())
    }
}
